#if canImport(Glibc)
import Glibc
#endif

/// curl 8 for plain HTTP: the common flags, curl's exit codes and messages.
enum Curl {
    static let version = "8.9.1"
    static let userAgent = "curl/\(version)"
    static let tryHelp = "curl: try 'curl --help' or 'curl --manual' for more information"

    /// A failed transfer: curl's exit code and message (`curl: (7) …`).
    struct Failure: Error {
        var code: Int32
        var message: String
    }

    /// `/entrypoint.sh` of the curl images: arguments starting with `-` are curl's,
    /// anything else is a command to run.
    static func imageEntrypoint(_ context: ToolContext) -> Int32 {
        var arguments = context.arguments
        if arguments.first?.hasPrefix("-") ?? false { arguments.insert("curl", at: 0) }
        return CommandRunner.exec(arguments, image: "curlimages/curl", shellName: "/entrypoint.sh")
    }

    static func main(_ context: ToolContext) -> Int32 {
        let options: CurlOptions
        do { options = try CurlOptions.parse(context.arguments) } catch {
            context.stderr.line("curl: \(error)")
            context.stderr.line(tryHelp)
            return 2
        }
        if options.help {
            context.stdout.write("""
            Usage: curl [options...] <url>
             -d, --data <data>          HTTP POST data
             -f, --fail                 Fail fast with no output on HTTP errors
             -H, --header <header>      Pass custom header(s) to server
             -i, --include              Include response headers in output
             -I, --head                 Show document info only
             -L, --location             Follow redirects
             -m, --max-time <seconds>   Maximum time allowed for transfer
                 --connect-timeout <s>  Maximum time allowed for connection
             -o, --output <file>        Write to file instead of stdout
             -s, --silent               Silent mode
             -S, --show-error           Show error even when -s is used
             -v, --verbose              Make the operation more talkative
             -w, --write-out <format>   Use output FORMAT after completion
             -X, --request <method>     Specify request method to use
                 --retry <num>          Retry request if transient problems occur

            """)
            return 0
        }
        if options.version {
            context.stdout.write("curl \(version) (x86_64-pc-linux-musl) libcurl/\(version)\nRelease-Date: 2024-07-31\nProtocols: http\nFeatures: IPv6 Largefile\n")
            return 0
        }
        guard !options.urls.isEmpty else {
            context.stderr.line("curl: no URL specified")
            context.stderr.line(tryHelp)
            return 2
        }
        var code: Int32 = 0
        // As curl, one command's URLs to the same host and port share a kept-alive connection.
        let connections = ConnectionCache()
        for url in options.urls {
            let result = CurlTransfer(options: options, context: context, connections: connections).run(url)
            if result != 0 { code = result }
        }
        return code
    }
}

/// One URL's transfer, with retries and redirects.
struct CurlTransfer {
    var options: CurlOptions
    var context: ToolContext
    /// The connection an earlier URL of the command left open.
    var connections: ConnectionCache? = nil

    private var showErrors: Bool { !options.silent || options.showError }
    private var showMeter: Bool { !options.silent && (options.output != nil || !context.stdout.isTerminal) }

    /// Values for `-w`, and the output, shared with the transfer callbacks.
    private final class Report {
        var status = 0
        var bodyBytes = 0
        var headerBytes = 0
        var redirects = 0
        var url = ""
        var method = "GET"
        var local: SocketAddress?
        var remote: SocketAddress?
        var connectSeconds = 0.0
        var totalSeconds = 0.0
        var headers = HTTPHeaders()
        var version = ""
        var exitCode: Int32 = 0
        var errorMessage = ""
        /// The response is an HTTP error that `-f` keeps out of the output.
        var suppressBody = false
        var sink: OutputSink

        init(sink: OutputSink) { self.sink = sink }
    }

    func run(_ urlText: String) -> Int32 {
        var attempt = 0
        while true {
            let report = Report(sink: OutputSink(path: options.output, stdout: context.stdout))
            let start = monotonicNanoseconds()
            let outcome = transfer(urlText, report: report, start: start)
            report.totalSeconds = Double(monotonicNanoseconds() - start) / 1e9
            report.sink.close()
            var code: Int32 = 0
            if case let .failure(failure) = outcome {
                code = failure.code
                report.exitCode = failure.code
                report.errorMessage = failure.message
            }
            if showMeter { meter(total: report.bodyBytes, seconds: report.totalSeconds) }
            if attempt < options.retry, let problem = transientProblem(code: code, status: report.status) {
                let delay = options.retryDelay ?? Double(1 << min(attempt, 9))
                let left = options.retry - attempt
                if showErrors {
                    let seconds = delay == 1 ? "1 second" : "\(Int(delay)) seconds"
                    context.stderr.line("Warning: Problem : \(problem). Will retry in \(seconds). \(left) \(left == 1 ? "retry" : "retries") left.")
                }
                sleepFor(seconds: delay)
                attempt += 1
                continue
            }
            if case let .failure(failure) = outcome, showErrors {
                context.stderr.line("curl: (\(failure.code)) \(failure.message)")
            }
            if let format = options.writeOut { context.stdout.write(expand(format, report)) }
            return code
        }
    }

