import Netlink
import Netns
import Addressing
import Testing

/// Requests and the kernel's replies share a layout (family header + attributes), so a message
/// built by podlab, parsed back by podlab's parser, must give back what went in.
@Suite("Attribute parsing round trips")
struct ParsingTests {
    /// The payload after `struct nlmsghdr`, as a dump would deliver it.
    func payload(_ request: NetlinkRequest) -> ArraySlice<UInt8> { request.bytes[16...] }

    @Test("NetlinkAttribute.parse reads types, nesting, padding and integer widths")
    func attributeParse() {
        let bytes: [UInt8] = [
            0x05, 0x00, 0x10, 0x00, 0x07, 0, 0, 0, // u8 7 (type 16), 3 B pad
            0x06, 0x00, 0x11, 0x00, 0x34, 0x12, 0, 0, // u16 0x1234, 2 B pad
            0x08, 0x00, 0x12, 0x00, 0x78, 0x56, 0x34, 0x12, // u32 0x12345678
            0x14, 0x00, 0x13, 0x80, // nested (NLA_F_NESTED), 20 B
            0x07, 0x00, 0x01, 0x00, 0x68, 0x69, 0x00, 0, // "hi\0"
            0x08, 0x00, 0x02, 0x00, 0xEF, 0xBE, 0xAD, 0xDE, // u32 0xDEADBEEF
            0x03, 0x00, // truncated trailer: ignored
        ]
        let attributes = NetlinkAttribute.parse(bytes[...])
        #expect(attributes.map(\.type) == [16, 17, 18, 19])
        #expect(attributes[0].u8 == 7)
        #expect(attributes[1].u16 == 0x1234)
        #expect(attributes[2].u32 == 0x1234_5678)
        #expect(attributes[3].isNested && !attributes[2].isNested)
        #expect(attributes[3].nested.map(\.type) == [1, 2])
        #expect(attributes[3].nested[0].string == "hi")
        #expect(attributes[3].nested[1].u32 == 0xDEAD_BEEF)
    }

    @Test("a vxlan link: name, MTU, MAC, kind and vxlan settings")
    func vxlanLink() throws {
        let mac = try MACAddress(parsing: "0a:58:12:34:56:78")
        let request = try NetlinkRequest.createVXLAN(VXLANConfiguration(name: "vx42", id: 0x12_3456, local: IPv4Address(192, 168, 200, 11),
                                                                        port: 8472, underlyingIndex: 7, learning: false, mtu: 1450,
                                                                        mac: mac, masterIndex: 5, up: true))
        let link = try Link(parsing: payload(request))
        #expect(link.name == "vx42")
        #expect(link.kind == "vxlan")
        #expect(link.mtu == 1450)
        #expect(link.mac == mac)
        #expect(link.masterIndex == 5)
        #expect(link.isUp)
        #expect(link.vxlan == VXLANInfo(id: 0x12_3456, local: IPv4Address(192, 168, 200, 11), port: 8472, underlyingIndex: 7, learning: false))
    }

    @Test("a link set request carries index, flags and the new name")
    func linkChanges() throws {
        let link = try Link(parsing: payload(.setLink(.index(0x1234), LinkChanges(up: true, mtu: 9000, name: "renamed"))))
        #expect(link.index == 0x1234)
        #expect(link.name == "renamed")
        #expect(link.mtu == 9000)
        #expect(link.isUp && !link.hasCarrier)
        #expect(link.kind == nil)
    }

    @Test("addresses, IPv4 with broadcast and IPv6 with flags beyond 8 bits")
    func addresses() throws {
        let v4 = InterfaceAddress(interfaceIndex: 0x0102_0304, address: .v4(IPv4Address(10, 244, 1, 1)), prefixLength: 24,
                                  scope: .link, broadcast: IPv4Address(10, 244, 1, 255), label: "cni0")
        #expect(try InterfaceAddress(parsing: payload(.addAddress(v4))) == v4)
        let v6 = InterfaceAddress(interfaceIndex: 3, address: try #require(IPAddress("fd00:10:244::1")), prefixLength: 64,
                                  flags: InterfaceAddress.noDAD | 0x100)
        #expect(try InterfaceAddress(parsing: payload(.addAddress(v6))) == v6)
    }

