/// What the scheduler needs to know about one node.
public struct SchedulingCandidate: Hashable, Sendable {
    public var name: String
    /// Pods already bound to the node.
    public var podCount: Int
    /// Free addresses left in the node's pod CIDR.
    public var freeAddresses: Int
    /// False for a cordoned node (`spec.unschedulable`): it takes no new pods unless a pod names it.
    public var schedulable: Bool
    /// The node's ports that pods already hold (`hostPort`s, and host-network pods' ports), by
    /// the pod that holds them.
    public var usedHostPorts: [HostPort: String]

    /// A candidate node (`schedulable: false` for a cordoned node).
    public init(name: String, podCount: Int, freeAddresses: Int, schedulable: Bool = true, usedHostPorts: [HostPort: String] = [:]) {
        self.name = name
        self.podCount = podCount
        self.freeAddresses = freeAddresses
        self.schedulable = schedulable
        self.usedHostPorts = usedHostPorts
    }

    /// The first of `pod`'s host ports that the node already gives to another pod.
    func takenPort(for pod: Pod) -> (port: HostPort, holder: String)? {
        for port in pod.hostPorts { if let holder = usedHostPorts[port] { return (port, holder) } }
        return nil
    }
}

/// A port of the node a pod asks for: `hostPort` with its protocol (`8080/TCP`).
public struct HostPort: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var `protocol`: PortProtocol
    public var port: Int32

    public init(protocol proto: PortProtocol, port: Int32) {
        self.protocol = proto
        self.port = port
    }

    public var description: String { "\(port)/\(self.protocol.rawValue)" }
    public static func < (a: HostPort, b: HostPort) -> Bool { (a.port, a.protocol.rawValue) < (b.port, b.protocol.rawValue) }
}

extension Pod {
    /// The node ports the pod holds while it runs, as the scheduler's NodePorts filter counts
    /// them: every container's `hostPort` (a host-network pod's are its container ports).
    public var hostPorts: [HostPort] {
        var ports: [HostPort] = []
        for container in spec.initContainers + spec.containers {
            for port in container.ports where port.hostPort != 0 || spec.hostNetwork {
                let number = port.hostPort != 0 ? port.hostPort : port.containerPort
                let entry = HostPort(protocol: port.effectiveProtocol, port: number)
                if !ports.contains(entry) { ports.append(entry) }
            }
        }
        return ports
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
            guard node.freeAddresses > 0 || pod.spec.hostNetwork else { throw .nodeFull(pod: podName, node: node.name) }
            if let (port, holder) = node.takenPort(for: pod) {
                throw .hostPortTaken(pod: podName, node: node.name, port: port.description, holder: holder)
            }
            return node.name
        }
        var best: SchedulingCandidate?
        for node in nodes where node.schedulable && (node.freeAddresses > 0 || pod.spec.hostNetwork) && node.takenPort(for: pod) == nil {
            if best.map({ node.podCount < $0.podCount }) ?? true { best = node }
        }
        guard let best else {
            throw .noNodeAvailable(pod: podName, total: nodes.count,
                                   full: nodes.filter { $0.schedulable && $0.freeAddresses <= 0 && !pod.spec.hostNetwork }.count,
                                   unschedulable: nodes.filter { !$0.schedulable }.count,
                                   portsTaken: nodes.filter { $0.schedulable && ($0.freeAddresses > 0 || pod.spec.hostNetwork) && $0.takenPort(for: pod) != nil }.count)
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
    case noNodeAvailable(pod: String, total: Int, full: Int, unschedulable: Int, portsTaken: Int = 0)
    /// `spec.nodeName` names a node where another pod holds one of the pod's host ports.
    case hostPortTaken(pod: String, node: String, port: String, holder: String)

    public var description: String {
        switch self {
        case let .unknownNode(pod, node, known):
            "pod \"\(pod)\" asks for node \"\(node)\", which is not in the lab (nodes: \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
        case let .nodeFull(pod, node):
            "pod \"\(pod)\" asks for node \"\(node)\", which has no free pod IP addresses"
        case let .hostPortTaken(pod, node, port, holder):
            "pod \"\(pod)\" asks for node \"\(node)\", where host port \(port) is taken by pod \(holder)"
        case .noNodeAvailable:
            conditionMessage
        }
    }

    /// The message for the pod's `PodScheduled=False` condition, in the scheduler's style:
    /// `0/2 nodes are available: 2 node(s) have no free pod IP addresses.`
    public var conditionMessage: String {
        switch self {
        case let .noNodeAvailable(_, total, full, unschedulable, portsTaken):
            var reasons: [String] = []
            if full > 0 { reasons.append("\(full) node(s) have no free pod IP addresses") }
            if portsTaken > 0 { reasons.append("\(portsTaken) node(s) didn't have free ports for the requested pod ports") }
            if unschedulable > 0 { reasons.append("\(unschedulable) node(s) were unschedulable") }
            if total == 0 { return "no nodes available to schedule pods" }
            return "0/\(total) nodes are available: " + reasons.joined(separator: ", ") + "."
        default:
            return description
        }
    }
}