    private func transientProblem(code: Int32, status: Int) -> String? {
        if code == 28 { return "timeout" }
        if code == 7 && options.retryConnectionRefused { return "connection refused" }
        if [408, 429, 500, 502, 503, 504].contains(status) { return "HTTP error" }
        return nil
    }

    private func transfer(_ urlText: String, report: Report, start: UInt64) -> Result<Void, Curl.Failure> {
        var url: HTTPURL
        do { url = try HTTPURL(parsing: urlText) } catch {
            if case .unsupportedScheme = error { return .failure(Curl.Failure(code: 1, message: error.description)) }
            return .failure(Curl.Failure(code: 3, message: error.description))
        }
        var body: [UInt8]
        do { body = try requestBody() } catch { return .failure(error) }
        var method = options.method ?? (options.head ? "HEAD" : (body.isEmpty || options.get ? "GET" : "POST"))
        if options.get && !body.isEmpty {
            url.target += (url.target.contains("?") ? "&" : "?") + String(decoding: body, as: UTF8.self)
            body = []
        }
        let verbose = options.verbose
        let stderr = context.stderr
        let options = self.options
        let failOnError = options.fail || options.failWithBody
        let printHeaders = options.include || options.head

        while true {
            report.url = url.description
            report.method = method
            report.suppressBody = false
            let request = buildRequest(url: url, method: method, body: body)
            let host = url.host
            var events = TransferEvents()
            events.connecting = { address in if verbose { stderr.line("*   Trying \(address)...") } }
            events.connected = { local, remote in
                report.local = local
                report.remote = remote
                report.connectSeconds = Double(monotonicNanoseconds() - start) / 1e9
                if verbose { stderr.line("* Connected to \(host) (\(remote.ip)) port \(remote.port)") }
            }
            events.reusing = { local, remote in
                report.local = local
                report.remote = remote
                if verbose { stderr.line("* Re-using existing connection with host \(host)") }
            }
            events.requestSent = { head in
                guard verbose else { return }
                var text = ""
                for line in HTTPHead.lines(head.wireBytes) { text += "> \(line)\n" }
                stderr.write(text + "> \n* Request completely sent off\n")
            }
            events.responseHead = { head in
                report.status = head.status
                report.headers = head.headers
                report.version = String(head.version.dropFirst("HTTP/".count))
                let bytes = head.wireBytes
                report.headerBytes += bytes.count
                if verbose {
                    var text = ""
                    for line in HTTPHead.lines(bytes) { text += "< \(line)\n" }
                    stderr.write(text + "< \n")
                }
                let following = options.location && (300..<400).contains(head.status) && head.headers["Location"] != nil
                report.suppressBody = following || (options.fail && !options.failWithBody && head.status >= 400)
                if printHeaders && !(options.fail && !options.failWithBody && head.status >= 400) { report.sink.write(bytes) }
            }
            events.body = { bytes in
                report.bodyBytes += bytes.count
                if !report.suppressBody { report.sink.write(bytes) }
            }

            let timeouts = TransferTimeouts(connect: options.connectTimeout ?? 300, total: options.maxTime)
            let exchange: HTTPExchange
            do {
                exchange = try HTTPClient.exchange(url: url, request: request, body: body, timeouts: timeouts, events: events, cache: connections)
            } catch {
                if verbose { stderr.line("* Closing connection") }
                return .failure(failure(for: error))
            }
            if report.sink.failed { return .failure(Curl.Failure(code: 23, message: "Failure writing output to destination")) }
            if verbose { stderr.line("* Connection #0 to host \(url.host) left intact") }

            if options.location, (300..<400).contains(exchange.response.status), let location = exchange.response.headers["Location"] {
                guard report.redirects < options.maxRedirects else {
                    return .failure(Curl.Failure(code: 47, message: "Maximum (\(options.maxRedirects)) redirects followed"))
                }
                do { url = try url.resolving(location) } catch {
                    if case .unsupportedScheme = error { return .failure(Curl.Failure(code: 1, message: error.description)) }
                    return .failure(Curl.Failure(code: 3, message: error.description))
                }
                if verbose { stderr.line("* Issue another request to this URL: '\(url)'") }
                report.redirects += 1
                report.bodyBytes = 0
                if [301, 302, 303].contains(exchange.response.status) && method == "POST" && options.method == nil {
                    method = "GET"
                    body = []
                }
                continue
            }
            if failOnError && exchange.response.status >= 400 {
                return .failure(Curl.Failure(code: 22, message: "The requested URL returned error: \(exchange.response.status)"))
            }
            return .success(())
        }
    }

