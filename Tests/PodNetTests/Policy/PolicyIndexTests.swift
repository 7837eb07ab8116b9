import Testing
@testable import PodNet

@Suite("NetworkPolicy index: incremental rules")
struct PolicyIndexTests {
    typealias F = PolicyFixture

    /// Addresses grouped by identity: two numberings that group alike are the same identities.
    static func partition(_ ofAddress: [IPv4Address: UInt32]) -> Set<Set<IPv4Address>> {
        Set(Dictionary(grouping: ofAddress.keys) { ofAddress[$0]! }.values.map(Set.init))
    }

    /// The index's rules against a full generation of the same lab (with the index's identity
    /// numbers), and its identities against those a full generation gives.
    static func expectMatchesFullGeneration(_ index: PolicyIndex, _ context: @autoclosure () -> String) {
        let world = index.world
        let identities = index.identities
        #expect(partition(identities.ofAddress) == partition(PolicyRules.identities(of: world).ofAddress), "\(context())")
        for node in ["n1", "n2"] {
            let full = PolicyRules.generate(world, node: node, identities: identities)
            let kept = index.ruleset(node: node)
            #expect(kept == full, "node \(node) after \(context())\nkept:\n\(kept)\nfull:\n\(full)")
        }
    }

    @Test("a label change moves one identity element and adds nothing else")
    func labelChangeDelta() {
        let policy = F.policy("x", "allow-b", "{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]}")
        var index = PolicyIndex(F.world([policy]))
        var pod = F.pod("x", "c")
        pod.labels["pod"] = "b"
        index.updatePod(namespace: "x", name: "c", pod)
        let delta = index.takeDelta(node: "n1")
        // x/c takes x/b's identity: its one identities element changes (out and in), no map element.
        #expect(Set(delta.removed.keys).union(delta.added.keys) == ["identities"])
        #expect(delta.removed["identities"]?.map(\.key) == [.address(pod.address)])
        #expect(delta.added["identities"] == [.init(.address(pod.address), .mark(index.identities.ofAddress[F.pod("x", "b").address]!))])
        #expect(index.takeDelta(node: "n1").isEmpty)
        Self.expectMatchesFullGeneration(index, "x/c labelled pod=b")
    }

    @Test("a pod joining a new identity adds its elements on the nodes that isolate pods")
    func newIdentity() {
        let policy = F.policy("x", "db", "{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{podSelector: {matchLabels: {tier: db}}}], ports: [{port: 5432}]}]}")
        var index = PolicyIndex(F.world([policy]))
        var pod = F.pod("y", "b")
        pod.labels["tier"] = "db"
        index.updatePod(namespace: "y", name: "b", pod)
        // x/a is on n1; the policy admits only pods of namespace x, so y/b's identity is new but admitted nowhere.
        let delta = index.takeDelta(node: "n1")
        #expect(delta.added["ingress-ports"] == nil)
        var same = F.pod("x", "b")
        same.labels["tier"] = "db"
        index.updatePod(namespace: "x", name: "b", same)
        let second = index.takeDelta(node: "n1")
        let number = index.identities.ofAddress[same.address]!
        #expect(second.added["ingress-ports"] == [.init(.concat([.address(F.pod("x", "a").address), .mark(number), .proto(6), .port(5432)]), .verdict(.return))])
        Self.expectMatchesFullGeneration(index, "x/b tier=db")
    }

