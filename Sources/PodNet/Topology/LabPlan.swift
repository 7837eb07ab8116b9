/// Everything derived from a topology, ready to be built: names of the namespaces, each
/// node's pod CIDR, gateway and underlay address. Pure data; the agent stores it and the
/// kernel layer creates what it describes.
public struct LabPlan: Hashable, Sendable, Codable {
    /// The lab name, prefix of every namespace name.
    public var name: String
    /// Chosen at random when the lab is first planned; part of the label that marks the
    /// lab's namespaces as its own (see `LabNamespaceNames.label`).
    public var id: String
    public var routing: RoutingMode
    /// The VXLAN network identifier, for `routing: vxlan`.
    public var vxlanID: Int?
    /// All pod addresses; each node's pod CIDR lies inside it.
    public var clusterCIDR: IPv4Prefix
    public var nodeCIDRLength: Int
    /// Addresses of Services (ClusterIPs).
    public var serviceCIDR: IPv4Prefix
    /// The network of the underlay bridge that links the nodes.
    public var underlayCIDR: IPv4Prefix
    /// MTU of the underlay and node links.
    public var mtu: Int
    /// The underlay namespace, `<lab>_underlay`, holding the bridge that links the nodes.
    public var underlayNamespace: String
    /// The nodes in topology order.
    public var nodes: [NodePlan]
    /// Pods to create when the lab comes up.
    public var pods: [Pod]

    /// Bytes VXLAN adds to every packet (outer Ethernet 14, IPv4 20, UDP 8, VXLAN 8).
    public static let vxlanOverhead = 50

    /// MTU of pod interfaces: the link MTU, less the VXLAN header when encapsulating.
    public var podMTU: Int { routing == .vxlan ? mtu - LabPlan.vxlanOverhead : mtu }

    /// The node called `name`.
    public func node(named name: String) -> NodePlan? { nodes.first { $0.name == name } }

    /// The node whose pod CIDR holds `address`.
    public func node(owning address: IPv4Address) -> NodePlan? { nodes.first { $0.podCIDR.contains(address) } }

    /// The label on each of the lab's namespaces (see `LabNamespaceNames.label`).
    public var namespaceLabel: String { LabNamespaceNames.label(lab: name, id: id) }

    /// The network namespace of pod `name` in Kubernetes namespace `namespace`.
    public func podNamespace(namespace: String, name: String) -> String {
        LabNamespaceNames.pod(lab: self.name, namespace: namespace.isEmpty ? "default" : namespace, name: name)
    }
}

/// One node of a planned lab.
public struct NodePlan: Hashable, Sendable, Codable {
    /// Position in the topology, counted from 1.
    public var index: Int
    /// The node name (also its Kubernetes Node name).
    public var name: String
    /// The node's network namespace, `<lab>_node_<name>`.
    public var namespace: String
    /// Where the node's pods get their addresses (`10.244.1.0/24`).
    public var podCIDR: IPv4Prefix
    /// The first host of the pod CIDR, on the node's bridge: every pod's default gateway (`10.244.1.1/24`).
    public var gateway: IPv4Interface
    /// The node's address on the underlay: network + 10 + index (`192.168.200.11/24`).
    public var underlayAddress: IPv4Interface
    /// When the node was added to a running lab (seconds since 1970); nil for the lab's first
    /// nodes, which are as old as the lab.
    public var addedAt: Int64?
}

extension TopologySpec {
    /// A lab name must be short: namespace and interface names are built from it.
    public static let maximumNameLength = 12
    /// Node `i` has underlay address network + `underlayHostOffset` + `i`.
    public static let underlayHostOffset: UInt64 = 10
    /// The longest node CIDR prefix: a /30 still holds the gateway and one pod.
    public static let maximumNodeCIDRLength = 30
    public static let mtuRange: ClosedRange<Int64> = 576...9216
    public static let vxlanIDRange: ClosedRange<Int64> = 1...16_777_215

