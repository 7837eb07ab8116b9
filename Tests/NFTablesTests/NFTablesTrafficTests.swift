import Foundation
import KernelTestSupport
import Netns
import Netlink
import NFTables
import Addressing
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Real traffic through the service layout: a client connects to a virtual IP, the router
/// namespace (where the rules live) DNATs it, and a backend accepts the connection.
/// The namespaces are wired with the Netlink module.
@Suite("nftables DNAT with real traffic", .enabled(if: KernelTest.isRoot && KernelTest.hasNft, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct NFTablesTrafficTests {
    /// client (10.0.1.2) — (10.0.1.1) router (10.0.2.1) — backend (10.0.2.2, 10.0.2.3), wired
    /// with the Netlink module: veth peers are born inside the client and backend namespaces.
    static func wire(client: NetworkNamespace, router: NetworkNamespace, backend: NetworkNamespace) throws {
        let routerLinks = try RouteNetlink(namespace: router)
        let clientLinks = try RouteNetlink(namespace: client)
        let backendLinks = try RouteNetlink(namespace: backend)
        try routerLinks.createVeth(VethConfiguration(name: "rc", up: true, peer: .init(name: "eth0")), peerNamespace: client)
        try routerLinks.createVeth(VethConfiguration(name: "rb", up: true, peer: .init(name: "eth0")), peerNamespace: backend)
        func address(_ netlink: RouteNetlink, _ link: String, _ interfaces: [String]) throws -> Int32 {
            let index = try netlink.link(named: link).index
            for interface in interfaces { try netlink.addAddress(InterfaceAddress(interfaceIndex: index, IPv4Interface(interface)!)) }
            try netlink.setUp(.index(index))
            return index
        }
        _ = try address(routerLinks, "rc", ["10.0.1.1/24"])
        _ = try address(routerLinks, "rb", ["10.0.2.1/24"])
        let clientEth = try address(clientLinks, "eth0", ["10.0.1.2/24"])
        let backendEth = try address(backendLinks, "eth0", ["10.0.2.2/24", "10.0.2.3/24"])
        for netlink in [routerLinks, clientLinks, backendLinks] { try netlink.setUp(.name("lo")) }
        try clientLinks.addRoute(.defaultRoute(via: IPv4Address("10.0.1.1")!, outputIndex: clientEth, onlink: false))
        try backendLinks.addRoute(.defaultRoute(via: IPv4Address("10.0.2.1")!, outputIndex: backendEth, onlink: false))
        try Sysctl.set([Sysctl.ipForwarding], in: router)
    }

    @Test("a client reaches the backend through both service shapes; counters count it")
    func dnatTraffic() async throws {
        try await KernelTest.withNamespaces(3, prefix: "pltdn") { namespaces in
            let (client, router, backend) = (namespaces[0], namespaces[1], namespaces[2])
            try Self.wire(client: client, router: router, backend: backend)
            let nft = try NFTablesConnection(namespace: router)
            try nft.apply(ServiceLayout.transaction())

            let listener = try backend.perform { try TCP.listen(port: 8080) }
            defer { close(listener) }

            for vip in [ServiceLayout.webVIP, ServiceLayout.lbVIP] {
                for _ in 0..<4 {
                    let socket = try client.perform { try TCP.socket() }
                    defer { close(socket) }
                    try TCP.connect(socket, to: vip, port: 80)
                    let (accepted, peer, local) = try TCP.accept(listener)
                    close(accepted)
                    // DNAT only: the backend sees the client's own address, on one of its endpoints.
                    #expect(peer == IPv4Address("10.0.1.2")!)
                    #expect([ServiceLayout.backendA, ServiceLayout.backendB].contains(local))
                }
            }

            // A port the service does not expose is not translated: nothing answers there.
            let stray = try client.perform { try TCP.socket() }
            defer { close(stray) }
            #expect(throws: Errno.self) { try TCP.connect(stray, to: ServiceLayout.webVIP, port: 81, timeoutSeconds: 1) }

            let counted = try #require(try nft.rules(in: ServiceLayout.table).first { $0.chain == ServiceLayout.prerouting.name }?.counter)
            #expect(counted.packets >= 8)
            #expect(counted.bytes > 0)
            // nft agrees on the counter.
            let json = try Command.nftJSON(router.name, ["list", "chain", "ip", "podlab", ServiceLayout.prerouting.name])
            let packets = json.compactMap { $0["rule"] as? [String: Any] }.flatMap { ($0["expr"] as? [[String: Any]]) ?? [] }
                .compactMap { ($0["counter"] as? [String: Any])?["packets"] as? Int }
            #expect(packets.first.map(UInt64.init) ?? 0 >= counted.packets)
        }
    }
}

/// Minimal blocking TCP helpers on raw sockets (sockets keep the namespace they were made in).
enum TCP {
    static func socket() throws -> Int32 {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Errno.current }
        return fd
    }

    static func address(_ ip: IPv4Address, _ port: UInt16) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = ip.value.bigEndian
        return addr
    }

    static func listen(port: UInt16) throws -> Int32 {
        let fd = try socket()
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = address(.any, port)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, Glibc.listen(fd, 64) == 0 else {
            let code = Errno.current
            close(fd)
            throw code
        }
        return fd
    }

    static func connect(_ fd: Int32, to ip: IPv4Address, port: UInt16, timeoutSeconds: Int = 5) throws {
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var addr = address(ip, port)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if rc != 0 { throw Errno.current }
    }

    /// Accepts one connection (waiting at most 5 s); returns it with the peer and local addresses.
    static func accept(_ listener: Int32) throws -> (Int32, IPv4Address, IPv4Address) {
        var poll = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        guard Glibc.poll(&poll, 1, 5_000) == 1 else { throw Errno.timedOut }
        var peer = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = withUnsafeMutablePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.accept(listener, $0, &length) } }
        guard fd >= 0 else { throw Errno.current }
        var local = sockaddr_in()
        length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return (fd, IPv4Address(UInt32(bigEndian: peer.sin_addr.s_addr)), IPv4Address(UInt32(bigEndian: local.sin_addr.s_addr)))
    }
}
