import Foundation
import KernelTestSupport
import Netlink
import Netns
import Addressing
import Testing

/// Test IP plan (every test has its own namespaces, so plans may repeat across tests):
/// node bridge `cni0` 10.244.1.1/24; pods 10.244.1.2, .3, … as /32 with `default via
/// 10.244.1.1 dev eth0 onlink`.
@Suite("Pod networking on a node bridge (root, real namespaces)", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired),
       .rootNamespaceUnchanged)
struct PodNetworkIntegrationTests {
    static let gateway = IPv4Address(10, 244, 1, 1)

    /// A node namespace with forwarding on, redirects off, and bridge `cni0` holding the gateway address.
    static func makeNode(_ namespace: NetworkNamespace) throws -> (netlink: RouteNetlink, bridge: Link) {
        try Sysctl.set([Sysctl.ipForwarding,
                        Sysctl.Setting("net/ipv4/conf/all/send_redirects", "0"),
                        Sysctl.Setting("net/ipv4/conf/default/send_redirects", "0")], in: namespace)
        let node = try RouteNetlink(namespace: namespace)
        let bridge = try node.createBridge(name: "cni0", up: true)
        try node.addAddress(InterfaceAddress(interfaceIndex: bridge.index, try IPv4Interface(gateway, length: 24)), interfaceName: "cni0")
        return (node, bridge)
    }