    @Test("a peer named twice in one rule is let go of when the policy goes or changes")
    func repeatedPeer() {
        // The smallest sequence the property test found: before, the repeated block was counted
        // as two uses and released as one, so it outlived the policy and kept the node addresses
        // (which it matches) an identity apart from the pods'.
        let twice = "{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 192.168.200.0/24}}, {ipBlock: {cidr: 192.168.200.0/24}}]}]}"
        var index = PolicyIndex(F.world([]))
        index.updatePolicy(namespace: "x", name: "p", F.policy("x", "p", twice))
        Self.expectMatchesFullGeneration(index, "x/p added")
        index.updatePolicy(namespace: "x", name: "p", nil)
        #expect(index.identities.peers.isEmpty)
        #expect(Set(index.identities.ofAddress.values).count == 1)
        Self.expectMatchesFullGeneration(index, "x/p deleted")
        // Replaced by a policy without the block: the same.
        index.updatePolicy(namespace: "x", name: "p", F.policy("x", "p", twice))
        index.updatePolicy(namespace: "x", name: "p", F.policy("x", "p", "{podSelector: {}, ingress: [{from: [{podSelector: {matchLabels: {pod: a}}}]}]}"))
        #expect(index.identities.peers.count == 1)
        Self.expectMatchesFullGeneration(index, "x/p replaced")
    }

    enum Event: CustomStringConvertible {
        case pod(String, String, PolicyPod?)
        case policy(String, String, NetworkPolicy?)
        case namespace(String, [String: String]?)

        var description: String {
            switch self {
            case .pod(let ns, let name, let pod): "pod \(ns)/\(name) → \(pod.map { "\($0.labels) \($0.address) \($0.node) \($0.namedPorts.count) ports" } ?? "deleted")"
            case .policy(let ns, let name, let policy): "policy \(ns)/\(name) → \(policy.map { $0.json.jsonText(indent: 0) } ?? "deleted")"
            case .namespace(let name, let labels): "namespace \(name) → \(labels.map { "\($0)" } ?? "deleted")"
            }
        }
    }

    static func randomEvent(_ index: PolicyIndex, using random: inout SplitMix64) -> Event {
        let world = index.world
        switch Int.random(in: 0..<10, using: &random) {
        case 0...3:
            // A label change (or a pod of the fixture coming back).
            let ns = F.namespaces.randomElement(using: &random)!, name = F.podNames.randomElement(using: &random)!
            var pod = world.pods.first { $0.namespace == ns && $0.name == name } ?? F.pod(ns, name)
            pod.labels["pod"] = Bool.random(using: &random) ? F.podNames.randomElement(using: &random)! : nil
            if Int.random(in: 0..<3, using: &random) == 0 { pod.labels["tier"] = "db" }
            return .pod(ns, name, pod)
        case 4:
            // A pod coming or going, some at the address another pod had.
            let ns = F.namespaces.randomElement(using: &random)!
            let name = ["d", "e", "a"].randomElement(using: &random)!
            if world.pods.contains(where: { $0.namespace == ns && $0.name == name }), Bool.random(using: &random) { return .pod(ns, name, nil) }
            let node = Bool.random(using: &random) ? "n1" : "n2"
            let address = IPv4Address("10.244.\(node == "n1" ? 1 : 2).\(Int.random(in: 40...44, using: &random))")!
            let taken = Set(world.pods.map(\.address))
            guard !taken.contains(address) else { return .pod(ns, name, nil) }
            let ports: [PolicyPod.NamedPort: UInt16] = Bool.random(using: &random) ? [.init("serve-80-tcp", .tcp): 8080] : [:]
            return .pod(ns, name, PolicyPod(namespace: ns, name: name, labels: ["pod": F.podNames.randomElement(using: &random)!],
                                            address: address, node: node, namedPorts: ports))
        case 5...7:
            let name = "p\(Int.random(in: 0..<5, using: &random))"
            if let existing = world.policies.first(where: { $0.metadata.name == name }) {
                if Int.random(in: 0..<3, using: &random) == 0 { return .policy(existing.metadata.namespace, name, nil) }
                var policy = PolicyRulesTests.randomPolicy(0, using: &random)
                policy.metadata.name = name
                policy.metadata.namespace = existing.metadata.namespace
                return .policy(existing.metadata.namespace, name, policy)
            }
            var policy = PolicyRulesTests.randomPolicy(0, using: &random)
            policy.metadata.name = name
            return .policy(policy.metadata.namespace, name, policy)
        default:
            let name = F.namespaces.randomElement(using: &random)!
            var labels: [String: String] = [Namespace.nameLabel: name, "ns": F.namespaces.randomElement(using: &random)!]
            if Bool.random(using: &random) { labels["team"] = "blue" }
            return .namespace(name, labels)
        }
    }

