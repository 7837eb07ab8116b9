/// The lab's policy rules kept up to date change by change: a pod's labels, a pod coming or
/// going, a policy added, changed or deleted, a namespace's labels. Each change works out only
/// what it touches — the addresses whose identity moves, the identities that appear or vanish,
/// the pods whose selecting policies change — and records, per node, the elements that differ
/// from what the node was last given (`takeDelta`), so a label change costs a handful of
/// elements, not a regeneration of every node's ruleset.
///
/// The rules are those of `PolicyRules.generate` (a test holds the two equal after any
/// sequence of changes); only the identity numbers are the index's own: a signature keeps its
/// number for as long as some address has it, and a new one takes a number never given before.
public struct PolicyIndex: Sendable {
    typealias Peer = PolicyRules.Peer
    typealias CompiledPeer = PolicyRules.CompiledPeer
    typealias ElementKey = PolicyRuleset.ElementKey

    /// What an address is to the policies: the peers (by id) that match it, and what the named
    /// egress ports of the policies resolve to on it.
    struct Signature: Hashable, Sendable {
        var peers: Set<Int>
        var namedPorts: [PolicyPod.NamedPort: UInt16]
    }

    struct PeerEntry: Sendable {
        var peer: Peer
        var compiled: CompiledPeer
        /// How many policy rules name it.
        var uses: Int
    }

    /// A policy rule with its peers as ids.
    struct Rule: Sendable {
        var reference: PolicyRuleReference
        /// A missing or empty `from`/`to`: every address, outside the lab too.
        var everyone: Bool
        var peers: [Int]
        /// One of the peers is a block of every address, so identity 0 (outside the lab) matches.
        var outside: Bool
        var ports: [NetworkPolicyPort]
    }

    struct IndexedPolicy: Sendable {
        var policy: NetworkPolicy
        var selector: LabelSelector
        var egress: [Rule]
        var ingress: [Rule]
    }

    /// A pod of a node that some policy isolates, with the elements it accounts for.
    struct LocalPod: Sendable {
        var address: IPv4Address
        var isolatedEgress: Bool
        var isolatedIngress: Bool
        /// The isolating policies per direction (qualified names).
        var egressPolicies: [String]
        var ingressPolicies: [String]
        /// Its elements of `egress-logged` / `ingress-logged` (`PolicyLog`).
        var logged: [ElementKey] = []
        var byIdentity: [UInt32: [(key: ElementKey, reference: PolicyRuleReference)]]
    }

    struct NodeState: Sendable {
        var pods: [String: LocalPod] = [:]
        /// The verdict-map elements with the rules they stand for (one entry per pod that
        /// accounts for them: two pods at one address count twice, as in a full generation).
        var elements: [ElementKey: [PolicyRuleReference]] = [:]
        /// How many of the node's pods at an address are isolated, per set.
        var isolated: [String: [IPv4Address: Int]] = ["egress-pods": [:], "ingress-pods": [:]]
        /// How many of the node's pods account for each element of the logged sets.
        var logged: [ElementKey: Int] = [:]
        /// What each element touched since the last `takeDelta` was then (nil: absent).
        var base: [ElementKey: PolicyRuleset.Element?] = [:]
        /// The node's pods each policy isolates (either direction): the only pods an identity
        /// that appears can add elements to are those of the policies admitting it.
        var isolatedBy: [String: Set<String>] = [:]
        /// The node's pods with elements for each identity: the only pods an identity that
        /// vanishes takes elements from.
        var podsWithIdentity: [UInt32: Set<String>] = [:]
    }

    // The lab as the policies see it.
    private(set) var pods: [String: PolicyPod] = [:]
    private(set) var namespaceLabels: [String: [String: String]]
    private(set) var policies: [String: IndexedPolicy] = [:]
    public let nodeAddresses: [String: [IPv4Address]]
    private var podsAtAddress: [IPv4Address: Set<String>] = [:]
    private let nodeAddressSet: Set<IPv4Address>

    // Peers and named egress ports, counted by use.
    private var peerIDs: [Peer: Int] = [:]
    private var peerEntries: [Int: PeerEntry] = [:]
    private var nextPeerID = 0
    private var names: [PolicyPod.NamedPort: Int] = [:]

