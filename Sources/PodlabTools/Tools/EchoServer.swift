#if canImport(Glibc)
import Glibc
#endif

/// The `podlab/echo` image: on `$PORT` (8080), TCP connections that start like an HTTP
/// request get a JSON description of the request; any other TCP bytes are echoed back;
/// UDP datagrams are echoed back. One log line per connection, request or datagram.
///
/// `$ECHO_FAIL_PERCENT` (0-100, default 0) makes it a flaky backend: that share of HTTP
/// requests, drawn at random one by one, is answered `503` (the same JSON, the connection kept
/// alive), as a service failing some of its requests does: what a mesh's retries are for.
enum EchoServer {
    static let methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"]

    /// What the first bytes of a connection say about its protocol.
    enum Sniff: Equatable { case http, raw, undecided }

    /// HTTP when the bytes start with a known method and a space; undecided while they are
    /// a proper prefix of one; raw otherwise.
    static func sniff(_ bytes: [UInt8]) -> Sniff {
        for method in methods {
            let token = Array((method + " ").utf8)
            if bytes.count >= token.count, Array(bytes[0..<token.count]) == token { return .http }
            if bytes.count < token.count, Array(token[0..<bytes.count]) == bytes { return .undecided }
        }
        return .raw
    }

    static func main(_ context: ToolContext) -> Int32 {
        serve(context, label: "echo-server")
    }

    /// Runs the echo server; `label` starts each log line.
    static func serve(_ context: ToolContext, label: String) -> Int32 {
        var arguments = context.arguments
        let port: UInt16
        let failPercent: Int
        do {
            port = try listeningPort(arguments: &arguments, context: context, defaultPort: 8080)
            if let extra = arguments.first { throw UsageError("unexpected argument \"\(extra)\"") }
            failPercent = try EchoFailures.percent(context.environment(EchoFailures.variable))
        } catch {
            context.stderr.line("\(label): \(error)")
            return 2
        }
        let hostname = currentHostname()
        let logger = EchoLogger(stream: context.stdout, label: label)
        let site = EchoSite(hostname: hostname, logger: logger, failPercent: failPercent)
        let signals: TerminationSignals
        let tcp: Socket, udp: Socket
        do {
            signals = try TerminationSignals()
            let any = SocketAddress(ip: "0.0.0.0", port: port)!
            tcp = try Socket.listening(on: any)
            udp = try Socket.datagram(boundTo: any)
        } catch {
            context.stderr.line("\(label): \(error.operation) 0.0.0.0:\(port): \(error.message)")
            return 1
        }
        logger.line("listening on 0.0.0.0:\(port) (tcp, udp) as \(hostname)"
                    + (failPercent > 0 ? ", answering \(failPercent)% of HTTP requests 503" : ""))
        let loop = ServerLoop(
            listeners: [ServerLoop.Listener(socket: tcp, makeHandler: { _ in EchoConnectionHandler(site: site, logger: logger) }, idleTimeout: nil)],
            datagrams: [ServerLoop.DatagramEndpoint(socket: udp, handle: { bytes, from, socket in
                logger.line("udp \(from) \(bytes.count) bytes echoed")
                try? socket.sendDatagram(bytes, to: from)
            })],
            signals: signals)
        do {
            let signal = try loop.run()
            logger.line("\(signalName(signal)) received, exiting")
            return 0
        } catch {
            context.stderr.line("\(label): \(error)")
            return 1
        }
    }

    static func currentHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(nulTerminated: buffer)
    }
}

/// Timestamped log lines on standard output.
final class EchoLogger: Sendable {
    let stream: OutputStream
    let label: String

    init(stream: OutputStream, label: String) {
        self.stream = stream
        self.label = label
    }

    func line(_ text: String) {
        stream.line("\(WallClock.format("%Y-%m-%dT%H:%M:%SZ", utc: true)) \(label): \(text)")
    }
}

/// Decides per connection between HTTP and raw echo, then hands over.
final class EchoConnectionHandler: StreamHandler {
    private let site: EchoSite
    private let logger: EchoLogger
    private var pending: [UInt8] = []
    private var http: HTTPConnectionHandler?
    private var raw = false
    private var echoed = 0
    /// The server is shutting down (see `shutDown`).
    private var closing = false

    init(site: EchoSite, logger: EchoLogger) {
        self.site = site
        self.logger = logger
    }

    func received(_ bytes: [UInt8], on connection: ConnectionInfo) -> ConnectionReply {
        if let http { return http.received(bytes, on: connection) }
        if raw {
            echoed += bytes.count
            return ConnectionReply(output: bytes)
        }
        pending += bytes
        switch EchoServer.sniff(pending) {
        case .undecided:
            return ConnectionReply()
        case .http:
            let handler = HTTPConnectionHandler(site: site)
            if closing { _ = handler.shutDown() }
            http = handler
            let buffered = pending
            pending = []
            return handler.received(buffered, on: connection)
        case .raw:
            raw = true
            logger.line("tcp \(connection.peer) -> \(connection.local) raw echo")
            let buffered = pending
            pending = []
            echoed += buffered.count
            return ConnectionReply(output: buffered, close: closing)
        }
    }

