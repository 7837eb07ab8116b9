/// The addresses a probe of one lab may be sent to: podlab never sends traffic outside the
/// namespaces it made, so a probe's destination must be inside the lab.
///
/// Inside are the cluster CIDR (pods and node gateways), the service CIDR (handled in the node
/// namespaces), the nodes' underlay addresses, and loopback (the source pod's own `lo`).
/// Everything else — the host's networks, the internet — is refused before any socket opens.
public struct LabBoundary: Hashable, Sendable {
    public var lab: String
    public var clusterCIDR: IPv4Prefix
    public var serviceCIDR: IPv4Prefix?
    /// The nodes' addresses on the lab's underlay bridge.
    public var nodeAddresses: [IPv4Address]

    public init(lab: String, clusterCIDR: IPv4Prefix, serviceCIDR: IPv4Prefix?, nodeAddresses: [IPv4Address]) {
        self.lab = lab
        self.clusterCIDR = clusterCIDR
        self.serviceCIDR = serviceCIDR
        self.nodeAddresses = nodeAddresses
    }

    /// The boundary of a planned lab.
    public init(plan: LabPlan) {
        self.init(lab: plan.name, clusterCIDR: plan.clusterCIDR, serviceCIDR: plan.serviceCIDR,
                  nodeAddresses: plan.nodes.map(\.underlayAddress.address))
    }

    /// True when a probe from a pod may be sent to `address`.
    public func contains(_ address: IPv4Address) -> Bool {
        address.isLoopback || clusterCIDR.contains(address) || serviceCIDR?.contains(address) == true || nodeAddresses.contains(address)
    }

    /// Why `request` may not run, or nil when it stays inside the lab. A `bind` may also name
    /// the any-address (it binds in the pod; nothing is sent).
    public func refusal(for request: ProbeRequest) -> String? {
        guard let address = request.destination else { return nil }
        if request.kind == .bind, address == .any { return nil }
        guard !contains(address) else { return nil }
        return refusal(for: address)
    }

    /// The message for an address outside the lab.
    public func refusal(for address: IPv4Address) -> String {
        var allowed = ["the cluster CIDR \(clusterCIDR)"]
        if let serviceCIDR { allowed.append("the service CIDR \(serviceCIDR)") }
        if !nodeAddresses.isEmpty { allowed.append("the node addresses \(nodeAddresses.map(\.description).joined(separator: ", "))") }
        allowed.append("loopback 127.0.0.0/8")
        return "\(address) is outside lab \"\(lab)\": podlab never sends traffic outside its own namespaces "
            + "(probes may go to \(allowed.joined(separator: ", ")))"
    }
}
