/// What the reachability model starts from: the lab's address plan and its pods as the agent
/// reports them.
public struct LabSnapshot: Hashable, Sendable {
    /// One node: where its pods' traffic enters the node.
    public struct Node: Hashable, Sendable {
        public var name: String
        /// The address on the node's pod bridge, every pod's default gateway.
        public var gateway: IPv4Address
        public var podCIDR: IPv4Prefix?
        /// The node's address on the underlay.
        public var underlayAddress: IPv4Address?

        public init(name: String, gateway: IPv4Address, podCIDR: IPv4Prefix? = nil, underlayAddress: IPv4Address? = nil) {
            self.name = name
            self.gateway = gateway
            self.podCIDR = podCIDR
            self.underlayAddress = underlayAddress
        }
    }

    public var lab: String
    public var clusterCIDR: IPv4Prefix
    public var serviceCIDR: IPv4Prefix?
    public var nodes: [Node]
    public var pods: [Pod]
    /// The lab's Services and the EndpointSlices the agent keeps for them.
    public var services: [Service]
    public var endpointSlices: [EndpointSlice]
    /// The lab's NetworkPolicies and the namespaces' labels they select by (`PolicyExpectations`).
    public var networkPolicies: [NetworkPolicy] = []
    public var namespaceLabels: [String: [String: String]] = [:]

    public init(lab: String, clusterCIDR: IPv4Prefix, serviceCIDR: IPv4Prefix? = nil, nodes: [Node], pods: [Pod],
                services: [Service] = [], endpointSlices: [EndpointSlice] = []) {
        self.lab = lab
        self.clusterCIDR = clusterCIDR
        self.serviceCIDR = serviceCIDR
        self.nodes = nodes
        self.pods = pods
        self.services = services
        self.endpointSlices = endpointSlices
    }

    /// The snapshot of a planned lab with `pods` (and `services` with their `endpointSlices`).
    public init(plan: LabPlan, pods: [Pod], services: [Service] = [], endpointSlices: [EndpointSlice] = []) {
        self.init(lab: plan.name, clusterCIDR: plan.clusterCIDR, serviceCIDR: plan.serviceCIDR,
                  nodes: plan.nodes.map { Node(name: $0.name, gateway: $0.gateway.address, podCIDR: $0.podCIDR,
                                               underlayAddress: $0.underlayAddress.address) },
                  pods: pods, services: services, endpointSlices: endpointSlices)
    }

    /// The lab's boundary for probes.
    public var boundary: LabBoundary {
        LabBoundary(lab: lab, clusterCIDR: clusterCIDR, serviceCIDR: serviceCIDR, nodeAddresses: nodes.compactMap(\.underlayAddress))
    }

    /// Pods that take part in checks: running, not being deleted, with an address of their
    /// own, sorted by namespace and name. A pod with `hostNetwork` has none (it uses its node's,
    /// with the node's other host-network pods): the claims of the pod network model — one
    /// address per pod, the pod's own answer on it, its own closed ports — do not hold for it,
    /// so it is neither a source nor a target (`hostNetworkPods`).
    public var activePods: [PodEndpoint] {
        pods.compactMap { pod -> PodEndpoint? in
            guard pod.status.phase == .running, pod.metadata.deletionTimestamp == nil, !pod.spec.hostNetwork,
                  let address = IPv4Address(pod.status.podIP) else { return nil }
            let node = nodes.first { $0.name == pod.spec.nodeName } ?? nodes.first { $0.podCIDR?.contains(address) == true }
            return PodEndpoint(pod: pod, address: address, node: node)
        }.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
    }
}

/// A running pod as a probe source or target.
public struct PodEndpoint: Hashable, Sendable {
    public var pod: Pod
    public var address: IPv4Address
    /// Its node, when the snapshot knows it.
    public var node: LabSnapshot.Node?

    public init(pod: Pod, address: IPv4Address, node: LabSnapshot.Node?) {
        self.pod = pod
        self.address = address
        self.node = node
    }

    public var namespace: String { pod.metadata.namespace.isEmpty ? "default" : pod.metadata.namespace }
    public var name: String { pod.metadata.name }
    /// `namespace/name`: how probes name their source.
    public var key: String { "\(namespace)/\(name)" }
    /// The name for tables: `name` in `default`, `namespace/name` elsewhere.
    public var label: String { namespace == "default" ? name : key }

    /// The pod's hostname as its containers see it: `spec.hostname`, else the name, cut to 63
    /// bytes without a trailing `-` or `.` (what the agent sets in the pod's UTS namespace).
    public var hostname: String {
        let name = pod.spec.hostname.isEmpty ? pod.metadata.name : pod.spec.hostname
        var cut = String(name.prefix(63))
        while cut.hasSuffix("-") || cut.hasSuffix(".") { cut.removeLast() }
        return cut
    }

    /// What listens in the pod.
    public var listeners: PodListeners { ListenerModel.listeners(of: pod) }
}
