/// The way a packet from a pod takes to an address, worked out from the route tables,
/// neighbour entries, interfaces and nftables chains the kernel holds (`whois --from POD`).
///
/// Each IP hop does what the kernel does: a local address is delivered; otherwise the longest
/// prefix of the main table wins (the lower metric on a tie), its gateway (or the destination
/// itself) is the next hop, looked up in the neighbour table of the output device. The next
/// namespace is the one whose interface holds the next hop; the layer-2 way there follows veth
/// pairs and bridge ports, and for a VXLAN device the encapsulated packet's way to the peer
/// node's underlay address. Veth peers are matched by their interface indices between
/// namespaces the lab wires together (a pod and its node, a node and the underlay), since
/// indices repeat across namespaces.
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

        public init(delivered: Bool, text: String) {
            self.delivered = delivered
            self.text = text
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
        let tracer = Tracer(network: network, clusterCIDR: inventory.plan.clusterCIDR, underlayAddresses: underlay,
                            source: source, destination: destination)
        var hops: [Hop] = []
        var ingress: String?
        var forwarded = false
        for _ in 0..<maximumHops {
            let step = tracer.step(in: current, ingress: ingress, forwarded: forwarded)
            hops += step.hops
            guard case let .next(namespace, interface) = step.result else {
                if case let .end(outcome) = step.result {
                    return PacketPath(source: "pod \(pod.qualifiedName)", sourceAddress: source, destination: destination, hops: hops, outcome: outcome)
                }
                break
            }
            current = namespace
            ingress = interface
            forwarded = true
        }
        return PacketPath(source: "pod \(pod.qualifiedName)", sourceAddress: source, destination: destination, hops: hops,
                          outcome: Outcome(delivered: false, text: "dropped: more than \(maximumHops) namespaces on the way (a routing loop)"))
    }
}

/// The per-namespace work of `PacketPath.trace`.
struct Tracer {
    let network: NetworkInspection
    let clusterCIDR: IPv4Prefix
    /// Each node's underlay address, where VXLAN packets to its pods are sent.
    let underlayAddresses: [String: IPv4Address]
    let source: IPv4Address
    let destination: IPv4Address

    enum StepResult {
        /// Continue in `namespace`, arriving on the interface described.
        case next(NamespaceSnapshot, String)
        case end(PacketPath.Outcome)
    }

    /// What happens in one namespace: the hops it adds (itself, and a bridging namespace
    /// crossed on the way out) and where the packet goes next.
    func step(in namespace: NamespaceSnapshot, ingress: String?, forwarded: Bool) -> (hops: [PacketPath.Hop], result: StepResult) {
        var hop = PacketPath.Hop(namespace: namespace.namespace, title: namespace.title, ingress: ingress)

        if let local = localInterface(for: destination, in: namespace) {
            hop.route = "local \(destination) dev \(local)"
            hop.chains = chains(in: namespace, hooks: forwarded ? ["prerouting", "input"] : ["output", "input"])
            let outcome = PacketPath.Outcome(delivered: true, text: "delivered to \(namespace.title) (\(local) in \(namespace.namespace))")
            return ([hop], .end(outcome))
        }
        guard let route = Tracer.lookup(destination, in: namespace.routes) else {
            hop.chains = forwarded ? chains(in: namespace, hooks: ["prerouting"]) : []
            let outcome = PacketPath.Outcome(delivered: false,
                text: "dropped in \(namespace.title): no route to \(destination) (network unreachable; the lab has no way out of its namespaces)")
            return ([hop], .end(outcome))
        }
        hop.route = route.text
        if let type = route.type, type != "unicast" {
            hop.chains = forwarded ? chains(in: namespace, hooks: ["prerouting"]) : []
            return ([hop], .end(PacketPath.Outcome(delivered: false, text: "dropped in \(namespace.title): the route is of type \(type)")))
        }
        hop.chains = chains(in: namespace, hooks: forwarded ? ["prerouting", "forward", "postrouting"] : ["output", "postrouting"])
        guard let device = route.dev else {
            return ([hop], .end(PacketPath.Outcome(delivered: false, text: "dropped in \(namespace.title): the route names no output device")))
        }
        guard let egress = namespace.interface(named: device) else {
            return ([hop], .end(PacketPath.Outcome(delivered: false, text: "dropped in \(namespace.title): the route's device \(device) is not in \(namespace.namespace)")))
        }
        hop.egress = egress.ifname
        let nextHop = route.gateway.flatMap(IPv4Address.init) ?? destination
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
        return (hops, .next(nextNamespace, layer2.ingress))
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

    /// The base chains of `namespace`'s podlab table on `hooks`, in hook then priority order.
    /// A nat chain on postrouting is podlab's masquerade, which only touches packets from the
    /// cluster CIDR to outside it: it is listed only for those.
    func chains(in namespace: NamespaceSnapshot, hooks: [String]) -> [PacketPath.ChainPass] {
        let leaves = clusterCIDR.contains(source) && !clusterCIDR.contains(destination)
        return namespace.firewall
            .filter { chain in chain.hook.map(hooks.contains) ?? false }
            .sorted { a, b in
                let (ha, hb) = (PacketPath.hookOrder.firstIndex(of: a.hook ?? "") ?? 0, PacketPath.hookOrder.firstIndex(of: b.hook ?? "") ?? 0)
                return ha != hb ? ha < hb : (a.priority ?? 0) < (b.priority ?? 0)
            }
            .compactMap { chain in
                var note: String?
                if chain.type == "nat" && chain.hook == "postrouting" {
                    guard leaves else { return nil }
                    note = "masquerade: \(destination) is outside the cluster CIDR \(clusterCIDR)"
                }
                return PacketPath.ChainPass(table: "\(chain.family) \(chain.table)", chain: chain.name, hook: chain.hook ?? "", note: note)
            }
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
