import PodNet
import Testing

@Suite("Service rules: the node's ruleset as a value")
struct ServiceRulesTests {
    @Test("golden: the ruleset of node n1")
    func golden() {
        let ruleset = ServiceRules.generate(for: ServiceFixture.table, node: ServiceFixture.n1)
        #expect(ruleset.description == ServiceRulesTests.n1Golden, "\(ruleset)")
    }

    @Test("no Services: the skeleton alone, without lb chains or no-endpoints")
    func empty() {
        let ruleset = ServiceRules.generate(for: ServiceTable(), node: ServiceFixture.n1)
        #expect(ruleset.chains.map(\.name) == ["nat-prerouting", "nat-output", "nat-postrouting", "nodeports"])
        #expect(ruleset.elementCount == 0)
        #expect(ruleset.sets.map(\.name) == ["service-ips", "service-nodeports", "backends", "affinity", "hairpin", "hostports", "affinity-choices"])
    }

    @Test("the chain count stays fixed however many Services there are; per-Service data is in elements")
    func sharedChains() {
        var services: [ServiceEntry] = []
        var backends = 0
        for i in 0..<2_000 {
            var endpoints: [ServiceEndpoint] = []
            for j in 0..<(i % 3 + 1) {
                endpoints.append(ServiceEndpoint(ip: IPv4Address(IPv4Address(10, 244, 1, 2).value + UInt32(j)), port: 8080, nodeName: "n1"))
            }
            backends += endpoints.count
            services.append(ServiceEntry(name: "s\(i)", clusterIP: IPv4Address(IPv4Address(10, 96, 0, 1).value + UInt32(i)),
                                         ports: [ServicePortEntry(port: 80, endpoints: endpoints)]))
        }
        let ruleset = ServiceRules.generate(for: ServiceTable(services), node: ServiceFixture.n1)
        #expect(ruleset.chains.map(\.name) == ["nat-prerouting", "nat-output", "nat-postrouting", "nodeports", "lb-tcp-1", "lb-tcp-2", "lb-tcp-3"])
        #expect(ruleset.set("service-ips")?.elements.count == 2_000)
        #expect(ruleset.set("backends")?.elements.count == backends)
        #expect(ruleset.set("hairpin")?.elements.count == 3)
    }

    @Test("endpoint choice: ready ones; else serving terminating ones; Local keeps this node's", arguments: [
        (ServiceFixture.web, "endpoints([10.244.1.2:8080, 10.244.2.2:8080])"),
        (ServiceFixture.empty, "noEndpoints"),
        (ServiceFixture.drain, "endpoints([10.244.2.4:80])"),
        (ServiceFixture.local, "noLocalEndpoints"),
    ])
    func choice(service: ServiceEntry, expected: String) {
        #expect("\(ServiceRules.choice(service.ports[0], of: service, on: ServiceFixture.n1))" == expected)
    }

    @Test("Local policy on the node that has the endpoint keeps it; NodePorts ignore the internal policy")
    func localOnItsNode() {
        let local = ServiceFixture.local
        #expect("\(ServiceRules.choice(local.ports[0], of: local, on: ServiceFixture.n2))" == "endpoints([10.244.2.2:8080])")
        #expect("\(ServiceRules.choice(local.ports[0], of: local, on: ServiceFixture.n1, forNodePort: true))" == "endpoints([10.244.2.2:8080])")
    }

    @Test("a ready endpoint listed twice is one endpoint")
    func duplicates() {
        let service = ServiceEntry(name: "d", clusterIP: IPv4Address("10.96.0.9")!, ports: [ServicePortEntry(port: 80, endpoints: [ServiceFixture.a, ServiceFixture.a])])
        let ruleset = ServiceRules.generate(for: ServiceTable([service]), node: ServiceFixture.n1)
        #expect(ruleset.set("backends")?.elements.map(\.description) == ["10.96.0.9 . tcp . 80 . 0 : 10.244.1.2 . 8080"])
        #expect(ruleset.set("service-ips")?.elements.map(\.description) == ["10.96.0.9 . tcp . 80 : goto lb-tcp-1"])
    }

