import Foundation
import KernelTestSupport
import Netlink
import Netns
import Addressing
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Each test works in namespaces of its own; `ip -n NS -j …` and `bridge -n NS -j …` are the
/// independent readers.
@Suite("Links, addresses, routes, neighbours and FDB (root, real namespaces)", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired),
       .rootNamespaceUnchanged)
struct LinkIntegrationTests {
    func names(_ links: [[String: Any]]) -> Set<String> { Set(links.compactMap { $0["ifname"] as? String }) }

    @Test("link dump: index, name, kind, state, flags, master, MAC and MTU match ip -d link")
    func linkDump() throws {
        try KernelTest.withNamespacesSync(1, prefix: "pllink") { namespaces in
            let ns = namespaces[0]
            let netlink = try RouteNetlink(namespace: ns)
            let mac = try MACAddress(parsing: "02:11:22:33:44:55")
            let bridge = try netlink.createBridge(name: "br0", mtu: 1450, mac: mac, up: true)
            try netlink.createVeth(VethConfiguration(name: "v0", mtu: 1450, masterIndex: bridge.index, up: true, peer: .init(name: "v1", mtu: 1450)))
            // The kernel settles operational states asynchronously (linkwatch, up to a second
            // later): wait until no new device is still UNKNOWN before comparing two readers.
            var links = try netlink.links()
            for _ in 0..<150 where links.contains(where: { $0.name != "lo" && $0.operationalState == .unknown }) {
                usleep(20_000)
                links = try netlink.links()
            }
            #expect(links.map(\.name) == ["lo", "br0", "v1", "v0"] || links.map(\.name) == ["lo", "br0", "v0", "v1"])

            // A state may still change between the two reads (the bridge follows its ports'
            // carrier, again through linkwatch): read both again until they are of one moment.
            // A reader that decodes a state wrongly never agrees.
            var independent = try Command.ipJSON(ns.name, ["-d", "link"])
            for _ in 0..<100 where !links.allSatisfy({ link in
                independent.first { $0["ifindex"] as? Int == Int(link.index) }?["operstate"] as? String == link.operationalState.description
            }) {
                usleep(20_000)
                links = try netlink.links()
                independent = try Command.ipJSON(ns.name, ["-d", "link"])
            }
            #expect(independent.count == links.count)
            for link in links {
                let other = try #require(independent.first { $0["ifindex"] as? Int == Int(link.index) })
                #expect(other["ifname"] as? String == link.name)
                #expect(other["mtu"] as? Int == Int(link.mtu))
                #expect(other["operstate"] as? String == link.operationalState.description)
                #expect(((other["flags"] as? [String])?.contains("UP") ?? false) == link.isUp)
                #expect(other["master"] as? String == links.first { $0.index == link.masterIndex }?.name)
                if link.name != "lo" { #expect(other["address"] as? String == link.mac?.description) }
                let info = other["linkinfo"] as? [String: Any]
                #expect(info?["info_kind"] as? String == link.kind)
                #expect(info?["info_slave_kind"] as? String == link.portKind)
            }
            let v0 = try #require(links.first { $0.name == "v0" })
            let v1 = try #require(links.first { $0.name == "v1" })
            #expect(v0.kind == "veth" && v0.masterIndex == bridge.index && v0.isUp && v0.portKind == "bridge")
            #expect(v0.parentIndex == v1.index)
            #expect(!v1.isUp && v1.operationalState == .down)
            #expect(bridge.kind == "bridge" && bridge.mac == mac && bridge.mtu == 1450)
            #expect(try netlink.link(index: v0.index) == links.first { $0.index == v0.index })
        }
    }

    @Test("MTU, MAC, rename, nomaster and master again, addressed by index")
    func linkChanges() throws {
        try KernelTest.withNamespacesSync(1, prefix: "plchg") { namespaces in
            let ns = namespaces[0]
            let netlink = try RouteNetlink(namespace: ns)
            let bridge = try netlink.createBridge(name: "br0", up: true)
            try netlink.createVeth(VethConfiguration(name: "a0", masterIndex: bridge.index, peer: .init(name: "a1")))
            let a0 = try netlink.link(named: "a0")

            let mac = try MACAddress(parsing: "02:aa:bb:cc:dd:01")
            try netlink.setMTU(a0.reference, mtu: 1280)
            try netlink.setMAC(a0.reference, mac: mac)
            try netlink.rename(index: a0.index, to: "renamed0")
            try netlink.setMaster(.index(a0.index), master: nil)
            var shown = try #require(Command.ipJSON(ns.name, ["link", "show", "dev", "renamed0"]).first)
            #expect(shown["ifindex"] as? Int == Int(a0.index))
            #expect(shown["mtu"] as? Int == 1280)
            #expect(shown["address"] as? String == "02:aa:bb:cc:dd:01")
            #expect(shown["master"] == nil)
            #expect(try netlink.linkIfPresent(named: "a0") == nil)

            try netlink.setLink(.index(a0.index), LinkChanges(up: true, masterIndex: bridge.index))
            shown = try #require(Command.ipJSON(ns.name, ["link", "show", "dev", "renamed0"]).first)
            #expect(shown["master"] as? String == "br0")
            #expect((shown["flags"] as? [String])?.contains("UP") == true)
            try netlink.setDown(.name("renamed0"))
            #expect(try netlink.link(named: "renamed0").isUp == false)

            try netlink.deleteLink(.name("renamed0"))
            #expect(names(try Command.ipJSON(ns.name, ["link"])) == ["lo", "br0"])
        }
    }

    @Test("duplicate names give EEXIST naming the object and namespace")
    func duplicates() throws {
        try KernelTest.withNamespacesSync(1, prefix: "pldup") { namespaces in
            let ns = namespaces[0]
            let netlink = try RouteNetlink(namespace: ns)
            let bridge = try netlink.createBridge(name: "br0")
            func isEEXIST(_ object: String) -> (any Error) -> Bool {
                { error in
                    guard let error = error as? KernelError else { return false }
                    return error.errno == .fileExists && error.object == object && error.namespace == ns.name
                        && "\(error)".contains("in netns \"\(ns.name)\": File exists (EEXIST)")
                }
            }
            #expect(performing: { try netlink.createBridge(name: "br0") }, throws: isEEXIST("bridge \"br0\""))
            #expect(performing: { try netlink.createVeth(VethConfiguration(name: "br0", peer: .init(name: "p1"))) },
                    throws: isEEXIST("veth \"br0\" (peer \"p1\")"))
            #expect(performing: { try netlink.createVXLAN(VXLANConfiguration(name: "br0", id: 5)) }, throws: isEEXIST("vxlan \"br0\" id 5"))
            let address = InterfaceAddress(interfaceIndex: bridge.index, try IPv4Interface(parsing: "10.1.0.1/24"))
            try netlink.addAddress(address, interfaceName: "br0")
            #expect(performing: { try netlink.addAddress(address, interfaceName: "br0") }, throws: isEEXIST("address 10.1.0.1/24 on \"br0\""))
            try netlink.replaceAddress(address)
            let neighbor = Neighbor(interfaceIndex: bridge.index, address: IPv4Address(10, 1, 0, 5), mac: try MACAddress(parsing: "02:00:00:00:00:05"))
            try netlink.addNeighbor(neighbor)
            #expect(performing: { try netlink.addNeighbor(neighbor) }, throws: isEEXIST("neighbour 10.1.0.5 on link #\(bridge.index)"))
            #expect(names(try Command.ipJSON(ns.name, ["link"])) == ["lo", "br0"])
        }
    }

