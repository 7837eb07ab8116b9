/// The Service ruleset of one node, computed from the lab's Services and their endpoints.
///
/// The layout is the one design.md measured (10 000 Services load in ~0.1 s of kernel time):
/// a fixed, small set of chains and maps, and all per-Service data in map elements — no chain,
/// set or anonymous map per Service, because the kernel re-validates every rule using a map on
/// each element change and keeps sets in a list, which makes per-Service objects quadratic.
///
/// - `service-ips` (`ip daddr . meta l4proto . th dport : verdict`) sends each ClusterIP port to
///   a shared chain; `service-nodeports` (`meta l4proto . th dport : verdict`) does the same for
///   NodePorts on the node's underlay address.
/// - `lb-<proto>-<N>` chains pick one of N endpoints with `numgen random mod N` and DNAT through
///   the one `backends` map keyed by (address . proto . port . index).
/// - ClientIP affinity: each endpoint of such a port keeps its slot (its index in `backends`)
///   for as long as it is an endpoint, whatever comes and goes beside it; a new one takes the
///   lowest free slot. `affinity-<T>s-<N>` chains (`…-<N>-slots-<M>` while slots are free below
///   the highest) look the client up in the dynamic set `affinity` (client . address . proto .
///   port . slot, expiring after T seconds), one rule per slot in use, and otherwise pick one
///   of the N endpoints at random through `affinity-choices` (address . proto . port . k →
///   that endpoint's slot chain); `affinity-<T>s-slot-<k>` chains record (or refresh) the
///   choice and DNAT to the endpoint in slot k. So a client keeps its endpoint while endpoints
///   are added and removed beside it.
/// - A port with no usable endpoint goes to `no-endpoints`, which rejects at once (TCP reset,
///   ICMP port unreachable), as kube-proxy does; one whose endpoints are all on other nodes
///   under `internalTrafficPolicy: Local` is dropped.
/// - Postrouting masquerades NodePort traffic (marked on the way in, so replies from endpoints
///   on other nodes come back through this node) and hairpin traffic (a pod reaching itself
///   through its Service: `hairpin` holds `ip . ip` for the node's endpoints).
///
/// Endpoints are the ready ones; when none is ready, the serving ones that are terminating (a
/// rolling update's draining pods), as kube-proxy falls back.
public enum ServiceRules {
    public static let table = "podlab-services"
    public static let serviceIPs = "service-ips"
    public static let serviceNodePorts = "service-nodeports"
    public static let backends = "backends"
    public static let affinity = "affinity"
    public static let affinityChoices = "affinity-choices"
    public static let hairpin = "hairpin"
    public static let hostPorts = "hostports"
    public static let preroutingChain = "nat-prerouting"
    public static let outputChain = "nat-output"
    public static let postroutingChain = "nat-postrouting"
    public static let nodePortsChain = "nodeports"
    public static let noEndpointsChain = "no-endpoints"
    /// The packet mark that asks postrouting to masquerade (kube-proxy's 0x4000).
    public static let masqueradeMark: UInt32 = 0x4000

    typealias Field = ServiceRuleset.Field
    typealias Value = ServiceRuleset.Value
    typealias Statement = ServiceRuleset.Statement
    typealias Rule = ServiceRuleset.Rule

    /// The destination of a Service packet: address, protocol and port.
    static let destination: [Field] = [.ipDaddr, .l4proto, .thDport]
    /// The backends map's index component, declared with a modulus larger than any endpoint count.
    static let slotField = Field.numgen(modulus: 65_536, offset: 0)
    static let affinityKey: [Field] = [.ipSaddr, .ipDaddr, .l4proto, .thDport, slotField]

    public static func lbChain(_ proto: ServiceProtocol, endpoints: Int) -> String { "lb-\(proto)-\(endpoints)" }
    /// `slots`: one more than the highest slot in use (N when no slot below it is free).
    public static func affinityChain(timeoutSeconds: UInt32, endpoints: Int, slots: Int? = nil) -> String {
        "affinity-\(timeoutSeconds)s-\(endpoints)" + (slots.map { $0 == endpoints ? "" : "-slots-\($0)" } ?? "")
    }
    public static func affinitySlotChain(timeoutSeconds: UInt32, slot: Int) -> String { "affinity-\(timeoutSeconds)s-slot-\(slot)" }

