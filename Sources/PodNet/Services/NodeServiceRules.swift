/// One node's Service ruleset kept service by service, so that a change to a few Services costs
/// the work of those Services, not of all of them: each Service's fragment (its elements and the
/// shared chains they lead to) is cached under its key (`namespace/name`), a changed Service's
/// old fragment is taken out and its new one put in, and `takeDiff()` tells what changed since
/// the last call — the elements of the keys touched, and the shared chains that came into use or
/// fell out of it. At 10 000 Services, regenerating everything costs ~100 ms; one Service ~0.1 ms.
///
/// `ruleset` is always what `ServiceRules.generate` computes for the same Services in key order
/// (the order `ServiceTable(services:slices:)` gives), element for element: where two Services
/// claim one key (an address and port taken twice), the one first in key order wins, as there.
/// Its shared chains are those plus the ones that fell out of use since the rules were built
/// whole (kept installed: see `baselineChains`).
public struct NodeServiceRules: Sendable {
    public let node: ServiceNode
    /// The Services' fragments by key.
    private var fragments: [String: ServiceRules.Fragment] = [:]
    private var hostPortEntries: [HostPortEntry] = []
    /// Per set (in `ServiceRules.setDeclarations` order), the claims on each key, in owner order.
    private var claims: [[[UInt32]: [Claim]]]
    /// How many Services lead to each shared chain.
    private var loadBalancingUse: [ServiceRules.SharedChains.LoadBalancing: Int] = [:]
    private var affinityUse: [ServiceRules.SharedChains.Affinity: Int] = [:]
    private var rejectUse = 0
    /// Since the last `takeDiff()`: each touched key's element as it was then (nil: absent).
    private var baseline: [[[UInt32]: ServiceRuleset.Element?]]
    /// The shared chains installed: every one used since the rules were built whole. A chain
    /// no Service leads to any more stays (until the next full sync): adding a chain makes the
    /// kernel validate the table's verdict maps again, element by element (~10 ms at 20 000
    /// Services), so a Service going back and forth between 1 and 2 endpoints, or between none
    /// and some, must not delete and add one each time.
    private var baselineChains: ServiceRules.SharedChains
    /// Off while the rules are built whole: nothing is pending then, and recording the
    /// baseline of 40 000 keys would cost as much as the rest.
    private var tracksChanges = true

    /// Hostports are claimed under a key no Service has (Service keys contain a `/`), so they sort first.
    private static let hostPortsOwner = ""
    private static let serviceIPsSet = 0, nodePortsSet = 1, backendsSet = 2, hairpinSet = 4, hostPortsSet = 5

    private struct Claim: Sendable {
        var owner: String
        var element: ServiceRuleset.Element
    }

    /// An empty node: no Services, the skeleton only. The first `takeDiff()` tells nothing: the
    /// state is a starting point, not something installed.
    public init(node: ServiceNode) {
        self.node = node
        let sets = ServiceRules.setDeclarations.count
        claims = Array(repeating: [:], count: sets)
        baseline = Array(repeating: [:], count: sets)
        baselineChains = ServiceRules.SharedChains()
    }

    /// The node's rules for `table` (as `ServiceRules.generate(for:node:)` computes them), with
    /// nothing pending: `takeDiff()` is empty until something changes.
    public init(table: ServiceTable, node: ServiceNode) {
        self.init(node: node)
        tracksChanges = false
        for service in table.services { update(service.qualifiedName, to: service) }
        update(hostPorts: table.hostPorts)
        tracksChanges = true
        baselineChains = sharedChains
    }

    /// Whether the Service `key` is in the rules.
    public func contains(_ key: String) -> Bool { fragments[key] != nil }

    /// Puts in the Service `key` as `entry` (nil: removed), replacing what it was.
    public mutating func update(_ key: String, to entry: ServiceEntry?) {
        if let old = fragments.removeValue(forKey: key) { withdraw(old, owner: key) }
        if let entry {
            let fragment = ServiceRules.Fragment(entry, node: node)
            claim(fragment, owner: key)
            fragments[key] = fragment
        }
    }

    /// Replaces the pods' hostPorts (all of them: they are few).
    public mutating func update(hostPorts: [HostPortEntry]) {
        let mine = hostPorts.filter { $0.node == node.name }
        let old = hostPortEntries.filter { $0.node == node.name }
        guard mine != old else {
            hostPortEntries = hostPorts
            return
        }
        for element in ServiceRules.hostPortElements(old, node: node) { remove(element, from: Self.hostPortsSet, owner: Self.hostPortsOwner) }
        for address in old.map(\.podIP) { remove(ServiceRules.hairpinElement(address), from: Self.hairpinSet, owner: Self.hostPortsOwner) }
        for element in ServiceRules.hostPortElements(mine, node: node) { add(element, to: Self.hostPortsSet, owner: Self.hostPortsOwner) }
        for address in mine.map(\.podIP) { add(ServiceRules.hairpinElement(address), to: Self.hairpinSet, owner: Self.hostPortsOwner) }
        hostPortEntries = hostPorts
    }

