/// Computes a node's `PolicyRuleset` from the lab's policies, pods and namespaces.
///
/// ```
/// table ip podlab-policy
///   map identities         ip addr : meta mark           every lab address → its identity (≥ 1)
///   set egress-pods        ip saddr                      this node's pods isolated for egress
///   set ingress-pods       ip daddr                      this node's pods isolated for ingress
///   map egress-any         ip saddr . meta mark : verdict                          (all ports)
///   map egress-protocols   ip saddr . meta mark . meta l4proto : verdict           (all ports of one protocol)
///   map egress-ports       ip saddr . meta mark . meta l4proto . th dport : verdict
///   map ingress-any / ingress-protocols / ingress-ports   the same keyed by ip daddr
///
///   forward (filter, forward, 0)  ct state established,related accept
///                                 meta mark 0x4000 goto forward-nodeport; jump policy; meta mark set 0
///   forward-nodeport              jump policy; meta mark set 0x4000
///   input (filter, input, 0)      ct state established,related accept; jump egress; meta mark set 0
///   policy                        jump egress; jump ingress
///   egress                        ip saddr @egress-pods goto egress-check
///   egress-check                  meta mark set 0; meta mark set ip daddr map @identities;
///                                 three vmap lookups (any, protocol, port): return;
///                                 per logged policy N: meta mark set N;
///                                   ip saddr . meta mark @egress-logged limit … log prefix "egress ns/name" group 13;
///                                 counter drop
///   ingress / ingress-check       the same for ip daddr, with the source's identity
///   set egress-logged / ingress-logged   pod . N for each logged policy N isolating the pod (`PolicyLog`)
/// ```
///
/// Traffic the node itself sends (kubelet probes, host-network pods) leaves through `output`
/// and is never judged; traffic arriving through a Service was DNATed in prerouting, so it is
/// judged by its real endpoint. An address outside the lab has identity 0 (no element): it
/// matches only peers that take every address (`to`/`from` missing, or `ipBlock 0.0.0.0/0`
/// without exceptions).
public enum PolicyRules {
    public static let table = PolicyRuleset.table

    /// One way the lab's addresses differ for the policies: which peers match, and what each
    /// named egress port resolves to.
    struct Signature: Hashable, Comparable, Sendable {
        var peers: [Bool]
        var namedPorts: [UInt16?]

        static func < (a: Signature, b: Signature) -> Bool {
            for (x, y) in zip(a.peers, b.peers) where x != y { return !x }
            if a.peers.count != b.peers.count { return a.peers.count < b.peers.count }
            for (x, y) in zip(a.namedPorts, b.namedPorts) where x != y { return (x.map(Int.init) ?? -1) < (y.map(Int.init) ?? -1) }
            return a.namedPorts.count < b.namedPorts.count
        }
    }

    /// A peer as its policy's namespace qualifies it.
    struct Peer: Hashable, Sendable {
        var namespace: String
        var peer: NetworkPolicyPeer
    }

    /// The identities of the lab's addresses (pods and nodes), numbered from 1 in a stable order.
    public struct Identities: Hashable, Sendable {
        public var ofAddress: [IPv4Address: UInt32]
        /// A member of each identity, to evaluate rules once per identity.
        var representative: [UInt32: IPv4Address]
        /// What the numbers were given for: while the policies' peers stay the same, a signature
        /// keeps its number, so a label change moves one identity element, not all of them.
        var peers: [Peer] = []
        var names: [PolicyPod.NamedPort] = []
        var numbers: [Signature: UInt32] = [:]

        public var count: Int { representative.count }
    }

    static func peers(of world: PolicyWorld) -> [Peer] {
        var seen: Set<Peer> = []
        var result: [Peer] = []
        for policy in world.policies {
            let peers = policy.spec.ingress.flatMap(\.from) + policy.spec.egress.flatMap(\.to)
            for peer in peers where seen.insert(Peer(namespace: policy.metadata.namespace, peer: peer)).inserted {
                result.append(Peer(namespace: policy.metadata.namespace, peer: peer))
            }
        }
        return result
    }

    /// A peer with its selectors compiled once, and the namespaces it admits.
    struct CompiledPeer {
        var pods: LabelSelector?
        var block: (cidr: IPv4Prefix, except: [IPv4Prefix])?
        var isBlock: Bool
        /// The namespaces whose pods it may match.
        var namespaces: Set<String>

        init(_ peer: Peer, namespaceLabels: [String: [String: String]]) {
            isBlock = peer.peer.ipBlock != nil
            block = peer.peer.ipBlock?.prefixes
            pods = peer.peer.podSelector?.selector
            if let selector = peer.peer.namespaceSelector?.selector {
                namespaces = Set(namespaceLabels.filter { selector.matches($0.value) }.keys)
            } else {
                namespaces = [peer.namespace]
            }
        }

