/// One frame of SPDY/3.1, the multiplexing protocol kubectl (and client-go before 1.30) speaks for
/// `exec`, `attach` and `port-forward` after an HTTP/1.1 upgrade (`Upgrade: SPDY/3.1`). Each of a
/// session's byte streams (stdin, stdout, stderr, error, resize; or a port's data and error) is a
/// SPDY stream the client opens with SYN_STREAM, whose headers say which one it is.
///
/// The wire format (draft-mbelshe-httpbis-spdy-00, version 3): a control frame is
/// `1 | version (15 bits) | type (16) | flags (8) | length (24) | payload`, a data frame
/// `0 | stream id (31 bits) | flags (8) | length (24) | payload`. Header blocks travel here as they
/// are on the wire (zlib-compressed, see `SPDYHeaderBlock`): compression keeps one stream per
/// direction for the whole connection, so it belongs to the connection, not to a frame.
public enum SPDYFrame: Hashable, Sendable {
    case data(streamID: UInt32, flags: UInt8, payload: [UInt8])
    case synStream(streamID: UInt32, associatedStreamID: UInt32, priority: UInt8, flags: UInt8, headerBlock: [UInt8])
    case synReply(streamID: UInt32, flags: UInt8, headerBlock: [UInt8])
    case rstStream(streamID: UInt32, status: UInt32)
    case settings(flags: UInt8, payload: [UInt8])
    case ping(id: UInt32)
    case goAway(lastGoodStreamID: UInt32, status: UInt32)
    case headers(streamID: UInt32, flags: UInt8, headerBlock: [UInt8])
    case windowUpdate(streamID: UInt32, delta: UInt32)
    /// A control frame of a type SPDY/3.1 does not define (a receiver ignores it).
    case unknownControl(type: UInt16, flags: UInt8, payload: [UInt8])

    public static let version: UInt16 = 3
    /// The last frame of a stream in its sender's direction.
    public static let flagFin: UInt8 = 0x01
    /// SYN_STREAM: the receiver sends nothing on this stream.
    public static let flagUnidirectional: UInt8 = 0x02
    /// The largest payload a 24-bit length can say.
    public static let maximumPayload = (1 << 24) - 1

    /// RST_STREAM and GOAWAY status codes used here.
    public static let protocolError: UInt32 = 1
    public static let refusedStream: UInt32 = 3
    public static let cancel: UInt32 = 5

    enum ControlType: UInt16 {
        case synStream = 1, synReply = 2, rstStream = 3, settings = 4, ping = 6, goAway = 7, headers = 8, windowUpdate = 9
    }

    /// The frame on the wire.
    public var encoded: [UInt8] {
        switch self {
        case let .data(streamID, flags, payload):
            precondition(payload.count <= Self.maximumPayload, "a SPDY data frame carries at most \(Self.maximumPayload) bytes")
            var bytes: [UInt8] = []
            bytes.reserveCapacity(8 + payload.count)
            bytes.appendBigEndian(streamID & 0x7fff_ffff)
            bytes.append(flags)
            bytes.appendLength24(payload.count)
            bytes += payload
            return bytes
        case let .synStream(streamID, associated, priority, flags, block):
            var payload: [UInt8] = []
            payload.appendBigEndian(streamID & 0x7fff_ffff)
            payload.appendBigEndian(associated & 0x7fff_ffff)
            payload += [(priority & 0x07) << 5, 0]  // priority (3 bits), unused (5), slot (8)
            payload += block
            return Self.control(.synStream, flags: flags, payload)
        case let .synReply(streamID, flags, block):
            var payload: [UInt8] = []
            payload.appendBigEndian(streamID & 0x7fff_ffff)
            payload += block
            return Self.control(.synReply, flags: flags, payload)
        case let .rstStream(streamID, status):
            var payload: [UInt8] = []
            payload.appendBigEndian(streamID & 0x7fff_ffff)
            payload.appendBigEndian(status)
            return Self.control(.rstStream, flags: 0, payload)
        case let .settings(flags, payload):
            return Self.control(.settings, flags: flags, payload)
        case let .ping(id):
            var payload: [UInt8] = []
            payload.appendBigEndian(id)
            return Self.control(.ping, flags: 0, payload)
        case let .goAway(last, status):
            var payload: [UInt8] = []
            payload.appendBigEndian(last & 0x7fff_ffff)
            payload.appendBigEndian(status)
            return Self.control(.goAway, flags: 0, payload)
        case let .headers(streamID, flags, block):
            var payload: [UInt8] = []
            payload.appendBigEndian(streamID & 0x7fff_ffff)
            payload += block
            return Self.control(.headers, flags: flags, payload)
        case let .windowUpdate(streamID, delta):
            var payload: [UInt8] = []
            payload.appendBigEndian(streamID & 0x7fff_ffff)
            payload.appendBigEndian(delta & 0x7fff_ffff)
            return Self.control(.windowUpdate, flags: 0, payload)
        case let .unknownControl(type, flags, payload):
            var bytes: [UInt8] = [0x80 | UInt8(Self.version >> 8), UInt8(Self.version & 0xff), UInt8(type >> 8), UInt8(type & 0xff), flags]
            bytes.appendLength24(payload.count)
            return bytes + payload
        }
    }

