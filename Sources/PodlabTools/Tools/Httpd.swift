#if canImport(Glibc)
import Glibc
#endif

/// The `httpd` image: Apache httpd 2.4.62 with its default document root on :80.
enum Httpd {
    static let version = "Apache/2.4.62 (Unix)"
    /// `/usr/local/apache2/htdocs/index.html` of the httpd image.
    static let itWorks = "<html><body><h1>It works!</h1></body></html>\n"
    /// The page's modification time and ETag in the image.
    static let pageModified: time_t = 1_181_587_994
    static let pageETag = "\"2d-432a5e4a73a80\""

    /// An error-log line: `[Sun Mar 21 11:42:19.592373 2021] [core:notice] [pid 1:tid 1] AH00094: …`.
    static func errorLog(_ module: String, _ message: String) -> String {
        let pid = getpid()
        let micro = String(WallClock.microseconds())
        let padded = String(repeating: "0", count: max(0, 6 - micro.count)) + micro
        let stamp = WallClock.format("%a %b %d %H:%M:%S") + ".\(padded) " + WallClock.format("%Y")
        return "[\(stamp)] [\(module)] [pid \(pid):tid \(pid)] \(message)"
    }

    /// Apache's own error document for `status`.
    static func errorPage(_ status: Int, method: String = "GET") -> String {
        let (title, text): (String, String) = switch status {
        case 400: ("Bad Request", "<p>Your browser sent a request that this server could not understand.<br />\n</p>")
        case 404: ("Not Found", "<p>The requested URL was not found on this server.</p>")
        case 405: ("Method Not Allowed", "<p>The requested method \(method) is not allowed for this URL.</p>")
        case 413: ("Request Entity Too Large", "The requested resource does not allow request data with \(method) requests, or the amount of data provided in\nthe request exceeds the capacity limit.")
        default: (HTTPResponseHead.standardReason(status), "")
        }
        return "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>\(status) \(title)</title>\n</head><body>\n<h1>\(title)</h1>\n\(text)\n</body></html>\n"
    }

    /// `httpd-foreground` of the image: `httpd -DFOREGROUND "$@"`.
    static func foreground(_ context: ToolContext) -> Int32 {
        var context = context
        context.name = "httpd"
        context.arguments = ["-DFOREGROUND"] + context.arguments
        return main(context)
    }

    static func main(_ context: ToolContext) -> Int32 {
        var arguments = context.arguments
        let port: UInt16
        do {
            port = try listeningPort(arguments: &arguments, context: context, defaultPort: 80)
        } catch {
            context.stderr.line("httpd: \(error)")
            return 1
        }
        var commandLine = ["httpd"]
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "-v":
                context.stdout.line("Server version: \(version)\nServer built:   Jul 17 2024 18:56:50")
                return 0
            case "-t":
                context.stderr.line("Syntax OK")
                return 0
            case "-D", "-d", "-f", "-C", "-c", "-e", "-E", "-k":
                if index + 1 < arguments.count { commandLine += [argument, arguments[index + 1]] }
                index += 2
                continue
            default:
                if argument.hasPrefix("-D") {
                    commandLine += ["-D", String(argument.dropFirst(2))]
                } else if argument.hasPrefix("-") {
                    context.stderr.line("httpd: illegal option -- \(argument.dropFirst())")
                    return 1
                } else {
                    context.stderr.line("httpd: unexpected argument \"\(argument)\"")
                    return 1
                }
            }
            index += 1
        }

        let serverName = PodAddress.primaryIPv4() ?? "127.0.0.1"
        let fqdnNotice = "AH00558: httpd: Could not reliably determine the server's fully qualified domain name, using \(serverName). Set the 'ServerName' directive globally to suppress this message"
        // What this is, before anything Apache would say: the stand-in must not pass for Apache.
        context.stderr.line("podlab built-in image \"httpd\": podlab-tools stands in for Apache httpd 2.4.62 (it imitates it; it is not Apache)")
        // Apache reads its configuration twice at start-up, and says so twice.
        context.stderr.line(fqdnNotice)
        context.stderr.line(fqdnNotice)

        let signals: TerminationSignals
        do { signals = try TerminationSignals([SIGTERM, SIGINT, SIGWINCH]) } catch {
            context.stderr.line("httpd: \(error)")
            return 1
        }
        let site = HttpdSite(log: context.stdout)
        return serveHTTP(site: site, port: port, signals: signals, bindFailed: { error in
            context.stderr.line("(\(error.errno))\(error.message): AH00072: make_sock: could not bind to address 0.0.0.0:\(port)")
            context.stderr.line("no listening sockets available, shutting down")
            context.stderr.line("AH00015: Unable to open logs")
        }, started: {
            context.stderr.line(errorLog("mpm_event:notice", "AH00489: \(version) configured -- resuming normal operations"))
            context.stderr.line(errorLog("core:notice", "AH00094: Command line: '\(commandLine.joined(separator: " "))'"))
        }, stopping: { signal in
            if signal == SIGWINCH {
                context.stderr.line(errorLog("mpm_event:notice", "AH00492: caught SIGWINCH, shutting down gracefully"))
            } else {
                context.stderr.line(errorLog("mpm_event:notice", "AH00491: caught SIGTERM, shutting down"))
            }
        })
    }
}

