/// The lab's address management at a glance (`podlab ipam`): the cluster, service and underlay
/// ranges, each node's pod CIDR with its allocated and free addresses, and every allocation.
public struct IPAMReport: Codable, Hashable, Sendable {
    public var clusterCIDR: IPv4Prefix
    public var serviceCIDR: IPv4Prefix
    public var underlayCIDR: IPv4Prefix
    public var nodes: [NodeIPAM]
    /// Every allocation, by address.
    public var allocations: [IPAllocation]
    /// Services holding a ClusterIP (the lab has none yet).
    public var services: Int

    /// One node's pod CIDR.
    public struct NodeIPAM: Codable, Hashable, Sendable {
        public var name: String
        public var podCIDR: IPv4Prefix
        public var gateway: IPv4Address
        /// Addresses pods can get: the CIDR's hosts without the gateway.
        public var capacity: Int
        public var allocated: Int
        public var free: Int

        public init(name: String, podCIDR: IPv4Prefix, gateway: IPv4Address, capacity: Int, allocated: Int, free: Int) {
            self.name = name
            self.podCIDR = podCIDR
            self.gateway = gateway
            self.capacity = capacity
            self.allocated = allocated
            self.free = free
        }
    }

    public init(clusterCIDR: IPv4Prefix, serviceCIDR: IPv4Prefix, underlayCIDR: IPv4Prefix, nodes: [NodeIPAM],
                allocations: [IPAllocation], services: Int = 0) {
        self.clusterCIDR = clusterCIDR
        self.serviceCIDR = serviceCIDR
        self.underlayCIDR = underlayCIDR
        self.nodes = nodes
        self.allocations = allocations
        self.services = services
    }

    /// The report for `inventory`: capacities as `PodIPAllocator` counts them, allocations
    /// sorted by address and named by the pod that holds them.
    public init(_ inventory: LabInventory) {
        let podsByUID = Dictionary(inventory.pods.map { ($0.uid, $0.qualifiedName) }) { first, _ in first }
        let allocations = inventory.allocations.map { allocation in
            var named = allocation
            named.pod = allocation.pod ?? podsByUID[allocation.owner]
            return named
        }.sorted { $0.ip < $1.ip }
        let nodes = inventory.plan.nodes.map { node in
            let capacity = PodIPAllocator(node: node.name, podCIDR: node.podCIDR).capacity
            let allocated = allocations.filter { $0.node == node.name }.count
            return NodeIPAM(name: node.name, podCIDR: node.podCIDR, gateway: node.gateway.address, capacity: capacity,
                            allocated: allocated, free: max(0, capacity - allocated))
        }
        self.init(clusterCIDR: inventory.plan.clusterCIDR, serviceCIDR: inventory.plan.serviceCIDR,
                  underlayCIDR: inventory.plan.underlayCIDR, nodes: nodes, allocations: allocations)
    }

    /// Pod addresses of all nodes together.
    public var capacity: Int { nodes.reduce(0) { $0 + $1.capacity } }
    public var allocated: Int { nodes.reduce(0) { $0 + $1.allocated } }
    public var free: Int { nodes.reduce(0) { $0 + $1.free } }
}
