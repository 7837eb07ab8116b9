@testable import PodlabTools
import Testing

@Suite("HTTP message parsing")
struct HTTPParsingTests {
    @Test("a request head parses into method, target, version and headers in order")
    func requestHead() throws {
        let text = "GET /index.html?x=1 HTTP/1.1\r\nHost: 10.244.1.2\r\nUser-Agent: curl/8.9.1\r\nAccept: */*\r\nX-Dup: a\r\nx-dup: b\r\n\r\n"
        let bytes = Array(text.utf8)
        #expect(HTTPHead.end(in: bytes) == bytes.count)
        let head = try HTTPRequestHead(parsing: bytes)
        #expect(head.method == "GET")
        #expect(head.target == "/index.html?x=1")
        #expect(head.path == "/index.html")
        #expect(head.version == "HTTP/1.1")
        #expect(head.headers.fields.map(\.name) == ["Host", "User-Agent", "Accept", "X-Dup", "x-dup"])
        #expect(head.headers["host"] == "10.244.1.2")
        #expect(head.headers.values("X-DUP") == ["a", "b"])
        #expect(try head.bodyFraming() == .none)
        #expect(head.keepAlive)
    }

    @Test("the head ends at the blank line, CRLF or bare LF; not before", arguments: [
        ("GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY", 27),
        ("GET / HTTP/1.1\nHost: a\n\nBODY", 24),
        ("GET / HTTP/1.1\r\nHost: a\r\n", -1),
        ("GET / HTTP/1.1\r\n", -1),
    ])
    func headEnd(text: String, end: Int) {
        #expect(HTTPHead.end(in: Array(text.utf8)) ?? -1 == end)
    }

    @Test("keep-alive follows the version and the Connection header", arguments: [
        ("HTTP/1.1", nil, true), ("HTTP/1.1", "close", false), ("HTTP/1.1", "Keep-Alive", true),
        ("HTTP/1.0", nil, false), ("HTTP/1.0", "keep-alive", true), ("HTTP/1.1", "TE, close", false),
    ] as [(String, String?, Bool)])
    func keepAlive(version: String, connection: String?, expected: Bool) {
        var headers: HTTPHeaders = [("Host", "x")]
        if let connection { headers.append("Connection", connection) }
        #expect(HTTPRequestHead(method: "GET", target: "/", version: version, headers: headers).keepAlive == expected)
    }

    @Test("request bodies are framed by Content-Length or chunked coding")
    func framing() throws {
        #expect(try HTTPRequestHead(method: "POST", target: "/", headers: [("Content-Length", "12")]).bodyFraming() == .length(12))
        #expect(try HTTPRequestHead(method: "POST", target: "/", headers: [("Transfer-Encoding", "chunked")]).bodyFraming() == .chunked)
        #expect(throws: HTTPParseError.invalidContentLength("-1")) {
            try HTTPRequestHead(method: "POST", target: "/", headers: [("Content-Length", "-1")]).bodyFraming()
        }
    }

    @Test("malformed request heads are rejected", arguments: [
        "GET /\r\n\r\n", "GET / HTTP/2.0\r\n\r\n", "get / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", "\u{16}\u{03}\u{01} / HTTP/1.1\r\n\r\n",
    ])
    func malformed(text: String) {
        #expect(throws: HTTPParseError.self) { try HTTPRequestHead(parsing: Array(text.utf8)) }
    }

    @Test("absolute-form targets give the path")
    func absoluteTarget() throws {
        let head = try HTTPRequestHead(parsing: Array("GET http://10.0.0.1:8080/a/b?c HTTP/1.1\r\n\r\n".utf8))
        #expect(head.path == "/a/b")
    }

    @Test("a response head parses, and its body framing follows RFC 9112", arguments: [
        ("HTTP/1.1 200 OK\r\nContent-Length: 612\r\n\r\n", "GET", 200, "OK", HTTPBodyFraming.length(612)),
        ("HTTP/1.1 200 OK\r\nContent-Length: 612\r\n\r\n", "HEAD", 200, "OK", .none),
        ("HTTP/1.1 204 No Content\r\n\r\n", "GET", 204, "No Content", .none),
        ("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", "GET", 304, "Not Modified", .none),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", 200, "OK", .chunked),
        ("HTTP/1.0 200 OK\r\n\r\n", "GET", 200, "OK", .untilClose),
        ("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", "GET", 404, "", .none),
    ])
    func responseHead(text: String, method: String, status: Int, reason: String, framing: HTTPBodyFraming) throws {
        let head = try HTTPResponseHead(parsing: Array(text.utf8))
        #expect(head.status == status)
        #expect(head.reason == reason)
        #expect(try head.bodyFraming(requestMethod: method) == framing)
    }

    @Test("a response serialises to the exact wire bytes")
    func responseWire() {
        let head = HTTPResponseHead(status: 404, headers: [("Server", "nginx/1.27.0"), ("Content-Length", "0")])
        #expect(String(decoding: head.wireBytes, as: UTF8.self) == "HTTP/1.1 404 Not Found\r\nServer: nginx/1.27.0\r\nContent-Length: 0\r\n\r\n")
    }

    @Test("chunked bodies decode across arbitrary splits, keeping what follows")
    func chunked() throws {
        let wire = Array("4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\nNEXT".utf8)
        for split in 1..<wire.count {
            var decoder = ChunkedDecoder()
            var body = try decoder.feed(wire[0..<split])
            body += try decoder.feed(wire[split...])
            #expect(String(decoding: body, as: UTF8.self) == "Wikipedia in\r\n\r\nchunks.")
            #expect(decoder.isComplete)
            #expect(decoder.leftover == Array("NEXT".utf8))
        }
    }

    @Test("a bad chunk size is an error")
    func badChunk() {
        var decoder = ChunkedDecoder()
        #expect(throws: HTTPParseError.self) { try decoder.feed(Array("zz\r\nabc".utf8)) }
    }

    @Test("header values are trimmed, set replaces every copy")
    func headers() {
        var headers: HTTPHeaders = [("A", "1"), ("b", "2"), ("a", "3")]
        headers.set("A", "9")
        #expect(headers.fields == [HTTPField("A", "9"), HTTPField("b", "2")])
        #expect(headers.hasToken("b", "2"))
        #expect("  x \t".trimmingSpaces() == "x")
    }
}

