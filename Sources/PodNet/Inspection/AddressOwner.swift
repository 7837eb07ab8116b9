/// Who owns an address in a lab, and why (`podlab whois IP`).
public struct AddressOwner: Codable, Hashable, Sendable, CustomStringConvertible {
    /// The kinds of answer, from most to least specific.
    public enum Kind: String, Codable, Hashable, Sendable, CaseIterable {
        /// A pod's address.
        case pod
        /// A node's address on its pod bridge: the default gateway of its pods.
        case gateway
        /// A node's address on the underlay.
        case nodeUnderlay = "node-underlay"
        /// 127.0.0.0/8: every namespace has its own.
        case loopback
        /// Held by an interface of the lab that the plan does not name.
        case interface
        /// The network or broadcast address of a node's pod CIDR or of the underlay.
        case reserved
        /// Allocated by IPAM to an owner that no pod is (yet).
        case allocated
        /// In the cluster CIDR, free.
        case unallocated
        /// In the service CIDR.
        case service
        /// In the underlay network, held by nothing.
        case underlay
        /// Not in any range of the lab.
        case outside
    }

    public var kind: Kind
    /// `namespace/name` of the pod.
    public var pod: String?
    /// The node concerned.
    public var node: String?
    /// The network namespace that holds the address.
    public var namespace: String?
    /// The interface that holds the address.
    public var interface: String?
    /// The pod's containers.
    public var containers: [String]?
    /// The range concerned (a node's pod CIDR, the service CIDR, …).
    public var range: IPv4Prefix?
    /// More words: why an address is reserved, who holds an allocation, what holds an interface.
    public var detail: String?

    public init(kind: Kind, pod: String? = nil, node: String? = nil, namespace: String? = nil, interface: String? = nil,
                containers: [String]? = nil, range: IPv4Prefix? = nil, detail: String? = nil) {
        self.kind = kind
        self.pod = pod
        self.node = node
        self.namespace = namespace
        self.interface = interface
        self.containers = containers
        self.range = range
        self.detail = detail
    }

    /// The answer in words: `pod default/nginx (node n1, containers: nginx)`.
    public var description: String {
        let node = self.node ?? "?"
        switch kind {
        case .pod:
            return "pod \(pod ?? "?") (node \(node), containers: \((containers ?? []).joined(separator: ", ")))"
        case .gateway:
            return "gateway of node \(node) (\(interface ?? "cni0"))"
        case .nodeUnderlay:
            return "node \(node) underlay address (\(interface ?? "eth0") in \(namespace ?? "?"))" + (detail.map { "; \($0)" } ?? "")
        case .loopback:
            return "loopback: every pod and node has its own on lo"
        case .interface:
            return "address of \(interface ?? "?") in \(detail.map { "\($0) (\(namespace ?? "?"))" } ?? namespace ?? "?")"
        case .reserved:
            return "\(detail ?? "reserved") of \(range.map { "\($0)" } ?? "?")" + (self.node.map { " (pod CIDR of node \($0))" } ?? " (the underlay)")
        case .allocated:
            return "allocated on node \(node) to \(detail ?? "?"), but no pod holds it"
        case .unallocated:
            return "inside the cluster CIDR but not allocated" + (self.node.map { " (pod CIDR \(range.map { "\($0)" } ?? "?") of node \($0))" } ?? " (in no node's pod CIDR)")
        case .service:
            return detail.map { "ClusterIP of service \($0)" } ?? "in the service CIDR \(range.map { "\($0)" } ?? "?"), but no service holds it"
        case .underlay:
            return "in the underlay network \(range.map { "\($0)" } ?? "?"), but no node holds it"
        case .outside:
            return "not in the lab: podlab never sends traffic outside its namespaces"
        }
    }

    /// True when the address belongs to the lab in some way.
    public var isInLab: Bool { kind != .outside }
}

