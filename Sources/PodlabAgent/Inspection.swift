import Foundation
import Netlink
import Netns
import PodNet

extension Controller: InspectionBackend {
    public func inspectNetwork(kind: String, name: String?, namespace: String) async throws -> Data {
        let inventory = try inspectionInventory()
        let kinds: Set<NamespaceKind>
        if kind == "all" {
            if name != nil { throw APIStatus.badRequest("a name needs kind=pod or kind=node") }
            kinds = Set(NamespaceKind.allCases)
        } else if let wanted = NamespaceKind(rawValue: kind) {
            if name != nil, wanted == .underlay { throw APIStatus.badRequest("the underlay has no name: ask for kind=underlay without one") }
            kinds = [wanted]
        } else {
            throw APIStatus.badRequest("unknown kind \"\(kind)\": use pod, node, underlay or all")
        }
        return try Controller.encode(try inspect(inventory, kinds: kinds, name: name, namespace: namespace))
    }

    public func ipamReport() async throws -> Data {
        try Controller.encode(IPAMReport(try inspectionInventory()))
    }

    public func whois(address text: String, from: String?, namespace: String) async throws -> Data {
        guard let address = IPAddress(text) else {
            throw APIStatus.badRequest("\"\(text)\" is not an IP address")
        }
        let inventory = try inspectionInventory()
        var source: PodFacts?
        if let from {
            guard let pod = inventory.pod(namespace: namespace, name: from) else { throw APIStatus.notFound(resource: "pods", name: from) }
            guard case .v4 = address else {
                throw APIStatus.badRequest("paths are traced for IPv4 destinations only; \(address) is IPv6")
            }
            source = pod
        }
        let network = try inspect(inventory, kinds: Set(NamespaceKind.allCases), name: nil, namespace: namespace)
        let owner = AddressOwner.find(address, inventory: inventory, network: network)
        var path: PacketPath?
        if let source, case let .v4(destination) = address {
            do {
                path = try PacketPath.trace(from: source, to: destination, inventory: inventory, network: network)
            } catch {
                throw APIStatus.badRequest(error.description)
            }
        }
        return try Controller.encode(WhoisAnswer(lab: paths.lab, address: address, owner: owner, path: path))
    }

    // MARK: Reading

    /// The plan, pods and allocations as the inspection types see them.
    func inspectionInventory() throws -> LabInventory {
        guard let plan else {
            throw APIStatus(message: "the lab is not ready (\(phase): \(message))", reason: "ServiceUnavailable", code: 503)
        }
        let facts = pods.values.sorted { ($0.metadata.namespace, $0.metadata.name) < ($1.metadata.namespace, $1.metadata.name) }.map { pod in
            PodFacts(namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid, ip: IPv4Address(pod.status.podIP),
                     node: pod.spec.nodeName, netns: PodRuntime.netnsName(lab: paths.lab, pod: pod),
                     containers: pod.spec.containers.map(\.name), phase: pod.status.phase?.rawValue ?? "Pending")
        }
        let allocations = try store.read { try $0.allAllocations() }.compactMap { row in
            IPv4Address(row.address).map { IPAllocation(ip: $0, node: row.node, owner: row.owner) }
        }
        return LabInventory(plan: plan, pods: facts, allocations: allocations)
    }

    /// Reads the namespaces of `kinds` (one of them when `name` is given) from the kernel.
    /// Pods whose namespace is not there (yet, or any more) are left out of a listing; a named
    /// one is an error.
    func inspect(_ inventory: LabInventory, kinds: Set<NamespaceKind>, name: String?, namespace: String) throws -> NetworkInspection {
        let plan = inventory.plan
        var wanted: [(name: String, kind: NamespaceKind, node: String?, pod: String?)] = []
        if kinds.contains(.underlay) { wanted.append((plan.underlayNamespace, .underlay, nil, nil)) }
        if kinds.contains(.node) {
            if let name, plan.node(named: name) == nil { throw APIStatus.notFound(resource: "nodes", name: name) }
            for node in plan.nodes where name == nil || node.name == name {
                wanted.append((node.namespace, .node, node.name, nil))
            }
        }
        if kinds.contains(.pod) {
            if let name {
                guard let pod = inventory.pod(namespace: namespace, name: name) else { throw APIStatus.notFound(resource: "pods", name: name) }
                guard NetworkNamespace.exists(pod.netns) else {
                    throw APIStatus(message: "pod \"\(name)\" has no network namespace yet (\(pod.phase))", reason: "BadRequest", code: 400)
                }
                wanted.append((pod.netns, .pod, pod.node, pod.qualifiedName))
            } else {
                for pod in inventory.pods.sorted(by: { ($0.node, $0.qualifiedName) < ($1.node, $1.qualifiedName) }) {
                    wanted.append((pod.netns, .pod, pod.node, pod.qualifiedName))
                }
            }
        }
        var snapshots: [NamespaceSnapshot] = []
        for entry in wanted {
            do {
                snapshots.append(try NamespaceReader.snapshot(entry.name, kind: entry.kind, node: entry.node, pod: entry.pod))
            } catch Errno.noSuchFileOrDirectory where entry.kind == .pod && name == nil {
                continue  // a pod being created or deleted while we read
            }
        }
        return NetworkInspection(lab: paths.lab, namespaces: snapshots)
    }

    static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}

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
