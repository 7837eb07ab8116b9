import PodNet
import Testing

/// Paths over `InspectionFixture`'s two-node lab (see its IP plan).
@Suite("whois --from: the path a packet takes")
struct PacketPathTests {
    static func trace(from pod: Int = 0, to destination: String) throws -> PacketPath {
        try PacketPath.trace(from: InspectionFixture.pods[pod], to: #require(IPv4Address(destination)),
                             inventory: InspectionFixture.inventory, network: InspectionFixture.network)
    }

    @Test("hops and outcome", arguments: [
        ("10.244.2.2", ["pod default/a", "node n1", "underlay", "node n2", "pod team/c"], true,
         "delivered to pod team/c (eth0 in demo_pod_team_c)"),
        ("10.244.1.3", ["pod default/a", "node n1", "pod default/b"], true, "delivered to pod default/b (eth0 in demo_pod_default_b)"),
        ("10.244.1.1", ["pod default/a", "node n1"], true, "delivered to node n1 (cni0 in demo_node_n1)"),
        ("10.244.2.1", ["pod default/a", "node n1", "underlay", "node n2"], true, "delivered to node n2 (cni0 in demo_node_n2)"),
        ("192.168.200.12", ["pod default/a", "node n1", "underlay", "node n2"], true,
         "delivered to node n2 (eth0 in demo_node_n2), from 192.168.200.11 (masqueraded in node n1)"),
        ("192.168.200.11", ["pod default/a", "node n1"], true, "delivered to node n1 (eth0 in demo_node_n1)"),
        ("10.244.1.2", ["pod default/a"], true, "delivered to pod default/a (eth0 in demo_pod_default_a)"),
        ("127.0.0.1", ["pod default/a"], true, "delivered to pod default/a (lo in demo_pod_default_a)"),
        ("8.8.8.8", ["pod default/a", "node n1"], false,
         "dropped in node n1: no route to 8.8.8.8 (network unreachable; the lab has no way out of its namespaces)"),
        ("10.244.1.77", ["pod default/a", "node n1"], false,
         "dropped in node n1: no interface in the lab holds 10.244.1.77, so ARP gets no answer (host unreachable)"),
        ("10.244.2.77", ["pod default/a", "node n1", "underlay", "node n2"], false,
         "dropped in node n2: no interface in the lab holds 10.244.2.77, so ARP gets no answer (host unreachable)"),
        ("192.168.200.99", ["pod default/a", "node n1"], false,
         "dropped in node n1: no interface in the lab holds 192.168.200.99, so ARP gets no answer (host unreachable)"),
    ])
    func path(destination: String, titles: [String], delivered: Bool, outcome: String) throws {
        let path = try Self.trace(to: destination)
        #expect(path.hops.map(\.title) == titles)
        #expect(path.outcome.delivered == delivered)
        #expect(path.outcome.text == outcome)
        #expect(path.source == "pod default/a")
        #expect(path.sourceAddress.description == "10.244.1.2")
    }

