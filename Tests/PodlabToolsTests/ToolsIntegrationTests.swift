import Foundation
import KernelTestSupport
import Netns
@testable import PodlabTools
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The tools as they run in pods: real processes in a fresh network namespace, talking to
/// each other over loopback (or the lab's own eth0), checked by what they print and by
/// independent readers (`ss`, `ip -j`).
@Suite("podlab-tools in a network namespace", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct ToolsIntegrationTests {
    static let nginx = ["docker-entrypoint.sh", "nginx", "-g", "daemon off;"]

    @Test("nginx serves the welcome page to curl, logs each request, and ends with exit 0 on SIGTERM")
    func nginxWelcome() throws {
        try ToolsLab.with { lab in
            let server = try lab.start(Self.nginx, readyWhen: "start worker process")
            let listening = try Command.check("ss", ["-ltnH"], netns: lab.namespace)
            #expect(listening.contains("0.0.0.0:80 "), "ss shows no listener on 0.0.0.0:80: \(listening)")

            let page = try lab.run(["curl", "-s", "http://127.0.0.1/"])
            #expect(page.status == .exited(0))
            #expect(page.stdout == Nginx.welcomePage)
            #expect(page.stdout.utf8.count == 612)
            #expect(page.stdout.contains("<title>Welcome to nginx!</title>"))

            let head = try lab.run(["curl", "-sI", "http://localhost/index.html"])
            #expect(head.stdout.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(head.stdout.contains("Server: nginx/1.27.0\r\n"))
            #expect(head.stdout.contains("Content-Length: 612\r\n"))

            let missing = try lab.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1/nope"])
            #expect(missing.stdout == "404")
            let failing = try lab.run(["curl", "-sSf", "http://127.0.0.1/nope"])
            #expect(failing.status == .exited(22))
            #expect(failing.stderr == "curl: (22) The requested URL returned error: 404\n")

            #expect(server.stop() == .exited(0))
            #expect(server.stdout.contains("/docker-entrypoint.sh: Configuration complete; ready for start up\n"))
            #expect(server.stdout.contains("\"GET / HTTP/1.1\" 200 612 \"-\" \"curl/8.9.1\" \"-\"\n"))
            #expect(server.stdout.contains("\"HEAD /index.html HTTP/1.1\" 200 0 "))
            #expect(server.stdout.contains("\"GET /nope HTTP/1.1\" 404 153 "))
            #expect(server.stderr.contains("[notice] \(server.child.pid)#\(server.child.pid): signal 15 (SIGTERM) received, exiting\n"))
        }
    }

    @Test("httpd answers It works! with Apache's headers and common log format")
    func httpdItWorks() throws {
        try ToolsLab.with(ethernet: true) { lab in
            let server = try lab.start(["httpd-foreground"], readyWhen: "resuming normal operations")
            let page = try lab.run(["curl", "-si", "http://\(ToolsLab.podIP)/"])
            #expect(page.status == .exited(0))
            #expect(page.stdout.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(page.stdout.contains("Server: Apache/2.4.62 (Unix)\r\n"))
            #expect(page.stdout.hasSuffix("\r\n\r\n<html><body><h1>It works!</h1></body></html>\n"))
            #expect(server.stop() == .exited(0))
            #expect(server.stderr.contains("using \(ToolsLab.podIP). Set the 'ServerName' directive globally"))
            #expect(server.stderr.contains("AH00491: caught SIGTERM, shutting down"))
            let log = server.stdout.split(separator: "\n").map(String.init)
            #expect(log.count == 1)
            #expect(log.first?.hasPrefix("\(ToolsLab.podIP) - - [") ?? false)
            #expect(log.first?.hasSuffix("] \"GET / HTTP/1.1\" 200 45") ?? false)
        }
    }

    @Test("a second server on a taken port fails with exit 1 and the server's own message", arguments: [
        (["nginx"], "nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)\n"),
        (["httpd-foreground"], "(98)Address already in use: AH00072: make_sock: could not bind to address 0.0.0.0:80\n"),
    ])
    func addressInUse(second: [String], message: String) throws {
        try ToolsLab.with { lab in
            let first = try lab.start(Self.nginx, readyWhen: "start worker process")
            let clash = try lab.run(second)
            #expect(clash.status == .exited(1))
            #expect(clash.stderr.contains(message), "stderr: \(clash.stderr)")
            // The first server is untouched and still serving.
            #expect(first.poll() == nil)
            #expect(try lab.run(["curl", "-s", "http://127.0.0.1/"]).stdout == Nginx.welcomePage)
            #expect(first.stop() == .exited(0))
        }
    }

    @Test("curl reports a closed port, a bad host, https and a bad port like the real curl")
    func connectionRefused() throws {
        try ToolsLab.with { lab in
            let curl = try lab.run(["curl", "http://127.0.0.1:81/"])
            #expect(curl.status == .exited(7))
            #expect(curl.stderr.contains("curl: (7) Failed to connect to 127.0.0.1 port 81 after "))
            #expect(curl.stderr.hasSuffix(" ms: Couldn't connect to server\n"))
            let silent = try lab.run(["curl", "-s", "http://127.0.0.1:81/"])
            #expect(silent.status == .exited(7))
            #expect(silent.stderr.isEmpty)


            let noHost = try lab.run(["curl", "-sS", "http://web/"])
            #expect(noHost.status == .exited(6))
            #expect(noHost.stderr == "curl: (6) Could not resolve host: web\n")
            let https = try lab.run(["curl", "-sS", "https://127.0.0.1/"])
            #expect(https.status == .exited(1))
            #expect(https.stderr == "curl: (1) Protocol \"https\" not supported\n")
            let malformed = try lab.run(["curl", "-sS", "http://127.0.0.1:99999/"])
            #expect(malformed.status == .exited(3))
        }
    }

    @Test("curl -m gives up with exit 28 on a server that accepts but never answers")
    func timeout() throws {
        try ToolsLab.with { lab in
            // The kernel completes the handshake for a listener that never answers.
            let listener = try lab.listenOnLoopback(port: 9000, backlog: 8)
            defer { close(listener) }
            let curl = try lab.run(["curl", "-m", "1", "http://127.0.0.1:9000/"])
            #expect(curl.status == .exited(28))
            #expect(curl.stderr.contains("curl: (28) Operation timed out after "))
            #expect(curl.stderr.contains(" milliseconds with 0 bytes received\n"))
            // The listener did get the request: curl's timeout was the silence, not the connection.
            let client = accept(listener, nil, nil)
            #expect(client >= 0)
            defer { close(client) }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            #expect(String(decoding: buffer[0..<max(0, n)], as: UTF8.self).hasPrefix("GET / HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"))
        }
    }

    @Test("curl -m also covers a connect that is never accepted (full backlog)")
    func connectTimeout() throws {
        try ToolsLab.with { lab in
            // A listener in the lab namespace that never accepts; once its backlog is full,
            // further SYNs are dropped and a connect hangs. Backlog 0 holds one connection: a
            // client that connects and stays fills it.
            let listener = try lab.listenOnLoopback(port: 9001, backlog: 0)
            defer { close(listener) }
            let filler = try lab.connectToLoopback(port: 9001)
            defer { close(filler) }
            let curl = try lab.run(["curl", "-sS", "-m", "1", "http://127.0.0.1:9001/"])
            #expect(curl.status == .exited(28))
            #expect(curl.stderr.hasPrefix("curl: (28) Connection timed out after "))
            let connect = try lab.run(["curl", "-sS", "--connect-timeout", "1", "http://127.0.0.1:9001/"])
            #expect(connect.status == .exited(28))
            #expect(connect.stderr.contains("Failed to connect to 127.0.0.1 port 9001 after "))
            #expect(connect.stderr.hasSuffix("ms: Timeout was reached\n"))
        }
    }

    @Test("echo answers HTTP with JSON, echoes raw TCP bytes and UDP datagrams")
    func echo() throws {
        try ToolsLab.with(ethernet: true) { lab in
            let server = try lab.start(["echo-server"], readyWhen: "listening on 0.0.0.0:8080")
            let http = try lab.run(["curl", "-s", "-H", "X-Test: yes", "-d", "hello", "http://\(ToolsLab.podIP):8080/path?q=1"])
            #expect(http.status == .exited(0))
            let json = try #require(try JSONSerialization.jsonObject(with: Data(http.stdout.utf8)) as? [String: Any])
            #expect(json["podIP"] as? String == ToolsLab.podIP)
            #expect((json["client"] as? String)?.hasPrefix("\(ToolsLab.podIP):") ?? false)
            #expect(json["method"] as? String == "POST")
            #expect(json["path"] as? String == "/path?q=1")
            #expect(json["body"] as? String == "hello")
            #expect((json["headers"] as? [String: String])?["X-Test"] == "yes")
            #expect((json["hostname"] as? String)?.isEmpty == false)

            let raw = try lab.busybox(["nc", "127.0.0.1", "8080"], stdin: "ping\nsecond line\n")
            #expect(raw.status == .exited(0))
            #expect(raw.stdout == "ping\nsecond line\n")

            let probe = try lab.run(["probe", "udp", "127.0.0.1", "8080", "--json"])
            #expect(probe.status == .exited(0))
            #expect(probe.stdout.contains("\"ok\":true"))

            #expect(server.stop(signal: SIGINT) == .exited(0))
            #expect(server.stdout.contains("echo-server: http \(ToolsLab.podIP):"))
            #expect(server.stdout.contains("\"POST /path?q=1 HTTP/1.1\" 200\n"))
            #expect(server.stdout.contains(" -> 127.0.0.1:8080 raw echo\n"))
            #expect(server.stdout.contains("udp 127.0.0.1:") && server.stdout.contains(" 13 bytes echoed\n"))
            #expect(server.stdout.contains("SIGINT received, exiting"))
        }
    }

    @Test("curl reuses one kept-alive connection for a command's URLs to the same server, as curl does; not after Connection: close")
    func curlKeepAlive() throws {
        try ToolsLab.with(ethernet: true) { lab in
            let server = try lab.start(["echo-server"], readyWhen: "listening on 0.0.0.0:8080")
            func clients(_ extra: [String]) throws -> [String] {
                let result = try lab.run(["curl", "-s", "-v"] + extra + (1...3).map { "http://\(ToolsLab.podIP):8080/k\($0)" })
                #expect(result.status == .exited(0), "\(result.stderr)")
                return result.stdout.split(separator: "\n").compactMap { line in
                    line.range(of: #""client":"[^"]*""#, options: .regularExpression).map { String(line[$0]) }
                }
            }
            let kept = try clients([])
            #expect(kept.count == 3 && Set(kept).count == 1, "\(kept)")
            let closed = try clients(["-H", "Connection: close"])
            #expect(closed.count == 3 && Set(closed).count == 3, "\(closed)")
            let verbose = try lab.run(["curl", "-s", "-v", "-o", "/dev/null", "-o", "/dev/null",
                                       "http://\(ToolsLab.podIP):8080/a", "http://\(ToolsLab.podIP):8080/b"]).stderr
            #expect(verbose.contains("* Re-using existing connection with host \(ToolsLab.podIP)"), "\(verbose)")
            // The server closing an idle kept connection between two URLs: the next goes on a new one.
            #expect(server.stop(signal: SIGINT) == .exited(0))
        }
    }

    @Test("with $ECHO_FAIL_PERCENT=50 the echo server answers about half of its requests 503, at random")
    func flakyEcho() throws {
        try ToolsLab.with(ethernet: true) { lab in
            let server = try lab.start(["echo-server"], readyWhen: "listening on 0.0.0.0:8080", environment: ["ECHO_FAIL_PERCENT": "50"])
            let urls = (1...200).map { "http://\(ToolsLab.podIP):8080/r\($0)" }
            let curl = try lab.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}\\n"] + urls)
            let codes = curl.stdout.split(separator: "\n").map(String.init)
            #expect(codes.count == 200)
            #expect(Set(codes) == ["200", "503"], "\(Set(codes))")
            // 200 fair draws: fewer than 60 or more than 140 failures has a chance below 1e-8.
            let failed = codes.filter { $0 == "503" }.count
            #expect((60...140).contains(failed), "\(failed) of 200 answered 503")
            #expect(server.stop(signal: SIGINT) == .exited(0))
            #expect(server.stdout.contains("as ") && server.stdout.contains(", answering 50% of HTTP requests 503"))
            #expect(server.stdout.contains("\"GET /r1 HTTP/1.1\" "))
        }
    }

    @Test("with hundreds of idle connections open, the echo server still answers new ones and frees them all")
    func manyIdleConnections() throws {
        try ToolsLab.with { lab in
            let server = try lab.start(["echo-server"], readyWhen: "listening on 0.0.0.0:8080")
            let baseline = ToolsLab.openDescriptors(server.child.pid)
            var clients: [Int32] = []
            defer { for fd in clients { close(fd) } }
            for _ in 0..<300 { clients.append(try lab.connectToLoopback(port: 8080)) }
            // All 300 accepted and held (one descriptor each), and a new client is still served.
            var held = ToolsLab.openDescriptors(server.child.pid)
            for _ in 0..<500 where held < baseline + 300 {
                usleep(10_000)
                held = ToolsLab.openDescriptors(server.child.pid)
            }
            // (The runtime may hold one descriptor more or less than at the baseline meanwhile.)
            #expect(held >= baseline + 300 && held <= baseline + 301)
            let raw = try lab.busybox(["nc", "127.0.0.1", "8080"], stdin: "still here\n")
            #expect(raw.stdout == "still here\n")
            // The first idle client's bytes still come back.
            _ = "late\n".withCString { send(clients[0], $0, 5, Int32(MSG_NOSIGNAL)) }
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(clients[0], SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var buffer = [UInt8](repeating: 0, count: 16)
            let n = buffer.withUnsafeMutableBytes { recv(clients[0], $0.baseAddress, $0.count, 0) }
            #expect(n == 5 && String(decoding: buffer[0..<max(0, n)], as: UTF8.self) == "late\n")

            for fd in clients { close(fd) }
            clients.removeAll()
            var now = ToolsLab.openDescriptors(server.child.pid)
            for _ in 0..<500 where now > baseline {
                usleep(10_000)
                now = ToolsLab.openDescriptors(server.child.pid)
            }
            #expect(now <= baseline)
            #expect(server.stop() == .exited(0))
        }
    }

    @Test("the echo server honours $PORT")
    func echoPort() throws {
        try ToolsLab.with { lab in
            let server = try lab.start(["echo-server"], readyWhen: "listening on 0.0.0.0:9090", environment: ["PORT": "9090"])
            #expect(try lab.run(["probe", "tcp", "127.0.0.1", "9090"]).status == .exited(0))
            #expect(try lab.run(["probe", "tcp", "127.0.0.1", "8080"]).status == .exited(1))
            #expect(server.stop() == .exited(0))
        }
    }

    @Test("BusyBox's applets against the servers: wget, nc, sh pipelines, hostname")
    func busyboxApplets() throws {
        try ToolsLab.with { lab in
            let server = try lab.start(Self.nginx, readyWhen: "start worker process")
            let wget = try lab.busybox(["wget", "-qO-", "http://127.0.0.1/"])
            #expect(wget.status == .exited(0))
            #expect(wget.stdout == Nginx.welcomePage)
            let missing = try lab.busybox(["wget", "-q", "-O", "-", "http://127.0.0.1/nope"])
            #expect(missing.status == .exited(1))
            #expect(missing.stderr.contains("404 Not Found"))

            let request = try lab.busybox(["nc", "127.0.0.1", "80"], stdin: "GET / HTTP/1.0\r\n\r\n")
            #expect(request.stdout.hasPrefix("HTTP/1.1 200 OK\r\n") && request.stdout.hasSuffix(Nginx.welcomePage))

            let script = try lab.busybox(["sh", "-c", """
                wget -qO- http://127.0.0.1/ | wc -c; echo $(( 6 * 7 )); greet() { echo "hi $1"; }; greet pod
                case $0 in sh) echo argv0 ;; esac; (sleep 0.1; echo later) & wait; exit 4
                """])
            #expect(script.stdout == "612\n42\nhi pod\nargv0\nlater\n")
            #expect(script.status == .exited(4))

            let uts = try lab.utsNamespace(hostname: "web-7f9c")
            #expect(try lab.busybox(["hostname"], uts: uts).stdout == "web-7f9c\n")
            #expect(server.stop() == .exited(0))
        }
    }

    @Test("the entrypoint scripts hand over to BusyBox, the image's programs or the host", arguments: [
        (["docker-entrypoint.sh", "sh", "-c", "echo $0 $1", "sh", "from-busybox"], "sh from-busybox\n"),
        (["docker-entrypoint.sh", "/bin/sh", "-c", "echo $0"], "/bin/sh\n"),
        (["docker-entrypoint.sh", "curl", "--version"], "curl 8.9.1"),
        (["docker-entrypoint.sh", "/usr/bin/env", "GREETING=host", "/bin/sh", "-c", "echo $GREETING"], "host\n"),
        (["entrypoint.sh", "sh", "-c", "type sh; type curl"], "sh is sh\ncurl is "),
        (["entrypoint.sh", "--version"], "curl 8.9.1"),
    ])
    func entrypointExec(argv: [String], output: String) throws {
        try ToolsLab.with { lab in
            let result = try lab.run(argv)
            #expect(result.status == .exited(0), "\(result.stderr)")
            #expect(result.stdout.hasPrefix(output), "\(result.stdout)")
        }
    }

    @Test("an entrypoint's exec of something that does not exist fails like a shell's (127)")
    func entrypointNotFound() throws {
        try ToolsLab.with { lab in
            let result = try lab.run(["docker-entrypoint.sh", "no-such-program-anywhere"])
            #expect(result.status == .exited(127))
            #expect(result.stderr == "/docker-entrypoint.sh: exec: no-such-program-anywhere: not found\n")
        }
    }

    @Test("argv[0] selects the tool, as a symlink or the agent's argv0 does")
    func argv0Dispatch() throws {
        try ToolsLab.with { lab in
            _ = try lab.start(["httpd"], readyWhen: "resuming normal operations")
            let asCurl = try lab.run(["-s", "http://127.0.0.1/"], argv0: "curl")
            #expect(asCurl.stdout == "<html><body><h1>It works!</h1></body></html>\n")
            let asPath = try lab.run(["-s", "http://127.0.0.1/"], argv0: "/usr/bin/curl")
            #expect(asPath.stdout == "<html><body><h1>It works!</h1></body></html>\n")
            let unknown = try lab.run(["frobnicate"])
            #expect(unknown.status == .exited(127))
            #expect(unknown.stderr.hasPrefix("podlab-tools: unknown tool \"frobnicate\""))
            let shell = try lab.run(["sh", "-c", "true"])
            #expect(shell.status == .exited(127), "podlab-tools has no shell: BusyBox's is the images' sh")
        }
    }

    /// Reads from `fd` until the peer closes it (or 10 s pass); nil when it did not close.
    static func readUntilClosed(_ fd: Int32) -> String? {
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return String(decoding: received, as: UTF8.self) }
            if n < 0 { return nil }
            received += buffer[0..<n]
        }
    }

    @Test("on SIGTERM nginx closes idle keep-alive connections and its listener, answers the request in progress and a request just connected, then exits 0")
    func gracefulShutdown() throws {
        try ToolsLab.with { lab in
            let server = try lab.start(Self.nginx, readyWhen: "start worker process")
            // A keep-alive connection, idle after one answer, and one in the middle of a request.
            let idle = try lab.connectToLoopback(port: 80)
            defer { close(idle) }
            _ = "GET / HTTP/1.1\r\nHost: x\r\n\r\n".withCString { send(idle, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            var buffer = [UInt8](repeating: 0, count: 4096)
            var first = 0
            while first < 612 {
                let n = buffer.withUnsafeMutableBytes { recv(idle, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { break }
                first += n
            }
            #expect(first > 612)
            let busy = try lab.connectToLoopback(port: 80)
            defer { close(busy) }
            _ = "GET / HT".withCString { send(busy, $0, 8, Int32(MSG_NOSIGNAL)) }
            // And one connected whose request is not sent yet (a client a Service's rules sent
            // here just before the pod was drained): it is answered, not closed unanswered.
            let fresh = try lab.connectToLoopback(port: 80)
            defer { close(fresh) }
            usleep(100_000)

            try server.child.signal(SIGTERM)
            usleep(100_000)
            _ = "GET / HTTP/1.1\r\nHost: x\r\n\r\n".withCString { send(fresh, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            let freshAnswer = Self.readUntilClosed(fresh) ?? "(not closed)"
            #expect(freshAnswer.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(freshAnswer)")
            #expect(freshAnswer.hasSuffix(Nginx.welcomePage), "answered whole, then closed: \(freshAnswer)")
            // The idle connection is closed by the server, with nothing more sent on it.
            #expect(Self.readUntilClosed(idle) == "")
            // Still running for the request in progress; the port refuses new connections.
            #expect(server.poll() == nil)
            #expect(throws: (any Error).self) { close(try lab.connectToLoopback(port: 80)) }
            let rest = "TP/1.1\r\nHost: x\r\n\r\n"
            _ = rest.withCString { send(busy, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            let answer = Self.readUntilClosed(busy) ?? "(not closed)"
            #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(answer)")
            #expect(answer.contains("Connection: close\r\n"), "\(answer)")
            #expect(answer.hasSuffix(Nginx.welcomePage), "\(answer)")
            #expect(server.waitForExit() == .exited(0))
            let pid = server.child.pid
            #expect(server.stderr.contains("[notice] \(pid)#\(pid): signal 15 (SIGTERM) received, exiting\n"))
            #expect(server.stderr.contains("[notice] \(pid)#\(pid): gracefully shutting down\n"))
            #expect(server.stderr.contains("[notice] \(pid)#\(pid): exiting\n"))
            #expect(server.stderr.hasSuffix("[notice] \(pid)#\(pid): exit\n"), "\(server.stderr)")
            #expect(server.stdout.components(separatedBy: "\" 200 612 ").count - 1 == 3)
        }
    }

    @Test("servers keep serving while another client idles, and leak no descriptors")
    func concurrencyAndDescriptors() throws {
        try ToolsLab.with { lab in
            let server = try lab.start(Self.nginx, readyWhen: "start worker process")
            let pid = server.child.pid
            let baseline = ToolsLab.openDescriptors(pid)
            #expect(baseline > 0)

            // An idle client, connected from inside the namespace, that sent half a request.
            let fd = try lab.connectToLoopback(port: 80)
            _ = "GET / HT".withCString { send(fd, $0, 8, Int32(MSG_NOSIGNAL)) }

            for _ in 0..<20 {
                #expect(try lab.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1/"]).stdout == "200")
            }
            let twice = try lab.run(["curl", "-s", "http://127.0.0.1/", "http://127.0.0.1/index.html"])
            #expect(twice.stdout == Nginx.welcomePage + Nginx.welcomePage)

            // The idle client finishes its request and pipelines a second on the same connection.
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let rest = "TP/1.1\r\nHost: x\r\n\r\nGET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            _ = rest.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                received += buffer[0..<n]
            }
            close(fd)
            let responses = String(decoding: received, as: UTF8.self)
            #expect(responses.components(separatedBy: "HTTP/1.1 200 OK\r\n").count - 1 == 2)
            #expect(responses.contains("Connection: keep-alive\r\n"))
            #expect(responses.hasSuffix("Connection: close\r\nETag: \"6655da96-264\"\r\nAccept-Ranges: bytes\r\n\r\n" + Nginx.welcomePage))

            // Every connection is closed by now or soon; the count must come back to the baseline.
            var now = ToolsLab.openDescriptors(pid)
            for _ in 0..<500 where now != baseline {
                usleep(10_000)
                now = ToolsLab.openDescriptors(pid)
            }
            #expect(now == baseline)
            #expect(server.stop() == .exited(0))
            #expect(server.stdout.components(separatedBy: "\" 200 612 ").count - 1 == 24)
        }
    }
}
