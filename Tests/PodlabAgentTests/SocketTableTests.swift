import Testing
@testable import PodlabAgent
import PodNet

/// The sock_diag messages the prober asks a destination pod about a probe's connection with,
/// byte by byte.
@Suite struct SocketTableTests {
    static let server = SocketEndpoint(IPv4Address(10, 244, 2, 2), 8080)
    static let client = SocketEndpoint(IPv4Address(10, 244, 1, 2), 43122)

    @Test func aLookupNamesTheConnectionByItsAddressesAndPorts() {
        let bytes = SocketTable.request(sequence: 7, local: Self.server, remote: Self.client)
        #expect(bytes.count == 72)
        // struct nlmsghdr: length 72, SOCK_DIAG_BY_FAMILY (20), NLM_F_REQUEST (no dump), sequence 7, port 0
        #expect(Array(bytes[0..<16]) == [72, 0, 0, 0, 20, 0, 0x01, 0x00, 7, 0, 0, 0, 0, 0, 0, 0])
        // struct inet_diag_req_v2: AF_INET (2), IPPROTO_TCP (6), no extensions, pad, every state
        #expect(Array(bytes[16..<24]) == [2, 6, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF])
        // inet_diag_sockid: local port 8080, remote port 43122 (big endian), local and remote address
        #expect(Array(bytes[24..<28]) == [0x1F, 0x90, 0xA8, 0x72])
        #expect(Array(bytes[28..<44]) == [10, 244, 2, 2] + [UInt8](repeating: 0, count: 12))
        #expect(Array(bytes[44..<60]) == [10, 244, 1, 2] + [UInt8](repeating: 0, count: 12))
        // no interface; INET_DIAG_NOCOOKIE
        #expect(Array(bytes[60..<72]) == [0, 0, 0, 0] + [UInt8](repeating: 0xFF, count: 8))
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
        #expect(connection.local == Self.server)
        #expect(connection.remote == Self.client)
    }

    @Test func otherFamiliesAndShortMessagesAreSkipped() {
        #expect(SocketTable.connection(Self.message(family: 10)) == nil)
        #expect(SocketTable.connection(Array(Self.message().prefix(40))) == nil)
    }

    @Test func aDatagramSplitsIntoItsMessagesAlignedToFourBytes() {
        // A 88-byte answer (16 + 72) with sequence 9, then an error (16 + 4 + 2 bytes, padded to 24) with sequence 10.
        var datagram: [UInt8] = [88, 0, 0, 0, 20, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0] + Self.message()
        datagram += [22, 0, 0, 0, 2, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0] + [0xFE, 0xFF, 0xFF, 0xFF, 0, 0] + [0, 0]
        datagram += [3, 0]  // a truncated header: ignored
        let answers = SocketTable.answers(datagram[...])
        #expect(answers.map(\.type) == [20, 2])
        #expect(answers.map(\.sequence) == [9, 10])
        #expect(answers[0].payload == Self.message())
        #expect(answers[1].payload == [0xFE, 0xFF, 0xFF, 0xFF, 0, 0])
    }
}
