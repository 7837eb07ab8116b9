/// An nftables rule as podlab reasons about it: the conditions it tests, whether it counts,
/// and what it does. The agent programs its node table from these values (`NodeFirewallRules`)
/// and reads the installed rules back into them, so `whois` explains a path from the rules the
/// kernel really holds, and tests compare what is installed with what was meant.
public struct FirewallRule: Codable, Hashable, Sendable, CustomStringConvertible {
    /// `ip saddr 10.244.0.0/16`, `ip daddr != 10.244.0.0/16`, `oifname "eth0"`.
    public struct Condition: Codable, Hashable, Sendable, CustomStringConvertible {
        public enum Field: String, Codable, Hashable, Sendable {
            case ipSaddr = "ip saddr"
            case ipDaddr = "ip daddr"
            case iifname
            case oifname
        }

        public var field: Field
        public var negated: Bool
        /// An address or prefix (`10.244.0.0/16`) for the address fields, an interface name for the others.
        public var value: String

        public init(_ field: Field, _ value: String, negated: Bool = false) {
            self.field = field
            self.negated = negated
            self.value = value
        }

        public static func sourceIn(_ prefix: IPv4Prefix) -> Condition { Condition(.ipSaddr, prefix.description) }
        public static func destinationNotIn(_ prefix: IPv4Prefix) -> Condition { Condition(.ipDaddr, prefix.description, negated: true) }

        /// As nft prints it.
        public var description: String {
            let shown = field == .iifname || field == .oifname ? "\"\(value)\"" : value
            return "\(field.rawValue) \(negated ? "!= " : "")\(shown)"
        }

        /// The prefix an address condition compares with (an address is a /32).
        public var prefix: IPv4Prefix? {
            if let prefix = IPv4Prefix(value) { return prefix }
            return IPv4Address(value).flatMap { try? IPv4Prefix($0, length: 32) }
        }
    }

    /// What a matching rule does to the packet.
    public enum Action: String, Codable, Hashable, Sendable {
        /// Source NAT to the output interface's address (ends the chain, as every NAT statement does).
        case masquerade
        case accept
        case drop
    }

    public var conditions: [Condition]
    /// The rule has a `counter`.
    public var counts: Bool
    /// The counter's packets and bytes, when the rule was listed from the kernel.
    public var packets: UInt64?
    public var bytes: UInt64?
    /// Expressions podlab does not reason about, as nft prints them. A rule with any cannot be
    /// decided for a packet; the agent never programs one.
    public var other: [String]
    public var action: Action?
    public var comment: String?

    public init(_ conditions: [Condition], counts: Bool = false, packets: UInt64? = nil, bytes: UInt64? = nil, other: [String] = [],
                action: Action? = nil, comment: String? = nil) {
        self.conditions = conditions
        self.counts = counts
        self.packets = packets
        self.bytes = bytes
        self.other = other
        self.action = action
        self.comment = comment
    }

    /// As nft prints it: `ip saddr 10.244.0.0/16 ip daddr != 10.244.0.0/16 counter packets 3 bytes 180 masquerade`.
    public var description: String {
        var parts = conditions.map(\.description) + other
        if counts {
            parts.append(packets.map { "counter packets \($0) bytes \(bytes ?? 0)" } ?? "counter")
        }
        if let action { parts.append(action.rawValue) }
        if let comment { parts.append("comment \"\(comment)\"") }
        return parts.joined(separator: " ")
    }

    /// The rule as programmed: without the counts the kernel keeps.
    public var programmed: FirewallRule {
        var copy = self
        copy.packets = nil
        copy.bytes = nil
        return copy
    }
}

/// The table podlab owns in each node namespace (`table ip podlab`), as values: what the agent
/// programs and what inspection and tests compare the kernel's listing with.
///
/// - `nat-postrouting`: traffic from the cluster CIDR to anything outside it is masqueraded.
///   Traffic between pods never is: pods see each other's own addresses (the first rule of the
///   Kubernetes network model). The lab has no way out of its namespaces, but the rule is the
///   one a real node carries.
/// - `forward`: a counter of forwarded pod traffic (pod-to-pod traffic, same node included,
///   passes the node's IP layer by design, so `nft list` shows it).
public enum NodeFirewallRules {
    public static let family = "ip"
    public static let table = "podlab"
    /// The chain that masquerades traffic leaving the cluster.
    public static let masqueradeChain = "nat-postrouting"
    public static let forwardChain = "forward"

    /// The masquerade rule: from the cluster CIDR, to anything outside it.
    public static func masquerade(clusterCIDR: IPv4Prefix) -> FirewallRule {
        FirewallRule([.sourceIn(clusterCIDR), .destinationNotIn(clusterCIDR)], counts: true, action: .masquerade,
                     comment: "pods leaving the cluster CIDR")
    }

    /// The chains, base chain by base chain, with their rules (priorities as nft's `srcnat` 100 and `filter` 0).
    public static func chains(clusterCIDR: IPv4Prefix) -> [FirewallChainSnapshot] {
        [
            FirewallChainSnapshot(family: family, table: table, name: masqueradeChain, type: "nat", hook: "postrouting", priority: 100,
                                  rules: [masquerade(clusterCIDR: clusterCIDR)]),
            FirewallChainSnapshot(family: family, table: table, name: forwardChain, type: "filter", hook: "forward", priority: 0,
                                  rules: [FirewallRule([.sourceIn(clusterCIDR)], counts: true, comment: "pod traffic forwarded by this node")]),
        ]
    }
}
