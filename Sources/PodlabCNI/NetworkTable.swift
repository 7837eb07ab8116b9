import Addressing
import NFTables
import Netns

/// The one nftables table podlab-cni owns per network, in the host's namespace:
///
/// ```
/// table ip podlab-cni-<network>
///   set masquerade-sources ipv4_addr                                   the containers with ipMasq
///   map portmaps     meta l4proto . th dport : ipv4_addr . inet_service
///   chain postrouting (nat, srcnat)  ip saddr @masquerade-sources ip daddr != SUBNET masquerade
///   chain prerouting  (nat, dstnat)  fib daddr type local dnat ip to meta l4proto . th dport map @portmaps
///   chain output      (nat, dstnat)  fib daddr type local dnat ip to meta l4proto . th dport map @portmaps
/// ```
///
/// A container adds and removes elements, never chains or rules: the reference plugins' chain
/// per container makes every ADD re-read a table that grows per container (design.md, the
/// CNI anchors), while an element is one message in one transaction whatever the table holds.
public struct NetworkTable: Sendable {
    public let table: Table
    public let subnet: IPv4Prefix

    public init(network: String, subnet: IPv4Prefix) {
        table = Table(.ip, Self.tableName(network: network))
        self.subnet = subnet
    }

    /// `podlab-cni-<network>`; a long name keeps its start and a hash of the whole (nftables
    /// names are at most 255 bytes, kept short for reading).
    public static func tableName(network: String) -> String {
        let name = "podlab-cni-" + network
        guard name.utf8.count > 64 else { return name }
        return String(name.prefix(48)) + "-" + String(fnv1a(network), radix: 16)
    }

    public var masqueradeSet: NFTSet { NFTSet(table, "masquerade-sources", key: .typeof(.ipSaddr)) }
    public var portMap: NFTSet { NFTSet(table, "portmaps", key: .typeof(.l4proto, .thDport), data: .type(.ipv4Address, .inetService)) }

    public var chains: [Chain] {
        [Chain(table, "postrouting", type: .nat, hook: .postrouting, priority: Priority.srcnat),
         Chain(table, "prerouting", type: .nat, hook: .prerouting, priority: Priority.dstnat),
         Chain(table, "output", type: .nat, hook: .output, priority: Priority.dstnat)]
    }

    /// The table's three rules.
    public var rules: [Rule] {
        let publish: [Expression] = [.destinationIsLocal, .dnatMap([.l4proto, .thDport], map: portMap.name)]
        return [Rule(chains[0], [.lookup(.ipSaddr, set: masqueradeSet.name), .match(.ipDaddr, .notEqual, .ipv4Prefix(subnet)), .masquerade]),
                Rule(chains[1], publish),
                Rule(chains[2], publish)]
    }

    /// The whole table, for the first container of the network.
    public func creation() -> Transaction {
        var t = Transaction()
        t.add(table)
        t.add(masqueradeSet)
        t.add(portMap)
        for chain in chains { t.add(chain) }
        t.add(rules)
        return t
    }

    /// One container's elements.
    public func elements(address: IPv4Address, masquerade: Bool, portMappings: [PortMapping]) -> (masquerade: [SetElement], ports: [SetElement]) {
        (masquerade ? [SetElement(.ipv4(address))] : [],
         portMappings.map { SetElement(.concat([.inetProtocol($0.transport.inetProtocol), .port($0.hostPort)]), .concat([.ipv4(address), .port($0.containerPort)])) })
    }

    /// Adds a container's elements.
    public func adding(address: IPv4Address, masquerade: Bool, portMappings: [PortMapping]) -> Transaction {
        let e = elements(address: address, masquerade: masquerade, portMappings: portMappings)
        var t = Transaction()
        t.add(e.masquerade, to: masqueradeSet)
        t.add(e.ports, to: portMap)
        return t
    }

    /// Removes a container's elements whether or not they are there: each is added, then deleted,
    /// in one transaction (nft's idiom; a plain delete of a missing element fails the batch).
    public func removing(address: IPv4Address, portMappings: [PortMapping]) -> Transaction {
        let e = elements(address: address, masquerade: true, portMappings: portMappings)
        var t = Transaction()
        t.add(e.masquerade, to: masqueradeSet)
        t.add(e.ports, to: portMap)
        t.delete(e.masquerade, from: masqueradeSet)
        t.delete(e.ports, from: portMap)
        return t
    }
}

extension PortMapping.TransportProtocol {
    var inetProtocol: InetProtocol {
        switch self {
        case .tcp: .tcp
        case .udp: .udp
        case .sctp: .sctp
        }
    }
}

/// 32-bit FNV-1a: short stable names (host veth ends, long table names).
func fnv1a(_ text: String) -> UInt32 {
    var hash: UInt32 = 0x811C_9DC5
    for byte in text.utf8 {
        hash ^= UInt32(byte)
        hash = hash &* 0x0100_0193
    }
    return hash
}
