#if canImport(Glibc)
import Glibc
#endif
import CNetlink  // <sys/epoll.h>

/// The two ends of an accepted connection.
struct ConnectionInfo {
    var local: SocketAddress
    var peer: SocketAddress
}

/// What a stream handler wants done after it consumed input.
struct ConnectionReply {
    var output: [UInt8] = []
    /// Close once `output` (and everything queued before it) is sent.
    var close = false
}

/// The protocol logic of one accepted connection, driven by `ServerLoop`.
protocol StreamHandler: AnyObject {
    /// Bytes arrived from the peer.
    func received(_ bytes: [UInt8], on connection: ConnectionInfo) -> ConnectionReply
    /// The peer closed its side; the reply's output is sent, then the connection closes.
    func peerClosed(on connection: ConnectionInfo) -> ConnectionReply
    /// The server is shutting down: true when the connection may close once its output is
    /// sent (nothing is partly received); false when a request is in progress, which the
    /// handler finishes and then asks to close (`ConnectionReply.close`).
    func shutDown() -> Bool
}

extension StreamHandler {
    func shutDown() -> Bool { true }
}

/// A single-threaded `epoll` loop serving TCP listeners and UDP sockets until a termination
/// signal arrives. Every socket is non-blocking and owned by the loop, so when `run` returns
/// (or a connection ends) its descriptor is closed. Each wake-up costs what is ready, not what
/// is open: a server holding hundreds of idle connections still accepts the next one in O(1).
///
/// The first termination signal shuts the server down gracefully, as nginx does on SIGQUIT:
/// the connections waiting in the listen backlog are accepted (closing the listener would
/// reset them), the listeners close, idle keep-alive connections close, requests in progress
/// are answered (`Connection: close`) and their connections close after the answer; `run`
/// returns once none is left. A second signal ends it at once.
final class ServerLoop {
    struct Listener {
        var socket: Socket
        var makeHandler: (ConnectionInfo) -> StreamHandler
        /// Close connections idle (nothing to send, nothing received) this long; nil keeps them.
        var idleTimeout: Double?
    }

    struct DatagramEndpoint {
        var socket: Socket
        /// Called for each datagram; may reply through the socket.
        var handle: (_ datagram: [UInt8], _ from: SocketAddress, _ socket: Socket) -> Void
    }

    private final class Connection {
        let socket: Socket
        let info: ConnectionInfo
        let handler: StreamHandler
        let idleTimeout: Double?
        var output: [UInt8] = []
        var closeAfterOutput = false
        /// Nothing received yet: a client that connected and has not sent its first request.
        var fresh = true
        var lastActivity = monotonicNanoseconds()
        /// The events the epoll set holds for this connection.
        var interest: UInt32 = 0

        init(socket: Socket, info: ConnectionInfo, handler: StreamHandler, idleTimeout: Double?) {
            self.socket = socket
            self.info = info
            self.handler = handler
            self.idleTimeout = idleTimeout
        }

        var idleDeadline: Deadline? {
            guard let idleTimeout, output.isEmpty else { return nil }
            return Deadline(nanoseconds: lastActivity &+ UInt64(idleTimeout * 1_000_000_000))
        }
    }

    /// Connections beyond this wait in the listen backlog (nginx's `worker_connections`).
    var maximumConnections = 1024
    /// Reading from a connection pauses while this much output waits to be sent.
    var outputHighWater = 1 << 20

    private let listeners: [Listener]
    private let datagrams: [DatagramEndpoint]
    private let signals: TerminationSignals
    private var connections: [Int32: Connection] = [:]
    /// Connections with an idle timeout: only these are scanned for expiry.
    private var timedConnections = 0
    private var epoll: Int32 = -1

    init(listeners: [Listener], datagrams: [DatagramEndpoint] = [], signals: TerminationSignals) {
        self.listeners = listeners
        self.datagrams = datagrams
        self.signals = signals
    }