    private func requestBody() throws(Curl.Failure) -> [UInt8] {
        var parts: [[UInt8]] = []
        for part in options.data {
            switch part {
            case let .literal(text):
                parts.append(Array(text.utf8))
            case let .file(path, keepLineBreaks):
                let fd = path == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else {
                    context.stderr.line("Warning: Couldn't read data from file \"\(path)\", this makes an empty POST.")
                    parts.append([])
                    continue
                }
                defer { if fd != 0 { close(fd) } }
                var bytes = (try? readAll(fd: fd)) ?? []
                if !keepLineBreaks { bytes.removeAll { $0 == 0x0A || $0 == 0x0D } }
                parts.append(bytes)
            }
        }
        return Array(parts.joined(separator: [UInt8(ascii: "&")]))
    }

    private func buildRequest(url: HTTPURL, method: String, body: [UInt8]) -> HTTPRequestHead {
        var headers: HTTPHeaders = [("Host", url.hostHeader)]
        if let user = options.user ?? url.userinfo {
            headers.append("Authorization", "Basic \(base64Encode(Array(user.utf8)))")
        }
        headers.append("User-Agent", options.userAgent ?? Curl.userAgent)
        headers.append("Accept", "*/*")
        if let referer = options.referer { headers.append("Referer", referer) }
        if !body.isEmpty {
            headers.append("Content-Length", "\(body.count)")
            headers.append("Content-Type", "application/x-www-form-urlencoded")
        }
        for header in options.headers {
            // `Name: value` replaces curl's own; `Name:` removes it; `Name;` sends it empty.
            if let colon = header.firstIndex(of: ":") {
                let name = String(header[..<colon])
                let value = header[header.index(after: colon)...].trimmingSpaces()
                if value.isEmpty {
                    headers.fields.removeAll { $0.name.lowercased() == name.lowercased() }
                } else if ["host", "user-agent", "accept", "content-type", "content-length", "authorization", "referer"].contains(name.lowercased()) {
                    headers.set(name, value)
                } else {
                    headers.append(name, value)
                }
            } else if header.hasSuffix(";") {
                headers.append(String(header.dropLast()), "")
            }
        }
        return HTTPRequestHead(method: method, target: url.target, version: options.http10 ? "HTTP/1.0" : "HTTP/1.1", headers: headers)
    }

    private func failure(for error: TransferError) -> Curl.Failure {
        switch error {
        case let .resolve(host):
            return Curl.Failure(code: 6, message: "Could not resolve host: \(host)")
        case let .connect(host, port, _, ms):
            return Curl.Failure(code: 7, message: "Failed to connect to \(host) port \(port) after \(ms) ms: Couldn't connect to server")
        case let .connectTimeout(host, port, ms):
            if let connect = options.connectTimeout, connect <= (options.maxTime ?? .infinity) {
                return Curl.Failure(code: 28, message: "Failed to connect to \(host) port \(port) after \(ms) ms: Timeout was reached")
            }
            return Curl.Failure(code: 28, message: "Connection timed out after \(ms) milliseconds")
        case let .timeout(ms, received, expected):
            let amount = expected.map { "\(received) out of \($0)" } ?? "\(received)"
            return Curl.Failure(code: 28, message: "Operation timed out after \(ms) milliseconds with \(amount) bytes received")
        case .emptyReply:
            return Curl.Failure(code: 52, message: "Empty reply from server")
        case let .send(errno):
            return Curl.Failure(code: 55, message: "Send failure: \(String(cString: strerror(errno)))")
        case let .receive(errno):
            return Curl.Failure(code: 56, message: "Recv failure: \(String(cString: strerror(errno)))")
        case .malformedResponse:
            return Curl.Failure(code: 8, message: "Weird server reply")
        case let .partial(remaining):
            if let remaining { return Curl.Failure(code: 18, message: "transfer closed with \(remaining) bytes remaining to read") }
            return Curl.Failure(code: 18, message: "transfer closed with outstanding read data remaining")
        }
    }

