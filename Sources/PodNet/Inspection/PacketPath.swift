/// The way a packet from a pod takes to an address, worked out from the route tables,
/// neighbour entries, interfaces and nftables rules the kernel holds (`whois --from POD`).
///
/// Each IP hop does what the kernel does: a local address is delivered; otherwise the longest
/// prefix of the main table wins (the lower metric on a tie), its gateway (or the destination
/// itself) is the next hop, looked up in the neighbour table of the output device. The next
/// namespace is the one whose interface holds the next hop; the layer-2 way there follows veth
/// pairs and bridge ports, and for a VXLAN device the encapsulated packet's way to the peer
/// node's underlay address. Veth peers are matched by their interface indices between
/// namespaces the lab wires together (a pod and its node, a node and the underlay), since
/// indices repeat across namespaces.
///
/// In each namespace the rules of the base chains on the hooks the packet passes are read in
/// order, as netfilter runs them (see `Tracer.chains`): a matching masquerade rule changes the
/// packet's source for the rest of the way, a matching drop ends it.
public struct PacketPath: Codable, Hashable, Sendable {
    /// `pod default/client`.
    public var source: String
    public var sourceAddress: IPv4Address
    public var destination: IPv4Address
    /// The namespaces the packet passes, in order.
    public var hops: [Hop]
    /// Whether the packet arrives, and where or why not.
    public var outcome: Outcome

    public init(source: String, sourceAddress: IPv4Address, destination: IPv4Address, hops: [Hop], outcome: Outcome) {
        self.source = source
        self.sourceAddress = sourceAddress
        self.destination = destination
        self.hops = hops
        self.outcome = outcome
    }

    /// One namespace on the way.
    public struct Hop: Codable, Hashable, Sendable {
        /// The namespace's name.
        public var namespace: String
        /// `pod default/client`, `node n1`, `underlay`.
        public var title: String
        /// The interface the packet arrives on (`cni0 (port veth1a2b3c4d)`); nil where it starts.
        public var ingress: String?
        /// The route used, as `ip route` prints it; `local …` for a delivery. Nil in a namespace
        /// that only bridges.
        public var route: String?
        /// The output interface.
        public var egress: String?
        /// The next hop's neighbour entry, or what happens without one.
        public var neighbour: String?
        /// In a namespace that only bridges: the bridge and its ports (`underlay0: veth-n1 → veth-n2`).
        public var bridge: String?
        /// How the packet reaches the next namespace (`veth eth0 ↔ veth1a2b3c4d (demo-n1), port of bridge cni0`).
        public var link: String?
        /// The nftables chains the packet passes here.
        public var chains: [ChainPass]

        public init(namespace: String, title: String, ingress: String? = nil, route: String? = nil, egress: String? = nil,
                    neighbour: String? = nil, bridge: String? = nil, link: String? = nil, chains: [ChainPass] = []) {
            self.namespace = namespace
            self.title = title
            self.ingress = ingress
            self.route = route
            self.egress = egress
            self.neighbour = neighbour
            self.bridge = bridge
            self.link = link
            self.chains = chains
        }
    }

    /// One nftables base chain a packet passes.
    public struct ChainPass: Codable, Hashable, Sendable, CustomStringConvertible {
        /// `ip podlab`.
        public var table: String
        public var chain: String
        public var hook: String
        /// What the chain does to this packet, when it does something worth saying.
        public var note: String?

        public init(table: String, chain: String, hook: String, note: String? = nil) {
            self.table = table
            self.chain = chain
            self.hook = hook
            self.note = note
        }

        /// `table ip podlab chain forward (hook forward)`.
        public var description: String {
            "table \(table) chain \(chain) (hook \(hook))" + (note.map { ": \($0)" } ?? "")
        }
    }

    /// Where the packet ends.
    public struct Outcome: Codable, Hashable, Sendable, CustomStringConvertible {
        public var delivered: Bool
        /// `delivered to pod default/web (eth0 in demo-pod-web)` or why it is dropped.
        public var text: String
        /// The source address the packet has at the end, when a rule on the way translated it.
        public var source: IPv4Address?

