import Testing
@testable import PodlabAgent
import PodNet

/// The sock_diag messages the prober reads a destination pod's connections with, byte by byte.
@Suite struct SocketTableTests {
    @Test func theDumpRequestAsksForEveryIPv4TCPSocket() {
        let bytes = SocketTable.request(sequence: 7)
        #expect(bytes.count == 72)
        // struct nlmsghdr: length 72, SOCK_DIAG_BY_FAMILY (20), NLM_F_REQUEST | NLM_F_DUMP (0x301), sequence 7, port 0
        #expect(Array(bytes[0..<16]) == [72, 0, 0, 0, 20, 0, 0x01, 0x03, 7, 0, 0, 0, 0, 0, 0, 0])
        // struct inet_diag_req_v2: AF_INET (2), IPPROTO_TCP (6), no extensions, pad, every state, no socket id filter
        #expect(Array(bytes[16..<24]) == [2, 6, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(bytes[24...].allSatisfy { $0 == 0 })
    }

    /// A `struct inet_diag_msg` of an established connection 10.244.2.2:8080 ← 10.244.1.2:43122.
    static func message(family: UInt8 = 2) -> [UInt8] {
        var bytes: [UInt8] = [family, 1, 0, 0]          // family, TCP_ESTABLISHED, timer, retransmits
        bytes += [0x1F, 0x90, 0xA8, 0x72]               // source (local) port 8080, destination (remote) port 43122, big endian
        bytes += [10, 244, 2, 2] + [UInt8](repeating: 0, count: 12)  // source address
        bytes += [10, 244, 1, 2] + [UInt8](repeating: 0, count: 12)  // destination address
        bytes += [UInt8](repeating: 0, count: 4 + 8 + 20)            // interface, cookie, expires … inode
        return bytes
    }

    @Test func aMessageGivesTheLocalAndRemoteEnd() throws {
        #expect(Self.message().count == SocketTable.messageSize)
        let connection = try #require(SocketTable.connection(Self.message()))
        #expect(connection.local == SocketEndpoint(IPv4Address(10, 244, 2, 2), 8080))
        #expect(connection.remote == SocketEndpoint(IPv4Address(10, 244, 1, 2), 43122))
    }

    @Test func otherFamiliesAndShortMessagesAreSkipped() {
        #expect(SocketTable.connection(Self.message(family: 10)) == nil)
        #expect(SocketTable.connection(Array(Self.message().prefix(40))) == nil)
    }
}
