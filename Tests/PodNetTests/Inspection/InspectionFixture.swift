import PodNet

/// A two-node lab "demo" as the agent would read it back from the kernel.
///
/// IP plan: cluster 10.244.0.0/16, node n1 pods 10.244.1.0/24 (gateway .1 on cni0), node n2
/// pods 10.244.2.0/24; underlay 192.168.200.0/24 with n1 at .11 and n2 at .12; services
/// 10.96.0.0/16. Pods: default/a 10.244.1.2 and default/b 10.244.1.3 on n1, team/c 10.244.2.2
/// on n2. Interface indices repeat across namespaces on purpose (every pod's eth0 is 2, and
/// n1's vethaaaa and n2's vethcccc are both 4), as they do in a real lab.
enum InspectionFixture {
    static let plan: LabPlan = {
        var spec = TopologySpec()
        spec.name = "demo"
        spec.nodeCount = 2
        return try! spec.plan()
    }()

    static let pods = [
        PodFacts(namespace: "default", name: "a", uid: "uid-a", ip: IPv4Address("10.244.1.2"), node: "n1", netns: "demo_pod_default_a", containers: ["web"]),
        PodFacts(namespace: "default", name: "b", uid: "uid-b", ip: IPv4Address("10.244.1.3"), node: "n1", netns: "demo_pod_default_b", containers: ["app", "sidecar"]),
        PodFacts(namespace: "team", name: "c", uid: "uid-c", ip: IPv4Address("10.244.2.2"), node: "n2", netns: "demo_pod_team_c", containers: ["db"]),
    ]

    static let inventory = LabInventory(plan: plan, pods: pods, allocations: [
        IPAllocation(ip: IPv4Address("10.244.1.2")!, node: "n1", owner: "uid-a"),
        IPAllocation(ip: IPv4Address("10.244.1.3")!, node: "n1", owner: "uid-b"),
        IPAllocation(ip: IPv4Address("10.244.2.2")!, node: "n2", owner: "uid-c"),
        IPAllocation(ip: IPv4Address("10.244.2.3")!, node: "n2", owner: "uid-gone"),
    ])

    static let up = ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"]

    static func inet(_ cidr: String, scope: String = "global", label: String? = nil) -> InterfaceAddressSnapshot {
        let parts = cidr.split(separator: "/")
        return InterfaceAddressSnapshot(family: "inet", local: String(parts[0]), prefixlen: Int(parts[1])!, scope: scope, label: label)
    }

    static let loopback = InterfaceSnapshot(ifindex: 1, ifname: "lo", flags: ["LOOPBACK", "UP", "LOWER_UP"], mtu: 65536, operstate: "UNKNOWN",
                                            linkType: "loopback", address: "00:00:00:00:00:00",
                                            addrInfo: [inet("127.0.0.1/8", scope: "host", label: "lo"),
                                                       InterfaceAddressSnapshot(family: "inet6", local: "::1", prefixlen: 128, scope: "host")])

    static let underlay = NamespaceSnapshot(namespace: "demo_underlay", kind: .underlay, interfaces: [
        loopback,
        InterfaceSnapshot(ifindex: 2, ifname: "underlay0", flags: up, kind: "bridge"),
        InterfaceSnapshot(ifindex: 3, ifname: "veth-n1", flags: up, master: "underlay0", linkIndex: 2, linkNetnsid: 0, kind: "veth"),
        InterfaceSnapshot(ifindex: 4, ifname: "veth-n2", flags: up, master: "underlay0", linkIndex: 2, linkNetnsid: 1, kind: "veth"),
    ])

    /// The table the agent programs in every node, as listed back (with counters).
    static let firewall = NodeFirewallRules.chains(clusterCIDR: plan.clusterCIDR).map { chain in
        var listed = chain
        listed.rules = chain.rules.map { rule in
            var rule = rule
            (rule.packets, rule.bytes) = (0, 0)
            return rule
        }
        return listed
    }