    static let n1Golden = """
    table ip podlab-services {
    \tmap service-ips {
    \t\ttypeof ip daddr . meta l4proto . th dport : verdict
    \t\telements = {
    \t\t\t10.96.0.10 . tcp . 80 : goto lb-tcp-2
    \t\t\t10.96.0.20 . tcp . 80 : goto no-endpoints
    \t\t\t10.96.0.21 . tcp . 80 : goto lb-tcp-1
    \t\t\t10.96.0.30 . tcp . 80 : goto affinity-10800s-2
    \t\t\t10.96.0.40 . tcp . 80 : drop
    \t\t\t10.96.0.53 . tcp . 53 : goto lb-tcp-1
    \t\t\t10.96.0.53 . udp . 53 : goto lb-udp-1
    \t\t}
    \t}
    \tmap service-nodeports {
    \t\ttypeof meta l4proto . th dport : verdict
    \t\telements = {
    \t\t\ttcp . 30080 : goto affinity-10800s-2
    \t\t}
    \t}
    \tmap backends {
    \t\ttypeof ip daddr . meta l4proto . th dport . numgen random mod 65536 : ip daddr . th dport
    \t\telements = {
    \t\t\t10.96.0.10 . tcp . 80 . 0 : 10.244.1.2 . 8080
    \t\t\t10.96.0.10 . tcp . 80 . 1 : 10.244.2.2 . 8080
    \t\t\t10.96.0.21 . tcp . 80 . 0 : 10.244.2.4 . 80
    \t\t\t10.96.0.30 . tcp . 80 . 0 : 10.244.1.2 . 8080
    \t\t\t10.96.0.30 . tcp . 80 . 1 : 10.244.2.2 . 8080
    \t\t\t10.96.0.53 . tcp . 53 . 0 : 10.244.2.9 . 53
    \t\t\t10.96.0.53 . udp . 53 . 0 : 10.244.2.9 . 53
    \t\t\t192.168.200.11 . tcp . 30080 . 0 : 10.244.1.2 . 8080
    \t\t\t192.168.200.11 . tcp . 30080 . 1 : 10.244.2.2 . 8080
    \t\t}
    \t}
    \tset affinity {
    \t\ttypeof ip saddr . ip daddr . meta l4proto . th dport . numgen random mod 65536
    \t\tflags dynamic,timeout
    \t}
    \tset hairpin {
    \t\ttypeof ip saddr . ip daddr
    \t\telements = {
    \t\t\t10.244.1.2 . 10.244.1.2
    \t\t}
    \t}
    \tmap hostports {
    \t\ttypeof meta l4proto . th dport : ip daddr . th dport
    \t}
    \tmap affinity-choices {
    \t\ttypeof ip daddr . meta l4proto . th dport . numgen random mod 65536 : verdict
    \t\telements = {
    \t\t\t10.96.0.30 . tcp . 80 . 0 : goto affinity-10800s-slot-0
    \t\t\t10.96.0.30 . tcp . 80 . 1 : goto affinity-10800s-slot-1
    \t\t\t192.168.200.11 . tcp . 30080 . 0 : goto affinity-10800s-slot-0
    \t\t\t192.168.200.11 . tcp . 30080 . 1 : goto affinity-10800s-slot-1
    \t\t}
    \t}
    \tchain nat-prerouting {
    \t\ttype nat hook prerouting priority -100; policy accept;
    \t\tip daddr . meta l4proto . th dport vmap @service-ips
    \t\tip daddr 192.168.200.11 jump nodeports
    \t}
    \tchain nat-output {
    \t\ttype nat hook output priority -100; policy accept;
    \t\tip daddr . meta l4proto . th dport vmap @service-ips
    \t}
    \tchain nat-postrouting {
    \t\ttype nat hook postrouting priority 100; policy accept;
    \t\tmeta mark 0x00004000 masquerade
    \t\tip saddr . ip daddr @hairpin masquerade
    \t}
    \tchain nodeports {
    \t\tdnat ip to meta l4proto . th dport map @hostports
    \t\tmeta mark set 0x00004000
    \t\tmeta l4proto . th dport vmap @service-nodeports
    \t\tmeta mark set 0x00000000
    \t}
    \tchain affinity-10800s-2 {
    \t\tip saddr . ip daddr . meta l4proto . th dport . numgen random mod 1 @affinity goto affinity-10800s-slot-0
    \t\tip saddr . ip daddr . meta l4proto . th dport . numgen random mod 1 offset 1 @affinity goto affinity-10800s-slot-1
    \t\tip daddr . meta l4proto . th dport . numgen random mod 2 vmap @affinity-choices
    \t}
    \tchain affinity-10800s-slot-0 {
    \t\tupdate @affinity { ip saddr . ip daddr . meta l4proto . th dport . numgen random mod 1 timeout 10800s }
    \t\tdnat ip to ip daddr . meta l4proto . th dport . numgen random mod 1 map @backends
    \t}
    \tchain affinity-10800s-slot-1 {
    \t\tupdate @affinity { ip saddr . ip daddr . meta l4proto . th dport . numgen random mod 1 offset 1 timeout 10800s }
    \t\tdnat ip to ip daddr . meta l4proto . th dport . numgen random mod 1 offset 1 map @backends
    \t}
    \tchain lb-tcp-1 {
    \t\tmeta l4proto tcp dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 1 map @backends
    \t}
    \tchain lb-tcp-2 {
    \t\tmeta l4proto tcp dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @backends
    \t}
    \tchain lb-udp-1 {
    \t\tmeta l4proto udp dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 1 map @backends
    \t}
    \tchain no-endpoints {
    \t\tmeta l4proto tcp reject with tcp reset
    \t\treject
    \t}
    }
    """
}
