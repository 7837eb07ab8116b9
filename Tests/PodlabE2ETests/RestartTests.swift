import Foundation
import KernelTestSupport
import Netns
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `kill -9` of the agent at any moment, then `podlab up`: pods that ran keep running with the
/// same IP and the same processes (adopted, not recreated), no IP is handed out twice, half-built
/// pods are finished, half-deleted ones are gone, and `podlab down` still removes everything.
@Suite("Agent restart safety", .serialized, .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct RestartTests {
    static let runningPods = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: web1
        spec:
          nodeName: n1
          containers:
          - name: web
            image: nginx
          - name: sidecar
            image: busybox
            command: ["sleep", "3600"]
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: web2
        spec:
          nodeName: n2
          containers:
          - name: web
            image: httpd
          - name: sidecar
            image: busybox
            command: ["sleep", "3600"]
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: echo
        spec:
          containers:
          - name: echo
            image: podlab/echo
        """

    @Test("running pods on both nodes are adopted: same IPs, same processes, same restart counts; traffic flows; new IPs are fresh")
    func adoptsRunningPods() async throws {
        try await TestLab.with { lab in
            try lab.apply(RestartTests.runningPods, as: "pods.yaml")
            try await lab.eventually("3 pods Running") { try lab.allRunning(count: 3) }
            let before = try lab.snapshot()
            #expect(before.pods.count == 3 && before.processes.values.allSatisfy { !$0.isEmpty })
            let oldAgent = try await lab.killAgent()
            for pid in before.processes.values.flatMap(\.values) {
                #expect(processIsAlive(pid), "container process \(pid) died with the agent")
            }

            try lab.run(["up"])
            #expect(lab.agentPID != oldAgent)
            try await lab.eventually("3 pods Running again") { try lab.allRunning(count: 3) }
            let after = try lab.snapshot()
            #expect(after.ips == before.ips, "pod IPs changed across the restart")
            #expect(after.processes == before.processes, "container processes were replaced, not adopted")
            #expect(after.containers == before.containers, "restart counts or container IDs changed")
            try await lab.expectConsistent()

            // Traffic still flows both ways between the nodes.
            let web1 = try #require(before.ips["web1"]), web2 = try #require(before.ips["web2"])
            // exec joins the pod's mount namespace again: its own /etc/hosts, not the host's.
            #expect(try lab.run(["exec", "web1", "-c", "sidecar", "--", "cat", "/etc/hosts"]).stdout.hasSuffix("\n\(web1)\tweb1\n"))
            #expect(try lab.run(["exec", "web1", "-c", "web", "--", "curl", "-s", "http://\(web2)/"]).stdout.contains("It works!"))
            #expect(try lab.run(["exec", "web2", "-c", "web", "--", "curl", "-s", "http://\(web1)/"]).stdout.contains("Welcome to nginx!"))

            // A new pod on each node gets an address no pod has.
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: fresh1
                spec:
                  nodeName: n1
                  containers:
                  - name: web
                    image: nginx
                ---
                apiVersion: v1
                kind: Pod
                metadata:
                  name: fresh2
                spec:
                  nodeName: n2
                  containers:
                  - name: web
                    image: nginx
                """, as: "fresh.yaml")
            try await lab.eventually("the new pods Running") { try lab.allRunning(count: 5) }
            for name in ["fresh1", "fresh2"] {
                let ip = try lab.podIP(name)
                #expect(!ip.isEmpty && !before.ips.values.contains(ip), "\(name) got \(ip), an address already in use")
            }
            try await lab.expectConsistent()
        }
    }

    @Test("a container that exits while the agent is down is restarted by its policy when the agent is back")
    func containerExitsWhileAgentIsDown() async throws {
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: always
                spec:
                  containers:
                  - name: web
                    image: nginx
                  - name: sleeper
                    image: busybox
                    command: ["sleep", "3600"]
                ---
                apiVersion: v1
                kind: Pod
                metadata:
                  name: never
                spec:
                  restartPolicy: Never
                  containers:
                  - name: sleeper
                    image: busybox
                    command: ["sleep", "3600"]
                """, as: "pods.yaml")
            try await lab.eventually("both pods Running") { try lab.allRunning(count: 2) }
            let before = try lab.snapshot()
            let alwaysSleeper = try #require(before.processes["always"]?["sleep"])
            let nginx = try #require(before.processes["always"]?["docker-entrypoint.sh"])
            let neverSleeper = try #require(before.processes["never"]?["sleep"])

            try await lab.killAgent()
            for pid in [alwaysSleeper, neverSleeper] {
                kill(pid, SIGKILL)
                try await lab.eventually("container process \(pid) gone") { !processIsAlive(pid) }
            }
            try lab.run(["up"])

            // restartPolicy Always: a new process, restart count 1, the exit in lastState.
            try await lab.eventually("the sleeper restarted") {
                let status = try lab.containerStatus("always", "sleeper")
                return status["restartCount"] as? Int == 1 && (status["state"] as? [String: Any])?["running"] != nil
            }
            let restarted = try lab.containerPIDs("always")
            #expect(restarted["sleep"] != nil && restarted["sleep"] != alwaysSleeper)
            #expect(restarted["docker-entrypoint.sh"] == nginx, "the container that did not exit was restarted too")
            let sleeper = try lab.containerStatus("always", "sleeper")
            #expect((sleeper["lastState"] as? [String: Any])?["terminated"] != nil)
            #expect(try lab.containerStatus("always", "web")["restartCount"] as? Int == 0)

            // restartPolicy Never: terminated, not restarted; the pod failed.
            try await lab.eventually("the Never pod Failed") {
                try (lab.pod("never")["status"] as? [String: Any])?["phase"] as? String == "Failed"
            }
            let never = try lab.containerStatus("never", "sleeper")
            #expect(never["restartCount"] as? Int == 0)
            #expect((never["state"] as? [String: Any])?["terminated"] != nil)
            #expect(try lab.containerPIDs("never").isEmpty)
        }
    }

    @Test("kill -9 while 30 pods are being created: every stored pod ends Running with its own IP; no orphan namespace")
    func killWhileCreatingManyPods() async throws {
        try await TestLab.with { lab in
            let manifest = (1...30).map { index in
                """
                apiVersion: v1
                kind: Pod
                metadata:
                  name: p\(index)
                spec:
                  containers:
                  - name: sleeper
                    image: busybox
                    command: ["sleep", "3600"]
                """
            }.joined(separator: "\n---\n")
            let file = lab.stateRoot + "/many.yaml"
            try manifest.write(toFile: file, atomically: true, encoding: .utf8)
            let apply = try Spawner.spawn(SpawnRequest(executable: lab.podlab, arguments: ["apply", "-f", file], environment: lab.environment,
                                                       stdin: .null, stdout: .file(lab.stateRoot + "/apply.out"),
                                                       stderr: .file(lab.stateRoot + "/apply.out")))
            // Kill once some sandboxes exist, while the others are still being made.
            try await lab.eventually("the first sandboxes", timeout: .seconds(120)) { try lab.podNamespaces().count >= 6 }
            try await lab.killAgent()
            _ = try await apply.exitStatus()
            let stored = try lab.podNamespaces().count

            try lab.run(["up"])
            try await lab.eventually("every stored pod Running", timeout: .seconds(120)) { try lab.allRunning() }
            let survivors = try lab.pods().count
            #expect(survivors >= 6 && survivors <= 30, "\(survivors) pods after the crash (\(stored) namespaces at the kill)")
            try await lab.expectConsistent()

            // Applying the same file again creates the rest; nothing is duplicated.
            try lab.run(["apply", "-f", file])
            try await lab.eventually("all 30 pods Running", timeout: .seconds(120)) { try lab.allRunning(count: 30) }
            try await lab.expectConsistent()
            for index in 1...30 {
                let pids = try lab.netnsPIDs("p\(index)")
                #expect(pids.count == 1, "pod p\(index) runs \(pids.count) processes for its one container")
            }

            // A container started just before the kill and never recorded must not outlive the lab.
            try lab.run(["down"])
            #expect(lab.containerProcesses().isEmpty, "container processes outlived the lab: \(lab.containerProcesses())")
        }
    }

    /// A pod on node n1 whose one container sleeps.
    static func sleeperOnN1(_ name: String) -> String {
        """
        apiVersion: v1
        kind: Pod
        metadata:
          name: \(name)
        spec:
          nodeName: n1
          containers:
          - name: sleeper
            image: busybox
            command: ["sleep", "3600"]
        """
    }

    /// A pod's setup finishes in its node: the host end of its veth is renamed from the spare
    /// name (`vsp…`) to `veth…` and raised, and the node gets the permanent entry for the pod. A
    /// kill just before that leaves a pod namespace that looks finished from inside.
    @Test("a sandbox whose node side was never finished (host veth still spare-named and down, no node entry) is rebuilt on adoption",
          arguments: [true, false])
    func adoptionChecksTheNodeSide(renamed: Bool) async throws {
        try await TestLab.with { lab in
            try lab.apply(Self.sleeperOnN1("half"), as: "pod.yaml")
            try await lab.eventually("half Running") { try lab.allRunning(count: 1) }
            let ip = try lab.podIP("half")
            let node = lab.nodeNamespace("n1")
            let veth = try #require(try lab.nodeVeths("n1").first)
            try await lab.killAgent()
            // The state a kill between the pod's and the node's half of the setup leaves.
            _ = try Command.check("ip", ["-n", node, "link", "set", veth, "down"])
            if renamed { _ = try Command.check("ip", ["-n", node, "link", "set", veth, "name", "vsp0badc0de"]) }
            _ = try Command.check("ip", ["-n", node, "neigh", "del", ip, "dev", "cni0"])

            try lab.run(["up"])
            try await lab.eventually("half Running") { try lab.allRunning(count: 1) }
            #expect(try lab.podIP("half") == ip, "the pod keeps its address")
            // (The node's ready spare waits on cni0 too, down, as vsp….)
            try await lab.eventually("the node holds half's veth, up, on cni0, and nothing of the old pair") {
                let links = try Command.ipJSON(node, ["link", "show", "master", "cni0"])
                let veths = links.filter { ($0["ifname"] as? String)?.hasPrefix("veth") == true }
                return veths.count == 1 && (veths[0]["flags"] as? [String])?.contains("UP") == true
                    && !links.contains { $0["ifname"] as? String == "vsp0badc0de" }
            }
            let neighbours = try Command.ipJSON(node, ["neigh", "show", "dev", "cni0"])
            #expect(neighbours.contains { $0["dst"] as? String == ip && ($0["state"] as? [String])?.contains("PERMANENT") == true }, "\(neighbours)")
            try await lab.expectConsistent()
            #expect(try lab.run(["test", "--from", "half", "--to", "gateway"]).status == .exited(0), "the pod reaches its gateway")
        }
    }

    /// A creation makes the file /run/netns/NAME first and binds the new namespace on it next;
    /// a kill in between leaves a file that holds no namespace and cannot be entered.
    @Test("a pod whose network namespace file was made but never bound is rebuilt on adoption, with its IP")
    func adoptionReplacesAnUnboundNamespaceFile() async throws {
        try await TestLab.with { lab in
            try lab.apply(Self.sleeperOnN1("cut"), as: "pod.yaml")
            try await lab.eventually("cut Running") { try lab.allRunning(count: 1) }
            let ip = try lab.podIP("cut")
            let netns = lab.podNamespace("cut")
            let path = "/run/netns/\(netns)"
            try await lab.killAgent()
            // The state such a kill leaves: the name's file as the agent made it, nothing bound on
            // it. It carries the lab's label (the alias of every lab namespace's lo).
            let label = try #require(try Command.ipJSON(lab.nodeNamespace("n1"), ["link", "show", "lo"]).first?["ifalias"] as? String)
            #expect(umount2(path, Int32(MNT_DETACH)) == 0, "unmounting \(path): \(String(cString: strerror(errno)))")
            #expect(!NamespaceFile.isBound(path))
            #expect(NamespaceMountPoint.owner(of: path) == label, "the agent's file carries the lab's label")

            try lab.run(["up"])
            try await lab.eventually("cut Running") { try lab.allRunning(count: 1) }
            #expect(try lab.podIP("cut") == ip, "the pod keeps its address")
            #expect(NamespaceFile.isBound(path), "a namespace is bound on \(path) again")
            try await lab.expectConsistent()
            #expect(try lab.run(["test", "--from", "cut", "--to", "gateway"]).status == .exited(0), "the pod reaches its gateway")
        }
    }

    @Test("kill -9 during a pod's deletion: after the restart the pod, its processes, namespace and veth are gone")
    func killDuringDeletion() async throws {
        try await TestLab.with { lab in
            // The stubborn container ignores SIGTERM, so its deletion waits out the grace period.
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: stubborn
                spec:
                  nodeName: n1
                  containers:
                  - name: main
                    image: busybox
                    command: ["bash", "-c", "trap '' TERM; while true; do sleep 0.2; done"]
                ---
                apiVersion: v1
                kind: Pod
                metadata:
                  name: keeper
                spec:
                  nodeName: n1
                  containers:
                  - name: web
                    image: nginx
                """, as: "pods.yaml")
            try await lab.eventually("both pods Running") { try lab.allRunning(count: 2) }
            let before = try lab.snapshot()
            let bash = try #require(before.processes["stubborn"]?["bash"])

            try lab.run(["delete", "pod", "stubborn", "--grace-period=6", "--wait=false"])
            try await lab.eventually("stubborn Terminating") {
                try (lab.pod("stubborn")["metadata"] as? [String: Any])?["deletionTimestamp"] != nil
            }
            #expect(processIsAlive(bash), "the container ended before the agent was killed: nothing to test")
            try await lab.killAgent()
            #expect(NetworkNamespace.exists("\(lab.name)_pod_default_stubborn"))

            try lab.run(["up"])
            try await lab.eventually("stubborn gone") {
                try !lab.run(["get", "pod", "stubborn"], expectSuccess: false).succeeded
            }
            #expect(try lab.run(["get", "pod", "stubborn"], expectSuccess: false).stderr.contains("(NotFound): pods \"stubborn\" not found"))
            #expect(!NetworkNamespace.exists("\(lab.name)_pod_default_stubborn"))
            try await lab.eventually("the stubborn container stopped") { !processIsAlive(bash) }
            #expect(lab.containerProcesses(pod: "stubborn").isEmpty)
            #expect(try lab.containerPIDs("keeper") == before.processes["keeper"], "the other pod was disturbed")
            try await lab.eventually("the node holds only keeper's veth") { try lab.nodeVeths("n1").count == 1 }
            try await lab.expectConsistent()
        }
    }

    @Test("podlab down after a crash removes every namespace, process and mount of the lab")
    func downAfterCrash() async throws {
        try await TestLab.with { lab in
            try lab.apply(RestartTests.runningPods, as: "pods.yaml")
            try await lab.eventually("3 pods Running") { try lab.allRunning(count: 3) }
            let processes = try lab.snapshot().processes.values.flatMap(\.values)
            #expect(processes.count == 5)
            try await lab.killAgent()
            #expect(lab.labNamespaces().count == 6, "underlay, 2 nodes and 3 pods before down")

            let down = try lab.run(["down"])
            #expect(down.stdout == "lab \"\(lab.name)\" deleted\n")
            #expect(lab.labNamespaces().isEmpty, "left behind: \(lab.labNamespaces())")
            for pid in processes { #expect(!processIsAlive(pid), "container process \(pid) outlived the lab") }
            #expect(lab.containerProcesses().isEmpty)
            if let agent = lab.agentPID { #expect(!processIsAlive(agent), "the agent started by down is still running") }
            // Read to its end: one read(2) of procfs returns a page of a long table.
            let mounts = KernelTest.readWholeFile("/proc/self/mountinfo")
            #expect(!mounts.contains(lab.stateRoot), "a mount under the lab's state directory is left")
        }
    }
}

// MARK: - Helpers shared by the end-to-end robustness tests

/// What a lab's pods look like from outside: their IPs, their processes in the kernel, and
/// the container facts the API reports.
struct LabSnapshot: Equatable {
    /// Pod name → IP.
    var ips: [String: String]
    /// Pod name → (argv[0] → pid) of the processes in the pod's network namespace.
    var processes: [String: [String: Int32]]
    /// "pod/container" → "restartCount containerID startedAt".
    var containers: [String: String]
    var pods: [String] { ips.keys.sorted() }
}

/// True while `pid` exists and is not a zombie.
func processIsAlive(_ pid: Int32) -> Bool {
    guard let state = statFields(of: pid)?.first else { return false }
    return state != "Z" && state != "X"
}

extension TestLab {
    /// Writes `manifest` into the lab's state root and applies it.
    func apply(_ manifest: String, as file: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let path = stateRoot + "/" + file
        try manifest.write(toFile: path, atomically: true, encoding: .utf8)
        try run(["apply", "-f", path], sourceLocation: sourceLocation)
    }

    /// `podlab get pods -o json`, its items.
    func pods() throws -> [[String: Any]] {
        let result = try run(["get", "pods", "-o", "json"])
        let list = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return list?["items"] as? [[String: Any]] ?? []
    }

    /// True when every pod is Running (and, if given, there are `count` of them).
    func allRunning(count: Int? = nil) throws -> Bool {
        let pods = try pods()
        if let count, pods.count != count { return false }
        return !pods.isEmpty && pods.allSatisfy { ($0["status"] as? [String: Any])?["phase"] as? String == "Running" }
    }

    /// Every namespace of this lab, as the kernel lists them.
    func labNamespaces() -> Set<String> {
        Set(((try? NetworkNamespace.list()) ?? []).filter { $0.hasPrefix("\(name)_") })
    }

    /// The lab's pod namespaces (`<lab>_pod_*`).
    func podNamespaces() throws -> Set<String> {
        Set(try NetworkNamespace.list().filter { $0.hasPrefix("\(name)_pod_default_") })
    }

    /// The processes in a pod's network namespace (`ip netns pids`).
    func netnsPIDs(_ pod: String) throws -> [Int32] {
        let namespace = "\(name)_pod_default_\(pod)"
        guard NetworkNamespace.exists(namespace) else { return [] }
        return try Command.check("ip", ["netns", "pids", namespace]).split(separator: "\n")
            .compactMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// Live processes writing to a container log of this lab (of `pod`, or of any pod):
    /// container processes and their children, wherever their namespace went.
    func containerProcesses(pod: String? = nil) -> [Int32] {
        let logs = "\(stateRoot)/\(name)/logs/" + (pod.map { "default_\($0)_" } ?? "")
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init).filter { pid in
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/1"))?.hasPrefix(logs) == true && processIsAlive(pid)
        }
    }

    /// The processes in a pod's network namespace, by argv[0].
    func containerPIDs(_ pod: String) throws -> [String: Int32] {
        var result: [String: Int32] = [:]
        for pid in try netnsPIDs(pod) {
            guard let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                  let argv0 = cmdline.split(separator: 0).first else { continue }
            result[(String(decoding: argv0, as: UTF8.self) as NSString).lastPathComponent] = pid
        }
        // A shell's short-lived children (`sleep` in a loop) are not containers.
        return result.keys.contains("bash") ? result.filter { $0.key != "sleep" } : result
    }

    /// The host ends of pod veths in a node's namespace.
    func nodeVeths(_ node: String) throws -> [String] {
        let index = node.dropFirst()
        // The node's own eth0 is a veth too (to the underlay); pod ends are named veth<hash>.
        return try Command.ipJSON("\(name)_node_n\(index)", ["link", "show", "type", "veth"]).compactMap { $0["ifname"] as? String }
            .filter { $0.hasPrefix("veth") }
    }

    func snapshot() throws -> LabSnapshot {
        var snapshot = LabSnapshot(ips: [:], processes: [:], containers: [:])
        for pod in try pods() {
            guard let name = (pod["metadata"] as? [String: Any])?["name"] as? String,
                  let status = pod["status"] as? [String: Any] else { continue }
            snapshot.ips[name] = status["podIP"] as? String ?? ""
            snapshot.processes[name] = try containerPIDs(name)
            for container in status["containerStatuses"] as? [[String: Any]] ?? [] {
                let startedAt = ((container["state"] as? [String: Any])?["running"] as? [String: Any])?["startedAt"] as? String ?? "-"
                snapshot.containers["\(name)/\(container["name"] as? String ?? "?")"] =
                    "\(container["restartCount"] as? Int ?? -1) \(container["containerID"] as? String ?? "-") \(startedAt)"
            }
        }
        return snapshot
    }

    /// SIGKILL to the agent; returns its pid once it is gone.
    @discardableResult
    func killAgent(sourceLocation: SourceLocation = #_sourceLocation) async throws -> Int32 {
        let pid = try #require(agentPID, "the lab has no agent pid", sourceLocation: sourceLocation)
        #expect(kill(pid, SIGKILL) == 0, "kill -9 \(pid)", sourceLocation: sourceLocation)
        try await eventually("agent \(pid) gone", { !processIsAlive(pid) }, sourceLocation: sourceLocation)
        return pid
    }

    /// What the API and the kernel say agree: one namespace per pod and none without a pod,
    /// each pod's namespace holds exactly its IP on eth0, no address is used twice, and each
    /// node holds one veth per pod of the node. Finished pods (Succeeded, Failed) have no
    /// sandbox any more and count for none of it.
    func expectConsistent(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let pods = try pods().filter { pod in
            !["Succeeded", "Failed"].contains((pod["status"] as? [String: Any])?["phase"] as? String ?? "")
        }
        var ips: [String] = []
        var perNode: [String: Int] = [:]
        for pod in pods {
            let name = (pod["metadata"] as? [String: Any])?["name"] as? String ?? ""
            let ip = (pod["status"] as? [String: Any])?["podIP"] as? String ?? ""
            perNode[(pod["spec"] as? [String: Any])?["nodeName"] as? String ?? "", default: 0] += 1
            #expect(!ip.isEmpty, "pod \(name) has no IP", sourceLocation: sourceLocation)
            let addresses = try Command.ipJSON("\(self.name)_pod_default_\(name)", ["-4", "addr", "show", "dev", "eth0"])
                .flatMap { $0["addr_info"] as? [[String: Any]] ?? [] }.compactMap { $0["local"] as? String }
            #expect(addresses == [ip], "pod \(name): the kernel holds \(addresses), the API says \(ip)", sourceLocation: sourceLocation)
            ips += addresses
        }
        #expect(Set(ips).count == ips.count, "an address is used twice: \(ips.sorted())", sourceLocation: sourceLocation)
        let expected = Set(pods.compactMap { ($0["metadata"] as? [String: Any])?["name"] as? String }.map { "\(name)_pod_default_\($0)" })
        #expect(try podNamespaces() == expected, "pod namespaces differ from the pods", sourceLocation: sourceLocation)
        // The kernel removes a deleted pod's veth asynchronously, with its namespace.
        for node in ["n1", "n2"] where NetworkNamespace.exists("\(name)_node_\(node)") {
            let pods = perNode[node] ?? 0
            try await eventually("node \(node) holds one veth per pod (\(pods))", { try nodeVeths(node).count == pods }, sourceLocation: sourceLocation)
        }
    }
}
