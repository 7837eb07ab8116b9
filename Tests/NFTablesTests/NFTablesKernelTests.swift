import Foundation
import KernelTestSupport
import Netns
import NFTables
import Addressing
import Testing

@Suite("nftables in namespaces", .enabled(if: KernelTest.isRoot && KernelTest.hasNft, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct NFTablesKernelTests {
    @Test("the service layout round-trips through the kernel and matches nft's own reading")
    func roundTrip() async throws {
        try await KernelTest.withNamespaces(1, prefix: "pltnft") { namespaces in
            let ns = namespaces[0]
            let nft = try NFTablesConnection(namespace: ns)
            try nft.apply(ServiceLayout.transaction())
            let listed = try nft.ruleset()

            #expect(listed.tables.map(\.identity) == [ServiceLayout.table])
            #expect(listed.chains.map(\.identity) == ServiceLayout.chains)
            #expect(listed.rules.map(\.identity) == ServiceLayout.rules)
            #expect(listed.rules.allSatisfy { $0.handle != nil })
            #expect(listed.sets.map(\.identity) == ServiceLayout.sets.map(\.identity))
            #expect(listed.set(ServiceLayout.table, "service-ips")?.elements == ServiceLayout.serviceElements)
            #expect(Set(listed.set(ServiceLayout.table, "backends")?.elements ?? []) == Set(ServiceLayout.backendElements))
            #expect(listed.set(ServiceLayout.table, "pod-cidrs")?.elements == ServiceLayout.podCIDRElements)

            // nft's text for each chain equals our rule descriptions, line by line.
            for chain in ServiceLayout.chains {
                let text = try Command.check("nft", ["list", "chain", "ip", "podlab", chain.name], netns: ns.name)
                let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                let ruleLines = lines.filter { !$0.hasPrefix("table") && !$0.hasPrefix("chain") && !$0.hasPrefix("type") && $0 != "}" && !$0.isEmpty }
                #expect(ruleLines == ServiceLayout.rules.filter { $0.chain == chain.name }.map(\.description), "chain \(chain.name):\n\(text)")
            }

            // nft -j: the same objects, handles and hooks.
            let json = try Command.nftJSON(ns.name)
            let chains = json.compactMap { $0["chain"] as? [String: Any] }
            #expect(Set(chains.compactMap { $0["name"] as? String }) == Set(ServiceLayout.chains.map(\.name)))
            let post = try #require(chains.first { $0["name"] as? String == "nat-postrouting" })
            #expect(post["hook"] as? String == "postrouting")
            #expect(post["prio"] as? Int == 100)
            #expect(post["type"] as? String == "nat")
            #expect(post["policy"] as? String == "accept")
            let jsonRules = json.compactMap { $0["rule"] as? [String: Any] }
            #expect(Set(jsonRules.compactMap { ($0["handle"] as? Int).map(UInt64.init) }) == Set(listed.rules.compactMap(\.handle)))
            let jsonSets = json.compactMap { $0["map"] as? [String: Any] ?? $0["set"] as? [String: Any] }
            #expect(Set(jsonSets.compactMap { $0["name"] as? String }) == ["service-ips", "backends", "pod-cidrs", "marks"])
            let serviceMap = try #require(jsonSets.first { $0["name"] as? String == "service-ips" })
            #expect(serviceMap["type"] as? [String] == ["ipv4_addr", "inet_proto", "inet_service"])
            #expect(serviceMap["map"] as? String == "verdict")

            // Applying the same layout again is idempotent.
            try nft.apply(ServiceLayout.transaction())
            #expect(try nft.ruleset().rules.map(\.identity) == ServiceLayout.rules)
        }
    }

    @Test("nft lists map values in the right byte order and typeof sets with their expressions")
    func nftPrintsTypedValues() async throws {
        try await KernelTest.withNamespaces(1, prefix: "pltnft") { namespaces in
            let ns = namespaces[0]
            let nft = try NFTablesConnection(namespace: ns)
            let table = Table(.ip, "t")
            let marks = NFTSet(table, "marks", key: .type(.ipv4Address), data: .type(.mark))
            let ports = NFTSet(table, "ports", key: .type(.inetService), data: .type(.inetService))
            let ifaces = NFTSet(table, "ifaces", key: .type(.ifname))
            var tx = Transaction()
            tx.add(table)
            tx.add(marks); tx.add(ports); tx.add(ifaces); tx.add(ServiceLayout.backends.moved(to: table))
            tx.add([SetElement(.ipv4(IPv4Address("10.0.0.1")!), .mark(42))], to: marks)
            tx.add([SetElement(.port(80), .port(8080))], to: ports)
            tx.add([SetElement(.ifname("eth0"))], to: ifaces)
            tx.add(ServiceLayout.backendElements, to: ServiceLayout.backends.moved(to: table))
            try nft.apply(tx)
            let text = try Command.check("nft", ["list", "table", "ip", "t"], netns: ns.name)
            #expect(text.contains("elements = { 10.0.0.1 : 0x0000002a }"), "\(text)")
            #expect(text.contains("elements = { 80 : 8080 }"), "\(text)")
            #expect(text.contains("elements = { \"eth0\" }"), "\(text)")
            #expect(text.contains("typeof ip daddr . meta l4proto . th dport . numgen random mod 2 : ip daddr . th dport"), "\(text)")
            #expect(text.contains("10.96.0.11 . tcp . 80 . 0 : 10.0.2.2 . 8080"), "\(text)")
        }
    }

    @Test("a transaction with one bad rule changes nothing and names the rule")
    func failedTransactionChangesNothing() async throws {
        try await KernelTest.withNamespaces(1, prefix: "pltnft") { namespaces in
            let ns = namespaces[0]
            let nft = try NFTablesConnection(namespace: ns)
            try nft.apply(ServiceLayout.transaction())
            let before = try Command.check("nft", ["list", "ruleset"], netns: ns.name)

            var tx = Transaction()
            tx.add(Chain(ServiceLayout.table, "svc-new"))
            tx.add([SetElement(.concat([.ipv4(IPv4Address("10.96.0.99")!), .inetProtocol(.udp), .port(53)]), .jump("svc-new"))], to: ServiceLayout.serviceIPs)
            tx.add(Rule(table: ServiceLayout.table, chain: "svc-new", [.counter]))
            tx.add(Rule(table: ServiceLayout.table, chain: "svc-new", [.jump("no-such-chain")]))
            tx.flush(ServiceLayout.postrouting)
            let error = try #require(throws: KernelError.self) { try nft.apply(tx) }
            #expect(error.operation == "NFT_MSG_NEWRULE")
            #expect(error.object.contains("svc-new"), "\(error)")
            #expect(error.object.contains("jump no-such-chain"), "\(error)")
            #expect(error.errno == .noSuchFileOrDirectory)
            #expect(error.namespace == ns.name)

            let after = try Command.check("nft", ["list", "ruleset"], netns: ns.name)
            #expect(after == before)
        }
    }

    @Test("10 000 map elements go in one transaction; flush and delete clean up")
    func largeBatch() async throws {
        try await KernelTest.withNamespaces(1, prefix: "pltnft") { namespaces in
            let ns = namespaces[0]
            let nft = try NFTablesConnection(namespace: ns)
            try nft.apply(ServiceLayout.transaction())
            let elements = (0..<10_000).map { i in
                SetElement(.concat([.ipv4(IPv4Address(UInt32(0x0A60_0000) + UInt32(i + 256))), .inetProtocol(.tcp), .port(80)]), .jump(ServiceLayout.serviceWeb.name))
            }
            var tx = Transaction()
            tx.add(elements, to: ServiceLayout.serviceIPs)
            try nft.apply(tx)
            let listed = try nft.elements(of: ServiceLayout.serviceIPs)
            #expect(listed.count == 10_000 + ServiceLayout.serviceElements.count)
            // Named differences, not 10 000 elements, if this ever fails.
            let missing = Set(elements).subtracting(listed)
            let unexpected = Set(listed).subtracting(elements).subtracting(ServiceLayout.serviceElements)
            #expect(missing.isEmpty && unexpected.isEmpty,
                    "\(missing.count) missing (\(missing.prefix(3).map { "\($0)" })), \(unexpected.count) unexpected (\(unexpected.prefix(3).map { "\($0)" }))")
            let json = try Command.nftJSON(ns.name, ["list", "map", "ip", "podlab", "service-ips"])
            let map = try #require(json.compactMap { $0["map"] as? [String: Any] }.first)
            #expect((map["elem"] as? [Any])?.count == 10_002)

            // Deleting half of them by key, then flushing, then deleting the table.
            var remove = Transaction()
            remove.delete(Array(elements.prefix(5_000)), from: ServiceLayout.serviceIPs)
            try nft.apply(remove)
            #expect(try nft.elements(of: ServiceLayout.serviceIPs).count == 5_002)
            var flush = Transaction()
            flush.flush(ServiceLayout.serviceIPs)
            flush.flush(ServiceLayout.table)
            try nft.apply(flush)
            #expect(try nft.elements(of: ServiceLayout.serviceIPs).isEmpty)
            #expect(try nft.rules(in: ServiceLayout.table).isEmpty)
            var delete = Transaction()
            delete.delete(ServiceLayout.table)
            try nft.apply(delete)
            #expect(try nft.ruleset().tables.isEmpty)
            #expect(try Command.check("nft", ["list", "ruleset"], netns: ns.name).isEmpty)
        }
    }

    @Test("sets with timeouts and interval prefixes; elements and sets are deleted")
    func timeoutsAndDeletion() async throws {
        try await KernelTest.withNamespaces(1, prefix: "pltnft") { namespaces in
            let ns = namespaces[0]
            let nft = try NFTablesConnection(namespace: ns)
            let table = Table(.ip, "t")
            let recent = NFTSet(table, "recent", key: .type(.ipv4Address), flags: [.timeout], timeoutMilliseconds: 60_000)
            let blocked = NFTSet(table, "blocked", key: .type(.ipv4Address), flags: [.interval])
            var tx = Transaction()
            tx.add(table)
            tx.add(recent)
            tx.add(blocked)
            tx.add([SetElement(.ipv4(IPv4Address("10.1.1.1")!), timeoutMilliseconds: 30_000), SetElement(.ipv4(IPv4Address("10.1.1.2")!))], to: recent)
            tx.add([SetElement(.ipv4Prefix(IPv4Prefix("192.168.0.0/16")!)), SetElement(.ipv4Prefix(IPv4Prefix("10.0.0.0/8")!))], to: blocked)
            try nft.apply(tx)

            let listed = try #require(try nft.ruleset().set(table, "recent"))
            #expect(listed.identity == recent)
            #expect(listed.elements.map(\.key) == [.ipv4(IPv4Address("10.1.1.1")!), .ipv4(IPv4Address("10.1.1.2")!)])
            #expect(listed.elements.first?.timeoutMilliseconds == 30_000)
            let text = try Command.check("nft", ["list", "set", "ip", "t", "recent"], netns: ns.name)
            #expect(text.contains("timeout 1m"), "\(text)")
            #expect(try nft.elements(of: blocked) == [SetElement(.ipv4Prefix(IPv4Prefix("10.0.0.0/8")!)), SetElement(.ipv4Prefix(IPv4Prefix("192.168.0.0/16")!))])
            #expect(try Command.check("nft", ["list", "set", "ip", "t", "blocked"], netns: ns.name).contains("elements = { 10.0.0.0/8, 192.168.0.0/16 }"))

            var remove = Transaction()
            remove.delete([SetElement(.ipv4Prefix(IPv4Prefix("10.0.0.0/8")!))], from: blocked)
            remove.delete(recent)
            try nft.apply(remove)
            #expect(try nft.sets(in: table).map(\.name) == ["blocked"])
            #expect(try nft.elements(of: blocked) == [SetElement(.ipv4Prefix(IPv4Prefix("192.168.0.0/16")!))])
        }
    }

    @Test("rules are deleted by handle; families ip6 and inet; chains with drop policy")
    func handlesAndFamilies() async throws {
        try await KernelTest.withNamespaces(1, prefix: "pltnft") { namespaces in
            let ns = namespaces[0]
            let nft = try NFTablesConnection(namespace: ns)
            let inet = Table(.inet, "filter")
            let ip6 = Table(.ip6, "six")
            let input = Chain(inet, "input", type: .filter, hook: .input, priority: Priority.filter, policy: .drop)
            let out = Chain(ip6, "out", type: .route, hook: .output, priority: Priority.mangle)
            let rules = [
                Rule(input, [.match(.ctState, .ctState([.established, .related])), .accept]),
                Rule(input, [.match(.ctState, .ctState(.invalid)), .drop]),
                Rule(input, [.match(.iifname, .ifname("lo")), .accept]),
                Rule(input, [.match(.l4proto, .inetProtocol(.tcp)), .match(.thDport, .port(22)), .counter, .accept], comment: "ssh"),
                Rule(input, [.match(.mark, .mark(0x10)), .setMark(0x20), .verdict(.continue)]),
                Rule(out, [.match(.skuid, .uid(1000)), .setMark(1)]),
            ]
            var tx = Transaction()
            tx.add(inet); tx.add(ip6); tx.add(input); tx.add(out)
            tx.add(rules)
            try nft.apply(tx)
            let listed = try nft.ruleset()
            #expect(Set(listed.tables.map(\.identity)) == [inet, ip6])
            #expect(listed.chain(inet, "input")?.base == input.base)
            #expect(listed.chain(ip6, "out")?.base == out.base)
            #expect(listed.rules.map(\.identity) == rules)

            let ssh = try #require(listed.rules.first { $0.comment == "ssh" })
            var delete = Transaction()
            delete.deleteRule(in: input, handle: try #require(ssh.handle))
            try nft.apply(delete)
            let remaining = try nft.rules(in: inet)
            #expect(remaining.map(\.identity) == rules.filter { $0.comment != "ssh" && $0.table == inet })
            let text = try Command.check("nft", ["list", "chain", "inet", "filter", "input"], netns: ns.name)
            #expect(!text.contains("ssh"))
            #expect(text.contains("policy drop"))
        }
    }
}

extension NFTSet {
    /// The same set in another table.
    func moved(to table: Table) -> NFTSet {
        var copy = self
        copy.table = table
        return copy
    }
}

@Suite("nftables: reject and dynamic sets in the kernel", .enabled(if: KernelTest.isRoot && KernelTest.hasNft, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct NFTablesRejectAndUpdateTests {
    @Test("reject rules and a rule-updated dynamic set round-trip, and nft reads them the same way")
    func roundTrip() async throws {
        try await KernelTest.withNamespaces(1, prefix: "pltnft") { namespaces in
            let ns = namespaces[0]
            let nft = try NFTablesConnection(namespace: ns)
            let table = Table(.ip, "podlab-test")
            let affinity = NFTSet(table, "affinity", key: .typeof(.ipSaddr, .ipDaddr, .numgenRandom(modulus: 65_536)), flags: [.dynamic, .timeout])
            let reject = Chain(table, "no-endpoints")
            let sticky = Chain(table, "sticky")
            let rules = [
                Rule(reject, [.match(.l4proto, .inetProtocol(.tcp)), .reject(.tcpReset)]),
                Rule(reject, [.reject(.icmpPortUnreachable)]),
                Rule(sticky, [.lookup([.ipSaddr, .ipDaddr, .numgenRandom(modulus: 1, offset: 1)], set: "affinity"), .accept]),
                Rule(sticky, [.updateSet([.ipSaddr, .ipDaddr, .numgenRandom(modulus: 1, offset: 1)], set: "affinity", timeoutMilliseconds: 10_800_000)]),
            ]
            var tx = Transaction()
            tx.add(table)
            tx.add(affinity)
            tx.add(Chain(table, "prerouting", type: .nat, hook: .prerouting, priority: Priority.dstnat))
            tx.add(reject)
            tx.add(sticky)
            tx.add(rules)
            try nft.apply(tx)

            let listed = try nft.ruleset(family: .ip, table: table.name)
            #expect(listed.rules.map(\.identity) == rules)
            #expect(listed.set(table, "affinity")?.identity == affinity.identity)
            let text = try Command.check("nft", ["list", "table", "ip", table.name], netns: ns.name)
            #expect(text.contains("reject with tcp reset"), "\(text)")
            #expect(text.contains("flags dynamic,timeout"), "\(text)")
            #expect(text.contains("update @affinity { ip saddr . ip daddr . numgen random mod 1 offset 1 timeout 3h }"), "\(text)")
        }
    }
}
