/// What `podlab test` checks, and how.
public struct MatrixOptions: Hashable, Sendable {
    /// Sources (`--from`).
    public var sources: EndpointSelector
    /// Targets (`--to`).
    public var targets: EndpointSelector
    /// Only pods of this namespace take part (nil: every namespace).
    public var namespace: String?
    /// Every probe's timeout.
    public var timeoutMillis: Int
    /// Between pods, an HTTP GET with its answer checked wherever the target port is a
    /// built-in server, instead of a bare TCP connect.
    public var httpBetweenPods: Bool
    /// Only checks of these probe kinds (nil: all).
    public var kinds: Set<ProbeKind>?

    public init(sources: EndpointSelector = .all, targets: EndpointSelector = .all, namespace: String? = nil,
                timeoutMillis: Int = ProbeRequest.defaultTimeoutMillis, httpBetweenPods: Bool = false, kinds: Set<ProbeKind>? = nil) {
        self.sources = sources
        self.targets = targets
        self.namespace = namespace
        self.timeoutMillis = timeoutMillis
        self.httpBetweenPods = httpBetweenPods
        self.kinds = kinds
    }
}

/// The expected reachability of a lab, from first principles:
///
/// - every pod reaches every other pod by IP on each port it listens on, on its node and
///   across nodes, and the destination pod sees the source pod's own address (pods talk
///   without NAT: the agent observes it from inside the destination pod);
///   a pod with no listener still answers (with a reset) on a closed port;
/// - a pod's IP is its own: the answer there comes from that pod's containers;
/// - the containers of a pod share its IP: each one's port answers on it;
/// - a container reaches its sibling containers on `localhost:<port>`;
/// - a port no container listens on is refused;
/// - a second listener on a port a container holds is impossible (bind fails: EADDRINUSE);
/// - every pod reaches its node's gateway;
/// - the host's root namespace reaches no pod: it has no route into the lab (checked in the
///   host's routing table; no packet is sent from the host).
///
/// Pure: the same snapshot and options give the same checks, in the same order.
public enum ReachabilityModel {
    /// The port probed as "nothing listens here", unless a container does listen on it.
    static let closedPortCandidates: [UInt16] = [9, 1, 2, 3, 4, 5, 6, 7, 8, 10]

    /// The checks for `snapshot`, in the order to probe them: the pod pairs rotate through the
    /// targets, so that the probes in flight at one time reach many pods, not one.
    public static func checks(for snapshot: LabSnapshot, options: MatrixOptions = MatrixOptions()) -> [ConnectivityCheck] {
        let allPods = snapshot.activePods
        let pods = allPods.filter { options.namespace == nil || $0.namespace == options.namespace }
        let listeners = Dictionary(allPods.map { ($0.key, $0.listeners) }) { a, _ in a }
        let sources = options.sources.selectsPods ? pods.filter { options.sources.selects($0) } : []
        let targets = options.targets.selectsPods ? pods.filter { pod in
            // Address items that are pod IPs are targets like named pods, on the given port only.
            options.targets.selects(pod)
        } : []
        var builder = CheckBuilder(options: options, listeners: listeners)

        // 1. Pod to pod, every ordered pair, rotated.
        for offset in 0..<targets.count {
            for (index, source) in sources.enumerated() {
                let target = targets[(index + offset) % targets.count]
                guard target.key != source.key else { continue }
                builder.pair(from: source, to: target, onlyPort: onlyPort(options.targets, target))
            }
        }

        // 2. Per target: closed port, the pod's own answer, each container on the shared IP
        //    (not for a target named only as ADDRESS:PORT: that asks about one port).
        for (index, target) in targets.enumerated() where onlyPort(options.targets, target) == nil {
            guard let witness = witness(for: target, index: index, among: sources) else { continue }
            builder.perTarget(target, from: witness)
        }

        // 3. Per pod that is both a source and a target: localhost, second listeners.
        let targetKeys = Set(targets.map(\.key))
        for pod in sources where targetKeys.contains(pod.key) {
            builder.inside(pod)
        }

        // 4. Every source pod to its node's gateway.
        if options.targets.includesGateway {
            for source in sources { builder.gateway(from: source) }
        }

        // 5. The host: no route to any target pod.
        if options.sources.includesHost {
            for target in targets { builder.hostIsolation(target.address, label: "\(target.label) \(target.address)") }
        }

        // 6. Addresses given with --to that no selected pod holds.
        let addressTargets = options.targets.addresses.filter { item in !targets.contains { $0.address == item.address } }
        for item in addressTargets {
            for source in sources { builder.address(item.address, port: item.port, from: source, snapshot: snapshot, pods: allPods) }
            if options.sources.includesHost { builder.hostIsolation(item.address, label: item.address.description) }
        }

        // 7. Services: ClusterIPs, NodePorts, hostPorts, names, spread and affinity (not
        //    when --to names targets: those are pods and addresses).
        if options.targets.isAll {
            builder.services(snapshot, sources: sources, pods: allPods, namespace: options.namespace)
        }

        // 8. Two pods with one address: no probe can tell them apart, so the model says so.
        if options.sources.isAll && options.targets.isAll {
            var holders: [IPv4Address: [PodEndpoint]] = [:]
            for pod in pods { holders[pod.address, default: []].append(pod) }
            for (address, owners) in holders.sorted(by: { $0.key < $1.key }) where owners.count > 1 {
                builder.append(ConnectivityCheck(
                    claim: .oneIPPerPod, from: "model", to: "\(address)", probe: nil, expected: .connected,
                    reason: "every pod has an address of its own",
                    evaluated: ProbeResult(outcome: .error, detail: "\(address) is held by \(owners.map(\.label).joined(separator: ", "))")))
            }
        }
        // A probe with tries makes its requests one after another: started first, it runs beside
        // the others instead of finishing alone after them.
        // NetworkPolicies drop some of them.
        let checks = PolicyExpectations.apply(to: builder.checks, snapshot: snapshot)
        return checks.filter { ($0.probe?.effectiveTries ?? 1) > 1 } + checks.filter { ($0.probe?.effectiveTries ?? 1) <= 1 }
    }