    /// HTTP as the HTTP handler decides; a raw echo closes once it sent back what came; bytes
    /// that may still become a request are waited for.
    func shutDown() -> Bool {
        closing = true
        if let http { return http.shutDown() }
        return raw || pending.isEmpty
    }

    func peerClosed(on connection: ConnectionInfo) -> ConnectionReply {
        if let http { return http.peerClosed(on: connection) }
        // A peer that sent a few bytes that could still have become a request, then closed.
        let buffered = pending
        pending = []
        if !buffered.isEmpty { logger.line("tcp \(connection.peer) -> \(connection.local) raw echo") }
        return ConnectionReply(output: buffered, close: true)
    }
}

/// The HTTP side of the echo server: a JSON description of each request.
final class EchoSite: HTTPSite {
    let keepAliveTimeout = 60.0
    let maximumBodySize = 1 << 20
    let hostname: String
    /// The share of requests answered 503 (`$ECHO_FAIL_PERCENT`).
    let failPercent: Int
    private let logger: EchoLogger

    init(hostname: String, logger: EchoLogger, failPercent: Int = 0) {
        self.hostname = hostname
        self.logger = logger
        self.failPercent = failPercent
    }

    /// The JSON body for `request` seen on `connection`.
    static func describe(_ request: HTTPRequest, hostname: String, connection: ConnectionInfo) -> String {
        var headers: [String] = []
        var seen: [String: Int] = [:]
        var values: [(String, String)] = []
        for field in request.head.headers {
            if let index = seen[field.name.lowercased()] {
                values[index].1 += ", " + field.value
            } else {
                seen[field.name.lowercased()] = values.count
                values.append((field.name, field.value))
            }
        }
        for (name, value) in values { headers.append("\(JSON.quote(name)):\(JSON.quote(value))") }
        let body = String(decoding: request.body, as: UTF8.self)
        return "{\"hostname\":\(JSON.quote(hostname)),\"podIP\":\(JSON.quote(connection.local.ip)),\"client\":\(JSON.quote(connection.peer.description)),\"method\":\(JSON.quote(request.head.method)),\"path\":\(JSON.quote(request.head.target)),\"headers\":{\(headers.joined(separator: ","))},\"body\":\(JSON.quote(body))}\n"
    }

    func respond(to request: HTTPRequest, on connection: ConnectionInfo, keepAlive: Bool) -> HTTPResponse {
        respond(to: request, on: connection, keepAlive: keepAlive, roll: Int.random(in: 0..<100))
    }

    /// The answer when the draw for this request came out `roll` (0-99).
    func respond(to request: HTTPRequest, on connection: ConnectionInfo, keepAlive: Bool, roll: Int) -> HTTPResponse {
        let body = Array(EchoSite.describe(request, hostname: hostname, connection: connection).utf8)
        let status = EchoFailures.fails(percent: failPercent, roll: roll) ? 503 : 200
        return HTTPResponse(head: HTTPResponseHead(status: status, headers: [
            ("Server", "podlab-echo"), ("Date", WallClock.httpDate()), ("Content-Type", "application/json"),
            ("Content-Length", "\(body.count)"), ("Connection", keepAlive ? "keep-alive" : "close"),
        ]), body: body)
    }

    func errorResponse(status: Int, on connection: ConnectionInfo) -> HTTPResponse {
        let body = Array("{\"error\":\(JSON.quote(HTTPResponseHead.standardReason(status)))}\n".utf8)
        return HTTPResponse(head: HTTPResponseHead(status: status, headers: [
            ("Server", "podlab-echo"), ("Date", WallClock.httpDate()), ("Content-Type", "application/json"),
            ("Content-Length", "\(body.count)"), ("Connection", "close"),
        ]), body: body)
    }

    func log(_ record: HTTPAccessRecord) {
        logger.line("http \(record.connection.peer) -> \(record.connection.local) \"\(accessLogEscape(record.requestLine))\" \(record.status)")
    }
}

/// The flaky mode: which requests fail.
enum EchoFailures {
    /// The environment variable naming the share of requests to fail.
    static let variable = "ECHO_FAIL_PERCENT"

    /// The percentage `text` gives: 0 when unset or empty; a whole number from 0 to 100.
    static func percent(_ text: String?) throws(UsageError) -> Int {
        guard let text, !text.isEmpty else { return 0 }
        guard let value = Int(text), (0...100).contains(value) else {
            throw UsageError("invalid $\(variable): \"\(text)\" (a whole number from 0 to 100)")
        }
        return value
    }

    /// Whether a request whose draw came out `roll` (uniform in 0-99) fails.
    static func fails(percent: Int, roll: Int) -> Bool { roll < percent }
}

/// Minimal JSON text encoding.
enum JSON {
    /// `text` as a JSON string literal.
    static func quote(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}