    private static func control(_ type: ControlType, flags: UInt8, _ payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [0x80 | UInt8(version >> 8), UInt8(version & 0xff), UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xff), flags]
        bytes.appendLength24(payload.count)
        return bytes + payload
    }
}

/// A byte stream that is not SPDY/3.1.
public struct SPDYError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Cuts a connection's bytes (whatever their boundaries) into SPDY frames.
public struct SPDYFrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0
    /// The largest frame accepted; larger ones end the connection (kubectl's are at most 32 KiB
    /// of data, client-go's spdystream writes no more).
    public var maximumPayload: Int

    public init(maximumPayload: Int = 1 << 20) {
        self.maximumPayload = maximumPayload
    }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame; nil until one has arrived whole.
    public mutating func next() throws(SPDYError) -> SPDYFrame? {
        guard buffer.count - start >= 8 else { return nil }
        let length = Int(buffer[start + 5]) << 16 | Int(buffer[start + 6]) << 8 | Int(buffer[start + 7])
        guard length <= maximumPayload else { throw SPDYError("a SPDY frame of \(length) bytes is larger than \(maximumPayload)") }
        guard buffer.count - start >= 8 + length else { return nil }
        let head = Array(buffer[start..<(start + 8)])
        let payload = Array(buffer[(start + 8)..<(start + 8 + length)])
        start += 8 + length
        if start >= 64 * 1024 {
            buffer.removeFirst(start)
            start = 0
        }
        return try Self.frame(head: head, payload: payload)
    }

    static func frame(head: [UInt8], payload: [UInt8]) throws(SPDYError) -> SPDYFrame {
        let flags = head[4]
        guard head[0] & 0x80 != 0 else {
            return .data(streamID: head.bigEndianUInt32(at: 0) & 0x7fff_ffff, flags: flags, payload: payload)
        }
        let version = UInt16(head[0] & 0x7f) << 8 | UInt16(head[1])
        guard version == SPDYFrame.version else { throw SPDYError("SPDY version \(version) is not supported (only 3)") }
        let type = UInt16(head[2]) << 8 | UInt16(head[3])
        func need(_ count: Int) throws(SPDYError) {
            guard payload.count >= count else { throw SPDYError("a SPDY control frame of type \(type) is \(payload.count) bytes, shorter than \(count)") }
        }
        switch SPDYFrame.ControlType(rawValue: type) {
        case .synStream:
            try need(10)
            return .synStream(streamID: payload.bigEndianUInt32(at: 0) & 0x7fff_ffff, associatedStreamID: payload.bigEndianUInt32(at: 4) & 0x7fff_ffff,
                              priority: payload[8] >> 5, flags: flags, headerBlock: Array(payload[10...]))
        case .synReply:
            try need(4)
            return .synReply(streamID: payload.bigEndianUInt32(at: 0) & 0x7fff_ffff, flags: flags, headerBlock: Array(payload[4...]))
        case .rstStream:
            try need(8)
            return .rstStream(streamID: payload.bigEndianUInt32(at: 0) & 0x7fff_ffff, status: payload.bigEndianUInt32(at: 4))
        case .settings:
            return .settings(flags: flags, payload: payload)
        case .ping:
            try need(4)
            return .ping(id: payload.bigEndianUInt32(at: 0))
        case .goAway:
            try need(8)
            return .goAway(lastGoodStreamID: payload.bigEndianUInt32(at: 0) & 0x7fff_ffff, status: payload.bigEndianUInt32(at: 4))
        case .headers:
            try need(4)
            return .headers(streamID: payload.bigEndianUInt32(at: 0) & 0x7fff_ffff, flags: flags, headerBlock: Array(payload[4...]))
        case .windowUpdate:
            try need(8)
            return .windowUpdate(streamID: payload.bigEndianUInt32(at: 0) & 0x7fff_ffff, delta: payload.bigEndianUInt32(at: 4) & 0x7fff_ffff)
        case nil:
            return .unknownControl(type: type, flags: flags, payload: payload)
        }
    }
}