    @Test("two pods on one bridge reach each other over TCP; kernel state matches ip's view")
    func podToPod() throws {
        try KernelTest.withNamespacesSync(3, prefix: "plnode") { namespaces in
            let (nodeNS, podANS, podBNS) = (namespaces[0], namespaces[1], namespaces[2])
            let (node, bridge) = try Self.makeNode(nodeNS)
            let addressA = IPv4Address(10, 244, 1, 2), addressB = IPv4Address(10, 244, 1, 3)
            let podA = try node.setUpPodInterface(PodInterfaceConfiguration(hostInterfaceName: "vetha", address: addressA, gateway: Self.gateway, mtu: 1400),
                                                  bridge: bridge, pod: try RouteNetlink(namespace: podANS), podNamespace: podANS)
            let podB = try node.setUpPodInterface(PodInterfaceConfiguration(hostInterfaceName: "vethb", address: addressB, gateway: Self.gateway, mtu: 1400,
                                                                            ipv6LinkLocal: false),
                                                  bridge: bridge, pod: try RouteNetlink(namespace: podBNS), podNamespace: podBNS)
            #expect(podA.podName == "eth0" && podB.podName == "eth0")
            #expect(podA.gatewayMAC == bridge.mac)

            // Real traffic: a listener inside pod B, a client process spawned into pod A.
            let port: UInt16 = 8080
            let listener = try TCPListener(in: podBNS, address: addressB, port: port)
            defer { listener.close() }
            let client = try Spawner.spawn(SpawnRequest(executable: "/bin/bash",
                                                        arguments: ["-c", "exec 3<>/dev/tcp/\(addressB)/\(port) && echo hi-from-a >&3"],
                                                        stderr: .inherit, networkNamespace: podANS.name))
            var reaped = false
            defer { if !reaped { try? client.signal(SIGKILL); _ = try? client.wait() } }
            let connection = try listener.accept(while: client)
            reaped = connection.clientStatus != nil
            #expect(connection.peer == addressA)
            #expect(connection.received == "hi-from-a\n")
            let status = try connection.clientStatus ?? client.wait()
            reaped = true
            #expect(status == .exited(0))

            // The node, as `ip` sees it: both host ends on the bridge, up, with the pods' MTU.
            let nodeLinks = try Command.ipJSON(nodeNS.name, ["link"])
            for (name, pod) in [("vetha", podA), ("vethb", podB)] {
                let link = try #require(nodeLinks.first { $0["ifname"] as? String == name })
                #expect(link["master"] as? String == "cni0")
                #expect(link["mtu"] as? Int == 1400)
                #expect((link["flags"] as? [String])?.contains("UP") == true)
                #expect(link["ifindex"] as? Int == Int(pod.hostIndex))
            }
            // The node's permanent entries pod IP → pod MAC on the bridge; no dynamic ones were needed.
            let nodeNeighbors = try Command.ipJSON(nodeNS.name, ["neigh"])
            for pod in [podA, podB] {
                let entry = try #require(nodeNeighbors.first { $0["dst"] as? String == "\(pod.address)" })
                #expect(entry["dev"] as? String == "cni0")
                #expect(entry["lladdr"] as? String == "\(pod.podMAC)")
                #expect(entry["state"] as? [String] == ["PERMANENT"])
            }
            #expect(nodeNeighbors.allSatisfy { $0["state"] as? [String] == ["PERMANENT"] })

            // Each pod: lo and eth0 up, its /32, the onlink default route, one permanent gateway entry.
            for (namespace, pod) in [(podANS, podA), (podBNS, podB)] {
                let links = try Command.ipJSON(namespace.name, ["link"])
                #expect(Set(links.compactMap { $0["ifname"] as? String }) == ["lo", "eth0"])
                for link in links { #expect((link["flags"] as? [String])?.contains("UP") == true) }
                let eth0 = try #require(links.first { $0["ifname"] as? String == "eth0" })
                #expect(eth0["address"] as? String == "\(pod.podMAC)")
                #expect(eth0["mtu"] as? Int == 1400)

                let addresses = try Command.ipJSON(namespace.name, ["-4", "addr", "show", "dev", "eth0"])
                let info = try #require(addresses.first?["addr_info"] as? [[String: Any]])
                #expect(info.map { "\($0["local"] ?? "")/\($0["prefixlen"] ?? "")" } == ["\(pod.address)/32"])

                let routes = try Command.ipJSON(namespace.name, ["route"])
                #expect(routes.count == 1)
                #expect(routes.first?["dst"] as? String == "default")
                #expect(routes.first?["gateway"] as? String == "\(Self.gateway)")
                #expect(routes.first?["dev"] as? String == "eth0")
                #expect(routes.first?["flags"] as? [String] == ["onlink"])

                let neighbors = try Command.ipJSON(namespace.name, ["neigh"])
                #expect(neighbors.count == 1)
                #expect(neighbors.first?["dst"] as? String == "\(Self.gateway)")
                #expect(neighbors.first?["lladdr"] as? String == "\(pod.gatewayMAC)")
                #expect(neighbors.first?["state"] as? [String] == ["PERMANENT"])
            }

            // IPv6 link-local: the kernel's default in pod A, none in pod B (which asked for none).
            // Both ends of each pair have a single queue each way.
            for (namespace, expected) in [(podANS, 1), (podBNS, 0)] {
                let inet6 = try Command.ipJSON(namespace.name, ["-6", "addr", "show", "dev", "eth0"])
                let linkLocal = (inet6.first?["addr_info"] as? [[String: Any]] ?? []).filter { $0["scope"] as? String == "link" }
                #expect(linkLocal.count == expected, "\(namespace.name): \(linkLocal)")
                let details = try #require(try Command.ipJSON(namespace.name, ["-d", "link", "show", "dev", "eth0"]).first)
                #expect(details["num_tx_queues"] as? Int == 1 && details["num_rx_queues"] as? Int == 1)
            }
            for name in ["vetha", "vethb"] {
                let details = try #require(try Command.ipJSON(nodeNS.name, ["-d", "link", "show", "dev", name]).first)
                #expect(details["num_tx_queues"] as? Int == 1 && details["num_rx_queues"] as? Int == 1)
            }

            // podlab's own reader agrees.
            let podLinks = try node.links()
            #expect(podLinks.filter { $0.masterIndex == bridge.index }.map(\.name).sorted() == ["vetha", "vethb"])
            #expect(podLinks.first { $0.name == "vetha" }?.kind == "veth")
            #expect(podLinks.first { $0.name == "vetha" }?.portKind == "bridge")
            let podANetlink = try RouteNetlink(namespace: podANS)
            #expect(try podANetlink.routes() == [.defaultRoute(via: Self.gateway, outputIndex: podA.podIndex)])
            #expect(try podANetlink.addresses(interfaceIndex: podA.podIndex).map(\.address) == [.v4(addressA)])
            #expect(try podANetlink.neighbors().map(\.state) == [.permanent])

            // Teardown: the node's entries go with removePodInterfaces.
            try node.removePodInterfaces([podA, podB])
            try node.removePodInterfaces([podA, podB])  // idempotent
            // A deleted entry that a socket still references lingers as FAILED until garbage
            // collection; no entry may keep its address.
            let remaining = try node.neighbors(interfaceIndex: bridge.index).filter { [.v4(addressA), .v4(addressB)].contains($0.address) }
            #expect(remaining.allSatisfy { $0.mac == nil && !$0.state.contains(.permanent) }, "\(remaining)")
            #expect(try Command.ipJSON(nodeNS.name, ["neigh"]).allSatisfy { $0["lladdr"] == nil })
        }
    }

    @Test("deleting a pod's namespace removes its veth pair from the node (nothing else holds the namespace)")
    func namespaceDeletionRemovesVeth() throws {
        try KernelTest.withNamespacesSync(1, prefix: "plteard") { namespaces in
            let (node, bridge) = try Self.makeNode(namespaces[0])
            let podName = KernelTest.uniqueName("plteardp")
            defer { try? NetworkNamespace.delete(podName, ignoreMissing: true) }
            let pod: PodInterface
            do {
                let (namespace, netlink) = try RouteNetlink.createNamespace(podName)
                pod = try node.setUpPodInterface(PodInterfaceConfiguration(hostInterfaceName: "vethgone", address: IPv4Address(10, 244, 1, 4), gateway: Self.gateway),
                                                 bridge: bridge, pod: netlink, podNamespace: namespace)
            }
            #expect(try node.linkIfPresent(named: "vethgone") != nil)
            try NetworkNamespace.delete(podName)
            try node.removePodInterfaces([pod])
            // The kernel dismantles the namespace asynchronously once its last reference (a bind
            // mount, an fd, a socket) is gone; wait for it (bounded: this checks state, not speed).
            var present = true
            for _ in 0..<500 where present {
                present = try node.linkIfPresent(named: "vethgone") != nil
                if present { usleep(10_000) }
            }
            #expect(!present, "the host veth survived its pod's namespace: something still holds the namespace")
            #expect(try Command.ipJSON(namespaces[0].name, ["neigh"]).isEmpty)
        }
    }

    @Test("a failed pod setup leaves no veth in the node and no interface in the pod")
    func failedSetupRollsBack() throws {
        try KernelTest.withNamespacesSync(2, prefix: "plfail") { namespaces in
            let (nodeNS, podNS) = (namespaces[0], namespaces[1])
            let (node, bridge) = try Self.makeNode(nodeNS)
            // The pod already has a default route (through a veth pair of its own), so the pod-side
            // batch fails at its route message, after the veth pair exists.
            let pod = try RouteNetlink(namespace: podNS)
            try pod.createVeth(VethConfiguration(name: "x0", up: true, peer: .init(name: "x1")))
            let x0 = try pod.link(named: "x0")
            try pod.addAddress(InterfaceAddress(interfaceIndex: x0.index, try IPv4Interface(parsing: "10.99.0.1/24")))
            try pod.addRoute(Route(destination: nil, gateway: IPv4Address(10, 99, 0, 2), outputIndex: x0.index))

            #expect {
                try node.setUpPodInterface(PodInterfaceConfiguration(hostInterfaceName: "vethfail", address: IPv4Address(10, 244, 1, 9), gateway: Self.gateway),
                                           bridge: bridge, pod: pod, podNamespace: podNS)
            } throws: { error in
                guard let error = error as? KernelError else { return false }
                return error.operation == "RTM_NEWROUTE" && error.object.hasPrefix("route default via 10.244.1.1")
                    && error.errno == .fileExists && error.namespace == podNS.name && (error.detail ?? "").contains("message 4 of 5")
            }
            let nodeLinks = try Command.ipJSON(nodeNS.name, ["link"]).compactMap { $0["ifname"] as? String }
            #expect(Set(nodeLinks) == ["lo", "cni0"])
            #expect(try Command.ipJSON(nodeNS.name, ["neigh"]).isEmpty)
            let podLinks = try Command.ipJSON(podNS.name, ["link"]).compactMap { $0["ifname"] as? String }
            #expect(!podLinks.contains("eth0"))
        }
    }

