/// A node's NetworkPolicy ruleset as a value: `table ip podlab-policy`, its named sets and
/// maps with their elements, and its fixed chains. `PolicyRules.generate` computes it,
/// `PolicyTrace` walks it for one packet, and the agent lowers it to nftables objects.
///
/// The number of chains and rules is fixed; what policies and pods say lives in elements:
/// every address the lab knows has an identity (a number: addresses that every peer of every
/// policy treats alike share one), and an isolated pod's allowed peers are map elements keyed
/// by the pod's address and the peer's identity (and protocol and port).
public struct PolicyRuleset: Hashable, Sendable, CustomStringConvertible {
    public static let table = "podlab-policy"
    /// The mark the Service rules put on NodePort traffic (masqueraded in postrouting): the
    /// policy chains borrow the mark for identities and put this back.
    public static let nodePortMark: UInt32 = 0x4000

    public var sets: [NamedSet]
    public var chains: [Chain]
    /// The rules each verdict-map element stands for (by map and key), for traces; not in the kernel.
    public var reasons: [ElementKey: [PolicyRuleReference]]

    public init(sets: [NamedSet] = [], chains: [Chain] = [], reasons: [ElementKey: [PolicyRuleReference]] = [:]) {
        self.sets = sets
        self.chains = chains
        self.reasons = reasons
    }

    public func set(_ name: String) -> NamedSet? { sets.first { $0.name == name } }
    public func chain(_ name: String) -> Chain? { chains.first { $0.name == name } }

    public var elementCount: Int { sets.reduce(0) { $0 + $1.elements.count } }

    /// The same ruleset without what the kernel does not hold (reasons), to compare with a read-back.
    public var kernelView: PolicyRuleset { PolicyRuleset(sets: sets, chains: chains) }

    /// Elements to take out of and put into the named sets, as one transaction sends them (a
    /// key whose data changed is in both).
    public struct Delta: Hashable, Sendable, CustomStringConvertible {
        public var removed: [String: [Element]]
        public var added: [String: [Element]]

        public init(removed: [String: [Element]] = [:], added: [String: [Element]] = [:]) {
            self.removed = removed
            self.added = added
        }

        public var isEmpty: Bool { count == 0 }
        public var count: Int { removed.values.reduce(0) { $0 + $1.count } + added.values.reduce(0) { $0 + $1.count } }

        /// The same delta with each set's elements in a stable order.
        public func sorted() -> Delta {
            // Each element's description made once, not twice a comparison (it was a seventh of a label change).
            func sorted(_ elements: [Element]) -> [Element] {
                elements.map { ($0.description, $0) }.sorted { $0.0 < $1.0 }.map(\.1)
            }
            return Delta(removed: removed.mapValues(sorted), added: added.mapValues(sorted))
        }

        public var description: String {
            var lines: [String] = []
            for set in Set(removed.keys).union(added.keys).sorted() {
                for element in removed[set] ?? [] { lines.append("- \(set) \(element)") }
                for element in added[set] ?? [] { lines.append("+ \(set) \(element)") }
            }
            return lines.joined(separator: "\n")
        }
    }

    /// The ruleset with `delta`'s elements taken out and put in (the rules' reasons are left as
    /// they were).
    public func applying(_ delta: Delta) -> PolicyRuleset {
        var result = self
        result.sets = sets.map { set in
            var elements = Set(set.elements)
            elements.subtract(delta.removed[set.name] ?? [])
            elements.formUnion(delta.added[set.name] ?? [])
            return NamedSet(set.name, key: set.key, data: set.data, elements: Array(elements))
        }
        return result
    }

    public struct ElementKey: Hashable, Sendable {
        public let set: String
        public let key: Value
        /// The set and key hashed once, when the key is made: an index keeps a key in several
        /// tables and looks it up many times, and hashing a concatenation walks its parts.
        private let digest: Int

        public init(set: String, key: Value) {
            self.set = set
            self.key = key
            var hasher = Hasher()
            hasher.combine(set)
            hasher.combine(key)
            digest = hasher.finalize()
        }

        public static func == (a: ElementKey, b: ElementKey) -> Bool { a.digest == b.digest && a.set == b.set && a.key == b.key }
        public func hash(into hasher: inout Hasher) { hasher.combine(digest) }
    }

    public enum Field: Hashable, Sendable, CustomStringConvertible {
        case ipSaddr, ipDaddr, l4proto, thDport, mark

