import Addressing

/// A packet or metadata field a rule reads: the left-hand side of matches, the key of lookups.
public enum Field: Hashable, Sendable, CustomStringConvertible {
    /// `ip saddr`
    case ipSaddr
    /// `ip daddr`
    case ipDaddr
    /// `ip protocol`
    case ipProtocol
    /// `th sport`: the transport header's source port (TCP, UDP, SCTP, …)
    case thSport
    /// `th dport`
    case thDport
    /// `meta l4proto`
    case l4proto
    /// `iifname`
    case iifname
    /// `oifname`
    case oifname
    /// `meta mark`
    case mark
    /// `meta skuid`
    case skuid
    /// `ct state`
    case ctState
    /// `numgen random mod N [offset O]`
    case numgenRandom(modulus: UInt32, offset: UInt32 = 0)
    /// `fib daddr type`: the route type of the destination address (`local` for the host's own
    /// addresses), what port mappings match on.
    case fibDaddrType

    /// The datatype of the field's value.
    public var dataType: DataType {
        switch self {
        case .ipSaddr, .ipDaddr: .ipv4Address
        case .ipProtocol, .l4proto: .inetProtocol
        case .thSport, .thDport: .inetService
        case .iifname, .oifname: .ifname
        case .mark: .mark
        case .skuid: .uid
        case .ctState: .ctState
        case .numgenRandom: .integer
        case .fibDaddrType: .integer
        }
    }

    /// True for fields of the IPv4 header, which only IPv4 packets have.
    var isIPv4Header: Bool {
        switch self {
        case .ipSaddr, .ipDaddr, .ipProtocol: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .ipSaddr: "ip saddr"
        case .ipDaddr: "ip daddr"
        case .ipProtocol: "ip protocol"
        case .thSport: "th sport"
        case .thDport: "th dport"
        case .l4proto: "meta l4proto"
        case .iifname: "iifname"
        case .oifname: "oifname"
        case .mark: "meta mark"
        case .skuid: "meta skuid"
        case .ctState: "ct state"
        case .numgenRandom(let modulus, let offset): offset == 0 ? "numgen random mod \(modulus)" : "numgen random mod \(modulus) offset \(offset)"
        case .fibDaddrType: "fib daddr type"
        }
    }
}

/// How `reject` answers (`enum nft_reject_types`).
public enum Reject: Hashable, Sendable, CustomStringConvertible {
    /// A TCP reset.
    case tcpReset
    /// ICMP port unreachable.
    case icmpPortUnreachable

    public var description: String { self == .tcpReset ? "reject with tcp reset" : "reject" }
}

/// `==` or `!=`.
public enum Relation: Hashable, Sendable {
    case equal, notEqual
}

/// Where a verdict map or data map comes from: a named map of the table, or an anonymous
/// constant map written into the rule (`{ 0 : jump a, 1 : jump b }`).
public enum MapReference: Hashable, Sendable, CustomStringConvertible {
    case named(String)
    case anonymous([SetElement])

    public var description: String {
        switch self {
        case .named(let name): "@\(name)"
        case .anonymous(let elements): "{ " + elements.map(\.description).joined(separator: ", ") + " }"
        }
    }
}

/// One step of a rule, in nft's vocabulary. A rule is a list of these, evaluated left to right:
/// matches stop the rule when they fail, statements act, a verdict ends evaluation.
public enum Expression: Hashable, Sendable, CustomStringConvertible {
    /// `ip saddr 10.244.0.0/16`, `iifname != "eth0"`, `th dport 80`, `ct state established,related`.
    /// For `ct state` (a bitmask) `.equal` is true when any of the listed states applies and
    /// `.notEqual` when none does (`ct state ! new`).
    case match(Field, Relation, Value)
    /// `ip saddr @pods`, `ip daddr . th dport != @allowed`: membership in a named set.
    case lookup([Field], set: String, negated: Bool)
    /// `counter`, with the kernel's counts when listed.
    case counter(packets: UInt64, bytes: UInt64)
    /// `accept`, `drop`, `return`, `jump chain`, `goto chain`.
    case verdict(Verdict)
    /// `ip daddr . meta l4proto . th dport vmap @service-ips`, `numgen random mod 2 vmap { 0 : jump a, 1 : jump b }`.
    case verdictMap([Field], MapReference)
    /// `meta mark set 0x00000020`.
    case setMark(UInt32)
    /// `meta mark set ip saddr map @marks`.
    case setMarkFromMap([Field], map: String)
    /// `masquerade`, optionally `fully-random`.
    case masquerade(fullyRandom: Bool)
    /// `dnat to 10.1.0.1:8080` (the port needs an earlier transport protocol match).
    case dnat(IPv4Address, port: UInt16?)
    /// `dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @backends`:
    /// the map's data is `ipv4_addr . inet_service`.
    case dnatMap([Field], map: String)
    /// `redirect to :15001`.
    case redirect(port: UInt16)
    /// `reject with tcp reset` (needs an earlier `meta l4proto tcp`), or `reject`: ICMP port unreachable.
    case reject(Reject)
    /// `update @affinity { ip saddr . ip daddr timeout 10800s }`: adds the key to a dynamic set,
    /// or refreshes its timeout (nil: the set's default).
    case updateSet([Field], set: String, timeoutMilliseconds: UInt64?)
    /// `limit rate 10/second burst 5 packets`: a match true for at most `perSecond` packets a
    /// second after a burst of `burst` more.
    case limit(perSecond: UInt64, burst: UInt32)
    /// `log prefix "…" group 13`: a copy of the packet to the nflog group (nfnetlink_log), which
    /// works in any network namespace, unlike the kernel log.
    case log(group: UInt16, prefix: String)
    /// Bytecode this library does not model, listed back in nft's debug notation.
    case unsupported(String)