    @Test("a pod setup whose host name is taken fails with EEXIST and leaves the existing link alone")
    func hostNameTaken() throws {
        try KernelTest.withNamespacesSync(2, prefix: "pltaken") { namespaces in
            let (nodeNS, podNS) = (namespaces[0], namespaces[1])
            let (node, bridge) = try Self.makeNode(nodeNS)
            try node.createVeth(VethConfiguration(name: "vethtaken", peer: .init(name: "other")))
            let existing = try node.link(named: "vethtaken")
            #expect {
                try node.setUpPodInterface(PodInterfaceConfiguration(hostInterfaceName: "vethtaken", address: IPv4Address(10, 244, 1, 5), gateway: Self.gateway),
                                           bridge: bridge, pod: try RouteNetlink(namespace: podNS), podNamespace: podNS)
            } throws: { error in
                guard let error = error as? KernelError else { return false }
                return error.errno == .fileExists && error.operation == "RTM_NEWLINK"
                    && error.object == "veth \"vethtaken\" (peer \"eth0\" in netns \"\(podNS.name)\")"
                    && "\(error)".contains("File exists (EEXIST)")
            }
            #expect(try node.link(named: "vethtaken").index == existing.index)
            #expect(try Command.ipJSON(podNS.name, ["link"]).compactMap { $0["ifname"] as? String } == ["lo"])
        }
    }
}