    /// The endpoints a Service port sends new connections to on `node`, in index order, and what
    /// happens when there are none.
    public enum Choice: Hashable, Sendable {
        case endpoints([ServiceEndpoint])
        /// No ready (or serving, terminating) endpoint: reject.
        case noEndpoints
        /// Endpoints exist, but none on this node under `internalTrafficPolicy: Local`: drop.
        case noLocalEndpoints
    }

    /// kube-proxy's choice: ready endpoints, else serving terminating ones; under
    /// `internalTrafficPolicy: Local` (ClusterIP traffic only) those on this node.
    public static func choice(_ port: ServicePortEntry, of service: ServiceEntry, on node: ServiceNode, forNodePort: Bool = false) -> Choice {
        var usable = port.endpoints.filter(\.ready)
        if usable.isEmpty { usable = port.endpoints.filter { $0.serving && $0.terminating } }
        // Sorted, a duplicate follows its first (in the slice's order): the first is kept.
        if usable.count > 1 {
            usable = usable.enumerated().sorted { ($0.element.ip.value, $0.element.port, $0.offset) < ($1.element.ip.value, $1.element.port, $1.offset) }.map(\.element)
            var unique = [usable[0]]
            for endpoint in usable.dropFirst() where endpoint.key != unique[unique.count - 1].key { unique.append(endpoint) }
            usable = unique
        }
        if usable.isEmpty { return .noEndpoints }
        if !forNodePort && service.internalTrafficPolicy == .local {
            let local = usable.filter { $0.nodeName == node.name }
            return local.isEmpty ? .noLocalEndpoints : .endpoints(local)
        }
        return .endpoints(usable)
    }

    /// The node's ruleset for `table`. `previous`: the ruleset the node holds, whose `backends`
    /// give the endpoints of ClientIP ports the slots they had (nil: none, slots from 0).
    public static func generate(for table: ServiceTable, node: ServiceNode, previous: ServiceRuleset? = nil) -> ServiceRuleset {
        var serviceIPElements: [ServiceRuleset.Element] = []
        var nodePortElements: [ServiceRuleset.Element] = []
        var backendElements: [ServiceRuleset.Element] = []
        var choiceElements: [ServiceRuleset.Element] = []
        var hairpinAddresses = Set<IPv4Address>()
        var shared = SharedChains()
        let slots = AffinitySlots(previous: previous, for: table, node: node)
        for service in table.services {
            let fragment = Fragment(service, node: node, previousSlots: slots.slots)
            serviceIPElements += fragment.serviceIPs
            nodePortElements += fragment.nodePorts
            backendElements += fragment.backends
            choiceElements += fragment.affinityChoices
            hairpinAddresses.formUnion(fragment.hairpin)
            shared.formUnion(fragment.chains)
        }
        let hostPortElements = hostPortElements(table.hostPorts, node: node)
        hairpinAddresses.formUnion(table.hostPorts.lazy.filter { $0.node == node.name }.map(\.podIP))
        return assemble(node: node, serviceIPs: sortedUnique(serviceIPElements), nodePorts: sortedUnique(nodePortElements),
                        backends: sortedUnique(backendElements), hairpin: hairpinAddresses.sorted().map(hairpinElement),
                        hostPorts: sortedUnique(hostPortElements), affinityChoices: sortedUnique(choiceElements), shared: shared)
    }

    /// A virtual address, protocol and port (a ClusterIP's or a NodePort's): the first three
    /// numbers of a `backends` key.
    struct VirtualPort: Hashable, Sendable {
        var address: UInt32, proto: UInt32, port: UInt32

        init(address: IPv4Address, proto: ServiceProtocol, port: UInt16) {
            self.address = address.value
            self.proto = UInt32(proto.number)
            self.port = UInt32(port)
        }

        /// From a `backends` key's numbers; nil when they are not address . proto . port . slot.
        init?(backendKey key: ElementKey) {
            guard key.count == 4 else { return nil }
            address = key[0]
            proto = key[1]
            port = key[2]
        }
    }

    /// The virtual ports of a Service on `node`: its ClusterIP's, and its NodePorts.
    static func virtualPorts(of service: ServiceEntry, node: ServiceNode) -> [VirtualPort] {
        service.ports.flatMap { port in
            [service.clusterIP.map { VirtualPort(address: $0, proto: port.protocol, port: port.port) },
             service.type == .nodePort ? port.nodePort.map { VirtualPort(address: node.underlayIP, proto: port.protocol, port: $0) } : nil].compactMap { $0 }
        }
    }

