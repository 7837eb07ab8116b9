import Addressing
import Netlink
import Netns
import NFTables

/// CHECK: re-derives what ADD made for one attachment and lists every difference from what the
/// kernel holds, in words a person can act on.
enum AttachmentCheck {
    static func differences(_ config: NetworkConfiguration, record: AllocationRecord, pod: RouteNetlink, host: RouteNetlink,
                            nft: NFTablesConnection, hostInterfaceName: String) throws -> [String] {
        var found: [String] = []
        let ifname = record.attachment.ifname
        let expected = try IPv4Interface(record.address, length: config.containerPrefixLength)

        // The runtime's view, from the previous result.
        if let prev = config.prevResult, !prev.ips.contains(where: { $0.address.address == record.address }) {
            found.append("prevResult does not list \(record.address)")
        }

        // The container's side.
        if let link = try pod.linkIfPresent(named: ifname) {
            if !link.isUp { found.append("\(ifname) in the container is down") }
            let addresses = try pod.addresses(interfaceIndex: link.index)
            if !addresses.contains(where: { $0.address == .v4(expected.address) && $0.prefixLength == expected.length }) {
                found.append("\(ifname) does not hold \(expected) (holds " + (addresses.map { "\($0.address)/\($0.prefixLength)" }.joined(separator: ", ").nonEmpty ?? "nothing") + ")")
            }
            let routes = try pod.routes().filter { $0.outputIndex == link.index }
            var destinations = config.routes
            if destinations.isEmpty && (config.mode == .routed || config.isDefaultGateway) { destinations = PodInterfaceConfiguration.defaultRoutes }
            for destination in destinations {
                let present = routes.contains { r in
                    r.destinationLength == destination.length && (destination.length == 0 || r.destination == .v4(destination.network))
                        && r.gateway == .v4(config.gateway)
                }
                if !present { found.append("no route to \(destination) via \(config.gateway) on \(ifname)") }
            }
            if config.isGateway {
                let entry = try pod.neighbors(interfaceIndex: link.index).first { $0.address == .v4(config.gateway) }
                if entry?.state.contains(.permanent) != true { found.append("no permanent neighbour entry for the gateway \(config.gateway) in the container") }
            }
        } else {
            found.append("no interface \(ifname) in the container")
        }

        // The host's side.
        let bridge = try host.linkIfPresent(named: config.bridge)
        if let bridge {
            if config.isGateway {
                let held = try host.addresses(interfaceIndex: bridge.index).contains { $0.address == .v4(config.gateway) && $0.prefixLength == config.subnet.length }
                if !held { found.append("bridge \(config.bridge) does not hold \(config.gatewayInterface)") }
                let entry = try host.neighbors(interfaceIndex: bridge.index).first { $0.address == .v4(record.address) }
                if entry?.state.contains(.permanent) != true { found.append("no permanent neighbour entry for \(record.address) on \(config.bridge)") }
            }
        } else {
            found.append("no bridge \(config.bridge)")
        }
        if let hostEnd = try host.linkIfPresent(named: hostInterfaceName) {
            if let bridge, hostEnd.masterIndex != bridge.index { found.append("\(hostInterfaceName) is not a port of \(config.bridge)") }
            if !hostEnd.isUp { found.append("\(hostInterfaceName) is down") }
        } else {
            found.append("no host interface \(hostInterfaceName)")
        }

        // The network's table.
        if config.ipMasq || !record.portMappings.isEmpty {
            let table = NetworkTable(network: config.name, subnet: config.subnet)
            let ruleset = try nft.ruleset(family: .ip, table: table.table.name)
            if ruleset.tables.isEmpty {
                found.append("no nftables table \(table.table.name)")
            } else {
                let expected = table.elements(Plugin.container(config, record))
                let masquerade = Set(ruleset.set(table.table, table.masqueradeSet.name)?.elements ?? [])
                for element in expected.masquerade where !masquerade.contains(element) {
                    found.append("\(record.address) is missing from set \(table.masqueradeSet.name)")
                }
                let hairpins = Set(ruleset.set(table.table, table.hairpinSet.name)?.elements ?? [])
                for element in expected.hairpin where !hairpins.contains(element) {
                    found.append("\(record.address) . \(record.address) is missing from set \(table.hairpinSet.name)")
                }
                let ports = Set(ruleset.set(table.table, table.portMap.name)?.elements ?? [])
                for (element, mapping) in zip(expected.ports, record.portMappings) where !ports.contains(element) {
                    found.append("port mapping \(mapping.transport.rawValue) \(mapping.hostPort) → \(record.address):\(mapping.containerPort) is missing from map \(table.portMap.name)")
                }
                for rule in table.rules {
                    let listed = ruleset.rules(in: Chain(table.table, rule.chain)).map(\.identity.expressions)
                    if !listed.contains(rule.expressions) { found.append("chain \(rule.chain) lacks the rule \"\(rule)\"") }
                }
            }
        }
        return found
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
