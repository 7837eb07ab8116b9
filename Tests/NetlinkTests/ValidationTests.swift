import Netlink
import Netns
import Addressing
import Testing

@Suite("Input validation before the kernel")
struct ValidationTests {
    @Test("interface names the kernel accepts", arguments: ["eth0", "a", "cni0", "veth-1a2b3c4d5e", "br.100", "x_y-z", "123456789012345"])
    func validInterfaceNames(name: String) throws {
        try NetlinkValidation.validate(interfaceName: name)
    }

    @Test("interface names the kernel refuses, with the reason",
          arguments: [("", "empty"), ("1234567890123456", "15"), (".", "'.'"), ("..", "'.'"), ("a/b", "'/'"), ("eth0:1", "':'"),
                      ("has space", "whitespace"), ("tab\there", "whitespace"), ("new\nline", "whitespace")])
    func invalidInterfaceNames(name: String, reason: String) {
        #expect {
            try NetlinkValidation.validate(interfaceName: name)
        } throws: { error in
            guard let error = error as? ValidationError else { return false }
            return error.field == "interface name" && error.value == name && error.reason.contains(reason)
        }
    }

    @Test("MTU range", arguments: [(UInt32(67), false), (68, true), (1500, true), (9000, true), (65_535, true), (65_536, false), (0, false)])
    func mtuRange(mtu: UInt32, valid: Bool) {
        #expect(((try? NetlinkValidation.validate(mtu: mtu)) != nil) == valid)
    }

    @Test("VXLAN id range", arguments: [(UInt32(0), true), (1, true), (16_777_215, true), (16_777_216, false), (UInt32.max, false)])
    func vxlanRange(id: UInt32, valid: Bool) {
        #expect(((try? NetlinkValidation.validate(vxlanID: id)) != nil) == valid)
    }

    @Test("prefix lengths by family",
          arguments: [("10.0.0.1", 0, true), ("10.0.0.1", 32, true), ("10.0.0.1", 33, false), ("10.0.0.1", -1, false),
                      ("fd00::1", 128, true), ("fd00::1", 129, false)])
    func prefixLengths(address: String, length: Int, valid: Bool) throws {
        let ip = try #require(IPAddress(address))
        #expect(((try? NetlinkValidation.validate(prefixLength: length, for: ip)) != nil) == valid)
    }

    @Test("sysctl keys: only per-namespace network settings",
          arguments: [("net/ipv4/ip_forward", true), ("net/ipv4/conf/all/send_redirects", true), ("net/ipv6/conf/eth0/disable_ipv6", true),
                      ("kernel/hostname", false), ("/net/ipv4/ip_forward", false), ("net/../kernel/pid_max", false),
                      ("net//ipv4", false), ("net/ipv4/ip forward", false), ("net/ipv4/", false), ("vm/swappiness", false)])
    func sysctlKeys(key: String, valid: Bool) {
        #expect(((try? Sysctl.validate(key: key)) != nil) == valid)
    }

    /// Each case is a request that must be refused before anything is sent.
    static let refusedRequests: [(String, @Sendable () throws -> NetlinkRequest)] = [
        ("bridge name too long", { try .createBridge(name: "a-very-long-bridge") }),
        ("bridge MTU too small", { try .createBridge(name: "br0", mtu: 40) }),
        ("bridge multicast MAC", { try .createBridge(name: "br0", mac: MACAddress(parsing: "01:00:5e:00:00:01")) }),
        ("veth peer name with a slash", { try .createVeth(VethConfiguration(name: "h1", peer: .init(name: "eth/0"))) }),
        ("veth ends with one name in one namespace", { try .createVeth(VethConfiguration(name: "h1", peer: .init(name: "h1"))) }),
        ("veth peer MTU too large", { try .createVeth(VethConfiguration(name: "h1", peer: .init(name: "eth0", mtu: 70_000))) }),
        ("vxlan id too large", { try .createVXLAN(VXLANConfiguration(name: "vx0", id: 1 << 24)) }),
        ("vxlan port 0", { try .createVXLAN(VXLANConfiguration(name: "vx0", id: 1, port: 0)) }),
        ("rename by name", { try .setLink(.name("eth0"), LinkChanges(name: "eth1")) }),
        ("link index 0", { try .setLink(.index(0), LinkChanges(up: true)) }),
        ("address prefix 33", { try .addAddress(InterfaceAddress(interfaceIndex: 2, address: .v4(IPv4Address(10, 0, 0, 1)), prefixLength: 33)) }),
        ("IPv6 address with broadcast", {
            try .addAddress(InterfaceAddress(interfaceIndex: 2, address: IPAddress("fd00::1")!, prefixLength: 64, broadcast: IPv4Address(10, 0, 0, 255)))
        }),
        ("route with host bits", { try .addRoute(Route(family: .ipv4, destination: IPAddress("10.1.2.3"), destinationLength: 24, outputIndex: 2)) }),
        ("onlink route without device", { try .addRoute(Route(destination: nil, gateway: IPv4Address(10, 0, 0, 1), onlink: true)) }),
        ("IPv4 route via an IPv6 gateway", {
            try .addRoute(Route(family: .ipv4, destination: nil, destinationLength: 0, gateway: IPAddress("fd00::1"), outputIndex: 2))
        }),
        ("neighbour on index -1", { try .addNeighbor(Neighbor(interfaceIndex: -1, address: IPv4Address(10, 0, 0, 1), mac: MACAddress.derived(from: .any))) }),
        ("FDB vlan 4095", { try .addFDBEntry(FDBEntry(interfaceIndex: 3, mac: FDBEntry.floodMAC, vlan: 4095)) }),
    ]

    @Test("bad requests are refused with a ValidationError", arguments: refusedRequests.indices)
    func refusedRequest(index: Int) {
        let (name, build) = Self.refusedRequests[index]
        #expect(throws: ValidationError.self, "\(name)") { try build() }
    }

    @Test("a refused request sends nothing")
    func nothingSent() {
        let transport = RecordingTransport()
        let netlink = RouteNetlink(transport: transport)
        #expect(throws: ValidationError.self) { try netlink.createBridge(name: "bridge-name-too-long") }
        #expect(throws: ValidationError.self) { try netlink.rename(index: 3, to: "bad name") }
        #expect(transport.datagrams.isEmpty)
    }
}

