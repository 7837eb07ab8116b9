/// Proves "the host does not reach the pods" from the host's routing table, without sending a
/// packet from the host: the kernel sends a packet only where a route leads.
///
/// A lab never has an interface in the root namespace, so the host reaches a pod only if one
/// of its routes for the pod's address (in any table, the default route included) leaves
/// through a lab interface. Normally no route of the host covers the lab's ranges at all and
/// the default route leaves through the host's own uplink; both facts are spelled out.
public enum HostIsolation {
    /// One route of the host, as the agent reads it from the root namespace.
    public struct Route: Hashable, Sendable, Codable {
        /// The destination; nil for the default route.
        public var destination: IPv4Prefix?
        /// The output interface's name.
        public var device: String?
        public var gateway: IPv4Address?
        public var table: UInt32
        /// `unicast`, `local`, `blackhole`, `unreachable`, ...
        public var type: String

        public init(destination: IPv4Prefix?, device: String?, gateway: IPv4Address? = nil, table: UInt32 = 254, type: String = "unicast") {
            self.destination = destination
            self.device = device
            self.gateway = gateway
            self.table = table
            self.type = type
        }

        var isDefault: Bool { destination == nil || destination?.length == 0 }

        /// `default via 10.0.2.2 dev eth0`, `10.0.0.0/8 dev wg0 table 100`.
        public var description: String {
            var text = destination.map { $0.length == 0 ? "default" : $0.description } ?? "default"
            if type != "unicast" { text = "\(type) \(text)" }
            if let gateway { text += " via \(gateway)" }
            if let device { text += " dev \(device)" }
            if table != 254 { text += " table \(table)" }
            return text
        }
    }

    /// Names podlab gives its interfaces (none of which may ever appear in the root namespace):
    /// the pod bridge, the underlay bridge, node uplinks `veth-n<i>`, pod host ends `veth<8 hex>`.
    public static func isLabInterfaceName(_ name: String) -> Bool {
        if name == "cni0" || name == "underlay0" { return true }
        if name.hasPrefix("veth-n"), name.dropFirst(6).allSatisfy(\.isNumber), name.count > 6 { return true }
        if name.hasPrefix("veth"), name.count == 12, name.dropFirst(4).allSatisfy(\.isHexDigit) { return true }
        return false
    }

    /// The verdict for `target`: `.routed` (naming the route) when a route of the host for it
    /// leaves through a lab interface, else `.unreachable`. `labRanges` are the lab's address
    /// ranges (cluster, service, underlay), named in the explanation.
    public static func evaluate(target: IPv4Address, labRanges: [IPv4Prefix], routes: [Route]) -> ProbeResult {
        let usable = routes.filter { ["unicast", "local", "multicast", "broadcast"].contains($0.type) }
        let matching = usable.filter { $0.isDefault || $0.destination?.contains(target) == true }
        if let wired = matching.first(where: { $0.device.map(isLabInterfaceName) == true }) {
            return ProbeResult(outcome: .routed, detail: "the host routes \(target) into the lab: \(wired.description)")
        }
        // The route the main table would pick: the longest prefix that holds the target.
        let main = matching.filter { $0.table == 254 }.max { ($0.destination?.length ?? 0) < ($1.destination?.length ?? 0) }
        var detail = "routing table only, no packet sent: "
        if let main {
            detail += "the host would send \(target) by \(main.description), not a lab interface"
        } else {
            detail += "the host has no route for \(target)"
        }
        let covering = usable.filter { route in
            guard !route.isDefault, let destination = route.destination else { return false }
            return labRanges.contains { $0.overlaps(destination) }
        }
        if covering.isEmpty {
            detail += "; no route of the host covers \(labRanges.map(\.description).joined(separator: ", "))"
        } else {
            detail += "; \(covering.map(\.description).joined(separator: ", ")) overlaps the lab's addresses but leads elsewhere"
        }
        return ProbeResult(outcome: .unreachable, detail: detail)
    }
}