    @Test("cross-node: interfaces, routes, neighbours and chains at every hop")
    func crossNodeDetails() throws {
        let hops = try Self.trace(to: "10.244.2.2").hops
        try #require(hops.count == 5)
        #expect(hops[0] == PacketPath.Hop(namespace: "demo_pod_default_a", title: "pod default/a", route: "default via 10.244.1.1 dev eth0 onlink",
                                          egress: "eth0", neighbour: "10.244.1.1 dev eth0 lladdr 0a:58:0a:f4:01:01 PERMANENT",
                                          link: "veth eth0 ↔ vethaaaa (demo_node_n1), a port of bridge cni0"))
        #expect(hops[1].ingress == "cni0 (port vethaaaa)")
        #expect(hops[1].route == "10.244.2.0/24 via 192.168.200.12 dev eth0")
        #expect(hops[1].egress == "eth0")
        #expect(hops[1].neighbour == "192.168.200.12 dev eth0: no entry yet (ARP resolves it on the first packet)")
        #expect(hops[1].chains == [PacketPath.ChainPass(table: "ip podlab", chain: "forward", hook: "forward")])
        #expect(hops[1].link == "veth eth0 ↔ veth-n1 (demo_underlay), a port of bridge underlay0")
        #expect(hops[2] == PacketPath.Hop(namespace: "demo_underlay", title: "underlay", ingress: "veth-n1", egress: "veth-n2",
                                          bridge: "underlay0: veth-n1 → veth-n2", link: "veth veth-n2 ↔ eth0 (demo_node_n2)"))
        #expect(hops[3].ingress == "eth0")
        #expect(hops[3].route == "10.244.2.0/24 dev cni0 proto kernel scope link src 10.244.2.1")
        #expect(hops[3].neighbour == "10.244.2.2 dev cni0 lladdr 0a:58:0a:f4:02:02 PERMANENT")
        #expect(hops[3].link == "bridge cni0, port vethcccc ↔ veth eth0 (demo_pod_team_c)")
        #expect(hops[4].ingress == "eth0")
        #expect(hops[4].route == "local 10.244.2.2 dev eth0")
        #expect(hops[4].chains.isEmpty)
    }

    @Test("same node: through the node's IP layer, cni0 neighbour, the other pod's port")
    func sameNodeDetails() throws {
        let hops = try Self.trace(to: "10.244.1.3").hops
        #expect(hops[1].route == "10.244.1.0/24 dev cni0 proto kernel scope link src 10.244.1.1")
        #expect(hops[1].neighbour == "10.244.1.3 dev cni0 lladdr 0a:58:0a:f4:01:03 PERMANENT")
        #expect(hops[1].link == "bridge cni0, port vethbbbb ↔ veth eth0 (demo_pod_default_b)")
        #expect(hops[1].chains.map(\.chain) == ["forward"])
        #expect(hops[2].namespace == "demo_pod_default_b")
    }

    @Test("chains: masquerade only when leaving the cluster CIDR; input hook for the node itself", arguments: [
        ("10.244.2.2", 1, ["forward"]),
        ("192.168.200.12", 1, ["forward", "nat-postrouting"]),
        ("10.244.1.1", 1, []),
        ("8.8.8.8", 1, []),
    ])
    func chains(destination: String, hop: Int, names: [String]) throws {
        let path = try Self.trace(to: destination)
        #expect(path.hops[hop].chains.map(\.chain) == names)
    }

    @Test func masqueradeNote() throws {
        let path = try Self.trace(to: "192.168.200.12")
        #expect(path.hops[1].chains.last?.description == "table ip podlab chain nat-postrouting (hook postrouting): masquerade by rule "
            + "«ip saddr 10.244.0.0/16 ip daddr != 10.244.0.0/16 counter masquerade»: source 10.244.1.2 becomes 192.168.200.11 (eth0)")
        #expect(path.outcome.text == "delivered to node n2 (eth0 in demo_node_n2), from 192.168.200.11 (masqueraded in node n1)")
        #expect(path.outcome.source == IPv4Address(192, 168, 200, 11))
    }

    @Test("a pod on the other node finds its own node's veth, though indices repeat")
    func fromTheOtherNode() throws {
        let path = try Self.trace(from: 2, to: "10.244.1.2")
        #expect(path.hops.map(\.namespace) == ["demo_pod_team_c", "demo_node_n2", "demo_underlay", "demo_node_n1", "demo_pod_default_a"])
        #expect(path.hops[0].link == "veth eth0 ↔ vethcccc (demo_node_n2), a port of bridge cni0")
        #expect(path.hops[2].bridge == "underlay0: veth-n2 → veth-n1")
        #expect(path.hops[3].link == "bridge cni0, port vethaaaa ↔ veth eth0 (demo_pod_default_a)")
        #expect(path.outcome.delivered)
    }

    @Test("longest prefix wins, then the lowest metric", arguments: [
        ("10.1.2.3", "10.1.2.0/24 dev b"),
        ("10.1.9.9", "10.1.0.0/16 dev c metric 1"),
        ("10.9.9.9", "default dev a"),
    ])
    func lookup(destination: String, route: String) throws {
        var network = InspectionFixture.network
        network.namespaces[3].routes = [
            RouteSnapshot(dst: "default", dev: "a"),
            RouteSnapshot(dst: "10.1.0.0/16", dev: "d", metric: 9),
            RouteSnapshot(dst: "10.1.0.0/16", dev: "c", metric: 1),
            RouteSnapshot(dst: "10.1.2.0/24", dev: "b"),
        ]
        let path = try PacketPath.trace(from: InspectionFixture.pods[0], to: #require(IPv4Address(destination)),
                                        inventory: InspectionFixture.inventory, network: network)
        #expect(path.hops[0].route == route)
        #expect(path.outcome.text.hasPrefix("dropped in pod default/a: the route's device "))
    }

    @Test func unreachableRouteDrops() throws {
        var network = InspectionFixture.network
        network.namespaces[1].routes.append(RouteSnapshot(type: "unreachable", dst: "10.244.2.2"))
        let path = try PacketPath.trace(from: InspectionFixture.pods[0], to: IPv4Address(10, 244, 2, 2),
                                        inventory: InspectionFixture.inventory, network: network)
        #expect(path.outcome.text == "dropped in node n1: the route is of type unreachable")
    }

    @Test func routingLoopStops() throws {
        var network = InspectionFixture.network
        // n2 sends 10.244.2.0/24 back to n1, which sends it to n2 again.
        network.namespaces[2].routes = [RouteSnapshot(dst: "10.244.2.0/24", gateway: "192.168.200.11", dev: "eth0")]
        let path = try PacketPath.trace(from: InspectionFixture.pods[0], to: IPv4Address(10, 244, 2, 2),
                                        inventory: InspectionFixture.inventory, network: network)
        #expect(!path.outcome.delivered)
        #expect(path.outcome.text == "dropped: more than 16 namespaces on the way (a routing loop)")
    }

    @Test("errors: a pod without address or namespace", arguments: [
        (PodFacts(namespace: "default", name: "p", uid: "u", ip: nil, node: "n1", netns: "demo_pod_default_p", containers: [], phase: "Pending"),
         "pod default/p has no IP address yet (Pending)"),
        (PodFacts(namespace: "default", name: "q", uid: "u", ip: IPv4Address(10, 244, 1, 9), node: "n1", netns: "demo_pod_default_q", containers: [], phase: "Pending"),
         "pod default/q has no network namespace yet (Pending)"),
    ])
    func errors(pod: PodFacts, message: String) {
        #expect(throws: PacketPathError(message)) {
            try PacketPath.trace(from: pod, to: IPv4Address(10, 244, 1, 1), inventory: InspectionFixture.inventory, network: InspectionFixture.network)
        }
    }
}

