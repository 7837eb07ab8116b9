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
}

/// A single-threaded `epoll` loop serving TCP listeners and UDP sockets until a termination
/// signal arrives. Every socket is non-blocking and owned by the loop, so when `run` returns
/// (or a connection ends) its descriptor is closed. Each wake-up costs what is ready, not what
/// is open: a server holding hundreds of idle connections still accepts the next one in O(1).
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

    /// Serves until a termination signal arrives; returns that signal. Closes every
    /// connection before returning.
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
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        while true {
            // At the connection limit, stop listening for new ones (they wait in the backlog).
            if accepting != (connections.count < maximumConnections) {
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
                    if let signal = signals.received() { return signal }
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
