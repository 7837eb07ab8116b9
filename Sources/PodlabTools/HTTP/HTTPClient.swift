#if canImport(Glibc)
import Glibc
#endif

/// How a transfer failed, in the classes curl reports.
enum TransferError: Error {
    /// The host name did not resolve (curl 6).
    case resolve(host: String)
    /// connect() failed: refused, unreachable (curl 7).
    case connect(host: String, port: UInt16, errno: Int32, milliseconds: Int)
    /// The connect phase ran out of time (curl 28).
    case connectTimeout(host: String, port: UInt16, milliseconds: Int)
    /// The transfer ran out of time after connecting (curl 28).
    case timeout(milliseconds: Int, received: Int, expected: Int?)
    /// The server closed without sending anything (curl 52).
    case emptyReply
    /// Sending the request failed (curl 55).
    case send(errno: Int32)
    /// Receiving failed, e.g. a reset (curl 56).
    case receive(errno: Int32)
    /// The response could not be parsed (curl 8).
    case malformedResponse(String)
    /// The server closed before the announced body was complete (curl 18).
    case partial(remaining: Int?)
}

/// The time limits of a transfer, in seconds; nil means none.
struct TransferTimeouts {
    var connect: Double?
    var total: Double?
}

/// What happened on the way, for verbose output and `-w` variables.
struct TransferEvents {
    var connecting: (SocketAddress) -> Void = { _ in }
    var connected: (_ local: SocketAddress, _ remote: SocketAddress) -> Void = { _, _ in }
    /// A connection an earlier transfer left open is used again.
    var reusing: (_ local: SocketAddress, _ remote: SocketAddress) -> Void = { _, _ in }
    var requestSent: (HTTPRequestHead) -> Void = { _ in }
    var responseHead: (HTTPResponseHead) -> Void = { _ in }
    /// Body bytes as they arrive (decoded from chunked transfer coding).
    var body: ([UInt8]) -> Void = { _ in }
}

/// The outcome of one request/response exchange.
struct HTTPExchange {
    var response: HTTPResponseHead
    var bodyBytes: Int
    var local: SocketAddress
    var remote: SocketAddress
}

/// Name resolution as curl does it: IP literals, `localhost`, then the system's resolver
/// (glibc's `getaddrinfo`: `/etc/hosts`, then `/etc/resolv.conf`). In a pod those are the
/// pod's own files, so service names resolve through the cluster DNS, with the search list.
enum HostResolver {
    static func resolve(_ host: String, port: UInt16) -> [SocketAddress] {
        if let address = SocketAddress(ip: host, port: port) { return [address] }
        if host.lowercased() == "localhost" || host.lowercased().hasSuffix(".localhost") {
            return [SocketAddress(ip: "127.0.0.1", port: port)!, SocketAddress(ip: "::1", port: port)!]
        }
        return systemResolver(host, port: port)
    }

    /// The IPv4 addresses `getaddrinfo` gives for `host`, in its order, without repeats.
    static func systemResolver(_ host: String, port: UInt16) -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(first) }
        var addresses: [SocketAddress] = []
        var seen: Set<String> = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            if current.pointee.ai_family == AF_INET, let raw = current.pointee.ai_addr {
                let text = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer -> String in
                    var address = pointer.pointee.sin_addr
                    var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
                    inet_ntop(AF_INET, &address, &buffer, socklen_t(INET_ADDRSTRLEN))
                    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                }
                if seen.insert(text).inserted, let address = SocketAddress(ip: text, port: port) { addresses.append(address) }
            }
            entry = current.pointee.ai_next
        }
        return addresses
    }
}

/// The connection the last transfer of a command left open, for the next one to the same host
/// and port: curl reuses a connection across the URLs of one command line when the server kept
/// it alive.
final class ConnectionCache {
    private var idle: (host: String, port: UInt16, socket: Socket, local: SocketAddress, remote: SocketAddress)?

    init() {}

    func take(host: String, port: UInt16) -> (socket: Socket, local: SocketAddress, remote: SocketAddress)? {
        guard let idle, idle.host == host, idle.port == port else { return nil }
        self.idle = nil
        return (idle.socket, idle.local, idle.remote)
    }

