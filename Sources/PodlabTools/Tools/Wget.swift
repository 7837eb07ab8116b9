#if canImport(Glibc)
import Glibc
#endif

/// BusyBox wget for plain HTTP: `wget [-q] [-O FILE] [-T SEC] [-S] [--spider] [-U AGENT]
/// [--header H] [--post-data DATA] URL`, with BusyBox's messages; every failure exits 1.
enum Wget {
    struct Options: Equatable {
        var quiet = false
        var output: String?
        var timeout = 900.0
        var serverResponse = false
        var spider = false
        var userAgent = "Wget"
        var headers: [String] = []
        var postData: String?
        var urls: [String] = []
    }

    static func parse(_ arguments: [String]) throws(UsageError) -> Options {
        var options = Options()
        var index = 0
        func value(_ option: String) throws(UsageError) -> String {
            index += 1
            guard index < arguments.count else { throw UsageError("option requires an argument -- '\(option)'") }
            return arguments[index]
        }
        func apply(_ option: String, _ text: String) throws(UsageError) {
            switch option {
            case "O", "output-document": options.output = text
            case "T", "timeout":
                guard let seconds = Double(text), seconds >= 0 else { throw UsageError("invalid number '\(text)'") }
                options.timeout = seconds
            case "U", "user-agent": options.userAgent = text
            case "header": options.headers.append(text)
            case "post-data": options.postData = text
            case "P", "Y", "e", "directory-prefix", "proxy", "execute": break
            default: throw UsageError("unrecognized option '\(option)'")
            }
        }
        while index < arguments.count {
            let argument = arguments[index]
            if argument.hasPrefix("--") && argument.count > 2 {
                var name = String(argument.dropFirst(2))
                var attached: String?
                if let equals = name.firstIndex(of: "=") {
                    attached = String(name[name.index(after: equals)...])
                    name = String(name[..<equals])
                }
                switch name {
                case "quiet": options.quiet = true
                case "server-response": options.serverResponse = true
                case "spider": options.spider = true
                case "no-check-certificate", "continue", "no-verbose": break
                case "output-document", "timeout", "user-agent", "header", "post-data", "directory-prefix", "proxy", "execute":
                    let text: String
                    if let attached { text = attached } else { text = try value(name) }
                    try apply(name, text)
                default: throw UsageError("unrecognized option '--\(name)'")
                }
            } else if argument.hasPrefix("-") && argument.count > 1 {
                var characters = Substring(argument.dropFirst())
                while let character = characters.first {
                    characters = characters.dropFirst()
                    switch character {
                    case "q": options.quiet = true
                    case "S": options.serverResponse = true
                    case "c", "s", "v": break
                    case "O", "T", "U", "P", "Y", "e":
                        let text: String
                        if characters.isEmpty { text = try value(String(character)) } else { text = String(characters) }
                        try apply(String(character), text)
                        characters = ""
                    default: throw UsageError("invalid option -- '\(character)'")
                    }
                }
            } else {
                options.urls.append(argument)
            }
            index += 1
        }
        return options
    }

    static func main(_ context: ToolContext) -> Int32 {
        let options: Options
        do { options = try parse(context.arguments) } catch {
            context.stderr.line("wget: \(error)")
            return 1
        }
        guard !options.urls.isEmpty else {
            context.stderr.line("\(Busybox.banner)\n\nUsage: wget [-cqS] [--spider] [-O FILE] [-o LOGFILE] [--header STR]\n\t[--post-data STR | --post-file FILE] [-Y on/off]\n\t[-P DIR] [-U AGENT] [-T SEC] URL...\n\nRetrieve files via HTTP or FTP")
            return 1
        }
        for url in options.urls {
            let code = fetch(url, options: options, context: context)
            if code != 0 { return code }
        }
        return 0
    }