    /// Checks the topology and derives the lab plan; throws every problem found. `id` goes
    /// into the label on the lab's namespaces (the agent chooses one at random).
    public func plan(id: String = "") throws(TopologyError) -> LabPlan {
        var problems: [TopologyProblem] = []
        func problem(_ field: FieldPath, _ message: String) { problems.append(TopologyProblem(field: field, message: message)) }

        let name = self.name ?? TopologySpec.defaultName
        if !TopologySpec.isValidLabName(name) {
            problem("name", "invalid lab name \"\(name)\": use 1-\(TopologySpec.maximumNameLength) characters of a-z, 0-9 and '-', starting and ending with a letter or digit (namespace names are built from it)")
        }

        let routing = RoutingMode(rawValue: self.routing ?? TopologySpec.defaultRouting.rawValue)
        if routing == nil {
            problem("routing", "unsupported routing \"\(self.routing ?? "")\": use \"host-gw\" or \"vxlan\"")
        }
        var vxlanID: Int?
        if let id = self.vxlanID {
            if routing == .hostGateway {
                problem("vxlanID", "only used with routing: vxlan")
            } else if !TopologySpec.vxlanIDRange.contains(id) {
                problem("vxlanID", "\(id) is not a VXLAN network identifier (1-16777215)")
            } else {
                vxlanID = Int(id)
            }
        } else if routing == .vxlan {
            vxlanID = TopologySpec.defaultVXLANID
        }
        let mtu = self.mtu ?? Int64(TopologySpec.defaultMTU)
        if !TopologySpec.mtuRange.contains(mtu) {
            problem("mtu", "\(mtu) is outside \(TopologySpec.mtuRange.lowerBound)-\(TopologySpec.mtuRange.upperBound)")
        }

        func prefix(_ field: FieldPath, _ text: String?, default defaultText: String) -> IPv4Prefix? {
            let text = text ?? defaultText
            do { return try IPv4Prefix(parsing: text) } catch {
                problem(field, error.description)
                return nil
            }
        }
        let cluster = prefix("clusterCIDR", clusterCIDR, default: TopologySpec.defaultClusterCIDR)
        let service = prefix("serviceCIDR", serviceCIDR, default: TopologySpec.defaultServiceCIDR)
        let underlay = prefix("underlayCIDR", underlayCIDR, default: TopologySpec.defaultUnderlayCIDR)
        let named: [(String, IPv4Prefix?)] = [("clusterCIDR", cluster), ("serviceCIDR", service), ("underlayCIDR", underlay)]
        for (i, (firstName, first)) in named.enumerated() {
            for (secondName, second) in named.dropFirst(i + 1) {
                if let first, let second, first.overlaps(second) {
                    problem(FieldPath.root.child(secondName), "\(second) overlaps \(firstName) \(first)")
                }
            }
        }

        var nodeLength = Int(clamping: nodeCIDRLength ?? Int64(TopologySpec.defaultNodeCIDRLength))
        if let cluster, nodeLength <= cluster.length || nodeLength > TopologySpec.maximumNodeCIDRLength {
            problem("nodeCIDRLength", "\(nodeLength) must be longer than clusterCIDR's /\(cluster.length) and at most \(TopologySpec.maximumNodeCIDRLength)")
            nodeLength = 0
        }

        // The node list, given or generated.
        var nodes: [TopologyNode] = []
        switch (self.nodes, nodeCount) {
        case (nil, nil):
            problem("nodes", "list the nodes, or set nodeCount")
        case let (nil, count?):
            if count < 1 {
                problem("nodeCount", "\(count) is not a node count: a lab needs at least one node")
            } else if count > 1000 {
                problem("nodeCount", "\(count) nodes is more than podlab supports (1000)")
            } else {
                nodes = (1...count).map { TopologyNode(name: "n\($0)") }
            }
        case let (list?, count):
            if list.isEmpty { problem("nodes", "a lab needs at least one node") }
            if let count, count != list.count {
                problem("nodeCount", "\(count) does not match the \(list.count) nodes listed; give one or the other")
            }
            nodes = list
        }
        var seenNames: Set<String> = []
        for (index, node) in nodes.enumerated() {
            let field = FieldPath.root.child("nodes").index(index).child("name")
            if node.name.isEmpty {
                problem(field, "node name is required")
            } else if let message = KubernetesNames.dns1123LabelErrors(node.name).first {
                problem(field, "invalid node name \"\(node.name)\": \(message)")
            } else if !seenNames.insert(node.name).inserted {
                problem(field, "duplicate node name \"\(node.name)\"")
            }
        }

        let podCIDRs = planPodCIDRs(nodes, cluster: cluster, nodeLength: nodeLength, problem: problem)

        if let underlay, !nodes.isEmpty {
            let needed = TopologySpec.underlayHostOffset + UInt64(nodes.count)
            if needed > underlay.hostCount {
                problem("underlayCIDR", "\(underlay) has no room for \(nodes.count) nodes (node addresses start at host \(TopologySpec.underlayHostOffset + 1))")
            }
        }

        let nodeNames = nodes.map(\.name)
        var podKeys: Set<String> = []
        for (index, pod) in pods.enumerated() {
            let path = FieldPath.root.child("pods").index(index)
            for error in pod.validate().errors {
                problem(path.appending(error.field), error.body)
            }
            if !pod.metadata.name.isEmpty, !podKeys.insert(pod.qualifiedName).inserted {
                problem(path.child("metadata").child("name"), "duplicate pod \"\(pod.qualifiedName)\"")
            }
            if !pod.spec.nodeName.isEmpty, !nodeNames.contains(pod.spec.nodeName) {
                problem(path.child("spec").child("nodeName"), "no node \"\(pod.spec.nodeName)\" in this topology (nodes: \(nodeNames.joined(separator: ", ")))")
            }
        }

        guard problems.isEmpty, let routing, let cluster, let service, let underlay else { throw .invalid(problems) }
        var plans: [NodePlan] = []
        for (offset, node) in nodes.enumerated() {
            let index = offset + 1
            guard let podCIDR = podCIDRs[offset], let gateway = podCIDR.host(1),
                  let underlayAddress = underlay.address(at: TopologySpec.underlayHostOffset + UInt64(index)) else {
                throw .invalid([TopologyProblem(field: FieldPath.root.child("nodes").index(offset), message: "no addresses could be derived")])
            }
            plans.append(NodePlan(
                index: index, name: node.name, namespace: LabNamespaceNames.node(lab: name, node: node.name), podCIDR: podCIDR,
                gateway: IPv4Interface(gateway, validLength: podCIDR.length),
                underlayAddress: IPv4Interface(underlayAddress, validLength: underlay.length)))
        }
        return LabPlan(name: name, id: id, routing: routing, vxlanID: vxlanID, clusterCIDR: cluster, nodeCIDRLength: nodeLength,
                       serviceCIDR: service, underlayCIDR: underlay, mtu: Int(mtu), underlayNamespace: LabNamespaceNames.underlay(lab: name),
                       nodes: plans, pods: pods)
    }

