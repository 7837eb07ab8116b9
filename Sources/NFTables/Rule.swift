import Netns

/// A rule: a list of expressions in a chain.
public struct Rule: Hashable, Sendable, CustomStringConvertible {
    public var table: Table
    public var chain: String
    public var expressions: [Expression]
    /// `comment "…"` (at most 128 bytes).
    public var comment: String?
    /// The kernel's handle, filled in by listings; needed to delete one rule.
    public var handle: UInt64?

    public init(_ chain: Chain, _ expressions: [Expression], comment: String? = nil, handle: UInt64? = nil) {
        self.init(table: chain.table, chain: chain.name, expressions, comment: comment, handle: handle)
    }

    public init(table: Table, chain: String, _ expressions: [Expression], comment: String? = nil, handle: UInt64? = nil) {
        self.table = table
        self.chain = chain
        self.expressions = expressions
        self.comment = comment
        self.handle = handle
    }

    /// The rule in nft syntax, as `nft list` prints it: `ip saddr 10.244.0.0/16 masquerade`.
    public var description: String {
        var text = describe(expressions)
        if let comment { text += " comment \"\(comment)\"" }
        return text
    }

    /// The rule without kernel-assigned fields, and with counters zeroed: what a transaction adds.
    public var identity: Rule {
        Rule(table: table.identity, chain: chain, expressions.map { e in
            if case .counter = e { return .counter }
            return e
        }, comment: comment)
    }

    /// Packets and bytes of the rule's first counter, if it has one.
    public var counter: (packets: UInt64, bytes: UInt64)? {
        for case .counter(let packets, let bytes) in expressions { return (packets, bytes) }
        return nil
    }

    /// The most expressions one rule may have here (keeps every message well below 64 KiB).
    public static let maximumExpressions = 64

    /// Checks the rule on its own: names, value types, expression order and family.
    public func validate() throws(ValidationError) {
        try table.validate()
        try validateName(chain, field: "chain name")
        let label = "rule in chain \(chain)"
        if let comment {
            guard comment.utf8.count <= RuleUserdata.NFTNL_UDATA_COMMENT_MAXLEN, !comment.utf8.contains(0), !comment.contains("\"") else {
                throw ValidationError(field: "comment of \(label)", value: comment, reason: "a comment holds at most 128 bytes, without NUL or '\"'")
            }
        }
        guard !expressions.isEmpty else { throw ValidationError(field: label, value: "", reason: "a rule needs at least one expression") }
        guard expressions.count <= Rule.maximumExpressions else {
            throw ValidationError(field: label, value: "\(expressions.count) expressions", reason: "at most \(Rule.maximumExpressions) expressions per rule")
        }
        var sawTransportProtocol = false
        var sawTCP = false
        for (index, expression) in expressions.enumerated() {
            let text = expression.description
            if expression.isTerminal && index != expressions.count - 1 {
                throw ValidationError(field: label, value: description, reason: "'\(text)' ends the rule; nothing may follow it")
            }
            try validate(expression, label: label, sawTransportProtocol: sawTransportProtocol, sawTCP: sawTCP)
            if case .match(.l4proto, .equal, _) = expression { sawTransportProtocol = true }
            if case .match(.l4proto, .equal, .inetProtocol(.tcp)) = expression { sawTCP = true }
            if case .match(.ipProtocol, .equal, _) = expression { sawTransportProtocol = true }
        }
    }