    /// `counter` with zero counts.
    public static var counter: Expression { .counter(packets: 0, bytes: 0) }
    /// `masquerade`.
    public static var masquerade: Expression { .masquerade(fullyRandom: false) }
    /// `field value`.
    public static func match(_ field: Field, _ value: Value) -> Expression { .match(field, .equal, value) }
    /// `fib daddr type local`: the destination is one of the host's own addresses.
    public static var destinationIsLocal: Expression { .match(.fibDaddrType, .equal, .integer(Kernel.RTN_LOCAL)) }
    /// `fields @set`.
    public static func lookup(_ fields: [Field], set: String) -> Expression { .lookup(fields, set: set, negated: false) }
    /// `field @set`.
    public static func lookup(_ field: Field, set: String) -> Expression { .lookup([field], set: set, negated: false) }
    /// `accept`.
    public static var accept: Expression { .verdict(.accept) }
    /// `drop`.
    public static var drop: Expression { .verdict(.drop) }
    /// `jump chain`.
    public static func jump(_ chain: String) -> Expression { .verdict(.jump(chain)) }
    /// `goto chain`.
    public static func goto(_ chain: String) -> Expression { .verdict(.goto(chain)) }

    public var description: String {
        switch self {
        case .match(.ctState, let relation, let value):
            // A bitmask: `ct state a,b` (any of them), `ct state ! a,b` (none of them).
            return "ct state \(relation == .notEqual ? "! " : "")\(value)"
        case .match(.fibDaddrType, let relation, .integer(Kernel.RTN_LOCAL)):
            return "fib daddr type \(relation == .notEqual ? "!= " : "")local"
        case .match(let field, let relation, let value):
            return "\(field) \(relation == .notEqual ? "!= " : "")\(value)"
        case .lookup(let fields, let set, let negated):
            return "\(Expression.key(fields)) \(negated ? "!= " : "")@\(set)"
        case .counter(let packets, let bytes):
            return "counter packets \(packets) bytes \(bytes)"
        case .verdict(let verdict):
            return "\(verdict)"
        case .verdictMap(let fields, let map):
            return "\(Expression.key(fields)) vmap \(map)"
        case .setMark(let mark):
            return "meta mark set \(format0x(mark))"
        case .setMarkFromMap(let fields, let map):
            return "meta mark set \(Expression.key(fields)) map @\(map)"
        case .masquerade(let fullyRandom):
            return fullyRandom ? "masquerade fully-random" : "masquerade"
        case .dnat(let address, let port):
            return port.map { "dnat to \(address):\($0)" } ?? "dnat to \(address)"
        case .dnatMap(let fields, let map):
            return "dnat ip to \(Expression.key(fields)) map @\(map)"
        case .redirect(let port):
            return "redirect to :\(port)"
        case .reject(let reject):
            return "\(reject)"
        case .updateSet(let fields, let set, let timeout):
            return "update @\(set) { \(Expression.key(fields))" + (timeout.map { " timeout \($0)ms" } ?? "") + " }"
        case .limit(let perSecond, let burst):
            return "limit rate \(perSecond)/second burst \(burst) packets"
        case .log(let group, let prefix):
            return "log prefix \"\(prefix)\" group \(group)"
        case .unsupported(let text):
            return "# unsupported: \(text)"
        }
    }

    static func key(_ fields: [Field]) -> String { fields.map(\.description).joined(separator: " . ") }

    /// Is this expression a verdict (or a verdict map), which ends the rule?
    var isTerminal: Bool {
        switch self {
        case .verdict, .verdictMap, .reject: true
        default: false
        }
    }

    /// The named set or map this expression reads, if any.
    public var setReference: String? {
        switch self {
        case .lookup(_, let set, _): set
        case .verdictMap(_, .named(let name)): name
        case .setMarkFromMap(_, let map), .dnatMap(_, let map): map
        case .updateSet(_, let set, _): set
        default: nil
        }
    }

    /// Chains this expression may jump or go to.
    public var chainReferences: [String] {
        switch self {
        case .verdict(let v): v.chain.map { [$0] } ?? []
        case .verdictMap(_, .anonymous(let elements)): elements.compactMap { if case .verdict(let v)? = $0.data { v.chain } else { nil } }
        default: []
        }
    }
}

/// nft's printing of an expression list: adjacent `meta l4proto tcp` and `th dport 80` read
/// as `tcp dport 80`, the way `nft list` shows them.
func describe(_ expressions: [Expression]) -> String {
    var parts: [String] = []
    var index = 0
    while index < expressions.count {
        let expression = expressions[index]
        if case .match(.l4proto, .equal, .inetProtocol(let proto)) = expression, proto == .tcp || proto == .udp,
           index + 1 < expressions.count,
           case .match(let field, let relation, let value) = expressions[index + 1], field == .thSport || field == .thDport {
            let name = field == .thSport ? "sport" : "dport"
            parts.append("\(proto) \(name) \(relation == .notEqual ? "!= " : "")\(value)")
            index += 2
            continue
        }
        parts.append(expression.description)
        index += 1
    }
    return parts.joined(separator: " ")
}
