import Foundation
import KernelTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Container limits enforced by the kernel: a cgroup per container with limits, in the lab's
/// own subtree, the container's process in it before it runs; a container over its memory
/// limit OOMKilled; the QoS class in the status; the subtree gone with the pod and the lab.
@Suite("Container resources", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct ResourceTests {
    @Test("a container that allocates 64Mi under a 32Mi limit is OOMKilled with 137, in its state and, restarted, in its lastState")
    func oomKilled() async throws {
        try await TestLab.with(backoff: 0.2) { lab in
            let hog = #"x=$(head -c 67108864 /dev/zero | tr "\0" a); echo survived; sleep 1"#
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: hog}
                spec:
                  restartPolicy: Never
                  containers:
                  - {name: app, image: busybox, command: [sh, -c, '\(hog)'], resources: {limits: {memory: 32Mi}}}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: hog-again}
                spec:
                  containers:
                  - {name: app, image: busybox, command: [sh, -c, '\(hog)'], resources: {limits: {memory: 32Mi}}}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: fits}
                spec:
                  restartPolicy: Never
                  containers:
                  - {name: app, image: busybox, command: [sh, -c, 'x=$(head -c 1048576 /dev/zero | tr "\\0" a); echo fits'], resources: {limits: {memory: 32Mi}}}
                """, as: "hog.yaml")
            try await lab.eventually("hog terminated") {
                ((try lab.containerStatus("hog", "app"))["state"] as? [String: Any])?["terminated"] != nil
            }
            let terminated = try #require(((try lab.containerStatus("hog", "app"))["state"] as? [String: Any])?["terminated"] as? [String: Any])
            #expect(terminated["reason"] as? String == "OOMKilled")
            #expect(terminated["exitCode"] as? Int == 137)
            #expect(try lab.run(["logs", "hog"]).stdout.contains("survived") == false)
            try await lab.eventually("hog Failed") { ((try lab.pod("hog"))["status"] as? [String: Any])?["phase"] as? String == "Failed" }
            #expect(try lab.run(["get", "pod", "hog"]).stdout.contains("OOMKilled"))

            try await lab.eventually("hog-again restarted after its OOM kill") {
                let status = try lab.containerStatus("hog-again", "app")
                let last = (status["lastState"] as? [String: Any])?["terminated"] as? [String: Any]
                return (status["restartCount"] as? Int ?? 0) >= 1 && last?["reason"] as? String == "OOMKilled" && last?["exitCode"] as? Int == 137
            }

            // Under its limit, the same program completes.
            try await lab.eventually("fits completed") {
                let terminated = ((try lab.containerStatus("fits", "app"))["state"] as? [String: Any])?["terminated"] as? [String: Any]
                return terminated?["reason"] as? String == "Completed" && terminated?["exitCode"] as? Int == 0
            }
        }
    }

    @Test("limits become the container's cgroup, joined before exec; QoS class and defaulted requests stored; cgroups go with the pod, and with the lab after kill -9 of the agent")
    func cgroups() async throws {
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: limited}
                spec:
                  containers:
                  - name: app
                    image: busybox
                    command: [sh, -c, 'cat /proc/self/cgroup; echo "cpu=$CPU_MILLIS mem=$MEMORY_MI req=$CPU_REQUEST"; exec sleep 3600']
                    resources: {limits: {cpu: 250m, memory: 64Mi}}
                    env:
                    - {name: CPU_MILLIS, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}}
                    - {name: MEMORY_MI, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
                    - {name: CPU_REQUEST, valueFrom: {resourceFieldRef: {resource: requests.cpu, divisor: 1m}}}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: free}
                spec:
                  containers:
                  - {name: app, image: busybox, command: [sleep, "3600"], resources: {requests: {cpu: 100m}}}
                """, as: "limited.yaml")
            try await lab.eventually("limited running and logged") {
                try lab.run(["logs", "limited"]).stdout.contains("cpu=")
            }
            let pod = try lab.pod("limited")
            let uid = try #require((pod["metadata"] as? [String: Any])?["uid"] as? String)
            #expect((pod["status"] as? [String: Any])?["qosClass"] as? String == "Guaranteed")
            let resources = ((pod["spec"] as? [String: Any])?["containers"] as? [[String: Any]])?.first?["resources"] as? [String: Any]
            #expect(resources?["requests"] as? [String: String] == ["cpu": "250m", "memory": "64Mi"])
            #expect((try lab.pod("free")["status"] as? [String: Any])?["qosClass"] as? String == "Burstable")
            let described = try lab.run(["describe", "pod", "limited"]).stdout
            #expect(described.split(separator: "\n").contains { $0.hasPrefix("QoS Class:") && $0.hasSuffix(" Guaranteed") }, "\(described)")

            // The downward API gives the limits, and the requests defaulted from them.
            let logs = try lab.run(["logs", "limited"]).stdout
            #expect(logs.contains("cpu=250 mem=64 req=250"), "\(logs)")

            let subtree = Self.cgroupPath(lab: lab.name, uid: uid, container: "app")
            switch Self.hierarchy {
            case .v2:
                #expect(Self.read("\(Self.mount)\(subtree)/cpu.max") == "25000 100000")
                #expect(Self.read("\(Self.mount)\(subtree)/memory.max") == "67108864")
                // The first thing the program did was to read its cgroup: it was in it already.
                #expect(logs.split(separator: "\n").contains { $0 == "0::\(subtree)" }, "\(logs)")
            case .v1:
                #expect(Self.read("\(Self.mount)/cpu\(subtree)/cpu.cfs_quota_us") == "25000")
                #expect(Self.read("\(Self.mount)/cpu\(subtree)/cpu.cfs_period_us") == "100000")
                #expect(Self.read("\(Self.mount)/memory\(subtree)/memory.limit_in_bytes") == "67108864")
                let lines = logs.split(separator: "\n")
                #expect(lines.contains { $0.hasSuffix(":memory:\(subtree)") }, "\(logs)")
                #expect(lines.contains { $0.hasSuffix(":cpu:\(subtree)") }, "\(logs)")
                // The running process (sleep, exec'd by the shell) is in both.
                for controller in ["cpu", "memory"] {
                    let pids = (Self.read("\(Self.mount)/\(controller)\(subtree)/cgroup.procs") ?? "").split(separator: "\n")
                    #expect(pids.count == 1, "\(controller): \(pids)")
                    #expect(pids.allSatisfy { (Self.read("/proc/\($0)/cmdline") ?? "").hasPrefix("sleep") })
                }
            }
            // An exec'd process joins the container's cgroup, as the kubelet's does.
            let exec = try lab.run(["exec", "limited", "--", "cat", "/proc/self/cgroup"]).stdout.split(separator: "\n")
            #expect(exec.contains { $0.hasSuffix(":\(subtree)") }, "\(exec)")

            // A container without limits gets no cgroup.
            let freeUID = try #require((try lab.pod("free")["metadata"] as? [String: Any])?["uid"] as? String)
            #expect(Self.labDirectories(lab.name).allSatisfy { !FileManager.default.fileExists(atPath: "\($0)/\(freeUID)") })

            try lab.run(["delete", "pod", "limited"])
            #expect(Self.labDirectories(lab.name).allSatisfy { !FileManager.default.fileExists(atPath: "\($0)/\(uid)") })

            // Another pod with limits, then the agent killed: `down` still removes the lab's subtree.
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: limited2}
                spec:
                  containers:
                  - {name: app, image: busybox, command: [sleep, "3600"], resources: {limits: {cpu: 100m}}}
                """, as: "limited2.yaml")
            try await lab.eventually("limited2 running") {
                ((try lab.containerStatus("limited2", "app"))["state"] as? [String: Any])?["running"] != nil
            }
            #expect(Self.labDirectories(lab.name).contains { FileManager.default.fileExists(atPath: $0) })
            let agent = try #require(lab.agentPID)
            kill(agent, SIGKILL)
            try await lab.eventually("the agent gone") { kill(agent, 0) != 0 }
            try lab.run(["down"])
            #expect(Self.labDirectories(lab.name).allSatisfy { !FileManager.default.fileExists(atPath: $0) })
        }
    }

    // MARK: The host's cgroups, read independently of podlab's code

    enum Hierarchy { case v1, v2 }
    static let mount = "/sys/fs/cgroup"
    /// A cgroup v2 root has `cgroup.controllers`; the tmpfs holding v1 hierarchies does not.
    static var hierarchy: Hierarchy {
        FileManager.default.fileExists(atPath: "\(mount)/cgroup.controllers") ? .v2 : .v1
    }

    /// `/podlab/<lab>/<uid>/<container>`, relative to a hierarchy's root.
    static func cgroupPath(lab: String, uid: String, container: String) -> String { "/podlab/\(lab)/\(uid)/\(container)" }

    static func labDirectories(_ lab: String) -> [String] {
        hierarchy == .v2 ? ["\(mount)/podlab/\(lab)"] : ["memory", "cpu"].map { "\(mount)/\($0)/podlab/\(lab)" }
    }

    static func read(_ path: String) -> String? {
        (try? String(contentsOfFile: path, encoding: .utf8)).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }
}
