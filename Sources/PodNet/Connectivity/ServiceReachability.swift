/// The expected reachability of the lab's Services, from the Services, their EndpointSlices and
/// the pods (as kube-proxy and the cluster DNS read them):
///
/// - every pod reaches each ClusterIP port whose Service has ready endpoints (under
///   `internalTrafficPolicy: Local`, ready endpoints on the pod's own node); a port without
///   ready endpoints refuses at once (a reset, or ICMP port unreachable); with ready endpoints on
///   other nodes only, under `Local`, the packet is dropped;
/// - a NodePort Service answers on every node's underlay address, from any pod;
/// - a pod's `hostPort` answers on its node's address;
/// - a Service's name resolves through the cluster DNS that the pod's own resolver settings
///   name: `svc.ns.svc.cluster.local`, and the short name `svc` from the Service's namespace
///   (search-domain expansion), to the ClusterIP, or for a headless Service to each ready
///   endpoint;
/// - connections spread over every ready endpoint; with ClientIP session affinity they stick to
///   one. Both need servers that name their pod in the answer (the echo image).
///
/// The probes run from pods: the ClusterIP check from every source pod (each node's dataplane
/// answers for its own pods), the others from one witness each, taken in turn.
extension ReachabilityModel {
    /// The probability that a spread check fails although every endpoint is in the rotation:
    /// with k endpoints chosen uniformly at random (`numgen random mod k`), one misses all N
    /// tries with probability (1 − 1/k)^N, so some endpoint does with at most k·(1 − 1/k)^N.
    public static let spreadFalseFailure = 1e-6

    /// Tries for a spread check over `endpoints` endpoints: the smallest N with
    /// k·(1 − 1/k)^N ≤ `spreadFalseFailure` (1 for one endpoint, 21 for 2, 37 for 3, 53 for 4,
    /// 153 for 10), so a false failure happens less than once in a million runs.
    public static func spreadTries(endpoints k: Int) -> Int {
        guard k > 1 else { return 1 }
        var missing = Double(k), tries = 0
        while missing > spreadFalseFailure && tries < ProbeRequest.maximumTries {
            missing *= 1 - 1 / Double(k)
            tries += 1
        }
        return tries
    }

    /// Tries for an affinity check: without affinity, all of them landing on one of k ≥ 2
    /// endpoints has probability k·(1/k)^N ≤ 2^−9 for N = 10, so a broken affinity shows.
    public static let affinityTries = 10
}

