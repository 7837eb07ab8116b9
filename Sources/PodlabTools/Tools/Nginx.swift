#if canImport(Glibc)
import Glibc
#endif

/// The `nginx` image: nginx 1.27.0's default server, serving the welcome page on :80.
enum Nginx {
    static let version = "nginx/1.27.0"
    /// What this is, first in the log of the nginx image's containers: a user reading the log
    /// must tell the stand-in from the real nginx.
    static let banner = "podlab built-in image \"nginx\": podlab-tools stands in for nginx 1.27.0 (it imitates it; it is not nginx)"
    /// Where real nginx says which compiler built it.
    static let builtBy = "built by podlab-tools (a stand-in for nginx, not nginx)"

    /// `/usr/share/nginx/html/index.html` of the nginx image, byte for byte as the tutorial
    /// shows it (612 bytes).
    static let welcomePage = """
    <!DOCTYPE html>
    <html>
    <head>
    <title>Welcome to nginx!</title>
    <style>
        body {
            width: 35em;
            margin: 0 auto;
            font-family: Tahoma, Verdana, Arial, sans-serif;
        }
    </style>
    </head>
    <body>
    <h1>Welcome to nginx!</h1>
    <p>If you see this page, the nginx web server is successfully installed and
    working. Further configuration is required.</p>

    <p>For online documentation and support please refer to
    <a href="http://nginx.org/">nginx.org</a>.<br/>
    Commercial support is available at
    <a href="http://nginx.com/">nginx.com</a>.</p>

    <p><em>Thank you for using nginx.</em></p>
    </body>
    </html>

    """

    /// The modification time of index.html (nginx 1.27.0's release), for Last-Modified and ETag.
    static let pageModified: time_t = 1_716_902_550

    /// nginx's built-in error page (`ngx_http_special_response.c`): CRLF line ends.
    static func errorPage(_ status: Int) -> String {
        let title = "\(status) \(HTTPResponseHead.standardReason(status))"
        return "<html>\r\n<head><title>\(title)</title></head>\r\n<body>\r\n<center><h1>\(title)</h1></center>\r\n<hr><center>\(version)</center>\r\n</body>\r\n</html>\r\n"
    }

    /// An error-log line: `2024/07/01 10:00:00 [notice] 1#1: message`.
    static func errorLog(_ level: String, _ message: String) -> String {
        let pid = getpid()
        return "\(WallClock.format("%Y/%m/%d %H:%M:%S")) [\(level)] \(pid)#\(pid): \(message)"
    }

    static func main(_ context: ToolContext) -> Int32 {
        var arguments = context.arguments
        let port: UInt16
        do {
            port = try listeningPort(arguments: &arguments, context: context, defaultPort: 80)
        } catch {
            context.stderr.line("nginx: [emerg] \(error)")
            return 1
        }
        var index = 0
        while index < arguments.count {
            switch arguments[index] {
            case "-g", "-c", "-p", "-e":
                // Configuration directives and paths: the built-in configuration is fixed.
                index += 2
                continue
            case "-v":
                context.stderr.line("nginx version: \(version)")
                return 0
            case "-V":
                context.stderr.line("nginx version: \(version)\n\(builtBy)")
                return 0
            case "-t", "-T":
                context.stderr.line("nginx: the configuration file /etc/nginx/nginx.conf syntax is ok\nnginx: configuration file /etc/nginx/nginx.conf test is successful")
                return 0
            case "-h", "-?":
                context.stderr.line("nginx version: \(version)\nUsage: nginx [-?hvVtTq] [-s signal] [-p prefix] [-e filename] [-c filename] [-g directives] [--port port]")
                return 0
            case "-q":
                index += 1
            case let option:
                context.stderr.line("nginx: invalid option: \"\(option.hasPrefix("-") ? String(option.dropFirst()) : option)\"")
                return 1
            }
        }

        let signals: TerminationSignals
        do { signals = try TerminationSignals([SIGTERM, SIGINT, SIGQUIT]) } catch {
            context.stderr.line("nginx: [emerg] \(error)")
            return 1
        }
        let site = NginxSite(log: context.stdout)
        return serveHTTP(site: site, port: port, signals: signals, bindFailed: { error in
            let message = "bind() to 0.0.0.0:\(port) failed (\(error.errno): \(error.message))"
            context.stderr.line(errorLog("emerg", message))
            context.stderr.line("nginx: [emerg] \(message)")
            context.stderr.line(errorLog("emerg", "still could not bind()"))
            context.stderr.line("nginx: [emerg] still could not bind()")
        }, started: {
            var limit = rlimit()
            getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
            for line in [
                "using the \"epoll\" event method", version, builtBy, "OS: Linux \(kernelRelease())",
                "getrlimit(RLIMIT_NOFILE): \(limit.rlim_cur):\(limit.rlim_max)", "start worker processes", "start worker process \(getpid())",
            ] {
                context.stderr.line(errorLog("notice", line))
            }
        }, stopping: { signal in
            // The nginx image stops with SIGQUIT (its STOPSIGNAL), which a container runtime
            // sends: podlab's kubelet sends SIGTERM, so both shut down gracefully here.
            let action = signal == SIGQUIT ? "shutting down" : "exiting"
            context.stderr.line(errorLog("notice", "signal \(signal) (\(signalName(signal))) received, \(action)"))
            context.stderr.line(errorLog("notice", "gracefully shutting down"))
        }, stopped: {
            context.stderr.line(errorLog("notice", "exiting"))
            context.stderr.line(errorLog("notice", "exit"))
        })
    }

