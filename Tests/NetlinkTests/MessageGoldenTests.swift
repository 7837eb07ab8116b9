import Netlink
import Netns
import Addressing
import Testing

/// The exact bytes podlab sends, one annotated line per struct or attribute, checked against the
/// uapi layouts (`struct nlmsghdr`, `ifinfomsg`, `ifaddrmsg`, `rtmsg`, `ndmsg`, `struct nlattr`).
/// All values are little-endian except addresses and `IFLA_VXLAN_PORT` (network order).
/// nlmsg_seq comes from the recording transport (1 for the first message), nlmsg_pid is 0.
@Suite("Netlink request golden bytes")
struct MessageGoldenTests {
    let transport = RecordingTransport()
    var netlink: RouteNetlink { RouteNetlink(transport: transport) }

    @Test("veth with the peer created inside another namespace")
    func vethPeerInNamespace() throws {
        let veth = VethConfiguration(name: "h1", mtu: 1400, masterIndex: 3, up: true, peer: .init(name: "eth0", mtu: 1400))
        try netlink.perform(.createVeth(veth, peerNamespaceFD: 7, peerNamespaceName: "pod-a"))
        #expect(hex(transport.datagrams[0]) == golden(
            "7c000000 1000 0506 01000000 00000000", // struct nlmsghdr (16 B): len 124, RTM_NEWLINK, REQUEST|ACK|EXCL|CREATE, seq 1, pid 0
            "00 00 0000 00000000 01000000 01000000", // struct ifinfomsg (16 B): AF_UNSPEC, index 0, flags IFF_UP, change IFF_UP
            "0700 0300 68310000", // IFLA_IFNAME "h1\0" + 1 B pad
            "0800 0400 78050000", // IFLA_MTU 1400
            "0800 0a00 03000000", // IFLA_MASTER 3
            "4400 1280", // IFLA_LINKINFO (NLA_F_NESTED), 68 B
            "0900 0100 76657468 00000000", //   IFLA_INFO_KIND "veth\0" + 3 B pad
            "3400 0280", //   IFLA_INFO_DATA (nested), 52 B
            "3000 0180", //     VETH_INFO_PEER (nested), 48 B
            "00 00 0000 00000000 00000000 00000000", //       struct ifinfomsg (16 B) of the peer: no flags (IFF_UP here fails: ENOTCONN)
            "0900 0300 65746830 00000000", //       IFLA_IFNAME "eth0\0" + 3 B pad
            "0800 0400 78050000", //       IFLA_MTU 1400
            "0800 1c00 07000000" //       IFLA_NET_NS_FD 7: the peer is born in the pod's namespace
        ))
    }

    @Test("veth with one queue per end; IPv6 address generation off")
    func vethQueuesAndAddressGeneration() throws {
        let veth = VethConfiguration(name: "h1", peer: .init(name: "p1"), queues: 1)
        try netlink.perform(.createVeth(veth))
        try netlink.setLink(.index(2), LinkChanges(ipv6AddressGeneration: IPv6AddressGeneration.none))
        #expect(hex(transport.datagrams[0]) == golden(
            "78000000 1000 0506 01000000 00000000", // struct nlmsghdr (16 B): len 120, RTM_NEWLINK, REQUEST|ACK|EXCL|CREATE, seq 1
            "00 00 0000 00000000 00000000 00000000", // struct ifinfomsg (16 B): down
            "0700 0300 68310000", // IFLA_IFNAME "h1\0" + 1 B pad
            "0800 1f00 01000000", // IFLA_NUM_TX_QUEUES 1
            "0800 2000 01000000", // IFLA_NUM_RX_QUEUES 1
            "4000 1280", // IFLA_LINKINFO (nested), 64 B
            "0900 0100 76657468 00000000", //   IFLA_INFO_KIND "veth\0" + 3 B pad
            "3000 0280", //   IFLA_INFO_DATA (nested), 48 B
            "2c00 0180", //     VETH_INFO_PEER (nested), 44 B
            "00 00 0000 00000000 00000000 00000000", //       struct ifinfomsg (16 B) of the peer
            "0700 0300 70310000", //       IFLA_IFNAME "p1\0" + 1 B pad
            "0800 1f00 01000000", //       IFLA_NUM_TX_QUEUES 1
            "0800 2000 01000000" //       IFLA_NUM_RX_QUEUES 1
        ))
        #expect(hex(transport.datagrams[1]) == golden(
            "30000000 1000 0500 02000000 00000000", // struct nlmsghdr (16 B): len 48, RTM_NEWLINK, REQUEST|ACK (change), seq 2
            "00 00 0000 02000000 00000000 00000000", // struct ifinfomsg (16 B): index 2, no flag change
            "1000 1a80", // IFLA_AF_SPEC (nested), 16 B
            "0c00 0a80", //   AF_INET6 (nested), 12 B
            "0500 0800 01 000000" //     IFLA_INET6_ADDR_GEN_MODE 1 (none) + 3 B pad
        ))
    }

    @Test("address generation and up in one message are refused: the kernel would bring the link up first")
    func addressGenerationWithUpRefused() {
        #expect(throws: ValidationError.self) {
            try NetlinkRequest.setLink(.index(2), LinkChanges(up: true, ipv6AddressGeneration: IPv6AddressGeneration.none))
        }
    }

    @Test("address add: a pod's /32")
    func addressAdd() throws {
        try netlink.perform(.addAddress(InterfaceAddress(interfaceIndex: 2, try IPv4Interface(parsing: "10.244.1.2/32")), interfaceName: "eth0"))
        #expect(hex(transport.datagrams[0]) == golden(
            "28000000 1400 0506 01000000 00000000", // struct nlmsghdr (16 B): len 40, RTM_NEWADDR, REQUEST|ACK|EXCL|CREATE, seq 1
            "02 20 00 00 02000000", // struct ifaddrmsg (8 B): AF_INET, prefixlen 32, flags 0, RT_SCOPE_UNIVERSE, index 2
            "0800 0200 0af40102", // IFA_LOCAL 10.244.1.2
            "0800 0100 0af40102" // IFA_ADDRESS 10.244.1.2
        ))
    }

    @Test("route add: default via the gateway, onlink")
    func routeAddOnlink() throws {
        try netlink.perform(.addRoute(.defaultRoute(via: IPv4Address(10, 244, 1, 1), outputIndex: 2)))
        #expect(hex(transport.datagrams[0]) == golden(
            "2c000000 1800 0506 01000000 00000000", // struct nlmsghdr (16 B): len 44, RTM_NEWROUTE, REQUEST|ACK|EXCL|CREATE, seq 1
            "02 00 00 00 fe 03 00 01 04000000", // struct rtmsg (12 B): AF_INET, dst_len 0, src_len 0, tos 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST, RTNH_F_ONLINK
            "0800 0500 0af40101", // RTA_GATEWAY 10.244.1.1
            "0800 0400 02000000" // RTA_OIF 2
        ))
    }

    @Test("route add: a network in a numbered table with a metric")
    func routeAddTable() throws {
        let route = Route(destination: try IPv4Prefix(parsing: "10.244.2.0/24"), gateway: IPv4Address(192, 168, 200, 12),
                          table: 1000, priority: 20)
        try netlink.perform(.addRoute(route))
        #expect(hex(transport.datagrams[0]) == golden(
            "3c000000 1800 0506 01000000 00000000", // struct nlmsghdr (16 B): len 60, RTM_NEWROUTE, REQUEST|ACK|EXCL|CREATE, seq 1
            "02 18 00 00 00 03 00 01 00000000", // struct rtmsg (12 B): AF_INET, dst_len 24, table RT_TABLE_UNSPEC (see RTA_TABLE), RTPROT_BOOT, universe, unicast
            "0800 0f00 e8030000", // RTA_TABLE 1000
            "0800 0100 0af40200", // RTA_DST 10.244.2.0
            "0800 0500 c0a8c80c", // RTA_GATEWAY 192.168.200.12
            "0800 0600 14000000" // RTA_PRIORITY 20
        ))
    }

    @Test("neighbour add: a permanent entry for the gateway")
    func neighbourAdd() throws {
        let mac = try MACAddress(parsing: "0a:58:0a:f4:01:01")
        try netlink.perform(.addNeighbor(Neighbor(interfaceIndex: 2, address: IPv4Address(10, 244, 1, 1), mac: mac)))
        #expect(hex(transport.datagrams[0]) == golden(
            "30000000 1c00 0506 01000000 00000000", // struct nlmsghdr (16 B): len 48, RTM_NEWNEIGH, REQUEST|ACK|EXCL|CREATE, seq 1
            "02 00 0000 02000000 8000 00 00", // struct ndmsg (12 B): AF_INET, ifindex 2, NUD_PERMANENT, flags 0, type 0
            "0800 0100 0af40101", // NDA_DST 10.244.1.1
            "0a00 0200 0a580af40101 0000" // NDA_LLADDR 0a:58:0a:f4:01:01 + 2 B pad
        ))
    }

    @Test("bridge FDB append on a vxlan: flood to a remote VTEP")
    func fdbAppend() throws {
        try netlink.perform(.appendFDBEntry(FDBEntry(interfaceIndex: 5, mac: FDBEntry.floodMAC, destination: .v4(IPv4Address(192, 168, 200, 12)))))
        #expect(hex(transport.datagrams[0]) == golden(
            "30000000 1c00 050c 01000000 00000000", // struct nlmsghdr (16 B): len 48, RTM_NEWNEIGH, REQUEST|ACK|CREATE|APPEND, seq 1
            "07 00 0000 05000000 8000 02 00", // struct ndmsg (12 B): AF_BRIDGE, ifindex 5, NUD_PERMANENT, NTF_SELF
            "0a00 0200 000000000000 0000", // NDA_LLADDR 00:00:00:00:00:00 + 2 B pad
            "0800 0100 c0a8c80c" // NDA_DST 192.168.200.12
        ))
    }

    @Test("vxlan create with learning off")
    func vxlanCreate() throws {
        let vxlan = VXLANConfiguration(name: "vx0", id: 42, local: IPv4Address(192, 168, 200, 11), port: 4789, underlyingIndex: 2, learning: false)
        try netlink.perform(.createVXLAN(vxlan))
        #expect(hex(transport.datagrams[0]) == golden(
            "64000000 1000 0506 01000000 00000000", // struct nlmsghdr (16 B): len 100, RTM_NEWLINK, REQUEST|ACK|EXCL|CREATE, seq 1
            "00 00 0000 00000000 00000000 00000000", // struct ifinfomsg (16 B): down
            "0800 0300 76783000", // IFLA_IFNAME "vx0\0"
            "3c00 1280", // IFLA_LINKINFO (nested), 60 B
            "0a00 0100 7678 6c616e 00 0000", //   IFLA_INFO_KIND "vxlan\0" + 2 B pad
            "2c00 0280", //   IFLA_INFO_DATA (nested), 44 B
            "0800 0100 2a000000", //     IFLA_VXLAN_ID 42
            "0800 0300 02000000", //     IFLA_VXLAN_LINK 2
            "0800 0400 c0a8c80b", //     IFLA_VXLAN_LOCAL 192.168.200.11
            "0500 0700 00 000000", //     IFLA_VXLAN_LEARNING 0 + 3 B pad
            "0600 0f00 12b5 0000" //     IFLA_VXLAN_PORT 4789 (__be16) + 2 B pad
        ))
    }

    @Test("link get by name and set by index")
    func linkGetAndSet() throws {
        transport.enqueueDump([])
        _ = try? netlink.link(named: "eth0")
        try netlink.setLink(.index(9), LinkChanges(up: false, masterIndex: 0, name: "pod1"))
        #expect(hex(transport.datagrams[0]) == golden(
            "34000000 1200 0500 01000000 00000000", // struct nlmsghdr (16 B): len 52, RTM_GETLINK, REQUEST|ACK, seq 1
            "00 00 0000 00000000 00000000 00000000", // struct ifinfomsg (16 B): index 0 (look up by name)
            "0900 0300 65746830 00000000", // IFLA_IFNAME "eth0\0" + 3 B pad
            "0800 1d00 08000000" // IFLA_EXT_MASK RTEXT_FILTER_SKIP_STATS
        ))
        #expect(hex(transport.datagrams[1]) == golden(
            "34000000 1000 0500 02000000 00000000", // struct nlmsghdr (16 B): len 52, RTM_NEWLINK, REQUEST|ACK (no CREATE: change), seq 2
            "00 00 0000 09000000 00000000 01000000", // struct ifinfomsg (16 B): index 9, flags 0, change IFF_UP: down
            "0900 0300 706f6431 00000000", // IFLA_IFNAME "pod1\0": the new name (the link is found by index)
            "0800 0a00 00000000" // IFLA_MASTER 0: nomaster
        ))
    }

    @Test("a batch is one datagram of messages with consecutive sequence numbers, each asking for an ack")
    func batchIsOneDatagram() throws {
        try netlink.perform(batch: [
            .setLink(.name("lo"), LinkChanges(up: true)),
            .addAddress(InterfaceAddress(interfaceIndex: 2, try IPv4Interface(parsing: "10.244.1.2/32"))),
            .setLink(.index(2), LinkChanges(up: true)),
            .addRoute(.defaultRoute(via: IPv4Address(10, 244, 1, 1), outputIndex: 2)),
        ])
        #expect(transport.datagrams.count == 1)
        var headers: [NetlinkSocket.Header] = []
        try NetlinkSocket.parse(transport.datagrams[0][...]) { header, _ in headers.append(header) }
        #expect(headers.map(\.sequence) == [1, 2, 3, 4])
        #expect(headers.map(\.type) == [16, 20, 16, 24])
        #expect(headers.allSatisfy { $0.flags & 0x5 == 0x5 })
    }
}