        /// `PolicyModel.matches`, with the work done once per peer.
        func matches(address: IPv4Address, pod: PolicyPod?) -> Bool {
            if isBlock {
                guard let block else { return false }
                return block.cidr.contains(address) && !block.except.contains { $0.contains(address) }
            }
            guard let pod, namespaces.contains(pod.namespace) else { return false }
            return pods?.matches(pod.labels) ?? true
        }

        /// Identity 0, an address outside the lab: only a block of every address matches it.
        var matchesOutside: Bool { block.map { $0.cidr.length == 0 && $0.except.isEmpty } ?? false }
    }

    static func namedEgressPorts(of world: PolicyWorld) -> [PolicyPod.NamedPort] {
        var names: Set<PolicyPod.NamedPort> = []
        for policy in world.policies {
            for rule in policy.spec.egress {
                for port in rule.ports {
                    if case .string(let name)? = port.port { names.insert(PolicyPod.NamedPort(name, port.effectiveProtocol)) }
                }
            }
        }
        return names.sorted()
    }

    /// Every address of the lab with its identity; numbers given in `previous` are kept for the
    /// signatures that still exist when the peers are the same.
    public static func identities(of world: PolicyWorld, previous: Identities? = nil) -> Identities {
        let peers = peers(of: world)
        let compiled = peers.map { CompiledPeer($0, namespaceLabels: world.namespaceLabels) }
        let names = namedEgressPorts(of: world)
        var addresses: [(IPv4Address, PolicyPod?)] = world.pods.map { ($0.address, $0) }
        let podAddresses = Set(world.pods.map(\.address))
        for address in world.nodeAddresses.values.flatMap({ $0 }).sorted() where !podAddresses.contains(address) {
            addresses.append((address, nil))
        }
        var signatures: [IPv4Address: Signature] = [:]
        for (address, pod) in addresses {
            signatures[address] = Signature(peers: compiled.map { $0.matches(address: address, pod: pod) },
                                            namedPorts: names.map { pod?.namedPorts[$0] })
        }
        var numbered: [Signature: UInt32] = [:]
        let present = Set(signatures.values).sorted()
        if let previous, previous.peers == peers, previous.names == names {
            // Kept numbers, and new ones after the highest ever given (renumbered only once
            // the numbers run far ahead of the identities in use).
            var next = (previous.numbers.values.max() ?? 0) + 1
            for signature in present {
                if let number = previous.numbers[signature] {
                    numbered[signature] = number
                } else {
                    numbered[signature] = next
                    next += 1
                }
            }
            if next > UInt32(present.count) * 2 + 64 { numbered = [:] }
        }
        if numbered.isEmpty { numbered = Dictionary(uniqueKeysWithValues: present.enumerated().map { ($1, UInt32($0 + 1)) }) }
        var result = Identities(ofAddress: [:], representative: [:], peers: peers, names: names, numbers: numbered)
        for (address, _) in addresses.sorted(by: { $0.0 < $1.0 }) {
            let identity = numbered[signatures[address]!]!
            result.ofAddress[address] = identity
            if result.representative[identity] == nil { result.representative[identity] = address }
        }
        return result
    }

    static let tcp: UInt8 = 6
    static let udp: UInt8 = 17

    static func number(_ proto: PortProtocol) -> UInt8 { proto == .udp ? udp : tcp }

    /// The ruleset of `node`.
    public static func generate(_ world: PolicyWorld, node: String) -> PolicyRuleset {
        generate(world, node: node, identities: identities(of: world))
    }

    /// One rule of a policy, with what it admits worked out once: the identities its peers
    /// match (0 for outside the lab), and its ports.
    struct CompiledRule {
        var reference: PolicyRuleReference
        var identities: [UInt32]
        var ports: [NetworkPolicyPort]
    }

