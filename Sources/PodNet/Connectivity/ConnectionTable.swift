/// An address and port: `10.244.1.2:43122`.
public struct SocketEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: IPv4Address
    public var port: UInt16

    public init(_ address: IPv4Address, _ port: UInt16) {
        self.address = address
        self.port = port
    }

    /// Parses `10.244.1.2:43122`.
    public init?(_ text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let address = IPv4Address(String(parts[0])), let port = UInt16(parts[1]) else { return nil }
        self.init(address, port)
    }

    public var description: String { "\(address):\(port)" }
}

/// The TCP connections of one pod as its own kernel holds them (local and remote end, in any
/// state, accepted or not), read inside the pod after the probes connected and while their
/// connections are still open: the remote end of a probe's connection is the source the
/// destination pod saw — the probe's own connection, no second one needed to observe it.
public struct ConnectionTable: Sendable {
    /// Remote ends by local end.
    private var remotes: [SocketEndpoint: [SocketEndpoint]] = [:]

    public init(_ connections: [(local: SocketEndpoint, remote: SocketEndpoint)]) {
        for connection in connections { remotes[connection.local, default: []].append(connection.remote) }
    }

    /// The source the destination saw for the connection from `client` (the probe socket's own
    /// address and port) to `server`: `client` itself when the destination holds a connection
    /// from exactly there; else, when exactly one connection to `server` came from `client`'s
    /// port, that one's remote end (a node that translated the address and kept the port, as
    /// masquerading does when it can). Nil when it cannot tell: the caller observes otherwise.
    public func observedSource(client: SocketEndpoint, server: SocketEndpoint) -> SocketEndpoint? {
        let seen = remotes[server] ?? []
        if seen.contains(client) { return client }
        let samePort = seen.filter { $0.port == client.port }
        return samePort.count == 1 ? samePort[0] : nil
    }
}