        public var description: String {
            switch self {
            case .ipSaddr: "ip saddr"
            case .ipDaddr: "ip daddr"
            case .l4proto: "meta l4proto"
            case .thDport: "th dport"
            case .mark: "meta mark"
            }
        }

        static func key(_ fields: [Field]) -> String { fields.map(\.description).joined(separator: " . ") }
    }

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
    }

    public enum Value: Hashable, Sendable, CustomStringConvertible {
        case address(IPv4Address)
        case proto(UInt8)
        case port(UInt16)
        case mark(UInt32)
        case verdict(Verdict)
        case concat([Value])

        public var description: String {
            switch self {
            case .address(let a): "\(a)"
            case .proto(6): "tcp"
            case .proto(17): "udp"
            case .proto(let n): "\(n)"
            case .port(let p): "\(p)"
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

    public enum Statement: Hashable, Sendable, CustomStringConvertible {
        /// `ct state established,related`: a packet of a connection already allowed (or its reply).
        case ctEstablishedOrRelated
        case match(Field, Value)
        case lookup([Field], set: String)
        case verdictMap([Field], map: String)
        case setMark(UInt32)
        /// `meta mark set ip saddr map @identities`; a key not in the map leaves the mark as it was.
        case setMarkFromMap([Field], map: String)
        /// Packets and bytes are the kernel's; the value only says a counter is there.
        case counter
        /// `limit rate N/second burst B packets`: a match while under the rate.
        case limit(perSecond: UInt64, burst: UInt32)
        /// `log prefix "…" group G`: a copy to the node's nflog group (`PolicyLog`).
        case log(group: UInt16, prefix: String)
        case verdict(Verdict)
        case unknown(String)

        public var description: String {
            switch self {
            case .ctEstablishedOrRelated: "ct state established,related"
            case .match(let field, let value): "\(field) \(value)"
            case .lookup(let fields, let set): "\(Field.key(fields)) @\(set)"
            case .verdictMap(let fields, let map): "\(Field.key(fields)) vmap @\(map)"
            case .setMark(let mark): "meta mark set \(Value.mark(mark))"
            case .setMarkFromMap(let fields, let map): "meta mark set \(Field.key(fields)) map @\(map)"
            case .counter: "counter"
            case .limit(let perSecond, let burst): "limit rate \(perSecond)/second burst \(burst) packets"
            case .log(let group, let prefix): "log prefix \"\(prefix)\" group \(group)"
            case .verdict(let verdict): "\(verdict)"
            case .unknown(let text): text
            }
        }
    }

    public struct Rule: Hashable, Sendable, CustomStringConvertible {
        public var statements: [Statement]
        public init(_ statements: [Statement]) { self.statements = statements }
        public var description: String { statements.map(\.description).joined(separator: " ") }
    }

    public struct Element: Hashable, Sendable, CustomStringConvertible {
        public var key: Value
        public var data: Value?

        public init(_ key: Value, _ data: Value? = nil) {
            self.key = key
            self.data = data
        }

        public var description: String { data.map { "\(key) : \($0)" } ?? "\(key)" }
    }

    public struct NamedSet: Hashable, Sendable {
        public enum Data: Hashable, Sendable, CustomStringConvertible {
            case verdict
            case mark

            public var description: String { self == .verdict ? "verdict" : "meta mark" }
        }

        public var name: String
        public var key: [Field]
        public var data: Data?
        /// Sorted, so two values with the same elements compare equal.
        public var elements: [Element]

        public init(_ name: String, key: [Field], data: Data? = nil, elements: [Element] = []) {
            self.name = name
            self.key = key
            self.data = data
            self.elements = elements.sorted { $0.description < $1.description }
        }

        public var isMap: Bool { data != nil }
        public var declaration: NamedSet { NamedSet(name, key: key, data: data) }
    }

    public struct BaseChain: Hashable, Sendable, CustomStringConvertible {
        public var hook: String
        public var priority: Int

        public init(hook: String, priority: Int) {
            self.hook = hook
            self.priority = priority
        }

        public var description: String { "type filter hook \(hook) priority \(priority); policy accept;" }
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
    }

    /// The table as `nft list table` lays it out.
    public var description: String {
        var lines = ["table ip \(PolicyRuleset.table) {"]
        for set in sets {
            lines.append("\t\(set.isMap ? "map" : "set") \(set.name) {")
            lines.append("\t\ttypeof \(Field.key(set.key))" + (set.data.map { " : \($0)" } ?? ""))
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
