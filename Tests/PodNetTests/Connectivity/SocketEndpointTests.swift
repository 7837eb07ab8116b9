import Testing
@testable import PodNet

@Suite("Socket endpoints")
struct SocketEndpointTests {
    @Test("endpoints read and print as address:port", arguments: ["10.244.1.2:43122", "0.0.0.0:1"])
    func endpoints(text: String) {
        #expect(SocketEndpoint(text)?.description == text)
        #expect(SocketEndpoint(text) == SocketEndpoint(IPv4Address(text.split(separator: ":").first.map(String.init) ?? "")!, UInt16(text.split(separator: ":").last!)!))
    }

    @Test("not an endpoint", arguments: ["10.244.1.2", "10.244.1.2:", "10.244.1.2:65536", "x:1", "1:2:3"])
    func notEndpoints(text: String) {
        #expect(SocketEndpoint(text) == nil)
    }
}
