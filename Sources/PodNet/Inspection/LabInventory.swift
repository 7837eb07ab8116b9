/// What a lab is supposed to hold, from the agent's store: the plan (CIDRs, nodes, gateways,
/// underlay addresses), the pods with their addresses and containers, and the IP
/// allocations. With the kernel's `NetworkInspection` it is all `whois` and `ipam` need.
public struct LabInventory: Hashable, Sendable {
    public var plan: LabPlan
    public var pods: [PodFacts]
    public var allocations: [IPAllocation]

    public init(plan: LabPlan, pods: [PodFacts], allocations: [IPAllocation]) {
        self.plan = plan
        self.pods = pods
        self.allocations = allocations
    }

    /// The pod holding `address`. A pod that finished (Succeeded or Failed) keeps its podIP in
    /// its status but holds the address no more (its sandbox is gone, the address is free for
    /// another pod).
    /// A pod with `hostNetwork` holds none: its address is its node's.
    public func pod(holding address: IPv4Address) -> PodFacts? {
        pods.first { $0.ip == address && !$0.hasFinished && !$0.hostNetwork }
    }

    /// The running pods with `hostNetwork` on node `node`: they use its address.
    public func hostNetworkPods(on node: String) -> [PodFacts] {
        pods.filter { $0.hostNetwork && $0.node == node && !$0.hasFinished }
    }

    /// The pod `namespace/name`.
    public func pod(namespace: String, name: String) -> PodFacts? {
        pods.first { $0.namespace == namespace && $0.name == name }
    }
}

/// One pod as the inspection commands describe it.
public struct PodFacts: Codable, Hashable, Sendable {
    public var namespace: String
    public var name: String
    public var uid: String
    /// The pod's address; nil before one is allocated.
    public var ip: IPv4Address?
    public var node: String
    /// The network namespace the pod's containers run in: its own
    /// (`<lab>_pod_<namespace>_<name>`), or its node's with `hostNetwork`.
    public var netns: String
    /// `spec.hostNetwork`: the pod has no network of its own; its address is its node's.
    public var hostNetwork: Bool
    /// Container names, in spec order.
    public var containers: [String]
    /// `Pending`, `Running`, …
    public var phase: String

    /// Succeeded or Failed: nothing runs in it again, and its sandbox was released.
    public var hasFinished: Bool { phase == PodPhase.succeeded.rawValue || phase == PodPhase.failed.rawValue }

    public init(namespace: String, name: String, uid: String, ip: IPv4Address?, node: String, netns: String,
                containers: [String], phase: String = "Running", hostNetwork: Bool = false) {
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.ip = ip
        self.node = node
        self.netns = netns
        self.containers = containers
        self.phase = phase
        self.hostNetwork = hostNetwork
    }

    /// `default/nginx`.
    public var qualifiedName: String { "\(namespace)/\(name)" }
}

/// One address handed out by the lab's IPAM.
public struct IPAllocation: Codable, Hashable, Sendable {
    public var ip: IPv4Address
    public var node: String
    /// Who holds it: a pod's uid.
    public var owner: String
    /// `namespace/name` of the pod with that uid; nil when no pod has it (yet).
    public var pod: String?

    public init(ip: IPv4Address, node: String, owner: String, pod: String? = nil) {
        self.ip = ip
        self.node = node
        self.owner = owner
        self.pod = pod
    }
}
