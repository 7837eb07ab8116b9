import Foundation
import PodNet

/// How `podlab ip`, `whois` and `ipam` print what the agent answers.
enum InspectionText {
    // MARK: JSON

    /// JSON as `get -o json` prints it (sorted keys, four-space indent), with a final newline.
    static func json<T: Encodable>(_ value: T) throws -> String {
        let tree = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
        return tree.jsonText() + "\n"
    }

    // MARK: podlab ip

    /// `== pod default/nginx (demo-pod-nginx) ==`.
    static func heading(_ namespace: NamespaceSnapshot) -> String {
        "== \(namespace.title) (\(namespace.namespace)) =="
    }

    /// `ip -br addr` for each namespace under its heading: the name padded to 16 columns, the
    /// state to 14, then each address and a space, exactly as iproute2 prints them.
    static func brief(_ inspection: NetworkInspection) -> String {
        var out = ""
        for (index, namespace) in inspection.namespaces.enumerated() {
            if index > 0 { out += "\n" }
            out += heading(namespace) + "\n"
            for interface in namespace.interfaces { out += briefLine(interface, in: namespace) + "\n" }
        }
        return out
    }

    static func briefLine(_ interface: InterfaceSnapshot, in namespace: NamespaceSnapshot) -> String {
        var line = pad(displayName(interface, in: namespace), 16) + " " + pad(interface.operstate, 14) + " "
        for address in interface.addrInfo { line += address.cidr + " " }
        return line
    }

    /// The interfaces as `ip addr` lists them, then the routes, neighbour entries and podlab's
    /// nftables chains of each namespace.
    static func detailed(_ inspection: NetworkInspection) -> String {
        var out = ""
        for (index, namespace) in inspection.namespaces.enumerated() {
            if index > 0 { out += "\n" }
            out += heading(namespace) + "\n"
            for interface in namespace.interfaces {
                var first = "\(interface.ifindex): \(displayName(interface, in: namespace)): <\(interface.flags.joined(separator: ","))> mtu \(interface.mtu)"
                if let master = interface.master { first += " master \(master)" }
                first += " state \(interface.operstate)"
                out += first + "\n"
                out += "    link/\(interface.linkType)" + (interface.address.map { " \($0)" } ?? "") + (interface.kind.map { " kind \($0)" } ?? "") + "\n"
                for address in interface.addrInfo {
                    var line = "    \(address.family) \(address.cidr)"
                    if let broadcast = address.broadcast { line += " brd \(broadcast)" }
                    line += " scope \(address.scope)"
                    if let label = address.label { line += " \(label)" }
                    out += line + "\n"
                }
            }
            out += section("routes", namespace.routes.map(\.text))
            out += section("neighbours", namespace.neighbours.map(\.text))
            if !namespace.firewall.isEmpty {
                out += "nftables:\n"
                for chain in namespace.firewall {
                    out += "    \(chain.text)\n"
                    for rule in chain.rules { out += "        \(rule)\n" }
                }
            }
        }
        return out
    }

    private static func section(_ title: String, _ lines: [String]) -> String {
        guard !lines.isEmpty else { return "\(title): none\n" }
        return "\(title):\n" + lines.map { "    \($0)\n" }.joined()
    }

    /// `eth0@if7` for a veth whose peer is in another namespace, `v1@v2` for one whose peer is here.
    static func displayName(_ interface: InterfaceSnapshot, in namespace: NamespaceSnapshot) -> String {
        interface.displayName(peerName: interface.linkIndex.flatMap { namespace.interface(index: $0)?.ifname })
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        let count = text.unicodeScalars.count
        return count >= width ? text : text + String(repeating: " ", count: width - count)
    }

    // MARK: podlab whois

    /// The owner, then with `--from` the path hop by hop and where it ends.
    static func whois(_ answer: WhoisAnswer) -> String {
        var out = "\(answer.address): \(answer.summary)\n"
        for trace in answer.serviceTraces ?? [] { out += "\n" + trace + "\n" }
        guard let path = answer.path else { return out }
        out += "\nPath from \(path.source) (\(path.sourceAddress)) to \(path.destination):\n"
        for (index, hop) in path.hops.enumerated() {
            out += "  \(index + 1). \(hop.title) (\(hop.namespace))\n"
            var fields: [(String, String)] = []
            if let ingress = hop.ingress { fields.append(("in", ingress)) }
            if let bridge = hop.bridge { fields.append(("bridge", bridge)) }
            if let route = hop.route { fields.append(("route", route)) }
            for chain in hop.chains { fields.append(("nft", chain.description)) }
            if let egress = hop.egress, hop.bridge == nil {
                fields.append(("out", egress + (hop.neighbour.map { ", neighbour \($0)" } ?? "")))
            }
            if let link = hop.link { fields.append(("link", link)) }
            for (label, value) in fields { out += "       " + pad(label + ":", 8) + value + "\n" }
        }
        out += "Result: \(path.outcome.text)\n"
        return out
    }

    // MARK: podlab ipam

    /// The ranges, a table of nodes, and a table of allocations.
    static func ipam(_ report: IPAMReport) -> String {
        var out = "Cluster CIDR:   \(report.clusterCIDR)  (\(report.nodes.count) node\(report.nodes.count == 1 ? "" : "s"), "
            + "\(report.capacity) pod addresses: \(report.allocated) allocated, \(report.free) free)\n"
        out += "Service CIDR:   \(report.serviceCIDR)  (\(report.services == 0 ? "no services yet" : "\(report.services) services"))\n"
        out += "Underlay CIDR:  \(report.underlayCIDR)\n\n"
        out += TextTable(headers: ["NODE", "POD CIDR", "GATEWAY", "CAPACITY", "ALLOCATED", "FREE"], rows: report.nodes.map { node in
            [node.name, node.podCIDR.description, node.gateway.description, String(node.capacity), String(node.allocated), String(node.free)]
        }).render()
        out += "\n"
        if report.allocations.isEmpty {
            out += "No allocations.\n"
        } else {
            out += TextTable(headers: ["IP", "NODE", "POD"], rows: report.allocations.map { allocation in
                [allocation.ip.description, allocation.node, allocation.pod ?? "<none> (owner \(allocation.owner))"]
            }).render()
        }
        return out
    }
}