    /// With `--to ADDRESS:PORT` naming a pod (and nothing else selecting it): only that port of it.
    static func onlyPort(_ selector: EndpointSelector, _ target: PodEndpoint) -> UInt16? {
        guard !selector.isAll else { return nil }
        let named = selector.items.contains { item in
            switch item {
            case let .pod(namespace, name): name == target.name && (namespace == nil || namespace == target.namespace)
            case let .labels(labels): labels.matches(target.pod.metadata.labels)
            default: false
            }
        }
        if named { return nil }
        return selector.addresses.first { $0.address == target.address }?.port
    }

    /// The source that runs a target's single checks: preferably a pod on another node, chosen
    /// in turn so that the work spreads over the sources.
    static func witness(for target: PodEndpoint, index: Int, among sources: [PodEndpoint]) -> PodEndpoint? {
        let others = sources.filter { $0.key != target.key }
        guard !others.isEmpty else { return nil }
        let remote = others.filter { $0.node?.name != nil && $0.node?.name != target.node?.name }
        let pool = remote.isEmpty ? others : remote
        return pool[index % pool.count]
    }

    /// A port none of the pod's containers listens on (TCP).
    public static func closedPort(_ listeners: PodListeners) -> UInt16 {
        closedPortCandidates.first { port in listeners.listener(port: port, transport: .tcp) == nil } ?? 11
    }
}

/// Accumulates checks with the options' timeout and kind filter applied.
struct CheckBuilder {
    let options: MatrixOptions
    let listeners: [String: PodListeners]
    private(set) var checks: [ConnectivityCheck] = []

    init(options: MatrixOptions, listeners: [String: PodListeners]) {
        self.options = options
        self.listeners = listeners
    }

    mutating func append(_ check: ConnectivityCheck) {
        if let kinds = options.kinds, let probe = check.probe, !kinds.contains(probe.kind) { return }
        checks.append(check)
    }

    /// A probe; with `observeSource` (for a destination that is a pod), the agent also reads the
    /// source address the destination pod sees.
    func request(_ kind: ProbeKind, from source: PodEndpoint?, to address: IPv4Address, port: UInt16? = nil,
                 expectBody: String? = nil, observeSource: Bool = false) -> ProbeRequest {
        ProbeRequest(fromPod: source?.key, to: address.description, port: port.map(Int.init), kind: kind,
                     timeoutMillis: options.timeoutMillis, expectBody: expectBody, expectStatus: kind == .http ? 200 : nil,
                     path: kind == .http ? ProbeRequest.defaultPath : nil, observeSource: observeSource ? true : nil)
    }

