import PodNet
import Testing

@Suite("Node Service rules kept service by service: incremental equals full generation")
struct NodeServiceRulesTests {
    /// Services drawn from small pools, so keys, addresses, node ports and endpoints collide often.
    struct RandomServices {
        var random: SplitMix64
        let keys = (0..<3).flatMap { ns in (0..<8).map { "ns\(ns)/s\($0)" } }

        mutating func int(_ range: Range<Int>) -> Int { Int.random(in: range, using: &random) }
        mutating func bool() -> Bool { Bool.random(using: &random) }

        mutating func endpoint() -> ServiceEndpoint {
            let ready = int(0..<4) > 0
            return ServiceEndpoint(ip: IPv4Address(10, 244, UInt8(int(1..<3)), UInt8(2 + int(0..<6))), port: [80, 8080][int(0..<2)],
                                   nodeName: ["n1", "n2", nil][int(0..<3)], ready: ready, serving: ready || bool(), terminating: !ready && bool())
        }

        /// A ClientIP Service's endpoints keep the slots the installed rules give them. Where
        /// two Services (or two ports of one) claim one virtual port — a state the API refuses —
        /// the installed elements mix both, and which slots a Service regenerated from them gets
        /// depends on when it was; so ClientIP Services get addresses and ports of their own here.
        mutating func entry(_ key: String) -> ServiceEntry {
            let parts = key.split(separator: "/")
            let affinity = int(0..<3) == 0
            let own = UInt16(keys.firstIndex(of: key)!)
            var ports: [ServicePortEntry] = []
            for index in 0..<int(1..<3) {
                let nodePort = bool() ? UInt16(30_000 + int(0..<4)) : nil
                ports.append(ServicePortEntry(name: "p\(index)", protocol: bool() ? .tcp : .udp, port: affinity ? [80, 443][index] : [53, 80, 443][int(0..<3)],
                                              nodePort: affinity ? nodePort.map { _ in 31_000 + own * 2 + UInt16(index) } : nodePort,
                                              endpoints: (0..<int(0..<5)).map { _ in endpoint() }))
            }
            let clusterIP = int(0..<10) == 0 ? nil : affinity ? IPv4Address(10, 96, 1, UInt8(1 + own)) : IPv4Address(10, 96, 0, UInt8(1 + int(0..<20)))
            return ServiceEntry(namespace: String(parts[0]), name: String(parts[1]), clusterIP: clusterIP,
                                type: bool() ? .nodePort : .clusterIP, ports: ports,
                                sessionAffinity: affinity ? .clientIP(timeoutSeconds: [60, 10800][int(0..<2)]) : .none,
                                internalTrafficPolicy: int(0..<4) == 0 ? .local : .cluster)
        }

        mutating func hostPorts() -> [HostPortEntry] {
            (0..<int(0..<4)).map { index in
                HostPortEntry(node: ["n1", "n2"][int(0..<2)], pod: "default/p\(index)", protocol: bool() ? .tcp : .udp,
                              hostPort: UInt16(8_000 + int(0..<3)), podIP: IPv4Address(10, 244, 1, UInt8(10 + int(0..<4))), containerPort: 80)
            }.sorted { ($0.node, $0.hostPort, $0.protocol.rawValue) < ($1.node, $1.hostPort, $1.protocol.rawValue) }
        }
    }

    /// The table the agent would give a full sync: the Services in key order.
    static func table(_ services: [String: ServiceEntry], hostPorts: [HostPortEntry]) -> ServiceTable {
        ServiceTable(services.sorted { $0.key < $1.key }.map(\.value), hostPorts: hostPorts)
    }

    /// `ruleset` with `diff` applied as the kernel would apply it, elements kept in key order.
    static func applying(_ diff: ServiceRulesetDiff, to ruleset: ServiceRuleset) -> ServiceRuleset {
        var result = ruleset
        for index in result.sets.indices {
            let name = result.sets[index].name
            var elements = result.sets[index].elements
            for change in diff.deletedElements where change.set.name == name {
                for element in change.elements {
                    let found = elements.firstIndex(of: element)
                    #expect(found != nil, "deleted \(element) from \(name), which does not hold it")
                    if let found { elements.remove(at: found) }
                }
            }
            for change in diff.addedElements where change.set.name == name {
                for element in change.elements {
                    #expect(!elements.contains { $0.key == element.key }, "added \(element) to \(name), which holds its key")
                    elements.append(element)
                }
            }
            result.sets[index].elements = elements.sorted { "\($0.key)".utf8.lexicographicallyPrecedes("\($1.key)".utf8) }
        }
        let deleted = Set(diff.deletedChains.map(\.name))
        result.chains = result.chains.filter { !deleted.contains($0.name) } + diff.addedChains
        return result
    }

    /// Sets compared by their elements regardless of order, chains by name regardless of order,
    /// without the shared chains nothing leads to (the incremental rules keep those installed).
    static func normalized(_ ruleset: ServiceRuleset) -> ServiceRuleset {
        var result = ruleset
        for index in result.sets.indices {
            result.sets[index].elements.sort { "\($0.key)".utf8.lexicographicallyPrecedes("\($1.key)".utf8) }
        }
        var reached = Set<String>()
        var pending = result.chains.filter { $0.base != nil }.map(\.name)
        let targets = result.sets.flatMap(\.elements).compactMap { element -> String? in
            if case .verdict(let verdict)? = element.data { return verdict.chain } else { return nil }
        }
        pending += targets
        while let name = pending.popLast() {
            guard reached.insert(name).inserted, let chain = result.chain(name) else { continue }
            pending += chain.rules.flatMap(\.chainReferences)
        }
        result.chains = result.chains.filter { reached.contains($0.name) }.sorted { $0.name < $1.name }
        return result
    }