        public init(delivered: Bool, text: String, source: IPv4Address? = nil) {
            self.delivered = delivered
            self.text = text
            self.source = source
        }

        public var description: String { text }
    }
}

/// Why a path cannot be traced at all.
public struct PacketPathError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}

extension PacketPath {
    /// At most this many namespaces are followed; a longer path is reported as a loop.
    public static let maximumHops = 16

    /// Netfilter hooks in the order a packet meets them.
    static let hookOrder = ["prerouting", "input", "forward", "output", "postrouting"]

    /// Traces a packet from `pod` to `destination` over `network`.
    /// - Throws: `PacketPathError` when the pod has no address or its namespace is not in `network`.
    public static func trace(from pod: PodFacts, to destination: IPv4Address, inventory: LabInventory,
                             network: NetworkInspection) throws(PacketPathError) -> PacketPath {
        guard let source = pod.ip else {
            throw PacketPathError("pod \(pod.qualifiedName) has no IP address yet (\(pod.phase))")
        }
        guard var current = network.namespaces.first(where: { $0.namespace == pod.netns }) else {
            throw PacketPathError("pod \(pod.qualifiedName) has no network namespace yet (\(pod.phase))")
        }
        let underlay = Dictionary(inventory.plan.nodes.map { ($0.name, $0.underlayAddress.address) }) { first, _ in first }
        let tracer = Tracer(network: network, underlayAddresses: underlay, destination: destination)
        var hops: [Hop] = []
        var arrival: Tracer.Arrival?
        var packet = Tracer.Packet(source: source)
        for _ in 0..<maximumHops {
            let step = tracer.step(in: current, arrival: arrival, packet: &packet)
            hops += step.hops
            guard case let .next(namespace, next) = step.result else {
                if case var .end(outcome) = step.result {
                    if let translation = packet.translation, packet.source != source {
                        outcome.source = packet.source
                        if outcome.delivered { outcome.text += ", from \(packet.source) (masqueraded in \(translation))" }
                    }
                    return PacketPath(source: "pod \(pod.qualifiedName)", sourceAddress: source, destination: destination, hops: hops, outcome: outcome)
                }
                break
            }
            current = namespace
            arrival = next
        }
        return PacketPath(source: "pod \(pod.qualifiedName)", sourceAddress: source, destination: destination, hops: hops,
                          outcome: Outcome(delivered: false, text: "dropped: more than \(maximumHops) namespaces on the way (a routing loop)"))
    }
}

/// The per-namespace work of `PacketPath.trace`.
struct Tracer {
    let network: NetworkInspection
    /// Each node's underlay address, where VXLAN packets to its pods are sent.
    let underlayAddresses: [String: IPv4Address]
    let destination: IPv4Address

    /// The packet as it travels: its source changes where a rule masquerades it.
    struct Packet {
        var source: IPv4Address
        /// Where the source was translated (`node n1`).
        var translation: String?
    }

    /// How the packet enters a namespace: the interface, and the text a hop shows for it.
    struct Arrival {
        var interface: String
        var text: String
    }

    enum StepResult {
        /// Continue in `namespace`.
        case next(NamespaceSnapshot, Arrival)
        case end(PacketPath.Outcome)
    }

