/// DNS wire format: the constants, names and the parsing of a query (RFC 1035, EDNS0 RFC 6891).
/// Strict: anything that does not parse as RFC 1035 says is a format error, never a crash.

/// Record types, under their RFC names.
enum DNSType {
    static let a: UInt16 = 1
    static let ns: UInt16 = 2
    static let cname: UInt16 = 5
    static let soa: UInt16 = 6
    static let ptr: UInt16 = 12
    static let txt: UInt16 = 16
    static let aaaa: UInt16 = 28
    static let srv: UInt16 = 33
    static let opt: UInt16 = 41
    static let ixfr: UInt16 = 251
    static let axfr: UInt16 = 252
    static let mailb: UInt16 = 253
    static let maila: UInt16 = 254
    static let any: UInt16 = 255
}

/// Classes: only IN is served (and ANY, which asks for it).
enum DNSClass {
    static let internet: UInt16 = 1
    static let any: UInt16 = 255
}

/// Response codes; BADVERS is an extended code (RFC 6891), carried in the OPT record.
enum DNSRcode {
    static let noError: UInt16 = 0
    static let formatError: UInt16 = 1
    static let serverFailure: UInt16 = 2
    static let nameError: UInt16 = 3
    static let notImplemented: UInt16 = 4
    static let refused: UInt16 = 5
    static let badVersion: UInt16 = 16
}

/// Header flag bits (the second 16-bit word of the header).
enum DNSFlag {
    static let response: UInt16 = 0x8000
    static let opcodeMask: UInt16 = 0x7800
    static let authoritative: UInt16 = 0x0400
    static let truncated: UInt16 = 0x0200
    static let recursionDesired: UInt16 = 0x0100
    static let recursionAvailable: UInt16 = 0x0080
    static let checkingDisabled: UInt16 = 0x0010
}

/// Sizes the protocol fixes.
enum DNSLimit {
    static let headerSize = 12
    /// The largest UDP answer to a client without EDNS (RFC 1035 4.2.1).
    static let classicUDPPayload = 512
    /// What this server offers in its OPT record: the DNS flag day 2020 value, which fits any
    /// path's MTU without fragmentation.
    static let serverUDPPayload = 1232
    static let maximumNameLength = 255
    static let maximumLabelLength = 63
}

/// A domain name in wire form (length-prefixed labels, ending with the root's zero byte),
/// lower-cased: the key of the zone's map. Hashes its bytes in one go.
struct DNSNameKey: Hashable, Sendable {
    var bytes: [UInt8]

    init(wire: [UInt8]) { bytes = wire }

    /// A name from text (`web.default.svc.cluster.local`, trailing dot optional); nil when a
    /// label is empty or too long, or the name is too long.
    init?(_ text: String) {
        guard let wire = DNSName.wire(text) else { return nil }
        bytes = DNSName.lowercased(wire)
    }

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    static func == (a: DNSNameKey, b: DNSNameKey) -> Bool { a.bytes == b.bytes }

    /// The name without its first label: `svc.cluster.local` for `web.svc.cluster.local`; nil
    /// for the root.
    var parent: DNSNameKey? {
        guard let first = bytes.first, first != 0 else { return nil }
        return DNSNameKey(wire: Array(bytes[(Int(first) + 1)...]))
    }

    /// Whether this name is `zone` or below it.
    func isWithin(_ zone: DNSNameKey) -> Bool {
        guard bytes.count >= zone.bytes.count else { return false }
        // The suffix must start at a label boundary.
        var index = 0
        while index < bytes.count {
            if bytes.count - index == zone.bytes.count { return bytes[index...].elementsEqual(zone.bytes) }
            let length = Int(bytes[index])
            if length == 0 { return false }
            index += length + 1
        }
        return false
    }

    /// Dotted text with a trailing dot (`web.default.svc.cluster.local.`).
    var text: String { DNSName.text(bytes) }
}