    /// Pod CIDRs: given ones must lie inside the cluster CIDR and not overlap; the others take
    /// the cluster CIDR's subnets in order from index 1 (10.244.1.0/24, 10.244.2.0/24, ...),
    /// skipping any that overlap a given one. Subnet 0 stays unused.
    private func planPodCIDRs(_ nodes: [TopologyNode], cluster: IPv4Prefix?, nodeLength: Int,
                              problem: (FieldPath, String) -> Void) -> [IPv4Prefix?] {
        var result: [IPv4Prefix?] = Array(repeating: nil, count: nodes.count)
        var given: [(index: Int, prefix: IPv4Prefix)] = []
        for (index, node) in nodes.enumerated() {
            guard let text = node.podCIDR else { continue }
            let field = FieldPath.root.child("nodes").index(index).child("podCIDR")
            let prefix: IPv4Prefix
            do { prefix = try IPv4Prefix(parsing: text) } catch {
                problem(field, error.description)
                continue
            }
            if let cluster, !cluster.contains(prefix) {
                problem(field, "\(prefix) is not inside clusterCIDR \(cluster)")
            } else if prefix.length > TopologySpec.maximumNodeCIDRLength {
                problem(field, "\(prefix) is too small: a node CIDR needs room for the gateway and pods (at most /\(TopologySpec.maximumNodeCIDRLength))")
            } else if let clash = given.first(where: { $0.prefix.overlaps(prefix) }) {
                problem(field, "\(prefix) overlaps nodes[\(clash.index)].podCIDR \(clash.prefix)")
            } else {
                given.append((index, prefix))
                result[index] = prefix
            }
        }
        guard let cluster, nodeLength > 0 else { return result }
        let subnetCount = UInt64(1) << UInt64(nodeLength - cluster.length)
        var next: UInt64 = 1
        let automatic = nodes.indices.filter { nodes[$0].podCIDR == nil }
        for index in automatic {
            while next < subnetCount, let candidate = cluster.subnet(length: nodeLength, index: next), given.contains(where: { $0.prefix.overlaps(candidate) }) {
                next += 1
            }
            guard next < subnetCount, let subnet = cluster.subnet(length: nodeLength, index: next) else {
                problem("nodes", "clusterCIDR \(cluster) has room for \(subnetCount - 1) node CIDRs of /\(nodeLength) (the first, \(cluster.subnet(length: nodeLength, index: 0).map(\.description) ?? ""), is left unused); \(nodes.count) nodes need one each")
                return result
            }
            result[index] = subnet
            next += 1
        }
        return result
    }

    /// 1-12 characters of `[a-z0-9-]`, starting and ending with a letter or digit.
    public static func isValidLabName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...maximumNameLength).contains(bytes.count), KubernetesNames.isDNS1123Label(name) else { return false }
        return true
    }
}
