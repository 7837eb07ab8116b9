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

    /// An element as the index keeps it: its set and the numbers of its key in a value of fixed
    /// size, so making, hashing and keeping one allocates nothing (a label change that makes an
    /// identity touches a couple of thousand). `PolicyRuleset`'s own elements are made from
    /// these only when a delta or a ruleset is read out.
    struct Slot: Hashable, Sendable {
        enum Kind: UInt8, Sendable {
            case identities, egressPods, ingressPods, egressLogged, ingressLogged
            case egressAny, ingressAny, egressProtocols, ingressProtocols, egressPorts, ingressPorts

            var setName: String {
                switch self {
                case .identities: "identities"
                case .egressPods: "egress-pods"
                case .ingressPods: "ingress-pods"
                case .egressLogged: "egress-logged"
                case .ingressLogged: "ingress-logged"
                case .egressAny: "egress-any"
                case .ingressAny: "ingress-any"
                case .egressProtocols: "egress-protocols"
                case .ingressProtocols: "ingress-protocols"
                case .egressPorts: "egress-ports"
                case .ingressPorts: "ingress-ports"
                }
            }

            /// A verdict map's element is `key : return`; an identity's `address : mark`.
            var isVerdictMap: Bool { rawValue >= Kind.egressAny.rawValue }
        }

        var kind: Kind
        var address: IPv4Address
        var mark: UInt32 = 0
        var proto: UInt8 = 0
        var port: UInt16 = 0

        static func == (a: Slot, b: Slot) -> Bool { a.packed == b.packed && a.mark == b.mark }
        func hash(into hasher: inout Hasher) {
            hasher.combine(packed)
            hasher.combine(mark)
        }

        private var packed: UInt64 {
            UInt64(address.value) << 32 | UInt64(port) << 16 | UInt64(proto) << 8 | UInt64(kind.rawValue)
        }

        /// The key as `PolicyRuleset` writes it.
        var key: PolicyRuleset.Value {
            switch kind {
            case .identities, .egressPods, .ingressPods: .address(address)
            case .egressLogged, .ingressLogged, .egressAny, .ingressAny: .concat([.address(address), .mark(mark)])
            case .egressProtocols, .ingressProtocols: .concat([.address(address), .mark(mark), .proto(proto)])
            case .egressPorts, .ingressPorts: .concat([.address(address), .mark(mark), .proto(proto), .port(port)])
            }
        }

        var elementKey: PolicyRuleset.ElementKey { PolicyRuleset.ElementKey(set: kind.setName, key: key) }
    }

    /// Whether an element is on a node: `absent`, or present with its data's number (an
    /// identity's mark, else 0).
    typealias Presence = Int64
    static let absent: Presence = -1

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
        /// The rule's reference by number (`ruleReferences`): what a pod's elements keep of it.
        var id: Int32
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
        /// Their rules, and the pod's named ports: what its elements are made of, kept here so
        /// an identity that appears reads no other table.
        var egressRules: [Rule]
        var ingressRules: [Rule]
        var namedPorts: [PolicyPod.NamedPort: UInt16]
        /// Its elements of `egress-logged` / `ingress-logged` (`PolicyLog`).
        var logged: [Slot] = []
        /// Its verdict-map elements per peer identity, with the rule (`ruleReferences`) each stands for.
        var byIdentity: [UInt32: [(key: Slot, rule: Int32)]] = [:]
    }

    struct NodeState: Sendable {
        var pods: [String: LocalPod] = [:]
        /// Every element but the identities, with how many of the node's pods' rules account
        /// for it (a verdict-map element: one per pod and rule, two pods at one address counting
        /// twice, as in a full generation; `*-pods` and `*-logged`: one per pod). An element is
        /// in the kernel while its count is above zero; the rules themselves are in the pods'
        /// `byIdentity`, read out for a ruleset's reasons.
        /// A count that falls to zero stays until the next `takeDelta` (one lookup a change, not two).
        var held: [Slot: Int32] = [:]
        /// What each element touched since the last `takeDelta` was then (`Presence`).
        var base: [Slot: Presence] = [:]
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

    /// The rules' references by number, and the numbers by reference (a reference keeps its number).
    private var ruleReferences: [PolicyRuleReference] = []
    private var ruleIDs: [PolicyRuleReference: Int32] = [:]

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
        for node in Array(nodes.keys) {
            nodes[node]?.base = [:]
            if let held = nodes[node]?.held { nodes[node]?.held = held.filter { $0.value > 0 } }
        }
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
                let reference = PolicyRuleReference(policy: policy.qualifiedName, direction: direction, index: index)
                return Rule(id: ruleID(reference),
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

    private mutating func ruleID(_ reference: PolicyRuleReference) -> Int32 {
        if let id = ruleIDs[reference] { return id }
        let id = Int32(ruleReferences.count)
        ruleReferences.append(reference)
        ruleIDs[reference] = id
        return id
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
            // Out of the table while it changes: one lookup of the node, and no copy.
            var state = nodes.removeValue(forKey: node)!
            defer { nodes[node] = state }
            var dirty: Set<String> = []
            for key in change.pods {
                if change.formerNodes[key] == node || pods[key]?.node == node || state.pods[key] != nil { dirty.insert(key) }
            }
            for key in dirty { recompute(pod: key, node: node, &state) }
            guard !added.isEmpty || !removed.isEmpty else { continue }
            for number in removed {
                for key in state.podsWithIdentity[number] ?? [] where !dirty.contains(key) {
                    Self.setContribution(&state, pod: key, identity: number, [])
                }
            }
            for number in added {
                guard let signature = signatureOfNumber[number] else { continue }
                var affected: Set<String> = []
                for (name, keys) in state.isolatedBy where admits(policies[name], signature) { affected.formUnion(keys) }
                for key in affected where !dirty.contains(key) {
                    guard let local = state.pods[key] else { continue }
                    Self.setContribution(&state, pod: key, identity: number, contribution(of: local, identity: number))
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
    private mutating func recompute(pod key: String, node: String, _ state: inout NodeState) {
        if let old = state.pods[key] {
            for number in old.byIdentity.keys { Self.setContribution(&state, pod: key, identity: number, []) }
            Self.setIsolated(&state, address: old.address, egress: old.isolatedEgress, ingress: old.isolatedIngress, by: -1)
            for slot in old.logged { Self.hold(&state, slot, by: -1) }
            for name in Set(old.egressPolicies + old.ingressPolicies) {
                state.isolatedBy[name]?.remove(key)
                if state.isolatedBy[name]?.isEmpty == true { state.isolatedBy[name] = nil }
            }
            state.pods[key] = nil
        }
        guard let pod = pods[key], pod.node == node else { return }
        let selecting = selecting(pod)
        let egress = selecting.filter { policies[$0]!.policy.spec.isolatesEgress }
        let ingress = selecting.filter { policies[$0]!.policy.spec.isolatesIngress }
        guard !egress.isEmpty || !ingress.isEmpty else { return }
        var local = LocalPod(address: pod.address, isolatedEgress: !egress.isEmpty, isolatedIngress: !ingress.isEmpty,
                             egressPolicies: egress, ingressPolicies: ingress,
                             egressRules: egress.flatMap { policies[$0]!.egress }, ingressRules: ingress.flatMap { policies[$0]!.ingress },
                             namedPorts: pod.namedPorts)
        for (kind, names) in [(Slot.Kind.egressLogged, egress), (.ingressLogged, ingress)] {
            for name in names {
                guard let number = logNumbers[name] else { continue }
                local.logged.append(Slot(kind: kind, address: pod.address, mark: number))
            }
        }
        state.pods[key] = local
        for name in Set(egress + ingress) { state.isolatedBy[name, default: []].insert(key) }
        Self.setIsolated(&state, address: pod.address, egress: local.isolatedEgress, ingress: local.isolatedIngress, by: 1)
        for slot in local.logged { Self.hold(&state, slot, by: 1) }
        for number in [0] + signatureOfNumber.keys.sorted() {
            Self.setContribution(&state, pod: key, identity: number, contribution(of: local, identity: number))
        }
    }

    /// The elements a pod's isolating rules allow for one peer identity (0: outside the lab);
    /// the loop of `PolicyRules.generate` for one identity.
    private func contribution(of pod: LocalPod, identity: UInt32) -> [(key: Slot, rule: Int32)] {
        var result: [(key: Slot, rule: Int32)] = []
        let signature = identity == 0 ? nil : signatureOfNumber[identity]
        if identity != 0, signature == nil { return [] }
        for direction in [PolicyType.egress, .ingress] {
            let (any, protocols, ports): (Slot.Kind, Slot.Kind, Slot.Kind) = direction == .egress
                ? (.egressAny, .egressProtocols, .egressPorts) : (.ingressAny, .ingressProtocols, .ingressPorts)
            for rule in direction == .egress ? pod.egressRules : pod.ingressRules {
                let admitted = rule.everyone || (signature.map { s in rule.peers.contains { s.peers.contains($0) } } ?? rule.outside)
                guard admitted else { continue }
                if rule.ports.isEmpty {
                    result.append((Slot(kind: any, address: pod.address, mark: identity), rule.id))
                    continue
                }
                for port in rule.ports {
                    let proto = PolicyRules.number(port.effectiveProtocol)
                    switch port.port {
                    case nil:
                        result.append((Slot(kind: protocols, address: pod.address, mark: identity, proto: proto), rule.id))
                    case .int(let start)?:
                        let end = port.endPort ?? start
                        guard start >= 1, end <= 65535, start <= end else { continue }
                        for number in start...end {
                            result.append((Slot(kind: ports, address: pod.address, mark: identity, proto: proto, port: UInt16(number)), rule.id))
                        }
                    case .string(let name)?:
                        let named = PolicyPod.NamedPort(name, port.effectiveProtocol)
                        let resolved = direction == .ingress ? pod.namedPorts[named] : signature?.namedPorts[named]
                        if let resolved {
                            result.append((Slot(kind: ports, address: pod.address, mark: identity, proto: proto, port: resolved), rule.id))
                        }
                    }
                }
            }
        }
        return result
    }

    private static func setContribution(_ state: inout NodeState, pod key: String, identity: UInt32, _ new: [(key: Slot, rule: Int32)]) {
        let old = state.pods[key]?.byIdentity[identity] ?? []
        guard !old.isEmpty || !new.isEmpty else { return }
        for element in old { hold(&state, element.key, by: -1) }
        for element in new { hold(&state, element.key, by: 1) }
        state.pods[key]?.byIdentity[identity] = new.isEmpty ? nil : new
        if old.isEmpty {
            state.podsWithIdentity[identity, default: []].insert(key)
        } else if new.isEmpty {
            state.podsWithIdentity[identity]?.remove(key)
            if state.podsWithIdentity[identity]?.isEmpty == true { state.podsWithIdentity[identity] = nil }
        }
    }

    private static func setIsolated(_ state: inout NodeState, address: IPv4Address, egress: Bool, ingress: Bool, by step: Int32) {
        if egress { hold(&state, Slot(kind: .egressPods, address: address), by: step) }
        if ingress { hold(&state, Slot(kind: .ingressPods, address: address), by: step) }
    }

    /// One more (or one fewer) of the node's pods' rules accounts for an element: one lookup of
    /// its count, and one of its base the first time since the last delta (a default inserts
    /// only when the key is absent).
    private static func hold(_ state: inout NodeState, _ slot: Slot, by step: Int32) {
        func counted(_ count: inout Int32) -> Int32 {
            defer { count += step }
            return count
        }
        let before = counted(&state.held[slot, default: 0])
        keep(&state.base[slot, default: before > 0 ? 0 : Self.absent])
    }

    private static func keep(_: inout Presence) {}

    private mutating func touchIdentity(_ address: IPv4Address) {
        let slot = Slot(kind: .identities, address: address)
        let before = identityPresence(address)
        // The names copied out first: a view of the keys held while a node changes would make it copy its table.
        for node in Array(nodes.keys) { Self.keep(&nodes[node]!.base[slot, default: before]) }
    }

    /// Whether an element is on a node (`Presence`).
    private func presence(_ slot: Slot, in state: NodeState) -> Presence {
        if slot.kind == .identities { return identityPresence(slot.address) }
        return (state.held[slot] ?? 0) > 0 ? 0 : Self.absent
    }

    /// An address's element of `identities`, on every node alike.
    private func identityPresence(_ address: IPv4Address) -> Presence {
        identityAt[address].map { Presence($0) } ?? Self.absent
    }

    private static func element(_ slot: Slot, _ presence: Presence) -> PolicyRuleset.Element? {
        guard presence != Self.absent else { return nil }
        switch slot.kind {
        case .identities: return .init(slot.key, .mark(UInt32(presence)))
        case let kind where kind.isVerdictMap: return .init(slot.key, .verdict(.return))
        default: return .init(slot.key)
        }
    }

    // MARK: Reading out

    /// The elements that changed on `node` since the last call (or since the index was made),
    /// and a new start.
    public mutating func takeDelta(node: String) -> PolicyRuleset.Delta {
        guard var state = nodes.removeValue(forKey: node) else { return PolicyRuleset.Delta() }
        defer { nodes[node] = state }
        var delta = PolicyRuleset.Delta()
        for (slot, old) in state.base {
            let new = presence(slot, in: state)
            if new == Self.absent, slot.kind != .identities { state.held[slot] = nil }
            guard old != new else { continue }
            let set = slot.kind.setName
            if let old = Self.element(slot, old) { delta.removed[set, default: []].append(old) }
            if let new = Self.element(slot, new) { delta.added[set, default: []].append(new) }
        }
        state.base = [:]
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
        var elements: [Slot.Kind: [PolicyRuleset.Element]] = [:]
        for (slot, count) in state.held where count > 0 { elements[slot.kind, default: []].append(Self.element(slot, 0)!) }
        var reasons: [PolicyRuleset.ElementKey: [PolicyRuleReference]] = [:]
        for pod in state.pods.values {
            for contributions in pod.byIdentity.values {
                for (slot, rule) in contributions { reasons[slot.elementKey, default: []].append(ruleReferences[Int(rule)]) }
            }
        }
        reasons = reasons.mapValues { $0.sorted() }
        var sets: [PolicyRuleset.NamedSet] = [
            .init("identities", key: [.ipSaddr], data: .mark, elements: identityAt.map { .init(.address($0.key), .mark($0.value)) }),
            .init("egress-pods", key: [.ipSaddr], elements: elements[.egressPods] ?? []),
            .init("ingress-pods", key: [.ipDaddr], elements: elements[.ingressPods] ?? []),
            .init("egress-logged", key: [.ipSaddr, .mark], elements: elements[.egressLogged] ?? []),
            .init("ingress-logged", key: [.ipDaddr, .mark], elements: elements[.ingressLogged] ?? []),
        ]
        for (address, any, protocols, ports): (PolicyRuleset.Field, Slot.Kind, Slot.Kind, Slot.Kind) in
            [(.ipSaddr, .egressAny, .egressProtocols, .egressPorts), (.ipDaddr, .ingressAny, .ingressProtocols, .ingressPorts)] {
            sets.append(.init(any.setName, key: [address, .mark], data: .verdict, elements: elements[any] ?? []))
            sets.append(.init(protocols.setName, key: [address, .mark, .l4proto], data: .verdict, elements: elements[protocols] ?? []))
            sets.append(.init(ports.setName, key: [address, .mark, .l4proto, .thDport], data: .verdict, elements: elements[ports] ?? []))
        }
        return PolicyRuleset(sets: sets, chains: PolicyRules.chains(logged: loggedPolicies), reasons: reasons)
    }
}