    /// What happens in one namespace: the hops it adds (itself, and a bridging namespace
    /// crossed on the way out) and where the packet goes next. `arrival` is nil where the packet starts.
    func step(in namespace: NamespaceSnapshot, arrival: Arrival?, packet: inout Packet) -> (hops: [PacketPath.Hop], result: StepResult) {
        var hop = PacketPath.Hop(namespace: namespace.namespace, title: namespace.title, ingress: arrival?.text)
        let forwarded = arrival != nil
        /// Runs the chains of `hooks`; an outcome when a rule drops the packet.
        func filter(_ hooks: [String], egress: InterfaceSnapshot? = nil, nextHop: IPv4Address? = nil) -> PacketPath.Outcome? {
            let (passes, drop) = chains(in: namespace, hooks: hooks, packet: &packet, ingress: arrival?.interface, egress: egress, nextHop: nextHop)
            hop.chains += passes
            return drop.map { PacketPath.Outcome(delivered: false, text: "dropped in \(namespace.title) by \($0)") }
        }

        // Prerouting comes before the routing decision.
        if forwarded, let dropped = filter(["prerouting"]) { return ([hop], .end(dropped)) }
        if let local = localInterface(for: destination, in: namespace) {
            hop.route = "local \(destination) dev \(local)"
            if let dropped = filter(forwarded ? ["input"] : ["output", "input"]) { return ([hop], .end(dropped)) }
            let outcome = PacketPath.Outcome(delivered: true, text: "delivered to \(namespace.title) (\(local) in \(namespace.namespace))")
            return ([hop], .end(outcome))
        }
        let leaving = forwarded ? ["forward", "postrouting"] : ["output", "postrouting"]
        guard let route = Tracer.lookup(destination, in: namespace.routes) else {
            let outcome = PacketPath.Outcome(delivered: false,
                text: "dropped in \(namespace.title): no route to \(destination) (network unreachable; the lab has no way out of its namespaces)")
            return ([hop], .end(outcome))
        }
        hop.route = route.text
        if let type = route.type, type != "unicast" {
            return ([hop], .end(PacketPath.Outcome(delivered: false, text: "dropped in \(namespace.title): the route is of type \(type)")))
        }
        guard let device = route.dev else {
            _ = filter(leaving)
            return ([hop], .end(PacketPath.Outcome(delivered: false, text: "dropped in \(namespace.title): the route names no output device")))
        }
        guard let egress = namespace.interface(named: device) else {
            _ = filter(leaving)
            return ([hop], .end(PacketPath.Outcome(delivered: false, text: "dropped in \(namespace.title): the route's device \(device) is not in \(namespace.namespace)")))
        }
        hop.egress = egress.ifname
        let nextHop = route.gateway.flatMap(IPv4Address.init) ?? destination
        if let dropped = filter(leaving, egress: egress, nextHop: nextHop) {
            return ([hop], .end(dropped))
        }
        if let entry = namespace.neighbours.first(where: { $0.dst == nextHop.description && $0.dev == egress.ifname }) {
            hop.neighbour = entry.text
        } else {
            hop.neighbour = "\(nextHop) dev \(egress.ifname): no entry yet (ARP resolves it on the first packet)"
        }

        guard let (nextNamespace, holder) = holder(of: nextHop, excluding: namespace.namespace) else {
            let outcome = PacketPath.Outcome(delivered: false,
                text: "dropped in \(namespace.title): no interface in the lab holds \(nextHop), so ARP gets no answer (host unreachable)")
            return ([hop], .end(outcome))
        }
        let layer2 = layer2Path(from: egress, in: namespace, to: holder, in: nextNamespace)
        hop.link = layer2.link
        var hops = [hop]
        if let bridged = layer2.bridged { hops.append(bridged) }
        return (hops, .next(nextNamespace, Arrival(interface: holder.ifname, text: layer2.ingress)))
    }

    // MARK: Route lookup

    /// The route the kernel picks for `destination`: the longest matching prefix, then the
    /// lowest metric. Routes of other types than unicast, blackhole, unreachable and prohibit
    /// (local, broadcast, multicast) never match a forwarded destination and are skipped.
    static func lookup(_ destination: IPv4Address, in routes: [RouteSnapshot]) -> RouteSnapshot? {
        let usable: Set<String?> = [nil, "unicast", "blackhole", "unreachable", "prohibit"]
        return routes.filter { usable.contains($0.type) && ($0.destination?.contains(destination) ?? false) }
            .min { a, b in
                let (la, lb) = (a.destination?.length ?? 0, b.destination?.length ?? 0)
                if la != lb { return la > lb }
                return (a.metric ?? 0) < (b.metric ?? 0)
            }
    }

