/// A 48-bit Ethernet address, printed as `aa:bb:cc:dd:ee:ff`.
public struct MACAddress: Hashable, Sendable, Codable, CustomStringConvertible, LosslessStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(AddressError) {
        guard bytes.count == 6 else {
            throw .invalidMAC(bytes.map { String($0, radix: 16) }.joined(separator: ":"), reason: "expected 6 bytes, got \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// Parses six colon- (or dash-) separated hex pairs.
    public init(parsing text: String) throws(AddressError) {
        let parts = text.split(separator: text.contains("-") ? "-" : ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { throw .invalidMAC(text, reason: "expected six hex pairs separated by ':'") }
        var bytes: [UInt8] = []
        for part in parts {
            // `UInt8(_:radix:)` alone would accept a sign ("+f").
            guard part.utf8.count == 2, part.utf8.allSatisfy({ MACAddress.isHexDigit($0) }), let byte = UInt8(part, radix: 16) else {
                throw .invalidMAC(text, reason: "'\(part)' is not a two-digit hex number")
            }
            bytes.append(byte)
        }
        self.bytes = bytes
    }

    public init?(_ text: String) {
        guard let parsed = try? MACAddress(parsing: text) else { return nil }
        self = parsed
    }

    public var description: String {
        bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(separator: ":")
    }

    /// A locally administered unicast address derived from a 32-bit value (for example an IP):
    /// `0a:58:` followed by the four bytes, the scheme ovn-kubernetes uses for pod MACs.
    public static func derived(from address: IPv4Address) -> MACAddress {
        MACAddress(validBytes: [0x0A, 0x58] + address.octets)
    }

    /// Six bytes already counted.
    private init(validBytes: [UInt8]) { bytes = validBytes }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"): true
        default: false
        }
    }

    public var isMulticast: Bool { bytes[0] & 1 == 1 }
    public var isLocallyAdministered: Bool { bytes[0] & 2 == 2 }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try MACAddress(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