    @Test("random changes applied one Service at a time give what a fresh full generation gives, element for element",
          arguments: [1, 2, 3, 4, 5, 6] as [UInt64])
    func incrementalEqualsFull(seed: UInt64) {
        var generator = RandomServices(random: SplitMix64(state: seed))
        for node in [ServiceFixture.n1, ServiceFixture.n2] {
            var services: [String: ServiceEntry] = [:]
            var hostPorts: [HostPortEntry] = []
            var rules = NodeServiceRules(node: node)
            var installed = ServiceRules.generate(for: ServiceTable(), node: node)
            for step in 0..<100 {
                // A batch of 1–3 changes: a Service added or changed, or removed, and sometimes the hostPorts.
                var changed: Set<String> = []
                for _ in 0..<generator.int(1..<4) {
                    let key = generator.keys[generator.int(0..<generator.keys.count)]
                    services[key] = generator.int(0..<4) == 0 ? nil : generator.entry(key)
                    changed.insert(key)
                }
                if generator.int(0..<5) == 0 { hostPorts = generator.hostPorts() }
                for key in changed { rules.update(key, to: services[key]) }
                rules.update(hostPorts: hostPorts)
                let diff = rules.takeDiff()

                // ClientIP ports keep the slots the installed rules give their endpoints.
                let full = ServiceRules.generate(for: Self.table(services, hostPorts: hostPorts), node: node, previous: installed)
                #expect(rules.ruleset.sets == full.sets, "seed \(seed), node \(node.name), step \(step)")
                #expect(Self.normalized(rules.ruleset) == Self.normalized(full), "seed \(seed), node \(node.name), step \(step)")
                // The chains kept beyond the full ruleset's are shared chains no element leads to.
                #expect(Set(full.chains.map(\.name)).isSubset(of: Set(rules.ruleset.chains.map(\.name))))
                let applied = Self.applying(diff, to: installed)
                #expect(Self.normalized(applied) == Self.normalized(full), "seed \(seed), node \(node.name), step \(step): the diff does not lead to the full ruleset")
                // Only what changed is sent: never more elements than the full diff names.
                let reference = ServiceRulesetDiff.between(installed: installed, desired: full)
                #expect(diff.addedElementCount == reference.addedElementCount && diff.deletedElementCount == reference.deletedElementCount,
                        "seed \(seed), step \(step): \(diff) against \(reference)")
                #expect(Set(diff.addedChains.map(\.name)).isSubset(of: Set(reference.addedChains.map(\.name))))
                #expect(diff.deletedChains.isEmpty)
                installed = applied
            }
            // Built at once from the same Services: the same rules, and nothing pending.
            var fresh = NodeServiceRules(table: Self.table(services, hostPorts: hostPorts), node: node, previous: installed)
            #expect(fresh.ruleset == ServiceRules.generate(for: Self.table(services, hostPorts: hostPorts), node: node, previous: installed))
            #expect(Self.normalized(fresh.ruleset) == Self.normalized(rules.ruleset))
            #expect(fresh.takeDiff().isEmpty)
        }
    }

    @Test("one endpoint replaced at 2 000 Services: one element out, one in, nothing else")
    func oneEndpoint() {
        var services: [String: ServiceEntry] = [:]
        for i in 0..<2_000 {
            services["default/s\(i)"] = ServiceEntry(name: "s\(i)", clusterIP: IPv4Address(IPv4Address(10, 96, 0, 1).value + UInt32(i)),
                                                     ports: [ServicePortEntry(port: 80, endpoints: [ServiceFixture.a, ServiceFixture.b])])
        }
        var rules = NodeServiceRules(table: Self.table(services, hostPorts: []), node: ServiceFixture.n1)
        services["default/s7"]?.ports[0].endpoints[1] = ServiceEndpoint(ip: IPv4Address("10.244.2.7")!, port: 8080, nodeName: "n2")
        rules.update("default/s7", to: services["default/s7"])
        #expect(rules.takeDiff().description == """
        delete element ip podlab-services backends { 10.96.0.8 . tcp . 80 . 1 }
        add element ip podlab-services backends { 10.96.0.8 . tcp . 80 . 1 : 10.244.2.7 . 8080 }
        """)
        #expect(rules.takeDiff().isEmpty)
    }

    @Test("a shared chain comes with the first Service that leads to it, before its elements; it stays when the last one goes")
    func sharedChainLifetime() {
        var rules = NodeServiceRules(table: ServiceTable([ServiceFixture.web]), node: ServiceFixture.n1)
        var sticky = ServiceFixture.sticky
        sticky.type = .clusterIP
        rules.update(sticky.qualifiedName, to: sticky)
        let added = rules.takeDiff()
        #expect(added.addedChains.map(\.name) == ["affinity-10800s-2", "affinity-10800s-slot-0", "affinity-10800s-slot-1"])
        #expect(added.description.hasPrefix("add chain ip podlab-services affinity-10800s-2"))
        rules.update(sticky.qualifiedName, to: nil)
        rules.update("default/web", to: nil)
        let removal = rules.takeDiff()
        #expect(removal.deletedChains.isEmpty && removal.addedChains.isEmpty)
        #expect(removal.deletedElementCount == 9)  // 2 service-ips, 4 backends, 2 affinity-choices, the hairpin of 10.244.1.2
        #expect(rules.ruleset.chain("lb-tcp-2") != nil)
        rules.update("default/web", to: ServiceFixture.web)
        #expect(rules.takeDiff().addedChains.isEmpty)
    }
}
