#if canImport(Glibc)
import Glibc
#endif

/// BusyBox nc: `nc [-u] [-w SEC] [-v] HOST PORT` (connect and relay stdin/stdout),
/// `nc -z [-w SEC] HOST PORT` (port check), `nc -l [-k] [-u] [-s ADDR] -p PORT` (listen).
enum Netcat {
    struct Options: Equatable {
        var listen = false
        var keepListening = false
        var udp = false
        var zero = false
        var verbose = false
        var timeout: Double?
        var localPort: UInt16?
        var localAddress: String?
        var host: String?
        var port: UInt16?
    }

    static func parse(_ arguments: [String]) throws(UsageError) -> Options {
        var options = Options()
        var positional: [String] = []
        var index = 0
        func value(_ option: Character) throws(UsageError) -> String {
            index += 1
            guard index < arguments.count else { throw UsageError("option requires an argument -- '\(option)'") }
            return arguments[index]
        }
        func port(_ text: String) throws(UsageError) -> UInt16 {
            guard let port = UInt16(text), port > 0 else { throw UsageError("invalid port '\(text)'") }
            return port
        }
        while index < arguments.count {
            let argument = arguments[index]
            if argument.hasPrefix("-") && argument.count > 1 {
                var characters = Substring(argument.dropFirst())
                while let character = characters.first {
                    characters = characters.dropFirst()
                    switch character {
                    case "l": options.listen = true
                    case "k": options.keepListening = true
                    case "u": options.udp = true
                    case "z": options.zero = true
                    case "v": options.verbose = true
                    case "n", "N": break
                    case "w", "p", "s", "q", "i":
                        let text = characters.isEmpty ? try value(character) : String(characters)
                        characters = ""
                        switch character {
                        case "w":
                            guard let seconds = Double(text), seconds >= 0 else { throw UsageError("invalid number '\(text)'") }
                            options.timeout = seconds
                        case "p": options.localPort = try port(text)
                        case "s": options.localAddress = text
                        default: break
                        }
                    default:
                        throw UsageError("invalid option -- '\(character)'")
                    }
                }
            } else {
                positional.append(argument)
            }
            index += 1
        }
        if options.listen {
            // `nc -l PORT` and `nc -l -p PORT` both listen.
            if options.localPort == nil, let last = positional.last { options.localPort = try port(last) }
            guard options.localPort != nil else { throw UsageError("-l needs a port (-p PORT)") }
        } else {
            guard positional.count == 2 else { throw UsageError("need HOST and PORT") }
            options.host = positional[0]
            options.port = try port(positional[1])
        }
        return options
    }

    static func main(_ context: ToolContext) -> Int32 {
        let options: Options
        do { options = try parse(context.arguments) } catch {
            context.stderr.line("nc: \(error)")
            context.stderr.line("\(Busybox.banner)\n\nUsage: nc [OPTIONS] HOST PORT  - connect\nnc [OPTIONS] -l -p PORT [HOST] [PORT]  - listen")
            return 1
        }
        return options.listen ? listen(options, context) : connect(options, context)
    }

    private static func connect(_ options: Options, _ context: ToolContext) -> Int32 {
        let host = options.host!, port = options.port!
        guard let address = HostResolver.resolve(host, port: port).first else {
            context.stderr.line("nc: bad address '\(host)'")
            return 1
        }
        let deadline = options.timeout.map { Deadline.after(seconds: $0) }
        do {
            let socket = try Socket(family: address.family, datagram: options.udp)
            if let local = options.localAddress ?? options.localPort.map({ _ in address.family == AF_INET6 ? "::" : "0.0.0.0" }),
               let bindAddress = SocketAddress(ip: local, port: options.localPort ?? 0) {
                try socket.bind(bindAddress)
            }
            if case .timedOut = try socket.connect(to: address, until: deadline) {
                if options.verbose || !options.zero {
                    context.stderr.line("nc: can't connect to remote host (\(address.ip)): Connection timed out")
                }
                return 1
            }
            if options.zero {
                if options.verbose { context.stderr.line("\(host) (\(address)) open") }
                return 0
            }
            if options.verbose { context.stderr.line("\(host) (\(address)) open") }
            return relay(socket, udp: options.udp, halfCloseOnInputEnd: true, idleTimeout: options.timeout, signals: nil, context: context)
        } catch {
            if options.verbose || !options.zero {
                context.stderr.line("nc: can't connect to remote host (\(address.ip)): \(error.message)")
            }
            return 1
        }
    }