extension CheckBuilder {
    /// The Service checks for `snapshot`, from `sources`. `pods` are all the lab's active pods
    /// (endpoints may lie outside the selected sources).
    mutating func services(_ snapshot: LabSnapshot, sources: [PodEndpoint], pods: [PodEndpoint], namespace: String?) {
        guard !sources.isEmpty else { return }
        let services = snapshot.services.filter { namespace == nil || $0.metadata.namespace == namespace }
            .sorted { $0.qualifiedName < $1.qualifiedName }
        guard !services.isEmpty || !ServiceTable.hostPorts(of: snapshot.pods).isEmpty else { return }
        let table = ServiceTable(services: services, slices: snapshot.endpointSlices, pods: snapshot.pods)
        let byAddress = Dictionary(pods.map { ($0.address, $0) }) { a, _ in a }
        let nodes = snapshot.nodes
        func serviceNode(_ name: String?) -> ServiceNode {
            let node = nodes.first { $0.name == name }
            return ServiceNode(name: name ?? "", underlayIP: node?.underlayAddress ?? .any, podCIDR: node?.podCIDR ?? snapshot.clusterCIDR,
                               clusterCIDR: snapshot.clusterCIDR, serviceCIDR: snapshot.serviceCIDR ?? snapshot.clusterCIDR)
        }
        var turn = 0
        func witness() -> PodEndpoint {
            defer { turn += 1 }
            return sources[turn % sources.count]
        }

        for service in table.services {
            guard let clusterIP = service.clusterIP else { continue }
            for port in service.ports {
                let name = "\(service.qualifiedName) \(clusterIP):\(port.port)/\(port.protocol)"
                // 1. Every source pod to the ClusterIP port. The endpoints a pod's packets may
                // reach depend on its node only: chosen and named once per node.
                var perNode: [String: (choice: ServiceRules.Choice, endpoints: String)] = [:]
                for source in sources {
                    let nodeName = source.node?.name ?? ""
                    let entry: (choice: ServiceRules.Choice, endpoints: String)
                    if let known = perNode[nodeName] {
                        entry = known
                    } else {
                        let choice = ServiceRules.choice(port, of: service, on: serviceNode(source.node?.name))
                        var names = ""
                        if case let .endpoints(endpoints) = choice { names = Self.endpointList(endpoints, byAddress) }
                        entry = (choice, names)
                        perNode[nodeName] = entry
                    }
                    clusterIPCheck(service, port, address: clusterIP, label: name, from: source,
                                   choice: entry.choice, endpointList: entry.endpoints, byAddress: byAddress)
                }
                // 2. Spread, or affinity, from one witness.
                let spreadWitness = witness()
                if case let .endpoints(chosen) = ServiceRules.choice(port, of: service, on: serviceNode(spreadWitness.node?.name)) {
                    spread(service, port, address: clusterIP, label: name, from: spreadWitness, endpoints: chosen, byAddress: byAddress)
                }
                // 3. NodePort on every node's address, from one witness each.
                if service.type == .nodePort, let nodePort = port.nodePort {
                    let choice = ServiceRules.choice(port, of: service, on: serviceNode(nil), forNodePort: true)
                    for node in nodes {
                        guard let underlay = node.underlayAddress else { continue }
                        nodePortCheck(service, port, nodePort: nodePort, node: node, address: underlay, from: witness(), choice: choice)
                    }
                }
            }
        }

        // 4. Names, through the cluster DNS the source pod's resolver names.
        if let dns = services.first(where: { $0.metadata.namespace == "kube-system" && $0.metadata.name == "kube-dns" }),
           let dnsAddress = IPv4Address(dns.spec.clusterIP) {
            let resolving = sources.filter { Self.resolver($0, clusterDNS: dnsAddress) != nil }
            for service in services {
                guard let expected = expectedAddresses(service, slices: snapshot.endpointSlices) else { continue }
                let namespace = service.metadata.namespace.isEmpty ? "default" : service.metadata.namespace
                let fqdn = "\(service.metadata.name).\(namespace).svc.\(PodHostname.clusterDomain)"
                if !resolving.isEmpty {
                    let source = resolving[turn % resolving.count]
                    turn += 1
                    dnsCheck(service, name: fqdn, from: source, expected: expected, dnsAddress: dnsAddress)
                }
                let neighbours = resolving.filter { $0.namespace == namespace }
                if !neighbours.isEmpty {
                    let source = neighbours[turn % neighbours.count]
                    turn += 1
                    dnsCheck(service, name: service.metadata.name, from: source, expected: expected, dnsAddress: dnsAddress)
                }
            }
        }

        // 5. hostPorts on their node's address.
        for entry in table.hostPorts {
            guard let node = nodes.first(where: { $0.name == entry.node }), let underlay = node.underlayAddress,
                  namespace == nil || entry.pod.hasPrefix("\(namespace!)/") else { continue }
            let owner = pods.first { $0.key == entry.pod }
            let candidates = sources.filter { $0.key != entry.pod }
            let source = candidates.isEmpty ? witness() : candidates[turn % candidates.count]
            turn += 1
            hostPortCheck(entry, node: node, address: underlay, from: source, owner: owner)
        }
    }

    /// The source's resolver settings when its first nameserver is the cluster DNS.
    static func resolver(_ pod: PodEndpoint, clusterDNS: IPv4Address) -> PodDNSSettings? {
        let settings = PodDNS.settings(for: pod.pod, clusterDNS: clusterDNS.description)
        return settings.nameservers.first == clusterDNS.description ? settings : nil
    }

    /// The A records a Service's name must have: its ClusterIP, or for a headless Service the
    /// addresses of its ready endpoints (every one, with `publishNotReadyAddresses`); nil when
    /// it has no name in DNS.
    func expectedAddresses(_ service: Service, slices: [EndpointSlice]) -> [IPv4Address]? {
        if !service.isHeadless { return IPv4Address(service.spec.clusterIP).map { [$0] } }
        var addresses = Set<IPv4Address>()
        for slice in slices where slice.metadata.namespace == service.metadata.namespace && slice.serviceName == service.metadata.name {
            for endpoint in slice.endpoints where endpoint.ready || service.spec.publishNotReadyAddresses {
                addresses.formUnion(endpoint.addresses.compactMap(IPv4Address.init))
            }
        }
        return addresses.sorted()
    }

