import Foundation
import KernelTestSupport
import Netns
@testable import PodlabTools
import Testing

/// curl against servers scripted byte by byte: redirects, chunked and
/// close-delimited bodies, empty replies, resets, retries, verbose output.
@Suite("curl against scripted servers", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct CurlBehaviourTests {
    static func response(_ status: String, _ headers: [String] = [], body: String = "") -> String {
        "HTTP/1.1 \(status)\r\n" + headers.map { $0 + "\r\n" }.joined() + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
    }

    @Test("-L follows redirects; -w reports them")
    func redirects() throws {
        try ToolsLab.with { lab in
            let server = try ScriptedServer(lab: lab, port: 9100, steps: [
                .reply(Self.response("301 Moved Permanently", ["Location: /next"], body: "moved")),
                .reply(Self.response("200 OK", body: "arrived\n")),
            ])
            defer { server.finish() }
            let curl = try lab.run(["curl", "-sL", "-w", "%{http_code} %{num_redirects} %{url_effective}\\n", "http://127.0.0.1:9100/start"])
            server.finish()
            #expect(curl.status == .exited(0))
            #expect(curl.stdout == "arrived\n200 1 http://127.0.0.1:9100/next\n")
            #expect(server.requests.map { $0.split(separator: "\r\n").first.map(String.init) ?? "" } == ["GET /start HTTP/1.1", "GET /next HTTP/1.1"])
        }
    }

    @Test("without -L a redirect is the answer")
    func noRedirect() throws {
        try ToolsLab.with { lab in
            let server = try ScriptedServer(lab: lab, port: 9101, steps: [.reply(Self.response("302 Found", ["Location: /next"], body: "moved"))])
            defer { server.finish() }
            let curl = try lab.run(["curl", "-s", "-w", " %{http_code}", "http://127.0.0.1:9101/"])
            server.finish()
            #expect(curl.stdout == "moved 302")
        }
    }

    @Test("chunked and close-delimited bodies are decoded", arguments: [
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n", "hello, world"),
        ("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", "until the end"),
        ("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "ok"),
    ])
    func bodies(reply: String, body: String) throws {
        try ToolsLab.with { lab in
            let server = try ScriptedServer(lab: lab, port: 9103, steps: [.reply(reply)])
            defer { server.finish() }
            let curl = try lab.run(["curl", "-s", "http://127.0.0.1:9103/"])
            server.finish()
            #expect(curl.status == .exited(0))
            #expect(curl.stdout == body)
        }
    }

    @Test("empty replies, resets and cut bodies get curl's exit codes", arguments: [
        (ScriptedServer.Step.close, Int32(52), "curl: (52) Empty reply from server\n"),
        (.reset, 56, "curl: (56) Recv failure: Connection reset by peer\n"),
        (.reply("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), 18, "curl: (18) transfer closed with 7 bytes remaining to read\n"),
        (.reply("garbage\r\n\r\n"), 8, "curl: (8) Weird server reply\n"),
    ])
    func failures(step: ScriptedServer.Step, code: Int32, message: String) throws {
        try ToolsLab.with { lab in
            let server = try ScriptedServer(lab: lab, port: 9104, steps: [step])
            defer { server.finish() }
            let curl = try lab.run(["curl", "-sS", "http://127.0.0.1:9104/"])
            server.finish()
            #expect(curl.status == .exited(code))
            #expect(curl.stderr == message)
        }
    }

    @Test("-X, -d and -H shape the request; -v shows both sides")
    func requestShape() throws {
        try ToolsLab.with { lab in
            let server = try ScriptedServer(lab: lab, port: 9105, steps: [.reply(Self.response("201 Created", ["X-Reply: 1"], body: "made"))])
            defer { server.finish() }
            let curl = try lab.run(["curl", "-v", "-X", "PUT", "-d", "a=1", "-d", "b=2", "-H", "X-Trace: t1", "-H", "Accept: text/plain",
                                    "-o", lab.directory.appendingPathComponent("out").path, "http://127.0.0.1:9105/items"])
            server.finish()
            #expect(curl.status == .exited(0))
            let request = try #require(server.requests.first)
            #expect(request.hasPrefix("PUT /items HTTP/1.1\r\nHost: 127.0.0.1:9105\r\nUser-Agent: curl/8.9.1\r\nAccept: text/plain\r\n"))
            #expect(request.contains("Content-Length: 7\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Trace: t1\r\n\r\na=1&b=2"))
            #expect(curl.stderr.contains("*   Trying 127.0.0.1:9105...\n* Connected to 127.0.0.1 (127.0.0.1) port 9105\n> PUT /items HTTP/1.1\n"))
            #expect(curl.stderr.contains("< HTTP/1.1 201 Created\n< X-Reply: 1\n"))
            #expect(try String(contentsOf: lab.directory.appendingPathComponent("out"), encoding: .utf8) == "made")
        }
    }

    @Test("--retry retries a 503 and then succeeds")
    func retry() throws {
        try ToolsLab.with { lab in
            let server = try ScriptedServer(lab: lab, port: 9106, steps: [
                .reply(Self.response("503 Service Unavailable", body: "busy")),
                .reply(Self.response("200 OK", body: "ready")),
            ])
            defer { server.finish() }
            let curl = try lab.run(["curl", "-sS", "--retry", "2", "--retry-delay", "0", "http://127.0.0.1:9106/"])
            server.finish()
            #expect(curl.status == .exited(0))
            #expect(curl.stdout == "busyready")
            #expect(curl.stderr == "Warning: Problem : HTTP error. Will retry in 0 seconds. 2 retries left.\n")
        }
    }
}