    func listeners(of pod: PodEndpoint) -> PodListeners { listeners[pod.key] ?? PodListeners(listeners: [], conflicts: []) }

    static func sameNode(_ a: PodEndpoint, _ b: PodEndpoint) -> Bool { a.node?.name == b.node?.name }

    /// How the pair's probe reads: `b 10.244.2.3:80 (web)`.
    static func target(_ pod: PodEndpoint, _ listener: Listener) -> String {
        "\(pod.label) \(pod.address):\(listener.port) (\(listener.container))"
    }

    /// A probe of one listener: HTTP with the answer checked when asked for and possible,
    /// else a TCP connect or a UDP echo. At the pod's own address (not `localhost`) the probe
    /// also observes the source the pod sees.
    func listenerProbe(_ listener: Listener, of target: PodEndpoint, from source: PodEndpoint, address: IPv4Address,
                       http: Bool) -> ProbeRequest {
        let observe = address == target.address
        switch listener.transport {
        case .udp:
            return request(.udp, from: source, to: address, port: listener.port, observeSource: observe)
        case .tcp:
            if http, let server = listener.server {
                return request(.http, from: source, to: address, port: listener.port, expectBody: server.bodyMarker(hostname: target.hostname),
                               observeSource: observe)
            }
            return request(.tcp, from: source, to: address, port: listener.port, observeSource: observe)
        }
    }

    mutating func pair(from source: PodEndpoint, to target: PodEndpoint, onlyPort: UInt16?) {
        let claim: ConnectivityClaim = Self.sameNode(source, target) ? .podToPod : .crossNode
        let where_ = Self.sameNode(source, target) ? "on node \(target.node?.name ?? "?")" : "from node \(source.node?.name ?? "?") to \(target.node?.name ?? "?")"
        let held = listeners(of: target)
        var selected = held.listeners
        if let port = onlyPort {
            selected = selected.filter { $0.port == port }
            if selected.isEmpty {
                append(ConnectivityCheck(
                    claim: .closedPort, from: source.label, to: "\(target.label) \(target.address):\(port)",
                    probe: request(.tcp, from: source, to: target.address, port: port), expected: .refused,
                    reason: "no container of \(target.label) listens on \(port)/TCP: its kernel answers with a reset"))
                return
            }
        }
        for listener in selected {
            append(ConnectivityCheck(
                claim: claim, from: source.label, to: Self.target(target, listener),
                probe: listenerProbe(listener, of: target, from: source, address: target.address, http: options.httpBetweenPods),
                expected: .connected, expectedSource: source.address,
                reason: "\(listener.container) listens on \(listener.port)/\(listener.transport.rawValue); pods reach each other by IP \(where_)"))
        }
        if !held.listeners.contains(where: { $0.transport == .tcp }) {
            // Nothing listens: the reset from the target's own kernel still proves the path.
            let port = ReachabilityModel.closedPort(held)
            append(ConnectivityCheck(
                claim: claim, from: source.label, to: "\(target.label) \(target.address):\(port)",
                probe: request(.tcp, from: source, to: target.address, port: port), expected: .refused,
                reason: "nothing listens in \(target.label): its kernel answers with a reset, which proves the path \(where_)"))
        }
    }

