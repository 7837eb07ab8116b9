import Addressing
import Netlink
import Netns
import Testing

/// ctnetlink messages against the uapi layouts (`struct nlmsghdr`, `struct nfgenmsg`, the
/// CTA_TUPLE_* nests of <linux/netfilter/nfnetlink_conntrack.h>). Addresses and ports are in
/// network order, lengths and types little-endian.
@Suite("Conntrack over ctnetlink")
struct ConntrackTests {
    static func ip(_ text: String) -> IPv4Address { IPv4Address(text)! }

    static let udpClient = ConntrackTuple(source: ip("10.244.1.2"), destination: ip("10.96.0.10"), proto: 17, sourcePort: 40000, destinationPort: 53)

    @Test("delete: the original tuple, nested as the kernel parses it")
    func deleteGolden() throws {
        #expect(hex(try NetlinkRequest.deleteConntrack(Self.udpClient).bytes) == golden(
            "48000000 0201 0500 00000000 00000000", // struct nlmsghdr (16 B): len 72, IPCTNL_MSG_CT_DELETE (CTNETLINK << 8 | 2), REQUEST|ACK
            "02 00 0000", // struct nfgenmsg (4 B): AF_INET, NFNETLINK_V0, res_id 0
            "3400 0180", // CTA_TUPLE_ORIG (nested), 52 B
            "1400 0180", //   CTA_TUPLE_IP (nested), 20 B
            "0800 0100 0af40102", //     CTA_IP_V4_SRC 10.244.1.2
            "0800 0200 0a60000a", //     CTA_IP_V4_DST 10.96.0.10
            "1c00 0280", //   CTA_TUPLE_PROTO (nested), 28 B
            "0500 0100 11000000", //     CTA_PROTO_NUM 17 (UDP) + 3 B pad
            "0600 0200 9c400000", //     CTA_PROTO_SRC_PORT 40000 + 2 B pad
            "0600 0300 00350000" //     CTA_PROTO_DST_PORT 53 + 2 B pad
        ))
    }

    @Test("list: a dump of the IPv4 table")
    func listGolden() throws {
        #expect(hex(try NetlinkRequest.listConntrack().bytes) == golden(
            "14000000 0101 0103 00000000 00000000", // struct nlmsghdr (16 B): len 20, IPCTNL_MSG_CT_GET, REQUEST|DUMP (ROOT|MATCH)
            "02 00 0000" // struct nfgenmsg (4 B): AF_INET
        ))
    }

    /// An IPCTNL_MSG_CT_NEW message as the kernel dumps it: nfgenmsg, then both tuples.
    static func dumped(_ original: ConntrackTuple, reply: ConntrackTuple) throws -> NetlinkMessage {
        // The delete request carries the original tuple in exactly the dump's layout; the reply
        // tuple is the same nest under CTA_TUPLE_REPLY (2).
        let originalNest = Array(try NetlinkRequest.deleteConntrack(original).bytes[20...])
        var replyNest = Array(try NetlinkRequest.deleteConntrack(reply).bytes[20...])
        replyNest[2] = 2
        return NetlinkMessage(type: 0x0100, flags: 2, sequence: 1, portID: 0, payload: [2, 0, 0, 0] + originalNest + replyNest)
    }

    @Test("only the UDP entries sent to the address and answered by the gone endpoint are deleted")
    func deleteMatching() throws {
        let transport = RecordingTransport()
        let tcp = ConntrackTuple(source: Self.ip("10.244.1.2"), destination: Self.ip("10.96.0.10"), proto: 6, sourcePort: 40001, destinationPort: 53)
        let other = ConntrackTuple(source: Self.ip("10.244.1.3"), destination: Self.ip("10.96.0.10"), proto: 17, sourcePort: 40002, destinationPort: 53)
        func reply(from endpoint: String, to client: ConntrackTuple) -> ConntrackTuple {
            ConntrackTuple(source: Self.ip(endpoint), destination: client.source, proto: client.proto, sourcePort: 53, destinationPort: client.sourcePort)
        }
        transport.enqueueDump([
            try Self.dumped(Self.udpClient, reply: reply(from: "10.244.2.9", to: Self.udpClient)),
            try Self.dumped(tcp, reply: reply(from: "10.244.2.9", to: tcp)),
            try Self.dumped(other, reply: reply(from: "10.244.2.8", to: other)),
        ])
        let conntrack = Conntrack(transport: transport)
        let deleted = try conntrack.delete(where: Conntrack.udpFlows(to: Self.ip("10.96.0.10"), port: 53, answeredBy: Self.ip("10.244.2.9"), endpointPort: 53))
        #expect(deleted.map(\.original) == [Self.udpClient])
        #expect(deleted.first?.reply.source == Self.ip("10.244.2.9"))
        // The dump, then one datagram with the one delete.
        #expect(transport.datagrams.count == 2)
        var sent = try NetlinkRequest.deleteConntrack(Self.udpClient)
        sent.sequence = 2
        #expect(transport.datagrams.last == sent.bytes)
    }

    @Test("an entry that expired before its delete is not an error")
    func alreadyGone() throws {
        let transport = RecordingTransport { _, type in type == 0x0102 ? (2, nil) : (0, nil) }  // ENOENT
        transport.enqueueDump([try Self.dumped(Self.udpClient, reply: ConntrackTuple(source: Self.ip("10.244.2.9"), destination: Self.ip("10.244.1.2"),
                                                                                     proto: 17, sourcePort: 53, destinationPort: 40000))])
        let deleted = try Conntrack(transport: transport).delete { _ in true }
        #expect(deleted.isEmpty)
    }
}