    /// The interface of `namespace` that makes `address` local: one holding it, or a host-scope
    /// network covering it (`127.0.0.1/8` on lo makes all of 127/8 local).
    func localInterface(for address: IPv4Address, in namespace: NamespaceSnapshot) -> String? {
        if let holder = namespace.holder(of: .v4(address)) { return holder.ifname }
        for interface in namespace.interfaces {
            for info in interface.addrInfo where info.family == "inet" && info.scope == "host" {
                if let local = IPv4Address(info.local), let prefix = try? IPv4Prefix(local, length: info.prefixlen), prefix.contains(address) {
                    return interface.ifname
                }
            }
        }
        return nil
    }

    // MARK: Netfilter

    /// Whether a rule applies to a packet.
    enum RuleMatch: Equatable {
        case matches
        case noMatch
        /// The rule tests something the tracer cannot know (the expressions, as nft prints them).
        case undecided([String])
    }

    /// Runs the base chains of `namespace`'s podlab table on `hooks`, in hook then priority
    /// order, over the packet. Rules are read in order as netfilter runs them: a matching rule
    /// without a verdict (a counter) lets the packet go on; `masquerade` changes its source to
    /// the output interface's address and ends the chain; `accept` ends the chain; `drop` ends
    /// the packet. A chain is listed when one of its rules applies (or may apply) to the packet.
    /// Returns the chains passed, and what dropped the packet, if something did.
    func chains(in namespace: NamespaceSnapshot, hooks: [String], packet: inout Packet, ingress: String?, egress: InterfaceSnapshot?,
                nextHop: IPv4Address?) -> (passes: [PacketPath.ChainPass], drop: String?) {
        let ordered = namespace.firewall
            .filter { chain in chain.hook.map(hooks.contains) ?? false }
            .sorted { a, b in
                let (ha, hb) = (PacketPath.hookOrder.firstIndex(of: a.hook ?? "") ?? 0, PacketPath.hookOrder.firstIndex(of: b.hook ?? "") ?? 0)
                return ha != hb ? ha < hb : (a.priority ?? 0) < (b.priority ?? 0)
            }
        var passes: [PacketPath.ChainPass] = []
        for chain in ordered {
            var applies = false
            var notes: [String] = []
            var dropped = false
            rules: for rule in chain.rules {
                let shown = "«\(Self.shortText(rule))»"
                switch match(rule, packet: packet, ingress: chain.hook == "output" ? nil : ingress, egress: egress?.ifname) {
                case .noMatch:
                    continue
                case let .undecided(unknown):
                    applies = true
                    notes.append("rule \(shown) may apply (podlab does not evaluate \(unknown.joined(separator: ", ")))")
                case .matches:
                    applies = true
                    guard let action = rule.action else { continue }
                    switch action {
                    case .masquerade:
                        guard chain.type == "nat", chain.hook == "postrouting", let egress else {
                            notes.append("rule \(shown) masquerades, which works only in a nat chain on postrouting")
                            break rules
                        }
                        guard let address = Self.masqueradeAddress(egress, nextHop: nextHop) else {
                            notes.append("masquerade by rule \(shown), but \(egress.ifname) has no IPv4 address")
                            break rules
                        }
                        notes.append("masquerade by rule \(shown): source \(packet.source) becomes \(address) (\(egress.ifname))")
                        if address != packet.source {
                            packet.source = address
                            packet.translation = namespace.title
                        }
                    case .accept:
                        notes.append("accepted by rule \(shown)")
                    case .drop:
                        notes.append("dropped by rule \(shown)")
                        dropped = true
                    }
                    break rules
                }
            }
            guard applies else { continue }
            let pass = PacketPath.ChainPass(table: "\(chain.family) \(chain.table)", chain: chain.name, hook: chain.hook ?? "",
                                            note: notes.isEmpty ? nil : notes.joined(separator: "; "))
            passes.append(pass)
            if dropped { return (passes, pass.description) }
        }
        return (passes, nil)
    }

