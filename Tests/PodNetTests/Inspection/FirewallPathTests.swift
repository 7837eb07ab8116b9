import PodNet
import Testing

/// `whois --from` explains the way from the rules a node really holds: the tracer reads each
/// listed rule, so a changed or missing rule changes the explanation.
@Suite("whois --from: the path through the nodes' nftables rules")
struct FirewallPathTests {
    static let cluster = InspectionFixture.plan.clusterCIDR

    /// The fixture lab with node n1's chain `name` holding `rules` instead (n2 keeps podlab's own).
    static func network(n1 name: String = NodeFirewallRules.masqueradeChain, _ rules: [FirewallRule]) -> NetworkInspection {
        var network = InspectionFixture.network
        let node = network.namespaces.firstIndex { $0.namespace == "demo_node_n1" }!
        let chain = network.namespaces[node].firewall.firstIndex { $0.name == name }!
        network.namespaces[node].firewall[chain].rules = rules
        return network
    }

    static func trace(to destination: String, from pod: Int = 0, over network: NetworkInspection) throws -> PacketPath {
        try PacketPath.trace(from: InspectionFixture.pods[pod], to: #require(IPv4Address(destination)),
                             inventory: InspectionFixture.inventory, network: network)
    }

    /// `table ip podlab chain …` lines of each hop that has any.
    static func chains(_ path: PacketPath) -> [String] {
        path.hops.flatMap { hop in hop.chains.map { "\(hop.title): \($0)" } }
    }

