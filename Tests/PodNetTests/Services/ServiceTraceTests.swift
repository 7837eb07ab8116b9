import PodNet
import Testing

@Suite("Service trace: a packet through the ruleset value")
struct ServiceTraceTests {
    static let ruleset = ServiceRules.generate(for: ServiceFixture.table, node: ServiceFixture.n1)

    static func trace(_ source: String, _ destination: String, _ port: UInt16, _ proto: ServiceProtocol = .tcp,
                      entry: ServiceTrace.Entry = .prerouting) throws -> ServiceTrace {
        try ServiceTrace.trace(ServiceTrace.Packet(source: IPv4Address(source)!, destination: IPv4Address(destination)!, port: port, protocol: proto),
                               through: ruleset, node: ServiceFixture.n1, table: ServiceFixture.table, entry: entry)
    }

    @Test("verdicts", arguments: [
        ("10.244.1.5", "10.96.0.10", UInt16(80), ServiceProtocol.tcp, "DNAT to one of 10.244.1.2:8080, 10.244.2.2:8080"),
        ("10.244.1.2", "10.96.0.10", 80, .tcp, "DNAT to one of 10.244.1.2:8080 (source masqueraded), 10.244.2.2:8080"),
        ("10.244.1.5", "10.96.0.20", 80, .tcp, "reject: TCP reset (connection refused)"),
        ("10.244.1.5", "10.96.0.21", 80, .tcp, "DNAT to 10.244.2.4:80"),
        ("10.244.1.5", "10.96.0.40", 80, .tcp, "drop"),
        ("10.244.1.5", "10.96.0.53", 53, .udp, "DNAT to 10.244.2.9:53"),
        ("10.244.1.5", "10.96.0.53", 54, .udp, "no Service rule applies: the packet goes on unchanged"),
        ("10.244.1.5", "10.96.0.10", 80, .udp, "no Service rule applies: the packet goes on unchanged"),
        ("10.244.1.5", "10.244.2.2", 8080, .tcp, "no Service rule applies: the packet goes on unchanged"),
        ("192.168.200.12", "192.168.200.11", 30080, .tcp, "DNAT to one of 10.244.1.2:8080 (source masqueraded), 10.244.2.2:8080 (source masqueraded)"),
        ("192.168.200.12", "192.168.200.11", 30081, .tcp, "no Service rule applies: the packet goes on unchanged"),
        ("10.244.1.5", "10.96.0.30", 80, .tcp, "DNAT to one of 10.244.1.2:8080, 10.244.2.2:8080"),
    ])
    func verdict(source: String, destination: String, port: UInt16, proto: ServiceProtocol, expected: String) throws {
        let trace = try Self.trace(source, destination, port, proto)
        #expect(trace.verdict.description == expected, "\(trace)")
    }

    @Test("the whole trace of a pod reaching a ClusterIP, in words")
    func text() throws {
        let trace = try Self.trace("10.244.1.5", "10.96.0.10", 80)
        #expect(trace.description == """
        trace 10.244.1.5 → 10.96.0.10:80/tcp on node n1 (prerouting)
        service default/web port http 80/tcp
          nat-prerouting: ip daddr . meta l4proto . th dport vmap @service-ips
              @service-ips element 10.96.0.10 . tcp . 80 : goto lb-tcp-2
          lb-tcp-2: meta l4proto tcp dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @backends
              @backends element 10.96.0.10 . tcp . 80 . 0 : 10.244.1.2 . 8080
              @backends element 10.96.0.10 . tcp . 80 . 1 : 10.244.2.2 . 8080
          nat-postrouting: meta mark 0x00004000 masquerade
          nat-postrouting: ip saddr . ip daddr @hairpin masquerade
        verdict: DNAT to one of 10.244.1.2:8080, 10.244.2.2:8080
        """)
    }

    @Test("ClientIP affinity: a new client passes the affinity lookups, is recorded, and reaches either endpoint")
    func affinity() throws {
        let trace = try Self.trace("10.244.1.5", "10.96.0.30", 80)
        let text = trace.description
        #expect(trace.service == "default/sticky port http 80/tcp")
        #expect(text.contains("@affinity is filled by traffic: a new client has no entry, next rule"))
        #expect(text.contains("records 10.244.1.5 . 10.96.0.30 . tcp . 80 . 0 in @affinity for 10800 s"))
        #expect(text.contains("records 10.244.1.5 . 10.96.0.30 . tcp . 80 . 1 in @affinity for 10800 s"))
        // A new client's choice: each endpoint through its slot's chain.
        #expect(text.contains("@affinity-choices element 10.96.0.30 . tcp . 80 . 0 : goto affinity-10800s-slot-0"))
        #expect(text.contains("@affinity-choices element 10.96.0.30 . tcp . 80 . 1 : goto affinity-10800s-slot-1"))
        #expect(trace.verdict.description == "DNAT to one of 10.244.1.2:8080, 10.244.2.2:8080")
    }

    @Test("from the node itself, through nat-output")
    func output() throws {
        let trace = try Self.trace("192.168.200.11", "10.96.0.10", 80, entry: .output)
        #expect(trace.steps.first?.chain == "nat-output")
        #expect(trace.verdict.description == "DNAT to one of 10.244.1.2:8080, 10.244.2.2:8080")
    }

    @Test("a rule the tracer does not know fails the trace, naming the chain and rule")
    func unknownRule() throws {
        var ruleset = Self.ruleset
        let index = ruleset.chains.firstIndex { $0.name == "lb-tcp-2" }!
        ruleset.chains[index].rules = [ServiceRuleset.Rule([.unknown("ct state new"), .verdict(.accept)])]
        let packet = ServiceTrace.Packet(source: IPv4Address("10.244.1.5")!, destination: IPv4Address("10.96.0.10")!, port: 80)
        #expect(throws: ServiceTraceError(chain: "lb-tcp-2", rule: "ct state new accept", reason: "unknown statement ct state new")) {
            try ServiceTrace.trace(packet, through: ruleset, node: ServiceFixture.n1)
        }
    }

    @Test("a jump to a chain that is not there fails the trace")
    func missingChain() throws {
        var ruleset = Self.ruleset
        ruleset.chains.removeAll { $0.name == "lb-tcp-2" }
        let packet = ServiceTrace.Packet(source: IPv4Address("10.244.1.5")!, destination: IPv4Address("10.96.0.10")!, port: 80)
        #expect(throws: ServiceTraceError.self) { try ServiceTrace.trace(packet, through: ruleset, node: ServiceFixture.n1) }
    }
}
