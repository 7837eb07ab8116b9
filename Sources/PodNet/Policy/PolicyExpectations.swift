/// `podlab test`'s expectations with the lab's NetworkPolicies: a probe whose connection the
/// policies drop is expected to time out (the rules drop, they do not reject), with the policy
/// that decides it as the reason. A probe through a Service is judged by the endpoints it may
/// reach: all dropped, a time-out; some, either.
public enum PolicyExpectations {
    /// The lab of `snapshot` as the policy semantics see it.
    public static func world(of snapshot: LabSnapshot) -> PolicyWorld {
        var nodeAddresses: [String: [IPv4Address]] = [:]
        for node in snapshot.nodes { nodeAddresses[node.name] = [node.gateway] + (node.underlayAddress.map { [$0] } ?? []) }
        return PolicyWorld(pods: snapshot.activePods.compactMap { PolicyPod($0.pod) }, namespaceLabels: snapshot.namespaceLabels,
                           policies: snapshot.networkPolicies, nodeAddresses: nodeAddresses)
    }

    public static func apply(to checks: [ConnectivityCheck], snapshot: LabSnapshot) -> [ConnectivityCheck] {
        guard !snapshot.networkPolicies.isEmpty else { return checks }
        let world = world(of: snapshot)
        let sources = Dictionary(snapshot.activePods.map { ($0.key, $0.address) }) { a, _ in a }
        return checks.map { check in
            guard let probe = check.probe, let from = probe.fromPod, let source = sources[from], let destination = IPv4Address(probe.to) else { return check }
            let proto: PortProtocol?
            switch probe.kind {
            case .tcp, .http: proto = .tcp
            case .udp, .dns: proto = .udp
            case .icmp: proto = nil
            case .bind, .route: return check
            }
            let port = UInt16(clamping: probe.kind == .dns ? 53 : probe.port ?? 0)
            let targets = serviceTargets(snapshot, address: destination, proto: proto, port: port) ?? [(destination, port)]
            let verdicts = targets.map { PolicyModel.verdict(in: world, from: source, to: $0.address, proto: proto, port: $0.port) }
            guard let denied = verdicts.first(where: { !$0.isAllowed }) else { return check }
            var changed = check
            if verdicts.allSatisfy({ !$0.isAllowed }) {
                changed.expected = .timeout
                changed.tolerated = []
                changed.expectedSource = nil
                changed.answerers = nil
                changed.reason = "NetworkPolicy: \(denied)"
            } else {
                changed.tolerated.insert(.timeout)
                changed.reason += "; NetworkPolicy drops it to some endpoints: \(denied)"
            }
            return changed
        }
    }

    /// The endpoints (address and target port) behind a Service address and port; nil when the
    /// address is no Service's.
    static func serviceTargets(_ snapshot: LabSnapshot, address: IPv4Address, proto: PortProtocol?, port: UInt16) -> [(address: IPv4Address, port: UInt16)]? {
        guard let service = snapshot.services.first(where: { $0.spec.clusterIP == address.description }) else { return nil }
        guard let servicePort = service.spec.ports.first(where: { $0.port == Int32(port) && (proto == nil || $0.effectiveProtocol == proto) }) else { return [] }
        var targets: [(IPv4Address, UInt16)] = []
        for slice in snapshot.endpointSlices where slice.metadata.namespace == service.metadata.namespace && slice.serviceName == service.metadata.name {
            guard let match = slice.ports.first(where: { $0.name == servicePort.name }), let target = UInt16(exactly: match.port) else { continue }
            for endpoint in slice.endpoints where endpoint.ready {
                targets += endpoint.addresses.compactMap { IPv4Address($0) }.map { ($0, target) }
            }
        }
        return targets
    }
}