enum DNSName {
    /// The wire form of a dotted name; nil if it breaks the length rules.
    static func wire(_ text: String) -> [UInt8]? {
        var wire: [UInt8] = []
        let trimmed = text.hasSuffix(".") ? String(text.dropLast()) : text
        if !trimmed.isEmpty {
            for label in trimmed.split(separator: ".", omittingEmptySubsequences: false) {
                let bytes = Array(label.utf8)
                guard !bytes.isEmpty, bytes.count <= DNSLimit.maximumLabelLength else { return nil }
                wire.append(UInt8(bytes.count))
                wire.append(contentsOf: bytes)
            }
        }
        wire.append(0)
        return wire.count <= DNSLimit.maximumNameLength ? wire : nil
    }

    /// ASCII letters lower-cased, label lengths untouched (they are all below 64, never a letter).
    static func lowercased(_ wire: [UInt8]) -> [UInt8] {
        var result = wire
        var index = 0
        while index < result.count {
            let length = Int(result[index])
            if length == 0 { break }
            var i = index + 1
            while i <= index + length && i < result.count {
                if result[i] >= 0x41 && result[i] <= 0x5A { result[i] |= 0x20 }
                i += 1
            }
            index += length + 1
        }
        return result
    }

    /// Dotted text of a wire name, with a trailing dot; bytes outside printable ASCII and dots
    /// inside labels are escaped as dig prints them (`\046`).
    static func text(_ wire: [UInt8]) -> String {
        var text = ""
        var index = 0
        while index < wire.count {
            let length = Int(wire[index])
            if length == 0 { break }
            for byte in wire[(index + 1)..<min(wire.count, index + 1 + length)] {
                if byte > 0x20 && byte < 0x7F && byte != 0x2E && byte != 0x5C {
                    text.unicodeScalars.append(Unicode.Scalar(byte))
                } else {
                    let digits = String(byte)
                    text += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
                }
            }
            text += "."
            index += length + 1
        }
        return text.isEmpty ? "." : text
    }

    /// Reads a (possibly compressed) name at `offset`: its uncompressed wire form and the offset
    /// just past it in the message. Nil when it runs off the end, loops, uses a reserved label
    /// type or is too long.
    static func read(_ message: [UInt8], at offset: Int) -> (wire: [UInt8], next: Int)? {
        var wire: [UInt8] = []
        var index = offset
        var next: Int?
        var jumps = 0
        while true {
            guard index < message.count else { return nil }
            let length = Int(message[index])
            switch length & 0xC0 {
            case 0x00:
                if length == 0 {
                    wire.append(0)
                    guard wire.count <= DNSLimit.maximumNameLength else { return nil }
                    return (wire, next ?? index + 1)
                }
                guard index + 1 + length <= message.count else { return nil }
                wire.append(contentsOf: message[index...(index + length)])
                guard wire.count < DNSLimit.maximumNameLength else { return nil }
                index += length + 1
            case 0xC0:
                guard index + 1 < message.count else { return nil }
                let target = (length & 0x3F) << 8 | Int(message[index + 1])
                // A pointer must point backwards (RFC 1035 4.1.4 allows only prior
                // occurrences); with a bound on hops, no crafted loop can spin.
                jumps += 1
                guard target < index, jumps <= 64 else { return nil }
                if next == nil { next = index + 2 }
                index = target
            default:
                // 0x40 (extended label types, RFC 6891 obsoleted them) and 0x80 (reserved).
                return nil
            }
        }
    }
}

/// The EDNS0 options of a query (its OPT pseudo-record).
struct EDNSQuery: Equatable, Sendable {
    /// The largest UDP answer the client takes (values below 512 count as 512).
    var udpPayloadSize: Int
    var version: UInt8
    /// The DNSSEC OK bit, echoed back.
    var dnssecOK: Bool
}

/// A parsed query: what the responder needs, with the question as sent (so the answer repeats it
/// byte for byte, case included).
struct DNSQuery: Sendable {
    var id: UInt16
    var flags: UInt16
    /// The question section as sent: name (uncompressed), type, class.
    var question: [UInt8]
    var name: DNSNameKey
    var type: UInt16
    var qclass: UInt16
    var edns: EDNSQuery?

