import Netns
import Addressing

/// An nft datatype: what a set key, map value or matched field holds, with its size and the
/// byte order the kernel compares it in.
public enum DataType: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// A verdict (map data only): `accept`, `drop`, `jump chain`, ….
    case verdict
    case ipv4Address = "ipv4_addr"
    case ipv6Address = "ipv6_addr"
    /// An IP protocol number (`tcp`, `udp`, …): one byte.
    case inetProtocol = "inet_proto"
    /// A TCP/UDP port, two bytes in network order.
    case inetService = "inet_service"
    /// A packet mark, 32 bits in host order.
    case mark
    /// An interface name, 16 bytes NUL-padded.
    case ifname
    /// A user id (`meta skuid`).
    case uid
    /// A conntrack state bitmask (`ct state`).
    case ctState = "ct_state"
    /// A plain 32-bit number in host order (for example `numgen random mod N`).
    case integer

    public var description: String { rawValue }

    /// The nft userspace datatype id (`TYPE_*`).
    var kernelID: UInt32 {
        switch self {
        case .verdict: NFTDatatypeID.TYPE_VERDICT
        case .ipv4Address: NFTDatatypeID.TYPE_IPADDR
        case .ipv6Address: NFTDatatypeID.TYPE_IP6ADDR
        case .inetProtocol: NFTDatatypeID.TYPE_INET_PROTOCOL
        case .inetService: NFTDatatypeID.TYPE_INET_SERVICE
        case .mark: NFTDatatypeID.TYPE_MARK
        case .ifname: NFTDatatypeID.TYPE_IFNAME
        case .uid: NFTDatatypeID.TYPE_UID
        case .ctState: NFTDatatypeID.TYPE_CT_STATE
        case .integer: NFTDatatypeID.TYPE_INTEGER
        }
    }

    init?(kernelID: UInt32) {
        guard let match = DataType.allCases.first(where: { $0.kernelID == kernelID }) else { return nil }
        self = match
    }

    /// Size in bytes as stored in a register (a verdict is a 16-byte `struct nft_verdict`).
    public var size: Int {
        switch self {
        case .verdict: 16
        case .ipv4Address, .mark, .uid, .ctState, .integer: 4
        case .ipv6Address, .ifname: 16
        case .inetProtocol: 1
        case .inetService: 2
        }
    }

    /// nft's byte order for the type (`BYTEORDER_*`), recorded in set user data.
    var byteOrder: UInt32 {
        switch self {
        case .verdict: SetUserdata.BYTEORDER_INVALID
        case .ipv4Address, .ipv6Address, .inetProtocol, .inetService: SetUserdata.BYTEORDER_BIG_ENDIAN
        case .mark, .ifname, .uid, .ctState, .integer: SetUserdata.BYTEORDER_HOST_ENDIAN
        }
    }
}

/// The type of a set key or map value: one datatype or a concatenation
/// (`ipv4_addr . inet_proto . inet_service`), declared either by type or — like nft's
/// `typeof` — by the fields whose values it holds (needed when a component has no fixed-size
/// named type, such as `numgen random mod N`).
public struct SetType: Hashable, Sendable, CustomStringConvertible {
    /// The component datatypes, in order.
    public let components: [DataType]
    /// The fields the type was declared from (`typeof`), or nil for a plain `type`.
    public let fields: [Field]?

    /// `type a . b . c`
    public static func type(_ components: DataType...) -> SetType { SetType(components: components, fields: nil) }
    /// `type a . b . c` from an array.
    public static func type(_ components: [DataType]) -> SetType { SetType(components: components, fields: nil) }
    /// `typeof field . field`
    public static func typeof(_ fields: Field...) -> SetType { typeof(fields) }
    /// `typeof field . field` from an array.
    public static func typeof(_ fields: [Field]) -> SetType { SetType(components: fields.map(\.dataType), fields: fields) }
    /// Verdict data: `: verdict`.
    public static let verdict = SetType.type(.verdict)

    init(components: [DataType], fields: [Field]?) {
        self.components = components
        self.fields = fields
    }

    public var isConcatenation: Bool { components.count > 1 }
    public var isVerdict: Bool { components == [.verdict] }

    /// nft's text: `ipv4_addr . inet_service`, or `typeof ip daddr . th dport`.
    public var description: String {
        if let fields { return "typeof " + fields.map(\.description).joined(separator: " . ") }
        return components.map(\.rawValue).joined(separator: " . ")
    }

    /// The id stored in `NFTA_SET_KEY_TYPE`/`NFTA_SET_DATA_TYPE`.
    var kernelType: UInt32 {
        if isVerdict { return Kernel.NFT_DATA_VERDICT }
        return components.reduce(0) { $0 << NFTDatatypeID.TYPE_BITS | $1.kernelID }
    }