    /// Called when the first termination signal arrives, before the connections drain.
    var shuttingDown: ((Int32) -> Void)?

    /// Serves until a termination signal arrives and the connections in progress are done
    /// (or a second signal arrives); returns the first signal. Closes every connection before
    /// returning.
    func run() throws(SystemError) -> Int32 {
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else { throw SystemError("epoll_create1") }
        defer {
            connections.removeAll()
            close(epoll)
            epoll = -1
        }
        try add(signals.fd, events: EPOLLIN.rawValue)
        var listenerIndex: [Int32: Int] = [:], datagramIndex: [Int32: Int] = [:]
        for (index, listener) in listeners.enumerated() {
            try add(listener.socket.fd, events: EPOLLIN.rawValue)
            listenerIndex[listener.socket.fd] = index
        }
        for (index, endpoint) in datagrams.enumerated() {
            try add(endpoint.socket.fd, events: EPOLLIN.rawValue)
            datagramIndex[endpoint.socket.fd] = index
        }
        var accepting = true
        var stopSignal: Int32?
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        while true {
            if let stopSignal, connections.isEmpty { return stopSignal }
            // At the connection limit, stop listening for new ones (they wait in the backlog).
            if stopSignal == nil, accepting != (connections.count < maximumConnections) {
                accepting.toggle()
                for listener in listeners { modify(listener.socket.fd, events: accepting ? EPOLLIN.rawValue : 0) }
            }
            var deadline: Deadline?
            if timedConnections > 0 {
                for connection in connections.values { deadline = Deadline.earliest(deadline, connection.idleDeadline) }
            }
            let count = epoll_wait(epoll, &events, Int32(events.count), pollTimeout(deadline))
            if count < 0 {
                if errno == EINTR { continue }
                throw SystemError("epoll_wait")
            }
            for event in events[0..<Int(count)] {
                let fd = Int32(truncatingIfNeeded: event.data.u64)
                if fd == signals.fd {
                    guard let signal = signals.received() else { continue }
                    if let stopSignal { return stopSignal }
                    stopSignal = signal
                    shuttingDown?(signal)
                    try beginShutdown(listenerIndex: &listenerIndex, datagramIndex: &datagramIndex)
                } else if let index = listenerIndex[fd] {
                    if accepting { try acceptAll(listeners[index]) }
                } else if let index = datagramIndex[fd] {
                    let endpoint = datagrams[index]
                    while let (bytes, from) = try endpoint.socket.receiveDatagram() { endpoint.handle(bytes, from, endpoint.socket) }
                } else if let connection = connections[fd] {
                    service(connection, revents: event.events)
                }
            }
            if timedConnections > 0 {
                for connection in Array(connections.values) {
                    if let idle = connection.idleDeadline, idle.hasExpired { drop(connection) }
                }
            }
        }
    }

    /// Stops taking work and lets what is in progress finish (see the type's comment).
    private func beginShutdown(listenerIndex: inout [Int32: Int], datagramIndex: inout [Int32: Int]) throws(SystemError) {
        // Connections the kernel completed but nobody accepted yet are clients waiting for an
        // answer: take them, whatever the limit, then stop listening (new SYNs are refused).
        maximumConnections = Int.max
        for listener in listeners {
            try acceptAll(listener)
            epoll_ctl(epoll, EPOLL_CTL_DEL, listener.socket.fd, nil)
            listener.socket.stopListening()
        }
        listenerIndex.removeAll()
        for endpoint in datagrams { epoll_ctl(epoll, EPOLL_CTL_DEL, endpoint.socket.fd, nil) }
        datagramIndex.removeAll()
        waitForFirstRequests()
        // Every handler knows first that the server is closing: a request read below, on any
        // connection, is answered as the connection's last (`Connection: close`).
        for connection in connections.values { _ = connection.handler.shutDown() }
        for connection in Array(connections.values) {
            // A request sent just before the signal is read first: a socket closed with unread
            // input answers the peer with a reset instead of the response.
            service(connection, revents: EPOLLIN.rawValue)
            guard connections[connection.socket.fd] != nil else { continue }
            if connection.closeAfterOutput || connection.handler.shutDown() {
                connection.closeAfterOutput = true
                flush(connection)
            }
        }
    }

