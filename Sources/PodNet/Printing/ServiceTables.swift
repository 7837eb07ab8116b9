/// kubectl's tables for services, namespaces, endpoints and endpoint slices.
public enum ServiceTables {
    /// `NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE`, plus `SELECTOR` when wide.
    public static func services(_ services: [Service], wide: Bool = false, now: Timestamp) -> TextTable {
        let headers = ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"] + (wide ? ["SELECTOR"] : [])
        return TextTable(headers: headers, rows: services.map { service in
            let spec = service.spec
            let clusterIP = spec.clusterIP.isEmpty ? "<none>" : spec.clusterIP
            let externalIPs = (spec.preservedFields["externalIPs"]?.arrayValue ?? []).compactMap(\.stringValue)
            let row = [service.metadata.name, spec.effectiveType.rawValue, clusterIP,
                       externalIPs.isEmpty ? "<none>" : externalIPs.joined(separator: ","),
                       ports(spec.ports), HumanDuration.since(service.metadata.creationTimestamp, now: now)]
            return row + (wide ? [selector(spec.selector)] : [])
        })
    }

    /// `80/TCP,53:30053/UDP` (the node port after a colon), or `<none>`.
    public static func ports(_ ports: [ServicePort]) -> String {
        guard !ports.isEmpty else { return "<none>" }
        return ports.map { port in
            (port.nodePort != 0 ? "\(port.port):\(port.nodePort)" : "\(port.port)") + "/\(port.effectiveProtocol.rawValue)"
        }.joined(separator: ",")
    }

    /// `app=web,tier=front` (sorted), or `<none>`.
    public static func selector(_ selector: [String: String]) -> String {
        selector.isEmpty ? "<none>" : selector.keys.sorted().map { "\($0)=\(selector[$0]!)" }.joined(separator: ",")
    }

    /// `NAME STATUS AGE`.
    public static func namespaces(_ namespaces: [Namespace], now: Timestamp) -> TextTable {
        TextTable(headers: ["NAME", "STATUS", "AGE"], rows: namespaces.map {
            [$0.metadata.name, $0.status.phase, HumanDuration.since($0.metadata.creationTimestamp, now: now)]
        })
    }

    /// `NAME ENDPOINTS AGE`: ready addresses with their ports, three at most (`+ N more...`).
    public static func endpoints(_ endpoints: [Endpoints], now: Timestamp) -> TextTable {
        TextTable(headers: ["NAME", "ENDPOINTS", "AGE"], rows: endpoints.map {
            [$0.metadata.name, endpointList($0.subsets), HumanDuration.since($0.metadata.creationTimestamp, now: now)]
        })
    }

    /// kubectl's `formatEndpoints`: `ip:port` for every ready address and port, cut at three.
    public static func endpointList(_ subsets: [EndpointSubset]) -> String {
        var items: [String] = []
        var total = 0
        for subset in subsets {
            for address in subset.addresses {
                let ports = subset.ports.isEmpty ? [nil] : subset.ports.map(Optional.some)
                for port in ports {
                    total += 1
                    if items.count < 3 { items.append(port.map { "\(address.ip):\($0.port)" } ?? address.ip) }
                }
            }
        }
        guard !items.isEmpty else { return "<none>" }
        return items.joined(separator: ",") + (total > 3 ? " + \(total - 3) more..." : "")
    }

    /// `NAME ADDRESSTYPE PORTS ENDPOINTS AGE`.
    public static func endpointSlices(_ slices: [EndpointSlice], now: Timestamp) -> TextTable {
        TextTable(headers: ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"], rows: slices.map { slice in
            let ports = slice.ports.isEmpty ? "<unset>" : slice.ports.map { String($0.port) }.joined(separator: ",")
            let addresses = slice.endpoints.flatMap(\.addresses)
            let shown = addresses.isEmpty ? "<unset>" : addresses.prefix(3).joined(separator: ",") + (addresses.count > 3 ? " + \(addresses.count - 3) more..." : "")
            return [slice.metadata.name, slice.addressType, ports, shown, HumanDuration.since(slice.metadata.creationTimestamp, now: now)]
        })
    }
}