    /// Bytes in a register: concatenation components each start on a 4-byte boundary.
    var length: Int {
        if components.count == 1 { return components[0].size }
        return components.reduce(0) { $0 + ($1.size + 3) / 4 * 4 }
    }

    /// Registers (32-bit) the value occupies.
    var registerCount: Int { components.reduce(0) { $0 + ($1.size + 3) / 4 } }

    var byteOrder: UInt32 { components.count == 1 ? components[0].byteOrder : SetUserdata.BYTEORDER_INVALID }

    /// Decodes a kernel type id back into components; nil if one is unknown.
    init?(kernelType: UInt32, length: Int) {
        if kernelType == Kernel.NFT_DATA_VERDICT { self = .verdict; return }
        var ids: [UInt32] = []
        var rest = kernelType
        while rest != 0 {
            ids.insert(rest & ((1 << NFTDatatypeID.TYPE_BITS) - 1), at: 0)
            rest >>= NFTDatatypeID.TYPE_BITS
        }
        let types = ids.compactMap(DataType.init(kernelID:))
        guard !types.isEmpty, types.count == ids.count else { return nil }
        self.init(components: types, fields: nil)
        guard self.length == length else { return nil }
    }

    /// Validates the type for use as a set key (`forData: false`) or map value.
    func validate(forData: Bool, field: String) throws(ValidationError) {
        guard !components.isEmpty else { throw ValidationError(field: field, value: description, reason: "needs at least one datatype") }
        if components.contains(.verdict) && (!forData || components.count > 1) {
            throw ValidationError(field: field, value: description, reason: "verdict can only be the whole value of a map")
        }
        // The kernel's registers hold at most 64 bytes (NFT_REG32_COUNT × 4).
        guard length <= 64 else {
            throw ValidationError(field: field, value: description, reason: "is \(length) bytes long; a key or value holds at most 64 bytes")
        }
        guard components.count <= 5 else {
            throw ValidationError(field: field, value: description, reason: "concatenates \(components.count) types; nft stores at most 5 in a type id")
        }
    }
}

/// An IP protocol number, printed by name where nft has one.
public struct InetProtocol: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let icmp = InetProtocol(rawValue: 1)
    public static let tcp = InetProtocol(rawValue: 6)
    public static let udp = InetProtocol(rawValue: 17)
    public static let icmpv6 = InetProtocol(rawValue: 58)
    public static let sctp = InetProtocol(rawValue: 132)

    public var description: String {
        switch rawValue {
        case 1: "icmp"
        case 6: "tcp"
        case 17: "udp"
        case 58: "ipv6-icmp"
        case 132: "sctp"
        default: "\(rawValue)"
        }
    }
}

/// Conntrack states, a bitmask as the kernel keeps it (`NF_CT_STATE_*_BIT`).
public struct ConntrackState: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// NF_CT_STATE_INVALID_BIT
    public static let invalid = ConntrackState(rawValue: 1 << 0)
    /// NF_CT_STATE_BIT(IP_CT_ESTABLISHED)
    public static let established = ConntrackState(rawValue: 1 << 1)
    /// NF_CT_STATE_BIT(IP_CT_RELATED)
    public static let related = ConntrackState(rawValue: 1 << 2)
    /// NF_CT_STATE_BIT(IP_CT_NEW)
    public static let new = ConntrackState(rawValue: 1 << 3)
    /// NF_CT_STATE_UNTRACKED_BIT
    public static let untracked = ConntrackState(rawValue: 1 << 6)

    /// nft's order and names: `invalid,established,related,new,untracked`.
    public var description: String {
        let names: [(ConntrackState, String)] = [(.invalid, "invalid"), (.established, "established"), (.related, "related"), (.new, "new"), (.untracked, "untracked")]
        var parts = names.filter { contains($0.0) }.map(\.1)
        let known = names.reduce(0) { $0 | $1.0.rawValue }
        if rawValue & ~known != 0 { parts.append(String(format0x(rawValue & ~known))) }
        return parts.isEmpty ? "0x0" : parts.joined(separator: ",")
    }
}

/// A verdict: what a rule or a verdict map does with the packet.
public enum Verdict: Hashable, Sendable, CustomStringConvertible {
    case accept
    case drop
    case `continue`
    /// Back to the calling chain.
    case `return`
    /// Into another chain, returning afterwards.
    case jump(String)
    /// Into another chain, without return.
    case goto(String)

