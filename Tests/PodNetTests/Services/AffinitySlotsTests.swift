import PodNet
import Testing

@Suite("ClientIP affinity: endpoints keep their slots, recorded clients their endpoints")
struct AffinitySlotsTests {
    static let vip = IPv4Address(10, 96, 0, 30)
    static let node = ServiceFixture.n1

    static func endpoint(_ last: UInt8) -> ServiceEndpoint { ServiceEndpoint(ip: IPv4Address(10, 244, 2, last), port: 8080, nodeName: "n2") }

    static func table(_ endpoints: [ServiceEndpoint]) -> ServiceTable {
        ServiceTable([ServiceEntry(name: "sticky", clusterIP: vip, ports: [ServicePortEntry(port: 80, endpoints: endpoints)],
                                   sessionAffinity: .clientIP(timeoutSeconds: 60))])
    }

    /// Where a client recorded in `affinity` with `slot` goes, as the kernel walks the ruleset:
    /// the ClusterIP's chain looks the slot up (and checks an endpoint holds it), then the
    /// slot's chain DNATs through `backends`. nil: the client is not taken back to a slot and
    /// chooses again, like a new one.
    static func recordedClient(slot: UInt32, in ruleset: ServiceRuleset) throws -> String? {
        let key = ServiceRuleset.Value.concat([.address(vip), .proto(6), .port(80)])
        let element = try #require(ruleset.set(ServiceRules.serviceIPs)?.elements.first { $0.key == key })
        guard case .verdict(.goto(let chainName))? = element.data else { Issue.record("\(element)"); return nil }
        let chain = try #require(ruleset.chain(chainName))
        let slotKey = ServiceRuleset.Value.concat([.address(vip), .proto(6), .port(80), .integer(slot)])
        let backends = try #require(ruleset.set(ServiceRules.backends))
        for rule in chain.rules {
            guard case .lookup(let fields, ServiceRules.affinity)? = rule.statements.first, case .numgen(1, slot)? = fields.last else { continue }
            // Every further lookup in the rule must find its key (the slot is held by an endpoint).
            for case .lookup(_, ServiceRules.backends) in rule.statements.dropFirst() where !backends.elements.contains(where: { $0.key == slotKey }) {
                return nil
            }
            guard case .verdict(.goto(let slotChain))? = rule.statements.last else { continue }
            let dnat = try #require(ruleset.chain(slotChain)?.rules.last?.statements.last)
            guard case .dnatMap(let keyFields, ServiceRules.backends) = dnat, case .numgen(1, slot)? = keyFields.last else {
                Issue.record("slot chain \(slotChain) does not DNAT slot \(slot): \(dnat)")
                return nil
            }
            guard let data = backends.elements.first(where: { $0.key == slotKey })?.data else { return nil }
            return "\(data)"
        }
        return nil
    }

    /// Every slot a new client may be given, from the ClusterIP's chain's random choice.
    static func newClientEndpoints(in ruleset: ServiceRuleset, table: ServiceTable) throws -> Set<String> {
        let trace = try ServiceTrace.trace(ServiceTrace.Packet(source: IPv4Address(10, 244, 1, 5), destination: vip, port: 80), through: ruleset,
                                           node: node, table: table)
        guard case .dnat(let targets) = trace.verdict else { Issue.record("\(trace)"); return [] }
        return Set(targets.map { "\($0.address) . \($0.port)" })
    }

    @Test("endpoints added and removed beside them: every recorded client whose endpoint remains keeps it; new clients reach every endpoint")
    func recordedClientsStay() throws {
        // Endpoints come and go in steps; the addresses interleave, so address order alone would move them.
        let steps: [[UInt8]] = [[20, 40], [10, 20, 40], [10, 40], [10, 30, 40, 50], [5, 30, 50], [5, 30, 50, 60, 70], [70]]
        var previous: ServiceRuleset?
        for (number, step) in steps.enumerated() {
            let table = Self.table(step.map(Self.endpoint))
            let ruleset = ServiceRules.generate(for: table, node: Self.node, previous: previous)
            if let previous {
                for slot in 0..<UInt32(8) {
                    guard let before = try Self.recordedClient(slot: slot, in: previous) else { continue }
                    let stillThere = step.contains { "\(Self.endpoint($0).ip) . 8080" == before }
                    let after = try Self.recordedClient(slot: slot, in: ruleset)
                    if stillThere {
                        #expect(after == before, "step \(number): a client recorded at slot \(slot) went from \(before) to \(after ?? "a new choice")")
                    } else {
                        #expect(after == nil || after != before, "step \(number): slot \(slot) still leads to the removed \(before)")
                    }
                }
            }
            #expect(try Self.newClientEndpoints(in: ruleset, table: table) == Set(step.map { "\(Self.endpoint($0).ip) . 8080" }), "step \(number)")
            previous = ruleset
        }
    }