    // Identities.
    private var signatureAt: [IPv4Address: Signature] = [:]
    private var numbers: [Signature: UInt32] = [:]
    private var signatureOfNumber: [UInt32: Signature] = [:]
    private var members: [UInt32: Set<IPv4Address>] = [:]
    private var identityAt: [IPv4Address: UInt32] = [:]
    private var nextNumber: UInt32 = 1

    private var nodes: [String: NodeState] = [:]

    /// The policies that log their drops, in numbering order (`PolicyLog`).
    public private(set) var loggedPolicies: [String] = []
    private var logNumbers: [String: UInt32] = [:]

    /// The index of `world`, every node's elements computed (the full generation).
    public init(_ world: PolicyWorld) {
        namespaceLabels = world.namespaceLabels
        nodeAddresses = world.nodeAddresses
        nodeAddressSet = Set(world.nodeAddresses.values.flatMap { $0 })
        for node in world.nodeAddresses.keys { nodes[node] = NodeState() }
        var change = Change()
        for policy in world.policies { addPolicy(policy, &change) }
        numberLoggedPolicies()
        for pod in world.pods {
            let key = Self.key(pod)
            pods[key] = pod
            podsAtAddress[pod.address, default: []].insert(key)
            if nodes[pod.node] == nil { nodes[pod.node] = NodeState() }
            change.pods.insert(key)
        }
        change.addresses = Set(podsAtAddress.keys).union(nodeAddressSet)
        reconcile(change)
        for node in nodes.keys { nodes[node]?.base = [:] }
    }

    static func key(_ pod: PolicyPod) -> String { "\(pod.namespace)/\(pod.name)" }

    // MARK: Changes

    /// What one change touches: addresses whose signature must be worked out again (nil
    /// entries in `signatures`, or all of it), signatures already worked out, and pods whose
    /// selecting policies or rules changed.
    struct Change {
        var addresses: Set<IPv4Address> = []
        var signatures: [IPv4Address: Signature] = [:]
        var pods: Set<String> = []
        /// The nodes each dirty pod was on before (to take its elements away).
        var formerNodes: [String: String] = [:]
    }

    /// A pod added (`pod` given, none before), changed, or deleted (`pod` nil).
    public mutating func updatePod(namespace: String, name: String, _ pod: PolicyPod?) {
        let key = "\(namespace)/\(name)"
        let old = pods[key]
        guard old != pod else { return }
        var change = Change()
        if let old {
            podsAtAddress[old.address]?.remove(key)
            if podsAtAddress[old.address]?.isEmpty == true { podsAtAddress[old.address] = nil }
            change.addresses.insert(old.address)
            change.formerNodes[key] = old.node
        }
        pods[key] = pod
        if let pod {
            podsAtAddress[pod.address, default: []].insert(key)
            change.addresses.insert(pod.address)
            if nodes[pod.node] == nil { nodes[pod.node] = NodeState() }
        }
        // Its own rules follow only when what selects it, its address or its ports changed.
        if old?.address != pod?.address || old?.node != pod?.node || old?.namedPorts != pod?.namedPorts
            || old?.namespace != pod?.namespace || selecting(old) != selecting(pod) {
            change.pods.insert(key)
        }
        reconcile(change)
    }

    /// A namespace created or relabelled (`labels` given) or deleted (nil).
    public mutating func updateNamespace(_ name: String, labels: [String: String]?) {
        guard namespaceLabels[name] != labels else { return }
        namespaceLabels[name] = labels
        var change = Change()
        var affected = false
        for (id, entry) in peerEntries where entry.peer.peer.namespaceSelector != nil {
            let compiled = CompiledPeer(entry.peer, namespaceLabels: namespaceLabels)
            if compiled.namespaces != entry.compiled.namespaces {
                peerEntries[id]?.compiled = compiled
                affected = true
            }
        }
        // Only the pods of this namespace can have started or stopped matching.
        if affected {
            for pod in pods.values where pod.namespace == name { change.addresses.insert(pod.address) }
        }
        reconcile(change)
    }

