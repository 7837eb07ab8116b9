import Addressing
import NFTables
import Netns

/// The one nftables table podlab-cni owns per network, in the host's namespace:
///
/// ```
/// table ip podlab-cni-<network>
///   set masquerade-sources ipv4_addr                                   the containers with ipMasq
///   set hairpins     ip saddr . ip daddr                               each container with port mappings, twice
///   map portmaps     meta l4proto . th dport : ipv4_addr . inet_service
///   chain postrouting (nat, srcnat)  ip saddr @masquerade-sources ip daddr != SUBNET masquerade
///                                    ip saddr . ip daddr @hairpins masquerade
///                                    ip saddr 127.0.0.0/8 ip daddr SUBNET masquerade
///   chain prerouting  (nat, dstnat)  fib daddr type local dnat ip to meta l4proto . th dport map @portmaps
///   chain output      (nat, dstnat)  fib daddr type local dnat ip to meta l4proto . th dport map @portmaps
/// ```
///
/// The two later masquerades are the reference portmap's hairpin and localhost SNAT. A
/// container that connects to its own published port (the node's address, `hostPort`) is
/// DNATed back to itself: without a new source its kernel sees a packet from its own address
/// arriving on `eth0`, a martian, and drops it. The `hairpins` element `ADDR . ADDR` matches only
/// that, as nothing else from a container to itself leaves its namespace. A connection to
/// `127.0.0.1:hostPort` in the node is DNATed in `output` and leaves by the bridge, which the
/// kernel allows with `route_localnet` on the bridge (set by ADD for a container with port
/// mappings); the container must not see 127.0.0.1 as its peer, so it is masqueraded to the
/// bridge's address.
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
    public var hairpinSet: NFTSet { NFTSet(table, "hairpins", key: .typeof(.ipSaddr, .ipDaddr)) }
    public var portMap: NFTSet { NFTSet(table, "portmaps", key: .typeof(.l4proto, .thDport), data: .type(.ipv4Address, .inetService)) }

    public var chains: [Chain] {
        [Chain(table, "postrouting", type: .nat, hook: .postrouting, priority: Priority.srcnat),
         Chain(table, "prerouting", type: .nat, hook: .prerouting, priority: Priority.dstnat),
         Chain(table, "output", type: .nat, hook: .output, priority: Priority.dstnat)]
    }

    /// The network of loopback sources that `output` can send into the bridge.
    public static let loopback = IPv4Prefix("127.0.0.0/8")!

    /// The table's five rules.
    public var rules: [Rule] {
        let publish: [Expression] = [.destinationIsLocal, .dnatMap([.l4proto, .thDport], map: portMap.name)]
        return [Rule(chains[0], [.lookup(.ipSaddr, set: masqueradeSet.name), .match(.ipDaddr, .notEqual, .ipv4Prefix(subnet)), .masquerade]),
                Rule(chains[0], [.lookup([.ipSaddr, .ipDaddr], set: hairpinSet.name), .masquerade]),
                Rule(chains[0], [.match(.ipSaddr, .equal, .ipv4Prefix(Self.loopback)), .match(.ipDaddr, .equal, .ipv4Prefix(subnet)), .masquerade]),
                Rule(chains[1], publish),
                Rule(chains[2], publish)]
    }

    /// The whole table with the given containers' elements, for the first container of the
    /// network; with `replacing`, the table of that name is deleted first in the same transaction
    /// (a table of an older layout is rebuilt from the store, atomically).
    public func creation(_ containers: [Container] = [], replacing: Bool = false) -> Transaction {
        var t = Transaction()
        if replacing { t.deleteIfExists(table) }
        t.add(table)
        t.add(masqueradeSet)
        t.add(hairpinSet)
        t.add(portMap)
        for chain in chains { t.add(chain) }
        t.add(rules)
        for c in containers { t.append(contentsOf: adding(c)) }
        return t
    }

    /// What a container puts into the table.
    public struct Container: Sendable {
        public var address: IPv4Address
        public var masquerade: Bool
        public var portMappings: [PortMapping]

        public init(address: IPv4Address, masquerade: Bool, portMappings: [PortMapping]) {
            self.address = address
            self.masquerade = masquerade
            self.portMappings = portMappings
        }
    }

    /// One container's elements.
    public func elements(_ c: Container) -> (masquerade: [SetElement], hairpin: [SetElement], ports: [SetElement]) {
        (c.masquerade ? [SetElement(.ipv4(c.address))] : [],
         c.portMappings.isEmpty ? [] : [SetElement(.concat([.ipv4(c.address), .ipv4(c.address)]))],
         c.portMappings.map { SetElement(.concat([.inetProtocol($0.transport.inetProtocol), .port($0.hostPort)]), .concat([.ipv4(c.address), .port($0.containerPort)])) })
    }

    /// Adds a container's elements.
    public func adding(_ c: Container) -> Transaction {
        let e = elements(c)
        var t = Transaction()
        t.add(e.masquerade, to: masqueradeSet)
        t.add(e.hairpin, to: hairpinSet)
        t.add(e.ports, to: portMap)
        return t
    }

    /// Removes a container's elements whether or not they are there: each is added, then deleted,
    /// in one transaction (nft's idiom; a plain delete of a missing element fails the batch).
    public func removing(address: IPv4Address, portMappings: [PortMapping]) -> Transaction {
        let e = elements(Container(address: address, masquerade: true, portMappings: portMappings))
        var t = Transaction()
        t.add(e.masquerade, to: masqueradeSet)
        t.add(e.hairpin, to: hairpinSet)
        t.add(e.ports, to: portMap)
        t.delete(e.masquerade, from: masqueradeSet)
        t.delete(e.hairpin, from: hairpinSet)
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
