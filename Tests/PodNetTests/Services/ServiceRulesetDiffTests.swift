import PodNet
import Testing

@Suite("Service ruleset diff: only what changed")
struct ServiceRulesetDiffTests {
    static func generate(_ services: [ServiceEntry], node: ServiceNode = ServiceFixture.n1) -> ServiceRuleset {
        ServiceRules.generate(for: ServiceTable(services), node: node)
    }

    @Test("no table installed: create the table and everything in it")
    func fromNothing() {
        let desired = Self.generate([ServiceFixture.web])
        let diff = ServiceRulesetDiff.between(installed: nil, desired: desired)
        #expect(diff.createsTable && !diff.rebuildsTable)
        #expect(diff.addedSets.map(\.name) == desired.sets.map(\.name))
        #expect(diff.addedSets.allSatisfy { $0.elements.isEmpty })
        #expect(diff.addedChains == desired.chains)
        #expect(diff.addedElementCount == desired.elementCount)
        #expect(diff.description.hasPrefix("add table ip podlab-services\nadd map ip podlab-services service-ips { typeof ip daddr . meta l4proto . th dport : verdict; }"))
    }

    @Test("the same ruleset: nothing to send")
    func same() {
        let desired = Self.generate(ServiceFixture.table.services)
        #expect(ServiceRulesetDiff.between(installed: desired, desired: desired).isEmpty)
    }

    @Test("the kernel's affinity entries are not the control plane's to compare")
    func dynamicSetsIgnored() {
        let desired = Self.generate([ServiceFixture.sticky])
        var installed = desired
        let index = installed.sets.firstIndex { $0.name == "affinity" }!
        installed.sets[index].elements = [ServiceRuleset.Element(.concat([.address(IPv4Address("10.244.1.5")!), .address(IPv4Address("10.96.0.30")!), .transport(.tcp), .port(80), .integer(1)]))]
        #expect(ServiceRulesetDiff.between(installed: installed, desired: desired).isEmpty)
    }