    /// A policy added, changed, or deleted (`policy` nil).
    public mutating func updatePolicy(namespace: String, name: String, _ policy: NetworkPolicy?) {
        let qualified = "\(namespace)/\(name)"
        guard policies[qualified]?.policy != policy else { return }
        var change = Change()
        let old = policies.removeValue(forKey: qualified)
        if let old {
            for pod in pods.values where pod.namespace == namespace && old.selector.matches(pod.labels) { change.pods.insert(Self.key(pod)) }
        }
        // The new rules take their peers before the old ones let theirs go, so a peer both name
        // keeps its id, and the addresses it matches keep their identities.
        if let policy {
            addPolicy(policy, &change)
            let selector = policies[qualified]!.selector
            for pod in pods.values where pod.namespace == namespace && selector.matches(pod.labels) { change.pods.insert(Self.key(pod)) }
        }
        if let old { release(old, &change) }
        // A policy that starts or stops logging renumbers the logged ones: the pods of all of them follow.
        let loggedBefore = loggedPolicies
        numberLoggedPolicies()
        if loggedPolicies != loggedBefore {
            for name in Set(loggedBefore).union(loggedPolicies) {
                guard let indexed = policies[name] else { continue }
                for pod in pods.values where pod.namespace == indexed.policy.metadata.namespace && indexed.selector.matches(pod.labels) {
                    change.pods.insert(Self.key(pod))
                }
            }
        }
        reconcile(change)
    }

    private mutating func numberLoggedPolicies() {
        loggedPolicies = PolicyLog.loggedPolicies(policies.values.map(\.policy))
        logNumbers = Dictionary(uniqueKeysWithValues: loggedPolicies.enumerated().map { ($1, UInt32($0 + 1)) })
    }

    /// The names of the policies that select `pod`, in their order.
    private func selecting(_ pod: PolicyPod?) -> [String] {
        guard let pod else { return [] }
        return policies.filter { $0.value.policy.metadata.namespace == pod.namespace && $0.value.selector.matches(pod.labels) }.keys.sorted()
    }

    private func signature(_ address: IPv4Address, _ change: Change) -> Signature? {
        change.signatures[address] ?? signatureAt[address]
    }

    private mutating func addPolicy(_ policy: NetworkPolicy, _ change: inout Change) {
        let namespace = policy.metadata.namespace
        func rules(_ direction: PolicyType, _ list: [(ports: [NetworkPolicyPort], peers: [NetworkPolicyPeer])]) -> [Rule] {
            list.enumerated().map { index, rule in
                // A peer named twice in one rule is one use: `release` lets go of each of a rule's ids once.
                var ids: [Int] = []
                var named: Set<Peer> = []
                for peer in rule.peers where named.insert(Peer(namespace: namespace, peer: peer)).inserted {
                    ids.append(usePeer(Peer(namespace: namespace, peer: peer), &change))
                }
                return Rule(reference: PolicyRuleReference(policy: policy.qualifiedName, direction: direction, index: index),
                            everyone: rule.peers.isEmpty, peers: ids,
                            outside: ids.contains { peerEntries[$0]!.compiled.matchesOutside }, ports: rule.ports)
            }
        }
        let indexed = IndexedPolicy(policy: policy, selector: policy.spec.podSelector.selector,
                                    egress: rules(.egress, policy.spec.egress.map { ($0.ports, $0.to) }),
                                    ingress: rules(.ingress, policy.spec.ingress.map { ($0.ports, $0.from) }))
        policies[policy.qualifiedName] = indexed
        var namesChanged = false
        for rule in policy.spec.egress {
            for port in rule.ports {
                guard case .string(let name)? = port.port else { continue }
                let named = PolicyPod.NamedPort(name, port.effectiveProtocol)
                names[named, default: 0] += 1
                if names[named] == 1 { namesChanged = true }
            }
        }
        if namesChanged { renameAll(&change) }
    }

    /// What a policy no longer in `policies` held: its peers and named ports.
    private mutating func release(_ old: IndexedPolicy, _ change: inout Change) {
        for rule in old.egress + old.ingress {
            for id in rule.peers { releasePeer(id, &change) }
        }
        var namesChanged = false
        for rule in old.policy.spec.egress {
            for port in rule.ports {
                guard case .string(let name)? = port.port else { continue }
                let named = PolicyPod.NamedPort(name, port.effectiveProtocol)
                names[named, default: 1] -= 1
                if names[named] == 0 {
                    names[named] = nil
                    namesChanged = true
                }
            }
        }
        if namesChanged { renameAll(&change) }
    }

