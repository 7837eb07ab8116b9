import Foundation
import KernelTestSupport
import Netns
import Testing
@testable import PodlabCNI

/// Debian's podman with its CNI backend, podlab-cni as the network's plugin. podman runs only
/// inside a network namespace the test makes (entered with `nsenter --net`: `ip netns exec`
/// would hide the cgroup mounts), with its own configuration and storage, runtime runc, and a
/// BusyBox root file system imported as a local image (no registry).
@Suite("podman attaches containers with podlab-cni", .serialized, .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct PodmanTests {
    /// podman and runc, installed with apt when missing; false only when they cannot be had.
    static let podmanAvailable: Bool = {
        let present = { ["/usr/bin/podman", "/usr/sbin/runc"].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) } }
        if present() { return true }
        _ = try? Command.run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "podman", "runc"],
                             environment: ["PATH": Spawner.defaultPath, "DEBIAN_FRONTEND": "noninteractive"])
        return present()
    }()

    @Test("A container gets its address from podlab-cni, another reaches it, -p 8080:80 answers in the node, podman rm releases",
          .enabled(if: podmanAvailable, "needs Debian's podman and runc (apt-get install podman runc failed)"),
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/bin/busybox"), "needs busybox-static for the image"))
    func podman() throws {
        let node = try NetworkNamespace.create(KernelTest.uniqueName("cnipm"))
        let dir = "/tmp/podlab-podman-\(node.name)"
        defer {
            try? NetworkNamespace.delete(node.name, ignoreMissing: true)
            try? FileManager.default.removeItem(atPath: dir)
        }
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/rootfs/bin", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/plugins", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/net.d", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/tmp", withIntermediateDirectories: true)
        try fm.copyItem(atPath: "/bin/busybox", toPath: dir + "/rootfs/bin/busybox")
        for applet in ["sh", "nc", "echo", "sleep"] { try fm.createSymbolicLink(atPath: dir + "/rootfs/bin/" + applet, withDestinationPath: "busybox") }
        try fm.copyItem(atPath: try BuiltExecutable.path("podlab-cni"), toPath: dir + "/plugins/podlab-cni")
        try """
        {"cniVersion": "1.0.0", "name": "podlabnet", "plugins": [{"type": "podlab-cni", "bridge": "cni0", "isGateway": true, "ipMasq": true,
         "mode": "routed", "ipam": {"type": "podlab", "ranges": [[{"subnet": "10.66.0.0/24"}]], "dataDir": "\(dir)/ipam"},
         "capabilities": {"portMappings": true}}]}
        """.write(toFile: dir + "/net.d/podlab.conflist", atomically: true, encoding: .utf8)
        // The default ulimits podman asks runc for (nofile and nproc at 1048576) exceed what this
        // machine grants; the container needs only a few.
        try """
        [network]
        network_backend = "cni"
        cni_plugin_dirs = ["\(dir)/plugins"]
        network_config_dir = "\(dir)/net.d"
        default_network = "podlabnet"
        [containers]
        default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
        [engine]
        runtime = "runc"
        cgroup_manager = "cgroupfs"
        events_logger = "file"
        events_logfile_path = "\(dir)/events.log"
        tmp_dir = "\(dir)/tmp"
        """.write(toFile: dir + "/containers.conf", atomically: true, encoding: .utf8)

        func podman(_ arguments: [String]) throws -> CommandResult {
            try Command.run("nsenter", ["--net=\(node.path)", "podman", "--root", dir + "/root", "--runroot", dir + "/runroot", "--storage-driver", "vfs"] + arguments,
                            environment: ["PATH": Spawner.defaultPath, "CONTAINERS_CONF": dir + "/containers.conf"])
        }
        defer { _ = try? podman(["rm", "--all", "--force"]) }

        let tar = try Command.run("tar", ["-C", dir + "/rootfs", "-cf", dir + "/rootfs.tar", "."])
        #expect(tar.succeeded)
        let imported = try podman(["import", dir + "/rootfs.tar", "localhost/podlab-busybox:test"])
        try #require(imported.succeeded, "\(imported.stderr)")

        let run = try podman(["run", "-d", "--name", "web", "--network", "podlabnet", "-p", "8080:80", "localhost/podlab-busybox:test",
                              "sh", "-c", "while true; do echo from-web | nc -l -p 80; done"])
        try #require(run.succeeded, "\(run.stderr)")
        let address = try podman(["inspect", "web", "--format", "{{.NetworkSettings.Networks.podlabnet.IPAddress}}"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(address == "10.66.0.2")
        let store = IPAMStore(directory: dir + "/ipam/podlabnet")
        #expect(try store.read().records.map(\.address.description) == [address])

        // Another container reaches it (the first try may race the server's first listen).
        var reply = ""
        for _ in 0..<5 where !reply.contains("from-web") {
            reply = try podman(["run", "--rm", "--network", "podlabnet", "localhost/podlab-busybox:test", "nc", "-w", "2", address, "80"]).stdout
        }
        #expect(reply.contains("from-web"))
        // `lo` is the runtime's to bring up (podlab-cni, like the reference plugins, leaves it):
        // podman does, so a container's localhost works.
        let loopback = try podman(["run", "--rm", "--network", "podlabnet", "localhost/podlab-busybox:test", "sh", "-c", "read f < /sys/class/net/lo/flags; echo $f"])
        #expect(loopback.succeeded && (Int(loopback.stdout.trimmingCharacters(in: .whitespacesAndNewlines).dropFirst(2), radix: 16) ?? 0) & 1 == 1,
                "lo is not up in a podman container: \(loopback.stdout)\(loopback.stderr)")
        // The published port, from the node's namespace (the test's), on the gateway's address.
        let published = try Command.run("busybox", ["nc", "-w", "2", "10.66.0.1", "8080"], netns: node.name)
        #expect(published.stdout.contains("from-web"), "\(published.stdout)\(published.stderr)")
        // The --rm container released its address; removing the web container releases the last.
        #expect(try store.read().records.count == 1)
        let removed = try podman(["rm", "--force", "web"])
        #expect(removed.succeeded, "\(removed.stderr)")
        #expect(try store.read().records.isEmpty)
        #expect(try Command.ipJSON(node.name, ["link"]).compactMap { $0["ifname"] as? String }.filter { $0.hasPrefix("veth") }.isEmpty)
        #expect(!(try Command.check("nft", ["list", "map", "ip", "podlab-cni-podlabnet", "portmaps"], netns: node.name)).contains("10.66.0.2"))
    }
}
