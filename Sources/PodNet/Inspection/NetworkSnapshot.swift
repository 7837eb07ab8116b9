/// What the kernel holds in the network namespaces of a lab, read back by the agent: every
/// interface with its addresses, the main routing table, the neighbour entries, and the
/// chains of podlab's nftables table. `podlab ip` prints it; `whois` traces paths over it.
///
/// The JSON keys are the ones `ip -j` uses (`ifname`, `addr_info`, `prefixlen`, `dst`,
/// `lladdr`, …), so a snapshot reads like `ip -j addr`, `ip -j route` and `ip -j neigh` output
/// and can be compared with it field by field.
public struct NetworkInspection: Codable, Hashable, Sendable {
    /// The lab's name.
    public var lab: String
    /// The namespaces, underlay first, then nodes in topology order, then pods by name.
    public var namespaces: [NamespaceSnapshot]

    public init(lab: String, namespaces: [NamespaceSnapshot]) {
        self.lab = lab
        self.namespaces = namespaces
    }
}

/// What podlab made a network namespace for.
public enum NamespaceKind: String, Codable, Hashable, Sendable, CaseIterable {
    /// `<lab>-u`: the bridge that links the nodes.
    case underlay
    /// `<lab>-n<i>`: a node, routing between its pods and the other nodes.
    case node
    /// `<lab>-pod-<name>`: a pod, shared by its containers.
    case pod
}

/// One network namespace of a lab as the kernel holds it.
public struct NamespaceSnapshot: Codable, Hashable, Sendable {
    /// The namespace's name under /run/netns (`demo-n1`, `demo-pod-nginx`).
    public var namespace: String
    public var kind: NamespaceKind
    /// The node: the namespace's own for a node, the pod's for a pod; nil for the underlay.
    public var node: String?
    /// `namespace/name` of the pod, for a pod's namespace.
    public var pod: String?
    /// Interfaces in index order, each with its addresses.
    public var interfaces: [InterfaceSnapshot]
    /// IPv4 routes of the main table (`ip route`).
    public var routes: [RouteSnapshot]
    /// IPv4 neighbour entries (`ip neigh`).
    public var neighbours: [NeighborSnapshot]
    /// The chains of podlab's nftables table in this namespace (nodes only).
    public var firewall: [FirewallChainSnapshot]

    public init(namespace: String, kind: NamespaceKind, node: String? = nil, pod: String? = nil,
                interfaces: [InterfaceSnapshot] = [], routes: [RouteSnapshot] = [], neighbours: [NeighborSnapshot] = [],
                firewall: [FirewallChainSnapshot] = []) {
        self.namespace = namespace
        self.kind = kind
        self.node = node
        self.pod = pod
        self.interfaces = interfaces
        self.routes = routes
        self.neighbours = neighbours
        self.firewall = firewall
    }

    /// `pod default/nginx`, `node n1`, `underlay`.
    public var title: String {
        switch kind {
        case .underlay: "underlay"
        case .node: "node \(node ?? namespace)"
        case .pod: "pod \(pod ?? namespace)"
        }
    }

    /// The interface called `name`.
    public func interface(named name: String) -> InterfaceSnapshot? { interfaces.first { $0.ifname == name } }

    /// The interface with index `index`.
    public func interface(index: Int) -> InterfaceSnapshot? { interfaces.first { $0.ifindex == index } }

    /// The interface that holds `address`, if one does.
    public func holder(of address: IPAddress) -> InterfaceSnapshot? {
        let text = address.description
        return interfaces.first { $0.addrInfo.contains { $0.local == text } }
    }
}

/// One address of an interface (`ip -j addr`'s `addr_info` entries).
public struct InterfaceAddressSnapshot: Codable, Hashable, Sendable {
    /// `inet` or `inet6`.
    public var family: String
    /// The address.
    public var local: String
    public var prefixlen: Int
    /// `global`, `link` or `host`.
    public var scope: String
    /// The IPv4 broadcast address, when one is set.
    public var broadcast: String?
    /// The IPv4 label (usually the interface name).
    public var label: String?