    /// A peer's id, made (and matched against every address) on its first use.
    private mutating func usePeer(_ peer: Peer, _ change: inout Change) -> Int {
        if let id = peerIDs[peer] {
            peerEntries[id]!.uses += 1
            return id
        }
        let id = nextPeerID
        nextPeerID += 1
        let compiled = CompiledPeer(peer, namespaceLabels: namespaceLabels)
        peerIDs[peer] = id
        peerEntries[id] = PeerEntry(peer: peer, compiled: compiled, uses: 1)
        for address in Set(signatureAt.keys).union(change.signatures.keys) where !change.addresses.contains(address) {
            guard compiled.matches(address: address, pod: pod(at: address)), var signature = signature(address, change) else { continue }
            signature.peers.insert(id)
            change.signatures[address] = signature
        }
        return id
    }

    private mutating func releasePeer(_ id: Int, _ change: inout Change) {
        peerEntries[id]!.uses -= 1
        guard peerEntries[id]!.uses == 0, let entry = peerEntries.removeValue(forKey: id) else { return }
        peerIDs[entry.peer] = nil
        for address in Set(signatureAt.keys).union(change.signatures.keys) {
            guard var signature = signature(address, change), signature.peers.contains(id) else { continue }
            signature.peers.remove(id)
            change.signatures[address] = signature
        }
    }

    /// The named egress ports changed: every address's resolutions follow.
    private func renameAll(_ change: inout Change) {
        for address in Set(signatureAt.keys).union(change.signatures.keys) {
            guard var signature = signature(address, change) else { continue }
            signature.namedPorts = namedPorts(of: pod(at: address))
            change.signatures[address] = signature
        }
    }

    private func namedPorts(of pod: PolicyPod?) -> [PolicyPod.NamedPort: UInt16] {
        guard let pod, !names.isEmpty else { return [:] }
        return pod.namedPorts.filter { names[$0.key] != nil }
    }

