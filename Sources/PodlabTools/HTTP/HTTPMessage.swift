/// Why an HTTP message could not be parsed.
enum HTTPParseError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformedRequestLine(String)
    case malformedStatusLine(String)
    case malformedHeader(String)
    case invalidContentLength(String)
    case malformedChunk(String)
    case headTooLarge(Int)

    var description: String {
        switch self {
        case let .malformedRequestLine(line): "malformed request line \"\(line)\""
        case let .malformedStatusLine(line): "malformed status line \"\(line)\""
        case let .malformedHeader(line): "malformed header line \"\(line)\""
        case let .invalidContentLength(value): "invalid Content-Length \"\(value)\""
        case let .malformedChunk(reason): "malformed chunked body: \(reason)"
        case let .headTooLarge(limit): "header section larger than \(limit) bytes"
        }
    }
}

/// How the body of a message is delimited (RFC 9112 section 6.3).
enum HTTPBodyFraming: Equatable, Sendable {
    case none
    case length(Int)
    case chunked
    /// Until the server closes the connection (responses without a length).
    case untilClose
}

/// Where a message head ends.
enum HTTPHead {
    /// The largest head accepted (request line or status line plus headers).
    static let maximumSize = 16 * 1024

    /// The index just past the blank line ending the head (CRLF CRLF, or bare LF LF as
    /// servers tolerate), or nil if the head is not complete yet.
    static func end<Bytes: RandomAccessCollection<UInt8>>(in bytes: Bytes) -> Bytes.Index? where Bytes.Index == Int {
        var i = bytes.startIndex
        while i < bytes.endIndex {
            if bytes[i] == 0x0A {
                if i + 1 < bytes.endIndex, bytes[i + 1] == 0x0A { return i + 2 }
                if i + 2 < bytes.endIndex, bytes[i + 1] == 0x0D, bytes[i + 2] == 0x0A { return i + 3 }
            }
            i += 1
        }
        return nil
    }

    /// The head's lines without line endings, the final blank line dropped.
    static func lines<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> [String] {
        // Split on bytes: in Swift, "\r\n" is one Character and would not split on "\n".
        var lines = Array(bytes).split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self)
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        return lines
    }

    static func parseHeaders(_ lines: ArraySlice<String>) throws(HTTPParseError) -> HTTPHeaders {
        var headers = HTTPHeaders()
        for line in lines {
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex,
                  !line[..<colon].contains(where: { $0 == " " || $0 == "\t" }) else {
                throw .malformedHeader(line)
            }
            headers.append(String(line[..<colon]), line[line.index(after: colon)...].trimmingSpaces())
        }
        return headers
    }
}

/// The head of a request: `GET /index.html HTTP/1.1` and its headers.
struct HTTPRequestHead: Hashable, Sendable {
    var method: String
    /// The request target as sent: `/index.html?x=1`, or an absolute URL through a proxy.
    var target: String
    /// `HTTP/1.1`, `HTTP/1.0`.
    var version: String
    var headers: HTTPHeaders

    init(method: String, target: String, version: String = "HTTP/1.1", headers: HTTPHeaders = []) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
    }

    /// Parses the head bytes (up to and including the blank line).
    init<Bytes: Collection<UInt8>>(parsing bytes: Bytes) throws(HTTPParseError) {
        let lines = HTTPHead.lines(bytes)
        guard let requestLine = lines.first else { throw .malformedRequestLine("") }
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1."), parts[2].count == 8,
              parts[0].allSatisfy({ $0.isLetter && $0.isUppercase || $0 == "-" }), !parts[0].isEmpty else {
            throw .malformedRequestLine(requestLine)
        }
        method = String(parts[0])
        target = String(parts[1])
        version = String(parts[2])
        headers = try HTTPHead.parseHeaders(lines.dropFirst())
    }

    /// The path of the target, without query: `/index.html`.
    var path: String {
        var rest = Substring(target)
        if let scheme = rest.firstRange(of: "://") {
            rest = rest[scheme.upperBound...]
            rest = rest.firstIndex(of: "/").map { rest[$0...] } ?? "/"
        }
        if let query = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<query] }
        return rest.isEmpty ? "/" : String(rest)
    }

    /// Whether the connection stays open after the response (HTTP/1.1 unless `Connection: close`;
    /// HTTP/1.0 only with `Connection: keep-alive`).
    var keepAlive: Bool {
        if headers.hasToken("Connection", "close") { return false }
        if version == "HTTP/1.0" { return headers.hasToken("Connection", "keep-alive") }
        return true
    }

    /// How the request's body is delimited.
    func bodyFraming() throws(HTTPParseError) -> HTTPBodyFraming {
        if headers.hasToken("Transfer-Encoding", "chunked") { return .chunked }
        if let value = headers["Content-Length"] {
            guard let length = Int(value), length >= 0 else { throw .invalidContentLength(value) }
            return length == 0 ? .none : .length(length)
        }
        return .none
    }

    /// The request line: `GET / HTTP/1.1`.
    var requestLine: String { "\(method) \(target) \(version)" }

    /// The head as sent on the wire.
    var wireBytes: [UInt8] { Array("\(requestLine)\r\n\(headers.wireText)\r\n".utf8) }
}