    @Test("one endpoint replaced: one backends element out, one in, nothing else")
    func endpointReplaced() {
        var web = ServiceFixture.web
        let old = Self.generate([web])
        web.ports[0].endpoints = [ServiceFixture.a, ServiceEndpoint(ip: IPv4Address("10.244.2.7")!, port: 8080, nodeName: "n2")]
        let diff = ServiceRulesetDiff.between(installed: old, desired: Self.generate([web]))
        #expect(diff.description == """
        delete element ip podlab-services backends { 10.96.0.10 . tcp . 80 . 1 }
        add element ip podlab-services backends { 10.96.0.10 . tcp . 80 . 1 : 10.244.2.7 . 8080 }
        """)
    }

    @Test("a third endpoint: the service moves to lb-tcp-3, which is made, and lb-tcp-2 goes")
    func endpointAdded() {
        var web = ServiceFixture.web
        let old = Self.generate([web])
        web.ports[0].endpoints.append(ServiceEndpoint(ip: IPv4Address("10.244.1.9")!, port: 8080, nodeName: "n1"))
        let diff = ServiceRulesetDiff.between(installed: old, desired: Self.generate([web]))
        #expect(diff.description == """
        add chain ip podlab-services lb-tcp-3
        delete element ip podlab-services service-ips { 10.96.0.10 . tcp . 80 }
        delete element ip podlab-services backends { 10.96.0.10 . tcp . 80 . 1 }
        flush chain ip podlab-services lb-tcp-2
        add rule ip podlab-services lb-tcp-3 meta l4proto tcp dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 3 map @backends
        add element ip podlab-services service-ips { 10.96.0.10 . tcp . 80 : goto lb-tcp-3 }
        add element ip podlab-services backends { 10.96.0.10 . tcp . 80 . 1 : 10.244.1.9 . 8080, 10.96.0.10 . tcp . 80 . 2 : 10.244.2.2 . 8080 }
        add element ip podlab-services hairpin { 10.244.1.9 . 10.244.1.9 }
        delete chain ip podlab-services lb-tcp-2
        """)
    }

    @Test("a Service removed: its elements go, and the chains nothing else uses")
    func serviceRemoved() {
        let old = Self.generate([ServiceFixture.web, ServiceFixture.empty])
        let diff = ServiceRulesetDiff.between(installed: old, desired: Self.generate([ServiceFixture.web]))
        #expect(diff.description == """
        delete element ip podlab-services service-ips { 10.96.0.20 . tcp . 80 }
        flush chain ip podlab-services no-endpoints
        delete chain ip podlab-services no-endpoints
        """)
    }

    @Test("a rule changed by hand in a shared chain: that chain is refilled")
    func ruleChanged() {
        let desired = Self.generate([ServiceFixture.web])
        var installed = desired
        let index = installed.chains.firstIndex { $0.name == "nat-postrouting" }!
        installed.chains[index].rules.removeLast()
        let diff = ServiceRulesetDiff.between(installed: installed, desired: desired)
        #expect(diff.replacedChains.map(\.name) == ["nat-postrouting"])
        #expect(diff.addedElements.isEmpty && diff.deletedElements.isEmpty && diff.addedChains.isEmpty)
    }

    @Test("a base chain or set declared differently: the table is rebuilt")
    func incompatible() {
        let desired = Self.generate([ServiceFixture.web])
        var installed = desired
        installed.chains[0].base?.priority = 0
        #expect(ServiceRulesetDiff.between(installed: installed, desired: desired).rebuildsTable)
        installed = desired
        installed.sets[0].key = [.ipDaddr, .thDport]
        let diff = ServiceRulesetDiff.between(installed: installed, desired: desired)
        #expect(diff.rebuildsTable)
        #expect(diff.description.hasPrefix("delete table ip podlab-services\nadd table ip podlab-services\n"))
    }

    @Test("the node's address changed: NodePort elements and the prerouting rule follow")
    func nodeAddressChanged() {
        let old = Self.generate([ServiceFixture.sticky])
        var node = ServiceFixture.n1
        node.underlayIP = IPv4Address("192.168.200.21")!
        let diff = ServiceRulesetDiff.between(installed: old, desired: Self.generate([ServiceFixture.sticky], node: node))
        #expect(diff.replacedChains.map(\.name) == ["nat-prerouting"])
        // The NodePort's two backends and its two affinity choices, keyed by the node's address.
        #expect(diff.deletedElementCount == 4 && diff.addedElementCount == 4)
    }

    @Test("UDP endpoints taken away: those no added element keeps; TCP ones and endpoints that only change index are not")
    func removedUDPBackends() {
        var dns = ServiceFixture.dns
        let c = ServiceEndpoint(ip: IPv4Address("10.244.1.7")!, port: 53, nodeName: "n1")
        dns.ports[0].endpoints.append(c)
        dns.ports[1].endpoints.append(c)
        let before = Self.generate([dns])
        // 10.244.1.7 (index 0) goes from both ports; 10.244.2.9 moves from index 1 to 0 and stays.
        dns.ports[0].endpoints.removeLast()
        dns.ports[1].endpoints.removeLast()
        let diff = ServiceRulesetDiff.between(installed: before, desired: Self.generate([dns]))
        #expect(diff.removedUDPBackends.map(\.description) == ["10.96.0.53:53/udp → 10.244.1.7:53"])
        // The whole Service removed: every UDP endpoint of it.
        let removal = ServiceRulesetDiff.between(installed: before, desired: Self.generate([]))
        #expect(removal.removedUDPBackends.map(\.description) == ["10.96.0.53:53/udp → 10.244.1.7:53", "10.96.0.53:53/udp → 10.244.2.9:53"])
        #expect(ServiceRulesetDiff.between(installed: Self.generate([]), desired: before).removedUDPBackends.isEmpty)
    }
}