    /// The pod whose view an address takes: of two pods at one address the last in
    /// namespace/name order, as a full generation has it.
    private func pod(at address: IPv4Address) -> PolicyPod? {
        guard let keys = podsAtAddress[address] else { return nil }
        return keys.compactMap { pods[$0] }.max { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
    }

    private func freshSignature(_ address: IPv4Address) -> Signature? {
        let pod = pod(at: address)
        guard pod != nil || nodeAddressSet.contains(address) else { return nil }
        var peers: Set<Int> = []
        for (id, entry) in peerEntries where entry.compiled.matches(address: address, pod: pod) { peers.insert(id) }
        return Signature(peers: peers, namedPorts: namedPorts(of: pod))
    }

    // MARK: Working a change out

    private mutating func reconcile(_ change: Change) {
        // 1. Signatures, and the identities that appear and vanish.
        var signatures = change.signatures.mapValues { Optional($0) }
        // updateValue: a nil signature (the address gone) must stay in as an entry.
        for address in change.addresses { signatures.updateValue(freshSignature(address), forKey: address) }
        var added: Set<UInt32> = [], removed: Set<UInt32> = []
        for (address, new) in signatures.sorted(by: { $0.key < $1.key }) {
            let old = signatureAt[address]
            guard old != new else { continue }
            touchIdentity(address)
            if let old, let number = numbers[old] {
                members[number]?.remove(address)
                if members[number]?.isEmpty == true {
                    members[number] = nil
                    numbers[old] = nil
                    signatureOfNumber[number] = nil
                    if !added.contains(number) { removed.insert(number) } else { added.remove(number) }
                }
            }
            signatureAt[address] = new
            identityAt[address] = nil
            if let new {
                let number: UInt32
                if let known = numbers[new] {
                    number = known
                } else {
                    number = nextNumber
                    nextNumber += 1
                    numbers[new] = number
                    signatureOfNumber[number] = new
                    added.insert(number)
                }
                members[number, default: []].insert(address)
                identityAt[address] = number
            }
        }
        // 2. Each node's pods: the changed ones whole, the others for the identities that came or went.
        for node in nodes.keys.sorted() {
            var dirty: Set<String> = []
            for key in change.pods {
                if change.formerNodes[key] == node || pods[key]?.node == node || nodes[node]!.pods[key] != nil { dirty.insert(key) }
            }
            for key in dirty { recompute(pod: key, node: node) }
            guard !added.isEmpty || !removed.isEmpty else { continue }
            for number in removed.sorted() {
                for key in (nodes[node]!.podsWithIdentity[number] ?? []).sorted() where !dirty.contains(key) {
                    setContribution(node: node, pod: key, identity: number, [])
                }
            }
            for number in added.sorted() {
                guard let signature = signatureOfNumber[number] else { continue }
                var affected: Set<String> = []
                for (name, keys) in nodes[node]!.isolatedBy where admits(policies[name], signature) { affected.formUnion(keys) }
                for key in affected.subtracting(dirty).sorted() {
                    // The policy lists only: holding the pod's whole entry would copy its elements on the next write.
                    guard let pod = pods[key], let egress = nodes[node]!.pods[key]?.egressPolicies,
                          let ingress = nodes[node]!.pods[key]?.ingressPolicies else { continue }
                    setContribution(node: node, pod: key, identity: number, contribution(of: pod, egress: egress, ingress: ingress, identity: number))
                }
            }
        }
    }

    /// Whether some rule of `policy` lets the addresses of `signature` in (or out to them).
    private func admits(_ policy: IndexedPolicy?, _ signature: Signature) -> Bool {
        guard let policy else { return false }
        func admitting(_ rule: Rule) -> Bool { rule.everyone || rule.peers.contains { signature.peers.contains($0) } }
        return policy.egress.contains(where: admitting) || policy.ingress.contains(where: admitting)
    }

    /// A pod's elements on `node` worked out again from its selecting policies.
    private mutating func recompute(pod key: String, node: String) {
        if let old = nodes[node]!.pods[key] {
            for number in old.byIdentity.keys { setContribution(node: node, pod: key, identity: number, []) }
            setIsolated(node: node, address: old.address, egress: old.isolatedEgress, ingress: old.isolatedIngress, by: -1)
            for element in old.logged { setLogged(node: node, element, by: -1) }
            for name in Set(old.egressPolicies + old.ingressPolicies) {
                nodes[node]!.isolatedBy[name]?.remove(key)
                if nodes[node]!.isolatedBy[name]?.isEmpty == true { nodes[node]!.isolatedBy[name] = nil }
            }
            nodes[node]!.pods[key] = nil
        }
        guard let pod = pods[key], pod.node == node else { return }
        let selecting = selecting(pod)
        let egress = selecting.filter { policies[$0]!.policy.spec.isolatesEgress }
        let ingress = selecting.filter { policies[$0]!.policy.spec.isolatesIngress }
        guard !egress.isEmpty || !ingress.isEmpty else { return }
        var local = LocalPod(address: pod.address, isolatedEgress: !egress.isEmpty, isolatedIngress: !ingress.isEmpty,
                             egressPolicies: egress, ingressPolicies: ingress, byIdentity: [:])
        for (set, names) in [("egress-logged", egress), ("ingress-logged", ingress)] {
            for name in names {
                guard let number = logNumbers[name] else { continue }
                local.logged.append(ElementKey(set: set, key: .concat([.address(pod.address), .mark(number)])))
            }
        }
        nodes[node]!.pods[key] = local
        for name in Set(egress + ingress) { nodes[node]!.isolatedBy[name, default: []].insert(key) }
        setIsolated(node: node, address: pod.address, egress: local.isolatedEgress, ingress: local.isolatedIngress, by: 1)
        for element in local.logged { setLogged(node: node, element, by: 1) }
        for number in [0] + signatureOfNumber.keys.sorted() {
            setContribution(node: node, pod: key, identity: number, contribution(of: pod, egress: egress, ingress: ingress, identity: number))
        }
    }

    /// The elements a pod's isolating rules allow for one peer identity (0: outside the lab);
    /// the loop of `PolicyRules.generate` for one identity.
    private func contribution(of pod: PolicyPod, egress: [String], ingress: [String], identity: UInt32) -> [(key: ElementKey, reference: PolicyRuleReference)] {
        var result: [(key: ElementKey, reference: PolicyRuleReference)] = []
        let signature = identity == 0 ? nil : signatureOfNumber[identity]
        if identity != 0, signature == nil { return [] }
        let podKey = PolicyRuleset.Value.address(pod.address)
        for direction in [PolicyType.egress, .ingress] {
            let prefix = direction == .egress ? "egress" : "ingress"
            for name in direction == .egress ? egress : ingress {
                guard let policy = policies[name] else { continue }
                for rule in direction == .egress ? policy.egress : policy.ingress {
                    let admitted = rule.everyone || (signature.map { s in rule.peers.contains { s.peers.contains($0) } } ?? rule.outside)
                    guard admitted else { continue }
                    let base: [PolicyRuleset.Value] = [podKey, .mark(identity)]
                    if rule.ports.isEmpty {
                        result.append((ElementKey(set: "\(prefix)-any", key: .concat(base)), rule.reference))
                        continue
                    }
                    for port in rule.ports {
                        let proto = PolicyRuleset.Value.proto(PolicyRules.number(port.effectiveProtocol))
                        switch port.port {
                        case nil:
                            result.append((ElementKey(set: "\(prefix)-protocols", key: .concat(base + [proto])), rule.reference))
                        case .int(let start)?:
                            let end = port.endPort ?? start
                            guard start >= 1, end <= 65535, start <= end else { continue }
                            for number in start...end {
                                result.append((ElementKey(set: "\(prefix)-ports", key: .concat(base + [proto, .port(UInt16(number))])), rule.reference))
                            }
                        case .string(let name)?:
                            let named = PolicyPod.NamedPort(name, port.effectiveProtocol)
                            let resolved = direction == .ingress ? pod.namedPorts[named] : signature?.namedPorts[named]
                            if let resolved {
                                result.append((ElementKey(set: "\(prefix)-ports", key: .concat(base + [proto, .port(resolved)])), rule.reference))
                            }
                        }
                    }
                }
            }
        }
        return result
    }

    private mutating func setContribution(node: String, pod key: String, identity: UInt32,
                                          _ new: [(key: ElementKey, reference: PolicyRuleReference)]) {
        let old = nodes[node]!.pods[key]?.byIdentity[identity] ?? []
        guard !old.isEmpty || !new.isEmpty else { return }
        for (element, reference) in old {
            touch(node, element)
            guard var references = nodes[node]!.elements[element], let at = references.firstIndex(of: reference) else { continue }
            references.remove(at: at)
            nodes[node]!.elements[element] = references.isEmpty ? nil : references
        }
        for (element, reference) in new {
            touch(node, element)
            nodes[node]!.elements[element, default: []].append(reference)
        }
        nodes[node]!.pods[key]?.byIdentity[identity] = new.isEmpty ? nil : new
        if old.isEmpty {
            nodes[node]!.podsWithIdentity[identity, default: []].insert(key)
        } else if new.isEmpty {
            nodes[node]!.podsWithIdentity[identity]?.remove(key)
            if nodes[node]!.podsWithIdentity[identity]?.isEmpty == true { nodes[node]!.podsWithIdentity[identity] = nil }
        }
    }

    private mutating func setIsolated(node: String, address: IPv4Address, egress: Bool, ingress: Bool, by step: Int) {
        for (set, isolated) in [("egress-pods", egress), ("ingress-pods", ingress)] where isolated {
            touch(node, ElementKey(set: set, key: .address(address)))
            let count = (nodes[node]!.isolated[set]?[address] ?? 0) + step
            nodes[node]!.isolated[set]?[address] = count > 0 ? count : nil
        }
    }

    private mutating func setLogged(node: String, _ element: ElementKey, by step: Int) {
        touch(node, element)
        let count = (nodes[node]!.logged[element] ?? 0) + step
        nodes[node]!.logged[element] = count > 0 ? count : nil
    }

    private mutating func touchIdentity(_ address: IPv4Address) {
        for node in nodes.keys { touch(node, ElementKey(set: "identities", key: .address(address))) }
    }

    private mutating func touch(_ node: String, _ key: ElementKey) {
        guard nodes[node]!.base.index(forKey: key) == nil else { return }
        nodes[node]!.base.updateValue(element(key, node: node), forKey: key)
    }

    private func element(_ key: ElementKey, node: String) -> PolicyRuleset.Element? {
        switch key.set {
        case "identities":
            guard case .address(let address) = key.key, let number = identityAt[address] else { return nil }
            return .init(key.key, .mark(number))
        case "egress-pods", "ingress-pods":
            guard case .address(let address) = key.key, nodes[node]?.isolated[key.set]?[address] != nil else { return nil }
            return .init(key.key)
        case "egress-logged", "ingress-logged":
            return nodes[node]?.logged[key] == nil ? nil : .init(key.key)
        default:
            return nodes[node]?.elements[key] == nil ? nil : .init(key.key, .verdict(.return))
        }
    }

    // MARK: Reading out

    /// The elements that changed on `node` since the last call (or since the index was made),
    /// and a new start.
    public mutating func takeDelta(node: String) -> PolicyRuleset.Delta {
        guard let state = nodes[node] else { return PolicyRuleset.Delta() }
        var delta = PolicyRuleset.Delta()
        for (key, old) in state.base {
            let new = element(key, node: node)
            guard old != new else { continue }
            if let old { delta.removed[key.set, default: []].append(old) }
            if let new { delta.added[key.set, default: []].append(new) }
        }
        nodes[node]!.base = [:]
        return delta.sorted()
    }

    /// The nodes the index holds rules for.
    public var nodeNames: [String] { nodes.keys.sorted() }

    /// The lab as the index sees it.
    public var world: PolicyWorld {
        PolicyWorld(pods: Array(pods.values), namespaceLabels: namespaceLabels, policies: policies.values.map(\.policy),
                    nodeAddresses: nodeAddresses)
    }

    /// Every address's identity, in the terms of `PolicyRules` (so `PolicyRules.generate` can
    /// be given the index's numbers).
    public var identities: PolicyRules.Identities {
        let ids = peerEntries.keys.sorted()
        let nameList = names.keys.sorted()
        var result = PolicyRules.Identities(ofAddress: identityAt, representative: [:], peers: ids.map { peerEntries[$0]!.peer }, names: nameList)
        for (number, signature) in signatureOfNumber {
            result.numbers[PolicyRules.Signature(peers: ids.map { signature.peers.contains($0) }, namedPorts: nameList.map { signature.namedPorts[$0] })] = number
            result.representative[number] = members[number]?.min()
        }
        return result
    }

    /// The node's whole ruleset as it stands.
    public func ruleset(node: String) -> PolicyRuleset {
        let state = nodes[node] ?? NodeState()
        var sets: [PolicyRuleset.NamedSet] = [
            .init("identities", key: [.ipSaddr], data: .mark, elements: identityAt.map { .init(.address($0.key), .mark($0.value)) }),
            .init("egress-pods", key: [.ipSaddr], elements: (state.isolated["egress-pods"] ?? [:]).keys.map { .init(.address($0)) }),
            .init("ingress-pods", key: [.ipDaddr], elements: (state.isolated["ingress-pods"] ?? [:]).keys.map { .init(.address($0)) }),
            .init("egress-logged", key: [.ipSaddr, .mark], elements: state.logged.keys.filter { $0.set == "egress-logged" }.map { .init($0.key) }),
            .init("ingress-logged", key: [.ipDaddr, .mark], elements: state.logged.keys.filter { $0.set == "ingress-logged" }.map { .init($0.key) }),
        ]
        var byMap: [String: [PolicyRuleset.Element]] = [:]
        var reasons: [ElementKey: [PolicyRuleReference]] = [:]
        for (key, references) in state.elements {
            byMap[key.set, default: []].append(.init(key.key, .verdict(.return)))
            reasons[key] = references.sorted()
        }
        for prefix in ["egress", "ingress"] {
            let address: PolicyRuleset.Field = prefix == "egress" ? .ipSaddr : .ipDaddr
            sets.append(.init("\(prefix)-any", key: [address, .mark], data: .verdict, elements: byMap["\(prefix)-any"] ?? []))
            sets.append(.init("\(prefix)-protocols", key: [address, .mark, .l4proto], data: .verdict, elements: byMap["\(prefix)-protocols"] ?? []))
            sets.append(.init("\(prefix)-ports", key: [address, .mark, .l4proto, .thDport], data: .verdict, elements: byMap["\(prefix)-ports"] ?? []))
        }
        return PolicyRuleset(sets: sets, chains: PolicyRules.chains(logged: loggedPolicies), reasons: reasons)
    }
}