    /// Keeps `socket` (the one kept before is closed).
    func keep(_ socket: Socket, host: String, port: UInt16, local: SocketAddress, remote: SocketAddress) {
        idle = (host, port, socket, local, remote)
    }
}

/// An HTTP/1.1 client: connects (or reuses a kept connection), sends one request, reads one response.
enum HTTPClient {
    /// Opens a TCP connection to `host`:`port`, trying each resolved address in turn;
    /// returns the socket and the address it reached.
    static func connect(host: String, port: UInt16, timeouts: TransferTimeouts, started: UInt64,
                        events: TransferEvents) throws(TransferError) -> (Socket, SocketAddress) {
        let addresses = HostResolver.resolve(host, port: port)
        guard !addresses.isEmpty else { throw .resolve(host: host) }
        let totalDeadline = timeouts.total.map { Deadline(nanoseconds: started &+ UInt64($0 * 1e9)) }
        let connectDeadline = Deadline.earliest(timeouts.connect.map { Deadline(nanoseconds: started &+ UInt64($0 * 1e9)) }, totalDeadline)
        var lastError: TransferError = .resolve(host: host)
        for address in addresses {
            events.connecting(address)
            do {
                let socket = try Socket(family: address.family)
                switch try socket.connect(to: address, until: connectDeadline) {
                case .timedOut:
                    throw TransferError.connectTimeout(host: host, port: port, milliseconds: elapsedMilliseconds(since: started))
                case .done:
                    events.connected(socket.localAddress ?? address, address)
                    return (socket, address)
                }
            } catch let error as SystemError {
                lastError = .connect(host: host, port: port, errno: error.errno, milliseconds: elapsedMilliseconds(since: started))
            } catch let error as TransferError {
                throw error
            } catch {
                lastError = .connect(host: host, port: port, errno: EIO, milliseconds: elapsedMilliseconds(since: started))
            }
        }
        throw lastError
    }

    /// Sends `request` (with `body`) to `url` and reads the response, streaming the body
    /// through `events.body`. With a `cache`: a connection kept there for the same host and port
    /// is used first (a new one is made when the server closed it meanwhile, before answering),
    /// and the connection is kept there after a response that leaves it open.
    static func exchange(url: HTTPURL, request: HTTPRequestHead, body: [UInt8], timeouts: TransferTimeouts,
                         events: TransferEvents, cache: ConnectionCache? = nil) throws(TransferError) -> HTTPExchange {
        let started = monotonicNanoseconds()
        if let cache, let kept = cache.take(host: url.host, port: url.port) {
            events.reusing(kept.local, kept.remote)
            var answered = false
            var reuseEvents = events
            reuseEvents.responseHead = { head in
                answered = true
                events.responseHead(head)
            }
            do {
                return try exchange(on: kept.socket, local: kept.local, remote: kept.remote, url: url, request: request, body: body,
                                    timeouts: timeouts, started: started, events: reuseEvents, cache: cache)
            } catch {
                // A server may close an idle connection just as it is reused: before any answer,
                // the request goes again on a new one (curl does the same).
                if answered { throw error }
                switch error {
                case .emptyReply, .send, .receive: break
                default: throw error
                }
            }
        }
        let (socket, remote) = try connect(host: url.host, port: url.port, timeouts: timeouts, started: started, events: events)
        return try exchange(on: socket, local: socket.localAddress ?? remote, remote: remote, url: url, request: request, body: body,
                            timeouts: timeouts, started: started, events: events, cache: cache)
    }