    /// The whole ruleset, as `ServiceRules.generate` computes it, with the shared chains kept
    /// installed that no Service leads to any more.
    public var ruleset: ServiceRuleset {
        let elements = claims.map { set in
            set.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { $0.value[0].element }
        }
        return ServiceRules.assemble(node: node, serviceIPs: elements[Self.serviceIPsSet], nodePorts: elements[Self.nodePortsSet],
                                     backends: elements[Self.backendsSet], hairpin: elements[Self.hairpinSet], hostPorts: elements[Self.hostPortsSet],
                                     shared: installedChains)
    }

    private var installedChains: ServiceRules.SharedChains {
        var chains = baselineChains
        chains.formUnion(sharedChains)
        return chains
    }

    /// What changed since the last call, as changes to the installed ruleset: the elements of
    /// the keys touched, the shared chains added or no longer used. Never creates or rebuilds
    /// the table: that is a full sync's business.
    public mutating func takeDiff() -> ServiceRulesetDiff {
        var diff = ServiceRulesetDiff(family: "ip", table: ServiceRules.table)
        for (index, touched) in baseline.enumerated() where !touched.isEmpty {
            var added: [ServiceRuleset.Element] = [], deleted: [ServiceRuleset.Element] = []
            for (key, before) in touched {
                let now = claims[index][key]?.first?.element
                guard now != before else { continue }
                if let before { deleted.append(before) }
                if let now { added.append(now) }
            }
            let declaration = ServiceRules.setDeclarations[index]
            if !added.isEmpty { diff.addedElements.append(ServiceRulesetDiff.ElementChange(set: declaration, elements: Self.inKeyOrder(added))) }
            if !deleted.isEmpty { diff.deletedElements.append(ServiceRulesetDiff.ElementChange(set: declaration, elements: Self.inKeyOrder(deleted))) }
            baseline[index] = [:]
        }
        var chains = baselineChains
        chains.formUnion(sharedChains)
        if chains != baselineChains {
            let beforeNames = Set(baselineChains.chains.map(\.name))
            diff.addedChains = chains.chains.filter { !beforeNames.contains($0.name) }
            baselineChains = chains
        }
        return diff
    }

    // MARK: Bookkeeping

    private var sharedChains: ServiceRules.SharedChains {
        var chains = ServiceRules.SharedChains()
        chains.loadBalancing = Set(loadBalancingUse.keys)
        chains.affinity = Set(affinityUse.keys)
        chains.rejects = rejectUse > 0
        return chains
    }

    private mutating func claim(_ fragment: ServiceRules.Fragment, owner: String) {
        for element in fragment.serviceIPs { add(element, to: Self.serviceIPsSet, owner: owner) }
        for element in fragment.nodePorts { add(element, to: Self.nodePortsSet, owner: owner) }
        for element in fragment.backends { add(element, to: Self.backendsSet, owner: owner) }
        for address in fragment.hairpin { add(ServiceRules.hairpinElement(address), to: Self.hairpinSet, owner: owner) }
        for spec in fragment.chains.loadBalancing { loadBalancingUse[spec, default: 0] += 1 }
        for spec in fragment.chains.affinity { affinityUse[spec, default: 0] += 1 }
        if fragment.chains.rejects { rejectUse += 1 }
    }

    private mutating func withdraw(_ fragment: ServiceRules.Fragment, owner: String) {
        for element in fragment.serviceIPs { remove(element, from: Self.serviceIPsSet, owner: owner) }
        for element in fragment.nodePorts { remove(element, from: Self.nodePortsSet, owner: owner) }
        for element in fragment.backends { remove(element, from: Self.backendsSet, owner: owner) }
        for address in fragment.hairpin { remove(ServiceRules.hairpinElement(address), from: Self.hairpinSet, owner: owner) }
        for spec in fragment.chains.loadBalancing { Self.release(spec, in: &loadBalancingUse) }
        for spec in fragment.chains.affinity { Self.release(spec, in: &affinityUse) }
        if fragment.chains.rejects { rejectUse -= 1 }
    }

    private static func release<Key: Hashable>(_ key: Key, in use: inout [Key: Int]) {
        guard let count = use[key] else { return }
        use[key] = count > 1 ? count - 1 : nil
    }

    /// Records the key's element before its first change since the last diff.
    private mutating func touch(_ key: [UInt32], in set: Int) {
        if tracksChanges, baseline[set].index(forKey: key) == nil {
            baseline[set][key] = .some(claims[set][key]?.first?.element)
        }
    }

    /// A claim goes after the claims of owners before it and after the owner's own earlier
    /// claims (the first of a duplicate key in generation order wins).
    private mutating func add(_ element: ServiceRuleset.Element, to set: Int, owner: String) {
        let key = element.key.sortKey
        touch(key, in: set)
        var list = claims[set][key] ?? []
        let position = list.firstIndex { $0.owner > owner } ?? list.endIndex
        list.insert(Claim(owner: owner, element: element), at: position)
        claims[set][key] = list
    }

    private mutating func remove(_ element: ServiceRuleset.Element, from set: Int, owner: String) {
        let key = element.key.sortKey
        touch(key, in: set)
        guard var list = claims[set][key], let index = list.firstIndex(where: { $0.owner == owner && $0.element == element }) else { return }
        list.remove(at: index)
        claims[set][key] = list.isEmpty ? nil : list
    }

    private static func inKeyOrder(_ elements: [ServiceRuleset.Element]) -> [ServiceRuleset.Element] {
        elements.count < 2 ? elements : elements.sorted { $0.key.sortKey.lexicographicallyPrecedes($1.key.sortKey) }
    }
}