    @Test("property: after any sequence of changes, the kept rules are a full generation's, and each delta takes the node there",
          arguments: 0..<30)
    func incrementalEqualsFull(_ seed: Int) throws {
        var random = SplitMix64(state: UInt64(seed) &* 104_729 &+ 7)
        let policies = (0..<Int.random(in: 0...3, using: &random)).map { PolicyRulesTests.randomPolicy($0, using: &random) }
        var index = PolicyIndex(F.world(policies))
        var kernel = Dictionary(uniqueKeysWithValues: ["n1", "n2"].map { ($0, index.ruleset(node: $0).kernelView) })
        Self.expectMatchesFullGeneration(index, "the start")
        var history: [String] = []
        for step in 0..<25 {
            let event = Self.randomEvent(index, using: &random)
            history.append("\(event)")
            let loggedBefore = index.loggedPolicies
            switch event {
            case .pod(let ns, let name, let pod): index.updatePod(namespace: ns, name: name, pod)
            case .policy(let ns, let name, let policy): index.updatePolicy(namespace: ns, name: name, policy)
            case .namespace(let name, let labels): index.updateNamespace(name, labels: labels)
            }
            // Logging turned on or off changes the chains: the agent then sends the whole ruleset.
            if index.loggedPolicies != loggedBefore {
                for node in ["n1", "n2"] { kernel[node]!.chains = index.ruleset(node: node).chains }
            }
            // Deltas are taken every few changes, as a sync that runs behind the changes would.
            guard step % 3 == 2 || step == 24 else { continue }
            for node in ["n1", "n2"] {
                let delta = index.takeDelta(node: node)
                let before = kernel[node]!
                for (set, elements) in delta.removed {
                    let held = Set(before.set(set)?.elements ?? [])
                    #expect(elements.allSatisfy(held.contains), "node \(node): removes what it does not hold\n\(delta)\n\(history.joined(separator: "\n"))")
                }
                for (set, elements) in delta.added {
                    let kept = Set(before.set(set)?.elements ?? []).subtracting(delta.removed[set] ?? [])
                    #expect(!elements.contains(where: kept.contains), "node \(node): adds what it holds\n\(delta)\n\(history.joined(separator: "\n"))")
                }
                kernel[node] = before.applying(delta)
                #expect(kernel[node] == index.ruleset(node: node).kernelView, "node \(node)\n\(history.joined(separator: "\n"))")
            }
            Self.expectMatchesFullGeneration(index, history.joined(separator: "\n"))
        }
        // The oracle: the kept rules, traced, agree with the semantics for every pair.
        let world = index.world
        let rulesets = Dictionary(uniqueKeysWithValues: ["n1", "n2"].map { ($0, index.ruleset(node: $0)) })
        let addresses = world.pods.map(\.address) + F.nodeAddresses.values.flatMap { $0 }
        for source in addresses {
            for destination in addresses where source != destination {
                guard world.pod(at: source) != nil || world.pod(at: destination) != nil else { continue }
                for (proto, port): (PortProtocol?, UInt16) in [(.tcp, 80), (.tcp, 8080), (.udp, 81)] {
                    let expected = PolicyModel.verdict(in: world, from: source, to: destination, proto: proto, port: port)
                    let traced = try PolicyRulesTests.traverse(world, rulesets: rulesets, from: source, to: destination,
                                                                proto: proto.map(PolicyRules.number) ?? 1, port: port)
                    #expect(traced.accepted == expected.isAllowed, "\(source) → \(destination) \(port): \(expected)\n\(history.joined(separator: "\n"))")
                }
            }
        }
    }
}
