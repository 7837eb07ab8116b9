// Built for testing only: this module reaches into PodlabAgent with `@testable import`, which a
// release build (no `-enable-testing`) refuses; `swift build -c release` builds every target.
#if DEBUG
import Foundation
import Netns
@testable import PodlabAgent
import PodNet
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A `PodSandboxRuntime` that keeps in memory what the real one makes in the kernel: nodes are
/// ready as soon as the plan names them, a sandbox is a name in a set, a container is a
/// process identity that "runs" until a test ends it (`exit`) or the controller stops it. Nothing
/// needs root, nothing touches the host outside the lab's state directory.
final class FakeSandboxRuntime: PodSandboxRuntime {
    /// One container process as started by the controller.
    public struct Started: Sendable {
        public var process: ProcessIdentity
        /// The pod's namespace and name, the container and its run, read from its log path
        /// (`<logs>/<namespace>_<name>_<uid>/<container>/<restart>.log`).
        public var namespace: String
        public var pod: String
        public var container: String
        public var restart: Int
        public var argv: [String]
        public var environment: [String: String]
        public var logPath: String
        /// The pid namespace it was born in (`ContainerLaunch.pidNamespace`).
        public var pidNamespace: String?
    }

    struct State {
        var nextPID: Int32 = 1_000_000_000
        var started: [Started] = []
        var alive: Set<ProcessIdentity> = []
        var handlers: [ProcessIdentity: ProcessWatcher.Handler] = [:]
        /// How processes ended that nobody watched yet (ended between their start and the watch).
        var unreported: [ProcessIdentity: TerminationStatus] = [:]
        var sandboxes: Set<String> = []
        var sandboxFailures = 0
        var servicesSynced: [String: ServiceTable] = [:]
        var policiesSynced: [String: PolicyRuleset] = [:]
        var meshCaptures: [String: MeshCaptureRules] = [:]
        var policyDeltas: [String: [PolicyRuleset.Delta]] = [:]
        var scripts: [String: Script] = [:]
        /// The pause processes started (`startPause`), in order.
        var pauses: [ProcessIdentity] = []
    }

    /// What the containers of a pod do when they start: print `output` to their log and end
    /// with `status`, as a short command (`curl`, `echo`) does.
    public struct Script: Sendable {
        public var output: String
        public var status: TerminationStatus

        public init(output: String = "", status: TerminationStatus) {
            self.output = output
            self.status = status
        }
    }

    let state = Mutex(State())
    /// What `cgroups(lab:)` answers: cgroups looked for under a directory that has none, so
    /// limits are refused as on a host without cgroups, and nothing is written.
    let cgroupRoot: String

    public init(cgroupRoot: String) {
        self.cgroupRoot = cgroupRoot
    }

    // MARK: What a test sees and injects

    /// Every container start so far, in order.
    public var started: [Started] { state.withLock { $0.started } }

    /// The latest run of a container, if it was started.
    public func latest(_ pod: String, namespace: String = "default", container: String) -> Started? {
        started.last { $0.namespace == namespace && $0.pod == pod && $0.container == container }
    }

    /// True while the container's latest run has not ended.
    public func isRunning(_ pod: String, namespace: String = "default", container: String) -> Bool {
        guard let run = latest(pod, namespace: namespace, container: container) else { return false }
        return isAlive(run.process)
    }

    /// Ends the latest run of a container as the kernel would report it (`.exited(code)`,
    /// `.signaled(signal)`). False when it does not run.
    @discardableResult
    public func exit(_ pod: String, namespace: String = "default", container: String, _ status: TerminationStatus) -> Bool {
        guard let run = latest(pod, namespace: namespace, container: container) else { return false }
        return end(run.process, status)
    }

    /// Ends a pause process as the kernel does when a pid namespace's init dies: the pause with
    /// SIGKILL, then every process born in its namespace. False when it does not run.
    @discardableResult
    public func killPause(_ pause: ProcessIdentity) -> Bool {
        guard end(pause, .signaled(SIGKILL)) else { return false }
        let path = "/proc/\(pause.pid)/ns/pid"
        for run in started where run.pidNamespace == path { _ = end(run.process, .signaled(SIGKILL)) }
        return true
    }

