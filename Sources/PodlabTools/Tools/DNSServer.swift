#if canImport(Glibc)
import Glibc
#endif
import CNetlink

/// The `podlab/dns` image: the cluster's DNS server. Authoritative for the cluster domain
/// (`cluster.local`) and for `in-addr.arpa` (PTR of service and pod addresses), fed by watches
/// on the agent's API; every other name is REFUSED, since it forwards nothing (no packet leaves
/// the lab). UDP and TCP on :53.
///
///     podlab-dns [--api-socket PATH] [--port N] [--domain D] [--hosts FILE] [--udp-workers N]
///
/// `--api-socket` (or `$PODLAB_API_SOCKET`) is the agent's socket; `--hosts FILE` serves the
/// names of a hosts file (`ADDRESS NAME...`, names inside the domain) instead, without an
/// agent (the benchmark's mode).
enum DNSServer {
    struct Options {
        var apiSocket: String?
        var port: UInt16 = 53
        var domain = "cluster.local"
        var hostsFile: String?
        var udpWorkers = max(1, min(4, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
    }

    static func parse(_ arguments: [String], environment: (String) -> String?) throws(UsageError) -> Options {
        var options = Options()
        options.apiSocket = environment("PODLAB_API_SOCKET").flatMap { $0.isEmpty ? nil : $0 }
        if let domain = environment("PODLAB_CLUSTER_DOMAIN"), !domain.isEmpty { options.domain = domain }
        var index = 0
        while index < arguments.count {
            var name = arguments[index]
            var value: String?
            if let equals = name.firstIndex(of: "="), name.hasPrefix("--") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            func next() throws(UsageError) -> String {
                if let value { return value }
                guard index + 1 < arguments.count else { throw UsageError("option \(name) needs a value") }
                index += 1
                return arguments[index]
            }
            switch name {
            case "--api-socket": options.apiSocket = try next()
            case "--port":
                let text = try next()
                guard let port = UInt16(text), port > 0 else { throw UsageError("invalid port \"\(text)\"") }
                options.port = port
            case "--domain":
                let text = try next()
                guard let key = DNSNameKey(text), key.bytes.count > 1 else { throw UsageError("invalid domain \"\(text)\"") }
                options.domain = text.hasSuffix(".") ? String(text.dropLast()) : text
            case "--hosts": options.hostsFile = try next()
            case "--udp-workers":
                let text = try next()
                guard let count = Int(text), (1...64).contains(count) else { throw UsageError("invalid --udp-workers \"\(text)\" (1 to 64)") }
                options.udpWorkers = count
            default:
                throw UsageError("unexpected argument \"\(arguments[index])\"")
            }
            index += 1
        }
        if options.apiSocket == nil && options.hostsFile == nil {
            throw UsageError("no source of names: give --api-socket PATH (or $PODLAB_API_SOCKET) or --hosts FILE")
        }
        return options
    }

    /// The names of a hosts file: `ADDRESS NAME [NAME...]`, `#` comments.
    static func hosts(_ text: String) -> [ClusterDNSData.Host] {
        var hosts: [ClusterDNSData.Host] = []
        for line in text.split(separator: "\n") {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = content.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard fields.count >= 2 else { continue }
            for name in fields.dropFirst() { hosts.append(.init(name: name, ip: fields[0])) }
        }
        return hosts
    }

    static func main(_ context: ToolContext) -> Int32 {
        let label = "podlab-dns"
        let options: Options
        do { options = try parse(context.arguments, environment: context.environment) } catch {
            context.stderr.line("\(label): \(error)")
            return 2
        }
        let logger = EchoLogger(stream: context.stdout, label: label)
        var initial = ClusterDNSData()
        if let file = options.hostsFile {
            guard let text = readWholeFile(file) else {
                context.stderr.line("\(label): cannot read \(file): \(String(cString: strerror(errno)))")
                return 1
            }
            initial.hosts = hosts(text)
        }
        let source = ClusterDNSSource(domain: options.domain, initial: initial)
        let signals: TerminationSignals
        let tcp: Socket
        var udp: [Int32] = []
        do {
            signals = try TerminationSignals()
            let any = SocketAddress(ip: "0.0.0.0", port: options.port)!
            tcp = try Socket.listening(on: any)
            for _ in 0..<options.udpWorkers { udp.append(try blockingDatagramSocket(on: any)) }
        } catch {
            context.stderr.line("\(label): \(error.operation) 0.0.0.0:\(options.port): \(error.message)")
            return 1
        }
        for fd in udp {
            startThread { serveUDP(fd: fd, source: source) }
        }
        if let path = options.apiSocket {
            let log: @Sendable (String) -> Void = { text in logger.line(text) }
            for kind in ClusterDNSState.Kind.allCases {
                let watcher = AgentWatcher(connection: AgentConnection(socketPath: path), kind: kind, source: source, log: log)
                startThread { watcher.run() }
            }
            logger.line("serving \(options.domain) and in-addr.arpa on 0.0.0.0:\(options.port) (udp x\(options.udpWorkers), tcp), names from the agent at \(path)")
        } else {
            logger.line("serving \(initial.hosts.count) names of \(options.hostsFile ?? "") on 0.0.0.0:\(options.port) (udp x\(options.udpWorkers), tcp)")
        }
        let loop = ServerLoop(
            listeners: [ServerLoop.Listener(socket: tcp, makeHandler: { _ in DNSStreamHandler(source: source) }, idleTimeout: 10)],
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

    /// A blocking UDP socket with SO_REUSEPORT: one per worker thread, and the kernel spreads
    /// clients over them by their address and port.
    static func blockingDatagramSocket(on address: SocketAddress) throws(SystemError) -> Int32 {
        let fd = try check("socket") { socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size))
        // Room for bursts: dnsperf keeps hundreds of queries in flight.
        var size: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        _ = pl_enable_packet_info(fd)
        do {
            try check("bind") { address.withSockaddr { bind(fd, $0, $1) } }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// One worker: receive the queries that are waiting (up to a batch), answer each from the
    /// current zone, send the answers in one call, repeat. Each answer leaves from the address
    /// its query reached (IP_PKTINFO).
    static func serveUDP(fd: Int32, source: ClusterDNSSource) {
        let batchSize = 32
        let queryCapacity = 4096, answerCapacity = 65535
        var queries = [pl_datagram](repeating: pl_datagram(), count: batchSize)
        var answers = [pl_datagram](repeating: pl_datagram(), count: batchSize)
        for index in 0..<batchSize {
            queries[index].buffer = .allocate(capacity: queryCapacity)
            queries[index].capacity = UInt32(queryCapacity)
            answers[index].buffer = .allocate(capacity: answerCapacity)
            answers[index].capacity = UInt32(answerCapacity)
        }
        while true {
            let received = pl_receive_datagrams(fd, &queries, UInt32(batchSize))
            if received <= 0 { continue }
            let zone = source.zone
            var ready = 0
            for index in 0..<Int(received) {
                let query = queries[index]
                // A query longer than the buffer was cut: not worth an answer.
                guard query.truncated == 0 else { continue }
                let message = Array(UnsafeBufferPointer(start: query.buffer, count: Int(query.length)))
                guard let answer = DNSResponder.respond(to: message, zone: zone, transport: .udp), answer.count <= answerCapacity else { continue }
                answer.withUnsafeBufferPointer { bytes in
                    answers[ready].buffer.update(from: bytes.baseAddress!, count: bytes.count)
                }
                answers[ready].length = UInt32(answer.count)
                answers[ready].peer = query.peer
                answers[ready].peer_length = query.peer_length
                answers[ready].local_address = query.local_address
                ready += 1
            }
            if ready > 0 { _ = pl_send_datagrams(fd, &answers, UInt32(ready)) }
        }
    }

    static func readWholeFile(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n > 0 { bytes += chunk[0..<n] }
            if n < chunk.count { break }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// DNS over TCP (RFC 1035 4.2.2, RFC 7766): each message has a two-byte length before it;
/// several queries may come on one connection, answered in order.
final class DNSStreamHandler: StreamHandler {
    private let source: ClusterDNSSource
    private var pending: [UInt8] = []
    /// The server is shutting down: close once no message is partly received.
    private var closing = false

    init(source: ClusterDNSSource) { self.source = source }

    func shutDown() -> Bool {
        closing = true
        return pending.isEmpty
    }

    func received(_ bytes: [UInt8], on connection: ConnectionInfo) -> ConnectionReply {
        pending += bytes
        var output: [UInt8] = []
        while pending.count >= 2 {
            let length = Int(pending[0]) << 8 | Int(pending[1])
            guard pending.count >= 2 + length else { break }
            let message = Array(pending[2..<(2 + length)])
            pending.removeFirst(2 + length)
            guard let answer = DNSResponder.respond(to: message, zone: source.zone, transport: .tcp) else {
                // A message that is no query (or too short): the stream cannot be trusted.
                return ConnectionReply(output: output, close: true)
            }
            output.appendBigEndian(UInt16(answer.count))
            output += answer
        }
        return ConnectionReply(output: output, close: closing && pending.isEmpty)
    }

    func peerClosed(on connection: ConnectionInfo) -> ConnectionReply {
        ConnectionReply(close: true)
    }
}

/// Runs `body` on a new detached thread (the server's workers live as long as the process).
func startThread(_ body: @escaping @Sendable () -> Void) {
    final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    var thread = pthread_t()
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    let rc = pthread_create(&thread, nil, { raw in
        let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
        box.body()
        return nil
    }, box)
    if rc == 0 {
        pthread_detach(thread)
    } else {
        Unmanaged<Box>.fromOpaque(box).release()
        body()
    }
}