    public static func generate(_ world: PolicyWorld, node: String, identities: Identities) -> PolicyRuleset {
        let local = world.pods.filter { $0.node == node }
        // Each identity's signature (its peers' matches), from its representative.
        let peerIndex = Dictionary(identities.peers.enumerated().map { ($1, $0) }) { a, _ in a }
        let signatureOf = Dictionary(uniqueKeysWithValues: identities.numbers.map { ($1, $0) })
        let compiledPeers = identities.peers.map { CompiledPeer($0, namespaceLabels: world.namespaceLabels) }
        let numbers = identities.representative.keys.sorted()
        let nameIndex = Dictionary(identities.names.enumerated().map { ($1, $0) }) { a, _ in a }

        func compile(_ policy: NetworkPolicy, _ direction: PolicyType) -> [CompiledRule] {
            let rules: [(ports: [NetworkPolicyPort], peers: [NetworkPolicyPeer])] = direction == .egress
                ? policy.spec.egress.map { ($0.ports, $0.to) } : policy.spec.ingress.map { ($0.ports, $0.from) }
            return rules.enumerated().map { index, rule in
                var admitted: [UInt32]
                if rule.peers.isEmpty {
                    admitted = [0] + numbers
                } else {
                    let indexes = rule.peers.compactMap { peerIndex[Peer(namespace: policy.metadata.namespace, peer: $0)] }
                    admitted = indexes.contains { compiledPeers[$0].matchesOutside } ? [0] : []
                    admitted += numbers.filter { number in
                        guard let signature = signatureOf[number] else { return false }
                        return indexes.contains { signature.peers[$0] }
                    }
                }
                return CompiledRule(reference: PolicyRuleReference(policy: policy.qualifiedName, direction: direction, index: index),
                                    identities: admitted, ports: rule.ports)
            }
        }

        // The policies of each namespace with their compiled pod selectors; rules compiled on first use.
        var policiesByNamespace: [String: [(policy: NetworkPolicy, selector: LabelSelector)]] = [:]
        for policy in world.policies { policiesByNamespace[policy.metadata.namespace, default: []].append((policy, policy.spec.podSelector.selector)) }
        var compiledRules: [String: [CompiledRule]] = [:]

        var egressPods: [PolicyRuleset.Element] = []
        var ingressPods: [PolicyRuleset.Element] = []
        let logged = PolicyLog.loggedPolicies(world.policies)
        let logNumbers = Dictionary(uniqueKeysWithValues: logged.enumerated().map { ($1, UInt32($0 + 1)) })
        var egressLogged: [PolicyRuleset.Element] = []
        var ingressLogged: [PolicyRuleset.Element] = []
        var elements: [String: [PolicyRuleset.Value: [PolicyRuleReference]]] = [:]
        func allow(_ map: String, _ key: [PolicyRuleset.Value], _ reference: PolicyRuleReference) {
            elements[map, default: [:]][.concat(key), default: []].append(reference)
        }

        for pod in local {
            let selecting = (policiesByNamespace[pod.namespace] ?? []).filter { $0.selector.matches(pod.labels) }.map(\.policy)
            for direction in [PolicyType.egress, .ingress] {
                let isolating = selecting.filter { direction == .egress ? $0.spec.isolatesEgress : $0.spec.isolatesIngress }
                guard !isolating.isEmpty else { continue }
                let prefix = direction == .egress ? "egress" : "ingress"
                let podKey = PolicyRuleset.Value.address(pod.address)
                if direction == .egress { egressPods.append(.init(podKey)) } else { ingressPods.append(.init(podKey)) }
                for policy in isolating {
                    if let number = logNumbers[policy.qualifiedName] {
                        let element = PolicyRuleset.Element(.concat([podKey, .mark(number)]))
                        if direction == .egress { egressLogged.append(element) } else { ingressLogged.append(element) }
                    }
                    let cacheKey = "\(direction.rawValue) \(policy.qualifiedName)"
                    let rules = compiledRules[cacheKey] ?? compile(policy, direction)
                    compiledRules[cacheKey] = rules
                    for rule in rules {
                        for identity in rule.identities {
                            let base: [PolicyRuleset.Value] = [podKey, .mark(identity)]
                            if rule.ports.isEmpty {
                                allow("\(prefix)-any", base, rule.reference)
                                continue
                            }
                            for port in rule.ports {
                                let proto = PolicyRuleset.Value.proto(number(port.effectiveProtocol))
                                switch port.port {
                                case nil:
                                    allow("\(prefix)-protocols", base + [proto], rule.reference)
                                case .int(let start)?:
                                    let end = port.endPort ?? start
                                    guard start >= 1, end <= 65535, start <= end else { continue }
                                    for number in start...end { allow("\(prefix)-ports", base + [proto, .port(UInt16(number))], rule.reference) }
                                case .string(let name)?:
                                    // Named ports resolve on the destination: the peer for egress (its
                                    // identity carries the resolution), the pod itself for ingress.
                                    let named = PolicyPod.NamedPort(name, port.effectiveProtocol)
                                    let resolved: UInt16? = if direction == .ingress {
                                        pod.namedPorts[named]
                                    } else if identity == 0 {
                                        nil
                                    } else {
                                        nameIndex[named].flatMap { signatureOf[identity]?.namedPorts[$0] }
                                    }
                                    if let resolved { allow("\(prefix)-ports", base + [proto, .port(resolved)], rule.reference) }
                                }
                            }
                        }
                    }
                }
            }
        }

        var sets: [PolicyRuleset.NamedSet] = [
            .init("identities", key: [.ipSaddr], data: .mark,
                  elements: identities.ofAddress.map { .init(.address($0.key), .mark($0.value)) }),
            .init("egress-pods", key: [.ipSaddr], elements: egressPods),
            .init("ingress-pods", key: [.ipDaddr], elements: ingressPods),
            .init("egress-logged", key: [.ipSaddr, .mark], elements: egressLogged),
            .init("ingress-logged", key: [.ipDaddr, .mark], elements: ingressLogged),
        ]
        var reasons: [PolicyRuleset.ElementKey: [PolicyRuleReference]] = [:]
        for prefix in ["egress", "ingress"] {
            let address: PolicyRuleset.Field = prefix == "egress" ? .ipSaddr : .ipDaddr
            let keys: [(String, [PolicyRuleset.Field])] = [
                ("\(prefix)-any", [address, .mark]),
                ("\(prefix)-protocols", [address, .mark, .l4proto]),
                ("\(prefix)-ports", [address, .mark, .l4proto, .thDport]),
            ]
            for (name, fields) in keys {
                let entries = elements[name] ?? [:]
                sets.append(.init(name, key: fields, data: .verdict, elements: entries.keys.map { .init($0, .verdict(.return)) }))
                for (key, references) in entries { reasons[.init(set: name, key: key)] = references.sorted() }
            }
        }
        return PolicyRuleset(sets: sets, chains: chains(logged: logged), reasons: reasons)
    }