@Suite("HTTP server connection handling")
struct HTTPServerHandlerTests {
    final class RecordingSite: HTTPSite {
        let keepAliveTimeout = 5.0
        let maximumBodySize = 16
        var records: [HTTPAccessRecord] = []
        var bodies: [String] = []

        func respond(to request: HTTPRequest, on connection: ConnectionInfo, keepAlive: Bool) -> HTTPResponse {
            bodies.append(String(decoding: request.body, as: UTF8.self))
            let body = Array("ok \(request.head.target)".utf8)
            return HTTPResponse(head: HTTPResponseHead(status: 200, headers: [("Content-Length", "\(body.count)")]), body: body)
        }

        func errorResponse(status: Int, on connection: ConnectionInfo) -> HTTPResponse {
            HTTPResponse(head: HTTPResponseHead(status: status, headers: [("Content-Length", "0"), ("Connection", "close")]))
        }

        func log(_ record: HTTPAccessRecord) { records.append(record) }
    }

    let connection = ConnectionInfo(local: SocketAddress(ip: "10.244.1.2", port: 80)!, peer: SocketAddress(ip: "10.244.1.3", port: 5555)!)

    @Test("pipelined requests with bodies, split at every byte, each get one response")
    func pipelined() {
        let wire = Array("POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyzGET /b HTTP/1.1\r\n\r\nPOST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\nHEAD /d HTTP/1.1\r\nConnection: close\r\n\r\n".utf8)
        for split in stride(from: 1, to: wire.count, by: 7) {
            let site = RecordingSite()
            let handler = HTTPConnectionHandler(site: site)
            var output = handler.received(Array(wire[0..<split]), on: connection).output
            let last = handler.received(Array(wire[split...]), on: connection)
            output += last.output
            let text = String(decoding: output, as: UTF8.self)
            #expect(text == "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok /aHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok /bHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok /cHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
            #expect(last.close)
            #expect(site.bodies == ["xyz", "", "hi", ""])
            #expect(site.records.map(\.status) == [200, 200, 200, 200])
            #expect(site.records.map(\.bodyBytes) == [5, 5, 5, 0])
        }
    }

    @Test("garbage gets 400 and the connection closes; oversized bodies get 413")
    func errors() {
        let site = RecordingSite()
        let reply = HTTPConnectionHandler(site: site).received(Array("\u{16}\u{03}\u{01}garbage\r\n\r\n".utf8), on: connection)
        #expect(String(decoding: reply.output, as: UTF8.self).hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(reply.close)
        let big = HTTPConnectionHandler(site: site).received(Array("POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n".utf8), on: connection)
        #expect(String(decoding: big.output, as: UTF8.self).hasPrefix("HTTP/1.1 413 Request Entity Too Large\r\n"))
        #expect(big.close)
        #expect(site.records.map(\.status) == [400, 413])
    }