extension AddressOwner {
    /// The owner of `address` from what the store says (`inventory`) and what the kernel holds
    /// (`network`), most specific first: a pod, a node's gateway or underlay address,
    /// loopback, any interface of the lab holding it, then the ranges (reserved, allocated,
    /// free pod addresses; the service CIDR; the underlay), else outside the lab.
    public static func find(_ address: IPAddress, inventory: LabInventory, network: NetworkInspection) -> AddressOwner {
        let plan = inventory.plan
        if case let .v4(v4) = address {
            if let pod = inventory.pod(holding: v4) {
                return AddressOwner(kind: .pod, pod: pod.qualifiedName, node: pod.node, namespace: pod.netns,
                                    interface: network.namespaces.first { $0.namespace == pod.netns }?.holder(of: address)?.ifname ?? "eth0",
                                    containers: pod.containers)
            }
            for node in plan.nodes {
                if node.gateway.address == v4 {
                    return AddressOwner(kind: .gateway, node: node.name, namespace: node.namespace,
                                        interface: interfaceName(address, in: node.namespace, network) ?? "cni0", range: node.podCIDR)
                }
                if node.underlayAddress.address == v4 {
                    let sharing = inventory.hostNetworkPods(on: node.name).map(\.qualifiedName)
                    return AddressOwner(kind: .nodeUnderlay, node: node.name, namespace: node.namespace,
                                        interface: interfaceName(address, in: node.namespace, network) ?? "eth0", range: plan.underlayCIDR,
                                        detail: sharing.isEmpty ? nil : "the address of its host-network pods: \(sharing.joined(separator: ", "))")
                }
            }
            if v4.isLoopback { return AddressOwner(kind: .loopback, interface: "lo") }
        } else if address == IPAddress("::1") {
            return AddressOwner(kind: .loopback, interface: "lo")
        }
        for namespace in network.namespaces {
            if let holder = namespace.holder(of: address) {
                return AddressOwner(kind: .interface, pod: namespace.pod, node: namespace.node, namespace: namespace.namespace,
                                    interface: holder.ifname, detail: namespace.title)
            }
        }
        guard case let .v4(v4) = address else { return AddressOwner(kind: .outside) }
        if plan.clusterCIDR.contains(v4) {
            guard let node = plan.node(owning: v4) else { return AddressOwner(kind: .unallocated, range: plan.clusterCIDR) }
            let allocator = PodIPAllocator(node: node.name, podCIDR: node.podCIDR)
            if let reason = allocator.reservation(of: v4) {
                return AddressOwner(kind: .reserved, node: node.name, range: node.podCIDR, detail: reason.replacingPrefix("the ", with: ""))
            }
            if let allocation = inventory.allocations.first(where: { $0.ip == v4 }) {
                return AddressOwner(kind: .allocated, node: allocation.node, range: node.podCIDR, detail: allocation.owner)
            }
            return AddressOwner(kind: .unallocated, node: node.name, range: node.podCIDR)
        }
        if plan.serviceCIDR.contains(v4) { return AddressOwner(kind: .service, range: plan.serviceCIDR) }
        if plan.underlayCIDR.contains(v4) {
            if v4 == plan.underlayCIDR.network {
                return AddressOwner(kind: .reserved, range: plan.underlayCIDR, detail: "network address")
            }
            if v4 == plan.underlayCIDR.lastAddress {
                return AddressOwner(kind: .reserved, range: plan.underlayCIDR, detail: "broadcast address")
            }
            return AddressOwner(kind: .underlay, range: plan.underlayCIDR)
        }
        return AddressOwner(kind: .outside)
    }

    private static func interfaceName(_ address: IPAddress, in namespace: String, _ network: NetworkInspection) -> String? {
        network.namespaces.first { $0.namespace == namespace }?.holder(of: address)?.ifname
    }
}

extension String {
    /// The string without `prefix` at its start, if it starts with it.
    fileprivate func replacingPrefix(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }
}

/// The answer to `whois ADDRESS [--from POD]`.
public struct WhoisAnswer: Codable, Hashable, Sendable {
    public var lab: String
    /// The address asked about.
    public var address: IPAddress
    public var owner: AddressOwner
    /// The owner in words (`owner.description`).
    public var summary: String
    /// The way from the pod given with `from`.
    public var path: PacketPath?
    /// For a service's address with `from`: how the source node's Service rules treat a
    /// packet to each of its ports (`ServiceTrace`, in words).
    public var serviceTraces: [String]?

    public init(lab: String, address: IPAddress, owner: AddressOwner, path: PacketPath? = nil, serviceTraces: [String]? = nil) {
        self.lab = lab
        self.address = address
        self.owner = owner
        self.summary = owner.description
        self.path = path
        self.serviceTraces = serviceTraces
    }
}
