/// A node's Service ruleset as a value: one nftables table with its named sets and maps (with
/// elements) and its chains (with rules), in the small vocabulary of statements the Service
/// dataplane uses. `ServiceRules.generate` computes it, `ServiceRulesetDiff` compares two of
/// them, `ServiceTrace` walks it for one packet, and the agent lowers it to nftables objects
/// (and lifts the installed table back into it, to compare). Its `description` is the table
/// in the layout of `nft list table`.
public struct ServiceRuleset: Hashable, Sendable, CustomStringConvertible {
    /// The table's family (always `ip`: Services here are IPv4).
    public var family: String
    public var table: String
    public var sets: [NamedSet]
    public var chains: [Chain]

    public init(family: String = "ip", table: String, sets: [NamedSet] = [], chains: [Chain] = []) {
        self.family = family
        self.table = table
        self.sets = sets
        self.chains = chains
    }

    public func set(_ name: String) -> NamedSet? { sets.first { $0.name == name } }
    public func chain(_ name: String) -> Chain? { chains.first { $0.name == name } }

    /// Elements in all sets and maps (what a full sync sends besides the skeleton).
    public var elementCount: Int { sets.reduce(0) { $0 + $1.elements.count } }

    // MARK: Fields, values, verdicts

    /// A packet or metadata field a statement reads.
    public enum Field: Hashable, Sendable, CustomStringConvertible {
        case ipSaddr, ipDaddr, l4proto, thDport, mark
        /// `numgen random mod M offset O`: a random number in O..<O+M (with M = 1, the constant O).
        case numgen(modulus: UInt32, offset: UInt32)

        public var description: String {
            switch self {
            case .ipSaddr: "ip saddr"
            case .ipDaddr: "ip daddr"
            case .l4proto: "meta l4proto"
            case .thDport: "th dport"
            case .mark: "meta mark"
            case .numgen(let modulus, let offset): "numgen random mod \(modulus)" + (offset == 0 ? "" : " offset \(offset)")
            }
        }

        static func key(_ fields: [Field]) -> String { fields.map(\.description).joined(separator: " . ") }
    }

    /// What a rule or verdict map element does with the packet.
    public enum Verdict: Hashable, Sendable, CustomStringConvertible {
        case accept, drop, `return`
        case jump(String)
        case goto(String)

        public var description: String {
            switch self {
            case .accept: "accept"
            case .drop: "drop"
            case .return: "return"
            case .jump(let chain): "jump \(chain)"
            case .goto(let chain): "goto \(chain)"
            }
        }

        public var chain: String? {
            switch self {
            case .jump(let chain), .goto(let chain): chain
            default: nil
            }
        }
    }

    /// A value: a set element's key or data, or what a match compares with.
    public enum Value: Hashable, Sendable, CustomStringConvertible {
        case address(IPv4Address)
        /// An IP protocol number (`meta l4proto`), printed by name for TCP and UDP.
        case proto(UInt8)
        case port(UInt16)
        case integer(UInt32)
        case mark(UInt32)
        case verdict(Verdict)
        case concat([Value])

        public static func transport(_ proto: ServiceProtocol) -> Value { .proto(proto.number) }

        public var description: String {
            switch self {
            case .address(let a): "\(a)"
            case .proto(6): "tcp"
            case .proto(17): "udp"
            case .proto(let n): "\(n)"
            case .port(let p): "\(p)"
            case .integer(let i): "\(i)"
            case .mark(let m): "0x" + String(repeating: "0", count: max(0, 8 - String(m, radix: 16).count)) + String(m, radix: 16)
            case .verdict(let v): "\(v)"
            case .concat(let parts): parts.map(\.description).joined(separator: " . ")
            }
        }

        public var parts: [Value] {
            if case .concat(let parts) = self { return parts }
            return [self]
        }
    }

    /// How a rejected packet is answered.
    public enum Reject: Hashable, Sendable, CustomStringConvertible {
        /// A TCP reset: the client's connect fails with ECONNREFUSED at once.
        case tcpReset
        /// ICMP port unreachable (UDP clients see ECONNREFUSED on their next call).
        case icmpPortUnreachable

        public var description: String { self == .tcpReset ? "reject with tcp reset" : "reject" }
    }

    /// One step of a rule. Matches stop the rule when false; a verdict, NAT or reject ends it.
    public enum Statement: Hashable, Sendable, CustomStringConvertible {
        /// `meta l4proto tcp`, `ip daddr 192.168.200.11`, `numgen random mod 2 0`.
        case match(Field, Value)
        /// `ip saddr . ip daddr @hairpin`: true when the key is in the set.
        case lookup([Field], set: String)
        /// `ip daddr . meta l4proto . th dport vmap @service-ips`
        case verdictMap([Field], map: String)
        /// `dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @backends`
        case dnatMap([Field], map: String)
        /// `update @affinity { key timeout 10800s }`: adds the key, or refreshes its timeout.
        case update([Field], set: String, timeoutSeconds: UInt32)
        case setMark(UInt32)
        case masquerade
        case reject(Reject)
        case verdict(Verdict)
        /// Something listed from the kernel that this vocabulary has no word for, as nft prints it.
        case unknown(String)

