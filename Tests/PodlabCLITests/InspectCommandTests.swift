import Foundation
import PodNet
import PodlabCLI
import Testing

/// A node `n1` and a pod `default/nginx` (10.244.1.2) as the agent's `/podlab/v1/ip` reports them.
enum InspectFixture {
    static let up = ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"]

    static let loopback = InterfaceSnapshot(
        ifindex: 1, ifname: "lo", flags: ["LOOPBACK", "UP", "LOWER_UP"], mtu: 65536, operstate: "UNKNOWN", linkType: "loopback",
        address: "00:00:00:00:00:00", addrInfo: [
            InterfaceAddressSnapshot(family: "inet", local: "127.0.0.1", prefixlen: 8, scope: "host", label: "lo"),
            InterfaceAddressSnapshot(family: "inet6", local: "::1", prefixlen: 128, scope: "host"),
        ])

    static let node = NamespaceSnapshot(namespace: "podlab_node_n1", kind: .node, node: "n1", interfaces: [
        loopback,
        InterfaceSnapshot(ifindex: 2, ifname: "eth0", flags: up, address: "aa:bb:cc:00:00:01", linkIndex: 3, linkNetnsid: 0, kind: "veth",
                          addrInfo: [InterfaceAddressSnapshot(family: "inet", local: "192.168.200.11", prefixlen: 24, scope: "global", label: "eth0")]),
        InterfaceSnapshot(ifindex: 3, ifname: "cni0", flags: up, address: "0a:58:0a:f4:01:01", kind: "bridge",
                          addrInfo: [InterfaceAddressSnapshot(family: "inet", local: "10.244.1.1", prefixlen: 24, scope: "global", label: "cni0")]),
        InterfaceSnapshot(ifindex: 4, ifname: "veth1a2b3c4d", flags: up, address: "5e:44:24:e8:7b:64", master: "cni0", linkIndex: 2,
                          linkNetnsid: 1, kind: "veth"),
        InterfaceSnapshot(ifindex: 5, ifname: "dummy-with-a-long-name", flags: ["BROADCAST", "NOARP"], operstate: "DOWN", kind: "dummy"),
    ], routes: [
        RouteSnapshot(dst: "10.244.1.0/24", dev: "cni0", protocol: "kernel", scope: "link", prefsrc: "10.244.1.1"),
        RouteSnapshot(dst: "10.244.2.0/24", gateway: "192.168.200.12", dev: "eth0"),
    ], neighbours: [
        NeighborSnapshot(dst: "10.244.1.2", dev: "cni0", lladdr: "0a:58:0a:f4:01:02"),
    ], firewall: [
        FirewallChainSnapshot(name: "forward", type: "filter", hook: "forward", priority: 0,
                              rules: [FirewallRule([.sourceIn(IPv4Prefix("10.244.0.0/16")!)], counts: true, packets: 3, bytes: 252,
                                                   comment: "pod traffic forwarded by this node")]),
    ])

    static let pod = NamespaceSnapshot(namespace: "podlab_pod_default_nginx", kind: .pod, node: "n1", pod: "default/nginx", interfaces: [
        loopback,
        InterfaceSnapshot(ifindex: 2, ifname: "eth0", flags: up, address: "0a:58:0a:f4:01:02", linkIndex: 4, linkNetnsid: 0, kind: "veth",
                          addrInfo: [
                              InterfaceAddressSnapshot(family: "inet", local: "10.244.1.2", prefixlen: 32, scope: "global", label: "eth0"),
                              InterfaceAddressSnapshot(family: "inet6", local: "fe80::858:aff:fef4:102", prefixlen: 64, scope: "link"),
                          ]),
    ], routes: [
        RouteSnapshot(dst: "default", gateway: "10.244.1.1", dev: "eth0", flags: ["onlink"]),
    ], neighbours: [
        NeighborSnapshot(dst: "10.244.1.1", dev: "eth0", lladdr: "0a:58:0a:f4:01:01"),
    ])

    static func json<T: Encodable>(_ value: T) -> FakeResponse {
        .body(200, try! JSONEncoder().encode(value))
    }