/// The fixture lab with `routing: vxlan`: each node's vxlan0 holds its pod CIDR's network
/// address as a /32 and routes the peer's pod CIDR via the peer's vxlan0 address, onlink.
@Suite("whois --from over a VXLAN overlay")
struct OverlayPathTests {
    static var network: NetworkInspection {
        var network = InspectionFixture.network
        for (position, index, peer) in [(1, 1, 2), (2, 2, 1)] {
            network.namespaces[position].interfaces.append(
                InterfaceSnapshot(ifindex: 9, ifname: "vxlan0", flags: InspectionFixture.up, mtu: 1450, operstate: "UNKNOWN", linkIndex: 2,
                                  kind: "vxlan", addrInfo: [InspectionFixture.inet("10.244.\(index).0/32", label: "vxlan0")]))
            network.namespaces[position].routes[1] = RouteSnapshot(dst: "10.244.\(peer).0/24", gateway: "10.244.\(peer).0", dev: "vxlan0", flags: ["onlink"])
            network.namespaces[position].neighbours.append(NeighborSnapshot(dst: "10.244.\(peer).0", dev: "vxlan0", lladdr: "0e:00:00:00:00:0\(peer)"))
        }
        return network
    }

    @Test func crossNode() throws {
        let path = try PacketPath.trace(from: InspectionFixture.pods[0], to: IPv4Address(10, 244, 2, 2),
                                        inventory: InspectionFixture.inventory, network: Self.network)
        #expect(path.hops.map(\.namespace) == ["demo_pod_default_a", "demo_node_n1", "demo_underlay", "demo_node_n2", "demo_pod_team_c"])
        #expect(path.hops[1].route == "10.244.2.0/24 via 10.244.2.0 dev vxlan0 onlink")
        #expect(path.hops[1].neighbour == "10.244.2.0 dev vxlan0 lladdr 0e:00:00:00:00:02 PERMANENT")
        #expect(path.hops[1].link == "VXLAN vxlan0 → vxlan0 (demo_node_n2), encapsulated in UDP to 192.168.200.12 out of eth0: veth eth0 ↔ veth-n1 (demo_underlay), a port of bridge underlay0")
        #expect(path.hops[2].bridge == "underlay0: veth-n1 → veth-n2")
        #expect(path.hops[3].ingress == "vxlan0 (decapsulated, arrived on eth0)")
        #expect(path.hops[3].route == "10.244.2.0/24 dev cni0 proto kernel scope link src 10.244.2.1")
        #expect(path.outcome.text == "delivered to pod team/c (eth0 in demo_pod_team_c)")
    }

    @Test func overlayAddressOwner() throws {
        let owner = AddressOwner.find(.v4(IPv4Address(10, 244, 2, 0)), inventory: InspectionFixture.inventory, network: Self.network)
        #expect(owner.description == "address of vxlan0 in node n2 (demo_node_n2)")
    }
}