    public var description: String {
        switch self {
        case .accept: "accept"
        case .drop: "drop"
        case .continue: "continue"
        case .return: "return"
        case .jump(let chain): "jump \(chain)"
        case .goto(let chain): "goto \(chain)"
        }
    }

    /// The chain a jump or goto names.
    public var chain: String? {
        switch self {
        case .jump(let chain), .goto(let chain): chain
        default: nil
        }
    }

    var code: Int32 {
        switch self {
        case .accept: Kernel.NF_ACCEPT
        case .drop: Kernel.NF_DROP
        case .continue: Kernel.NFT_CONTINUE
        case .return: Kernel.NFT_RETURN
        case .jump: Kernel.NFT_JUMP
        case .goto: Kernel.NFT_GOTO
        }
    }

    init?(code: Int32, chain: String?) {
        switch code {
        case Kernel.NF_ACCEPT: self = .accept
        case Kernel.NF_DROP: self = .drop
        case Kernel.NFT_CONTINUE: self = .continue
        case Kernel.NFT_RETURN: self = .return
        case Kernel.NFT_JUMP: guard let chain else { return nil }; self = .jump(chain)
        case Kernel.NFT_GOTO: guard let chain else { return nil }; self = .goto(chain)
        default: return nil
        }
    }
}

/// A typed value: a set element's key or data, or the right-hand side of a match.
public enum Value: Hashable, Sendable, CustomStringConvertible {
    case ipv4(IPv4Address)
    /// A prefix: a match (`ip saddr 10.244.0.0/16`) or a key of an interval set.
    case ipv4Prefix(IPv4Prefix)
    /// An address range that is not a prefix (listed back from an interval set).
    case ipv4Range(IPv4Address, IPv4Address)
    case inetProtocol(InetProtocol)
    /// A port (`inet_service`).
    case port(UInt16)
    case ifname(String)
    case mark(UInt32)
    case uid(UInt32)
    case ctState(ConntrackState)
    case integer(UInt32)
    case verdict(Verdict)
    /// A concatenation: `10.96.0.10 . tcp . 80`.
    case concat([Value])

    /// nft's text for the value.
    public var description: String {
        switch self {
        case .ipv4(let a): "\(a)"
        case .ipv4Prefix(let p): "\(p)"
        case .ipv4Range(let a, let b): "\(a)-\(b)"
        case .inetProtocol(let p): "\(p)"
        case .port(let p): "\(p)"
        case .ifname(let n): "\"\(n)\""
        case .mark(let m): format0x(m)
        case .uid(let u): "\(u)"
        case .ctState(let s): "\(s)"
        case .integer(let i): "\(i)"
        case .verdict(let v): "\(v)"
        case .concat(let parts): parts.map(\.description).joined(separator: " . ")
        }
    }

    /// The components of a concatenation (or the value itself).
    var parts: [Value] {
        if case .concat(let parts) = self { return parts }
        return [self]
    }

    /// True when the value fits `type` (a prefix or range fits an address type).
    func fits(_ type: DataType) -> Bool {
        switch (self, type) {
        case (.ipv4, .ipv4Address), (.ipv4Prefix, .ipv4Address), (.ipv4Range, .ipv4Address),
             (.inetProtocol, .inetProtocol), (.port, .inetService), (.ifname, .ifname), (.mark, .mark),
             (.uid, .uid), (.ctState, .ctState), (.integer, .integer), (.verdict, .verdict):
            true
        default:
            false
        }
    }

    /// Checks the value against `type` (component by component for concatenations).
    func check(against type: SetType, field label: @autoclosure () -> String, allowIntervals: Bool) throws(ValidationError) {
        let parts = self.parts
        guard parts.count == type.components.count else {
            throw ValidationError(field: label(), value: description, reason: "has \(parts.count) component(s); the type \(type) has \(type.components.count)")
        }
        for (part, component) in zip(parts, type.components) {
            guard part.fits(component) else {
                throw ValidationError(field: label(), value: description, reason: "\(part) is not a \(component)")
            }
            var isInterval = false
            if case .ipv4Prefix(let p) = part, p.length < 32 { isInterval = true }
            if case .ipv4Range = part { isInterval = true }
            if isInterval && (!allowIntervals || parts.count != 1) {
                throw ValidationError(field: label(), value: description, reason: "a prefix or range needs a set with flags interval (and no concatenation)")
            }
            switch part {
            case .ifname(let name):
                guard !name.isEmpty, name.utf8.count < 16, !name.utf8.contains(0) else {
                    throw ValidationError(field: label(), value: name, reason: "an interface name has 1–15 bytes")
                }
            default:
                break
            }
        }
    }

