#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The failure of a request to the agent.
struct AgentRequestError: Error, CustomStringConvertible {
    var description: String
}

/// HTTP/1.1 to the agent over its unix socket: a list (whole answer) or a watch (a stream of
/// JSON lines). Blocking calls with deadlines, for the DNS server's watcher threads.
struct AgentConnection {
    let socketPath: String

    /// A connected unix stream socket.
    func connect() throws(AgentRequestError) -> Socket {
        let socket: Socket
        do { socket = try Socket(family: AF_UNIX) } catch { throw AgentRequestError(description: "\(error)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socketPath.utf8)
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw AgentRequestError(description: "socket path too long: \(socketPath)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.enumerated() { raw[index] = byte }
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket.fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        // A unix socket connects at once or fails; EAGAIN means the agent's backlog is full.
        if rc != 0 { throw AgentRequestError(description: "connect \(socketPath): \(String(cString: strerror(errno)))") }
        return socket
    }

    /// Sends a GET and reads the response head; returns the socket, the head and the body
    /// bytes that came with it.
    func open(_ target: String, deadline: Deadline) throws(AgentRequestError) -> (Socket, HTTPResponseHead, [UInt8]) {
        let socket = try connect()
        let request = "GET \(target) HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nUser-Agent: podlab-dns\r\n\r\n"
        do {
            guard case .done = try socket.send(Array(request.utf8), until: deadline) else { throw AgentRequestError(description: "timed out sending \(target)") }
            var received: [UInt8] = []
            while true {
                guard case let .done(bytes) = try socket.receive(until: deadline) else { throw AgentRequestError(description: "timed out waiting for \(target)") }
                if bytes.isEmpty { throw AgentRequestError(description: "the agent closed the connection on \(target)") }
                received += bytes
                if let end = HTTPHead.end(in: received) {
                    let head = try HTTPResponseHead(parsing: received[..<end])
                    return (socket, head, Array(received[end...]))
                }
                if received.count > HTTPHead.maximumSize { throw AgentRequestError(description: "response head too large on \(target)") }
            }
        } catch let error as AgentRequestError {
            throw error
        } catch {
            throw AgentRequestError(description: "\(target): \(error)")
        }
    }

    /// A whole JSON answer.
    func get(_ target: String, timeout: Double = 30) throws(AgentRequestError) -> MiniJSON {
        let deadline = Deadline.after(seconds: timeout)
        let (socket, head, first) = try open(target, deadline: deadline)
        guard head.status == 200 else { throw AgentRequestError(description: "GET \(target): HTTP \(head.status)") }
        var body: [UInt8] = []
        do {
            var decoder = ChunkedDecoder()
            let framing = try head.bodyFraming(requestMethod: "GET")
            var pending = first
            while true {
                switch framing {
                case .chunked:
                    body += try decoder.feed(pending)
                    if decoder.isComplete { return try MiniJSON.parse(body) }
                case let .length(length):
                    body += pending
                    if body.count >= length { return try MiniJSON.parse(body.prefix(length)) }
                case .none:
                    return try MiniJSON.parse(body)
                case .untilClose:
                    body += pending
                }
                guard case let .done(bytes) = try socket.receive(until: deadline) else { throw AgentRequestError(description: "timed out reading \(target)") }
                if bytes.isEmpty {
                    guard framing == .untilClose else { throw AgentRequestError(description: "the agent closed the connection mid-answer on \(target)") }
                    return try MiniJSON.parse(body)
                }
                pending = bytes
            }
        } catch let error as AgentRequestError {
            throw error
        } catch {
            throw AgentRequestError(description: "\(target): \(error)")
        }
    }
}

/// The DNS server's view of the cluster: the watched state and the zone made from it. Watcher
/// threads write, query threads read the zone (one reference, taken under a lock of its own).
final class ClusterDNSSource: Sendable {
    private struct Versioned<Value> {
        var value: Value
        var version: UInt64
    }

    private struct Watched {
        var state = ClusterDNSState()
        var index: DNSZoneIndex
        var version: UInt64 = 0
    }

    private let watched: Mutex<Watched>
    private let zoneValue: Mutex<Versioned<DNSZone>>
    let domain: String

    init(domain: String, initial: ClusterDNSData = ClusterDNSData()) {
        self.domain = domain
        let zone = DNSZone(initial, domain: domain)
        zoneValue = Mutex(Versioned(value: zone, version: 0))
        watched = Mutex(Watched(index: DNSZoneIndex(domain: zone.domain)))
    }

    var zone: DNSZone { zoneValue.withLock { $0.value } }

    /// Changes the state and publishes the zone made from it. Only the Services and pods that
    /// changed are laid out again (a few names each; a whole zone of 10 000 names took ~0.2 s),
    /// and the new zone shares everything else with the one before: query threads never wait
    /// for it, they keep answering from the zone they hold. A watcher reads all the events
    /// waiting before it calls this, so events that arrive together make one zone.
    func update(_ change: (inout ClusterDNSState) -> Void) {
        let published: (DNSZone, UInt64)? = watched.withLock { watched in
            change(&watched.state)
            // Most pod events (a container restarted, a probe passed) change no name: no new zone.
            let (services, pods) = watched.state.takeChanges()
            guard !services.isEmpty || !pods.isEmpty else { return nil }
            watched.version += 1
            let serial = UInt32(truncatingIfNeeded: watched.version)
            for key in services { watched.index.update(service: key, to: watched.state.service(key)) }
            for key in pods { watched.index.update(pod: key, to: watched.state.pods[key]) }
            watched.index.update(serial: serial)
            return (DNSZone(names: watched.index.names, domain: watched.index.domain, serial: serial), watched.version)
        }
        guard let (zone, version) = published else { return }
        zoneValue.withLock { current in
            if version > current.version { current = Versioned(value: zone, version: version) }
        }
    }
}

/// Follows one kind on the agent, as an informer does: open the watch (its subscription
/// exists once the answer's head arrives), then list and replace everything of that kind,
/// then apply the watch's events in order. The watch starts with the current objects, so an
/// object removed between the watch and the list is added back and removed again by its
/// DELETED event: the state always ends right. Any error closes both and starts over.
struct AgentWatcher {
    let connection: AgentConnection
    let kind: ClusterDNSState.Kind
    let source: ClusterDNSSource
    let log: @Sendable (String) -> Void

    func run() -> Never {
        var delay = 0.2
        while true {
            do {
                try followOnce { delay = 0.2 }
            } catch {
                log("\(kind.rawValue): \(error); retrying in \(delay) s")
            }
            sleepSeconds(delay)
            delay = min(delay * 2, 5)
        }
    }

    func followOnce(connected: () -> Void) throws(AgentRequestError) {
        let (socket, head, first) = try connection.open(kind.path + "?watch=true", deadline: .after(seconds: 30))
        guard head.status == 200 else { throw AgentRequestError(description: "watch \(kind.path): HTTP \(head.status)") }
        let list = try connection.get(kind.path)
        let items = list["items"]?.array ?? []
        source.update { $0.replace(kind, items: items) }
        connected()
        var decoder = ChunkedDecoder()
        var lines: [UInt8] = []
        var pending = first
        do {
            while true {
                lines += try decoder.feed(pending)
                var events: [(String, MiniJSON)] = []
                while let newline = lines.firstIndex(of: 0x0A) {
                    let line = lines[..<newline]
                    defer { lines.removeSubrange(...newline) }
                    if line.isEmpty { continue }
                    let event = try MiniJSON.parse(line)
                    if let type = event["type"]?.string, let object = event["object"] { events.append((type, object)) }
                }
                // All events read together make one new zone.
                if !events.isEmpty {
                    source.update { state in for (type, object) in events { state.apply(kind, type: type, object: object) } }
                }
                if decoder.isComplete { throw AgentRequestError(description: "the agent ended the watch") }
                guard case let .done(bytes) = try socket.receive(until: nil) else { continue }
                if bytes.isEmpty { throw AgentRequestError(description: "the agent closed the watch") }
                pending = bytes
            }
        } catch let error as AgentRequestError {
            throw error
        } catch {
            throw AgentRequestError(description: "watch \(kind.path): \(error)")
        }
    }
}

func sleepSeconds(_ seconds: Double) {
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}
