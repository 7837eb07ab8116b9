import PodNet

/// `kubectl describe service` and `describe namespace` text, in kubectl's layout
/// (`describeService`, `describeNamespace`).
enum ServiceDescription {
    static func service(_ service: Service, slices: [EndpointSlice]) -> String {
        let spec = service.spec
        var w = ""
        w += "Name:\t\(service.metadata.name)\n"
        w += "Namespace:\t\(service.metadata.namespace)\n"
        w += PodDescription.multiline("Labels", service.metadata.labels)
        w += PodDescription.annotations(service.metadata.annotations)
        w += "Selector:\t\(spec.selector.isEmpty ? "<none>" : ServiceTables.selector(spec.selector))\n"
        w += "Type:\t\(spec.effectiveType.rawValue)\n"
        if !spec.ipFamilyPolicy.isEmpty { w += "IP Family Policy:\t\(spec.ipFamilyPolicy)\n" }
        if !spec.ipFamilies.isEmpty { w += "IP Families:\t\(spec.ipFamilies.joined(separator: ","))\n" }
        w += "IP:\t\(spec.clusterIP)\n"
        w += "IPs:\t\(spec.clusterIPs.isEmpty ? "<none>" : spec.clusterIPs.joined(separator: ","))\n"
        for port in spec.ports {
            let name = port.name.isEmpty ? "<unset>" : port.name
            let proto = port.effectiveProtocol.rawValue
            w += "Port:\t\(name)\t\(port.port)/\(proto)\n"
            w += "TargetPort:\t\(port.targetPort?.description ?? String(port.port))/\(proto)\n"
            if port.nodePort != 0 { w += "NodePort:\t\(name)\t\(port.nodePort)/\(proto)\n" }
            w += "Endpoints:\t\(endpoints(for: port, slices: slices))\n"
        }
        w += "Session Affinity:\t\(spec.sessionAffinity?.rawValue ?? "None")\n"
        if let timeout = spec.affinityTimeoutSeconds, spec.sessionAffinity == .clientIP {
            w += "Session Affinity Timeout:\t\(timeout)s\n"
        }
        if let policy = spec.externalTrafficPolicy { w += "External Traffic Policy:\t\(policy.rawValue)\n" }
        if let policy = spec.internalTrafficPolicy { w += "Internal Traffic Policy:\t\(policy.rawValue)\n" }
        w += "Events:\t<none>\n"
        return TabWriter().format(w)
    }

    /// The ready endpoints of one service port, `ip:port` joined by commas (kubectl's
    /// `formatEndpointSlices`), cut after three with `+ N more...`.
    static func endpoints(for port: ServicePort, slices: [EndpointSlice]) -> String {
        var items: [String] = []
        var total = 0
        for slice in slices {
            guard let match = slice.ports.first(where: { $0.name == port.name && $0.protocol == port.effectiveProtocol }) else { continue }
            for endpoint in slice.endpoints where endpoint.ready {
                for address in endpoint.addresses {
                    total += 1
                    if items.count < 3 { items.append("\(address):\(match.port)") }
                }
            }
        }
        guard !items.isEmpty else { return "<none>" }
        return items.joined(separator: ",") + (total > 3 ? " + \(total - 3) more..." : "")
    }

    static func namespace(_ namespace: Namespace) -> String {
        var w = ""
        w += "Name:\t\(namespace.metadata.name)\n"
        w += PodDescription.multiline("Labels", namespace.metadata.labels)
        w += PodDescription.annotations(namespace.metadata.annotations)
        w += "Status:\t\(namespace.status.phase)\n"
        w += "\nNo resource quota.\n\nNo LimitRange resource.\n"
        return TabWriter().format(w)
    }
}
