/// An IPv4 address, stored in host byte order.
///
/// `IPv4Address("10.244.1.2")` parses dotted-quad text (exactly four decimal octets, no
/// leading zeros beyond a single `0`, no spaces); `description` prints it back.
public struct IPv4Address: Hashable, Comparable, Sendable, Codable, CustomStringConvertible, LosslessStringConvertible {
    /// The address as a 32-bit number, most significant octet first (`10.0.0.1` is `0x0A00_0001`).
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses dotted-quad text; returns nil for anything else.
    public init?(_ text: String) {
        self.init(dottedQuad: text.utf8)
    }

    /// Parses dotted-quad text, throwing an `AddressError` that says what is wrong.
    public init(parsing text: String) throws(AddressError) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { throw .invalidAddress(text, reason: "expected four dot-separated octets") }
        var result: UInt32 = 0
        for part in parts {
            // Only ASCII digits: `Character` comparison would let combining marks through.
            guard !part.isEmpty, part.utf8.count <= 3, part.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                throw .invalidAddress(text, reason: "octet '\(part)' is not a decimal number 0-255")
            }
            guard part.count == 1 || part.first != "0" else {
                throw .invalidAddress(text, reason: "octet '\(part)' has a leading zero")
            }
            guard let octet = UInt32(part), octet <= 255 else {
                throw .invalidAddress(text, reason: "octet '\(part)' is larger than 255")
            }
            result = result << 8 | octet
        }
        value = result
    }

    /// Parses dotted-quad text given as its UTF-8 bytes, as strictly as `init(parsing:)` (four
    /// decimal octets of at most 255, no leading zeros), without making strings; nil otherwise.
    @inlinable
    public init?<Bytes: Sequence<UInt8>>(dottedQuad bytes: Bytes) {
        var result: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var dots = 0
        var leadingZero = false
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, dots < 3 else { return nil }
                result = result << 8 | octet
                octet = 0
                digits = 0
                leadingZero = false
                dots += 1
                continue
            }
            // A digit after a leading zero ("01") is refused, as a fourth digit is.
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), digits < 3, !leadingZero else { return nil }
            if digits == 0 { leadingZero = byte == UInt8(ascii: "0") }
            octet = octet * 10 + UInt32(byte - UInt8(ascii: "0"))
            guard octet <= 255 else { return nil }
            digits += 1
        }
        guard digits > 0, dots == 3 else { return nil }
        value = result << 8 | octet
    }

    /// The four octets, most significant first (network byte order).
    public var octets: [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }

    public static let any = IPv4Address(0)
    public static let broadcast = IPv4Address(UInt32.max)
    public static let loopback = IPv4Address(127, 0, 0, 1)

    /// True for 127.0.0.0/8.
    public var isLoopback: Bool { value >> 24 == 127 }

    /// The address `n` above this one, or nil if that passes 255.255.255.255 (or below 0.0.0.0).
    public func advanced(by n: Int64) -> IPv4Address? {
        let (next, overflow) = Int64(value).addingReportingOverflow(n)
        guard !overflow, next >= 0, next <= Int64(UInt32.max) else { return nil }
        return IPv4Address(UInt32(next))
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try IPv4Address(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
