import Glibc
import Netlink
import Netns

/// Per node, one pod network made ahead of the next pod: a network namespace
/// (`SpareNetworkNamespace`, held only by a descriptor) with a veth pair whose host end waits,
/// down, on the node's bridge. Creating the namespace and the pair is most of a pod's setup, so
/// it is done on the namespace worker between pods; the next sandbox on that node only names
/// the namespace, renames and raises the host end and configures the pod side. Each sandbox
/// that takes a spare asks for the next one: the work is the same, off the pod's path. Nothing
/// is left behind if the agent dies: closing the namespace removes the pair with it.
final class SparePool: Sendable {
    struct Spare: Sendable {
        let namespace: SpareNetworkNamespace
        /// The pair; nil when only the namespace could be made.
        let link: SparePodLink?

        func close() { namespace.close() }
    }

    private let spares = Locked<[String: Spare]>([:])
    private let making = Locked<Set<String>>([])
    private let closed = Locked(false)
    /// Milliseconds each spare took to make (for the metrics).
    let madeMillis = Locked<[Double]>([])

    /// The node's ready spare, if there is one; the caller owns it from now on.
    func take(node: String) -> Spare? {
        spares.withLock { $0.removeValue(forKey: node) }
    }

    /// Makes a spare for `node` on the namespace worker, after the jobs already queued there,
    /// unless one is ready or being made; it carries the lab's label before anything else.
    /// Returns at once.
    func refill(_ node: NodeNetwork, mtu: UInt32, namespaces: LabNamespaces) {
        let name = node.plan.name
        guard !closed.withLock({ $0 }), !spares.withLock({ $0[name] != nil }) else { return }
        guard making.withLock({ $0.insert(name).inserted }) else { return }
        Task {
            let started = ContinuousClock.now
            // Two short jobs rather than one long one: a sandbox (an urgent job) waits at most
            // for the one running.
            var made: Spare?
            if let namespace = try? await NamespaceWorker.shared.run({ try namespaces.makeLabelled() }) {
                let hostName = "vsp" + String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 16)
                let link = try? await NamespaceWorker.shared.run {
                    try node.netlink.createSparePodLink(hostName: hostName, mtu: mtu, bridge: node.bridge, in: namespace)
                }
                made = Spare(namespace: namespace, link: link)
            }
            let elapsed = ContinuousClock.now - started
            if let made {
                madeMillis.withLock { $0.append(Controller.millis(elapsed)) }
                let keep = !closed.withLock { $0 }
                let extra = spares.withLock { current -> Spare? in
                    guard keep, current[name] == nil else { return made }
                    current[name] = made
                    return nil
                }
                extra?.close()
            }
            _ = making.withLock { $0.remove(name) }
        }
    }

    /// Frees the node's spare (the node is going away).
    func drop(node: String) {
        take(node: node)?.close()
    }

    /// Frees every spare and makes no more (lab teardown).
    func close() {
        closed.withLock { $0 = true }
        for spare in spares.withLock({ current -> [Spare] in
            defer { current.removeAll() }
            return Array(current.values)
        }) { spare.close() }
    }
}