    private func validate(_ expression: Expression, label: String, sawTransportProtocol: Bool, sawTCP: Bool) throws(ValidationError) {
        let text = expression.description
        func checkFields(_ fields: [Field]) throws(ValidationError) {
            guard !fields.isEmpty else { throw ValidationError(field: label, value: text, reason: "a lookup needs at least one field") }
            for field in fields {
                if field.isIPv4Header && table.family != .ip {
                    throw ValidationError(field: label, value: text, reason: "IPv4 header fields need a table of family ip (this one is \(table.family))")
                }
                if case .numgenRandom(let modulus, _) = field, modulus == 0 {
                    throw ValidationError(field: label, value: text, reason: "numgen needs a modulus of at least 1")
                }
            }
            let key = SetType.type(fields.map(\.dataType))
            guard key.length <= 64 else { throw ValidationError(field: label, value: text, reason: "the key is \(key.length) bytes; registers hold 64") }
        }
        func checkSetName(_ name: String) throws(ValidationError) { try validateName(name, field: "set name in \(label)") }
        switch expression {
        case .match(let field, let relation, let value):
            try checkFields([field])
            guard value.fits(field.dataType), value.parts.count == 1 else {
                throw ValidationError(field: label, value: text, reason: "\(field) compares with a \(field.dataType), not \(value)")
            }
            switch value {
            case .ipv4Range:
                throw ValidationError(field: label, value: text, reason: "match a prefix or a set, not a range")
            case .ifname(let name):
                guard !name.isEmpty, name.utf8.count < 16, !name.utf8.contains(0) else {
                    throw ValidationError(field: label, value: name, reason: "an interface name has 1–15 bytes")
                }
            case .ctState(let state):
                guard state.rawValue != 0 else { throw ValidationError(field: label, value: text, reason: "name at least one conntrack state") }
            default:
                break
            }
            _ = relation
        case .lookup(let fields, let set, _):
            try checkFields(fields)
            try checkSetName(set)
        case .counter, .masquerade:
            break
        case .verdict(let verdict):
            if let chain = verdict.chain { try validateName(chain, field: "target chain in \(label)") }
        case .verdictMap(let fields, let map):
            try checkFields(fields)
            switch map {
            case .named(let name):
                try checkSetName(name)
            case .anonymous(let elements):
                guard !elements.isEmpty else { throw ValidationError(field: label, value: text, reason: "an anonymous map needs elements") }
                let type = SetType.type(fields.map(\.dataType))
                for element in elements {
                    try element.key.check(against: type, field: "key in \(label)", allowIntervals: false)
                    guard case .verdict(let verdict)? = element.data else {
                        throw ValidationError(field: label, value: element.description, reason: "a verdict map element needs a verdict")
                    }
                    if let chain = verdict.chain { try validateName(chain, field: "target chain in \(label)") }
                }
            }
        case .setMark:
            break
        case .setMarkFromMap(let fields, let map), .dnatMap(let fields, let map):
            try checkFields(fields)
            try checkSetName(map)
            if case .dnatMap = expression, table.family == .ip6 {
                throw ValidationError(field: label, value: text, reason: "IPv4 DNAT needs a table of family ip or inet")
            }
        case .dnat(_, let port):
            if table.family == .ip6 { throw ValidationError(field: label, value: text, reason: "IPv4 DNAT needs a table of family ip or inet") }
            if port != nil && !sawTransportProtocol {
                throw ValidationError(field: label, value: text, reason: "a port mapping needs an earlier transport protocol match (meta l4proto tcp)")
            }
        case .reject(let reject):
            if reject == .tcpReset && !sawTCP {
                throw ValidationError(field: label, value: text, reason: "a TCP reset needs an earlier meta l4proto tcp match")
            }
            if table.family == .ip6 { throw ValidationError(field: label, value: text, reason: "an IPv4 reject needs a table of family ip or inet") }
        case .updateSet(let fields, let set, _):
            try checkFields(fields)
            try checkSetName(set)
        case .redirect:
            if !sawTransportProtocol {
                throw ValidationError(field: label, value: text, reason: "a port mapping needs an earlier transport protocol match (meta l4proto tcp)")
            }
        case .limit(let perSecond, _):
            guard perSecond > 0 else { throw ValidationError(field: label, value: text, reason: "a rate limit needs a rate of at least 1/second") }
        case .log(_, let prefix):
            // NF_LOG_PREFIXLEN (128) with its terminating NUL.
            guard prefix.utf8.count < 128, !prefix.utf8.contains(0) else {
                throw ValidationError(field: label, value: text, reason: "a log prefix has at most 127 bytes")
            }
        case .unsupported:
            throw ValidationError(field: label, value: text, reason: "listed bytecode that podlab does not model cannot be sent back")
        }
    }
}