    /// The slots the endpoints of ClientIP ports hold in an installed ruleset, by virtual port.
    struct AffinitySlots {
        var byPort: [VirtualPort: [ServiceEndpoint.Key: Int]] = [:]

        func slots(_ port: VirtualPort) -> [ServiceEndpoint.Key: Int] { byPort[port] ?? [:] }

        /// From `previous`'s `backends`, for the ClientIP ports of `table` only (nothing to read
        /// when no Service asks for affinity).
        init(previous: ServiceRuleset?, for table: ServiceTable, node: ServiceNode) {
            guard let backends = previous?.set(ServiceRules.backends) else { return }
            var wanted = Set<VirtualPort>()
            for service in table.services where service.sessionAffinity != .none { wanted.formUnion(virtualPorts(of: service, node: node)) }
            guard !wanted.isEmpty else { return }
            for element in backends.elements {
                let key = element.key.sortKey
                guard let port = VirtualPort(backendKey: key), wanted.contains(port) else { continue }
                AffinitySlots.record(element, key: key, in: &byPort[port, default: [:]])
            }
        }

        init() {}

        /// Notes the endpoint of one `backends` element at its slot (the lowest, if it has two).
        static func record(_ element: ServiceRuleset.Element, key: ElementKey, in slots: inout [ServiceEndpoint.Key: Int]) {
            guard let data = element.data?.parts, data.count == 2, case .address(let ip) = data[0], case .port(let port) = data[1] else { return }
            let endpoint = ServiceEndpoint.Key(ip: ip, port: port)
            if let existing = slots[endpoint], existing <= Int(key[3]) { return }
            slots[endpoint] = Int(key[3])
        }
    }

    /// The slot of each endpoint (in the order given): the one it had, if it had one, else the
    /// lowest free slot, in address order. A slot beyond what the endpoints could ever have
    /// needed is not kept (it would only lengthen the chain that looks clients up).
    static func affinitySlots(_ endpoints: [ServiceEndpoint], previous: [ServiceEndpoint.Key: Int]) -> [Int] {
        var slots = Array(repeating: -1, count: endpoints.count)
        var taken = Set<Int>()
        let limit = endpoints.count + previous.count
        for (index, endpoint) in endpoints.enumerated() {
            if let slot = previous[endpoint.key], slot < limit, taken.insert(slot).inserted { slots[index] = slot }
        }
        var free = 0
        for index in slots.indices where slots[index] < 0 {
            while taken.contains(free) { free += 1 }
            slots[index] = free
            taken.insert(free)
        }
        return slots
    }

    /// What one Service adds to a node's ruleset: its elements, and the shared chains they lead to.
    struct Fragment: Hashable, Sendable {
        var serviceIPs: [ServiceRuleset.Element] = []
        var nodePorts: [ServiceRuleset.Element] = []
        var backends: [ServiceRuleset.Element] = []
        var affinityChoices: [ServiceRuleset.Element] = []
        var hairpin: [IPv4Address] = []
        var chains = SharedChains()
        /// ClientIP affinity: its `backends` indices are slots to keep.
        var keepsSlots = false

        init() {}

        /// `previousSlots`: the slots a virtual port's endpoints held (ClientIP ports keep them).
        init(_ service: ServiceEntry, node: ServiceNode, previousSlots: (VirtualPort) -> [ServiceEndpoint.Key: Int] = { _ in [:] }) {
            keepsSlots = service.sessionAffinity != .none
            for port in service.ports {
                if let clusterIP = service.clusterIP {
                    let verdict = program(address: clusterIP, port: port.port, proto: port.protocol,
                                          choice: choice(port, of: service, on: node), affinity: service.sessionAffinity, node: node,
                                          previousSlots: previousSlots(VirtualPort(address: clusterIP, proto: port.protocol, port: port.port)))
                    serviceIPs.append(ServiceRuleset.Element(.concat([.address(clusterIP), .transport(port.protocol), .port(port.port)]), .verdict(verdict)))
                }
                if service.type == .nodePort, let nodePort = port.nodePort {
                    let verdict = program(address: node.underlayIP, port: nodePort, proto: port.protocol,
                                          choice: choice(port, of: service, on: node, forNodePort: true), affinity: service.sessionAffinity, node: node,
                                          previousSlots: previousSlots(VirtualPort(address: node.underlayIP, proto: port.protocol, port: nodePort)))
                    nodePorts.append(ServiceRuleset.Element(.concat([.transport(port.protocol), .port(nodePort)]), .verdict(verdict)))
                }
            }
        }

