import Foundation
import Netlink
import Netns
import NFTables
import PodNet

/// The real `PodSandboxRuntime`: namespaces, links and routes over rtnetlink on the namespace
/// worker, Service rules over nftables, processes spawned into the pods' namespaces and
/// watched with pidfds. It holds the nodes' netlink handles and bridges, made by
/// `ensureLabNetwork`, which the sandboxes and the Service rules of each node need.
final class KernelSandboxRuntime: PodSandboxRuntime {
    /// The nodes' networks as built, by node name.
    private let nodes = Locked<[String: NodeNetwork]>([:])
    /// Per node, the pod network made ahead of the next pod.
    private let spares = SparePool()
    /// Programs every node's Service rules (nftables) from the services and their slices.
    private let serviceDataplane = ServiceDataplane()
    /// Programs every node's NetworkPolicy rules.
    private let policyDataplane = PolicyDataplane()
    /// Per node, the reader of its nflog group of policy drops.
    private let policyLogReaders = Locked<[String: PolicyLogReader]>([:])

    init() {}

    private func node(_ name: String) -> NodeNetwork? { nodes.withLock { $0[name] } }

    // MARK: Lab network

    func ensureLabNetwork(_ plan: LabPlan, progress: @escaping (String) -> Void) throws -> [String: NodePlan] {
        let built = try LabNetwork.ensure(plan, progress: progress)
        nodes.withLock { $0 = built }
        return built.mapValues(\.plan)
    }

    func removeLabNetwork(_ plan: LabPlan) throws { try LabNetwork.remove(plan) }

    func removeNode(_ node: NodePlan, from plan: LabPlan) throws {
        try LabNetwork.removeNode(node, from: plan)
        _ = nodes.withLock { $0.removeValue(forKey: node.name) }
    }

    func networkNamespaces() throws -> [String] { try NetworkNamespace.list() }

    func deleteNetworkNamespace(_ name: String, namespaces: LabNamespaces) throws { try namespaces.delete(name) }

    func refillSpares(node: NodePlan, mtu: UInt32, namespaces: LabNamespaces) {
        guard let network = self.node(node.name) else { return }
        spares.refill(network, mtu: mtu, namespaces: namespaces)
    }

    func dropSpares(node: String) { spares.drop(node: node) }

    func closeSpares() { spares.close() }

    var spareMillis: [Double] { spares.madeMillis.withLock { $0 } }

    func syncServices(node: ServiceNode, services: [String: ServiceEntry], hostPorts: [HostPortEntry],
                      changed: Set<String>) async throws -> ServiceDataplane.SyncReport? {
        guard let network = self.node(node.name) else { return nil }
        return try await serviceDataplane.sync(node: node, namespace: network.namespace, services: services, hostPorts: hostPorts, changed: changed)
    }

    func forgetServices(node: String) async {
        await serviceDataplane.forget(node: node)
        await policyDataplane.forget(node: node)
        policyLogReaders.withLock { $0.removeValue(forKey: node) }?.stop()
    }

    func listenPolicyLogs(node: String, deliver: @escaping @Sendable ([NFLogPacket]) -> Void) throws {
        guard let network = self.node(node), policyLogReaders.withLock({ $0[node] == nil }) else { return }
        let reader = try PolicyLogReader(node: node, namespace: network.namespace, deliver: deliver)
        let kept = policyLogReaders.withLock { readers in
            guard readers[node] == nil else { return false }
            readers[node] = reader
            return true
        }
        if kept { reader.start() } else { reader.stop() }
    }

    func syncPolicies(node: String, ruleset: PolicyRuleset) async throws -> PolicyDataplane.SyncReport? {
        guard let network = self.node(node) else { return nil }
        return try await policyDataplane.sync(node: node, namespace: network.namespace, desired: ruleset)
    }

    func applyPolicies(node: String, delta: PolicyRuleset.Delta) async throws -> PolicyDataplane.SyncReport? {
        guard let network = self.node(node) else { return nil }
        return try await policyDataplane.apply(node: node, namespace: network.namespace, delta: delta)
    }