    @Test("the desired table: the masquerade rule spares traffic that stays in the cluster CIDR")
    func desiredTable() {
        let chains = NodeFirewallRules.chains(clusterCIDR: Self.cluster)
        #expect(chains.map(\.text) == [
            "table ip podlab chain nat-postrouting (type nat hook postrouting priority 100)",
            "table ip podlab chain forward (type filter hook forward priority 0)",
        ])
        #expect(chains.map { $0.rules.map(\.description) } == [
            ["ip saddr 10.244.0.0/16 ip daddr != 10.244.0.0/16 counter masquerade comment \"pods leaving the cluster CIDR\""],
            ["ip saddr 10.244.0.0/16 counter comment \"pod traffic forwarded by this node\""],
        ])
        #expect(chains == chains.map(\.programmed))
    }

    @Test("as installed: pod to pod across nodes keeps its source; to a node address it is masqueraded at the first node")
    func installed() throws {
        let cross = try Self.trace(to: "10.244.2.2", over: InspectionFixture.network)
        #expect(Self.chains(cross) == ["node n1: table ip podlab chain forward (hook forward)", "node n2: table ip podlab chain forward (hook forward)"])
        #expect(cross.outcome == PacketPath.Outcome(delivered: true, text: "delivered to pod team/c (eth0 in demo_pod_team_c)"))

        let toNode = try Self.trace(to: "192.168.200.12", over: InspectionFixture.network)
        #expect(Self.chains(toNode) == [
            "node n1: table ip podlab chain forward (hook forward)",
            "node n1: table ip podlab chain nat-postrouting (hook postrouting): masquerade by rule «ip saddr 10.244.0.0/16 ip daddr != 10.244.0.0/16 counter masquerade»: source 10.244.1.2 becomes 192.168.200.11 (eth0)",
        ])
        #expect(toNode.outcome.source == IPv4Address(192, 168, 200, 11))
    }

    @Test("the masquerade rule deleted: nothing masquerades, the packet keeps the pod's address")
    func ruleDeleted() throws {
        let path = try Self.trace(to: "192.168.200.12", over: Self.network([]))
        #expect(Self.chains(path) == ["node n1: table ip podlab chain forward (hook forward)"])
        #expect(path.outcome == PacketPath.Outcome(delivered: true, text: "delivered to node n2 (eth0 in demo_node_n2)"))
    }

    @Test("the table missing from a node: no chain on the way there")
    func tableMissing() throws {
        var network = InspectionFixture.network
        for index in network.namespaces.indices { network.namespaces[index].firewall = [] }
        let path = try Self.trace(to: "192.168.200.12", over: network)
        #expect(path.hops.allSatisfy { $0.chains.isEmpty })
        #expect(path.outcome.source == nil)
    }

    @Test("the rule without its `ip daddr != cluster` condition masquerades pod-to-pod traffic, across nodes and on one node")
    func conditionGone() throws {
        let broken = Self.network([FirewallRule([.sourceIn(Self.cluster)], counts: true, packets: 7, bytes: 420, action: .masquerade)])
        let cross = try Self.trace(to: "10.244.2.2", over: broken)
        #expect(Self.chains(cross) == [
            "node n1: table ip podlab chain forward (hook forward)",
            "node n1: table ip podlab chain nat-postrouting (hook postrouting): masquerade by rule «ip saddr 10.244.0.0/16 counter masquerade»: source 10.244.1.2 becomes 192.168.200.11 (eth0)",
        ], "node n2's forward rule counts pod sources only: the masqueraded packet no longer matches it")
        #expect(cross.outcome.text == "delivered to pod team/c (eth0 in demo_pod_team_c), from 192.168.200.11 (masqueraded in node n1)")
        #expect(cross.outcome.source == IPv4Address(192, 168, 200, 11))

        // On one node the packet leaves by the bridge, whose address it gets.
        let same = try Self.trace(to: "10.244.1.3", over: broken)
        #expect(same.hops[1].chains.last?.note == "masquerade by rule «ip saddr 10.244.0.0/16 counter masquerade»: source 10.244.1.2 becomes 10.244.1.1 (cni0)")
        #expect(same.outcome.text == "delivered to pod default/b (eth0 in demo_pod_default_b), from 10.244.1.1 (masqueraded in node n1)")

        // Traffic from the other node's pods is masqueraded too: n1 forwards it out of cni0.
        let back = try Self.trace(to: "10.244.1.2", from: 2, over: broken)
        #expect(back.outcome.text == "delivered to pod default/a (eth0 in demo_pod_default_a), from 10.244.1.1 (masqueraded in node n1)")
    }

    @Test("interface conditions are evaluated against the path's interfaces", arguments: [
        ("10.244.2.2", true), ("10.244.1.3", false), ("10.244.1.1", false),
    ])
    func outputInterface(destination: String, masqueraded: Bool) throws {
        // The rule many hand-made nodes carry: everything leaving by eth0.
        let network = Self.network([FirewallRule([FirewallRule.Condition(.oifname, "eth0")], action: .masquerade)])
        let path = try Self.trace(to: destination, over: network)
        #expect((path.outcome.source != nil) == masqueraded, "\(path.outcome)")
    }

    @Test("rules are read in order: a counter goes on, accept ends the chain, drop ends the packet")
    func verdicts() throws {
        let accepted = Self.network([FirewallRule([.sourceIn(Self.cluster)], action: .accept), NodeFirewallRules.masquerade(clusterCIDR: Self.cluster)])
        let path = try Self.trace(to: "192.168.200.12", over: accepted)
        #expect(path.hops[1].chains.last?.note == "accepted by rule «ip saddr 10.244.0.0/16 accept»")
        #expect(path.outcome.source == nil, "the masquerade rule after the accept never runs")

        let dropping = Self.network(n1: NodeFirewallRules.forwardChain, [
            FirewallRule([.sourceIn(Self.cluster)], counts: true),
            FirewallRule([FirewallRule.Condition(.ipDaddr, "10.244.2.2")], action: .drop),
        ])
        let dropped = try Self.trace(to: "10.244.2.2", over: dropping)
        #expect(dropped.outcome == PacketPath.Outcome(delivered: false,
            text: "dropped in node n1 by table ip podlab chain forward (hook forward): dropped by rule «ip daddr 10.244.2.2 drop»"))
        #expect(dropped.hops.map(\.title) == ["pod default/a", "node n1"])
        #expect(try Self.trace(to: "10.244.1.3", over: dropping).outcome.delivered, "the drop rule is for one address only")
    }

    @Test("a rule the tracer cannot evaluate is shown as one that may apply, and decides nothing")
    func undecided() throws {
        let network = Self.network([FirewallRule([.sourceIn(Self.cluster)], other: ["tcp dport 80"], action: .masquerade)])
        let path = try Self.trace(to: "192.168.200.12", over: network)
        #expect(path.hops[1].chains.last?.note == "rule «ip saddr 10.244.0.0/16 tcp dport 80 masquerade» may apply (podlab does not evaluate tcp dport 80)")
        #expect(path.outcome.source == nil)
        // A rule whose known conditions already fail is not shown at all.
        let other = Self.network([FirewallRule([FirewallRule.Condition(.ipSaddr, "10.9.0.0/16")], other: ["tcp dport 80"], action: .masquerade)])
        #expect(try Self.trace(to: "192.168.200.12", over: other).hops[1].chains.map(\.chain) == ["forward"])
    }
}
