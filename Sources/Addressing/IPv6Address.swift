#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv6 address (16 bytes, network order), parsed and printed in RFC 5952 form.
public struct IPv6Address: Hashable, Sendable, Codable, CustomStringConvertible, LosslessStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(AddressError) {
        guard bytes.count == 16 else { throw .invalidAddress("\(bytes)", reason: "an IPv6 address has 16 bytes, got \(bytes.count)") }
        self.bytes = bytes
    }

    public init(parsing text: String) throws(AddressError) {
        var storage = in6_addr()
        guard text.contains(":"), inet_pton(AF_INET6, text, &storage) == 1 else {
            throw .invalidAddress(text, reason: "not an IPv6 address")
        }
        bytes = withUnsafeBytes(of: &storage) { Array($0) }
    }

    public init?(_ text: String) {
        guard let parsed = try? IPv6Address(parsing: text) else { return nil }
        self = parsed
    }

    public var description: String {
        var storage = in6_addr()
        withUnsafeMutableBytes(of: &storage) { $0.copyBytes(from: bytes) }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        inet_ntop(AF_INET6, &storage, &buffer, socklen_t(buffer.count))
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// True for fe80::/10.
    public var isLinkLocal: Bool { bytes[0] == 0xFE && bytes[1] & 0xC0 == 0x80 }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try IPv6Address(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Either kind of IP address, for places (like netlink dumps) that carry both.
public enum IPAddress: Hashable, Sendable, Codable, CustomStringConvertible, LosslessStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    public init?(_ text: String) {
        if let v4 = IPv4Address(text) { self = .v4(v4) } else if let v6 = IPv6Address(text) { self = .v6(v6) } else { return nil }
    }

    /// The address from its network-order bytes (4 or 16 of them).
    public init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4: self = .v4(IPv4Address(bytes[0], bytes[1], bytes[2], bytes[3]))
        case 16:
            guard let v6 = try? IPv6Address(bytes: bytes) else { return nil }
            self = .v6(v6)
        default: return nil
        }
    }

    /// Network-order bytes: 4 for IPv4, 16 for IPv6.
    public var bytes: [UInt8] {
        switch self {
        case let .v4(a): a.octets
        case let .v6(a): a.bytes
        }
    }

    public var description: String {
        switch self {
        case let .v4(a): a.description
        case let .v6(a): a.description
        }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let address = IPAddress(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid IP address \"\(text)\""))
        }
        self = address
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