    // MARK: Pod sandboxes

    func buildSandbox(_ pod: Pod, lab: String, paths: LabPaths, namespaces: LabNamespaces, node: NodePlan, address: IPv4Address,
                      mtu: UInt32) throws -> (sandbox: PodSandboxPaths, finished: ContinuousClock.Instant) {
        guard let network = self.node(node.name) else { throw SandboxError(description: "node \(node.name) has no network") }
        let (sandbox, _, finished) = try PodRuntime.buildSandbox(lab: lab, namespaces: namespaces, paths: paths, pod: pod, node: network,
                                                                 address: address, mtu: mtu, spares: spares)
        return (sandbox, finished)
    }

    func buildHostNetworkSandbox(_ pod: Pod, lab: String, paths: LabPaths,
                                 namespaces: LabNamespaces) throws -> (sandbox: PodSandboxPaths, finished: ContinuousClock.Instant) {
        try PodRuntime.buildHostNetworkSandbox(lab: lab, namespaces: namespaces, paths: paths, pod: pod)
    }

    func sandboxIsAdoptable(_ sandbox: PodSandboxPaths, uid: String, address: IPv4Address, node: NodePlan, namespaces: LabNamespaces) -> Bool {
        guard let network = self.node(node.name) else { return false }
        return PodRuntime.sandboxIsComplete(sandbox, address: address, namespaces: namespaces)
            && PodRuntime.nodeSideIsComplete(sandbox, uid: uid, address: address, node: network)
    }

    func sandboxExists(_ sandbox: PodSandboxPaths) -> Bool { NetworkNamespace.exists(sandbox.netns) }

    func removeSandbox(_ sandbox: PodSandboxPaths, namespaces: LabNamespaces) throws {
        try PodRuntime.removeSandbox(sandbox, namespaces: namespaces)
    }

    func programMeshCapture(_ rules: MeshCaptureRules, sandbox: PodSandboxPaths) throws {
        guard let own = sandbox.network.ownNamespace else { return }
        try MeshCapture.apply(rules, netns: own)
    }

    func startPause(_ sandbox: PodSandboxPaths) throws -> ProcessIdentity { try PodPause.start(sandbox) }

    func pauseIsRunning(_ pause: ProcessIdentity) -> Bool { PodPause.isRunning(pause) }

    func removeNeighbor(node: String, address: IPv4Address) {
        guard let network = self.node(node) else { return }
        try? network.netlink.deleteNeighbor(Neighbor(interfaceIndex: network.bridge.index, address: address, mac: MACAddress.derived(from: address)))
    }

    func removeHostVeth(node: String, uid: String) throws {
        guard let network = self.node(node) else { return }
        do { try network.netlink.deleteLink(.name(PodRuntime.hostVethName(uid: uid))) } catch Errno.noSuchDevice {}
    }

    // MARK: Container processes

    func cgroups(lab: String) -> ContainerCgroups { ContainerCgroups(lab: lab) }

    func start(_ launch: ContainerLaunch, streams: ContainerStreams.Mode?) throws -> (process: ProcessIdentity, streams: ContainerStreams?) {
        try ContainerRuntime.start(launch, streams: streams)
    }

    func watch(_ process: ProcessIdentity, isChild: Bool, handler: @escaping ProcessWatcher.Handler) throws {
        try ProcessWatcher.shared.watch(pid: process.pid, isChild: isChild, handler: handler)
    }

    func isAlive(_ process: ProcessIdentity) -> Bool { process.isAlive }

    func stop(_ process: ProcessIdentity, grace: Duration) async { await ContainerRuntime.stop(process, grace: grace) }

    func unrecordedSessions(netns: String, mnt: String, logDirectory: String, known: Set<Int32>) -> Set<Int32> {
        ContainerRuntime.unrecordedSessions(netns: netns, mnt: mnt, logDirectory: logDirectory, known: known)
    }

    func kill(sessions: Set<Int32>) async { await ContainerRuntime.kill(sessions: sessions) }
}