    private static func fetch(_ text: String, options: Options, context: ToolContext) -> Int32 {
        func fail(_ message: String) -> Int32 {
            context.stderr.line("wget: \(message)")
            return 1
        }
        var url: HTTPURL
        do { url = try HTTPURL(parsing: text) } catch {
            return fail("not an http or ftp url: \(text)")
        }
        let toStdout = options.output == "-"
        let fileName = options.output ?? url.fileName
        var redirects = 0
        var method = options.postData == nil ? "GET" : "POST"
        var body = options.postData.map { Array($0.utf8) } ?? []

        while true {
            var headers: HTTPHeaders = [("Host", url.hostHeader), ("User-Agent", options.userAgent)]
            if !body.isEmpty {
                headers.append("Content-Type", "application/x-www-form-urlencoded")
                headers.append("Content-Length", "\(body.count)")
            }
            for header in options.headers {
                if let colon = header.firstIndex(of: ":") {
                    headers.set(String(header[..<colon]), header[header.index(after: colon)...].trimmingSpaces())
                }
            }
            headers.append("Connection", "close")
            let request = HTTPRequestHead(method: method, target: url.target, headers: headers)

            if !options.quiet {
                let addresses = HostResolver.resolve(url.host, port: url.port)
                if let first = addresses.first {
                    context.stderr.line("Connecting to \(url.hostHeader) (\(first))")
                }
            }
            let collector = BodyCollector()
            var events = TransferEvents()
            events.responseHead = { head in
                collector.head = head
                if options.serverResponse {
                    context.stderr.write(HTTPHead.lines(head.wireBytes).map { "  \($0)\n" }.joined())
                }
            }
            events.body = { bytes in collector.append(bytes) }
            let exchange: HTTPExchange
            do {
                exchange = try HTTPClient.exchange(url: url, request: request, body: body,
                                                   timeouts: TransferTimeouts(connect: options.timeout, total: options.timeout),
                                                   events: events)
            } catch {
                switch error {
                case let .resolve(host): return fail("bad address '\(host)'")
                case let .connect(_, _, errno, _):
                    return fail("can't connect to remote host (\(addressText(url))): \(String(cString: strerror(errno)))")
                case .connectTimeout:
                    return fail("can't connect to remote host (\(addressText(url))): Connection timed out")
                case .timeout: return fail("download timed out")
                case .emptyReply: return fail("error getting response: Connection reset by peer")
                case let .receive(errno): return fail("error getting response: \(String(cString: strerror(errno)))")
                case let .send(errno): return fail("error sending request: \(String(cString: strerror(errno)))")
                case .malformedResponse: return fail("error getting response")
                case .partial: return fail("connection closed prematurely")
                }
            }
            let status = exchange.response.status
            if (300..<400).contains(status), let location = exchange.response.headers["Location"] {
                redirects += 1
                guard redirects <= 20 else { return fail("too many redirections") }
                do { url = try url.resolving(location) } catch { return fail("not an http or ftp url: \(location)") }
                if status == 303 || ((status == 301 || status == 302) && method == "POST") { method = "GET"; body = [] }
                continue
            }
            guard (200..<300).contains(status) else {
                return fail("server returned error: \(exchange.response.statusLine)")
            }
            if options.spider {
                if !options.quiet { context.stderr.line("remote file exists") }
                return 0
            }
            let data = collector.bytes
            if toStdout {
                if !options.quiet { context.stderr.line("writing to stdout") }
                context.stdout.write(bytes: data)
            } else {
                let flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (options.output == nil ? O_EXCL : 0)
                let fd = open(fileName, flags, 0o644)
                guard fd >= 0 else { return fail("can't open '\(fileName)': \(String(cString: strerror(errno)))") }
                if !options.quiet { context.stderr.line("saving to '\(fileName)'") }
                let written = OutputStream(fd: fd).write(bytes: data)
                close(fd)
                guard written else { return fail("write error") }
            }
            if !options.quiet {
                let label = toStdout ? "-" : fileName
                let padded = label.count >= 20 ? String(label.prefix(20)) : label + String(repeating: " ", count: 20 - label.count)
                let size = String(data.count)
                let sizeColumn = String(repeating: " ", count: max(0, 6 - size.count)) + size
                context.stderr.line("\(padded) 100% |\(String(repeating: "*", count: 32))| \(sizeColumn)  0:00:00 ETA")
                context.stderr.line(toStdout ? "written to stdout" : "'\(fileName)' saved")
            }
            return 0
        }
    }

    private static func addressText(_ url: HTTPURL) -> String {
        HostResolver.resolve(url.host, port: url.port).first?.ip ?? url.host
    }
}

/// Collects a response body from transfer callbacks.
final class BodyCollector {
    var head: HTTPResponseHead?
    private(set) var bytes: [UInt8] = []
    func append(_ chunk: [UInt8]) { bytes += chunk }
}