    private static func listen(_ options: Options, _ context: ToolContext) -> Int32 {
        let port = options.localPort!
        let ip = options.localAddress ?? "0.0.0.0"
        guard let address = SocketAddress(ip: ip, port: port) else {
            context.stderr.line("nc: bad address '\(ip)'")
            return 1
        }
        let signals: TerminationSignals
        do { signals = try TerminationSignals() } catch {
            context.stderr.line("nc: \(error)")
            return 1
        }
        do {
            if options.udp {
                let socket = try Socket.datagram(boundTo: address)
                if options.verbose { context.stderr.line("listening on \(address) ...") }
                return relay(socket, udp: true, halfCloseOnInputEnd: false, idleTimeout: nil, signals: signals, context: context)
            }
            let listener: Socket
            do { listener = try Socket.listening(on: address, backlog: 1) } catch {
                context.stderr.line("nc: bind: \(error.message)")
                return 1
            }
            if options.verbose { context.stderr.line("listening on \(address) ...") }
            repeat {
                var entries = [pollfd(fd: listener.fd, events: Int16(POLLIN), revents: 0), pollfd(fd: signals.fd, events: Int16(POLLIN), revents: 0)]
                let rc = poll(&entries, 2, -1)
                if rc < 0 { if errno == EINTR { continue }; throw SystemError("poll") }
                if entries[1].revents != 0, signals.received() != nil { return 0 }
                guard let (connection, peer) = try listener.accept() else { continue }
                if options.verbose { context.stderr.line("connect to \(connection.localAddress?.description ?? "?") from \(peer)") }
                let code = relay(connection, udp: false, halfCloseOnInputEnd: false, idleTimeout: options.timeout, signals: signals, context: context)
                if code == 130 { return 0 }
            } while options.keepListening
            return 0
        } catch {
            context.stderr.line("nc: \(error)")
            return 1
        }
    }

    /// Copies standard input to the socket and the socket to standard output until the
    /// peer closes (TCP), the idle timeout passes, or a signal arrives (returns 130).
    ///
    /// A client half-closes the connection when its input ends, so a server sees the end of
    /// the request; a listener does so only after it sent something, so that an `nc -l` with
    /// empty input stays a silent peer.
    private static func relay(_ socket: Socket, udp: Bool, halfCloseOnInputEnd: Bool, idleTimeout: Double?,
                              signals: TerminationSignals?, context: ToolContext) -> Int32 {
        var inputOpen = true
        var sentAnything = false
        var udpPeer: SocketAddress?
        var lastActivity = Deadline.after(seconds: 0)
        while true {
            var entries = [pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0)]
            if inputOpen { entries.append(pollfd(fd: 0, events: Int16(POLLIN), revents: 0)) }
            if let signals { entries.append(pollfd(fd: signals.fd, events: Int16(POLLIN), revents: 0)) }
            let deadline = idleTimeout.map { Deadline(nanoseconds: lastActivity.nanoseconds &+ UInt64($0 * 1e9)) }
            let rc = poll(&entries, nfds_t(entries.count), pollTimeout(deadline))
            if rc < 0 { if errno == EINTR { continue }; return 1 }
            if rc == 0 { return 0 }
            if let signals, entries.last!.revents != 0, signals.received() != nil { return 130 }
            lastActivity = Deadline.after(seconds: 0)
            if entries[0].revents != 0 {
                if udp && udpPeer == nil && !halfCloseOnInputEnd {
                    guard let (bytes, from) = try? socket.receiveDatagram() else { continue }
                    udpPeer = from
                    context.stdout.write(bytes: bytes)
                } else if udp && !halfCloseOnInputEnd {
                    if let (bytes, _) = try? socket.receiveDatagram() { context.stdout.write(bytes: bytes) }
                } else {
                    let available: [UInt8]?
                    do { available = try socket.receiveAvailable() } catch { return 1 }
                    guard let received = available else { continue }
                    if received.isEmpty && !udp { return 0 }
                    context.stdout.write(bytes: received)
                }
            }
            if inputOpen, entries.count > 1, entries[1].revents != 0 {
                var buffer = [UInt8](repeating: 0, count: 65536)
                let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    inputOpen = false
                    if !udp && (halfCloseOnInputEnd || sentAnything) { socket.shutdownWrite() }
                    continue
                }
                let chunk = Array(buffer[0..<n])
                do {
                    if udp && !halfCloseOnInputEnd {
                        if let peer = udpPeer { try socket.sendDatagram(chunk, to: peer) }
                    } else if case .timedOut = try socket.send(chunk, until: nil) {
                        return 1
                    }
                    sentAnything = true
                } catch {
                    context.stderr.line("nc: \(error)")
                    return 1
                }
            }
        }
    }
}
