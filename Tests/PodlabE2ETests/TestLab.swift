import Foundation
import KernelTestSupport
import Netns
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A lab brought up by the real `podlab` binary for one test, with a unique name and its own
/// state directory, and torn down on every path: `podlab down`, then (if anything is left)
/// the agent killed by the pid it wrote and the lab's namespaces deleted by name.
struct TestLab: Sendable {
    let name: String
    let stateRoot: String
    let podlab: String
    /// More variables for every `podlab` run (and so for the agent `up` starts).
    var extraEnvironment: [String: String] = [:]

    var environment: [String: String] {
        // Tests never pull from a registry past the loopback.
        ["PATH": Spawner.defaultPath, "PODLAB_LAB": name, "PODLAB_STATE_ROOT": stateRoot, "HOME": "/root", "PODLAB_REGISTRIES": "loopback"]
            .merging(extraEnvironment) { $1 }
    }

    /// Runs `podlab ARGS…` against this lab, its stdin reading `input` (else /dev/null).
    @discardableResult
    func run(_ arguments: [String], input: String? = nil, expectSuccess: Bool = true,
             sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
        let result = try Command.run(podlab, arguments, environment: environment, input: input)
        if expectSuccess && !result.succeeded {
            Issue.record("podlab \(arguments.joined(separator: " ")) failed (\(result.status)):\n\(result.stderr)\(result.stdout)", sourceLocation: sourceLocation)
        }
        return result
    }

