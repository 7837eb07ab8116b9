import Testing
@testable import PodNet

@Suite("NetworkPolicy semantics")
struct PolicyModelTests {
    typealias F = PolicyFixture

    @Test("without policies every pod reaches every pod")
    func noPolicies() {
        let world = F.world([])
        #expect(!F.truthTable(world).contains("X"))
    }

    @Test("default deny ingress isolates the namespace's pods; egress from them is untouched")
    func defaultDenyIngress() {
        let world = F.world([F.policy("x", "deny", "{podSelector: {}}")])
        #expect(!F.allowed(world, "y/a", "x/b"))
        #expect(!F.allowed(world, "x/a", "x/b"))
        #expect(F.allowed(world, "x/a", "y/b"))
        #expect(F.allowed(world, "x/a", "x/a"), "a pod reaches itself over its own loopback")
        #expect(F.truthTable(world) == """
            -\tx/a\tx/b\tx/c\ty/a\ty/b\ty/c\tz/a\tz/b\tz/c
            x/a\t.\tX\tX\t.\t.\t.\t.\t.\t.
            x/b\tX\t.\tX\t.\t.\t.\t.\t.\t.
            x/c\tX\tX\t.\t.\t.\t.\t.\t.\t.
            y/a\tX\tX\tX\t.\t.\t.\t.\t.\t.
            y/b\tX\tX\tX\t.\t.\t.\t.\t.\t.
            y/c\tX\tX\tX\t.\t.\t.\t.\t.\t.
            z/a\tX\tX\tX\t.\t.\t.\t.\t.\t.
            z/b\tX\tX\tX\t.\t.\t.\t.\t.\t.
            z/c\tX\tX\tX\t.\t.\t.\t.\t.\t.
            """)
        let verdict = PolicyModel.verdict(in: world, from: .pod(F.pod("y", "a")), to: .pod(F.pod("x", "b")), proto: .tcp, port: 80)
        #expect(verdict.ingress == .denied(isolatedBy: ["x/deny"]))
        #expect(verdict.egress == .notIsolated)
    }

    @Test("an empty rule allows everything; a policy with no rules and Egress denies all egress")
    func allowAllAndDenyEgress() {
        let world = F.world([F.policy("x", "deny", "{podSelector: {}}"), F.policy("x", "allow-all", "{podSelector: {}, ingress: [{}]}")])
        #expect(!F.truthTable(world).contains("X"))
        let egress = F.world([F.policy("x", "deny-egress", "{podSelector: {}, policyTypes: [Egress]}")])
        #expect(!F.allowed(egress, "x/a", "y/a"))
        #expect(!F.allowed(egress, "x/a", "x/b"))
        #expect(F.allowed(egress, "y/a", "x/a"))
    }

    @Test("a podSelector peer alone means pods of the policy's own namespace")
    func podSelectorPeer() {
        let world = F.world([F.policy("x", "allow-b", "{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]}")])
        #expect(F.allowed(world, "x/b", "x/a"))
        #expect(!F.allowed(world, "y/b", "x/a"))
        #expect(!F.allowed(world, "x/c", "x/a"))
        #expect(F.allowed(world, "x/c", "x/b"), "x/b is not selected")
    }

    @Test("namespaceSelector and podSelector in one peer are AND, in two peers OR")
    func andOr() {
        let and = F.world([F.policy("x", "and", "{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}, podSelector: {matchLabels: {pod: b}}}]}]}")])
        #expect(F.allowed(and, "y/b", "x/a"))
        #expect(!F.allowed(and, "y/c", "x/a"))
        #expect(!F.allowed(and, "x/b", "x/a"))
        let or = F.world([F.policy("x", "or", "{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}, {podSelector: {matchLabels: {pod: b}}}]}]}")])
        #expect(F.allowed(or, "y/b", "x/a"))
        #expect(F.allowed(or, "y/c", "x/a"))
        #expect(F.allowed(or, "x/b", "x/a"))
        #expect(!F.allowed(or, "z/b", "x/a"))
        let allNamespaces = F.world([F.policy("x", "any-ns", "{podSelector: {}, ingress: [{from: [{namespaceSelector: {}}]}]}")])
        #expect(F.allowed(allNamespaces, "z/c", "x/a"))
        #expect(!PolicyModel.verdict(in: allNamespaces, from: .address(IPv4Address("192.168.200.12")!), to: .pod(F.pod("x", "a")), proto: .tcp, port: 80).isAllowed,
                "a namespace selector selects pods, not other addresses")
    }

    @Test("matchExpressions: NotIn, Exists, DoesNotExist")
    func expressions() {
        let world = F.world([F.policy("x", "expr", "{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [\"y\"]}]}, podSelector: {matchExpressions: [{key: pod, operator: Exists}, {key: missing, operator: DoesNotExist}]}}]}]}")])
        #expect(F.allowed(world, "z/a", "x/b"))
        #expect(F.allowed(world, "x/c", "x/b"))
        #expect(!F.allowed(world, "y/a", "x/b"))
    }

    @Test("named ports resolve on the destination pod; a name no pod has matches nothing")
    func namedPorts() {
        let world = F.world([F.policy("x", "named", "{podSelector: {}, ingress: [{ports: [{port: serve-80-tcp}, {port: serve-81-udp, protocol: UDP}]}]}")])
        #expect(F.allowed(world, "y/a", "x/a", proto: .tcp, port: 80))
        #expect(!F.allowed(world, "y/a", "x/a", proto: .tcp, port: 81))
        #expect(F.allowed(world, "y/a", "x/a", proto: .udp, port: 81))
        #expect(!F.allowed(world, "y/a", "x/a", proto: .udp, port: 80))
        let unknown = F.world([F.policy("x", "unknown", "{podSelector: {}, ingress: [{ports: [{port: nosuchport}]}]}")])
        #expect(!F.allowed(unknown, "y/a", "x/a", proto: .tcp, port: 80))
        let egress = F.world([F.policy("x", "egress-named", "{podSelector: {}, policyTypes: [Egress], egress: [{ports: [{port: serve-80-tcp}]}]}")])
        #expect(F.allowed(egress, "x/a", "y/a", proto: .tcp, port: 80))
        #expect(!F.allowed(egress, "x/a", "y/a", proto: .tcp, port: 81))
    }

    @Test("endPort makes a range; a rule with ports does not allow ICMP, one without does")
    func rangesAndProtocols() {
        let world = F.world([F.policy("x", "range", "{podSelector: {}, ingress: [{ports: [{port: 80, endPort: 81}]}]}")])
        #expect(F.allowed(world, "y/a", "x/a", port: 80))
        #expect(F.allowed(world, "y/a", "x/a", port: 81))
        #expect(!F.allowed(world, "y/a", "x/a", port: 82))
        #expect(!F.allowed(world, "y/a", "x/a", proto: .udp, port: 80))
        #expect(!F.allowed(world, "y/a", "x/a", proto: nil, port: 0))
        let any = F.world([F.policy("x", "from-y", "{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}]}]}")])
        #expect(F.allowed(any, "y/a", "x/a", proto: nil, port: 0))
    }

    @Test("ipBlock with except, for egress to pods' addresses")
    func ipBlock() {
        let xb = F.pod("x", "b").address
        let world = F.world([F.policy("x", "cidr", "{podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 10.244.0.0/16, except: [\(xb)/32]}}]}]}")])
        #expect(F.allowed(world, "x/a", "y/a"))
        #expect(!F.allowed(world, "x/a", "x/b"))
        #expect(!PolicyModel.verdict(in: world, from: .pod(F.pod("x", "a")), to: .address(IPv4Address("192.168.200.12")!), proto: .tcp, port: 53).isAllowed)
    }

    @Test("several policies are a union, and the verdict names the rules that allow")
    func unionAndReasons() {
        let world = F.world([
            F.policy("x", "from-b", "{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]}"),
            F.policy("x", "from-c", "{podSelector: {matchLabels: {pod: a}}, ingress: [{ports: [{port: 9999}]}, {from: [{podSelector: {matchLabels: {pod: c}}}]}]}"),
        ])
        #expect(F.allowed(world, "x/b", "x/a"))
        #expect(F.allowed(world, "x/c", "x/a"))
        let verdict = PolicyModel.verdict(in: world, from: .pod(F.pod("x", "c")), to: .pod(F.pod("x", "a")), proto: .tcp, port: 80)
        #expect(verdict.ingress == .allowed([PolicyRuleReference(policy: "x/from-c", direction: .ingress, index: 1)]))
        let denied = PolicyModel.verdict(in: world, from: .pod(F.pod("y", "c")), to: .pod(F.pod("x", "a")), proto: .tcp, port: 80)
        #expect(denied.ingress == .denied(isolatedBy: ["x/from-b", "x/from-c"]))
        #expect(denied.description == "dropped (ingress: denied: isolated by x/from-b, x/from-c and no rule allows it)")
    }

    @Test("the pod's own node always reaches it; another node is judged by ipBlock")
    func nodes() {
        let world = F.world([F.policy("x", "deny", "{podSelector: {}}")])
        let xa = F.pod("x", "a")
        let own = F.nodeAddresses[xa.node]![0], other = F.nodeAddresses[xa.node == "n1" ? "n2" : "n1"]![0]
        #expect(PolicyModel.verdict(in: world, from: .address(own), to: .pod(xa), proto: .tcp, port: 80).isAllowed)
        #expect(!PolicyModel.verdict(in: world, from: .address(other), to: .pod(xa), proto: .tcp, port: 80).isAllowed)
        let nodesAllowed = F.world([F.policy("x", "nodes", "{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 192.168.200.0/24}}]}]}")])
        #expect(PolicyModel.verdict(in: nodesAllowed, from: .address(other), to: .pod(xa), proto: .tcp, port: 80).isAllowed)
    }

    @Test("egress and ingress both apply: allowed out of x but not into y")
    func bothDirections() {
        let world = F.world([
            F.policy("x", "out-to-y", "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}]}]}"),
            F.policy("y", "in-from-z", "{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {ns: \"z\"}}}]}]}"),
        ])
        #expect(!F.allowed(world, "x/a", "y/a"))
        #expect(!F.allowed(world, "x/a", "z/a"))
        #expect(F.allowed(world, "z/a", "y/b"))
        let verdict = PolicyModel.verdict(in: world, from: .pod(F.pod("x", "a")), to: .pod(F.pod("y", "a")), proto: .tcp, port: 80)
        #expect(verdict.egress == .allowed([PolicyRuleReference(policy: "x/out-to-y", direction: .egress, index: 0)]))
        #expect(verdict.ingress == .denied(isolatedBy: ["y/in-from-z"]))
    }
}
