import Foundation
import KernelTestSupport
import Netns
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A pod whose sandbox cannot be built says why, and the agent builds it again (with back-off)
/// until it can, as the kubelet retries a failed sandbox.
@Suite("A failed sandbox is built again", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct SandboxRetryTests {
    @Test("a taken namespace name: the pod shows FailedCreatePodSandBox, the agent leaves that file alone, and the pod runs once it is gone")
    func retriedUntilItWorks() async throws {
        try await TestLab.with { lab in
            // The test's own file where the pod's namespace must go: creating the sandbox fails with EEXIST.
            let blocker = "\(NetworkNamespace.runDirectory)/\(lab.name)_pod_default_web"
            let fd = open(blocker, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0)
            try #require(fd >= 0, "cannot create \(blocker): \(Errno.current)")
            close(fd)
            var removed = false
            defer { if !removed { unlink(blocker) } }

            try lab.run(["run", "web", "--image", "podlab/echo"])
            try await lab.eventually("the pod reports the failed sandbox") {
                let status = (try lab.pod("web"))["status"] as? [String: Any] ?? [:]
                return status["reason"] as? String == "FailedCreatePodSandBox"
                    && (status["message"] as? String ?? "").contains("exists")
            }
            let waiting = (try lab.containerStatus("web", "web")["state"] as? [String: Any])?["waiting"] as? [String: Any]
            #expect(waiting?["reason"] as? String == "ContainerCreating")

            // A retry or two later the file is still the test's: a failed attempt removes only what it made.
            try await Task.sleep(for: .seconds(2))
            var info = stat()
            #expect(lstat(blocker, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && info.st_size == 0)
            #expect(try lab.run(["get", "pod", "web"]).stdout.contains("ContainerCreating"))

            unlink(blocker)
            removed = true
            // The retries' back-off grew while the name was taken (longer on a loaded machine).
            try await lab.eventually("the pod runs once the name is free", timeout: .seconds(120)) {
                ((try lab.pod("web"))["status"] as? [String: Any])?["phase"] as? String == "Running"
            }
            let status = (try lab.pod("web"))["status"] as? [String: Any] ?? [:]
            #expect(status["reason"] == nil && status["message"] == nil)
            #expect(NetworkNamespace.exists("\(lab.name)_pod_default_web"))
            try lab.run(["delete", "pod", "web", "--grace-period", "1"])
        }
    }
}

/// Per node, the agent keeps a pod network ready for the next pod: a namespace held only by a
/// descriptor, with a veth pair whose host end waits (down, `vsp…`) on the node's bridge.
@Suite("The spare pod networks", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct SpareNamespaceE2ETests {
    /// Inodes of the network namespaces the agent holds open that are not the host's and not
    /// bound under /run/netns: its spares.
    static func spareInodes(agent pid: Int32) -> Set<UInt64> {
        var host = stat()
        stat("/proc/self/ns/net", &host)
        var bound = Set<UInt64>()
        for name in (try? NetworkNamespace.list()) ?? [] {
            if let inode = try? NetworkNamespace.open(name).inode() { bound.insert(inode) }
        }
        var result = Set<UInt64>()
        for fd in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? [] {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                  target.hasPrefix("net:["), let inode = UInt64(target.dropFirst(5).dropLast()) else { continue }
            if inode != UInt64(host.st_ino) && !bound.contains(inode) { result.insert(inode) }
        }
        return result
    }

    /// Links on the node's cni0 with their state.
    static func bridgePorts(_ lab: TestLab, node: String) throws -> [(name: String, up: Bool)] {
        try Command.ipJSON("\(lab.name)_node_\(node)", ["link", "show", "master", "cni0"]).map {
            ($0["ifname"] as? String ?? "", ($0["flags"] as? [String] ?? []).contains("UP"))
        }
    }

    @Test("a new pod gets the spare made for its node, with the host end renamed and up; another spare follows")
    func podTakesTheSpare() async throws {
        try await TestLab.with { lab in
            let pid = try #require(lab.agentPID)
            var before = Set<UInt64>()
            try await lab.eventually("the agent holds a spare per node") {
                before = Self.spareInodes(agent: pid)
                let ports = try Self.bridgePorts(lab, node: "n1")
                return before.count == 2 && ports.contains { $0.name.hasPrefix("vsp") && !$0.up }
            }
            try await lab.start([PinnedPod("web", on: "n1", "web", image: "podlab/echo")])
            let inode = try NetworkNamespace.open("\(lab.name)_pod_default_web").inode()
            #expect(before.contains(inode), "the pod's namespace is one of the spares")
            let ports = try Self.bridgePorts(lab, node: "n1")
            #expect(ports.filter { $0.name.hasPrefix("veth") && $0.up }.count == 1, "\(ports)")
            try await lab.eventually("a new spare is ready on n1") {
                let spares = Self.spareInodes(agent: pid)
                let ports = try Self.bridgePorts(lab, node: "n1")
                return spares.count == 2 && !spares.contains(inode) && ports.filter { $0.name.hasPrefix("vsp") }.count == 1
            }
            // The pod is reachable from the other node as any pod is.
            try await lab.start([PinnedPod("peer", on: "n2", "web", image: "nginx")])
            #expect(try lab.run(["exec", "peer", "--", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://\(try lab.podIP("web")):8080/"]).stdout == "200")
        }
    }
}
