import Testing
@testable import PodNet

@Suite("NetworkPolicy ruleset")
struct PolicyRulesTests {
    typealias F = PolicyFixture

    @Test("golden: one policy allowing x/b into x/a on TCP 80")
    func golden() {
        let pods = [F.pod("x", "a"), F.pod("x", "b"), F.pod("y", "a")]
        let world = F.world([F.policy("x", "allow-b", "{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}], ports: [{port: 80}]}]}")],
                            pods: pods)
        // x/a lives on n1 (10.244.1.10); x/b on n2; y/a on n2.
        let ruleset = PolicyRules.generate(world, node: "n1")
        #expect(ruleset.description == """
            table ip podlab-policy {
            \tmap identities {
            \t\ttypeof ip saddr : meta mark
            \t\telements = {
            \t\t\t10.244.1.1 : 0x00000001
            \t\t\t10.244.1.10 : 0x00000001
            \t\t\t10.244.2.1 : 0x00000001
            \t\t\t10.244.2.11 : 0x00000002
            \t\t\t10.244.2.13 : 0x00000001
            \t\t\t192.168.200.11 : 0x00000001
            \t\t\t192.168.200.12 : 0x00000001
            \t\t}
            \t}
            \tset egress-pods {
            \t\ttypeof ip saddr
            \t}
            \tset ingress-pods {
            \t\ttypeof ip daddr
            \t\telements = {
            \t\t\t10.244.1.10
            \t\t}
            \t}
            \tset egress-logged {
            \t\ttypeof ip saddr . meta mark
            \t}
            \tset ingress-logged {
            \t\ttypeof ip daddr . meta mark
            \t}
            \tmap egress-any {
            \t\ttypeof ip saddr . meta mark : verdict
            \t}
            \tmap egress-protocols {
            \t\ttypeof ip saddr . meta mark . meta l4proto : verdict
            \t}
            \tmap egress-ports {
            \t\ttypeof ip saddr . meta mark . meta l4proto . th dport : verdict
            \t}
            \tmap ingress-any {
            \t\ttypeof ip daddr . meta mark : verdict
            \t}
            \tmap ingress-protocols {
            \t\ttypeof ip daddr . meta mark . meta l4proto : verdict
            \t}
            \tmap ingress-ports {
            \t\ttypeof ip daddr . meta mark . meta l4proto . th dport : verdict
            \t\telements = {
            \t\t\t10.244.1.10 . 0x00000002 . tcp . 80 : return
            \t\t}
            \t}
            \tchain forward {
            \t\ttype filter hook forward priority 0; policy accept;
            \t\tct state established,related accept
            \t\tmeta mark 0x00004000 goto forward-nodeport
            \t\tjump policy
            \t\tmeta mark set 0x00000000
            \t}
            \tchain forward-nodeport {
            \t\tjump policy
            \t\tmeta mark set 0x00004000
            \t}
            \tchain input {
            \t\ttype filter hook input priority 0; policy accept;
            \t\tct state established,related accept
            \t\tjump egress
            \t\tmeta mark set 0x00000000
            \t}
            \tchain policy {
            \t\tjump egress
            \t\tjump ingress
            \t}
            \tchain egress {
            \t\tip saddr @egress-pods goto egress-check
            \t}
            \tchain egress-check {
            \t\tmeta mark set 0x00000000
            \t\tmeta mark set ip daddr map @identities
            \t\tip saddr . meta mark vmap @egress-any
            \t\tip saddr . meta mark . meta l4proto vmap @egress-protocols
            \t\tip saddr . meta mark . meta l4proto . th dport vmap @egress-ports
            \t\tcounter drop
            \t}
            \tchain ingress {
            \t\tip daddr @ingress-pods goto ingress-check
            \t}
            \tchain ingress-check {
            \t\tmeta mark set 0x00000000
            \t\tmeta mark set ip saddr map @identities
            \t\tip daddr . meta mark vmap @ingress-any
            \t\tip daddr . meta mark . meta l4proto vmap @ingress-protocols
            \t\tip daddr . meta mark . meta l4proto . th dport vmap @ingress-ports
            \t\tcounter drop
            \t}
            }
            """)
        #expect(ruleset.reasons[.init(set: "ingress-ports", key: .concat([.address(F.pod("x", "a").address), .mark(2), .proto(6), .port(80)]))]
            == [PolicyRuleReference(policy: "x/allow-b", direction: .ingress, index: 0)])
        // The other node holds no isolated pod: its maps are empty.
        #expect(PolicyRules.generate(world, node: "n2").set("ingress-ports")?.elements.isEmpty == true)
    }

    @Test("logging: a logged policy's pods are elements of the logged sets, and two rules per logged policy precede each drop")
    func loggedPolicy() throws {
        var deny = F.policy("x", "deny-all", "{podSelector: {}, policyTypes: [Ingress, Egress]}")
        deny.metadata.annotations[PolicyLog.annotation] = "true"
        var allowB = F.policy("x", "allow-b", "{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]}")
        allowB.metadata.annotations[PolicyLog.annotation] = "false"
        let world = F.world([deny, allowB, F.policy("y", "quiet", "{podSelector: {}}")])
        #expect(PolicyLog.loggedPolicies(world.policies) == ["x/deny-all"])
        let ruleset = PolicyRules.generate(world, node: "n1")
        // n1 holds x/a (10.244.1.10) and x/c (10.244.1.12) of x; y/b (10.244.1.14) is isolated by y/quiet, which does not log.
        #expect(ruleset.set("ingress-logged")?.elements.map(\.description) == ["10.244.1.10 . 0x00000001", "10.244.1.12 . 0x00000001"])
        #expect(ruleset.set("egress-logged")?.elements.map(\.description) == ["10.244.1.10 . 0x00000001", "10.244.1.12 . 0x00000001"])
        #expect(ruleset.chain("ingress-check")?.rules.suffix(3).map(\.description) == [
            "meta mark set 0x00000001",
            "ip daddr . meta mark @ingress-logged limit rate 10/second burst 5 packets log prefix \"ingress x/deny-all\" group 13",
            "counter drop",
        ])
        #expect(ruleset.chain("egress-check")?.rules.suffix(3).map(\.description) == [
            "meta mark set 0x00000001",
            "ip saddr . meta mark @egress-logged limit rate 10/second burst 5 packets log prefix \"egress x/deny-all\" group 13",
            "counter drop",
        ])
        // Without logged policies the chains are the fixed ones.
        #expect(PolicyRules.generate(F.world([allowB]), node: "n1").chains == PolicyRules.chains)

        // The tracer follows the log rules: a drop into x/a is logged as x/deny-all's, an allowed packet is not logged.
        let fromYA = try PolicyTrace.trace(ruleset, hook: "forward", packet: .init(source: F.pod("y", "a").address, destination: F.pod("x", "a").address, proto: 6, port: 80))
        #expect(!fromYA.accepted)
        #expect(fromYA.logged == ["ingress x/deny-all"])
        let fromXB = try PolicyTrace.trace(PolicyRules.generate(world, node: "n2"), hook: "forward",
                                           packet: .init(source: F.pod("x", "b").address, destination: F.pod("y", "b").address, proto: 6, port: 80))
        #expect(!fromXB.accepted)
        #expect(fromXB.logged == ["egress x/deny-all"])
        let allowed = try PolicyTrace.trace(PolicyRules.generate(F.world([allowB]), node: "n1"), hook: "forward",
                                            packet: .init(source: F.pod("x", "b").address, destination: F.pod("x", "a").address, proto: 6, port: 80))
        #expect(allowed.accepted && allowed.logged.isEmpty)
    }

    @Test("a label change changes one identity element, no chain")
    func labelChange() {
        let policy = F.policy("x", "allow-b", "{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]}")
        var pods = F.pods
        let identities = PolicyRules.identities(of: F.world([policy], pods: pods))
        let before = PolicyRules.generate(F.world([policy], pods: pods), node: "n1", identities: identities)
        // x/c becomes pod=b: it takes x/b's identity; every other address keeps its number.
        let index = pods.firstIndex { $0.namespace == "x" && $0.name == "c" }!
        pods[index].labels["pod"] = "b"
        let world = F.world([policy], pods: pods)
        let after = PolicyRules.generate(world, node: "n1", identities: PolicyRules.identities(of: world, previous: identities))
        #expect(before.chains == after.chains)
        let changed = Set(after.set("identities")!.elements).subtracting(before.set("identities")!.elements)
        #expect(changed.map(\.key) == [.address(pods[index].address)])
        #expect(before.set("ingress-any") == after.set("ingress-any"))
    }

    @Test("a new identity is numbered after the others, which keep theirs")
    func newIdentityKeepsNumbers() {
        let policy = F.policy("x", "two-peers", "{podSelector: {}, ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}, {podSelector: {matchLabels: {tier: db}}}]}]}")
        var pods = F.pods
        let first = PolicyRules.identities(of: F.world([policy], pods: pods))
        let index = pods.firstIndex { $0.namespace == "x" && $0.name == "a" }!
        pods[index].labels["tier"] = "db"
        let second = PolicyRules.identities(of: F.world([policy], pods: pods), previous: first)
        let changed = second.ofAddress.filter { first.ofAddress[$0.key] != $0.value }
        #expect(changed.keys.sorted() == [pods[index].address])
        #expect(changed.values.first == (first.ofAddress.values.max() ?? 0) + 1)
        // Without the previous numbers the order of signatures decides, and more addresses move.
        #expect(PolicyRules.identities(of: F.world([policy], pods: pods)).ofAddress != second.ofAddress)
    }

    @Test("chains and rules do not grow with policies or pods")
    func fixedChains() {
        let many = (0..<50).map { F.policy("x", "p\($0)", "{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}], ports: [{port: \(1000 + $0)}]}]}") }
        let ruleset = PolicyRules.generate(F.world(many), node: "n1")
        #expect(ruleset.chains == PolicyRules.chains)
        #expect(ruleset.sets.count == 11)
    }

    /// The packet through every hook it meets, with a NodePort mark and without: accepted by all?
    static func traverse(_ world: PolicyWorld, rulesets: [String: PolicyRuleset], from source: IPv4Address, to destination: IPv4Address,
                         proto: UInt8, port: UInt16) throws -> (accepted: Bool, allowedBy: [PolicyRuleReference], marksKept: Bool) {
        var allowedBy: [PolicyRuleReference] = []
        var marksKept = true
        var accepted = true
        for mark in [UInt32(0), PolicyRuleset.nodePortMark] {
            let hops = try PolicyPath.trace(in: world, rulesets: rulesets, packet: .init(source: source, destination: destination, proto: proto, port: port, mark: mark))
            for hop in hops where hop.hook == "forward" && hop.result.accepted && hop.result.mark != mark { marksKept = false }
            if hops.contains(where: { !$0.result.accepted }) { accepted = false }
            if mark == 0 { allowedBy = hops.flatMap(\.result.allowedBy) }
        }
        return (accepted, allowedBy, marksKept)
    }

    static func randomSelector(_ key: String, _ values: [String], using random: inout SplitMix64) -> String {
        switch Int.random(in: 0..<5, using: &random) {
        case 0: return "{}"
        case 1: return "{matchLabels: {\(key): \"\(values.randomElement(using: &random)!)\"}}"
        case 2: return "{matchExpressions: [{key: \(key), operator: In, values: [\(values.shuffled(using: &random).prefix(2).map { "\"\($0)\"" }.joined(separator: ", "))]}]}"
        case 3: return "{matchExpressions: [{key: \(key), operator: NotIn, values: [\"\(values.randomElement(using: &random)!)\"]}]}"
        default: return "{matchExpressions: [{key: \(key), operator: Exists}]}"
        }
    }

    static func randomPolicy(_ index: Int, using random: inout SplitMix64) -> NetworkPolicy {
        func peer() -> String {
            switch Int.random(in: 0..<5, using: &random) {
            case 0: return "{podSelector: \(randomSelector("pod", F.podNames, using: &random))}"
            case 1: return "{namespaceSelector: \(randomSelector("ns", F.namespaces, using: &random))}"
            case 2: return "{namespaceSelector: \(randomSelector("ns", F.namespaces, using: &random)), podSelector: \(randomSelector("pod", F.podNames, using: &random))}"
            case 3: return "{ipBlock: {cidr: 10.244.0.0/16, except: [10.244.\(Int.random(in: 1...2, using: &random)).0/24]}}"
            default: return "{ipBlock: {cidr: 192.168.200.0/24}}"
            }
        }
        func ports() -> String {
            let choices = ["{port: 80}", "{port: 80, endPort: 81}", "{port: serve-80-tcp}", "{protocol: UDP, port: 81}", "{protocol: UDP}", "{port: serve-81-udp, protocol: UDP}", "{port: nosuch}"]
            return "[" + (0..<Int.random(in: 1...2, using: &random)).map { _ in choices.randomElement(using: &random)! }.joined(separator: ", ") + "]"
        }
        func rules(_ peerKey: String) -> String {
            let rules = (0..<Int.random(in: 0...2, using: &random)).map { _ in
                var fields: [String] = []
                if Bool.random(using: &random) { fields.append("\(peerKey): [\((0..<Int.random(in: 1...2, using: &random)).map { _ in peer() }.joined(separator: ", "))]") }
                if Bool.random(using: &random) { fields.append("ports: \(ports())") }
                return "{" + fields.joined(separator: ", ") + "}"
            }
            return "[" + rules.joined(separator: ", ") + "]"
        }
        let types = [["Ingress"], ["Egress"], ["Ingress", "Egress"]].randomElement(using: &random)!
        let namespace = F.namespaces.randomElement(using: &random)!
        var policy = F.policy(namespace, "p\(index)", "{podSelector: \(randomSelector("pod", F.podNames, using: &random)), policyTypes: [\(types.joined(separator: ", "))], ingress: \(rules("from")), egress: \(rules("to"))}")
        // Those of namespace y (a third) log their drops: the log rules must change no verdict.
        // (Decided without another random draw, so each seed explores the changes it did before.)
        if namespace == "y" { policy.metadata.annotations[PolicyLog.annotation] = "true" }
        return policy
    }

    @Test("property: the generated rulesets, traced, agree with the semantics for every pair", arguments: 0..<40)
    func agreesWithModel(_ seed: Int) throws {
        var random = SplitMix64(state: UInt64(seed) &* 7919 &+ 1)
        var pods = F.pods
        for index in pods.indices where Int.random(in: 0..<4, using: &random) == 0 {
            pods[index].labels["pod"] = F.podNames.randomElement(using: &random)!
        }
        let policies = (0..<Int.random(in: 1...4, using: &random)).map { Self.randomPolicy($0, using: &random) }
        let world = F.world(policies, pods: pods)
        let identities = PolicyRules.identities(of: world)
        let rulesets = Dictionary(uniqueKeysWithValues: ["n1", "n2"].map { ($0, PolicyRules.generate(world, node: $0, identities: identities)) })
        let addresses = pods.map(\.address) + F.nodeAddresses.values.flatMap { $0 }
        var compared = 0
        for source in addresses {
            for destination in addresses where source != destination {
                guard world.pod(at: source) != nil || world.pod(at: destination) != nil else { continue }
                for (proto, port): (PortProtocol?, UInt16) in [(.tcp, 80), (.tcp, 81), (.udp, 81), (.udp, 80), (nil, 0)] {
                    let expected = PolicyModel.verdict(in: world, from: source, to: destination, proto: proto, port: port)
                    let traced = try Self.traverse(world, rulesets: rulesets, from: source, to: destination, proto: proto.map(PolicyRules.number) ?? 1, port: port)
                    #expect(traced.accepted == expected.isAllowed, "\(source) → \(destination) \(proto?.rawValue ?? "ICMP")/\(port): \(expected)\n\(policies.map { $0.json.jsonText() })")
                    #expect(traced.marksKept)
                    var expectedRules: [PolicyRuleReference] = []
                    if case .allowed(let rules) = expected.egress { expectedRules += rules }
                    if case .allowed(let rules) = expected.ingress { expectedRules += rules }
                    if traced.accepted { #expect(Set(traced.allowedBy).isSubset(of: Set(expectedRules))) }
                    compared += 1
                }
            }
        }
        #expect(compared > 400)
    }
}