    static func node(_ index: Int, veths: [(name: String, index: Int, pod: String)], otherNode: Int) -> NamespaceSnapshot {
        NamespaceSnapshot(namespace: "demo_node_n\(index)", kind: .node, node: "n\(index)", interfaces: [
            loopback,
            InterfaceSnapshot(ifindex: 2, ifname: "eth0", flags: up, address: "aa:00:00:00:00:1\(index)", linkIndex: 2 + index, linkNetnsid: 0,
                              kind: "veth", addrInfo: [inet("192.168.200.1\(index)/24", label: "eth0")]),
            InterfaceSnapshot(ifindex: 3, ifname: "cni0", flags: up, address: "0a:58:0a:f4:0\(index):01", kind: "bridge",
                              addrInfo: [inet("10.244.\(index).1/24", label: "cni0")]),
        ] + veths.map { veth in
            InterfaceSnapshot(ifindex: veth.index, ifname: veth.name, flags: up, master: "cni0", linkIndex: 2, linkNetnsid: 1, kind: "veth")
        }, routes: [
            RouteSnapshot(dst: "10.244.\(index).0/24", dev: "cni0", protocol: "kernel", scope: "link", prefsrc: "10.244.\(index).1"),
            RouteSnapshot(dst: "10.244.\(otherNode).0/24", gateway: "192.168.200.1\(otherNode)", dev: "eth0"),
            RouteSnapshot(dst: "192.168.200.0/24", dev: "eth0", protocol: "kernel", scope: "link", prefsrc: "192.168.200.1\(index)"),
        ], neighbours: veths.map { veth in
            NeighborSnapshot(dst: veth.pod, dev: "cni0", lladdr: mac(veth.pod))
        }, firewall: firewall)
    }

    /// The MAC podlab derives from a pod address: 0a:58 and the address's octets.
    static func mac(_ address: String) -> String {
        "0a:58:" + address.split(separator: ".").map { octet in
            let hex = String(Int(octet)!, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
    }

    /// The IPv6 link-local address the kernel makes from that MAC (EUI-64).
    static func linkLocal(_ address: IPv4Address) -> InterfaceAddressSnapshot {
        let octets = address.octets
        let low = String(octets[3], radix: 16)
        let local = "fe80::858:aff:fef4:" + String(octets[2], radix: 16) + (low.count == 1 ? "0" + low : low)
        return InterfaceAddressSnapshot(family: "inet6", local: local, prefixlen: 64, scope: "link")
    }

    static func pod(_ facts: PodFacts, peerIndex: Int) -> NamespaceSnapshot {
        let node = facts.node == "n1" ? 1 : 2
        return NamespaceSnapshot(namespace: facts.netns, kind: .pod, node: facts.node, pod: facts.qualifiedName, interfaces: [
            loopback,
            InterfaceSnapshot(ifindex: 2, ifname: "eth0", flags: up, address: mac(facts.ip!.description), linkIndex: peerIndex,
                              linkNetnsid: 0, kind: "veth", addrInfo: [inet("\(facts.ip!)/32", label: "eth0"), linkLocal(facts.ip!)]),
        ], routes: [
            RouteSnapshot(dst: "default", gateway: "10.244.\(node).1", dev: "eth0", flags: ["onlink"]),
        ], neighbours: [
            NeighborSnapshot(dst: "10.244.\(node).1", dev: "eth0", lladdr: "0a:58:0a:f4:0\(node):01"),
        ])
    }

    static let network = NetworkInspection(lab: "demo", namespaces: [
        underlay,
        node(1, veths: [("vethaaaa", 4, "10.244.1.2"), ("vethbbbb", 5, "10.244.1.3")], otherNode: 2),
        node(2, veths: [("vethcccc", 4, "10.244.2.2")], otherNode: 1),
        pod(pods[0], peerIndex: 4),
        pod(pods[1], peerIndex: 5),
        pod(pods[2], peerIndex: 4),
    ])
}
