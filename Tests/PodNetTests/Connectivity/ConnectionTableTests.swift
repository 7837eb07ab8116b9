import Testing
@testable import PodNet

@Suite("Reading the source a destination saw from its connection table")
struct ConnectionTableTests {
    static let server = SocketEndpoint(IPv4Address(10, 244, 2, 2), 8080)
    static let client = SocketEndpoint(IPv4Address(10, 244, 1, 2), 43122)

    @Test("the destination holds a connection from the probe's own address and port: that is what it saw")
    func ownAddress() {
        let table = ConnectionTable([
            (Self.server, SocketEndpoint(IPv4Address(10, 244, 3, 4), 43122)),  // another pod, same port by chance
            (Self.server, Self.client),
            (SocketEndpoint(IPv4Address(10, 244, 2, 2), 9), Self.client),
        ])
        #expect(table.observedSource(client: Self.client, server: Self.server) == Self.client)
    }

    @Test("a node that translated the address and kept the port: the translated source, once it is the only one from that port")
    func translated() {
        let node = SocketEndpoint(IPv4Address(192, 168, 200, 11), 43122)
        let table = ConnectionTable([(Self.server, node), (Self.server, SocketEndpoint(IPv4Address(10, 244, 3, 4), 50000))])
        #expect(table.observedSource(client: Self.client, server: Self.server) == node)
    }

    @Test("nothing it can tell: no connection from that port to that server, or several", arguments: [
        [(SocketEndpoint(IPv4Address(10, 244, 2, 2), 80), SocketEndpoint(IPv4Address(10, 244, 1, 2), 43122))],
        [(SocketEndpoint(IPv4Address(10, 244, 2, 2), 8080), SocketEndpoint(IPv4Address(192, 168, 200, 11), 43122)),
         (SocketEndpoint(IPv4Address(10, 244, 2, 2), 8080), SocketEndpoint(IPv4Address(192, 168, 200, 12), 43122))],
        [],
    ])
    func unknown(connections: [(SocketEndpoint, SocketEndpoint)]) {
        let table = ConnectionTable(connections.map { (local: $0.0, remote: $0.1) })
        #expect(table.observedSource(client: Self.client, server: Self.server) == nil)
    }

    @Test("endpoints read and print as address:port", arguments: ["10.244.1.2:43122", "0.0.0.0:1"])
    func endpoints(text: String) {
        #expect(SocketEndpoint(text)?.description == text)
    }

    @Test("not an endpoint", arguments: ["10.244.1.2", "10.244.1.2:", "10.244.1.2:65536", "x:1", "1:2:3"])
    func notEndpoints(text: String) {
        #expect(SocketEndpoint(text) == nil)
    }
}