        /// The verdict for one virtual address and port, and the backends behind it.
        private mutating func program(address: IPv4Address, port: UInt16, proto: ServiceProtocol, choice: Choice,
                                      affinity: ServiceEntry.SessionAffinity, node: ServiceNode,
                                      previousSlots: [ServiceEndpoint.Key: Int]) -> ServiceRuleset.Verdict {
            switch choice {
            case .noEndpoints:
                chains.rejects = true
                return .goto(noEndpointsChain)
            case .noLocalEndpoints:
                return .drop
            case .endpoints(let endpoints):
                // Random choice needs the endpoints at 0..<N; affinity needs each to keep its slot.
                let slots = affinity == .none ? Array(endpoints.indices) : affinitySlots(endpoints, previous: previousSlots)
                for (index, endpoint) in endpoints.enumerated() {
                    backends.append(ServiceRuleset.Element(.concat([.address(address), .transport(proto), .port(port), .integer(UInt32(slots[index]))]),
                                                           .concat([.address(endpoint.ip), .port(endpoint.port)])))
                    if endpoint.nodeName == node.name || node.podCIDR.contains(endpoint.ip) { hairpin.append(endpoint.ip) }
                }
                switch affinity {
                case .none:
                    chains.loadBalancing.insert(SharedChains.LoadBalancing(proto: proto, endpoints: endpoints.count))
                    return .goto(lbChain(proto, endpoints: endpoints.count))
                case .clientIP(let timeout):
                    for (index, slot) in slots.enumerated() {
                        affinityChoices.append(ServiceRuleset.Element(.concat([.address(address), .transport(proto), .port(port), .integer(UInt32(index))]),
                                                                      .verdict(.goto(affinitySlotChain(timeoutSeconds: timeout, slot: slot)))))
                    }
                    let spec = SharedChains.Affinity(timeoutSeconds: timeout, endpoints: endpoints.count, slots: (slots.max() ?? 0) + 1)
                    chains.affinity.insert(spec)
                    return .goto(affinityChain(timeoutSeconds: timeout, endpoints: spec.endpoints, slots: spec.slots))
                }
            }
        }
    }

    /// The shared chains Services lead to: one per protocol and endpoint count, one per affinity
    /// timeout and endpoint count, and `no-endpoints`.
    struct SharedChains: Hashable, Sendable {
        struct LoadBalancing: Hashable, Sendable { var proto: ServiceProtocol; var endpoints: Int }
        struct Affinity: Hashable, Sendable { var timeoutSeconds: UInt32; var endpoints: Int; var slots: Int }

        var loadBalancing = Set<LoadBalancing>()
        var affinity = Set<Affinity>()
        var rejects = false

        mutating func formUnion(_ other: SharedChains) {
            loadBalancing.formUnion(other.loadBalancing)
            affinity.formUnion(other.affinity)
            rejects = rejects || other.rejects
        }

        /// The chains, with their rules, in name order.
        var chains: [ServiceRuleset.Chain] {
            var shared: [ServiceRuleset.Chain] = []
            if rejects {
                shared.append(ServiceRuleset.Chain(noEndpointsChain, rules: [
                    Rule([.match(.l4proto, .transport(.tcp)), .reject(.tcpReset)]),
                    Rule([.reject(.icmpPortUnreachable)]),
                ]))
            }
            for spec in loadBalancing {
                shared.append(ServiceRuleset.Chain(lbChain(spec.proto, endpoints: spec.endpoints), rules: [
                    Rule([.match(.l4proto, .transport(spec.proto)), .dnatMap(destination + [.numgen(modulus: UInt32(spec.endpoints), offset: 0)], map: backends)]),
                ]))
            }
            var slotChains: [String: ServiceRuleset.Chain] = [:]
            for spec in affinity {
                var rules: [Rule] = []
                for slot in 0..<spec.slots {
                    // A recorded client goes back to its slot while an endpoint holds it (a slot
                    // below the highest may be free: its clients choose again).
                    let target = affinitySlotChain(timeoutSeconds: spec.timeoutSeconds, slot: slot)
                    let key: [Field] = destination + [.numgen(modulus: 1, offset: UInt32(slot))]
                    var statements: [Statement] = [.lookup([.ipSaddr] + key, set: ServiceRules.affinity)]
                    if spec.slots != spec.endpoints { statements.append(.lookup(key, set: backends)) }
                    rules.append(Rule(statements + [.verdict(.goto(target))]))
                }
                // A new client: one of the N endpoints at random, through its slot's chain.
                rules.append(Rule([.verdictMap(destination + [.numgen(modulus: UInt32(spec.endpoints), offset: 0)], map: affinityChoices)]))
                shared.append(ServiceRuleset.Chain(affinityChain(timeoutSeconds: spec.timeoutSeconds, endpoints: spec.endpoints, slots: spec.slots), rules: rules))
                for slot in 0..<spec.slots {
                    let target = affinitySlotChain(timeoutSeconds: spec.timeoutSeconds, slot: slot)
                    let key: [Field] = destination + [.numgen(modulus: 1, offset: UInt32(slot))]
                    slotChains[target] = ServiceRuleset.Chain(target, rules: [
                        Rule([.update([.ipSaddr] + key, set: ServiceRules.affinity, timeoutSeconds: spec.timeoutSeconds)]),
                        Rule([.dnatMap(key, map: backends)]),
                    ])
                }
            }
            shared += slotChains.values
            return shared.sorted { $0.name.numericOrderPrecedes($1.name) }
        }
    }