    @Test("nginx answers / with the welcome page, other paths with 404, POST with 405")
    func nginxSite() {
        let site = NginxSite(log: OutputStream(fd: -1))
        func get(_ method: String, _ target: String) -> HTTPResponse {
            site.respond(to: HTTPRequest(head: HTTPRequestHead(method: method, target: target)), on: connection, keepAlive: true)
        }
        let page = get("GET", "/")
        #expect(page.status == 200)
        #expect(page.body == Array(Nginx.welcomePage.utf8))
        #expect(page.body.count == 612)
        #expect(page.head.headers["Server"] == "nginx/1.27.0")
        #expect(page.head.headers["ETag"] == "\"6655da96-264\"")
        #expect(get("GET", "/index.html?x").status == 200)
        let missing = get("GET", "/nope")
        #expect(missing.status == 404)
        #expect(String(decoding: missing.body, as: UTF8.self) == "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx/1.27.0</center>\r\n</body>\r\n</html>\r\n")
        #expect(get("POST", "/").status == 405)
    }

    @Test("httpd answers It works!")
    func httpdSite() {
        let site = HttpdSite(log: OutputStream(fd: -1))
        let response = site.respond(to: HTTPRequest(head: HTTPRequestHead(method: "GET", target: "/")), on: connection, keepAlive: true)
        #expect(String(decoding: response.body, as: UTF8.self) == "<html><body><h1>It works!</h1></body></html>\n")
        #expect(response.head.headers["Server"] == "Apache/2.4.62 (Unix)")
        #expect(response.head.headers["Connection"] == "Keep-Alive")
    }

    @Test("the echo server tells HTTP from raw bytes by the first bytes", arguments: [
        ("GET / HTTP/1.1", EchoServer.Sniff.http), ("POST ", .http), ("GE", .undecided), ("", .undecided), ("OPTIO", .undecided),
        ("hello", .raw), ("GETX", .raw), ("get /", .raw), ("\u{0}\u{1}", .raw),
    ])
    func sniff(text: String, expected: EchoServer.Sniff) {
        #expect(EchoServer.sniff(Array(text.utf8)) == expected)
    }

    @Test("the echo JSON describes the request and both ends of the connection")
    func echoJSON() {
        let request = HTTPRequest(head: HTTPRequestHead(method: "POST", target: "/p?q=1", headers: [("Host", "x"), ("X-A", "1"), ("x-a", "2")]),
                                  body: Array("say \"hi\"\n".utf8))
        #expect(EchoSite.describe(request, hostname: "web-1", connection: connection) ==
            "{\"hostname\":\"web-1\",\"podIP\":\"10.244.1.2\",\"client\":\"10.244.1.3:5555\",\"method\":\"POST\",\"path\":\"/p?q=1\",\"headers\":{\"Host\":\"x\",\"X-A\":\"1, 2\"},\"body\":\"say \\\"hi\\\"\\n\"}\n")
    }

    @Test("the flaky echo answers 503 for the requests whose draw falls under its percentage, the same JSON, kept alive", arguments: [
        (0, 0, 200), (50, 49, 503), (50, 50, 200), (50, 99, 200), (100, 99, 503), (1, 0, 503), (1, 1, 200),
    ])
    func flakyEcho(percent: Int, roll: Int, status: Int) {
        let site = EchoSite(hostname: "flaky-1", logger: EchoLogger(stream: .standardError, label: "test"), failPercent: percent)
        let request = HTTPRequest(head: HTTPRequestHead(method: "GET", target: "/", headers: [("Host", "x")]), body: [])
        let response = site.respond(to: request, on: connection, keepAlive: true, roll: roll)
        #expect(response.head.status == status)
        #expect(response.head.reason == (status == 503 ? "Service Unavailable" : "OK"))
        #expect(response.head.headers["Connection"] == "keep-alive")
        #expect(String(decoding: response.body, as: UTF8.self).hasPrefix("{\"hostname\":\"flaky-1\""))
    }

    @Test("$ECHO_FAIL_PERCENT: unset or empty is 0, a whole number 0-100, anything else refused naming the variable", arguments: [
        (nil, 0), ("", 0), ("0", 0), ("50", 50), ("100", 100),
    ] as [(String?, Int)])
    func flakyPercent(text: String?, expected: Int) throws {
        #expect(try EchoFailures.percent(text) == expected)
    }

    @Test("a malformed $ECHO_FAIL_PERCENT is refused", arguments: ["-1", "101", "half", "50%", "0.5"])
    func flakyPercentRefused(text: String) {
        let error = #expect(throws: UsageError.self) { try EchoFailures.percent(text) }
        #expect(error?.description == "invalid $ECHO_FAIL_PERCENT: \"\(text)\" (a whole number from 0 to 100)")
    }

    @Test("access-log values are escaped like nginx does")
    func logEscape() {
        #expect(accessLogEscape("GET /\"x\" \\ \u{1}") == "GET /\\x22x\\x22 \\x5C \\x01")
    }
}