    mutating func perTarget(_ target: PodEndpoint, from witness: PodEndpoint) {
        let held = listeners(of: target)
        if !held.tcp.isEmpty {
            let port = ReachabilityModel.closedPort(held)
            append(ConnectivityCheck(
                claim: .closedPort, from: witness.label, to: "\(target.label) \(target.address):\(port)",
                probe: request(.tcp, from: witness, to: target.address, port: port), expected: .refused,
                reason: "no container of \(target.label) listens on \(port)/TCP"))
        }
        // The pod's own answer at its IP: its first built-in server says who it is.
        if let listener = held.tcp.first(where: { $0.server != nil }), let server = listener.server {
            append(ConnectivityCheck(
                claim: .oneIPPerPod, from: witness.label, to: CheckBuilder.target(target, listener),
                probe: request(.http, from: witness, to: target.address, port: listener.port, expectBody: server.bodyMarker(hostname: target.hostname),
                               observeSource: true),
                expected: .connected, expectedSource: witness.address,
                reason: "\(target.address) is \(target.label)'s alone: \(listener.container) (\(server.rawValue)) answers there"))
        }
        // Every container's ports on the one pod IP.
        let containers = Set(held.listeners.map(\.container))
        if containers.count > 1 {
            for listener in held.listeners {
                append(ConnectivityCheck(
                    claim: .sharedIP, from: witness.label, to: CheckBuilder.target(target, listener),
                    probe: listenerProbe(listener, of: target, from: witness, address: target.address, http: true),
                    expected: .connected, expectedSource: witness.address,
                    reason: "\(containers.count) containers share \(target.address); \(listener.container) answers on \(listener.port)/\(listener.transport.rawValue)"))
            }
        }
        // The port several containers want answers with its owner's voice only.
        for conflict in held.conflicts where conflict.transport == .tcp {
            guard let listener = held.listener(port: conflict.port, transport: .tcp), let server = listener.server else { continue }
            append(ConnectivityCheck(
                claim: .portConflict, from: witness.label, to: CheckBuilder.target(target, listener),
                probe: request(.http, from: witness, to: target.address, port: conflict.port, expectBody: server.bodyMarker(hostname: target.hostname),
                               observeSource: true),
                expected: .connected, expectedSource: witness.address,
                reason: "\(conflict.owner) holds \(conflict.port)/TCP; \(conflict.others.joined(separator: ", ")) cannot, so only \(conflict.owner) answers"))
        }
    }

    mutating func inside(_ pod: PodEndpoint) {
        let held = listeners(of: pod)
        // The containers that run side by side: the app containers and the sidecars.
        let sideBySide = pod.pod.spec.initContainers.filter(\.isSidecar).map(\.name) + pod.pod.spec.containers.map(\.name)
        if sideBySide.count > 1 {
            for listener in held.listeners {
                let siblings = sideBySide.filter { $0 != listener.container }
                append(ConnectivityCheck(
                    claim: .localhost, from: pod.label, to: "localhost:\(listener.port) (\(listener.container))",
                    probe: listenerProbe(listener, of: pod, from: pod, address: .loopback, http: true),
                    expected: .connected, expectedSource: .loopback,
                    reason: "\(siblings.joined(separator: ", ")) reach \(listener.container) on localhost: one network namespace"))
            }
        }
        for listener in held.tcp {
            let others = held.conflicts.first { $0.port == listener.port && $0.transport == .tcp }?.others ?? []
            let reason = others.isEmpty
                ? "\(listener.container) holds \(listener.port)/TCP: a second listener in the pod cannot bind it"
                : "\(listener.container) holds \(listener.port)/TCP; \(others.joined(separator: ", ")) wanted it too and cannot bind it"
            append(ConnectivityCheck(
                claim: .portConflict, from: pod.label, to: "\(pod.label) *:\(listener.port) (\(listener.container))",
                probe: request(.bind, from: pod, to: .any, port: listener.port), expected: .inUse, reason: reason))
        }
    }

    mutating func gateway(from source: PodEndpoint) {
        guard let node = source.node else { return }
        append(ConnectivityCheck(
            claim: .gateway, from: source.label, to: "gateway \(node.gateway) (node \(node.name))",
            probe: request(.icmp, from: source, to: node.gateway), expected: .connected, expectedSource: source.address,
            reason: "the pod's default route goes via \(node.gateway) on node \(node.name)"))
    }

    mutating func hostIsolation(_ address: IPv4Address, label: String) {
        append(ConnectivityCheck(
            claim: .hostIsolation, from: "host", to: label,
            probe: request(.route, from: nil, to: address), expected: .unreachable,
            reason: "the lab is not connected to the host's root namespace: no route leads there"))
    }