        public var description: String {
            switch self {
            case .match(let field, let value): "\(field) \(value)"
            case .lookup(let fields, let set): "\(Field.key(fields)) @\(set)"
            case .verdictMap(let fields, let map): "\(Field.key(fields)) vmap @\(map)"
            case .dnatMap(let fields, let map): "dnat ip to \(Field.key(fields)) map @\(map)"
            case .update(let fields, let set, let timeout): "update @\(set) { \(Field.key(fields)) timeout \(timeout)s }"
            case .setMark(let mark): "meta mark set \(Value.mark(mark))"
            case .masquerade: "masquerade"
            case .reject(let reject): "\(reject)"
            case .verdict(let verdict): "\(verdict)"
            case .unknown(let text): text
            }
        }
    }

    public struct Rule: Hashable, Sendable, CustomStringConvertible {
        public var statements: [Statement]

        public init(_ statements: [Statement]) { self.statements = statements }

        public var description: String { statements.map(\.description).joined(separator: " ") }

        /// Chains this rule may continue in.
        public var chainReferences: [String] {
            statements.compactMap { if case .verdict(let v) = $0 { v.chain } else { nil } }
        }

        /// Sets and maps this rule reads or writes.
        public var setReferences: [String] {
            statements.compactMap { statement in
                switch statement {
                case .lookup(_, let set), .verdictMap(_, let set), .dnatMap(_, let set), .update(_, let set, _): set
                default: nil
                }
            }
        }
    }

    // MARK: Sets and chains

    /// One element: a key, and for maps its value (a verdict or data).
    public struct Element: Hashable, Sendable, CustomStringConvertible {
        public var key: Value
        public var data: Value?

        public init(_ key: Value, _ data: Value? = nil) {
            self.key = key
            self.data = data
        }

        public var description: String { data.map { "\(key) : \($0)" } ?? "\(key)" }
    }

    /// A named set or map. Keys (and map data) are declared by the fields they hold, as nft's
    /// `typeof`.
    public struct NamedSet: Hashable, Sendable, CustomStringConvertible {
        public enum Data: Hashable, Sendable, CustomStringConvertible {
            case verdict
            case fields([Field])

            public var description: String {
                switch self {
                case .verdict: "verdict"
                case .fields(let fields): Field.key(fields)
                }
            }
        }

        public var name: String
        public var key: [Field]
        public var data: Data?
        /// Elements are added by rules (`update @set`) and expire: the control plane never
        /// programs or compares them.
        public var isDynamic: Bool
        public var elements: [Element]

        public init(_ name: String, key: [Field], data: Data? = nil, isDynamic: Bool = false, elements: [Element] = []) {
            self.name = name
            self.key = key
            self.data = data
            self.isDynamic = isDynamic
            self.elements = elements
        }

        public var isMap: Bool { data != nil }

        /// The declaration without elements.
        public var declaration: NamedSet { NamedSet(name, key: key, data: data, isDynamic: isDynamic) }

        /// `map service-ips { typeof ip daddr . meta l4proto . th dport : verdict; }`
        public var description: String {
            "\(isMap ? "map" : "set") \(name) { typeof \(Field.key(key))\(data.map { " : \($0)" } ?? "");\(isDynamic ? " flags dynamic,timeout;" : "") }"
        }
    }

    /// Hook, type and priority of a base chain.
    public struct BaseChain: Hashable, Sendable, CustomStringConvertible {
        public var type: String
        public var hook: String
        public var priority: Int

        public init(type: String, hook: String, priority: Int) {
            self.type = type
            self.hook = hook
            self.priority = priority
        }

        public var description: String { "type \(type) hook \(hook) priority \(priority); policy accept;" }
    }

    public struct Chain: Hashable, Sendable {
        public var name: String
        public var base: BaseChain?
        public var rules: [Rule]

        public init(_ name: String, base: BaseChain? = nil, rules: [Rule] = []) {
            self.name = name
            self.base = base
            self.rules = rules
        }

        /// The chain without its rules.
        public var declaration: Chain { Chain(name, base: base) }
    }

    // MARK: Text

    /// The table as `nft list table` lays it out, one element per line.
    public var description: String {
        var lines = ["table \(family) \(table) {"]
        for set in sets {
            lines.append("\t\(set.isMap ? "map" : "set") \(set.name) {")
            lines.append("\t\ttypeof \(Field.key(set.key))" + (set.data.map { " : \($0)" } ?? ""))
            if set.isDynamic { lines.append("\t\tflags dynamic,timeout") }
            if !set.elements.isEmpty {
                lines.append("\t\telements = {")
                for element in set.elements { lines.append("\t\t\t\(element)") }
                lines.append("\t\t}")
            }
            lines.append("\t}")
        }
        for chain in chains {
            lines.append("\tchain \(chain.name) {")
            if let base = chain.base { lines.append("\t\t\(base)") }
            for rule in chain.rules { lines.append("\t\t\(rule)") }
            lines.append("\t}")
        }
        lines.append("}")
        return lines.joined(separator: "\n")
    }
}