    /// How a probe of a Service port names its ready endpoints: `web-1 10.244.1.2:8080`.
    static func endpointList(_ endpoints: [ServiceEndpoint], _ byAddress: [IPv4Address: PodEndpoint]) -> String {
        endpoints.map { endpoint in byAddress[endpoint.ip].map { "\($0.label) \(endpoint)" } ?? endpoint.description }.joined(separator: ", ")
    }

    /// A connect (TCP) or echo (UDP) probe of a virtual address and port.
    func serviceProbe(_ proto: ServiceProtocol, from source: PodEndpoint, to address: IPv4Address, port: UInt16, timeoutMillis: Int? = nil) -> ProbeRequest {
        var probe = request(proto == .udp ? .udp : .tcp, from: source, to: address, port: port)
        if let timeoutMillis { probe.timeoutMillis = timeoutMillis }
        return probe
    }

    /// How long a probe waits for an answer that must not come (a dropped packet): long enough
    /// for a reply that does come (they take well under a millisecond in a lab).
    var dropWaitMillis: Int { min(options.timeoutMillis, 300) }

    /// `endpointList` names the chosen endpoints (`endpointList(_:_:)`).
    mutating func clusterIPCheck(_ service: ServiceEntry, _ port: ServicePortEntry, address: IPv4Address, label: String, from source: PodEndpoint,
                                 choice: ServiceRules.Choice, endpointList: String, byAddress: [IPv4Address: PodEndpoint]) {
        switch choice {
        case let .endpoints(endpoints):
            // A datagram comes back only from an echo server; another UDP server (the cluster
            // DNS) answers what it understands, which the DNS checks ask.
            if port.protocol == .udp, !endpoints.allSatisfy({ endpoint in
                byAddress[endpoint.ip].flatMap { listeners(of: $0).listener(port: endpoint.port, transport: .udp)?.server } == .echo
            }) { return }
            let local = service.internalTrafficPolicy == .local ? " on node \(source.node?.name ?? "?") (internalTrafficPolicy: Local)" : ""
            append(ConnectivityCheck(
                claim: .serviceIP, from: source.label, to: label, probe: serviceProbe(port.protocol, from: source, to: address, port: port.port),
                expected: .connected, expectedSource: source.address,
                reason: "\(Self.count(endpoints.count, "ready endpoint"))\(local): \(endpointList)"))
        case .noEndpoints:
            append(ConnectivityCheck(
                claim: .serviceNoEndpoints, from: source.label, to: label, probe: serviceProbe(port.protocol, from: source, to: address, port: port.port),
                expected: .refused,
                reason: "\(service.qualifiedName) has no ready endpoint for \(port.label): the node rejects at once"))
        case .noLocalEndpoints:
            append(ConnectivityCheck(
                claim: .serviceIP, from: source.label, to: label,
                probe: serviceProbe(port.protocol, from: source, to: address, port: port.port, timeoutMillis: dropWaitMillis),
                expected: .timeout,
                reason: "internalTrafficPolicy: Local and no ready endpoint of \(service.qualifiedName) on node \(source.node?.name ?? "?"): the packet is dropped"))
        }
    }

    /// Spread over, or affinity to, the endpoints, where every one of them names its pod.
    mutating func spread(_ service: ServiceEntry, _ port: ServicePortEntry, address: IPv4Address, label: String, from source: PodEndpoint,
                         endpoints: [ServiceEndpoint], byAddress: [IPv4Address: PodEndpoint]) {
        guard port.protocol == .tcp else { return }
        var hostnames = Set<String>()
        for endpoint in endpoints {
            guard let pod = byAddress[endpoint.ip], listeners(of: pod).listener(port: endpoint.port, transport: .tcp)?.server?.namesItsPod == true else {
                return  // an endpoint whose answer does not say who it is: no way to tell them apart
            }
            hostnames.insert(pod.hostname)
        }
        guard hostnames.count == endpoints.count else { return }  // two endpoints with one hostname
        let list = Self.endpointList(endpoints, byAddress)
        switch service.sessionAffinity {
        case .none:
            let tries = ReachabilityModel.spreadTries(endpoints: endpoints.count)
            var probe = request(.http, from: source, to: address, port: port.port)
            probe.tries = tries
            append(ConnectivityCheck(
                claim: .serviceSpread, from: source.label, to: label, probe: probe, expected: .connected, expectedSource: source.address,
                reason: "each of \(tries) connections goes to one of \(Self.count(endpoints.count, "ready endpoint")) at random, so each answers "
                    + "at least once but with a chance below one in a million: \(list)",
                answerers: .every(hostnames)))
        case .clientIP:
            guard endpoints.count > 1 else { return }  // one endpoint sticks anyway: nothing shown
            var probe = request(.http, from: source, to: address, port: port.port)
            probe.tries = ReachabilityModel.affinityTries
            append(ConnectivityCheck(
                claim: .sessionAffinity, from: source.label, to: label, probe: probe, expected: .connected, expectedSource: source.address,
                reason: "sessionAffinity: ClientIP sends every connection from \(source.address) to the endpoint its first went to, one of \(list)",
                answerers: .one(of: hostnames)))
        }
    }