    /// The chains without logging (see the type's documentation).
    public static let chains: [PolicyRuleset.Chain] = chains(logged: [])

    /// The chains, with two rules per logged policy (`logged`: qualified names in numbering
    /// order, `PolicyLog.loggedPolicies`) in each check chain, before its drop.
    public static func chains(logged: [String]) -> [PolicyRuleset.Chain] {
        typealias R = PolicyRuleset.Rule
        let established = R([.ctEstablishedOrRelated, .verdict(.accept)])
        func check(_ direction: String, own: PolicyRuleset.Field, peer: PolicyRuleset.Field) -> [R] {
            var rules = [
                R([.setMark(0)]),
                R([.setMarkFromMap([peer], map: "identities")]),
                R([.verdictMap([own, .mark], map: "\(direction)-any")]),
                R([.verdictMap([own, .mark, .l4proto], map: "\(direction)-protocols")]),
                R([.verdictMap([own, .mark, .l4proto, .thDport], map: "\(direction)-ports")]),
            ]
            // Nothing allowed the packet: the mark (the peer's identity) is no longer needed and
            // carries each logged policy's number into the lookup of the pods it isolates.
            for (index, policy) in logged.enumerated() {
                rules.append(R([.setMark(UInt32(index + 1))]))
                rules.append(R([.lookup([own, .mark], set: "\(direction)-logged"), .limit(perSecond: PolicyLog.perSecond, burst: PolicyLog.burst),
                                .log(group: PolicyLog.group, prefix: PolicyLog.prefix(policy: policy, direction: direction == "egress" ? .egress : .ingress))]))
            }
            rules.append(R([.counter, .verdict(.drop)]))
            return rules
        }
        return [
            .init("forward", base: .init(hook: "forward", priority: 0), rules: [
                established,
                R([.match(.mark, .mark(PolicyRuleset.nodePortMark)), .verdict(.goto("forward-nodeport"))]),
                R([.verdict(.jump("policy"))]),
                R([.setMark(0)]),
            ]),
            .init("forward-nodeport", rules: [R([.verdict(.jump("policy"))]), R([.setMark(PolicyRuleset.nodePortMark)])]),
            .init("input", base: .init(hook: "input", priority: 0), rules: [
                established,
                R([.verdict(.jump("egress"))]),
                R([.setMark(0)]),
            ]),
            .init("policy", rules: [R([.verdict(.jump("egress"))]), R([.verdict(.jump("ingress"))])]),
            .init("egress", rules: [R([.lookup([.ipSaddr], set: "egress-pods"), .verdict(.goto("egress-check"))])]),
            .init("egress-check", rules: check("egress", own: .ipSaddr, peer: .ipDaddr)),
            .init("ingress", rules: [R([.lookup([.ipDaddr], set: "ingress-pods"), .verdict(.goto("ingress-check"))])]),
            .init("ingress-check", rules: check("ingress", own: .ipDaddr, peer: .ipSaddr)),
        ]
    }
}