    private static func exchange(on socket: Socket, local: SocketAddress, remote: SocketAddress, url: HTTPURL, request: HTTPRequestHead,
                                 body: [UInt8], timeouts: TransferTimeouts, started: UInt64, events: TransferEvents,
                                 cache: ConnectionCache?) throws(TransferError) -> HTTPExchange {
        let deadline = timeouts.total.map { Deadline(nanoseconds: started &+ UInt64($0 * 1e9)) }

        do {
            if case .timedOut = try socket.send(request.wireBytes + body, until: deadline) {
                throw TransferError.timeout(milliseconds: elapsedMilliseconds(since: started), received: 0, expected: nil)
            }
        } catch let error as SystemError {
            throw .send(errno: error.errno)
        } catch let error as TransferError {
            throw error
        } catch { throw .send(errno: EIO) }
        events.requestSent(request)

        var buffer: [UInt8] = []
        var received = 0
        var sawAnything = false
        func read() throws(TransferError) -> Bool {
            let outcome: IOOutcome<[UInt8]>
            do { outcome = try socket.receive(until: deadline) } catch {
                throw .receive(errno: error.errno)
            }
            switch outcome {
            case .timedOut:
                throw .timeout(milliseconds: elapsedMilliseconds(since: started), received: received, expected: nil)
            case let .done(bytes):
                if bytes.isEmpty { return false }
                sawAnything = true
                buffer += bytes
                return true
            }
        }

        // The head; 1xx interim responses are skipped.
        var head: HTTPResponseHead
        while true {
            while HTTPHead.end(in: buffer) == nil {
                if buffer.count > HTTPHead.maximumSize { throw .malformedResponse("header section too large") }
                guard try read() else {
                    if !sawAnything { throw .emptyReply }
                    throw .malformedResponse("connection closed inside the response head")
                }
            }
            let end = HTTPHead.end(in: buffer)!
            do { head = try HTTPResponseHead(parsing: buffer[0..<end]) } catch {
                throw .malformedResponse("\(error)")
            }
            buffer.removeFirst(end)
            if (100..<200).contains(head.status) && head.status != 101 { continue }
            break
        }
        events.responseHead(head)

        let framing: HTTPBodyFraming
        do { framing = try head.bodyFraming(requestMethod: request.method) } catch { throw .malformedResponse("\(error)") }
        func deliver(_ bytes: [UInt8]) {
            guard !bytes.isEmpty else { return }
            received += bytes.count
            events.body(bytes)
        }
        switch framing {
        case .none:
            break
        case let .length(length):
            while true {
                let take = min(length - received, buffer.count)
                deliver(Array(buffer[0..<take]))
                buffer.removeFirst(take)
                if received == length { break }
                do throws(TransferError) {
                    guard try read() else { throw TransferError.partial(remaining: length - received) }
                } catch {
                    if case let .timeout(ms, got, _) = error { throw .timeout(milliseconds: ms, received: got, expected: length) }
                    throw error
                }
            }
        case .chunked:
            var decoder = ChunkedDecoder()
            while true {
                do { deliver(try decoder.feed(buffer)) } catch { throw .malformedResponse("\(error)") }
                buffer = []
                if decoder.isComplete { break }
                guard try read() else { throw .partial(remaining: nil) }
            }
        case .untilClose:
            while true {
                deliver(buffer)
                buffer = []
                guard try read() else { break }
            }
        }
        if let cache, buffer.isEmpty, Self.leavesOpen(request: request, response: head, framing: framing) {
            cache.keep(socket, host: url.host, port: url.port, local: local, remote: remote)
        }
        return HTTPExchange(response: head, bodyBytes: received, local: local, remote: remote)
    }

    /// Whether the connection stays usable after this exchange: HTTP/1.1 on both sides without
    /// `Connection: close`, and a response whose end its framing told (not one read until close).
    static func leavesOpen(request: HTTPRequestHead, response: HTTPResponseHead, framing: HTTPBodyFraming) -> Bool {
        if case .untilClose = framing { return false }
        func closes(_ headers: HTTPHeaders) -> Bool {
            headers.fields.contains { $0.name.lowercased() == "connection" && $0.value.lowercased().contains("close") }
        }
        return request.version == "HTTP/1.1" && response.version == "HTTP/1.1" && !closes(response.headers) && !closes(request.headers)
    }

    static func elapsedMilliseconds(since start: UInt64) -> Int {
        Int((monotonicNanoseconds() &- start) / 1_000_000)
    }
}