    private func add(_ fd: Int32, events: UInt32) throws(SystemError) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = UInt64(UInt32(bitPattern: fd))
        if epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) != 0 { throw SystemError("epoll_ctl") }
    }

    private func modify(_ fd: Int32, events: UInt32) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = UInt64(UInt32(bitPattern: fd))
        epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &event)
    }

    /// Connections just taken from the backlog have clients about to send their first request
    /// (a connect is answered by the kernel before the request leaves): closed now, that client
    /// would get an empty reply. Waits up to half a second, once, for those requests to arrive.
    private func waitForFirstRequests() {
        var waiting = connections.values.filter(\.fresh).map { pollfd(fd: $0.socket.fd, events: Int16(POLLIN), revents: 0) }
        let deadline = monotonicNanoseconds() &+ 500_000_000
        while !waiting.isEmpty {
            let now = monotonicNanoseconds()
            guard now < deadline else { return }
            let ready = poll(&waiting, nfds_t(waiting.count), Int32((deadline - now) / 1_000_000) + 1)
            if ready < 0 && errno != EINTR { return }
            waiting.removeAll { $0.revents != 0 }
        }
    }

    private func acceptAll(_ listener: Listener) throws(SystemError) {
        while connections.count < maximumConnections, let (socket, peer) = try listener.socket.accept() {
            let info = ConnectionInfo(local: socket.localAddress ?? peer, peer: peer)
            socket.setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1)
            let connection = Connection(socket: socket, info: info, handler: listener.makeHandler(info), idleTimeout: listener.idleTimeout)
            connection.interest = EPOLLIN.rawValue
            do { try add(socket.fd, events: connection.interest) } catch { continue }  // the socket closes with it
            connections[socket.fd] = connection
            if connection.idleTimeout != nil { timedConnections += 1 }
        }
    }

    private func service(_ connection: Connection, revents: UInt32) {
        if revents & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 && !connection.closeAfterOutput {
            let received: [UInt8]?
            do { received = try connection.socket.receiveAvailable() } catch { return drop(connection) }
            if let received {
                connection.fresh = false
                connection.lastActivity = monotonicNanoseconds()
                let reply = received.isEmpty
                    ? connection.handler.peerClosed(on: connection.info)
                    : connection.handler.received(received, on: connection.info)
                connection.output.append(contentsOf: reply.output)
                if reply.close || received.isEmpty { connection.closeAfterOutput = true }
            }
        }
        flush(connection)
    }

    private func flush(_ connection: Connection) {
        while !connection.output.isEmpty {
            let sent: Int
            do { sent = try connection.socket.sendAvailable(connection.output[...]) } catch { return drop(connection) }
            if sent == 0 { break }
            connection.output.removeFirst(sent)
            connection.lastActivity = monotonicNanoseconds()
        }
        if connection.closeAfterOutput && connection.output.isEmpty {
            connection.socket.shutdownWrite()
            return drop(connection)
        }
        // Read while there is room for more output and the peer may still send; write while
        // output waits.
        var interest: UInt32 = 0
        if connection.output.count < outputHighWater && !connection.closeAfterOutput { interest |= EPOLLIN.rawValue }
        if !connection.output.isEmpty { interest |= EPOLLOUT.rawValue }
        if interest != connection.interest {
            connection.interest = interest
            modify(connection.socket.fd, events: interest)
        }
    }

    private func drop(_ connection: Connection) {
        guard connections.removeValue(forKey: connection.socket.fd) != nil else { return }
        if connection.idleTimeout != nil { timedConnections -= 1 }
    }
}