    public init(family: String, local: String, prefixlen: Int, scope: String, broadcast: String? = nil, label: String? = nil) {
        self.family = family
        self.local = local
        self.prefixlen = prefixlen
        self.scope = scope
        self.broadcast = broadcast
        self.label = label
    }

    /// The address as a value (nil only if the kernel sent something unreadable).
    public var address: IPAddress? { IPAddress(local) }

    /// `10.244.1.2/32`.
    public var cidr: String { "\(local)/\(prefixlen)" }
}

/// One network interface (`ip -j addr`'s entries).
public struct InterfaceSnapshot: Codable, Hashable, Sendable {
    public var ifindex: Int
    public var ifname: String
    /// `IFF_*` flags by name, in the order `ip` prints them (`BROADCAST`, `MULTICAST`, `UP`, `LOWER_UP`).
    public var flags: [String]
    public var mtu: Int
    /// The operational state: `UP`, `DOWN`, `UNKNOWN`, `LOWERLAYERDOWN`, …
    public var operstate: String
    /// `ether` or `loopback`.
    public var linkType: String
    /// The MAC address.
    public var address: String?
    /// The bridge this interface is a port of.
    public var master: String?
    /// For a veth: the peer's interface index (`IFLA_LINK`).
    public var linkIndex: Int?
    /// Set when the peer lives in another namespace (`IFLA_LINK_NETNSID`): the peer's
    /// namespace as this namespace numbers it.
    public var linkNetnsid: Int?
    /// The device kind: `veth`, `bridge`, `vxlan`; nil for devices without one (`lo`).
    public var kind: String?
    /// The addresses, IPv4 first.
    public var addrInfo: [InterfaceAddressSnapshot]

    enum CodingKeys: String, CodingKey {
        case ifindex, ifname, flags, mtu, operstate, address, master, kind
        case linkType = "link_type"
        case linkIndex = "link_index"
        case linkNetnsid = "link_netnsid"
        case addrInfo = "addr_info"
    }

    public init(ifindex: Int, ifname: String, flags: [String] = [], mtu: Int = 1500, operstate: String = "UP", linkType: String = "ether",
                address: String? = nil, master: String? = nil, linkIndex: Int? = nil, linkNetnsid: Int? = nil, kind: String? = nil,
                addrInfo: [InterfaceAddressSnapshot] = []) {
        self.ifindex = ifindex
        self.ifname = ifname
        self.flags = flags
        self.mtu = mtu
        self.operstate = operstate
        self.linkType = linkType
        self.address = address
        self.master = master
        self.linkIndex = linkIndex
        self.linkNetnsid = linkNetnsid
        self.kind = kind
        self.addrInfo = addrInfo
    }

    /// The name as `ip` prints it: `eth0@if7` for a veth whose peer is in another namespace,
    /// `v1@v2` for one whose peer is here (`peerName`), `eth0` otherwise.
    public func displayName(peerName: String? = nil) -> String {
        guard let linkIndex else { return ifname }
        if linkIndex == 0 { return "\(ifname)@NONE" }
        if linkNetnsid == nil, let peerName { return "\(ifname)@\(peerName)" }
        return "\(ifname)@if\(linkIndex)"
    }
}

/// One IPv4 route of the main table (`ip -j route`'s entries).
public struct RouteSnapshot: Codable, Hashable, Sendable {
    /// nil for a unicast route (as `ip` leaves it out); `blackhole`, `unreachable`, `prohibit`, …
    public var type: String?
    /// `default`, a network (`10.244.2.0/24`) or a single address (`10.244.1.2`).
    public var dst: String
    public var gateway: String?
    public var dev: String?
    /// Who installed it: `kernel`, `static`, …; nil for `boot` (what `ip route add` uses).
    public var `protocol`: String?
    /// nil for `global`.
    public var scope: String?
    public var prefsrc: String?
    public var metric: Int?
    /// `onlink` and other `RTNH_F_*` flags.
    public var flags: [String]