    /// The bytes of one (non-concatenated, non-range) value as the kernel compares them.
    func scalarBytes() -> [UInt8] {
        switch self {
        case .ipv4(let a): a.octets
        case .ipv4Prefix(let p): p.network.octets
        case .ipv4Range(let a, _): a.octets
        case .inetProtocol(let p): [p.rawValue]
        case .port(let p): [UInt8(p >> 8), UInt8(p & 0xFF)]
        case .ifname(let n): Array((Array(n.utf8) + [UInt8](repeating: 0, count: 16)).prefix(16))
        case .mark(let v), .uid(let v), .integer(let v): hostBytes(v)
        case .ctState(let s): hostBytes(s.rawValue)
        case .verdict, .concat: []
        }
    }

    /// Key or data bytes: concatenation components each padded to 4 bytes. Written into one
    /// array (a set of 40 000 elements encodes each key and value here).
    func bytes() -> [UInt8] {
        guard case .concat(let parts) = self else { return scalarBytes() }
        var out: [UInt8] = []
        out.reserveCapacity(parts.count * 4)
        for part in parts {
            let start = out.count
            part.appendScalarBytes(to: &out)
            let padding = (4 - (out.count - start) % 4) % 4
            for _ in 0..<padding { out.append(0) }
        }
        return out
    }

    /// `scalarBytes()`, appended without an array of its own for the common types.
    private func appendScalarBytes(to out: inout [UInt8]) {
        switch self {
        case .ipv4(let a):
            out.append(UInt8(a.value >> 24))
            out.append(UInt8(a.value >> 16 & 0xFF))
            out.append(UInt8(a.value >> 8 & 0xFF))
            out.append(UInt8(a.value & 0xFF))
        case .inetProtocol(let p): out.append(p.rawValue)
        case .port(let p):
            out.append(UInt8(p >> 8))
            out.append(UInt8(p & 0xFF))
        case .mark(let v), .uid(let v), .integer(let v):
            withUnsafeBytes(of: v) { out.append(contentsOf: $0) }
        default:
            out.append(contentsOf: scalarBytes())
        }
    }

    /// Decodes bytes of `type` (the reverse of `bytes()`).
    static func decode(_ bytes: [UInt8], as type: SetType) -> Value? {
        var offset = 0
        var parts: [Value] = []
        for component in type.components {
            let size = component.size
            guard offset + size <= bytes.count else { return nil }
            guard let v = decodeScalar(Array(bytes[offset..<(offset + size)]), as: component) else { return nil }
            parts.append(v)
            offset += type.isConcatenation ? (size + 3) / 4 * 4 : size
        }
        return parts.count == 1 ? parts[0] : .concat(parts)
    }

    static func decodeScalar(_ b: [UInt8], as type: DataType) -> Value? {
        switch type {
        case .ipv4Address: b.count >= 4 ? .ipv4(IPv4Address(b[0], b[1], b[2], b[3])) : nil
        case .inetProtocol: b.first.map { .inetProtocol(InetProtocol(rawValue: $0)) }
        case .inetService: b.count >= 2 ? .port(UInt16(b[0]) << 8 | UInt16(b[1])) : nil
        case .ifname: .ifname(String(decoding: b.prefix { $0 != 0 }, as: UTF8.self))
        case .mark: readHost32(b).map { .mark($0) }
        case .uid: readHost32(b).map { .uid($0) }
        case .integer: readHost32(b).map { .integer($0) }
        case .ctState: readHost32(b).map { .ctState(ConntrackState(rawValue: $0)) }
        case .ipv6Address, .verdict: nil
        }
    }
}

func hostBytes(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }

func readHost32(_ b: [UInt8]) -> UInt32? {
    guard b.count >= 4 else { return nil }
    return b.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
}

/// `0x0000002a`, the way nft prints marks and register data.
func format0x(_ v: UInt32) -> String {
    let hex = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - hex.count)) + hex
}

/// Checks an nftables object name (table, chain, set): 1–255 bytes, no NUL
/// (NFT_NAME_MAXLEN is 256 including the terminator).
func validateName(_ name: String, field: String) throws(ValidationError) {
    guard !name.isEmpty else { throw ValidationError(field: field, value: name, reason: "must not be empty") }
    guard name.utf8.count < Kernel.NFT_NAME_MAXLEN else {
        throw ValidationError(field: field, value: String(name.prefix(40)) + "…", reason: "is \(name.utf8.count) bytes long; nftables names hold at most \(Kernel.NFT_NAME_MAXLEN - 1)")
    }
    guard !name.utf8.contains(0) else { throw ValidationError(field: field, value: name, reason: "must not contain NUL") }
}