/// A TCP listener opened inside a namespace (the socket stays bound to it).
struct TCPListener {
    let fd: Int32

    init(in namespace: NetworkNamespace, address: IPv4Address, port: UInt16) throws {
        fd = try namespace.perform { () throws -> Int32 in
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw KernelError(operation: "socket", object: "tcp", errno: .current) }
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            sin.sin_addr.s_addr = address.value.bigEndian
            let bound = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard bound == 0, listen(fd, 8) == 0 else {
                let code = Errno.current
                Glibc.close(fd)
                throw KernelError(operation: "bind/listen", object: "\(address):\(port)", errno: code)
            }
            return fd
        }
    }

    func close() { Glibc.close(fd) }

    struct Connection {
        var peer: IPv4Address
        var received: String
        /// Set when the client ended before connecting (then `received` is empty).
        var clientStatus: TerminationStatus?
    }

    /// Accepts one connection and reads it to EOF. Gives up when `client` exits without
    /// connecting, or after 10 s (a guard against hanging, not a timing check).
    func accept(while client: ChildProcess) throws -> Connection {
        var ready = false
        for _ in 0..<100 where !ready {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            ready = poll(&pfd, 1, 100) > 0 && pfd.revents & Int16(POLLIN) != 0
            if !ready, let status = try client.poll() {
                Issue.record("the client exited (\(status)) without connecting")
                return Connection(peer: .any, received: "", clientStatus: status)
            }
        }
        guard ready else { throw KernelError(operation: "accept", object: "listener", errno: .timedOut, detail: "no connection within 10 s") }
        var sin = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let connection = withUnsafeMutablePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.accept(fd, $0, &length) }
        }
        guard connection >= 0 else { throw KernelError(operation: "accept", object: "listener", errno: .current) }
        defer { Glibc.close(connection) }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        for _ in 0..<100 {
            var pfd = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 100) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { read(connection, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            data += buffer[0..<n]
        }
        return Connection(peer: IPv4Address(UInt32(bigEndian: sin.sin_addr.s_addr)), received: String(decoding: data, as: UTF8.self))
    }
}