    /// `podlab get pod NAME -o json`, parsed.
    func pod(_ name: String, namespace: String = "default") throws -> [String: Any] {
        let result = try run(["get", "pod", name, "-n", namespace, "-o", "json"])
        return (try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    /// Whether the pod's `Ready` condition is `True` (every container ready, sidecars included).
    func isReady(_ name: String, namespace: String = "default") throws -> Bool {
        let conditions = ((try pod(name, namespace: namespace))["status"] as? [String: Any])?["conditions"] as? [[String: Any]] ?? []
        return conditions.contains { $0["type"] as? String == "Ready" && $0["status"] as? String == "True" }
    }

    func podIP(_ name: String) throws -> String {
        ((try pod(name))["status"] as? [String: Any])?["podIP"] as? String ?? ""
    }

    func containerStatus(_ pod: String, _ container: String) throws -> [String: Any] {
        let statuses = ((try self.pod(pod))["status"] as? [String: Any])?["containerStatuses"] as? [[String: Any]] ?? []
        return statuses.first { $0["name"] as? String == container } ?? [:]
    }

    /// Polls `condition` until it holds or `timeout` passes (generous: the whole suite runs its labs in parallel on two cores).
    /// Waits until `condition` holds; on timeout records `what`, what `detail` says (what the
    /// test saw), the last error the condition threw and the lab's state.
    func eventually(_ what: String, timeout: Duration = .seconds(60), detail: (() -> String)? = nil, _ condition: () throws -> Bool,
                    sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let deadline = ContinuousClock.now + timeout
        var lastError: (any Error)?
        // The last look is taken after the deadline: tests share the cooperative threads with
        // others that block in commands, so a sleep can end long after its time, and what became
        // true meanwhile must still count.
        while true {
            let expired = ContinuousClock.now >= deadline
            do {
                if try condition() { return }
            } catch {
                lastError = error
            }
            if expired { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let seen = detail.map { "\n\($0())" } ?? ""
        let thrown = lastError.map { "\nthe condition last threw: \($0)" } ?? ""
        Issue.record("timed out waiting for: \(what)\(seen)\(thrown)\n\(diagnosis())", sourceLocation: sourceLocation)
        throw CancellationError()
    }

    /// What the lab looks like, for a test that timed out: its pods, recent events and the
    /// end of the agent's log.
    func diagnosis() -> String {
        let pods = (try? Command.run(podlab, ["get", "pods", "-A", "-o", "wide"], environment: environment))?.stdout ?? ""
        let events = (try? Command.run(podlab, ["get", "events", "-A"], environment: environment))?.stdout ?? ""
        let log = ((try? String(contentsOfFile: "\(stateRoot)/\(name)/agent.log", encoding: .utf8)) ?? "")
            .split(separator: "\n").suffix(30).joined(separator: "\n")
        return "pods:\n\(pods)events (last 20):\n\(events.split(separator: "\n").suffix(20).joined(separator: "\n"))\nagent log (last 30 lines):\n\(log)"
    }

    /// The network namespace of pod `pod` in `namespace`, spelled out here (not taken from
    /// podlab's code): `<lab>_pod_<namespace>_<pod>`.
    func podNamespace(_ pod: String, in namespace: String = "default") -> String { "\(name)_pod_\(namespace)_\(pod)" }
    /// `<lab>_node_<node>`.
    func nodeNamespace(_ node: String) -> String { "\(name)_node_\(node)" }
    /// `<lab>_underlay`.
    var underlayNamespace: String { "\(name)_underlay" }

    /// The agent's pid, the first field of `agent.pid` (the second is its start time).
    var agentPID: Int32? {
        (try? String(contentsOfFile: "\(stateRoot)/\(name)/agent.pid", encoding: .utf8))
            .flatMap { $0.split(whereSeparator: \.isWhitespace).first.flatMap { Int32($0) } }
    }

    /// The agent's start time as `agent.pid` records it (its second field).
    var agentStartTime: String? {
        (try? String(contentsOfFile: "\(stateRoot)/\(name)/agent.pid", encoding: .utf8))
            .flatMap { text in
                let fields = text.split(whereSeparator: \.isWhitespace)
                return fields.count == 2 ? String(fields[1]) : nil
            }
    }

    /// A lab that is not up yet: a unique name (or `name`) and its own state directory.
    static func make(name: String? = nil) throws -> TestLab {
        let lab = TestLab(name: name ?? KernelTest.uniqueName("e2e").prefix(9).description,
                          stateRoot: NSTemporaryDirectory() + "podlab-e2e-" + UUID().uuidString,
                          podlab: try BuiltExecutable.path("podlab"))
        try FileManager.default.createDirectory(atPath: lab.stateRoot, withIntermediateDirectories: true)
        return lab
    }

    /// Brings a lab up, runs `body`, tears it down whatever happens.
    static func with<T>(name: String? = nil, topology: String? = nil, backoff: Double? = nil, environment: [String: String] = [:],
                        _ body: (TestLab) async throws -> T) async throws -> T {
        var lab = try make(name: name)
        lab.extraEnvironment = environment
        defer { lab.tearDown() }
        var up = ["up"]
        if let topology { up.append(topology) }
        if let backoff { up += ["--restart-backoff", String(backoff)] }
        try lab.run(up)
        return try await body(lab)
    }

    /// The lab's keepers as their files say (`<state>/<lab>/keepers/<pid>`: the keeper's start
    /// time, the pid and start time of the agent it started), whether they still run or not.
    var keepers: [(pid: Int32, startTime: String, agent: Int32)] {
        let directory = "\(stateRoot)/\(name)/keepers"
        return ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).compactMap { file in
            guard let pid = Int32(file), let text = try? String(contentsOfFile: "\(directory)/\(file)", encoding: .utf8) else { return nil }
            let fields = text.split(whereSeparator: \.isWhitespace)
            guard fields.count == 3, let agent = Int32(fields[1]) else { return nil }
            return (pid, String(fields[0]), agent)
        }
    }

    func tearDown() {
        _ = try? Command.run(podlab, ["down"], environment: environment)
        // The agent `down` could not end: by pid, only while it is still the process the file names.
        if let pid = agentPID, pid > 0, processStartTime(pid) == agentStartTime {
            kill(pid, SIGKILL)
        }
        // Keepers `down` could not end (it failed): by pid, only while it is still the same process.
        for keeper in keepers where processStartTime(keeper.pid) == keeper.startTime {
            kill(keeper.pid, SIGKILL)
        }
        for namespace in (try? NetworkNamespace.list()) ?? [] where namespace.hasPrefix("\(name)_") {
            try? NetworkNamespace.delete(namespace, ignoreMissing: true)
        }
        // UTS, IPC and mount namespace files of pods the agent could not remove itself.
        let files = "\(stateRoot)/\(name)/ns"
        for file in (try? FileManager.default.contentsOfDirectory(atPath: files)) ?? [] {
            try? NamespaceFile.remove(at: "\(files)/\(file)")
        }
        removeCgroups()
        try? FileManager.default.removeItem(atPath: stateRoot)
    }

    /// The lab's cgroup subtree, if the agent left it (`/sys/fs/cgroup[/<controller>]/podlab/<lab>`):
    /// what still runs in it is the lab's and is killed, then the directories go, children first.
    func removeCgroups() {
        let roots = ["/sys/fs/cgroup", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpu"].map { "\($0)/podlab/\(name)" }
        func remove(_ directory: String) {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else { return }
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
                remove("\(directory)/\(entry)")
            }
            for _ in 0..<200 where rmdir(directory) != 0 && errno == EBUSY {
                let procs = (try? String(contentsOfFile: "\(directory)/cgroup.procs", encoding: .utf8)) ?? ""
                for pid in procs.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
                usleep(10_000)
            }
        }
        for root in roots { remove(root) }
    }
}

/// Field 22 of /proc/PID/stat (start time), nil when there is no such process.
func processStartTime(_ pid: Int32) -> String? {
    guard let fields = statFields(of: pid), fields.count > 19 else { return nil }
    return String(fields[19])
}

/// The fields of `/proc/PID/stat` after the command name (which may hold spaces and parentheses,
/// so the split starts after its last `)`): the state first (field 3 of proc(5)), then the parent.
/// Nil when the process is gone.
func statFields(of pid: Int32) -> [Substring]? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return nil }
    return stat[stat.index(after: close)...].split(separator: " ")
}

/// A pod pinned to a node, for tests that need pods in known places.
struct PinnedPod {
    struct Container {
        var name: String
        var image: String
        var command: [String] = []
    }

