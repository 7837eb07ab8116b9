import Foundation
import Netns
import NFTables
import PodNet

/// Everything the controller asks of the host that needs root: the lab network (nodes'
/// namespaces, bridges, routes, spare pod networks, Service rules), pod sandboxes (namespaces
/// and interfaces), container processes (spawning, stopping, watching for their end) and the
/// cgroups that enforce limits. The controller decides; this carries the decisions out.
///
/// `KernelSandboxRuntime` is the real one. A test gives the controller one that keeps the same
/// facts in memory, so that the controller and the API run without root, and exits can be
/// injected (see Tests/PodlabAgentTests). The controller calls it a few times per pod and per
/// container start, never per packet or per probe.
protocol PodSandboxRuntime: AnyObject, Sendable {
    // MARK: Lab network

    /// Builds whatever of the lab network is missing; returns the nodes whose network is ready,
    /// by name. `progress` receives short human-readable steps.
    func ensureLabNetwork(_ plan: LabPlan, progress: @escaping (String) -> Void) throws -> [String: NodePlan]
    /// Removes the lab network (every namespace the plan names).
    func removeLabNetwork(_ plan: LabPlan) throws
    /// Removes one node's namespace and the routes other nodes have to it.
    func removeNode(_ node: NodePlan, from plan: LabPlan) throws
    /// The network namespaces that exist, by name (for the orphan sweep).
    func networkNamespaces() throws -> [String]
    /// Deletes a network namespace if it carries the lab's label (`LabNamespaces.delete`).
    func deleteNetworkNamespace(_ name: String, namespaces: LabNamespaces) throws
    /// Makes the node's next pod network ahead of time (returns at once).
    func refillSpares(node: NodePlan, mtu: UInt32, namespaces: LabNamespaces)
    /// Drops the node's spare pod network (the node goes).
    func dropSpares(node: String)
    /// Drops every spare and makes no more (the lab goes).
    func closeSpares()
    /// Milliseconds each spare pod network took to make (for the metrics).
    var spareMillis: [Double] { get }
    /// Programs a node's Service rules; nil when nothing was programmed (the node is not built).
    func syncServices(node: ServiceNode, services: [String: ServiceEntry], hostPorts: [HostPortEntry],
                      changed: Set<String>) async throws -> ServiceDataplane.SyncReport?
    /// Forgets what was programmed on a node (it was removed).
    func forgetServices(node: String) async
    /// Programs a node's NetworkPolicy rules; nil when nothing was programmed (the node is not built).
    func syncPolicies(node: String, ruleset: PolicyRuleset) async throws -> PolicyDataplane.SyncReport?
    /// Sends the elements that changed since the node's last sync or delta; nil, sending
    /// nothing, when what the node holds is unknown (the caller syncs the whole ruleset).
    func applyPolicies(node: String, delta: PolicyRuleset.Delta) async throws -> PolicyDataplane.SyncReport?
    /// Starts reading the node's nflog group of policy drops (`PolicyLog`) on a thread of its
    /// own, handing each batch of logged packets to `deliver`; nothing when it already reads it.
    func listenPolicyLogs(node: String, deliver: @escaping @Sendable ([NFLogPacket]) -> Void) throws

    // MARK: Pod sandboxes

    /// Builds a pod's namespaces and wires it to its node with `address`; `finished` is when
    /// the kernel work ended.
    func buildSandbox(_ pod: Pod, lab: String, paths: LabPaths, namespaces: LabNamespaces, node: NodePlan, address: IPv4Address,
                      mtu: UInt32) throws -> (sandbox: PodSandboxPaths, finished: ContinuousClock.Instant)
    /// The sandbox of a pod with `hostNetwork` (no network of its own).
    func buildHostNetworkSandbox(_ pod: Pod, lab: String, paths: LabPaths,
                                 namespaces: LabNamespaces) throws -> (sandbox: PodSandboxPaths, finished: ContinuousClock.Instant)
    /// True when a sandbox survived an agent restart whole, inside the pod and on its node.
    func sandboxIsAdoptable(_ sandbox: PodSandboxPaths, uid: String, address: IPv4Address, node: NodePlan, namespaces: LabNamespaces) -> Bool
    /// True when the sandbox's network namespace exists.
    func sandboxExists(_ sandbox: PodSandboxPaths) -> Bool
    /// Removes a pod's namespaces (`PodRuntime.removeSandbox`).
    func removeSandbox(_ sandbox: PodSandboxPaths, namespaces: LabNamespaces) throws
    /// Programs a meshed pod's capture (`table ip podlab-mesh`) inside its own network
    /// namespace (`MeshCapture`); a sandbox without a network of its own gets none.
    func programMeshCapture(_ rules: MeshCaptureRules, sandbox: PodSandboxPaths) throws
    /// Starts the pause process of a pod with `shareProcessNamespace` in its sandbox (`PodPause`):
    /// PID 1 of a new pid namespace, which the pod's containers then join; returns once it runs.
    func startPause(_ sandbox: PodSandboxPaths) throws -> ProcessIdentity
    /// True while the pause process runs and has not begun to exit: its pid namespace still
    /// takes new processes.
    func pauseIsRunning(_ pause: ProcessIdentity) -> Bool
    /// Removes the node's permanent neighbour entry for a pod's address.
    func removeNeighbor(node: String, address: IPv4Address)
    /// Removes the node's end of a pod's veth pair, left by a sandbox being rebuilt.
    func removeHostVeth(node: String, uid: String) throws

    // MARK: Container processes

    /// The cgroups of the lab's containers.
    func cgroups(lab: String) -> ContainerCgroups
    /// Starts a container's process in its sandbox (`ContainerRuntime.start`).
    func start(_ launch: ContainerLaunch, streams: ContainerStreams.Mode?) throws -> (process: ProcessIdentity, streams: ContainerStreams?)
    /// Calls `handler` once when the process ends, with its status when it is the agent's child.
    func watch(_ process: ProcessIdentity, isChild: Bool, handler: @escaping ProcessWatcher.Handler) throws
    /// True while the process runs.
    func isAlive(_ process: ProcessIdentity) -> Bool
    /// SIGTERM to the container's process group, SIGKILL after `grace`; returns when it is gone.
    func stop(_ process: ProcessIdentity, grace: Duration) async
    /// Container sessions in a pod that no record names (`ContainerRuntime.unrecordedSessions`).
    func unrecordedSessions(netns: String, mnt: String, logDirectory: String, known: Set<Int32>) -> Set<Int32>
    /// SIGKILL to every process of the sessions; returns when they are gone.
    func kill(sessions: Set<Int32>) async
}

extension PodSandboxRuntime {
    /// A runtime without kernel rules has no drops to read.
    func listenPolicyLogs(node: String, deliver: @escaping @Sendable ([NFLogPacket]) -> Void) throws {}
}
