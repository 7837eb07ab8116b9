/// What the scheduler needs to know about one node.
public struct SchedulingCandidate: Hashable, Sendable {
    public var name: String
    /// Pods already bound to the node.
    public var podCount: Int
    /// Free addresses left in the node's pod CIDR.
    public var freeAddresses: Int
    /// False for a cordoned node (`spec.unschedulable`): it takes no new pods unless a pod names it.
    public var schedulable: Bool

    /// A candidate node (`schedulable: false` for a cordoned node).
    public init(name: String, podCount: Int, freeAddresses: Int, schedulable: Bool = true) {
        self.name = name
        self.podCount = podCount
        self.freeAddresses = freeAddresses
        self.schedulable = schedulable
    }
}

/// Picks a node for a pod: the node the pod names in `spec.nodeName`, otherwise the node with
/// the fewest pods (ties go to the earlier node), skipping nodes without free pod addresses
/// and cordoned nodes.
public enum Scheduler {
    /// The node `pod` should run on.
    /// - Throws: `SchedulingError` naming the pod and, for `spec.nodeName`, the node.
    public static func selectNode(for pod: Pod, among nodes: [SchedulingCandidate]) throws(SchedulingError) -> String {
        let podName = pod.qualifiedName
        if !pod.spec.nodeName.isEmpty {
            guard let node = nodes.first(where: { $0.name == pod.spec.nodeName }) else {
                throw .unknownNode(pod: podName, node: pod.spec.nodeName, known: nodes.map(\.name))
            }
            guard node.freeAddresses > 0 else { throw .nodeFull(pod: podName, node: node.name) }
            return node.name
        }
        var best: SchedulingCandidate?
        for node in nodes where node.schedulable && node.freeAddresses > 0 {
            if best.map({ node.podCount < $0.podCount }) ?? true { best = node }
        }
        guard let best else {
            throw .noNodeAvailable(pod: podName, total: nodes.count,
                                   full: nodes.filter { $0.schedulable && $0.freeAddresses <= 0 }.count,
                                   unschedulable: nodes.filter { !$0.schedulable }.count)
        }
        return best.name
    }
}

/// Why a pod could not be placed.
public enum SchedulingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `spec.nodeName` names a node the lab does not have.
    case unknownNode(pod: String, node: String, known: [String])
    /// `spec.nodeName` names a node whose pod CIDR is exhausted.
    case nodeFull(pod: String, node: String)
    /// No node can take the pod.
    case noNodeAvailable(pod: String, total: Int, full: Int, unschedulable: Int)

    public var description: String {
        switch self {
        case let .unknownNode(pod, node, known):
            "pod \"\(pod)\" asks for node \"\(node)\", which is not in the lab (nodes: \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
        case let .nodeFull(pod, node):
            "pod \"\(pod)\" asks for node \"\(node)\", which has no free pod IP addresses"
        case .noNodeAvailable:
            conditionMessage
        }
    }

    /// The message for the pod's `PodScheduled=False` condition, in the scheduler's style:
    /// `0/2 nodes are available: 2 node(s) have no free pod IP addresses.`
    public var conditionMessage: String {
        switch self {
        case let .noNodeAvailable(_, total, full, unschedulable):
            var reasons: [String] = []
            if full > 0 { reasons.append("\(full) node(s) have no free pod IP addresses") }
            if unschedulable > 0 { reasons.append("\(unschedulable) node(s) were unschedulable") }
            if total == 0 { return "no nodes available to schedule pods" }
            return "0/\(total) nodes are available: " + reasons.joined(separator: ", ") + "."
        default:
            return description
        }
    }
}