    /// Whether `rule` applies to the packet, arriving on `ingress` (nil where it starts) and
    /// leaving by `egress` (nil where it is delivered).
    func match(_ rule: FirewallRule, packet: Packet, ingress: String?, egress: String?) -> RuleMatch {
        var unknown = rule.other
        for condition in rule.conditions {
            let holds: Bool?
            switch condition.field {
            case .ipSaddr: holds = condition.prefix.map { $0.contains(packet.source) }
            case .ipDaddr: holds = condition.prefix.map { $0.contains(destination) }
            case .iifname: holds = ingress.map { $0 == condition.value }
            case .oifname: holds = egress.map { $0 == condition.value }
            }
            guard let holds else {
                unknown.append(condition.description)
                continue
            }
            if holds == condition.negated { return .noMatch }
        }
        return unknown.isEmpty ? .matches : .undecided(unknown)
    }

    /// A rule for a note: as programmed, without its comment.
    static func shortText(_ rule: FirewallRule) -> String {
        var rule = rule.programmed
        rule.comment = nil
        return rule.description
    }

    /// The address masquerade gives a packet leaving by `egress`: the interface's address on the
    /// next hop's network, else its first (the kernel's choice, `inet_select_addr`).
    static func masqueradeAddress(_ egress: InterfaceSnapshot, nextHop: IPv4Address?) -> IPv4Address? {
        let candidates = egress.addrInfo.filter { $0.family == "inet" && $0.scope != "host" }.compactMap { info -> (IPv4Address, IPv4Prefix?)? in
            guard let address = IPv4Address(info.local) else { return nil }
            return (address, try? IPv4Prefix(address, length: info.prefixlen))
        }
        if let nextHop, let onLink = candidates.first(where: { $0.1?.contains(nextHop) == true }) { return onLink.0 }
        return candidates.first?.0
    }

    // MARK: Layer 2

    /// The interface holding `address`, in a namespace other than `excluded`.
    func holder(of address: IPv4Address, excluding excluded: String) -> (NamespaceSnapshot, InterfaceSnapshot)? {
        for namespace in network.namespaces where namespace.namespace != excluded {
            if let holder = namespace.holder(of: .v4(address)) { return (namespace, holder) }
        }
        return nil
    }

    /// Namespaces the lab connects `namespace` to with veth pairs: a pod and its node, a node
    /// and its pods and the underlay.
    func neighbours(of namespace: NamespaceSnapshot) -> [NamespaceSnapshot] {
        network.namespaces.filter { other in
            switch (namespace.kind, other.kind) {
            case (.pod, .node), (.node, .pod): namespace.node != nil && namespace.node == other.node
            case (.node, .underlay), (.underlay, .node): true
            default: false
            }
        }
    }

    /// The other end of veth `interface`, in a namespace wired to `namespace`.
    func peer(of interface: InterfaceSnapshot, in namespace: NamespaceSnapshot) -> (NamespaceSnapshot, InterfaceSnapshot)? {
        guard let linkIndex = interface.linkIndex else { return nil }
        for other in neighbours(of: namespace) {
            if let match = other.interfaces.first(where: { $0.ifindex == linkIndex && $0.linkIndex == interface.ifindex }) {
                return (other, match)
            }
        }
        return nil
    }

    /// The port of bridge `bridge` (in `namespace`) whose veth peer is `target` in `targetNamespace`.
    func port(of bridge: InterfaceSnapshot, in namespace: NamespaceSnapshot, reaching target: InterfaceSnapshot,
              in targetNamespace: NamespaceSnapshot) -> InterfaceSnapshot? {
        namespace.interfaces.first { port in
            guard port.master == bridge.ifname, let (peerNamespace, peer) = peer(of: port, in: namespace) else { return false }
            return peerNamespace.namespace == targetNamespace.namespace && peer.ifindex == target.ifindex
        }
    }