/// A whole request: head and (decoded) body.
struct HTTPRequest: Hashable, Sendable {
    var head: HTTPRequestHead
    var body: [UInt8]

    init(head: HTTPRequestHead, body: [UInt8] = []) {
        self.head = head
        self.body = body
    }
}

/// The head of a response: `HTTP/1.1 200 OK` and its headers.
struct HTTPResponseHead: Hashable, Sendable {
    var version: String
    var status: Int
    var reason: String
    var headers: HTTPHeaders

    init(version: String = "HTTP/1.1", status: Int, reason: String? = nil, headers: HTTPHeaders = []) {
        self.version = version
        self.status = status
        self.reason = reason ?? HTTPResponseHead.standardReason(status)
        self.headers = headers
    }

    init<Bytes: Collection<UInt8>>(parsing bytes: Bytes) throws(HTTPParseError) {
        let lines = HTTPHead.lines(bytes)
        guard let statusLine = lines.first else { throw .malformedStatusLine("") }
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), parts[1].count == 3, let status = Int(parts[1]) else {
            throw .malformedStatusLine(statusLine)
        }
        version = String(parts[0])
        self.status = status
        reason = parts.count > 2 ? String(parts[2]) : ""
        headers = try HTTPHead.parseHeaders(lines.dropFirst())
    }

    /// `HTTP/1.1 200 OK`.
    var statusLine: String { reason.isEmpty ? "\(version) \(status)" : "\(version) \(status) \(reason)" }

    /// The head as sent on the wire.
    var wireBytes: [UInt8] { Array("\(statusLine)\r\n\(headers.wireText)\r\n".utf8) }

    /// How the body of this response to `method` is delimited (RFC 9112 section 6.3).
    func bodyFraming(requestMethod method: String) throws(HTTPParseError) -> HTTPBodyFraming {
        if method == "HEAD" || (100..<200).contains(status) || status == 204 || status == 304 { return .none }
        if headers.hasToken("Transfer-Encoding", "chunked") { return .chunked }
        if let value = headers["Content-Length"] {
            guard let length = Int(value), length >= 0 else { throw .invalidContentLength(value) }
            return length == 0 ? .none : .length(length)
        }
        return .untilClose
    }

    static func standardReason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Not Allowed"
        case 408: "Request Timeout"
        case 411: "Length Required"
        case 413: "Request Entity Too Large"
        case 414: "Request-URI Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: ""
        }
    }
}

/// A whole response as a server sends it.
struct HTTPResponse: Hashable, Sendable {
    var head: HTTPResponseHead
    var body: [UInt8]

    init(head: HTTPResponseHead, body: [UInt8] = []) {
        self.head = head
        self.body = body
    }

    var status: Int { head.status }
}

/// Decodes a `Transfer-Encoding: chunked` body incrementally.
struct ChunkedDecoder: Sendable {
    private enum State: Sendable { case size, data(Int), dataEnd, trailer, done }
    private var state = State.size
    private var pending: [UInt8] = []

    init() {}

    /// True once the last chunk and the trailer section have been read.
    var isComplete: Bool { if case .done = state { true } else { false } }

    /// Feeds received bytes; returns the body bytes they complete. Bytes after the end of
    /// the body are returned by `leftover`.
    mutating func feed<Bytes: Collection<UInt8>>(_ bytes: Bytes) throws(HTTPParseError) -> [UInt8] {
        pending.append(contentsOf: bytes)
        var output: [UInt8] = []
        var index = 0
        func line() -> String? {
            guard let newline = pending[index...].firstIndex(of: 0x0A) else { return nil }
            var text = String(decoding: pending[index..<newline], as: UTF8.self)
            if text.hasSuffix("\r") { text.removeLast() }
            index = newline + 1
            return text
        }
        loop: while true {
            switch state {
            case .size:
                guard let text = line() else { break loop }
                let sizeText = text.split(separator: ";", maxSplits: 1).first.map { $0.trimmingSpaces() } ?? ""
                guard let size = Int(sizeText, radix: 16), size >= 0 else { throw .malformedChunk("bad chunk size \"\(text)\"") }
                state = size == 0 ? .trailer : .data(size)
            case let .data(remaining):
                let available = min(remaining, pending.count - index)
                if available == 0 { break loop }
                output.append(contentsOf: pending[index..<index + available])
                index += available
                state = remaining == available ? .dataEnd : .data(remaining - available)
            case .dataEnd:
                guard let text = line() else { break loop }
                guard text.isEmpty else { throw .malformedChunk("chunk data not followed by CRLF") }
                state = .size
            case .trailer:
                guard let text = line() else { break loop }
                if text.isEmpty { state = .done }
            case .done:
                break loop
            }
        }
        pending.removeFirst(index)
        return output
    }

    /// Bytes received after the end of the chunked body (a pipelined next message).
    var leftover: [UInt8] { isComplete ? pending : [] }
}
