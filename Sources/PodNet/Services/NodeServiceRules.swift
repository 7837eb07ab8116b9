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
    private var claims: [[ElementKey: Claims]]
    /// How many Services lead to each shared chain.
    private var loadBalancingUse: [ServiceRules.SharedChains.LoadBalancing: Int] = [:]
    private var affinityUse: [ServiceRules.SharedChains.Affinity: Int] = [:]
    private var rejectUse = 0
    /// Since the last `takeDiff()`: each touched key's element as it was then (nil: absent).
    private var baseline: [[ElementKey: ServiceRuleset.Element?]]
    /// The shared chains installed: every one used since the rules were built whole. A chain
    /// no Service leads to any more stays (until the next full sync): adding a chain makes the
    /// kernel validate the table's verdict maps again, element by element (~10 ms at 20 000
    /// Services), so a Service going back and forth between 1 and 2 endpoints, or between none
    /// and some, must not delete and add one each time.
    private var baselineChains: ServiceRules.SharedChains
    /// Off while the rules are built whole: nothing is pending then, and recording the
    /// baseline of 40 000 keys would cost as much as the rest.
    private var tracksChanges = true
    /// The slots claimed in `backends` now, and those touched since the last `takeDiff()`, by
    /// virtual port: where a ClientIP port's endpoints find the slots they hold.
    private var backendSlots: [ServiceRules.VirtualPort: Set<UInt32>] = [:]
    private var touchedBackendSlots: [ServiceRules.VirtualPort: Set<UInt32>] = [:]
    /// While the rules are built whole: the slots of the ruleset they replace.
    private var previousSlots: ServiceRules.AffinitySlots?

    /// Hostports are claimed under a key no Service has (Service keys contain a `/`), so they sort first.
    private static let hostPortsOwner = ""
    private static let serviceIPsSet = 0, nodePortsSet = 1, backendsSet = 2, hairpinSet = 4, hostPortsSet = 5, affinityChoicesSet = 6

    private struct Claim: Sendable {
        var owner: String
        var element: ServiceRuleset.Element
    }

    /// The claims on one key, in owner order: nearly always one, kept without an array.
    private struct Claims: Sendable {
        var first: Claim
        var others: [Claim] = []

        var all: [Claim] { [first] + others }

        init(first: Claim) { self.first = first }

        init(_ claims: [Claim]) {
            first = claims[0]
            others = Array(claims.dropFirst())
        }
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

    /// The node's rules for `table` (as `ServiceRules.generate(for:node:previous:)` computes
    /// them: ClientIP ports keep the slots `previous` gives their endpoints), with nothing
    /// pending: `takeDiff()` is empty until something changes.
    public init(table: ServiceTable, node: ServiceNode, previous: ServiceRuleset? = nil) {
        self.init(node: node)
        tracksChanges = false
        // Sized once: grown key by key, the maps were rehashed a dozen times on the way to 40 000 keys.
        var ports = 0, endpoints = 0
        for service in table.services {
            ports += service.ports.count
            for port in service.ports { endpoints += port.endpoints.count }
        }
        claims[Self.serviceIPsSet].reserveCapacity(ports)
        claims[Self.backendsSet].reserveCapacity(endpoints)
        claims[Self.hairpinSet].reserveCapacity(endpoints)
        previousSlots = ServiceRules.AffinitySlots(previous: previous, for: table, node: node)
        for service in table.services { update(service.qualifiedName, to: service) }
        previousSlots = nil
        update(hostPorts: table.hostPorts)
        tracksChanges = true
        baselineChains = sharedChains
    }

    /// Whether the Service `key` is in the rules.
    public func contains(_ key: String) -> Bool { fragments[key] != nil }

    /// Puts in the Service `key` as `entry` (nil: removed), replacing what it was. The endpoints
    /// of its ClientIP ports keep the slots they hold in the installed rules (as of the last
    /// `takeDiff()`), as a full generation from that ruleset gives them.
    public mutating func update(_ key: String, to entry: ServiceEntry?) {
        var previousSlots: [ServiceRules.VirtualPort: [ServiceEndpoint.Key: Int]] = [:]
        if let entry, entry.sessionAffinity != .none {
            for port in ServiceRules.virtualPorts(of: entry, node: node) { previousSlots[port] = self.previousSlots?.slots(port) ?? installedSlots(port) }
        }
        if let old = fragments.removeValue(forKey: key) { withdraw(old, owner: key) }
        if let entry {
            let fragment = ServiceRules.Fragment(entry, node: node, previousSlots: { previousSlots[$0] ?? [:] })
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
        // Indices sorted by key, not the elements: moving 40 000 elements costs as much again.
        let elements = claims.map { set in
            var keys: [ElementKey] = [], firsts: [ServiceRuleset.Element] = []
            keys.reserveCapacity(set.count)
            firsts.reserveCapacity(set.count)
            for (key, claims) in set {
                keys.append(key)
                firsts.append(claims.first.element)
            }
            return keys.indices.sorted { keys[$0] < keys[$1] }.map { firsts[$0] }
        }
        return ServiceRules.assemble(node: node, serviceIPs: elements[Self.serviceIPsSet], nodePorts: elements[Self.nodePortsSet],
                                     backends: elements[Self.backendsSet], hairpin: elements[Self.hairpinSet], hostPorts: elements[Self.hostPortsSet],
                                     affinityChoices: elements[Self.affinityChoicesSet], shared: installedChains)
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
                let now = claims[index][key]?.first.element
                guard now != before else { continue }
                if let before { deleted.append(before) }
                if let now { added.append(now) }
            }
            let declaration = ServiceRules.setDeclarations[index]
            if !added.isEmpty { diff.addedElements.append(ServiceRulesetDiff.ElementChange(set: declaration, elements: Self.inKeyOrder(added))) }
            if !deleted.isEmpty { diff.deletedElements.append(ServiceRulesetDiff.ElementChange(set: declaration, elements: Self.inKeyOrder(deleted))) }
            baseline[index] = [:]
        }
        touchedBackendSlots = [:]
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
        for element in fragment.backends { add(element, to: Self.backendsSet, owner: owner, keepsSlot: fragment.keepsSlots) }
        for element in fragment.affinityChoices { add(element, to: Self.affinityChoicesSet, owner: owner) }
        for address in fragment.hairpin { add(ServiceRules.hairpinElement(address), to: Self.hairpinSet, owner: owner) }
        for spec in fragment.chains.loadBalancing { loadBalancingUse[spec, default: 0] += 1 }
        for spec in fragment.chains.affinity { affinityUse[spec, default: 0] += 1 }
        if fragment.chains.rejects { rejectUse += 1 }
    }

    private mutating func withdraw(_ fragment: ServiceRules.Fragment, owner: String) {
        for element in fragment.serviceIPs { remove(element, from: Self.serviceIPsSet, owner: owner) }
        for element in fragment.nodePorts { remove(element, from: Self.nodePortsSet, owner: owner) }
        for element in fragment.backends { remove(element, from: Self.backendsSet, owner: owner, keepsSlot: fragment.keepsSlots) }
        for element in fragment.affinityChoices { remove(element, from: Self.affinityChoicesSet, owner: owner) }
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
    private mutating func touch(_ key: ElementKey, in set: Int) {
        if tracksChanges, baseline[set].index(forKey: key) == nil {
            baseline[set][key] = .some(claims[set][key]?.first.element)
            if set == Self.backendsSet, let port = ServiceRules.VirtualPort(backendKey: key) { touchedBackendSlots[port, default: []].insert(key[3]) }
        }
    }

    /// The slots of `port`'s endpoints in the installed rules: the elements as they were at the
    /// last `takeDiff()`.
    private func installedSlots(_ port: ServiceRules.VirtualPort) -> [ServiceEndpoint.Key: Int] {
        var slots: [ServiceEndpoint.Key: Int] = [:]
        let indices = (backendSlots[port] ?? []).union(touchedBackendSlots[port] ?? [])
        for index in indices.sorted() {
            let key = ElementKey(port.address, port.proto, port.port, index)
            let installed = baseline[Self.backendsSet].index(forKey: key).map { baseline[Self.backendsSet][$0].value } ?? claims[Self.backendsSet][key]?.first.element
            if let installed { ServiceRules.AffinitySlots.record(installed, key: key, in: &slots) }
        }
        return slots
    }

    /// A claim goes after the claims of owners before it and after the owner's own earlier
    /// claims (the first of a duplicate key in generation order wins).
    /// `keepsSlot`: a `backends` element of a ClientIP port, whose slot its next change looks up.
    private mutating func add(_ element: ServiceRuleset.Element, to set: Int, owner: String, keepsSlot: Bool = false) {
        let key = element.key.sortKey
        touch(key, in: set)
        if keepsSlot, let port = ServiceRules.VirtualPort(backendKey: key) { backendSlots[port, default: []].insert(key[3]) }
        let claim = Claim(owner: owner, element: element)
        guard let existing = claims[set][key] else {
            claims[set][key] = Claims(first: claim)
            return
        }
        var list = existing.all
        let position = list.firstIndex { $0.owner > owner } ?? list.endIndex
        list.insert(claim, at: position)
        claims[set][key] = Claims(list)
    }

    private mutating func remove(_ element: ServiceRuleset.Element, from set: Int, owner: String, keepsSlot: Bool = false) {
        let key = element.key.sortKey
        touch(key, in: set)
        guard var list = claims[set][key]?.all, let index = list.firstIndex(where: { $0.owner == owner && $0.element == element }) else { return }
        list.remove(at: index)
        claims[set][key] = list.isEmpty ? nil : Claims(list)
        if keepsSlot, list.isEmpty, let port = ServiceRules.VirtualPort(backendKey: key) {
            backendSlots[port]?.remove(key[3])
            if backendSlots[port]?.isEmpty == true { backendSlots[port] = nil }
        }
    }

    private static func inKeyOrder(_ elements: [ServiceRuleset.Element]) -> [ServiceRuleset.Element] {
        elements.count < 2 ? elements : elements.sorted { $0.key.sortKey < $1.key.sortKey }
    }
}