    /// Answers `/podlab/v1/ip` with the namespaces the query selects.
    static func handle(_ request: FakeRequest) -> FakeResponse {
        switch request.path {
        case "/podlab/v1/ip":
            let kind = request.query["kind"] ?? "all", name = request.query["name"]
            switch (kind, name) {
            case ("all", nil): return json(NetworkInspection(lab: "podlab", namespaces: [node, pod]))
            case ("pod", nil): return json(NetworkInspection(lab: "podlab", namespaces: [pod]))
            case ("node", nil), ("node", "n1"?): return json(NetworkInspection(lab: "podlab", namespaces: [node]))
            case ("underlay", nil): return json(NetworkInspection(lab: "podlab", namespaces: []))
            case ("pod", "nginx"?) where request.query["namespace"] == "default": return json(NetworkInspection(lab: "podlab", namespaces: [pod]))
            case ("pod", let name?): return .notFound("pods", name)
            case ("node", let name?): return .notFound("nodes", name)
            default: return .status(.badRequest("unknown kind \"\(kind)\""))
            }
        default:
            return .notFound("things", request.path)
        }
    }
}

@Suite("podlab ip against a fake agent")
struct IPCommandTests {
    @Test func detailed() async throws {
        try await FakeAgent.with(InspectFixture.handle) { agent in
            let t = agent.context()
            #expect(await t.run("ip") == 0)
            #expect(t.stdout.text == """
                == node n1 (podlab_node_n1) ==
                1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 state UNKNOWN
                    link/loopback 00:00:00:00:00:00
                    inet 127.0.0.1/8 scope host lo
                    inet6 ::1/128 scope host
                2: eth0@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP
                    link/ether aa:bb:cc:00:00:01 kind veth
                    inet 192.168.200.11/24 scope global eth0
                3: cni0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP
                    link/ether 0a:58:0a:f4:01:01 kind bridge
                    inet 10.244.1.1/24 scope global cni0
                4: veth1a2b3c4d@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master cni0 state UP
                    link/ether 5e:44:24:e8:7b:64 kind veth
                5: dummy-with-a-long-name: <BROADCAST,NOARP> mtu 1500 state DOWN
                    link/ether kind dummy
                routes:
                    10.244.1.0/24 dev cni0 proto kernel scope link src 10.244.1.1
                    10.244.2.0/24 via 192.168.200.12 dev eth0
                neighbours:
                    10.244.1.2 dev cni0 lladdr 0a:58:0a:f4:01:02 PERMANENT
                nftables:
                    table ip podlab chain forward (type filter hook forward priority 0)
                        ip saddr 10.244.0.0/16 counter packets 3 bytes 252 comment "pod traffic forwarded by this node"

                == pod default/nginx (podlab_pod_default_nginx) ==
                1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 state UNKNOWN
                    link/loopback 00:00:00:00:00:00
                    inet 127.0.0.1/8 scope host lo
                    inet6 ::1/128 scope host
                2: eth0@if4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP
                    link/ether 0a:58:0a:f4:01:02 kind veth
                    inet 10.244.1.2/32 scope global eth0
                    inet6 fe80::858:aff:fef4:102/64 scope link
                routes:
                    default via 10.244.1.1 dev eth0 onlink
                neighbours:
                    10.244.1.1 dev eth0 lladdr 0a:58:0a:f4:01:01 PERMANENT

                """)
            #expect(agent.requests.map(\.query) == [["kind": "all", "namespace": "default"]])
        }
    }

    @Test("-br prints ip -br addr's columns: name to 16, state to 14, each address and a space")
    func brief() async throws {
        try await FakeAgent.with(InspectFixture.handle) { agent in
            let t = agent.context()
            #expect(await t.run("ip -br") == 0)
            #expect(t.stdout.text == """
                == node n1 (podlab_node_n1) ==
                lo               UNKNOWN        127.0.0.1/8 ::1/128 \("")
                eth0@if3         UP             192.168.200.11/24 \("")
                cni0             UP             10.244.1.1/24 \("")
                veth1a2b3c4d@if2 UP             \("")
                dummy-with-a-long-name DOWN           \("")

                == pod default/nginx (podlab_pod_default_nginx) ==
                lo               UNKNOWN        127.0.0.1/8 ::1/128 \("")
                eth0@if4         UP             10.244.1.2/32 fe80::858:aff:fef4:102/64 \("")

                """)
        }
    }

    @Test("-o json reads back as the agent's answer, with ip -j's keys")
    func json() async throws {
        try await FakeAgent.with(InspectFixture.handle) { agent in
            let t = agent.context()
            #expect(await t.run("ip pod nginx -o json") == 0)
            let decoded = try JSONDecoder().decode(NetworkInspection.self, from: Data(t.stdout.text.utf8))
            #expect(decoded == NetworkInspection(lab: "podlab", namespaces: [InspectFixture.pod]))
            #expect(t.stdout.text.contains("\"addr_info\": ["))
            #expect(t.stdout.text.contains("\"prefixlen\": 32,"))
            #expect(t.stdout.text.hasSuffix("}\n"))
        }
    }

    @Test("selectors become the query", arguments: [
        ("ip", ["kind": "all", "namespace": "default"]),
        ("ip all", ["kind": "all", "namespace": "default"]),
        ("ip pods", ["kind": "pod", "namespace": "default"]),
        ("ip po", ["kind": "pod", "namespace": "default"]),
        ("ip nodes", ["kind": "node", "namespace": "default"]),
        ("ip underlay", ["kind": "underlay", "namespace": "default"]),
        ("ip pod nginx", ["kind": "pod", "name": "nginx", "namespace": "default"]),
        ("ip pod/nginx", ["kind": "pod", "name": "nginx", "namespace": "default"]),
        ("ip node n1", ["kind": "node", "name": "n1", "namespace": "default"]),
        ("ip no/n1", ["kind": "node", "name": "n1", "namespace": "default"]),
        ("ip nginx", ["kind": "pod", "name": "nginx", "namespace": "default"]),
    ])
    func selection(line: String, query: [String: String]) async throws {
        try await FakeAgent.with(InspectFixture.handle) { agent in
            let t = agent.context()
            _ = await t.run(line)
            #expect(agent.requests.first?.path == "/podlab/v1/ip")
            #expect(agent.requests.first?.query == query)
            #expect(t.stderr.text.isEmpty || line == "ip underlay")
        }
    }

    @Test("a bare name that is no pod is looked up as a node")
    func bareNodeName() async throws {
        try await FakeAgent.with(InspectFixture.handle) { agent in
            let t = agent.context()
            #expect(await t.run("ip n1 -br") == 0)
            #expect(agent.requests.map { $0.query["kind"] ?? "" } == ["pod", "node"])
            #expect(t.stdout.text.hasPrefix("== node n1 (podlab_node_n1) ==\n"))
        }
    }

    @Test("the pod's Kubernetes namespace goes along")
    func namespace() async throws {
        try await FakeAgent.with(InspectFixture.handle) { agent in
            let t = agent.context()
            #expect(await t.run("ip pod nginx -n team") == 1)
            #expect(agent.requests.first?.query == ["kind": "pod", "name": "nginx", "namespace": "team"])
            #expect(t.stderr.text == "Error from server (NotFound): pods \"nginx\" not found\n")
        }
    }

    @Test("bad input is refused with a clear error", arguments: [
        ("ip pod ghost", "Error from server (NotFound): pods \"ghost\" not found\n", true),
        ("ip node n9", "Error from server (NotFound): nodes \"n9\" not found\n", true),
        ("ip ghost", "error: no pod \"ghost\" in namespace \"default\" and no node \"ghost\" in lab \"podlab\"\n", true),
        ("ip services x", "error: unknown selector \"services\": use pods, nodes, underlay or all, or pod NAME / node NAME\n", false),
        ("ip svc/x", "error: unknown selector \"svc\": use pods, nodes, underlay or all, or pod NAME / node NAME\n", false),
        ("ip underlay x", "error: \"underlay\" takes no name\n", false),
        ("ip pod/", "error: \"pod/\" names no pod\n", false),
        ("ip pod a b", "error: too many arguments: give a kind (pods, nodes, underlay, all), TYPE NAME, TYPE/NAME or NAME\n", false),
        ("ip -o yaml", "error: unable to match a printer suitable for the output format \"yaml\", allowed formats are: json\n", false),
    ])
    func badInput(line: String, message: String, asksTheAgent: Bool) async throws {
        try await FakeAgent.with(InspectFixture.handle) { agent in
            let t = agent.context()
            #expect(await t.run(line) == 1)
            #expect(t.stderr.text == message)
            #expect(t.stdout.text.isEmpty)
            #expect(agent.requests.isEmpty == !asksTheAgent)
        }
    }

    @Test func briefAndJSONTogether() async throws {
        try await FakeAgent.with(InspectFixture.handle) { agent in
            let t = agent.context()
            #expect(await t.run("ip -br -o json") != 0)
            #expect(t.stderr.text.contains("-br and -o cannot be used together"))
            #expect(agent.requests.isEmpty)
        }
    }

    @Test func nothingSelected() async throws {
        try await FakeAgent.with(InspectFixture.handle) { agent in
            let t = agent.context()
            #expect(await t.run("ip underlay") == 0)
            #expect(t.stdout.text.isEmpty)
            #expect(t.stderr.text == "No namespaces found.\n")
        }
    }

    @Test func labNotRunning() async throws {
        try await FakeAgent.with(InspectFixture.handle) { agent in
            let t = agent.context()
            #expect(await t.run("ip --lab other") == 1)
            #expect(t.stderr.text.hasPrefix("error: lab \"other\" is not running"))
        }
    }
}

@Suite("podlab whois against a fake agent")
struct WhoisCommandTests {
    static let path = PacketPath(
        source: "pod default/nginx", sourceAddress: IPv4Address(10, 244, 1, 2), destination: IPv4Address(10, 244, 2, 2),
        hops: [
            PacketPath.Hop(namespace: "podlab_pod_default_nginx", title: "pod default/nginx", route: "default via 10.244.1.1 dev eth0 onlink",
                           egress: "eth0", neighbour: "10.244.1.1 dev eth0 lladdr 0a:58:0a:f4:01:01 PERMANENT",
                           link: "veth eth0 ↔ veth1a2b3c4d (podlab_node_n1), a port of bridge cni0"),
            PacketPath.Hop(namespace: "podlab_node_n1", title: "node n1", ingress: "cni0 (port veth1a2b3c4d)",
                           route: "10.244.2.0/24 via 192.168.200.12 dev eth0", egress: "eth0",
                           neighbour: "192.168.200.12 dev eth0: no entry yet (ARP resolves it on the first packet)",
                           link: "veth eth0 ↔ veth-n1 (podlab_underlay), a port of bridge underlay0",
                           chains: [PacketPath.ChainPass(table: "ip podlab", chain: "forward", hook: "forward")]),
            PacketPath.Hop(namespace: "podlab_underlay", title: "underlay", ingress: "veth-n1", egress: "veth-n2",
                           bridge: "underlay0: veth-n1 → veth-n2", link: "veth veth-n2 ↔ eth0 (podlab_node_n2)"),
            PacketPath.Hop(namespace: "podlab_node_n2", title: "node n2", ingress: "eth0",
                           route: "10.244.2.0/24 dev cni0 proto kernel scope link src 10.244.2.1", egress: "cni0",
                           neighbour: "10.244.2.2 dev cni0 lladdr 0a:58:0a:f4:02:02 PERMANENT",
                           link: "bridge cni0, port veth5e6f7a8b ↔ veth eth0 (podlab_pod_default_db)",
                           chains: [PacketPath.ChainPass(table: "ip podlab", chain: "forward", hook: "forward")]),
            PacketPath.Hop(namespace: "podlab_pod_default_db", title: "pod default/db", ingress: "eth0", route: "local 10.244.2.2 dev eth0"),
        ],
        outcome: PacketPath.Outcome(delivered: true, text: "delivered to pod default/db (eth0 in podlab_pod_default_db)"))

    static func handle(_ request: FakeRequest) -> FakeResponse {
        guard request.path == "/podlab/v1/whois", let ip = request.query["ip"], let address = IPAddress(ip) else {
            return .notFound("things", request.path)
        }
        if let from = request.query["from"], from != "nginx" { return .notFound("pods", from) }
        let owner: AddressOwner = switch ip {
        case "10.244.2.2": AddressOwner(kind: .pod, pod: "default/db", node: "n2", namespace: "podlab_pod_default_db", interface: "eth0", containers: ["db", "backup"])
        case "10.244.1.1": AddressOwner(kind: .gateway, node: "n1", namespace: "podlab_node_n1", interface: "cni0")
        default: AddressOwner(kind: .outside)
        }
        return InspectFixture.json(WhoisAnswer(lab: "podlab", address: address, owner: owner,
                                               path: request.query["from"] == nil ? nil : path))
    }

    @Test("the owner in one line", arguments: [
        ("whois 10.244.2.2", "10.244.2.2: pod default/db (node n2, containers: db, backup)\n", Int32(0)),
        ("whois 10.244.1.1", "10.244.1.1: gateway of node n1 (cni0)\n", 0),
        ("whois 8.8.8.8", "8.8.8.8: not in the lab: podlab never sends traffic outside its namespaces\n", 1),
    ])
    func owner(line: String, output: String, code: Int32) async throws {
        try await FakeAgent.with(Self.handle) { agent in
            let t = agent.context()
            #expect(await t.run(line) == code)
            #expect(t.stdout.text == output)
            #expect(t.stderr.text.isEmpty)
        }
    }

    @Test("--from prints the path hop by hop")
    func path() async throws {
        try await FakeAgent.with(Self.handle) { agent in
            let t = agent.context()
            #expect(await t.run("whois 10.244.2.2 --from pod/nginx") == 0)
            #expect(agent.requests.first?.query == ["ip": "10.244.2.2", "from": "nginx", "namespace": "default"])
            #expect(t.stdout.text == """
                10.244.2.2: pod default/db (node n2, containers: db, backup)

                Path from pod default/nginx (10.244.1.2) to 10.244.2.2:
                  1. pod default/nginx (podlab_pod_default_nginx)
                       route:  default via 10.244.1.1 dev eth0 onlink
                       out:    eth0, neighbour 10.244.1.1 dev eth0 lladdr 0a:58:0a:f4:01:01 PERMANENT
                       link:   veth eth0 ↔ veth1a2b3c4d (podlab_node_n1), a port of bridge cni0
                  2. node n1 (podlab_node_n1)
                       in:     cni0 (port veth1a2b3c4d)
                       route:  10.244.2.0/24 via 192.168.200.12 dev eth0
                       nft:    table ip podlab chain forward (hook forward)
                       out:    eth0, neighbour 192.168.200.12 dev eth0: no entry yet (ARP resolves it on the first packet)
                       link:   veth eth0 ↔ veth-n1 (podlab_underlay), a port of bridge underlay0
                  3. underlay (podlab_underlay)
                       in:     veth-n1
                       bridge: underlay0: veth-n1 → veth-n2
                       link:   veth veth-n2 ↔ eth0 (podlab_node_n2)
                  4. node n2 (podlab_node_n2)
                       in:     eth0
                       route:  10.244.2.0/24 dev cni0 proto kernel scope link src 10.244.2.1
                       nft:    table ip podlab chain forward (hook forward)
                       out:    cni0, neighbour 10.244.2.2 dev cni0 lladdr 0a:58:0a:f4:02:02 PERMANENT
                       link:   bridge cni0, port veth5e6f7a8b ↔ veth eth0 (podlab_pod_default_db)
                  5. pod default/db (podlab_pod_default_db)
                       in:     eth0
                       route:  local 10.244.2.2 dev eth0
                Result: delivered to pod default/db (eth0 in podlab_pod_default_db)

                """)
        }
    }

    @Test func json() async throws {
        try await FakeAgent.with(Self.handle) { agent in
            let t = agent.context()
            #expect(await t.run("whois 10.244.2.2 --from nginx -o json") == 0)
            let answer = try JSONDecoder().decode(WhoisAnswer.self, from: Data(t.stdout.text.utf8))
            #expect(answer.owner.kind == .pod)
            #expect(answer.summary == "pod default/db (node n2, containers: db, backup)")
            #expect(answer.path == Self.path)
        }
    }

    @Test("bad input is refused with a clear error", arguments: [
        ("whois 10.244.1", "error: \"10.244.1\" is not an IP address\n", false),
        ("whois nginx", "error: \"nginx\" is not an IP address\n", false),
        ("whois 10.244.1.1 --from ghost", "Error from server (NotFound): pods \"ghost\" not found\n", true),
        ("whois 10.244.1.1 --from node/n1", "error: only pods are supported here, not \"node\"\n", false),
        ("whois 10.244.1.1 -o wide", "error: unable to match a printer suitable for the output format \"wide\", allowed formats are: json\n", false),
    ])
    func badInput(line: String, message: String, asksTheAgent: Bool) async throws {
        try await FakeAgent.with(Self.handle) { agent in
            let t = agent.context()
            #expect(await t.run(line) == 1)
            #expect(t.stderr.text == message)
            #expect(agent.requests.isEmpty == !asksTheAgent)
        }
    }

    @Test func addressIsRequired() async throws {
        try await FakeAgent.with(Self.handle) { agent in
            let t = agent.context()
            #expect(await t.run("whois") != 0)
            #expect(t.stderr.text.contains("Missing expected argument '<address>'"))
        }
    }
}

@Suite("podlab ipam against a fake agent")
struct IPAMCommandTests {
    static let report = IPAMReport(
        clusterCIDR: IPv4Prefix("10.244.0.0/16")!, serviceCIDR: IPv4Prefix("10.96.0.0/16")!, underlayCIDR: IPv4Prefix("192.168.200.0/24")!,
        nodes: [
            .init(name: "n1", podCIDR: IPv4Prefix("10.244.1.0/24")!, gateway: IPv4Address(10, 244, 1, 1), capacity: 253, allocated: 2, free: 251),
            .init(name: "n2", podCIDR: IPv4Prefix("10.244.2.0/24")!, gateway: IPv4Address(10, 244, 2, 1), capacity: 253, allocated: 1, free: 252),
        ],
        allocations: [
            IPAllocation(ip: IPv4Address(10, 244, 1, 2), node: "n1", owner: "uid-1", pod: "default/nginx"),
            IPAllocation(ip: IPv4Address(10, 244, 1, 3), node: "n1", owner: "uid-2", pod: "team/web"),
            IPAllocation(ip: IPv4Address(10, 244, 2, 2), node: "n2", owner: "uid-3"),
        ])

    static func handle(_ report: IPAMReport) -> @Sendable (FakeRequest) -> FakeResponse {
        { request in request.path == "/podlab/v1/ipam" ? InspectFixture.json(report) : .notFound("things", request.path) }
    }

    @Test func table() async throws {
        try await FakeAgent.with(Self.handle(Self.report)) { agent in
            let t = agent.context()
            #expect(await t.run("ipam") == 0)
            #expect(t.stdout.text == """
                Cluster CIDR:   10.244.0.0/16  (2 nodes, 506 pod addresses: 3 allocated, 503 free)
                Service CIDR:   10.96.0.0/16  (no services yet)
                Underlay CIDR:  192.168.200.0/24

                NODE   POD CIDR        GATEWAY      CAPACITY   ALLOCATED   FREE
                n1     10.244.1.0/24   10.244.1.1   253        2           251
                n2     10.244.2.0/24   10.244.2.1   253        1           252

                IP           NODE   POD
                10.244.1.2   n1     default/nginx
                10.244.1.3   n1     team/web
                10.244.2.2   n2     <none> (owner uid-3)

                """)
        }
    }

    @Test func noAllocations() async throws {
        var report = Self.report
        report.allocations = []
        report.nodes = [.init(name: "n1", podCIDR: IPv4Prefix("10.244.1.0/24")!, gateway: IPv4Address(10, 244, 1, 1), capacity: 253, allocated: 0, free: 253)]
        try await FakeAgent.with(Self.handle(report)) { agent in
            let t = agent.context()
            #expect(await t.run("ipam") == 0)
            #expect(t.stdout.text.hasPrefix("Cluster CIDR:   10.244.0.0/16  (1 node, 253 pod addresses: 0 allocated, 253 free)\n"))
            #expect(t.stdout.text.hasSuffix("\nNo allocations.\n"))
        }
    }

    @Test func json() async throws {
        try await FakeAgent.with(Self.handle(Self.report)) { agent in
            let t = agent.context()
            #expect(await t.run("ipam -o json") == 0)
            let decoded = try JSONDecoder().decode(IPAMReport.self, from: Data(t.stdout.text.utf8))
            #expect(decoded == Self.report)
            #expect(t.stdout.text.contains("\"clusterCIDR\": \"10.244.0.0/16\""))
        }
    }
}
