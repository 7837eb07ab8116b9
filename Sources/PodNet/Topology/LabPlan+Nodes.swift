/// Changing the node list of a running lab. Existing nodes keep their index, namespace, pod
/// CIDR and underlay address; only the new or removed node changes.
extension LabPlan {
    /// The plan with a new node `name`: the next index after the highest in use, the first
    /// subnet of the cluster CIDR (from index 1) that no node holds, underlay host 10 + index.
    public func addingNode(named name: String) throws(TopologyError) -> LabPlan {
        let field = FieldPath("name")
        if let message = KubernetesNames.dns1123LabelErrors(name).first {
            throw .invalid([TopologyProblem(field: field, message: "invalid node name \"\(name)\": \(message)")])
        }
        if node(named: name) != nil {
            throw .invalid([TopologyProblem(field: field, message: "node \"\(name)\" already exists")])
        }
        let index = (nodes.map(\.index).max() ?? 0) + 1
        let subnetCount = UInt64(1) << UInt64(nodeCIDRLength - clusterCIDR.length)
        var podCIDR: IPv4Prefix?
        for candidate in 1..<subnetCount {
            guard let subnet = clusterCIDR.subnet(length: nodeCIDRLength, index: candidate) else { break }
            if !nodes.contains(where: { $0.podCIDR.overlaps(subnet) }) {
                podCIDR = subnet
                break
            }
        }
        guard let podCIDR, let gateway = podCIDR.host(1) else {
            throw .invalid([TopologyProblem(field: "clusterCIDR", message: "\(clusterCIDR) has no free /\(nodeCIDRLength) for another node")])
        }
        guard TopologySpec.underlayHostOffset + UInt64(index) <= underlayCIDR.hostCount,
              let underlay = underlayCIDR.address(at: TopologySpec.underlayHostOffset + UInt64(index)) else {
            throw .invalid([TopologyProblem(field: "underlayCIDR", message: "\(underlayCIDR) has no room for node number \(index)")])
        }
        var plan = self
        plan.nodes.append(NodePlan(index: index, name: name, namespace: LabNamespaceNames.node(lab: self.name, node: name), podCIDR: podCIDR,
                                   gateway: IPv4Interface(gateway, validLength: podCIDR.length),
                                   underlayAddress: IPv4Interface(underlay, validLength: underlayCIDR.length)))
        return plan
    }

    /// The plan without node `name`; a lab keeps at least one node.
    public func removingNode(named name: String) throws(TopologyError) -> LabPlan {
        guard node(named: name) != nil else {
            throw .invalid([TopologyProblem(field: "name", message: "no node \"\(name)\" in this lab (nodes: \(nodes.map(\.name).joined(separator: ", ")))")])
        }
        guard nodes.count > 1 else {
            throw .invalid([TopologyProblem(field: "name", message: "node \"\(name)\" is the lab's last node; use podlab down to remove the lab")])
        }
        var plan = self
        plan.nodes.removeAll { $0.name == name }
        return plan
    }
}