    mutating func nodePortCheck(_ service: ServiceEntry, _ port: ServicePortEntry, nodePort: UInt16, node: LabSnapshot.Node, address: IPv4Address,
                                from source: PodEndpoint, choice: ServiceRules.Choice) {
        let label = "\(service.qualifiedName) node \(node.name) \(address):\(nodePort)/\(port.protocol)"
        switch choice {
        case let .endpoints(endpoints):
            append(ConnectivityCheck(
                claim: .nodePort, from: source.label, to: label, probe: serviceProbe(port.protocol, from: source, to: address, port: nodePort),
                expected: .connected, expectedSource: source.address,
                reason: "NodePort \(nodePort) of \(service.qualifiedName) (\(port.label)) on node \(node.name)'s address: \(Self.count(endpoints.count, "ready endpoint"))"))
        case .noEndpoints, .noLocalEndpoints:
            append(ConnectivityCheck(
                claim: .serviceNoEndpoints, from: source.label, to: label,
                probe: serviceProbe(port.protocol, from: source, to: address, port: nodePort), expected: .refused,
                reason: "\(service.qualifiedName) has no ready endpoint for \(port.label): node \(node.name) rejects its NodePort at once"))
        }
    }

    mutating func dnsCheck(_ service: Service, name: String, from source: PodEndpoint, expected: [IPv4Address], dnsAddress: IPv4Address) {
        guard let settings = Self.resolver(source, clusterDNS: dnsAddress) else { return }
        let probe = ProbeRequest(fromPod: source.key, to: dnsAddress.description, kind: .dns, timeoutMillis: options.timeoutMillis,
                                 name: name, search: settings.searches, expectAddresses: expected.map(\.description))
        let what = service.isHeadless
            ? (expected.isEmpty ? "headless, no ready endpoint: the name holds no address"
                : "headless: one address per ready endpoint, \(expected.map(\.description).joined(separator: ", "))")
            : "the ClusterIP \(expected.first?.description ?? "")"
        let how = name.contains(".") ? "" : " through the search domains of \(source.label)'s resolv.conf"
        append(ConnectivityCheck(
            claim: .serviceDNS, from: source.label, to: "\(name) (\(service.qualifiedName))", probe: probe, expected: .connected,
            reason: "the cluster DNS \(dnsAddress) answers for \(service.qualifiedName)\(how): \(what)"))
    }

    mutating func hostPortCheck(_ entry: HostPortEntry, node: LabSnapshot.Node, address: IPv4Address, from source: PodEndpoint, owner: PodEndpoint?) {
        let label = "\(entry.pod) hostPort \(address):\(entry.hostPort)/\(entry.protocol)"
        let transport: ImagePort.Transport = entry.protocol == .udp ? .udp : .tcp
        let probe = serviceProbe(entry.protocol, from: source, to: address, port: entry.hostPort)
        if let owner, let listener = listeners(of: owner).listener(port: entry.containerPort, transport: transport) {
            append(ConnectivityCheck(
                claim: .hostPort, from: source.label, to: label, probe: probe, expected: .connected, expectedSource: source.address,
                reason: "node \(node.name) leads \(entry.hostPort)/\(entry.protocol) to \(entry.podIP):\(entry.containerPort), where \(listener.container) listens"))
        } else if entry.protocol == .tcp {
            append(ConnectivityCheck(
                claim: .hostPort, from: source.label, to: label, probe: probe, expected: .refused,
                reason: "node \(node.name) leads \(entry.hostPort)/tcp to \(entry.podIP):\(entry.containerPort), where nothing listens: that pod's kernel resets"))
        }
    }

    /// `1 ready endpoint`, `3 ready endpoints`.
    static func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
}