@Suite("Pod interface setup validates before touching the kernel")
struct PodInterfaceValidationTests {
    static let bridge = Link(index: 2, name: "cni0", kind: "bridge", mac: MACAddress.derived(from: IPv4Address(10, 244, 1, 1)))
    static let gateway = IPv4Address(10, 244, 1, 1)

    static let cases: [(String, PodInterfaceConfiguration, Link)] = [
        ("pod address is the gateway", PodInterfaceConfiguration(hostInterfaceName: "veth1", address: gateway, gateway: gateway), bridge),
        ("host name too long", PodInterfaceConfiguration(hostInterfaceName: "veth-name-too-long", address: IPv4Address(10, 244, 1, 2), gateway: gateway), bridge),
        ("pod name with a slash", PodInterfaceConfiguration(hostInterfaceName: "veth1", podInterfaceName: "eth/0", address: IPv4Address(10, 244, 1, 2), gateway: gateway), bridge),
        ("MTU too small", PodInterfaceConfiguration(hostInterfaceName: "veth1", address: IPv4Address(10, 244, 1, 2), gateway: gateway, mtu: 60), bridge),
        ("multicast pod MAC", PodInterfaceConfiguration(hostInterfaceName: "veth1", address: IPv4Address(10, 244, 1, 2), gateway: gateway,
                                                        podMAC: try! MACAddress(parsing: "01:00:5e:00:00:01")), bridge),
        ("bridge without MAC", PodInterfaceConfiguration(hostInterfaceName: "veth1", address: IPv4Address(10, 244, 1, 2), gateway: gateway),
         Link(index: 2, name: "cni0")),
    ]

    @Test("refused with a ValidationError, nothing sent", arguments: cases.indices)
    func refused(index: Int) {
        let (name, configuration, bridge) = Self.cases[index]
        let node = RecordingTransport(namespace: "node"), pod = RecordingTransport(namespace: "pod")
        #expect(throws: ValidationError.self, "\(name)") {
            try RouteNetlink(transport: node).setUpPodInterface(configuration, bridge: bridge, pod: RouteNetlink(transport: pod),
                                                               podNamespace: NetworkNamespace(unchecked: "pod"))
        }
        #expect(node.datagrams.isEmpty && pod.datagrams.isEmpty)
    }

    @Test("a pod netlink bound to another namespace is refused")
    func wrongNamespace() {
        let node = RecordingTransport(namespace: "node"), pod = RecordingTransport(namespace: "pod-a")
        #expect(throws: ValidationError.self) {
            try RouteNetlink(transport: node).setUpPodInterface(
                PodInterfaceConfiguration(hostInterfaceName: "veth1", address: IPv4Address(10, 244, 1, 2), gateway: Self.gateway),
                bridge: Self.bridge, pod: RouteNetlink(transport: pod), podNamespace: NetworkNamespace(unchecked: "pod-b"))
        }
        #expect(node.datagrams.isEmpty && pod.datagrams.isEmpty)
    }
}
