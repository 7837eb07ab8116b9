#if canImport(Glibc)
import Glibc
#endif

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

/// A single-threaded `poll` loop serving TCP listeners and UDP sockets until a termination
/// signal arrives. Every socket is non-blocking and owned by the loop, so when `run` returns
/// (or a connection ends) its descriptor is closed.
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

    init(listeners: [Listener], datagrams: [DatagramEndpoint] = [], signals: TerminationSignals) {
        self.listeners = listeners
        self.datagrams = datagrams
        self.signals = signals
    }

    /// Serves until a termination signal arrives; returns that signal. Closes every
    /// connection before returning.
    func run() throws(SystemError) -> Int32 {
        defer { connections.removeAll() }
        while true {
            var entries = [pollfd(fd: signals.fd, events: Int16(POLLIN), revents: 0)]
            let accepting = connections.count < maximumConnections
            if accepting {
                for listener in listeners { entries.append(pollfd(fd: listener.socket.fd, events: Int16(POLLIN), revents: 0)) }
            }
            for endpoint in datagrams { entries.append(pollfd(fd: endpoint.socket.fd, events: Int16(POLLIN), revents: 0)) }
            let connectionList = Array(connections.values)
            var deadline: Deadline?
            for connection in connectionList {
                var events: Int32 = 0
                if connection.output.count < outputHighWater && !connection.closeAfterOutput { events |= Int32(POLLIN) }
                if !connection.output.isEmpty { events |= Int32(POLLOUT) }
                entries.append(pollfd(fd: connection.socket.fd, events: Int16(events), revents: 0))
                deadline = Deadline.earliest(deadline, connection.idleDeadline)
            }

            let rc = poll(&entries, nfds_t(entries.count), pollTimeout(deadline))
            if rc < 0 {
                if errno == EINTR { continue }
                throw SystemError("poll")
            }
            if entries[0].revents != 0, let signal = signals.received() { return signal }

            var index = 1
            if accepting {
                for listener in listeners {
                    if entries[index].revents != 0 { try acceptAll(listener) }
                    index += 1
                }
            }
            for endpoint in datagrams {
                if entries[index].revents != 0 {
                    while let (bytes, from) = try endpoint.socket.receiveDatagram() { endpoint.handle(bytes, from, endpoint.socket) }
                }
                index += 1
            }
            for connection in connectionList {
                let revents = Int32(entries[index].revents)
                index += 1
                if revents != 0 { service(connection, revents: revents) }
            }
            for connection in connectionList {
                if let idle = connection.idleDeadline, idle.hasExpired { drop(connection) }
            }
        }
    }

    private func acceptAll(_ listener: Listener) throws(SystemError) {
        while connections.count < maximumConnections, let (socket, peer) = try listener.socket.accept() {
            let info = ConnectionInfo(local: socket.localAddress ?? peer, peer: peer)
            socket.setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1)
            connections[socket.fd] = Connection(socket: socket, info: info, handler: listener.makeHandler(info), idleTimeout: listener.idleTimeout)
        }
    }

    private func service(_ connection: Connection, revents: Int32) {
        if revents & Int32(POLLIN | POLLHUP | POLLERR) != 0 && !connection.closeAfterOutput {
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
            if sent == 0 { return }
            connection.output.removeFirst(sent)
            connection.lastActivity = monotonicNanoseconds()
        }
        if connection.closeAfterOutput {
            connection.socket.shutdownWrite()
            drop(connection)
        }
    }

    private func drop(_ connection: Connection) {
        connections[connection.socket.fd] = nil
    }
}
