import Foundation
import KernelTestSupport
import PodNet
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `resources.limits` of a container of an OCI image under runc: the bundle's
/// `linux.resources`, the container's cgroup as the kernel holds it (read here from the
/// cgroup file system, not through podlab), the container's processes in it, and a memory
/// hog OOM-killed with the kubelet's reason.
@Suite("Limits of containers of OCI images", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct OCIResourceTests {
    static func loadImage(_ lab: TestLab) throws {
        try #require(access("/usr/sbin/runc", X_OK) == 0, "runc is missing: scripts/install-deps installs it")
        let image = try BusyboxWebImage(page: "-")
        try image.writeLayout("\(lab.stateRoot)/layout", name: "registry.test/web:1")
        try lab.run(["image", "load", "-i", "\(lab.stateRoot)/layout"])
    }

    @Test("runc: limits land in config.json's linux.resources and in the container's cgroup (cpu 250m, memory 64Mi), its process in it")
    func limitsInCgroup() async throws {
        try await TestLab.with { lab in
            try Self.loadImage(lab)
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: limited}
                spec:
                  containers:
                  - name: app
                    image: registry.test/web:1
                    command: [/bin/sh, -c, '/bin/busybox cat /proc/self/cgroup; echo started; exec /bin/busybox sleep 3600']
                    resources: {limits: {cpu: 250m, memory: 64Mi}}
                """, as: "limited.yaml")
            try await lab.eventually("limited running and logged") { try lab.run(["logs", "limited"]).stdout.contains("started") }
            let pod = try lab.pod("limited")
            let uid = try #require((pod["metadata"] as? [String: Any])?["uid"] as? String)
            #expect((pod["status"] as? [String: Any])?["qosClass"] as? String == "Guaranteed")

            // What runc was given.
            let bundle = "\(lab.stateRoot)/\(lab.name)/pods/\(uid)/oci/app-0/config.json"
            let spec = try JSONReader.value(from: String(contentsOfFile: bundle, encoding: .utf8))
            #expect(spec["linux"]?["resources"] == ["memory": ["limit": 67_108_864], "cpu": ["quota": 25_000, "period": 100_000]])
            let subtree = ResourceTests.cgroupPath(lab: lab.name, uid: uid, container: "app")
            #expect(spec["linux"]?["cgroupsPath"] == .string(subtree))

            // What the kernel holds.
            let logs = try lab.run(["logs", "limited"]).stdout
            let mount = ResourceTests.mount
            switch ResourceTests.hierarchy {
            case .v2:
                #expect(ResourceTests.read("\(mount)\(subtree)/cpu.max") == "25000 100000")
                #expect(ResourceTests.read("\(mount)\(subtree)/memory.max") == "67108864")
                #expect(logs.split(separator: "\n").contains { $0 == "0::\(subtree)" }, "\(logs)")
            case .v1:
                #expect(ResourceTests.read("\(mount)/cpu\(subtree)/cpu.cfs_quota_us") == "25000")
                #expect(ResourceTests.read("\(mount)/cpu\(subtree)/cpu.cfs_period_us") == "100000")
                #expect(ResourceTests.read("\(mount)/memory\(subtree)/memory.limit_in_bytes") == "67108864")
                let lines = logs.split(separator: "\n")
                #expect(lines.contains { $0.hasSuffix(":memory:\(subtree)") }, "\(logs)")
                #expect(lines.contains { $0.hasSuffix(":cpu:\(subtree)") }, "\(logs)")
                // The container's process is in both, and nothing else is (runc stays outside).
                for controller in ["cpu", "memory"] {
                    let pids = (ResourceTests.read("\(mount)/\(controller)\(subtree)/cgroup.procs") ?? "").split(separator: "\n")
                    #expect(pids.count == 1, "\(controller): \(pids)")
                    #expect(pids.allSatisfy { (ResourceTests.read("/proc/\($0)/cmdline") ?? "").hasPrefix("/bin/busybox\0sleep") })
                }
            }
            try lab.run(["delete", "pod", "limited"])
            #expect(ResourceTests.labDirectories(lab.name).allSatisfy { !FileManager.default.fileExists(atPath: "\($0)/\(uid)") })
        }
    }

    @Test("runc: a container of an image that allocates 64Mi under a 32Mi limit is OOMKilled with 137 (get -o json, describe); under its limit it completes")
    func oomKilled() async throws {
        try await TestLab.with { lab in
            try Self.loadImage(lab)
            let hog = #"x=$(/bin/busybox head -c 67108864 /dev/zero | /bin/busybox tr "\0" a); echo survived"#
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: hog}
                spec:
                  restartPolicy: Never
                  containers:
                  - {name: app, image: registry.test/web:1, command: [/bin/sh, -c, '\(hog)'], resources: {limits: {memory: 32Mi}}}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: fits}
                spec:
                  restartPolicy: Never
                  containers:
                  - {name: app, image: registry.test/web:1, command: [/bin/sh, -c, 'x=$(/bin/busybox head -c 1048576 /dev/zero | /bin/busybox tr "\\0" a); echo fits'], resources: {limits: {memory: 32Mi}}}
                """, as: "hog.yaml")
            try await lab.eventually("hog terminated") {
                ((try lab.containerStatus("hog", "app"))["state"] as? [String: Any])?["terminated"] != nil
            }
            let terminated = try #require(((try lab.containerStatus("hog", "app"))["state"] as? [String: Any])?["terminated"] as? [String: Any])
            #expect(terminated["reason"] as? String == "OOMKilled")
            #expect(terminated["exitCode"] as? Int == 137)
            #expect(try lab.run(["logs", "hog"]).stdout.contains("survived") == false)
            let described = try lab.run(["describe", "pod", "hog"]).stdout
            #expect(described.split(separator: "\n").contains { $0.hasPrefix("      Reason:") && $0.hasSuffix("OOMKilled") }, "\(described)")
            #expect(described.contains("Exit Code:    137") || described.split(separator: "\n").contains { $0.contains("Exit Code:") && $0.hasSuffix("137") })
            try await lab.eventually("fits completed") {
                let terminated = ((try lab.containerStatus("fits", "app"))["state"] as? [String: Any])?["terminated"] as? [String: Any]
                return terminated?["reason"] as? String == "Completed" && terminated?["exitCode"] as? Int == 0
            }
        }
    }

    /// crun manages no cgroup (it runs with the cgroup v2 view on a host with hybrid cgroups):
    /// the agent starts it in the container's cgroup, where the container stays.
    @Test("crun: limits land in the container's cgroup, the container's process in it; a hog over its limit is OOMKilled with 137")
    func crunLimits() async throws {
        try #require(access("/usr/bin/crun", X_OK) == 0, "crun is missing: scripts/install-deps installs it")
        try await TestLab.with(environment: ["PODLAB_OCI_RUNTIME": "crun"]) { lab in
            try Self.loadImage(lab)
            let hog = #"x=$(/bin/busybox head -c 67108864 /dev/zero | /bin/busybox tr "\0" a); echo survived"#
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: limited}
                spec:
                  containers:
                  - name: app
                    image: registry.test/web:1
                    command: [/bin/sh, -c, 'echo started; exec /bin/busybox sleep 3600']
                    resources: {limits: {cpu: 250m, memory: 64Mi}}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: hog}
                spec:
                  restartPolicy: Never
                  containers:
                  - {name: app, image: registry.test/web:1, command: [/bin/sh, -c, '\(hog)'], resources: {limits: {memory: 32Mi}}}
                """, as: "crun.yaml")
            try await lab.eventually("limited running and logged") { try lab.run(["logs", "limited"]).stdout.contains("started") }
            let uid = try #require((try lab.pod("limited")["metadata"] as? [String: Any])?["uid"] as? String)
            let subtree = ResourceTests.cgroupPath(lab: lab.name, uid: uid, container: "app")
            let mount = ResourceTests.mount
            let procsFiles: [String]
            switch ResourceTests.hierarchy {
            case .v2:
                #expect(ResourceTests.read("\(mount)\(subtree)/cpu.max") == "25000 100000")
                #expect(ResourceTests.read("\(mount)\(subtree)/memory.max") == "67108864")
                procsFiles = ["\(mount)\(subtree)/cgroup.procs"]
            case .v1:
                #expect(ResourceTests.read("\(mount)/cpu\(subtree)/cpu.cfs_quota_us") == "25000")
                #expect(ResourceTests.read("\(mount)/memory\(subtree)/memory.limit_in_bytes") == "67108864")
                procsFiles = ["cpu", "memory"].map { "\(mount)/\($0)\(subtree)/cgroup.procs" }
            }
            for file in procsFiles {
                let commands = (ResourceTests.read(file) ?? "").split(separator: "\n").map { ResourceTests.read("/proc/\($0)/cmdline") ?? "" }
                #expect(commands.contains { $0.hasPrefix("/bin/busybox\0sleep") }, "\(file): \(commands)")
            }
            try await lab.eventually("hog terminated") {
                ((try lab.containerStatus("hog", "app"))["state"] as? [String: Any])?["terminated"] != nil
            }
            let terminated = try #require(((try lab.containerStatus("hog", "app"))["state"] as? [String: Any])?["terminated"] as? [String: Any])
            #expect(terminated["reason"] as? String == "OOMKilled", "\(terminated)")
            #expect(terminated["exitCode"] as? Int == 137, "\(terminated)")
        }
    }
}
