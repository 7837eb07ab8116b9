import Foundation
import Netlink
import Netns
import PodNet

/// What the agent holds for one pod beyond its API object: its sandbox (network, UTS, IPC and
/// mount namespaces) and its container processes. Owned by the `Controller` actor,
/// which is the only code that reads or changes it.
final class PodRuntime: @unchecked Sendable {
    let uid: String
    var sandbox: PodSandboxPaths
    /// Running container processes by container name.
    /// Each container's variables as its current run got them (ConfigMaps and Secrets may have
    /// changed since): what `exec` gives a command, as the runtime does.
    var environments: [String: [(name: String, value: String)]] = [:]
    var processes: [String: ProcessIdentity] = [:]
    /// With `shareProcessNamespace`: the pause process, PID 1 of the pod's pid namespace
    /// (`PodPause`); nil until it runs, and again once it ended.
    var pause: ProcessIdentity?
    /// The streams of the latest run of each container with `stdin` or `tty`, by container name.
    var streams: [String: ContainerStreams] = [:]
    /// Crashes in a row per container, for the back-off.
    var failures: [String: Int] = [:]
    /// Failed pulls in a row per container, for the image pull back-off.
    var failedPulls: [String: Int] = [:]
    /// Containers whose image a pull just brought (their next start uses it, even under
    /// `imagePullPolicy: Always`).
    var pulledImages: Set<String> = []
    /// Pending restarts and image pull retries (back-off timers) per container.
    var restartTasks: [String: Task<Void, Never>] = [:]
    /// Containers to start again at once when their process ends (image changed by an update).
    var recreate: Set<String> = []
    /// Containers being stopped because a liveness or startup probe failed.
    var probeKilled: Set<String> = []
    /// The app containers are done for good: the sidecars are being stopped, and are not
    /// restarted any more.
    var stoppingSidecars = false
    var deleting = false

    init(uid: String, sandbox: PodSandboxPaths) {
        self.uid = uid
        self.sandbox = sandbox
    }

    func cancelRestarts() {
        for task in restartTasks.values { task.cancel() }
        restartTasks.removeAll()
    }

    // MARK: Names

    /// The pod's network namespace (see `LabNamespaceNames`).
    static func netnsName(lab: String, pod: Pod) -> String {
        let namespace = pod.metadata.namespace.isEmpty ? "default" : pod.metadata.namespace
        return LabNamespaceNames.pod(lab: lab, namespace: namespace, name: pod.metadata.name)
    }

    /// The node-side veth: `veth` + 8 hex digits of the pod uid, as CNI plugins name it.
    static func hostVethName(uid: String) -> String { "veth" + String(StableHash.hex(uid).prefix(8)) }

    /// The network the pod's containers join: its own namespace, or with `hostNetwork` its node's.
    static func network(lab: String, pod: Pod) -> PodNetwork {
        pod.spec.hostNetwork ? .node(LabNamespaceNames.node(lab: lab, node: pod.spec.nodeName)) : .own(netnsName(lab: lab, pod: pod))
    }

    static func sandboxPaths(lab: String, paths: LabPaths, pod: Pod) -> PodSandboxPaths {
        PodSandboxPaths(network: network(lab: lab, pod: pod),
                        uts: "\(paths.namespaces)/\(pod.metadata.uid).uts",
                        ipc: "\(paths.namespaces)/\(pod.metadata.uid).ipc",
                        mnt: "\(paths.namespaces)/\(pod.metadata.uid).mnt",
                        directory: paths.podDirectory(uid: pod.metadata.uid))
    }

    /// The pod's hostname as the kernel holds it (see `PodHostname`): `spec.hostname`, else the
    /// pod name, cut to 63 bytes like Kubernetes; the FQDN with `setHostnameAsFQDN`.
    static func hostname(_ pod: Pod) -> String {
        PodHostname(pod: pod).kernelHostname
    }

    // MARK: Sandbox