    /// The `hostports` elements of `node`.
    static func hostPortElements(_ hostPorts: [HostPortEntry], node: ServiceNode) -> [ServiceRuleset.Element] {
        hostPorts.filter { $0.node == node.name }.map { entry in
            ServiceRuleset.Element(.concat([.transport(entry.protocol), .port(entry.hostPort)]), .concat([.address(entry.podIP), .port(entry.containerPort)]))
        }
    }

    /// A pod reaching itself through its Service (or its node's hostPort, as portmap does) is masqueraded.
    static func hairpinElement(_ address: IPv4Address) -> ServiceRuleset.Element {
        ServiceRuleset.Element(.concat([.address(address), .address(address)]))
    }

    /// The sets and maps, declared without elements, in the order the ruleset lists them.
    static let setDeclarations: [ServiceRuleset.NamedSet] = [
        ServiceRuleset.NamedSet(serviceIPs, key: destination, data: .verdict),
        ServiceRuleset.NamedSet(serviceNodePorts, key: [.l4proto, .thDport], data: .verdict),
        ServiceRuleset.NamedSet(backends, key: destination + [slotField], data: .fields([.ipDaddr, .thDport])),
        ServiceRuleset.NamedSet(affinity, key: affinityKey, isDynamic: true),
        ServiceRuleset.NamedSet(hairpin, key: [.ipSaddr, .ipDaddr]),
        ServiceRuleset.NamedSet(hostPorts, key: [.l4proto, .thDport], data: .fields([.ipDaddr, .thDport])),
        ServiceRuleset.NamedSet(affinityChoices, key: destination + [slotField], data: .verdict),
    ]

    /// The chains every node has, whatever its Services.
    static func baseChains(node: ServiceNode) -> [ServiceRuleset.Chain] {
        let dispatch = Rule([.verdictMap(destination, map: serviceIPs)])
        return [
            ServiceRuleset.Chain(preroutingChain, base: ServiceRuleset.BaseChain(type: "nat", hook: "prerouting", priority: -100), rules: [
                dispatch,
                Rule([.match(.ipDaddr, .address(node.underlayIP)), .verdict(.jump(nodePortsChain))]),
            ]),
            ServiceRuleset.Chain(outputChain, base: ServiceRuleset.BaseChain(type: "nat", hook: "output", priority: -100), rules: [dispatch]),
            ServiceRuleset.Chain(postroutingChain, base: ServiceRuleset.BaseChain(type: "nat", hook: "postrouting", priority: 100), rules: [
                Rule([.match(.mark, .mark(masqueradeMark)), .masquerade]),
                Rule([.lookup([.ipSaddr, .ipDaddr], set: hairpin), .masquerade]),
            ]),
            // Marked before the lookup, so a NodePort's packets are masqueraded in postrouting;
            // a packet no NodePort takes loses the mark again. It must: a VXLAN packet to the
            // node's address keeps its mark through decapsulation, and the pod traffic inside
            // would otherwise be masqueraded too.
            // A pod's hostPort first: the client's address stays (no mark), as with portmap.
            ServiceRuleset.Chain(nodePortsChain, rules: [
                Rule([.dnatMap([.l4proto, .thDport], map: hostPorts)]),
                Rule([.setMark(masqueradeMark)]),
                Rule([.verdictMap([.l4proto, .thDport], map: serviceNodePorts)]),
                Rule([.setMark(0)]),
            ]),
        ]
    }

