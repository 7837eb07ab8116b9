/// One served request, for the access log.
struct HTTPAccessRecord {
    /// The request line as received (`GET / HTTP/1.1`), or what there was of it.
    var requestLine: String
    var request: HTTPRequestHead?
    var status: Int
    /// Body bytes sent (0 for HEAD).
    var bodyBytes: Int
    var connection: ConnectionInfo
}

/// What a web server answers; the connection handling around it is shared.
protocol HTTPSite: AnyObject {
    /// Seconds an idle keep-alive connection stays open (nginx 65, Apache 5).
    var keepAliveTimeout: Double { get }
    /// The largest request body accepted; larger ones get 413.
    var maximumBodySize: Int { get }
    /// The full response to a request (headers included; a HEAD response's body is dropped
    /// by the caller, its Content-Length kept).
    func respond(to request: HTTPRequest, on connection: ConnectionInfo, keepAlive: Bool) -> HTTPResponse
    /// The response to a request that could not be parsed (400) or was too large (413);
    /// the connection closes after it.
    func errorResponse(status: Int, on connection: ConnectionInfo) -> HTTPResponse
    /// Writes one access-log line.
    func log(_ record: HTTPAccessRecord)
}

/// HTTP/1.1 server side of one connection: parses pipelined requests (bodies by
/// Content-Length or chunked), answers each through the site, and closes after a
/// response without keep-alive.
final class HTTPConnectionHandler: StreamHandler {
    private let site: HTTPSite
    private var buffer: [UInt8] = []
    private var head: HTTPRequestHead?
    private var bodyLength = 0
    private var chunked: ChunkedDecoder?
    private var body: [UInt8] = []
    private var finished = false
    /// The server is shutting down: the next response is the connection's last.
    private var closing = false

    init(site: HTTPSite) { self.site = site }

    func received(_ bytes: [UInt8], on connection: ConnectionInfo) -> ConnectionReply {
        guard !finished else { return ConnectionReply() }
        buffer.append(contentsOf: bytes)
        var reply = ConnectionReply()
        while !finished, let (request, requestedKeepAlive) = nextRequest(on: connection, reply: &reply) {
            let keepAlive = requestedKeepAlive && !closing
            var response = site.respond(to: request, on: connection, keepAlive: keepAlive)
            let bodyBytes = request.head.method == "HEAD" ? 0 : response.body.count
            if request.head.method == "HEAD" { response.body = [] }
            reply.output += response.head.wireBytes + response.body
            site.log(HTTPAccessRecord(requestLine: request.head.requestLine, request: request.head, status: response.status,
                                      bodyBytes: bodyBytes, connection: connection))
            if !keepAlive { finished = true }
        }
        reply.close = finished
        return reply
    }

    func peerClosed(on connection: ConnectionInfo) -> ConnectionReply {
        finished = true
        return ConnectionReply(close: true)
    }

    /// Idle between requests: close now. In a request: answer it with `Connection: close`.
    func shutDown() -> Bool {
        closing = true
        return finished || (head == nil && buffer.isEmpty)
    }

    /// The next complete request in the buffer, or nil (after queuing an error reply when
    /// the input is bad).
    private func nextRequest(on connection: ConnectionInfo, reply: inout ConnectionReply) -> (HTTPRequest, Bool)? {
        do {
            if head == nil {
                // Blank lines before a request line are allowed (RFC 9112 section 2.2).
                while buffer.first == 0x0D || buffer.first == 0x0A { buffer.removeFirst() }
                guard let end = HTTPHead.end(in: buffer) else {
                    if buffer.count > HTTPHead.maximumSize { throw HTTPParseError.headTooLarge(HTTPHead.maximumSize) }
                    return nil
                }
                let parsed = try HTTPRequestHead(parsing: buffer[0..<end])
                buffer.removeFirst(end)
                body = []
                switch try parsed.bodyFraming() {
                case .none, .untilClose: bodyLength = 0; chunked = nil
                case let .length(length):
                    guard length <= site.maximumBodySize else { return fail(413, parsed.requestLine, parsed, connection, &reply) }
                    bodyLength = length; chunked = nil
                case .chunked: chunked = ChunkedDecoder()
                }
                head = parsed
            }
            guard let current = head else { return nil }
            if var decoder = chunked {
                body += try decoder.feed(buffer)
                buffer = decoder.leftover
                chunked = decoder
                if body.count > site.maximumBodySize { return fail(413, current.requestLine, current, connection, &reply) }
                guard decoder.isComplete else { return nil }
            } else {
                let take = min(bodyLength - body.count, buffer.count)
                body += buffer[0..<take]
                buffer.removeFirst(take)
                guard body.count == bodyLength else { return nil }
            }
            head = nil
            chunked = nil
            return (HTTPRequest(head: current, body: body), current.keepAlive)
        } catch {
            let line = HTTPHead.lines(buffer.prefix(HTTPHead.maximumSize)).first ?? ""
            return fail(400, line, nil, connection, &reply)
        }
    }

    private func fail(_ status: Int, _ line: String, _ request: HTTPRequestHead?, _ connection: ConnectionInfo,
                      _ reply: inout ConnectionReply) -> (HTTPRequest, Bool)? {
        let response = site.errorResponse(status: status, on: connection)
        reply.output += response.head.wireBytes + response.body
        site.log(HTTPAccessRecord(requestLine: line, request: request, status: status, bodyBytes: response.body.count, connection: connection))
        finished = true
        buffer = []
        return nil
    }
}

/// Starts a TCP listener on 0.0.0.0:`port` and serves `site` until one of `signals` arrives,
/// then shuts down gracefully (`ServerLoop`). `bindFailed` prints the server's own message
/// when the port is taken; `stopping` says which signal arrived, `stopped` that the last
/// connection is done. Returns the process exit code.
func serveHTTP(site: HTTPSite, port: UInt16, signals: TerminationSignals,
               bindFailed: (SystemError) -> Void, started: () -> Void, stopping: @escaping (Int32) -> Void,
               stopped: () -> Void = {}) -> Int32 {
    let listener: Socket
    do {
        listener = try Socket.listening(on: SocketAddress(ip: "0.0.0.0", port: port)!)
    } catch {
        bindFailed(error)
        return 1
    }
    started()
    let loop = ServerLoop(listeners: [ServerLoop.Listener(socket: listener, makeHandler: { _ in HTTPConnectionHandler(site: site) },
                                                          idleTimeout: site.keepAliveTimeout)],
                          signals: signals)
    loop.shuttingDown = stopping
    do {
        _ = try loop.run()
        stopped()
        return 0
    } catch {
        OutputStream.standardError.line("\(error)")
        return 1
    }
}
