/// An IPv4 network in CIDR notation, such as `10.244.1.0/24`.
///
/// The stored address is always the network address (host bits cleared); use
/// `IPv4Interface` for an address *with* its prefix length (`10.244.1.1/24`).
public struct IPv4Prefix: Hashable, Sendable, Codable, CustomStringConvertible, LosslessStringConvertible {
    public let network: IPv4Address
    public let length: Int

    /// A prefix from an address and length; host bits of `address` are cleared.
    public init(_ address: IPv4Address, length: Int) throws(AddressError) {
        guard (0...32).contains(length) else {
            throw .invalidPrefix("\(address)/\(length)", reason: "prefix length must be 0-32")
        }
        self.init(validLength: length, address: address)
    }

    /// A prefix from a length already known to be 0-32.
    package init(validLength length: Int, address: IPv4Address) {
        self.length = length
        self.network = IPv4Address(address.value & IPv4Prefix.mask(length))
    }

    /// Parses `A.B.C.D/N`. With `strict`, host bits must be zero (`10.0.0.1/24` is rejected).
    public init(parsing text: String, strict: Bool = true) throws(AddressError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw .invalidPrefix(text, reason: "expected ADDRESS/LENGTH") }
        let address: IPv4Address
        do { address = try IPv4Address(parsing: String(parts[0])) } catch {
            throw .invalidPrefix(text, reason: "address part: \(error.description)")
        }
        let lengthText = parts[1].utf8
        guard !lengthText.isEmpty, lengthText.count <= 2,
              lengthText.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let length = Int(parts[1]), (0...32).contains(length) else {
            throw .invalidPrefix(text, reason: "prefix length '\(parts[1])' must be a number 0-32")
        }
        guard lengthText.count == 1 || lengthText.first != UInt8(ascii: "0") else {
            throw .invalidPrefix(text, reason: "prefix length '\(parts[1])' has a leading zero")
        }
        let prefix = try IPv4Prefix(address, length: length)
        if strict && prefix.network != address {
            throw .invalidPrefix(text, reason: "host bits are set; did you mean \(prefix)?")
        }
        self = prefix
    }

    public init?(_ text: String) {
        guard let parsed = try? IPv4Prefix(parsing: text) else { return nil }
        self = parsed
    }

    /// The netmask for a prefix length as a number (`/24` is `0xFFFF_FF00`).
    public static func mask(_ length: Int) -> UInt32 {
        length == 0 ? 0 : UInt32.max << UInt32(32 - length)
    }

    public var netmask: IPv4Address { IPv4Address(IPv4Prefix.mask(length)) }
    public var description: String { "\(network)/\(length)" }

    /// The number of addresses in the prefix (2^(32-length)).
    public var size: UInt64 { UInt64(1) << UInt64(32 - length) }

    /// The last address of the prefix (the broadcast address for lengths below 31).
    public var lastAddress: IPv4Address { IPv4Address(network.value | ~IPv4Prefix.mask(length)) }

    public func contains(_ address: IPv4Address) -> Bool {
        address.value & IPv4Prefix.mask(length) == network.value
    }

    /// True when `other` lies entirely inside this prefix.
    public func contains(_ other: IPv4Prefix) -> Bool {
        other.length >= length && contains(other.network)
    }

    /// True when the two prefixes share at least one address.
    public func overlaps(_ other: IPv4Prefix) -> Bool {
        contains(other.network) || other.contains(network)
    }

    /// The n-th address of the prefix counted from the network address (0 is the network
    /// address itself); nil when n is outside the prefix.
    public func address(at n: UInt64) -> IPv4Address? {
        guard n < size else { return nil }
        return IPv4Address(network.value &+ UInt32(n))
    }

    /// The n-th usable host address, counting from 1 like `cidrhost()`: for lengths up to 30 the
    /// network and broadcast addresses are skipped, /31 and /32 use every address (RFC 3021).
    public func host(_ n: UInt64) -> IPv4Address? {
        guard n >= 1, n <= hostCount else { return nil }
        return address(at: length >= 31 ? n - 1 : n)
    }

    /// The number of usable host addresses (see `host(_:)`).
    public var hostCount: UInt64 { length >= 31 ? size : size - 2 }

    /// All usable host addresses in order (see `host(_:)`).
    public var hosts: HostSequence { HostSequence(prefix: self) }

    /// Splits the prefix into subnets of `newLength`: `10.244.0.0/16` into `/24`s gives 256.
    public func subnets(length newLength: Int) throws(AddressError) -> SubnetSequence {
        guard newLength >= length, newLength <= 32 else {
            throw .outOfRange("cannot split \(self) into /\(newLength) subnets: length must be \(length)-32")
        }
        return SubnetSequence(parent: self, length: newLength)
    }

    /// The `index`-th subnet of `newLength` inside this prefix, or nil past the end.
    public func subnet(length newLength: Int, index: UInt64) -> IPv4Prefix? {
        guard newLength >= length, newLength <= 32 else { return nil }
        let count = UInt64(1) << UInt64(newLength - length)
        guard index < count else { return nil }
        let step = UInt64(1) << UInt64(32 - newLength)
        return IPv4Prefix(validLength: newLength, address: IPv4Address(network.value &+ UInt32(index * step)))
    }

    public struct HostSequence: Sequence, Sendable {
        let prefix: IPv4Prefix
        public func makeIterator() -> AnyIterator<IPv4Address> {
            var n: UInt64 = 1
            return AnyIterator {
                defer { n += 1 }
                return prefix.host(n)
            }
        }
        public var underestimatedCount: Int { Int(clamping: prefix.hostCount) }
    }

    public struct SubnetSequence: Sequence, Sendable {
        let parent: IPv4Prefix
        let length: Int
        public var count: UInt64 { UInt64(1) << UInt64(length - parent.length) }
        public func makeIterator() -> AnyIterator<IPv4Prefix> {
            var index: UInt64 = 0
            return AnyIterator {
                defer { index += 1 }
                return parent.subnet(length: length, index: index)
            }
        }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try IPv4Prefix(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// An address together with the prefix length of its subnet, as `ip addr` shows it:
/// `10.244.1.1/24` is address 10.244.1.1 on subnet 10.244.1.0/24.
public struct IPv4Interface: Hashable, Sendable, Codable, CustomStringConvertible, LosslessStringConvertible {
    public let address: IPv4Address
    public let length: Int

    public init(_ address: IPv4Address, length: Int) throws(AddressError) {
        guard (0...32).contains(length) else {
            throw .invalidPrefix("\(address)/\(length)", reason: "prefix length must be 0-32")
        }
        self.init(address, validLength: length)
    }

    /// An interface address with a length already known to be 0-32 (taken from a prefix).
    package init(_ address: IPv4Address, validLength length: Int) {
        self.address = address
        self.length = length
    }

    /// Parses `A.B.C.D/N`; host bits may be set (that is the point of an interface address).
    public init(parsing text: String) throws(AddressError) {
        let prefix = try IPv4Prefix(parsing: text, strict: false)
        guard let addressText = text.split(separator: "/").first else {
            throw .invalidPrefix(text, reason: "expected ADDRESS/LENGTH")
        }
        self.address = try IPv4Address(parsing: String(addressText))
        self.length = prefix.length
    }

    public init?(_ text: String) {
        guard let parsed = try? IPv4Interface(parsing: text) else { return nil }
        self = parsed
    }

    /// The subnet the address lives on (`10.244.1.1/24` is on `10.244.1.0/24`).
    public var prefix: IPv4Prefix { IPv4Prefix(validLength: length, address: address) }
    public var description: String { "\(address)/\(length)" }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try IPv4Interface(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