    /// A `--to ADDRESS[:PORT]` that no selected pod holds.
    mutating func address(_ address: IPv4Address, port: UInt16?, from source: PodEndpoint, snapshot: LabSnapshot, pods: [PodEndpoint]) {
        let label = port.map { "\(address):\($0)" } ?? address.description
        // A pod's address (not a node's, not loopback): the agent can observe the source it sees.
        let podAddress = address == source.address || pods.contains { $0.address == address }
        func add(_ claim: ConnectivityClaim, _ expected: ProbeOutcome, tolerated: Set<ProbeOutcome> = [], reason: String, loopback: Bool = false) {
            let observe = expected == .connected && podAddress && !loopback
            let probe = port.map { request(.tcp, from: source, to: address, port: $0, observeSource: observe) }
                ?? request(.icmp, from: source, to: address, observeSource: observe)
            append(ConnectivityCheck(claim: claim, from: source.label, to: label, probe: probe, expected: expected, tolerated: tolerated,
                                     expectedSource: expected == .connected ? (loopback ? .loopback : source.address) : nil, reason: reason))
        }
        if address.isLoopback || address == source.address {
            let own = port.flatMap { listeners(of: source).listener(port: $0, transport: .tcp) }
            let claim: ConnectivityClaim = address.isLoopback ? .localhost : .sharedIP
            if port == nil {
                add(claim, .connected, reason: "the pod's own address", loopback: address.isLoopback)
            } else if let own {
                add(claim, .connected, reason: "\(own.container) listens on \(own.port)/TCP in this pod", loopback: address.isLoopback)
            } else {
                add(.closedPort, .refused, reason: "no container of \(source.label) listens on \(port!)/TCP")
            }
        } else if let target = pods.first(where: { $0.address == address }) {
            let claim: ConnectivityClaim = CheckBuilder.sameNode(source, target) ? .podToPod : .crossNode
            if let port {
                if let listener = listeners(of: target).listener(port: port, transport: .tcp) {
                    add(claim, .connected, reason: "\(listener.container) of \(target.label) listens on \(port)/TCP")
                } else {
                    add(.closedPort, .refused, reason: "no container of \(target.label) listens on \(port)/TCP")
                }
            } else {
                add(claim, .connected, reason: "\(address) is pod \(target.label)")
            }
        } else if let node = snapshot.nodes.first(where: { $0.gateway == address || $0.underlayAddress == address }) {
            if port == nil {
                add(.gateway, .connected, reason: "\(address) belongs to node \(node.name)")
            } else {
                add(.gateway, .refused, reason: "\(address) belongs to node \(node.name), where nothing listens")
            }
        } else if snapshot.serviceCIDR?.contains(address) == true,
                  let service = snapshot.services.first(where: { $0.spec.clusterIP == address.description }) {
            let table = ServiceTable(services: [service], slices: snapshot.endpointSlices)
            let node = ServiceNode(name: source.node?.name ?? "", underlayIP: source.node?.underlayAddress ?? .any, podCIDR: source.node?.podCIDR ?? snapshot.clusterCIDR,
                                   clusterCIDR: snapshot.clusterCIDR, serviceCIDR: snapshot.serviceCIDR ?? snapshot.clusterCIDR)
            guard let port, let (entry, servicePort) = table.service(address: address, port: port, protocol: .tcp, node: node) else {
                // Only the Service's ports are led anywhere; the rest of the address goes nowhere.
                return add(.serviceIP, .unreachable, tolerated: [.timeout],
                           reason: "\(address) is the ClusterIP of \(service.qualifiedName), which answers on its TCP ports \(service.spec.ports.map { String($0.port) }.joined(separator: ", ")) only")
            }
            switch ServiceRules.choice(servicePort, of: entry, on: node) {
            case let .endpoints(endpoints):
                add(.serviceIP, .connected, reason: "\(address):\(port) is \(entry.qualifiedName)'s, with \(endpoints.count) ready endpoint\(endpoints.count == 1 ? "" : "s")")
            case .noEndpoints:
                add(.serviceNoEndpoints, .refused, reason: "\(entry.qualifiedName) has no ready endpoint for \(servicePort.label): the node rejects at once")
            case .noLocalEndpoints:
                add(.serviceIP, .timeout, reason: "internalTrafficPolicy: Local and no ready endpoint of \(entry.qualifiedName) on node \(node.name): the packet is dropped")
            }
        } else if snapshot.serviceCIDR?.contains(address) == true {
            add(.serviceIP, .unreachable, tolerated: [.timeout],
                reason: "\(address) is in the service CIDR \(snapshot.serviceCIDR!), and no Service holds it")
        } else if snapshot.clusterCIDR.contains(address) {
            add(.unassignedAddress, .unreachable, tolerated: [.timeout], reason: "no pod or node of the lab holds \(address)")
        } else {
            add(.hostIsolation, .unreachable, reason: "\(address) is outside the lab: the agent refuses to send anything there")
        }
    }
}
