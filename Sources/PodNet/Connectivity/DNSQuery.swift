/// Domain names as a resolver sends them (RFC 1035 §2.3.1, with `_` as service names use it).
public enum DNSName {
    /// True for a name of labels of 1-63 letters, digits, `-` or `_`, 253 bytes at most, with or
    /// without the final dot.
    public static func isValid(_ name: String) -> Bool {
        let trimmed = name.hasSuffix(".") ? String(name.dropLast()) : name
        guard !trimmed.isEmpty, trimmed.utf8.count <= 253 else { return false }
        return trimmed.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            (1...63).contains(label.utf8.count) && label.utf8.allSatisfy { byte in
                (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x5F
            }
        }
    }
}

/// The one DNS exchange a probe makes: a query for the A records of a name, and what the answer
/// says (RFC 1035 §4.1).
public enum DNSQuery {
    /// NXDOMAIN: the name does not exist.
    public static let nameError: UInt8 = 3

    /// What a server answered.
    public struct Answer: Hashable, Sendable {
        public var id: UInt16
        /// The response code (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, ...).
        public var rcode: UInt8
        /// The A records' addresses, in the answer's order.
        public var addresses: [IPv4Address]
        public var truncated: Bool

        /// `NOERROR`, `NXDOMAIN`, ... for messages.
        public var rcodeName: String {
            switch rcode {
            case 0: "NOERROR"
            case 1: "FORMERR"
            case 2: "SERVFAIL"
            case 3: "NXDOMAIN"
            case 4: "NOTIMP"
            case 5: "REFUSED"
            default: "RCODE \(rcode)"
            }
        }
    }

    /// A standard query (recursion desired) for `name`'s A records, class IN.
    public static func encode(id: UInt16, name: String) -> [UInt8] {
        var message: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") {
            message.append(UInt8(label.utf8.count))
            message += Array(label.utf8)
        }
        message += [0, 0, 1, 0, 1]  // root, QTYPE A, QCLASS IN
        return message
    }

    /// The answer in `bytes`, or nil when they are not a well-formed response.
    public static func decode(_ bytes: [UInt8]) -> Answer? {
        guard bytes.count >= 12, bytes[2] & 0x80 != 0 else { return nil }
        func u16(_ at: Int) -> Int { Int(bytes[at]) << 8 | Int(bytes[at + 1]) }
        let questions = u16(4), answers = u16(6)
        var offset = 12
        /// Skips a possibly compressed name; nil when it runs past the end.
        func skipName(_ start: Int) -> Int? {
            var at = start
            while at < bytes.count {
                let length = Int(bytes[at])
                if length == 0 { return at + 1 }
                if length & 0xC0 == 0xC0 { return at + 2 <= bytes.count ? at + 2 : nil }
                at += 1 + length
            }
            return nil
        }
        for _ in 0..<questions {
            guard let end = skipName(offset), end + 4 <= bytes.count else { return nil }
            offset = end + 4
        }
        var addresses: [IPv4Address] = []
        for _ in 0..<answers {
            guard let end = skipName(offset), end + 10 <= bytes.count else { return nil }
            let type = u16(end), klass = u16(end + 2), length = u16(end + 8)
            let data = end + 10
            guard data + length <= bytes.count else { return nil }
            if type == 1, klass == 1, length == 4 {
                addresses.append(IPv4Address(UInt32(bytes[data]) << 24 | UInt32(bytes[data + 1]) << 16 | UInt32(bytes[data + 2]) << 8 | UInt32(bytes[data + 3])))
            }
            offset = data + length
        }
        return Answer(id: UInt16(u16(0)), rcode: bytes[3] & 0x0F, addresses: addresses, truncated: bytes[2] & 0x02 != 0)
    }
}