/// A SPDY/3 name/value header block before compression: the number of pairs, then each name and
/// value with a 32-bit length (names are lower case; several values of one name are joined by
/// NUL bytes).
public enum SPDYHeaderBlock {
    public static func encode(_ headers: [(name: String, value: String)]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendBigEndian(UInt32(headers.count))
        for (name, value) in headers {
            let name = Array(name.lowercased().utf8), value = Array(value.utf8)
            bytes.appendBigEndian(UInt32(name.count))
            bytes += name
            bytes.appendBigEndian(UInt32(value.count))
            bytes += value
        }
        return bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(SPDYError) -> [(name: String, value: String)] {
        var offset = 0
        func read32() throws(SPDYError) -> Int {
            guard bytes.count - offset >= 4 else { throw SPDYError("a SPDY header block ends inside a length") }
            defer { offset += 4 }
            return Int(bytes.bigEndianUInt32(at: offset))
        }
        func readString() throws(SPDYError) -> String {
            let length = try read32()
            guard bytes.count - offset >= length else { throw SPDYError("a SPDY header block ends inside a name or value") }
            defer { offset += length }
            return String(decoding: bytes[offset..<(offset + length)], as: UTF8.self)
        }
        let count = try read32()
        guard count <= bytes.count / 8 else { throw SPDYError("a SPDY header block claims \(count) headers in \(bytes.count) bytes") }
        var headers: [(name: String, value: String)] = []
        for _ in 0..<count {
            let name = try readString()
            headers.append((name, try readString()))
        }
        return headers
    }

    /// The zlib dictionary of SPDY/3 header compression (draft 3, section 2.6.10.1): both sides
    /// prime their deflate and inflate streams with it.
    public static let dictionary: [UInt8] = {
        let words = ["options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding", "accept-language",
                     "accept-ranges", "age", "allow", "authorization", "cache-control", "connection", "content-base", "content-encoding",
                     "content-language", "content-length", "content-location", "content-md5", "content-range", "content-type", "date",
                     "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since", "if-none-match", "if-range",
                     "if-unmodified-since", "last-modified", "location", "max-forwards", "pragma", "proxy-authenticate",
                     "proxy-authorization", "range", "referer", "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade",
                     "user-agent", "vary", "via", "warning", "www-authenticate", "method", "get", "status", "200 OK", "version",
                     "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
        var bytes: [UInt8] = []
        for word in words {
            bytes.appendBigEndian(UInt32(word.utf8.count))
            bytes += Array(word.utf8)
        }
        let tail = "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
            + "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
            + "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
            + "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
            + "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
            + "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
        return bytes + Array(tail.utf8)
    }()
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian(_ value: UInt32) {
        append(contentsOf: [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)])
    }

    mutating func appendLength24(_ length: Int) {
        append(contentsOf: [UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length)])
    }

    func bigEndianUInt32(at offset: Int) -> UInt32 {
        UInt32(self[offset]) << 24 | UInt32(self[offset + 1]) << 16 | UInt32(self[offset + 2]) << 8 | UInt32(self[offset + 3])
    }
}