    /// `/docker-entrypoint.sh` of the nginx image: prints its configuration notices when
    /// it starts nginx, then runs its arguments.
    static func dockerEntrypoint(_ context: ToolContext) -> Int32 {
        let arguments = context.arguments
        let startsNginx = arguments.first == "nginx" || arguments.first == "nginx-debug"
        if startsNginx { context.stdout.line(banner) }
        if startsNginx, context.environment("NGINX_ENTRYPOINT_QUIET_LOGS")?.isEmpty ?? true {
            context.stdout.write("""
            /docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration
            /docker-entrypoint.sh: Looking for shell scripts in /docker-entrypoint.d/
            /docker-entrypoint.sh: Launching /docker-entrypoint.d/10-listen-on-ipv6-by-default.sh
            10-listen-on-ipv6-by-default.sh: info: can not modify /etc/nginx/conf.d/default.conf (read-only file system?)
            /docker-entrypoint.sh: Sourcing /docker-entrypoint.d/15-local-resolvers.envsh
            /docker-entrypoint.sh: Launching /docker-entrypoint.d/20-envsubst-on-templates.sh
            /docker-entrypoint.sh: Launching /docker-entrypoint.d/30-tune-worker-processes.sh
            /docker-entrypoint.sh: Configuration complete; ready for start up

            """)
        }
        return CommandRunner.exec(arguments, image: "nginx", shellName: "/docker-entrypoint.sh")
    }
}

/// nginx's default server: the welcome page at `/` and `/index.html`, 404 elsewhere,
/// 405 for methods other than GET and HEAD; access log in the image's `main` format.
final class NginxSite: HTTPSite {
    let keepAliveTimeout = 65.0
    let maximumBodySize = 1 << 20
    private let logStream: OutputStream

    init(log: OutputStream) { logStream = log }

    func respond(to request: HTTPRequest, on connection: ConnectionInfo, keepAlive: Bool) -> HTTPResponse {
        let path = request.head.path
        guard path == "/" || path == "/index.html" else { return page(404, keepAlive: keepAlive) }
        guard request.head.method == "GET" || request.head.method == "HEAD" else { return page(405, keepAlive: keepAlive) }
        let body = Array(Nginx.welcomePage.utf8)
        let etag = "\"\(String(Nginx.pageModified, radix: 16))-\(String(body.count, radix: 16))\""
        if request.head.headers["If-None-Match"] == etag || request.head.headers["If-Modified-Since"] == WallClock.httpDate(Nginx.pageModified) {
            return HTTPResponse(head: HTTPResponseHead(status: 304, headers: [
                ("Server", Nginx.version), ("Date", WallClock.httpDate()), ("Last-Modified", WallClock.httpDate(Nginx.pageModified)),
                ("Connection", keepAlive ? "keep-alive" : "close"), ("ETag", etag),
            ]))
        }
        return HTTPResponse(head: HTTPResponseHead(status: 200, headers: [
            ("Server", Nginx.version), ("Date", WallClock.httpDate()), ("Content-Type", "text/html"),
            ("Content-Length", "\(body.count)"), ("Last-Modified", WallClock.httpDate(Nginx.pageModified)),
            ("Connection", keepAlive ? "keep-alive" : "close"), ("ETag", etag), ("Accept-Ranges", "bytes"),
        ]), body: body)
    }

    func errorResponse(status: Int, on connection: ConnectionInfo) -> HTTPResponse {
        page(status, keepAlive: false)
    }

    private func page(_ status: Int, keepAlive: Bool) -> HTTPResponse {
        let body = Array(Nginx.errorPage(status).utf8)
        return HTTPResponse(head: HTTPResponseHead(status: status, headers: [
            ("Server", Nginx.version), ("Date", WallClock.httpDate()), ("Content-Type", "text/html"),
            ("Content-Length", "\(body.count)"), ("Connection", keepAlive ? "keep-alive" : "close"),
        ]), body: body)
    }

    /// `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
    /// "$http_referer" "$http_user_agent" "$http_x_forwarded_for"`.
    func log(_ record: HTTPAccessRecord) {
        func header(_ name: String) -> String { record.request?.headers[name].map(accessLogEscape) ?? "-" }
        let time = WallClock.format("%d/%b/%Y:%H:%M:%S %z")
        logStream.line("\(record.connection.peer.ip) - - [\(time)] \"\(accessLogEscape(record.requestLine))\" \(record.status) \(record.bodyBytes) \"\(header("Referer"))\" \"\(header("User-Agent"))\" \"\(header("X-Forwarded-For"))\"")
    }
}