    @Test("routes: default onlink, a network in a big table, IPv6")
    func routes() throws {
        let pod = Route.defaultRoute(via: IPv4Address(10, 244, 1, 1), outputIndex: 2)
        #expect(try Route(parsing: payload(.addRoute(pod))) == pod)
        let hostGW = Route(destination: try IPv4Prefix(parsing: "10.244.2.0/24"), gateway: IPv4Address(192, 168, 200, 12),
                           outputIndex: 4, table: 5000, routingProtocol: .static, priority: 100, preferredSource: IPv4Address(192, 168, 200, 11))
        #expect(try Route(parsing: payload(.replaceRoute(hostGW))) == hostGW)
        let v6 = Route(family: .ipv6, destination: IPAddress("fd00:1::"), destinationLength: 64, outputIndex: 3)
        let parsed = try Route(parsing: payload(.addRoute(v6)))
        #expect(parsed == v6)
        #expect(parsed.scope == .link)
    }

    @Test("neighbours and FDB entries")
    func neighbours() throws {
        let neighbour = Neighbor(interfaceIndex: 9, address: IPv4Address(10, 244, 1, 7), mac: try MACAddress(parsing: "02:00:00:aa:bb:cc"))
        #expect(try Neighbor(parsing: payload(.replaceNeighbor(neighbour))) == neighbour)
        let fdb = FDBEntry(interfaceIndex: 11, mac: try MACAddress(parsing: "02:00:00:00:00:01"), destination: .v4(IPv4Address(192, 168, 200, 13)),
                           vni: 77, vlan: 10, state: .noARP, flags: [.device])
        #expect(try FDBEntry(parsing: payload(.replaceFDBEntry(fdb))) == fdb)
    }

    @Test("a dump reply is parsed from the transport's messages")
    func dumpThroughTransport() throws {
        let transport = RecordingTransport()
        let messages = try [
            NetlinkRequest.createBridge(name: "br0", mtu: 1500, mac: MACAddress(parsing: "02:00:00:00:00:0a"), up: true),
            NetlinkRequest.createVeth(VethConfiguration(name: "h1", masterIndex: 1, peer: .init(name: "p1"))),
        ].map { NetlinkMessage(type: 16, flags: 2, sequence: 1, portID: 0, payload: Array($0.bytes[16...])) }
        transport.enqueueDump(messages)
        let links = try RouteNetlink(transport: transport).links()
        #expect(links.map(\.name) == ["br0", "h1"])
        #expect(links.map(\.kind) == ["bridge", "veth"])
        #expect(links[1].masterIndex == 1)
    }

    @Test("short payloads are errors, not crashes")
    func shortPayloads() {
        let short: [UInt8] = [2, 0, 0]
        #expect(throws: KernelError.self) { try Link(parsing: short[...]) }
        #expect(throws: KernelError.self) { try Route(parsing: short[...]) }
        #expect(throws: KernelError.self) { try InterfaceAddress(parsing: short[...]) }
        #expect(throws: KernelError.self) { try Neighbor(parsing: short[...]) }
    }
}

@Suite("Created links come back from the kernel's echo")
struct CreateEchoTests {
    @Test("a create asks for NLM_F_ECHO and uses the echoed link without a get")
    func echoed() throws {
        let transport = RecordingTransport()
        let echo = try NetlinkRequest.createVeth(VethConfiguration(name: "h1", mac: MACAddress(parsing: "02:00:00:00:00:01"), peer: .init(name: "p1")))
        transport.enqueueDump([NetlinkMessage(type: 16, flags: 0, sequence: 1, portID: 0, payload: Array(echo.bytes[16...]))])
        let link = try RouteNetlink(transport: transport).createVeth(VethConfiguration(name: "h1", peer: .init(name: "p1")))
        let mac = try MACAddress(parsing: "02:00:00:00:00:01")
        #expect(link.name == "h1" && link.mac == mac)
        #expect(transport.datagrams.count == 1)
        let flags = transport.datagrams[0].withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 6, as: UInt16.self) }
        #expect(flags == 0x060D)  // REQUEST | ACK | ECHO | EXCL | CREATE
    }

    @Test("without an echo, the link is fetched by name")
    func fallback() throws {
        let transport = RecordingTransport()
        transport.enqueueDump([])
        let reply = try NetlinkRequest.createBridge(name: "br0", mac: MACAddress(parsing: "02:00:00:00:00:02"))
        transport.enqueueDump([NetlinkMessage(type: 16, flags: 0, sequence: 2, portID: 0, payload: Array(reply.bytes[16...]))])
        let link = try RouteNetlink(transport: transport).createBridge(name: "br0")
        #expect(link.name == "br0" && link.kind == "bridge")
        #expect(transport.datagrams.count == 2)
        #expect(transport.datagrams[1][4] == 18)  // RTM_GETLINK
    }
}