    var name: String
    var node: String
    var containers: [Container]

    init(_ name: String, on node: String, _ containers: [Container]) {
        self.name = name
        self.node = node
        self.containers = containers
    }

    /// One container named `container` running `image`.
    init(_ name: String, on node: String, _ container: String, image: String) {
        self.init(name, on: node, [Container(name: container, image: image)])
    }

    /// The pods as YAML documents.
    static func manifest(_ pods: [PinnedPod]) -> String {
        pods.map { pod in
            var text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \(pod.name)\nspec:\n  nodeName: \(pod.node)\n  containers:\n"
            for container in pod.containers {
                text += "  - name: \(container.name)\n    image: \(container.image)\n"
                if !container.command.isEmpty {
                    text += "    command: [" + container.command.map { "\"\($0)\"" }.joined(separator: ", ") + "]\n"
                }
            }
            return text
        }.joined(separator: "---\n")
    }
}

extension TestLab {
    /// Applies the pods and waits until every container of each runs.
    func start(_ pods: [PinnedPod]) async throws {
        let file = stateRoot + "/pods.yaml"
        try PinnedPod.manifest(pods).write(toFile: file, atomically: true, encoding: .utf8)
        try run(["apply", "-f", file])
        for pod in pods {
            try await eventually("\(pod.name) running") {
                let status = try self.pod(pod.name)["status"] as? [String: Any] ?? [:]
                let containers = status["containerStatuses"] as? [[String: Any]] ?? []
                return status["phase"] as? String == "Running" && containers.count == pod.containers.count
                    && containers.allSatisfy { ($0["state"] as? [String: Any])?["running"] != nil }
            }
        }
    }
}