    @Test("missing devices give ENODEV")
    func missingDevices() throws {
        try KernelTest.withNamespacesSync(1, prefix: "plnodev") { namespaces in
            let netlink = try RouteNetlink(namespace: namespaces[0])
            func isENODEV(_ object: String) -> (any Error) -> Bool {
                { error in
                    guard let error = error as? KernelError else { return false }
                    return error.errno == .noSuchDevice && error.object == object && "\(error)".contains("(ENODEV)")
                }
            }
            #expect(performing: { try netlink.link(named: "nope0") }, throws: isENODEV("link \"nope0\""))
            #expect(performing: { try netlink.link(index: 9999) }, throws: isENODEV("link #9999"))
            #expect(performing: { try netlink.setUp(.name("nope0")) }, throws: isENODEV("link \"nope0\""))
            #expect(performing: { try netlink.deleteLink(.index(9999, name: "gone0")) }, throws: isENODEV("link \"gone0\""))
            #expect(performing: { try netlink.addAddress(InterfaceAddress(interfaceIndex: 9999, try IPv4Interface(parsing: "10.0.0.1/24"))) },
                    throws: isENODEV("address 10.0.0.1/24 on link #9999"))
            #expect(performing: { try netlink.createVeth(VethConfiguration(name: "v0", masterIndex: 9999, peer: .init(name: "v1"))) },
                    throws: { Errno.noSuchDevice ~= $0 || Errno.invalidArgument ~= $0 })
            #expect(try netlink.linkIfPresent(named: "nope0") == nil)
            #expect(names(try Command.ipJSON(namespaces[0].name, ["link"])) == ["lo"])
        }
    }

    @Test("vxlan create and dump with its attributes")
    func vxlan() throws {
        try KernelTest.withNamespacesSync(1, prefix: "plvx") { namespaces in
            let ns = namespaces[0]
            let netlink = try RouteNetlink(namespace: ns)
            try netlink.createVeth(VethConfiguration(name: "ul0", up: true, peer: .init(name: "ul1")))
            let underlay = try netlink.link(named: "ul0")
            try netlink.addAddress(InterfaceAddress(interfaceIndex: underlay.index, try IPv4Interface(parsing: "192.168.200.11/24")))
            let vxlan = try netlink.createVXLAN(VXLANConfiguration(name: "vx0", id: 4242, local: IPv4Address(192, 168, 200, 11), port: 4789,
                                                                   underlyingIndex: underlay.index, learning: false, ttl: 16, mtu: 1450, up: true))
            #expect(vxlan.kind == "vxlan")
            #expect(vxlan.mtu == 1450)
            #expect(vxlan.vxlan == VXLANInfo(id: 4242, local: IPv4Address(192, 168, 200, 11), port: 4789, underlyingIndex: underlay.index,
                                             learning: false, ttl: 16))
            #expect(try netlink.links().first { $0.name == "vx0" } == vxlan)

            let shown = try #require(Command.ipJSON(ns.name, ["-d", "link", "show", "dev", "vx0"]).first)
            let info = try #require(shown["linkinfo"] as? [String: Any])
            #expect(info["info_kind"] as? String == "vxlan")
            let data = try #require(info["info_data"] as? [String: Any])
            #expect(data["id"] as? Int == 4242)
            #expect(data["local"] as? String == "192.168.200.11")
            #expect(data["port"] as? Int == 4789)
            #expect(data["link"] as? String == "ul0")
            #expect(data["learning"] as? Bool == false)
            #expect(data["ttl"] as? Int == 16)
        }
    }

    @Test("bridge FDB entries on a vxlan: add, append, replace, dump, delete")
    func fdb() throws {
        try KernelTest.withNamespacesSync(1, prefix: "plfdb") { namespaces in
            let ns = namespaces[0]
            let netlink = try RouteNetlink(namespace: ns)
            let vx = try netlink.createVXLAN(VXLANConfiguration(name: "vx0", id: 7, local: IPv4Address(192, 168, 200, 11), learning: false))
            let peerMAC = try MACAddress(parsing: "02:00:00:00:07:02")
            let remote12 = IPAddress.v4(IPv4Address(192, 168, 200, 12)), remote13 = IPAddress.v4(IPv4Address(192, 168, 200, 13))
            try netlink.appendFDBEntry(FDBEntry(interfaceIndex: vx.index, mac: FDBEntry.floodMAC, destination: remote12))
            try netlink.appendFDBEntry(FDBEntry(interfaceIndex: vx.index, mac: FDBEntry.floodMAC, destination: remote13))
            try netlink.addFDBEntry(FDBEntry(interfaceIndex: vx.index, mac: peerMAC, destination: remote12))
            #expect(performing: { try netlink.addFDBEntry(FDBEntry(interfaceIndex: vx.index, mac: peerMAC, destination: remote12)) },
                    throws: { Errno.fileExists ~= $0 && "\($0)".contains("fdb entry 02:00:00:00:07:02 dst 192.168.200.12") })
            try netlink.replaceFDBEntry(FDBEntry(interfaceIndex: vx.index, mac: peerMAC, destination: remote13))

            func independent() throws -> Set<String> {
                let text = try Command.check("bridge", ["-n", ns.name, "-j", "fdb", "show", "dev", "vx0"])
                let entries = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] ?? []
                return Set(entries.compactMap { entry in
                    guard let mac = entry["mac"] as? String, let dst = entry["dst"] as? String else { return nil }
                    return "\(mac) \(dst)"
                })
            }
            #expect(try independent() == ["00:00:00:00:00:00 192.168.200.12", "00:00:00:00:00:00 192.168.200.13", "02:00:00:00:07:02 192.168.200.13"])
            let ours = try netlink.fdbEntries(interfaceIndex: vx.index).filter { $0.destination != nil }
            #expect(Set(ours.map { "\($0.mac) \($0.destination!)" }) == (try independent()))
            #expect(ours.allSatisfy { $0.flags.contains(.device) && $0.state.contains(.permanent) })

            try netlink.deleteFDBEntry(FDBEntry(interfaceIndex: vx.index, mac: FDBEntry.floodMAC, destination: remote12))
            try netlink.deleteFDBEntry(FDBEntry(interfaceIndex: vx.index, mac: peerMAC))
            #expect(try independent() == ["00:00:00:00:00:00 192.168.200.13"])
            #expect(performing: { try netlink.deleteFDBEntry(FDBEntry(interfaceIndex: vx.index, mac: peerMAC)) },
                    throws: { Errno.noSuchFileOrDirectory ~= $0 })
        }
    }

    @Test("routes: add, replace, delete and dump, with gateway, device, table, protocol and metric")
    func routes() throws {
        try KernelTest.withNamespacesSync(1, prefix: "plroute") { namespaces in
            let ns = namespaces[0]
            let netlink = try RouteNetlink(namespace: ns)
            try netlink.createVeth(VethConfiguration(name: "r0", up: true, peer: .init(name: "r1")))
            let r0 = try netlink.link(named: "r0")
            try netlink.setUp(.name("r1"))
            try netlink.addAddress(InterfaceAddress(interfaceIndex: r0.index, try IPv4Interface(parsing: "10.9.0.1/24")))

            let network = try IPv4Prefix(parsing: "10.20.0.0/16")
            let route = Route(destination: network, gateway: IPv4Address(10, 9, 0, 2), outputIndex: r0.index, priority: 10)
            try netlink.addRoute(route)
            #expect(performing: { try netlink.addRoute(route) }, throws: { Errno.fileExists ~= $0 && "\($0)".contains("route 10.20.0.0/16 via 10.9.0.2") })
            try netlink.replaceRoute(Route(destination: network, gateway: IPv4Address(10, 9, 0, 3), outputIndex: r0.index, priority: 10))
            try netlink.addRoute(Route(destination: nil, gateway: IPv4Address(10, 9, 0, 254), outputIndex: r0.index, onlink: true,
                                       table: 100, routingProtocol: .static))
            try netlink.addRoute(Route(destination: try IPv4Prefix(parsing: "10.30.0.0/24"), outputIndex: r0.index))

            var main = try Command.ipJSON(ns.name, ["route", "show", "10.20.0.0/16"])
            #expect(main.count == 1)
            #expect(main.first?["gateway"] as? String == "10.9.0.3")
            #expect(main.first?["metric"] as? Int == 10)
            #expect(main.first?["dev"] as? String == "r0")
            let linkScope = try #require(Command.ipJSON(ns.name, ["route", "show", "10.30.0.0/24"]).first)
            #expect(linkScope["scope"] as? String == "link")
            let table100 = try Command.ipJSON(ns.name, ["route", "show", "table", "100"])
            #expect(table100.count == 1)
            #expect(table100.first?["dst"] as? String == "default")
            #expect(table100.first?["gateway"] as? String == "10.9.0.254")
            #expect(table100.first?["protocol"] as? String == "static")
            #expect(table100.first?["flags"] as? [String] == ["onlink"])

            let ours = try netlink.routes()
            #expect(ours.contains(Route(destination: network, gateway: IPv4Address(10, 9, 0, 3), outputIndex: r0.index, priority: 10)))
            #expect(try netlink.routes(table: 100) == [Route(destination: nil, gateway: IPv4Address(10, 9, 0, 254), outputIndex: r0.index,
                                                              onlink: true, table: 100, routingProtocol: .static)])
            #expect(try netlink.routes(table: nil).contains { $0.table == Route.localTable && $0.type == .local })

            try netlink.deleteRoute(Route(destination: network, table: Route.mainTable))
            #expect(performing: { try netlink.deleteRoute(Route(destination: network)) }, throws: { Errno.noSuchProcess ~= $0 })
            try netlink.deleteRoute(Route(destination: nil, table: 100))
            main = try Command.ipJSON(ns.name, ["route", "show", "10.20.0.0/16"])
            #expect(main.isEmpty)
            #expect(try Command.ipJSON(ns.name, ["route", "show", "table", "100"]).isEmpty)
        }
    }

    @Test("addresses: IPv4 with broadcast and IPv6, add, dump and delete")
    func addresses() throws {
        try KernelTest.withNamespacesSync(1, prefix: "pladdr") { namespaces in
            let ns = namespaces[0]
            let netlink = try RouteNetlink(namespace: ns)
            let bridge = try netlink.createBridge(name: "br0", up: true)
            let v4 = InterfaceAddress(interfaceIndex: bridge.index, try IPv4Interface(parsing: "10.244.1.1/24"), broadcast: IPv4Address(10, 244, 1, 255))
            let v6 = InterfaceAddress(interfaceIndex: bridge.index, address: try #require(IPAddress("fd00:244:1::1")), prefixLength: 64,
                                      flags: InterfaceAddress.noDAD)
            try netlink.addAddress(v4)
            try netlink.addAddress(v6)
            let shown = try #require(Command.ipJSON(ns.name, ["addr", "show", "dev", "br0"]).first?["addr_info"] as? [[String: Any]])
            let inet = try #require(shown.first { $0["family"] as? String == "inet" })
            #expect(inet["local"] as? String == "10.244.1.1")
            #expect(inet["prefixlen"] as? Int == 24)
            #expect(inet["broadcast"] as? String == "10.244.1.255")
            #expect(shown.contains { $0["family"] as? String == "inet6" && $0["local"] as? String == "fd00:244:1::1" && $0["prefixlen"] as? Int == 64 })

            let ours4 = try netlink.addresses(interfaceIndex: bridge.index)
            #expect(ours4.count == 1)
            #expect(ours4.first?.address == v4.address && ours4.first?.broadcast == v4.broadcast && ours4.first?.label == "br0")
            #expect(try netlink.addresses(family: .ipv6, interfaceIndex: bridge.index).contains { $0.address == v6.address && $0.prefixLength == 64 })

            try netlink.deleteAddress(v4)
            try netlink.deleteAddress(v6)
            #expect(performing: { try netlink.deleteAddress(v4) }, throws: { Errno.addressNotAvailable ~= $0 })
            let after = try Command.ipJSON(ns.name, ["addr", "show", "dev", "br0"]).first?["addr_info"] as? [[String: Any]] ?? []
            #expect(!after.contains { $0["scope"] as? String == "global" })
        }
    }

    @Test("neighbours: permanent add, replace, dump and delete")
    func neighbours() throws {
        try KernelTest.withNamespacesSync(1, prefix: "plneigh") { namespaces in
            let ns = namespaces[0]
            let netlink = try RouteNetlink(namespace: ns)
            let bridge = try netlink.createBridge(name: "br0", up: true)
            let first = try MACAddress(parsing: "02:00:00:00:00:0a"), second = try MACAddress(parsing: "02:00:00:00:00:0b")
            try netlink.addNeighbor(Neighbor(interfaceIndex: bridge.index, address: IPv4Address(10, 1, 0, 10), mac: first))
            try netlink.replaceNeighbor(Neighbor(interfaceIndex: bridge.index, address: IPv4Address(10, 1, 0, 10), mac: second))
            try netlink.replaceNeighbor(Neighbor(interfaceIndex: bridge.index, address: IPv4Address(10, 1, 0, 11), mac: first))
            let shown = try Command.ipJSON(ns.name, ["neigh", "show", "dev", "br0"])
            #expect(Set(shown.map { "\($0["dst"] ?? "") \($0["lladdr"] ?? "") \(($0["state"] as? [String]) ?? [])" })
                    == ["10.1.0.10 02:00:00:00:00:0b [\"PERMANENT\"]", "10.1.0.11 02:00:00:00:00:0a [\"PERMANENT\"]"])
            let ours = try netlink.neighbors(interfaceIndex: bridge.index).filter { $0.state == .permanent }
            #expect(Set(ours.map(\.description)) == ["10.1.0.10 dev #\(bridge.index) lladdr 02:00:00:00:00:0b PERMANENT",
                                                     "10.1.0.11 dev #\(bridge.index) lladdr 02:00:00:00:00:0a PERMANENT"])
            try netlink.deleteNeighbor(Neighbor(interfaceIndex: bridge.index, address: .v4(IPv4Address(10, 1, 0, 10)), mac: nil))
            #expect(performing: { try netlink.deleteNeighbor(Neighbor(interfaceIndex: bridge.index, address: .v4(IPv4Address(10, 1, 0, 10)), mac: nil)) },
                    throws: { Errno.noSuchFileOrDirectory ~= $0 })
            #expect(try Command.ipJSON(ns.name, ["neigh", "show", "dev", "br0"]).compactMap { $0["dst"] as? String } == ["10.1.0.11"])
        }
    }

    @Test("a failing batch reports which message failed; the kernel still applies the others")
    func failingBatch() throws {
        try KernelTest.withNamespacesSync(1, prefix: "plbatch") { namespaces in
            let ns = namespaces[0]
            let netlink = try RouteNetlink(namespace: ns)
            try netlink.createVeth(VethConfiguration(name: "eth0", peer: .init(name: "peer0")))
            let eth0 = try netlink.link(named: "eth0")
            let gateway = IPv4Address(10, 244, 1, 1)
            // The route comes before eth0 is up: an onlink next hop needs its device up (ENETDOWN).
            #expect {
                try netlink.perform(batch: [
                    .setLink(.name("lo"), LinkChanges(up: true)),
                    .addAddress(InterfaceAddress(interfaceIndex: eth0.index, try IPv4Interface(parsing: "10.244.1.2/32")), interfaceName: "eth0"),
                    .addRoute(.defaultRoute(via: gateway, outputIndex: eth0.index)),
                    .setLink(eth0.reference, LinkChanges(up: true)),
                ])
            } throws: { error in
                guard let error = error as? KernelError else { return false }
                return error.operation == "RTM_NEWROUTE" && error.object == "route default via 10.244.1.1 dev #\(eth0.index) onlink"
                    && error.errno == Errno(ENETDOWN) && error.namespace == ns.name && (error.detail ?? "").contains("message 3 of 4 in one batch")
            }
            let links = try Command.ipJSON(ns.name, ["link"])
            #expect(links.allSatisfy { ($0["ifname"] as? String == "peer0") || ($0["flags"] as? [String])?.contains("UP") == true })
            let addresses = try Command.ipJSON(ns.name, ["-4", "addr", "show", "dev", "eth0"]).first?["addr_info"] as? [[String: Any]]
            #expect(addresses?.first?["local"] as? String == "10.244.1.2")
            #expect(try Command.ipJSON(ns.name, ["route"]).isEmpty)
        }
    }

    @Test("sysctls are written inside the namespace only")
    func sysctl() throws {
        try KernelTest.withNamespacesSync(1, prefix: "plsys") { namespaces in
            let ns = namespaces[0]
            let before = try String(contentsOfFile: "/proc/sys/net/ipv4/conf/all/send_redirects", encoding: .utf8)
            let forwardingBefore = try String(contentsOfFile: "/proc/sys/net/ipv4/ip_forward", encoding: .utf8)
            try Sysctl.set([Sysctl.ipForwarding, Sysctl.Setting("net/ipv4/conf/all/send_redirects", "0")], in: ns)
            #expect(try Sysctl.value("net/ipv4/ip_forward", in: ns) == "1")
            #expect(try Sysctl.value("net/ipv4/conf/all/send_redirects", in: ns) == "0")
            // An independent reader: a process started inside the namespace.
            #expect(try Command.check("cat", ["/proc/sys/net/ipv4/ip_forward"], netns: ns.name) == "1\n")
            try Sysctl.set("net/ipv4/ip_forward", to: "0", in: ns)
            #expect(try Command.check("cat", ["/proc/sys/net/ipv4/ip_forward"], netns: ns.name) == "0\n")
            #expect(try String(contentsOfFile: "/proc/sys/net/ipv4/conf/all/send_redirects", encoding: .utf8) == before)
            #expect(try String(contentsOfFile: "/proc/sys/net/ipv4/ip_forward", encoding: .utf8) == forwardingBefore)
            #expect(performing: { try Sysctl.set("net/ipv4/no_such_setting", to: "1", in: ns) },
                    throws: { Errno.noSuchFileOrDirectory ~= $0 && "\($0)".contains("no such sysctl") })
            #expect(throws: ValidationError.self) { try Sysctl.set("kernel/hostname", to: "x", in: ns) }
        }
    }
}