    /// How a frame leaving `egress` reaches `target`: the link description for the hop, the
    /// ingress text for the next namespace, and a hop for a namespace that only bridges.
    func layer2Path(from egress: InterfaceSnapshot, in namespace: NamespaceSnapshot, to target: InterfaceSnapshot,
                    in targetNamespace: NamespaceSnapshot) -> (link: String, ingress: String, bridged: PacketPath.Hop?) {
        let there = "\(target.ifname) (\(targetNamespace.namespace))"
        if egress.kind == "vxlan" {
            return overlayPath(from: egress, in: namespace, to: target, in: targetNamespace)
        }
        if egress.kind == "bridge" {
            if let port = port(of: egress, in: namespace, reaching: target, in: targetNamespace) {
                return ("bridge \(egress.ifname), port \(port.ifname) ↔ veth \(there)", target.ifname, nil)
            }
            return ("bridge \(egress.ifname) → \(there)", target.ifname, nil)
        }
        guard let (peerNamespace, peer) = peer(of: egress, in: namespace) else {
            return ("\(egress.ifname) → \(there)", target.ifname, nil)
        }
        let pair = "veth \(egress.ifname) ↔ \(peer.ifname) (\(peerNamespace.namespace))"
        if peerNamespace.namespace == targetNamespace.namespace {
            if peer.ifindex == target.ifindex { return (pair, target.ifname, nil) }
            if peer.master == target.ifname {
                return ("\(pair), a port of bridge \(target.ifname)", "\(target.ifname) (port \(peer.ifname))", nil)
            }
            return ("\(pair) → \(target.ifname)", target.ifname, nil)
        }
        // The peer is a port of a bridge in a namespace in between (the underlay).
        if let bridgeName = peer.master, let bridge = peerNamespace.interface(named: bridgeName),
           let out = port(of: bridge, in: peerNamespace, reaching: target, in: targetNamespace) {
            let bridged = PacketPath.Hop(namespace: peerNamespace.namespace, title: peerNamespace.title, ingress: peer.ifname,
                                         egress: out.ifname, bridge: "\(bridge.ifname): \(peer.ifname) → \(out.ifname)",
                                         link: "veth \(out.ifname) ↔ \(there)")
            return (pair + ", a port of bridge \(bridge.ifname)", target.ifname, bridged)
        }
        return ("\(pair) → \(there)", target.ifname, nil)
    }

    /// A VXLAN device's way to its peer: the frame goes out encapsulated in UDP to the peer
    /// node's underlay address, on whatever way that address takes (the underlay bridge), and
    /// comes in on the peer's VXLAN device.
    func overlayPath(from egress: InterfaceSnapshot, in namespace: NamespaceSnapshot, to target: InterfaceSnapshot,
                     in targetNamespace: NamespaceSnapshot) -> (link: String, ingress: String, bridged: PacketPath.Hop?) {
        let overlay = "VXLAN \(egress.ifname) → \(target.ifname) (\(targetNamespace.namespace))"
        guard let remote = targetNamespace.node.flatMap({ underlayAddresses[$0] }),
              let outer = Tracer.lookup(remote, in: namespace.routes), let device = outer.dev,
              let outerEgress = namespace.interface(named: device),
              let (remoteNamespace, remoteInterface) = holder(of: remote, excluding: namespace.namespace),
              remoteNamespace.namespace == targetNamespace.namespace else {
            return (overlay, target.ifname, nil)
        }
        let carrier = layer2Path(from: outerEgress, in: namespace, to: remoteInterface, in: remoteNamespace)
        return ("\(overlay), encapsulated in UDP to \(remote) out of \(outerEgress.ifname): \(carrier.link)",
                "\(target.ifname) (decapsulated, arrived on \(remoteInterface.ifname))", carrier.bridged)
    }
}