    public init(type: String? = nil, dst: String, gateway: String? = nil, dev: String? = nil, protocol: String? = nil,
                scope: String? = nil, prefsrc: String? = nil, metric: Int? = nil, flags: [String] = []) {
        self.type = type
        self.dst = dst
        self.gateway = gateway
        self.dev = dev
        self.protocol = `protocol`
        self.scope = scope
        self.prefsrc = prefsrc
        self.metric = metric
        self.flags = flags
    }

    /// The destination as a prefix (`default` is 0.0.0.0/0, a bare address a /32); nil when
    /// `dst` is not IPv4.
    public var destination: IPv4Prefix? {
        if dst == "default" { return try? IPv4Prefix(.any, length: 0) }
        if dst.contains("/") { return IPv4Prefix(dst) }
        return IPv4Address(dst).flatMap { try? IPv4Prefix($0, length: 32) }
    }

    /// The route as `ip route` prints it: `10.244.2.0/24 via 192.168.200.12 dev eth0`.
    public var text: String {
        var parts: [String] = []
        if let type { parts.append(type) }
        parts.append(dst)
        if let gateway { parts += ["via", gateway] }
        if let dev { parts += ["dev", dev] }
        if let `protocol` { parts += ["proto", `protocol`] }
        if let scope { parts += ["scope", scope] }
        if let prefsrc { parts += ["src", prefsrc] }
        if let metric { parts += ["metric", String(metric)] }
        parts += flags
        return parts.joined(separator: " ")
    }
}

/// One IPv4 neighbour entry (`ip -j neigh`'s entries).
public struct NeighborSnapshot: Codable, Hashable, Sendable {
    public var dst: String
    public var dev: String
    /// The MAC; nil while unresolved.
    public var lladdr: String?
    /// `NUD_*` states by name: `PERMANENT`, `REACHABLE`, `STALE`, …
    public var state: [String]

    public init(dst: String, dev: String, lladdr: String? = nil, state: [String] = ["PERMANENT"]) {
        self.dst = dst
        self.dev = dev
        self.lladdr = lladdr
        self.state = state
    }

    /// The entry as `ip neigh` prints it: `10.244.1.1 dev eth0 lladdr 0a:58:0a:f4:01:01 PERMANENT`.
    public var text: String {
        "\(dst) dev \(dev)" + (lladdr.map { " lladdr \($0)" } ?? "") + (state.isEmpty ? "" : " " + state.joined(separator: ","))
    }
}

/// One chain of podlab's nftables table in a namespace.
public struct FirewallChainSnapshot: Codable, Hashable, Sendable {
    /// `ip`, `ip6` or `inet`.
    public var family: String
    public var table: String
    public var name: String
    /// For a base chain: `filter`, `nat` or `route`.
    public var type: String?
    /// For a base chain: `prerouting`, `input`, `forward`, `output` or `postrouting`.
    public var hook: String?
    public var priority: Int?
    /// The chain's rules, in order (each prints as `nft list` prints it).
    public var rules: [FirewallRule]

    public init(family: String = "ip", table: String = "podlab", name: String, type: String? = nil, hook: String? = nil,
                priority: Int? = nil, rules: [FirewallRule] = []) {
        self.family = family
        self.table = table
        self.name = name
        self.type = type
        self.hook = hook
        self.priority = priority
        self.rules = rules
    }

    /// `chain forward (type filter hook forward priority 0)`.
    public var text: String {
        var text = "table \(family) \(table) chain \(name)"
        if let type, let hook { text += " (type \(type) hook \(hook) priority \(priority ?? 0))" }
        return text
    }

    /// The chain as programmed: its rules without the counts the kernel keeps.
    public var programmed: FirewallChainSnapshot {
        var copy = self
        copy.rules = rules.map(\.programmed)
        return copy
    }
}
