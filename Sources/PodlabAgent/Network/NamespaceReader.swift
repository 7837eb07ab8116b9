import Foundation
import Netlink
import Netns
import PodNet

/// Reads one network namespace into a `NamespaceSnapshot` through rtnetlink and nftables
/// sockets opened inside it.
enum NamespaceReader {
    /// `RTM_NEWLINK` (<linux/rtnetlink.h>): the type of each message of a link dump.
    static let RTM_NEWLINK: UInt16 = 16
    /// `IFLA_LINK_NETNSID` (<linux/if_link.h>): set on a link whose `IFLA_LINK` peer is in
    /// another namespace. `Link` does not carry it, so link dumps are read here.
    static let IFLA_LINK_NETNSID: UInt16 = 37
    /// `sizeof(struct ifinfomsg)`.
    static let ifinfomsgSize = 16

    static func snapshot(_ name: String, kind: NamespaceKind, node: String?, pod: String?) throws -> NamespaceSnapshot {
        let namespace = try NetworkNamespace.open(name)
        let netlink = try RouteNetlink(namespace: namespace)
        let links = try self.links(netlink)
        let names = Dictionary(links.map { ($0.link.index, $0.link.name) }) { first, _ in first }
        let addresses = try netlink.addresses(family: .ipv4) + netlink.addresses(family: .ipv6)
        let interfaces = links.map { entry in
            let link = entry.link
            let loopback = link.flags & 0x8 != 0  // IFF_LOOPBACK
            return InterfaceSnapshot(
                ifindex: Int(link.index), ifname: link.name, flags: InterfaceFlagNames.names(link.flags), mtu: Int(link.mtu),
                operstate: link.operationalState.description, linkType: loopback ? "loopback" : "ether", address: link.mac?.description,
                master: link.masterIndex.flatMap { names[$0] }, linkIndex: link.parentIndex.map(Int.init),
                linkNetnsid: entry.netnsID.map(Int.init), kind: link.kind,
                addrInfo: addresses.filter { $0.interfaceIndex == link.index }.map(address))
        }
        let routes = try netlink.routes(family: .ipv4).map { route(for: $0, names: names) }
        // As `ip neigh` lists them: multicast entries (NOARP) left out.
        let neighbours = try netlink.neighbors(family: .ipv4).filter { !$0.state.contains(.noARP) }.map { neighbour in
            NeighborSnapshot(dst: neighbour.address.description, dev: names[neighbour.interfaceIndex] ?? "if\(neighbour.interfaceIndex)",
                             lladdr: neighbour.mac?.description,
                             state: neighbour.state.description.split(separator: ",").map(String.init).filter { $0 != "NONE" })
        }
        let firewall = kind == .node ? try NodeFirewall.installedChains(in: namespace) : []
        return NamespaceSnapshot(namespace: name, kind: kind, node: node, pod: pod, interfaces: interfaces, routes: routes,
                                 neighbours: neighbours, firewall: firewall)
    }

    /// Every link with its `IFLA_LINK_NETNSID`, in index order.
    static func links(_ netlink: RouteNetlink) throws -> [(link: Link, netnsID: Int32?)] {
        var request = try NetlinkRequest.dumpLinks()
        request.sequence = netlink.transport.nextSequence()
        let messages: [NetlinkMessage]
        do {
            messages = try netlink.transport.dump(request.bytes)
        } catch let error as KernelError {
            throw KernelError(operation: "RTM_GETLINK", object: "links", namespace: netlink.namespace, errno: error.errno, detail: error.detail)
        }
        return try messages.filter { $0.type == RTM_NEWLINK && $0.payload.count >= ifinfomsgSize }.map { message in
            let link = try Link(parsing: message.payload[...])
            let netnsID = NetlinkAttribute.parse(message.payload[ifinfomsgSize...])
                .first { $0.type == IFLA_LINK_NETNSID }?.u32.map { Int32(bitPattern: $0) }
            return (link, netnsID)
        }.sorted { $0.link.index < $1.link.index }
    }

    static func address(_ address: InterfaceAddress) -> InterfaceAddressSnapshot {
        let family: String = if case .v6 = address.address { "inet6" } else { "inet" }
        return InterfaceAddressSnapshot(family: family, local: address.address.description, prefixlen: address.prefixLength,
                                        scope: address.scope.description, broadcast: address.broadcast?.description, label: address.label)
    }

    /// A route in `ip -j route`'s terms: a host route's destination without `/32`, the unicast
    /// type, `boot` protocol and `global` scope left out.
    static func route(for route: Route, names: [Int32: String]) -> RouteSnapshot {
        let destination: String
        if route.isDefault {
            destination = "default"
        } else if let network = route.destination {
            destination = route.destinationLength == 32 ? network.description : "\(network)/\(route.destinationLength)"
        } else {
            destination = "default"
        }
        return RouteSnapshot(type: route.type == .unicast ? nil : route.type.description, dst: destination,
                             gateway: route.gateway?.description, dev: route.outputIndex.map { names[$0] ?? "if\($0)" },
                             protocol: route.routingProtocol == .boot ? nil : route.routingProtocol.description,
                             scope: route.scope == .universe ? nil : route.scope.description,
                             prefsrc: route.preferredSource?.description, metric: route.priority.map(Int.init),
                             flags: route.onlink ? ["onlink"] : [])
    }
}