/// Apache's default site: "It works!" at `/` and `/index.html`, access log in the
/// `common` format.
final class HttpdSite: HTTPSite {
    let keepAliveTimeout = 5.0
    let maximumBodySize = 1 << 20
    private let logStream: OutputStream

    init(log: OutputStream) { logStream = log }

    private func connectionHeaders(_ keepAlive: Bool) -> [HTTPField] {
        keepAlive ? [HTTPField("Keep-Alive", "timeout=5, max=100"), HTTPField("Connection", "Keep-Alive")] : [HTTPField("Connection", "close")]
    }

    func respond(to request: HTTPRequest, on connection: ConnectionInfo, keepAlive: Bool) -> HTTPResponse {
        let path = request.head.path
        let method = request.head.method
        guard path == "/" || path == "/index.html" else { return page(404, method: method, keepAlive: keepAlive) }
        guard method == "GET" || method == "HEAD" else {
            var response = page(405, method: method, keepAlive: keepAlive)
            response.head.headers.fields.insert(HTTPField("Allow", "GET,POST,OPTIONS,HEAD"), at: 2)
            return response
        }
        let body = Array(Httpd.itWorks.utf8)
        var headers: HTTPHeaders = [
            ("Date", WallClock.httpDate()), ("Server", Httpd.version), ("Last-Modified", WallClock.httpDate(Httpd.pageModified)),
            ("ETag", Httpd.pageETag), ("Accept-Ranges", "bytes"), ("Content-Length", "\(body.count)"),
        ]
        headers.fields += connectionHeaders(keepAlive)
        headers.append("Content-Type", "text/html")
        return HTTPResponse(head: HTTPResponseHead(status: 200, headers: headers), body: body)
    }

    func errorResponse(status: Int, on connection: ConnectionInfo) -> HTTPResponse {
        page(status, method: "GET", keepAlive: false)
    }

    private func page(_ status: Int, method: String, keepAlive: Bool) -> HTTPResponse {
        let body = Array(Httpd.errorPage(status, method: method).utf8)
        var headers: HTTPHeaders = [("Date", WallClock.httpDate()), ("Server", Httpd.version), ("Content-Length", "\(body.count)")]
        headers.fields += connectionHeaders(keepAlive)
        headers.append("Content-Type", "text/html; charset=iso-8859-1")
        let reason = status == 405 ? "Method Not Allowed" : nil
        return HTTPResponse(head: HTTPResponseHead(status: status, reason: reason, headers: headers), body: body)
    }

    /// `%h %l %u %t "%r" %>s %b`.
    func log(_ record: HTTPAccessRecord) {
        let time = WallClock.format("%d/%b/%Y:%H:%M:%S %z")
        let bytes = record.bodyBytes == 0 ? "-" : "\(record.bodyBytes)"
        logStream.line("\(record.connection.peer.ip) - - [\(time)] \"\(accessLogEscape(record.requestLine))\" \(record.status) \(bytes)")
    }
}
