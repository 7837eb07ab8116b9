import Testing
@testable import PodNet

@Suite("NetworkPolicy drop logging")
struct PolicyLogTests {
    /// A TCP SYN 10.244.1.2:43210 → 10.244.2.3:80 as nfnetlink_log copies it (IP header on).
    static let tcpSYN: [UInt8] = [
        0x45, 0x00, 0x00, 0x3c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00,
        10, 244, 1, 2, 10, 244, 2, 3,
        0xa8, 0xca, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0xa0, 0x02, 0xfa, 0xf0,
    ]

    @Test("a logged IPv4 packet: addresses, protocol and ports")
    func packet() throws {
        let packet = try #require(PolicyLog.Packet(ipv4: Self.tcpSYN))
        #expect(packet == PolicyLog.Packet(source: IPv4Address(10, 244, 1, 2), destination: IPv4Address(10, 244, 2, 3), proto: 6,
                                           sourcePort: 43210, destinationPort: 80))
        // UDP with IP options (a 24-byte header): the ports come after the options.
        var udp: [UInt8] = [0x46, 0, 0, 32, 0, 0, 0, 0, 64, 17, 0, 0, 10, 244, 1, 2, 10, 244, 1, 3, 1, 1, 1, 1, 0x30, 0x39, 0x00, 0x35]
        udp += [0, 8, 0, 0]
        let parsed = try #require(PolicyLog.Packet(ipv4: udp))
        #expect(parsed.protocolName == "UDP" && parsed.sourcePort == 12345 && parsed.destinationPort == 53)
        // ICMP has no ports; a later fragment carries none either; IPv6 and short copies are not read.
        var icmp = Self.tcpSYN
        icmp[9] = 1
        #expect(PolicyLog.Packet(ipv4: icmp)?.destinationPort == nil)
        #expect(PolicyLog.Packet(ipv4: icmp)?.protocolName == "ICMP")
        var fragment = Self.tcpSYN
        fragment[7] = 0x10
        #expect(PolicyLog.Packet(ipv4: fragment)?.sourcePort == nil)
        #expect(PolicyLog.Packet(ipv4: [0x60] + Array(repeating: 0, count: 39)) == nil)
        #expect(PolicyLog.Packet(ipv4: Array(Self.tcpSYN.prefix(19))) == nil)
    }

    @Test("prefixes name the direction and the policy, cut to 127 bytes, and lead back to it")
    func prefixes() {
        #expect(PolicyLog.prefix(policy: "x/deny-all", direction: .ingress) == "ingress x/deny-all")
        let long = "ns/" + String(repeating: "p", count: 200)
        let prefix = PolicyLog.prefix(policy: long, direction: .egress)
        #expect(prefix.utf8.count == 127)
        #expect(PolicyLog.policy(forPrefix: prefix, logged: ["x/deny-all", long])! == (long, .egress))
        #expect(PolicyLog.policy(forPrefix: "ingress x/deny-all", logged: ["x/deny-all"])! == ("x/deny-all", .ingress))
        // A packet logged just before its policy stopped logging belongs to no logged policy.
        #expect(PolicyLog.policy(forPrefix: "ingress x/deny-all", logged: ["x/other"]) == nil)
        #expect(PolicyLog.policy(forPrefix: "something else", logged: []) == nil)
    }

    @Test("the annotation turns logging on only with \"true\"", arguments: [("true", true), ("false", false), ("True", false), (nil, false)])
    func annotation(_ value: String?, _ logs: Bool) {
        var policy = NetworkPolicy(metadata: ObjectMeta(name: "p", namespace: "x"), spec: NetworkPolicySpec(podSelector: LabelSelectorSpec()))
        policy.metadata.annotations[PolicyLog.annotation] = value
        #expect(policy.logsDrops == logs)
    }

    @Test("a record reads: time, node, from pod/IP:port → to pod/IP:port, protocol, verdict")
    func recordLine() throws {
        let packet = try #require(PolicyLog.Packet(ipv4: Self.tcpSYN))
        let record = PolicyLog.Record(sequence: 1, time: "2026-12-06T15:20:01.123Z", node: "n2", policy: "x/deny-all", direction: .ingress,
                                      sourcePod: "y/a", destinationPod: "x/a", packet: packet)
        #expect(record.line == "2026-12-06T15:20:01.123Z n2 y/a/10.244.1.2:43210 → x/a/10.244.2.3:80 TCP DROP (Ingress x/deny-all)")
        let outside = PolicyLog.Record(sequence: 2, time: "t", node: "n1", policy: "x/p", direction: .egress, sourcePod: "x/a", destinationPod: nil,
                                       packet: PolicyLog.Packet(source: IPv4Address(10, 244, 1, 2), destination: IPv4Address(8, 8, 8, 8), proto: 1))
        #expect(outside.line == "t n1 x/a/10.244.1.2 → 8.8.8.8 ICMP DROP (Egress x/p)")
    }

    @Test("the book keeps the last records of each policy, numbered across policies")
    func book() throws {
        var book = PolicyLog.Book(capacity: 3)
        let packet = try #require(PolicyLog.Packet(ipv4: Self.tcpSYN))
        for index in 0..<5 {
            _ = book.append { PolicyLog.Record(sequence: $0, time: "\(index)", node: "n1", policy: index == 2 ? "y/q" : "x/p", direction: .ingress,
                                               sourcePod: nil, destinationPod: nil, packet: packet) }
        }
        #expect(book.lastSequence == 5)
        #expect(book.records(policy: "x/p").map(\.sequence) == [2, 4, 5])
        #expect(book.records(policy: "x/p", after: 4).map(\.sequence) == [5])
        #expect(book.records(policy: "y/q").map(\.time) == ["2"])
        book.forget(policy: "x/p")
        #expect(book.records(policy: "x/p").isEmpty)
    }
}