    /// The lab is IPv4-only: where the kernel has IPv6, pod interfaces get no link-local address
    /// (no DAD, router solicitation or MLD flooded over the node bridge to every other pod).
    static let kernelHasIPv6 = access("/proc/sys/net/ipv6", F_OK) == 0

    /// Creates the pod's namespaces and wires it to its node: netns (with its rtnetlink socket
    /// opened in the same visit), UTS namespace with the pod's hostname, IPC namespace, mount
    /// namespace with the pod's files and memory volumes (`PodVolumes.setUp` wrote them), then
    /// the veth pair, /32 address, default route and permanent neighbour entries. On failure
    /// everything made so far is removed.
    ///
    /// All of it runs as one urgent job of the namespace worker: raised priority keeps the
    /// kernel work from waiting behind the containers and API requests running meanwhile.
    /// `finished` is when the job ended on the worker (the caller may resume a little later).
    /// With `spares`, the network namespace is the pool's ready spare when it has one.
    static func buildSandbox(lab: String, namespaces: LabNamespaces, paths: LabPaths, pod: Pod, node: NodeNetwork, address: IPv4Address,
                             mtu: UInt32, spares: SparePool? = nil) throws -> (sandbox: PodSandboxPaths, interface: PodInterface, finished: ContinuousClock.Instant) {
        try NamespaceWorker.shared.syncUrgent {
            let (sandbox, interface) = try buildSandboxOnWorker(lab: lab, namespaces: namespaces, paths: paths, pod: pod, node: node, address: address,
                                                                mtu: mtu, spare: spares?.take(node: node.plan.name))
            return (sandbox, interface, ContinuousClock.now)
        }
    }

    /// The sandbox of a pod with `hostNetwork`: its UTS namespace (the node's name), IPC and
    /// mount namespaces, and nothing of a network: its containers join the node's namespace,
    /// which must be the lab's (its label is checked, it is never made or changed here).
    static func buildHostNetworkSandbox(lab: String, namespaces: LabNamespaces, paths: LabPaths,
                                        pod: Pod) throws -> (sandbox: PodSandboxPaths, finished: ContinuousClock.Instant) {
        let sandbox = sandboxPaths(lab: lab, paths: paths, pod: pod)
        let found = try LabNamespaces.label(of: sandbox.netns)
        guard found == namespaces.label else { throw LabNamespaces.NotOwned(name: sandbox.netns, found: found, expected: namespaces.label) }
        return try NamespaceWorker.shared.syncUrgent {
            try NetworkNamespace.createPodWithoutNetwork(hostname: hostname(pod), utsPath: sandbox.uts, ipcPath: sandbox.ipc,
                                                         mount: PodVolumes.podMountSetup(pod, sandbox: sandbox))
            return (sandbox, ContinuousClock.now)
        }
    }

    private static func buildSandboxOnWorker(lab: String, namespaces: LabNamespaces, paths: LabPaths, pod: Pod, node: NodeNetwork,
                                             address: IPv4Address, mtu: UInt32, spare: SparePool.Spare?) throws -> (PodSandboxPaths, PodInterface) {
        let sandbox = sandboxPaths(lab: lab, paths: paths, pod: pod)
        if let error = PodHostname(pod: pod).kernelHostnameError { throw SandboxError(description: error) }
        // The network namespace is labelled as the lab's before it gets its name: a spare was
        // labelled when it was made; without one, a new namespace is made and labelled here.
        let networkNamespace = try spare?.namespace ?? namespaces.makeLabelled()
        // createPod removes what it made when it fails (and leaves alone what was there: a
        // namespace of the same name is not this pod's to delete).
        guard case let .own(name) = sandbox.network else { throw SandboxError(description: "a host-network pod has no network namespace to build") }
        let (namespace, socket) = try NetworkNamespace.createPod(name, hostname: hostname(pod), utsPath: sandbox.uts,
                                                                ipcPath: sandbox.ipc, mount: PodVolumes.podMountSetup(pod, sandbox: sandbox),
                                                                openingSocket: .route, using: networkNamespace, owner: namespaces.label)
        do {
            let podNetlink = RouteNetlink(transport: socket)
            let configuration = PodInterfaceConfiguration(hostInterfaceName: hostVethName(uid: pod.metadata.uid), address: address,
                                                          gateway: node.plan.gateway.address, mtu: mtu, podMAC: MACAddress.derived(from: address),
                                                          ipv6LinkLocal: !kernelHasIPv6)
            let interface: PodInterface
            if let link = spare?.link, link.bridgeIndex == node.bridge.index {
                interface = try node.netlink.attachPodInterface(configuration, spare: link, bridge: node.bridge, pod: podNetlink, podNamespace: namespace)
            } else {
                // A pair made for a bridge that has been replaced since: remove it (from inside
                // the pod, where its peer is), then make the pod's own.
                if let link = spare?.link { try podNetlink.deleteLink(.index(link.podIndex, name: link.podName)) }
                interface = try node.netlink.setUpPodInterface(configuration, bridge: node.bridge, pod: podNetlink, podNamespace: namespace)
            }
            return (sandbox, interface)
        } catch {
            try? removeSandbox(sandbox, namespaces: namespaces)
            throw error
        }
    }

