#if canImport(Glibc)
import Glibc
#endif

/// The `podlab/probe` image: `probe serve` runs the echo server (the target side of a
/// connectivity check); `probe tcp|udp HOST PORT` and `probe http URL` check a target and
/// print one line (or one JSON object with `--json`); exit 0 when it answered, 1 otherwise.
enum Probe {
    struct Result {
        var protocolName: String
        var target: String
        var ok: Bool
        var milliseconds: Int
        var detail: String
    }

    static func main(_ context: ToolContext) -> Int32 {
        var arguments = context.arguments
        guard let mode = arguments.first else { return EchoServer.serve(context, label: "probe") }
        arguments.removeFirst()
        if mode == "serve" {
            var serveContext = context
            serveContext.arguments = arguments
            return EchoServer.serve(serveContext, label: "probe")
        }
        var json = false
        var timeout = 2.0
        var positional: [String] = []
        var index = 0
        while index < arguments.count {
            switch arguments[index] {
            case "--json": json = true
            case "-t", "--timeout":
                index += 1
                guard index < arguments.count, let seconds = Double(arguments[index]), seconds > 0 else {
                    context.stderr.line("probe: -t needs a number of seconds")
                    return 2
                }
                timeout = seconds
            default: positional.append(arguments[index])
            }
            index += 1
        }
        let result: Result
        switch (mode, positional.count) {
        case ("tcp", 2), ("udp", 2):
            guard let port = UInt16(positional[1]), port > 0 else {
                context.stderr.line("probe: invalid port \"\(positional[1])\"")
                return 2
            }
            result = mode == "tcp" ? tcp(host: positional[0], port: port, timeout: timeout) : udp(host: positional[0], port: port, timeout: timeout)
        case ("http", 1):
            result = http(url: positional[0], timeout: timeout)
        default:
            context.stderr.line("usage: probe [serve [--port N]] | probe tcp|udp HOST PORT [-t SECS] [--json] | probe http URL [-t SECS] [--json]")
            return 2
        }
        if json {
            context.stdout.line("{\"protocol\":\(JSON.quote(result.protocolName)),\"target\":\(JSON.quote(result.target)),\"ok\":\(result.ok),\"ms\":\(result.milliseconds),\"detail\":\(JSON.quote(result.detail))}")
        } else {
            context.stdout.line("\(result.protocolName) \(result.target) \(result.ok ? "ok" : "failed"): \(result.detail) (\(result.milliseconds) ms)")
        }
        return result.ok ? 0 : 1
    }

    static func tcp(host: String, port: UInt16, timeout: Double) -> Result {
        let start = monotonicNanoseconds()
        var result = Result(protocolName: "tcp", target: "\(host):\(port)", ok: false, milliseconds: 0, detail: "")
        do {
            _ = try HTTPClient.connect(host: host, port: port, timeouts: TransferTimeouts(connect: timeout, total: timeout),
                                       started: start, events: TransferEvents())
            result.ok = true
            result.detail = "connected"
        } catch {
            result.detail = describe(error)
        }
        result.milliseconds = HTTPClient.elapsedMilliseconds(since: start)
        return result
    }

    static func udp(host: String, port: UInt16, timeout: Double) -> Result {
        let start = monotonicNanoseconds()
        var result = Result(protocolName: "udp", target: "\(host):\(port)", ok: false, milliseconds: 0, detail: "")
        guard let address = HostResolver.resolve(host, port: port).first else {
            result.detail = "could not resolve host"
            return result
        }
        do {
            let socket = try Socket(family: address.family, datagram: true)
            let deadline = Deadline.after(seconds: timeout)
            _ = try socket.connect(to: address, until: deadline)
            let payload = Array("podlab-probe\n".utf8)
            _ = try socket.send(payload, until: deadline)
            switch try socket.receive(until: deadline) {
            case let .done(reply):
                result.ok = true
                result.detail = reply == payload ? "echoed" : "replied \(reply.count) bytes"
            case .timedOut:
                result.detail = "no reply"
            }
        } catch {
            result.detail = error.message
        }
        result.milliseconds = HTTPClient.elapsedMilliseconds(since: start)
        return result
    }

    static func http(url text: String, timeout: Double) -> Result {
        let start = monotonicNanoseconds()
        var result = Result(protocolName: "http", target: text, ok: false, milliseconds: 0, detail: "")
        do {
            let url = try HTTPURL(parsing: text)
            let request = HTTPRequestHead(method: "GET", target: url.target, headers: [
                ("Host", url.hostHeader), ("User-Agent", "podlab-probe"), ("Accept", "*/*"), ("Connection", "close"),
            ])
            let exchange = try HTTPClient.exchange(url: url, request: request, body: [],
                                                   timeouts: TransferTimeouts(connect: timeout, total: timeout), events: TransferEvents())
            result.ok = exchange.response.status < 400
            result.detail = "\(exchange.response.status)"
        } catch let error as TransferError {
            result.detail = describe(error)
        } catch {
            result.detail = "\(error)"
        }
        result.milliseconds = HTTPClient.elapsedMilliseconds(since: start)
        return result
    }

    static func describe(_ error: TransferError) -> String {
        switch error {
        case .resolve: "could not resolve host"
        case let .connect(_, _, errno, _): String(cString: strerror(errno))
        case .connectTimeout, .timeout: "timed out"
        case .emptyReply: "empty reply"
        case let .send(errno), let .receive(errno): String(cString: strerror(errno))
        case let .malformedResponse(reason): "bad response: \(reason)"
        case .partial: "connection closed early"
        }
    }
}