    /// The ruleset from its elements (each set sorted by key) and the shared chains in use.
    static func assemble(node: ServiceNode, serviceIPs: [ServiceRuleset.Element], nodePorts: [ServiceRuleset.Element], backends: [ServiceRuleset.Element],
                         hairpin: [ServiceRuleset.Element], hostPorts: [ServiceRuleset.Element], affinityChoices: [ServiceRuleset.Element],
                         shared: SharedChains) -> ServiceRuleset {
        var ruleset = ServiceRuleset(table: ServiceRules.table)
        let elements = [serviceIPs, nodePorts, backends, [], hairpin, hostPorts, affinityChoices]
        ruleset.sets = zip(setDeclarations, elements).map { declaration, elements in
            var set = declaration
            set.elements = elements
            return set
        }
        ruleset.chains = baseChains(node: node) + shared.chains
        return ruleset
    }

    /// Sorted by key, the first of any duplicate key kept. Keys are compared once, through their
    /// numbers (hashing and comparing the nested values themselves costs several times more at
    /// 10 000 Services).
    static func sortedUnique(_ elements: [ServiceRuleset.Element]) -> [ServiceRuleset.Element] {
        let keys = elements.map(\.key.sortKey)
        let order = elements.indices.sorted { a, b in
            keys[a] == keys[b] ? a < b : keys[a] < keys[b]
        }
        var result: [ServiceRuleset.Element] = []
        result.reserveCapacity(elements.count)
        var previous: ElementKey?
        for index in order where keys[index] != previous {
            result.append(elements[index])
            previous = keys[index]
        }
        return result
    }
}

extension ServiceEndpoint {
    struct Key: Hashable { var ip: IPv4Address; var port: UInt16 }
    var key: Key { Key(ip: ip, port: port) }
}

extension ServiceRuleset.Value {
    /// The key's numbers (addresses, protocols, ports, indices), the order elements are kept in.
    var sortKey: ElementKey { ElementKey(self) }

    /// The number a key component stands for.
    fileprivate var number: UInt32 {
        switch self {
        case .address(let a): a.value
        case .proto(let p): UInt32(p)
        case .port(let p): UInt32(p)
        case .integer(let i), .mark(let i): i
        case .verdict, .concat: 0
        }
    }
}

/// A key's numbers in a value of fixed size: hashing, comparing and keeping it allocates nothing,
/// which counts at 40 000 keys. The Service sets' keys have at most five numbers (six fit).
struct ElementKey: Hashable, Comparable, Sendable {
    var numbers: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0, 0, 0)
    var count = 0

    init(_ value: ServiceRuleset.Value) {
        guard case .concat(let parts) = value else {
            append(value.number)
            return
        }
        for part in parts { append(part.number) }
    }

    init(_ numbers: UInt32...) {
        for number in numbers { append(number) }
    }

    private mutating func append(_ number: UInt32) {
        switch count {
        case 0: numbers.0 = number
        case 1: numbers.1 = number
        case 2: numbers.2 = number
        case 3: numbers.3 = number
        case 4: numbers.4 = number
        case 5: numbers.5 = number
        default: preconditionFailure("a Service set key of more than six components")
        }
        count += 1
    }

    subscript(index: Int) -> UInt32 {
        switch index {
        case 0: numbers.0
        case 1: numbers.1
        case 2: numbers.2
        case 3: numbers.3
        case 4: numbers.4
        default: numbers.5
        }
    }

    static func == (a: ElementKey, b: ElementKey) -> Bool { a.numbers == b.numbers && a.count == b.count }

    func hash(into hasher: inout Hasher) {
        withUnsafeBytes(of: numbers) { hasher.combine(bytes: $0) }
        hasher.combine(count)
    }

    /// The numbers' lexicographic order (a shorter key before the longer keys it begins).
    static func < (a: ElementKey, b: ElementKey) -> Bool {
        a.numbers != b.numbers ? a.numbers < b.numbers : a.count < b.count
    }
}

extension String {
    /// Names with numbers in numeric order (`lb-tcp-2` before `lb-tcp-10`).
    func numericOrderPrecedes(_ other: String) -> Bool {
        let a = split(separator: "-"), b = other.split(separator: "-")
        for (x, y) in zip(a, b) where x != y {
            if let m = Int(x), let n = Int(y) { return m < n }
            if let m = Int(x.dropLast()), let n = Int(y.dropLast()), x.last == "s", y.last == "s" { return m < n }
            return x < y
        }
        return a.count < b.count
    }
}