    /// True when the pod's namespace exists, is the lab's, and its interface holds the pod's
    /// address: the sandbox survived an agent restart and can be adopted as it is.
    /// For a pod with `hostNetwork`: its UTS, IPC and mount namespaces exist and its node's
    /// namespace is the lab's.
    static func sandboxIsComplete(_ sandbox: PodSandboxPaths, address: IPv4Address, namespaces: LabNamespaces) -> Bool {
        guard NetworkNamespace.exists(sandbox.netns),
              FileManager.default.fileExists(atPath: sandbox.uts), FileManager.default.fileExists(atPath: sandbox.ipc),
              NamespaceFile.isBound(sandbox.mnt),
              let netlink = try? RouteNetlink(namespace: NetworkNamespace.open(sandbox.netns)),
              (try? netlink.link(named: "lo").alias) == namespaces.label else { return false }
        guard sandbox.network.ownNamespace != nil else { return true }
        guard let addresses = try? netlink.addresses() else { return false }
        return addresses.contains { $0.address == .v4(address) && $0.prefixLength == 32 }
    }

    /// Removes the pod's namespaces; a network namespace of its name that is not the lab's
    /// (`LabNamespaces.NotOwned`) stays, and the UTS, IPC and mount namespace files (the lab's
    /// own) go anyway. The mount namespace, with its tmpfs volumes, is freed when no process
    /// holds it any more; the pod's directory stays until the pod is deleted.
    ///
    /// A pod with `hostNetwork` has no network namespace of its own (`PodNetwork.ownNamespace`
    /// is nil): its node's is never removed here, and a name that is not a pod's namespace
    /// name is refused, whatever made it.
    static func removeSandbox(_ sandbox: PodSandboxPaths, namespaces: LabNamespaces) throws {
        // Deleting the namespace removes the veth pair with it (the kernel batches that).
        var notOwned: Error?
        if let own = sandbox.network.ownNamespace {
            guard LabNamespaceNames.isPod(own) else {
                throw SandboxError(description: "network namespace \"\(own)\" is not a pod's: podlab leaves it alone")
            }
            do { try namespaces.delete(own) } catch let error as LabNamespaces.NotOwned { notOwned = error }
        }
        try NamespaceFile.remove(at: sandbox.uts)
        try NamespaceFile.remove(at: sandbox.ipc)
        try NamespaceFile.remove(at: sandbox.mnt)
        if let notOwned { throw notOwned }
    }

    static func removeSandbox(lab: String, namespaces: LabNamespaces, paths: LabPaths, pod: Pod) throws {
        try removeSandbox(sandboxPaths(lab: lab, paths: paths, pod: pod), namespaces: namespaces)
    }
}

/// A sandbox the pod's spec does not allow, in the kubelet's words.
struct SandboxError: Error, CustomStringConvertible {
    var description: String
}
