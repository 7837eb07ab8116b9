import Foundation
import PodNet
import Testing

@Suite("inspection snapshots")
struct SnapshotTests {
    @Test("routes print as ip route prints them", arguments: [
        (RouteSnapshot(dst: "default", gateway: "10.244.1.1", dev: "eth0", flags: ["onlink"]), "default via 10.244.1.1 dev eth0 onlink"),
        (RouteSnapshot(dst: "10.244.1.0/24", dev: "cni0", protocol: "kernel", scope: "link", prefsrc: "10.244.1.1"),
         "10.244.1.0/24 dev cni0 proto kernel scope link src 10.244.1.1"),
        (RouteSnapshot(type: "blackhole", dst: "10.244.9.0/24", metric: 5), "blackhole 10.244.9.0/24 metric 5"),
    ])
    func routeText(route: RouteSnapshot, text: String) {
        #expect(route.text == text)
    }

    @Test("route destinations as prefixes", arguments: [
        ("default", "0.0.0.0/0"), ("10.244.2.0/24", "10.244.2.0/24"), ("10.244.1.2", "10.244.1.2/32"),
    ])
    func destination(dst: String, prefix: String) {
        #expect(RouteSnapshot(dst: dst).destination?.description == prefix)
    }

    @Test("interface flags in iproute2's order", arguments: [
        (UInt32(0x1_1043), ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"]),
        (UInt32(0x1_0049), ["LOOPBACK", "UP", "LOWER_UP"]),
        (UInt32(0x8), ["LOOPBACK"]),
        (UInt32(0x1003), ["NO-CARRIER", "BROADCAST", "MULTICAST", "UP"]),
    ])
    func flags(raw: UInt32, names: [String]) {
        #expect(InterfaceFlagNames.names(raw) == names)
    }

    @Test("interface names as ip shows them", arguments: [
        (InterfaceSnapshot(ifindex: 2, ifname: "eth0", linkIndex: 7, linkNetnsid: 0), nil as String?, "eth0@if7"),
        (InterfaceSnapshot(ifindex: 3, ifname: "v1", linkIndex: 4), "v2", "v1@v2"),
        (InterfaceSnapshot(ifindex: 3, ifname: "v1", linkIndex: 9), nil, "v1@if9"),
        (InterfaceSnapshot(ifindex: 1, ifname: "lo"), nil, "lo"),
        (InterfaceSnapshot(ifindex: 5, ifname: "x", linkIndex: 0), nil, "x@NONE"),
    ])
    func displayName(interface: InterfaceSnapshot, peer: String?, name: String) {
        #expect(interface.displayName(peerName: peer) == name)
    }

    @Test("JSON uses ip -j's keys and reads back")
    func json() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(InspectionFixture.network)
        let text = String(decoding: data, as: UTF8.self)
        for key in ["\"addr_info\"", "\"ifname\"", "\"prefixlen\"", "\"link_netnsid\"", "\"link_index\"", "\"link_type\"", "\"lladdr\"", "\"dst\""] {
            #expect(text.contains(key))
        }
        #expect(try JSONDecoder().decode(NetworkInspection.self, from: data) == InspectionFixture.network)
    }

    @Test func titles() {
        #expect(InspectionFixture.network.namespaces.map(\.title) == ["underlay", "node n1", "node n2", "pod default/a", "pod default/b", "pod team/c"])
    }
}