    /// Appends to the log of the container's latest run, as its process would write.
    public func writeLog(_ pod: String, namespace: String = "default", container: String, _ text: String) throws {
        guard let run = latest(pod, namespace: namespace, container: container) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "\(namespace)/\(pod)/\(container)"])
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: run.logPath))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
    }

    /// The containers of pods named `pod` (in any namespace), or only its container `container`,
    /// run `script` from now on, each time they start.
    public func script(pod: String, container: String? = nil, _ script: Script) {
        state.withLock { $0.scripts[container.map { "\(pod)/\($0)" } ?? pod] = script }
    }

    /// The next `count` sandboxes fail to build.
    public func failSandboxes(_ count: Int) { state.withLock { $0.sandboxFailures = count } }

    /// True when the pod's network namespace exists.
    public func hasSandbox(netns: String) -> Bool { state.withLock { $0.sandboxes.contains(netns) } }

    /// The pods' network namespaces that exist, by name.
    public var sandboxes: Set<String> { state.withLock { $0.sandboxes } }

    /// The Service table last programmed on each node.
    public var servicesSynced: [String: ServiceTable] { state.withLock { $0.servicesSynced } }
    public var policiesSynced: [String: PolicyRuleset] { state.withLock { $0.policiesSynced } }
    /// The mesh capture programmed in each pod's network namespace, by namespace name.
    public var meshCaptures: [String: MeshCaptureRules] { state.withLock { $0.meshCaptures } }
    /// The deltas each node was sent, in order.
    public var policyDeltas: [String: [PolicyRuleset.Delta]] { state.withLock { $0.policyDeltas } }

    private func end(_ process: ProcessIdentity, _ status: TerminationStatus) -> Bool {
        let handler: ProcessWatcher.Handler?? = state.withLock { state in
            guard state.alive.remove(process) != nil else { return nil }
            guard let handler = state.handlers.removeValue(forKey: process) else {
                state.unreported[process] = status
                return .some(nil)
            }
            return .some(handler)
        }
        guard let handler else { return false }
        handler?(status)
        return true
    }

    // MARK: Lab network

    public func ensureLabNetwork(_ plan: LabPlan, progress: @escaping (String) -> Void) throws -> [String: NodePlan] {
        Dictionary(uniqueKeysWithValues: plan.nodes.map { ($0.name, $0) })
    }

    public func removeLabNetwork(_ plan: LabPlan) throws {}
    public func removeNode(_ node: NodePlan, from plan: LabPlan) throws {}
    public func networkNamespaces() throws -> [String] { state.withLock { Array($0.sandboxes) } }
    func deleteNetworkNamespace(_ name: String, namespaces: LabNamespaces) throws { _ = state.withLock { $0.sandboxes.remove(name) } }
    func refillSpares(node: NodePlan, mtu: UInt32, namespaces: LabNamespaces) {}
    public func dropSpares(node: String) {}
    public func closeSpares() {}
    public var spareMillis: [Double] { [] }

    public func syncServices(node: ServiceNode, services: [String: ServiceEntry], hostPorts: [HostPortEntry],
                             changed: Set<String>) async throws -> ServiceDataplane.SyncReport? {
        let table = ServiceTable(services.sorted { $0.key < $1.key }.map(\.value), hostPorts: hostPorts)
        state.withLock { $0.servicesSynced[node.name] = table }
        return nil
    }

    public func forgetServices(node: String) async { _ = state.withLock { $0.servicesSynced.removeValue(forKey: node) } }

    public func syncPolicies(node: String, ruleset: PolicyRuleset) async throws -> PolicyDataplane.SyncReport? {
        state.withLock { $0.policiesSynced[node] = ruleset }
        return nil
    }

    /// Applied to the ruleset last synced, as the kernel would; nil (the whole ruleset wanted)
    /// when there is none.
    public func applyPolicies(node: String, delta: PolicyRuleset.Delta) async throws -> PolicyDataplane.SyncReport? {
        state.withLock { state in
            guard let ruleset = state.policiesSynced[node] else { return nil }
            state.policiesSynced[node] = ruleset.applying(delta)
            state.policyDeltas[node, default: []].append(delta)
            return PolicyDataplane.SyncReport(node: node, rebuilt: false, addedElements: delta.added.values.reduce(0) { $0 + $1.count },
                                              deletedElements: delta.removed.values.reduce(0) { $0 + $1.count })
        }
    }

    // MARK: Pod sandboxes

    func buildSandbox(_ pod: Pod, lab: String, paths: LabPaths, namespaces: LabNamespaces, node: NodePlan, address: IPv4Address,
                      mtu: UInt32) throws -> (sandbox: PodSandboxPaths, finished: ContinuousClock.Instant) {
        let sandbox = PodRuntime.sandboxPaths(lab: lab, paths: paths, pod: pod)
        try state.withLock { state in
            if state.sandboxFailures > 0 {
                state.sandboxFailures -= 1
                throw SandboxError(description: "injected failure")
            }
            state.sandboxes.insert(sandbox.netns)
        }
        return (sandbox, .now)
    }

    func buildHostNetworkSandbox(_ pod: Pod, lab: String, paths: LabPaths,
                                 namespaces: LabNamespaces) throws -> (sandbox: PodSandboxPaths, finished: ContinuousClock.Instant) {
        (PodRuntime.sandboxPaths(lab: lab, paths: paths, pod: pod), .now)
    }

    func sandboxIsAdoptable(_ sandbox: PodSandboxPaths, uid: String, address: IPv4Address, node: NodePlan, namespaces: LabNamespaces) -> Bool {
        hasSandbox(netns: sandbox.netns)
    }

    public func sandboxExists(_ sandbox: PodSandboxPaths) -> Bool {
        sandbox.network.ownNamespace == nil || hasSandbox(netns: sandbox.netns)
    }

    func removeSandbox(_ sandbox: PodSandboxPaths, namespaces: LabNamespaces) throws {
        if let own = sandbox.network.ownNamespace {
            state.withLock {
                $0.sandboxes.remove(own)
                $0.meshCaptures[own] = nil
            }
        }
    }

    func programMeshCapture(_ rules: MeshCaptureRules, sandbox: PodSandboxPaths) throws {
        state.withLock { $0.meshCaptures[sandbox.netns] = rules }
    }

    public func removeNeighbor(node: String, address: IPv4Address) {}
    public func removeHostVeth(node: String, uid: String) throws {}

    // MARK: Container processes

    func cgroups(lab: String) -> ContainerCgroups {
        ContainerCgroups(lab: lab, mountPoint: cgroupRoot, mountTable: "\(cgroupRoot)/mountinfo")
    }

    public func start(_ launch: ContainerLaunch, streams: ContainerStreams.Mode?) throws -> (process: ProcessIdentity, streams: ContainerStreams?) {
        // `<logs>/<namespace>_<name>_<uid>/<container>/<restart>.log`: names hold no `_`.
        let parts = launch.logPath.split(separator: "/").suffix(3).map(String.init)
        let podParts = parts.first?.split(separator: "_").map(String.init) ?? []
        try FileManager.default.createDirectory(atPath: (launch.logPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: launch.logPath, contents: nil)
        let (process, script) = state.withLock { state in
            let process = ProcessIdentity(pid: state.nextPID, startTime: 1)
            state.nextPID += 1
            state.alive.insert(process)
            state.started.append(Started(process: process, namespace: podParts.first ?? "", pod: podParts.dropFirst().first ?? "",
                                         container: parts.count == 3 ? parts[1] : "",
                                         restart: Int(parts.last?.split(separator: ".").first ?? "") ?? 0,
                                         argv: launch.argv, environment: launch.environment, logPath: launch.logPath,
                                         pidNamespace: launch.pidNamespace))
            let pod = podParts.dropFirst().first ?? "", container = parts.count == 3 ? parts[1] : ""
            return (process, state.scripts["\(pod)/\(container)"] ?? state.scripts[pod])
        }
        if let script {
            if !script.output.isEmpty {
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: launch.logPath))
                try handle.write(contentsOf: Data(script.output.utf8))
                try handle.close()
            }
            // It ends on its own, once the controller has taken its start in.
            Task {
                try? await Task.sleep(for: .milliseconds(5))
                _ = self.end(process, script.status)
            }
        }
        return (process, nil)
    }

    public func watch(_ process: ProcessIdentity, isChild: Bool, handler: @escaping ProcessWatcher.Handler) throws {
        let gone: TerminationStatus?? = state.withLock { state in
            guard state.alive.contains(process) else { return .some(state.unreported.removeValue(forKey: process)) }
            state.handlers[process] = handler
            return nil
        }
        // As a pidfd of a child already gone: reported at once, with its status if it was reaped.
        if let gone { handler(gone) }
    }

    /// A pause process that runs until it is stopped or ended (`end`).
    public func startPause(_ sandbox: PodSandboxPaths) throws -> ProcessIdentity {
        state.withLock { state in
            let process = ProcessIdentity(pid: state.nextPID, startTime: 1)
            state.nextPID += 1
            state.alive.insert(process)
            state.pauses.append(process)
            return process
        }
    }

    public func pauseIsRunning(_ pause: ProcessIdentity) -> Bool { isAlive(pause) }

    /// The pause processes started, in order.
    public var pauses: [ProcessIdentity] { state.withLock { $0.pauses } }

    public func isAlive(_ process: ProcessIdentity) -> Bool { state.withLock { $0.alive.contains(process) } }

    /// The process takes SIGTERM and ends at once.
    public func stop(_ process: ProcessIdentity, grace: Duration) async { _ = end(process, .signaled(SIGTERM)) }

    public func unrecordedSessions(netns: String, mnt: String, logDirectory: String, known: Set<Int32>) -> Set<Int32> { [] }
    public func kill(sessions: Set<Int32>) async {}
}
#endif