    /// The `-w` format with `%{variable}`, `%header{name}` and backslash escapes expanded.
    private func expand(_ format: String, _ report: Report) -> String {
        CurlWriteOut.expand(format) { name in
            switch name {
            case "http_code", "response_code": let s = String(report.status); return String(repeating: "0", count: max(0, 3 - s.count)) + s
            case "size_download": return "\(report.bodyBytes)"
            case "size_header": return "\(report.headerBytes)"
            case "time_total": return CurlWriteOut.seconds(report.totalSeconds)
            case "time_connect": return CurlWriteOut.seconds(report.connectSeconds)
            case "remote_ip": return report.remote?.ip ?? ""
            case "remote_port": return report.remote.map { "\($0.port)" } ?? ""
            case "local_ip": return report.local?.ip ?? ""
            case "local_port": return report.local.map { "\($0.port)" } ?? ""
            case "url_effective", "url": return report.url
            case "content_type": return report.headers["Content-Type"] ?? ""
            case "num_redirects": return "\(report.redirects)"
            case "exitcode": return "\(report.exitCode)"
            case "errormsg": return report.errorMessage
            case "method": return report.method
            case "http_version": return report.version
            case "scheme": return "http"
            default:
                if name.hasPrefix("header:") { return report.headers[String(name.dropFirst("header:".count))] ?? "" }
                context.stderr.line("curl: unknown --write-out variable: '\(name)'")
                return ""
            }
        }
    }

    /// curl's progress meter, final state only.
    private func meter(total: Int, seconds: Double) {
        let speed = seconds > 0 ? Int(Double(total) / seconds) : 0
        let percent = total > 0 ? "100" : "  0"
        let size = CurlWriteOut.size(total)
        var line = "  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
        line += "                                 Dload  Upload   Total   Spent    Left  Speed\n"
        line += "\(percent) \(size)  \(percent) \(size)    0     0  \(CurlWriteOut.size(speed))      0 --:--:-- --:--:-- --:--:-- \(CurlWriteOut.size(speed))\n"
        context.stderr.write(line)
    }
}

/// Where the body goes: standard output, or a file created on first write (`-o`).
struct OutputSink {
    var path: String?
    var stdout: OutputStream
    private var fd: Int32 = -1
    private(set) var failed = false

    init(path: String?, stdout: OutputStream) {
        self.path = path == "-" ? nil : path
        self.stdout = stdout
    }

    mutating func write(_ bytes: [UInt8]) {
        guard !failed else { return }
        guard let path else {
            if !stdout.write(bytes: bytes) { failed = true }
            return
        }
        if fd < 0 {
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if fd < 0 { failed = true; return }
        }
        if !OutputStream(fd: fd).write(bytes: bytes) { failed = true }
    }

    mutating func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }
}

/// curl's `--write-out` expansion and number formats.
enum CurlWriteOut {
    /// Expands `%{name}`, `%header{name}` (looked up as `header:name`), `%%` and the
    /// escapes `\n`, `\r`, `\t`, `\\`.
    static func expand(_ format: String, _ lookup: (String) -> String) -> String {
        var output = ""
        var rest = Substring(format)
        while let character = rest.first {
            if character == "%" {
                if rest.hasPrefix("%%") { output += "%"; rest = rest.dropFirst(2); continue }
                if rest.hasPrefix("%{"), let close = rest.firstIndex(of: "}") {
                    output += lookup(String(rest[rest.index(rest.startIndex, offsetBy: 2)..<close]))
                    rest = rest[rest.index(after: close)...]
                    continue
                }
                if rest.hasPrefix("%header{"), let close = rest.firstIndex(of: "}") {
                    output += lookup("header:" + rest[rest.index(rest.startIndex, offsetBy: 8)..<close])
                    rest = rest[rest.index(after: close)...]
                    continue
                }
            } else if character == "\\", rest.count > 1 {
                let next = rest[rest.index(after: rest.startIndex)]
                let escaped: String? = switch next {
                case "n": "\n"
                case "r": "\r"
                case "t": "\t"
                case "\\": "\\"
                default: nil
                }
                if let escaped { output += escaped; rest = rest.dropFirst(2); continue }
            }
            output.append(character)
            rest = rest.dropFirst()
        }
        return output
    }

    /// Seconds with six decimals, as curl prints times: `0.001234`.
    static func seconds(_ value: Double) -> String {
        let micro = Int((value * 1_000_000).rounded())
        let fraction = String(micro % 1_000_000)
        return "\(micro / 1_000_000)." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }

    /// A byte count in the meter's five columns: `  612`, `97.6k`, ` 597k`, `12.0M`.
    static func size(_ bytes: Int) -> String {
        let text: String
        if bytes < 100_000 {
            text = "\(bytes)"
        } else if bytes < 10 * 1024 * 1024 {
            let k = Double(bytes) / 1024
            text = k < 100 ? "\(Int(k * 10) / 10).\(Int(k * 10) % 10)k" : "\(Int(k))k"
        } else {
            let m = Double(bytes) / 1024 / 1024
            text = m < 100 ? "\(Int(m * 10) / 10).\(Int(m * 10) % 10)M" : "\(Int(m))M"
        }
        return String(repeating: " ", count: max(0, 5 - text.count)) + text
    }
}