    @Test("slots: kept where held, the lowest free one for a new endpoint, in address order")
    func slotAssignment() {
        let table = Self.table([Self.endpoint(10), Self.endpoint(20), Self.endpoint(30)])
        let first = ServiceRules.generate(for: table, node: Self.node)
        let backends = { (ruleset: ServiceRuleset) in ruleset.set(ServiceRules.backends)!.elements.map(\.description) }
        #expect(backends(first) == ["10.96.0.30 . tcp . 80 . 0 : 10.244.2.10 . 8080", "10.96.0.30 . tcp . 80 . 1 : 10.244.2.20 . 8080",
                                    "10.96.0.30 . tcp . 80 . 2 : 10.244.2.30 . 8080"])
        // 20 goes, 5 and 25 come: 5 takes the free slot 1, 25 the next, 3.
        let second = ServiceRules.generate(for: Self.table([Self.endpoint(5), Self.endpoint(10), Self.endpoint(25), Self.endpoint(30)]), node: Self.node, previous: first)
        #expect(backends(second) == ["10.96.0.30 . tcp . 80 . 0 : 10.244.2.10 . 8080", "10.96.0.30 . tcp . 80 . 1 : 10.244.2.5 . 8080",
                                     "10.96.0.30 . tcp . 80 . 2 : 10.244.2.30 . 8080", "10.96.0.30 . tcp . 80 . 3 : 10.244.2.25 . 8080"])
        #expect(second.set(ServiceRules.serviceIPs)!.elements.map(\.description) == ["10.96.0.30 . tcp . 80 : goto affinity-60s-4"])
        // 10 goes: slot 0 is free, four slots for three endpoints; the chain checks a slot is held.
        let third = ServiceRules.generate(for: Self.table([Self.endpoint(5), Self.endpoint(25), Self.endpoint(30)]), node: Self.node, previous: second)
        #expect(third.set(ServiceRules.serviceIPs)!.elements.map(\.description) == ["10.96.0.30 . tcp . 80 : goto affinity-60s-3-slots-4"])
        #expect(third.chain("affinity-60s-3-slots-4")!.rules.map(\.description) == [
            "ip saddr . ip daddr . meta l4proto . th dport . numgen random mod 1 @affinity ip daddr . meta l4proto . th dport . numgen random mod 1 @backends goto affinity-60s-slot-0",
            "ip saddr . ip daddr . meta l4proto . th dport . numgen random mod 1 offset 1 @affinity ip daddr . meta l4proto . th dport . numgen random mod 1 offset 1 @backends goto affinity-60s-slot-1",
            "ip saddr . ip daddr . meta l4proto . th dport . numgen random mod 1 offset 2 @affinity ip daddr . meta l4proto . th dport . numgen random mod 1 offset 2 @backends goto affinity-60s-slot-2",
            "ip saddr . ip daddr . meta l4proto . th dport . numgen random mod 1 offset 3 @affinity ip daddr . meta l4proto . th dport . numgen random mod 1 offset 3 @backends goto affinity-60s-slot-3",
            "ip daddr . meta l4proto . th dport . numgen random mod 3 vmap @affinity-choices",
        ])
        #expect(third.set(ServiceRules.affinityChoices)!.elements.map(\.description) == [
            "10.96.0.30 . tcp . 80 . 0 : goto affinity-60s-slot-1", "10.96.0.30 . tcp . 80 . 1 : goto affinity-60s-slot-3",
            "10.96.0.30 . tcp . 80 . 2 : goto affinity-60s-slot-2",
        ])
        // Without affinity the endpoints stay at 0..<N: numgen random picks among them.
        var plain = Self.table([Self.endpoint(5), Self.endpoint(25)])
        plain.services[0].sessionAffinity = .none
        #expect(backends(ServiceRules.generate(for: plain, node: Self.node, previous: third)) == [
            "10.96.0.30 . tcp . 80 . 0 : 10.244.2.5 . 8080", "10.96.0.30 . tcp . 80 . 1 : 10.244.2.25 . 8080"])
    }

    @Test("kept service by service, a Service's endpoints keep their slots from one change to the next, as a full generation from the installed ruleset")
    func incrementalKeepsSlots() {
        var rules = NodeServiceRules(table: Self.table([Self.endpoint(10), Self.endpoint(20), Self.endpoint(30)]), node: Self.node)
        var installed = rules.ruleset
        for step: [UInt8] in [[5, 10, 30], [5, 30], [1, 2, 3, 5, 30], [30]] {
            let table = Self.table(step.map(Self.endpoint))
            rules.update("default/sticky", to: table.services[0])
            _ = rules.takeDiff()
            let full = ServiceRules.generate(for: table, node: Self.node, previous: installed)
            #expect(rules.ruleset.sets == full.sets, "\(step)")
            installed = rules.ruleset
        }
    }
}