    var opcode: UInt16 { (flags & DNSFlag.opcodeMask) >> 11 }
}

/// What a datagram or TCP message turned out to be.
enum DNSParseResult: Sendable {
    case query(DNSQuery)
    /// A query that breaks the format: answer FORMERR (or NOTIMP for another opcode) with
    /// the header only, as BIND does.
    case reject(id: UInt16, flags: UInt16, rcode: UInt16)
    /// Not worth an answer: shorter than a header, or a response (answering responses could
    /// start a loop between two servers).
    case drop
}

enum DNSQueryParser {
    static func u16(_ m: [UInt8], _ i: Int) -> UInt16 { UInt16(m[i]) << 8 | UInt16(m[i + 1]) }

    static func parse(_ message: [UInt8]) -> DNSParseResult {
        guard message.count >= DNSLimit.headerSize else { return .drop }
        let id = u16(message, 0), flags = u16(message, 2)
        if flags & DNSFlag.response != 0 { return .drop }
        let formatError = DNSParseResult.reject(id: id, flags: flags, rcode: DNSRcode.formatError)
        let opcode = (flags & DNSFlag.opcodeMask) >> 11
        guard opcode == 0 else { return .reject(id: id, flags: flags, rcode: DNSRcode.notImplemented) }
        let qdcount = u16(message, 4), ancount = u16(message, 6), nscount = u16(message, 8), arcount = u16(message, 10)
        guard qdcount == 1 else { return formatError }
        guard let (wire, afterName) = DNSName.read(message, at: DNSLimit.headerSize), afterName + 4 <= message.count else {
            return formatError
        }
        let type = u16(message, afterName), qclass = u16(message, afterName + 2)
        var question = wire
        question.append(contentsOf: message[afterName..<(afterName + 4)])
        var index = afterName + 4
        // Answer and authority records in a query are skipped (an UPDATE would carry them, and
        // that opcode was refused above); the additional section may hold one OPT.
        for _ in 0..<(Int(ancount) + Int(nscount)) {
            guard let next = skipRecord(message, at: index) else { return formatError }
            index = next
        }
        var edns: EDNSQuery?
        for _ in 0..<Int(arcount) {
            guard let (owner, afterOwner) = DNSName.read(message, at: index), afterOwner + 10 <= message.count else { return formatError }
            let rrType = u16(message, afterOwner)
            let rdlength = Int(u16(message, afterOwner + 8))
            guard afterOwner + 10 + rdlength <= message.count else { return formatError }
            if rrType == DNSType.opt {
                // One OPT, owned by the root (RFC 6891 6.1.1).
                guard edns == nil, owner == [0] else { return formatError }
                let size = Int(u16(message, afterOwner + 2))
                edns = EDNSQuery(udpPayloadSize: max(size, DNSLimit.classicUDPPayload), version: message[afterOwner + 5],
                                 dnssecOK: message[afterOwner + 6] & 0x80 != 0)
            }
            index = afterOwner + 10 + rdlength
        }
        return .query(DNSQuery(id: id, flags: flags, question: question, name: DNSNameKey(wire: DNSName.lowercased(wire)),
                               type: type, qclass: qclass, edns: edns))
    }

    /// The offset past a resource record at `index`; nil when it does not fit.
    static func skipRecord(_ message: [UInt8], at index: Int) -> Int? {
        guard let (_, afterOwner) = DNSName.read(message, at: index), afterOwner + 10 <= message.count else { return nil }
        let end = afterOwner + 10 + Int(u16(message, afterOwner + 8))
        return end <= message.count ? end : nil
    }
}

/// Appends big-endian integers to a byte array.
extension Array where Element == UInt8 {
    mutating func appendBigEndian(_ value: UInt16) {
        append(UInt8(value >> 8))
        append(UInt8(value & 0xFF))
    }

    mutating func appendBigEndian(_ value: UInt32) {
        append(UInt8(value >> 24))
        append(UInt8((value >> 16) & 0xFF))
        append(UInt8((value >> 8) & 0xFF))
        append(UInt8(value & 0xFF))
    }
}
