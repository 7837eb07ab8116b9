import Testing
@testable import PodNet

/// A lab with Services, for the Service checks:
///
///   n1: e1 (echo :8080, hostPort 9080) 10.244.1.2, client c (busybox) 10.244.1.3
///   n2: e2 (echo) 10.244.2.2, e3 (echo, not ready) 10.244.2.3, the cluster DNS 10.244.2.10 (kube-system)
///
/// Services: web (e1 e2, port 80 → 8080), np (NodePort 30080 → e1), sticky (ClientIP, e1 e2),
/// empty (e3 only, not ready), local (internalTrafficPolicy: Local, e2 on n2), hl (headless,
/// e1 e2 ready, e3 not), kube-dns 10.96.0.10.
enum ServiceLab {
    static let echo = Container(name: "echo", image: "podlab/echo")
    static let e1 = Lab.pod("e1", node: "n1", ip: "10.244.1.2", [
        Container(name: "echo", image: "podlab/echo", ports: [ContainerPort(containerPort: 8080, hostPort: 9080)]),
    ], labels: ["app": "echo"])
    static let e2 = Lab.pod("e2", node: "n2", ip: "10.244.2.2", [echo], labels: ["app": "echo"])
    static let e3 = Lab.pod("e3", node: "n2", ip: "10.244.2.3", [echo], labels: ["app": "echo"])
    static let c = Lab.pod("c", node: "n1", ip: "10.244.1.3", [Container(name: "shell", image: "busybox", command: ["sleep", "3600"])])
    static let dnsPod = Lab.pod("coredns", namespace: "kube-system", node: "n2", ip: "10.244.2.10", [Container(name: "dns", image: "podlab/dns")],
                                labels: ["k8s-app": "kube-dns"])

    static func service(_ yaml: String) -> Service {
        try! Service(json: YAMLReader.value(from: yaml))
    }

    static func services() -> [Service] {
        [
            service("""
                metadata: {name: web, namespace: default}
                spec: {clusterIP: 10.96.0.20, selector: {app: echo}, ports: [{name: http, port: 80, targetPort: 8080}]}
                """),
            service("""
                metadata: {name: np, namespace: default}
                spec: {type: NodePort, clusterIP: 10.96.0.21, selector: {app: echo}, ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30080}]}
                """),
            service("""
                metadata: {name: sticky, namespace: default}
                spec: {clusterIP: 10.96.0.22, sessionAffinity: ClientIP, selector: {app: echo}, ports: [{name: http, port: 80, targetPort: 8080}]}
                """),
            service("""
                metadata: {name: empty, namespace: default}
                spec: {clusterIP: 10.96.0.23, selector: {app: echo}, ports: [{name: http, port: 80, targetPort: 8080}]}
                """),
            service("""
                metadata: {name: local, namespace: default}
                spec: {clusterIP: 10.96.0.24, internalTrafficPolicy: Local, selector: {app: echo}, ports: [{name: http, port: 80, targetPort: 8080}]}
                """),
            service("""
                metadata: {name: hl, namespace: default}
                spec: {clusterIP: None, selector: {app: echo}, ports: [{name: http, port: 80, targetPort: 8080}]}
                """),
            service("""
                metadata: {name: kube-dns, namespace: kube-system}
                spec: {clusterIP: 10.96.0.10, selector: {k8s-app: kube-dns}, ports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53, protocol: TCP}]}
                """),
        ]
    }

    static func endpoint(_ ip: String, node: String, ready: Bool = true) -> Endpoint {
        Endpoint(addresses: [ip], ready: ready, serving: ready, terminating: false, nodeName: node)
    }

    static func slice(_ service: String, namespace: String = "default", _ endpoints: [Endpoint], ports: [EndpointPort]? = nil) -> EndpointSlice {
        EndpointSlice(metadata: ObjectMeta(name: "\(service)-abcde", namespace: namespace, labels: [EndpointSlice.serviceNameLabel: service]),
                      endpoints: endpoints, ports: ports ?? [EndpointPort(name: "http", protocol: .tcp, port: 8080)])
    }

    static let e1Endpoint = endpoint("10.244.1.2", node: "n1")
    static let e2Endpoint = endpoint("10.244.2.2", node: "n2")
    static let e3NotReady = endpoint("10.244.2.3", node: "n2", ready: false)

    static func slices() -> [EndpointSlice] {
        [
            slice("web", [e1Endpoint, e2Endpoint]),
            slice("np", [e1Endpoint]),
            slice("sticky", [e1Endpoint, e2Endpoint]),
            slice("empty", [e3NotReady]),
            slice("local", [e2Endpoint]),
            slice("hl", [e1Endpoint, e2Endpoint, e3NotReady]),
            slice("kube-dns", namespace: "kube-system", [endpoint("10.244.2.10", node: "n2")],
                  ports: [EndpointPort(name: "dns", protocol: .udp, port: 53), EndpointPort(name: "dns-tcp", protocol: .tcp, port: 53)]),
        ]
    }

    static func snapshot(services: [Service] = services(), slices: [EndpointSlice] = slices()) -> LabSnapshot {
        var snapshot = Lab.snapshot([e1, e2, e3, c, dnsPod])
        snapshot.services = services
        snapshot.endpointSlices = slices
        return snapshot
    }

    /// The Service checks from `from`, one line each: claim, probe, expectation.
    static func lines(from source: String, snapshot: LabSnapshot = snapshot()) throws -> [String] {
        let options = MatrixOptions(sources: try EndpointSelector(parsing: source, namespace: nil))
        let serviceClaims: Set<ConnectivityClaim> = [.serviceIP, .serviceDNS, .nodePort, .hostPort, .serviceSpread, .sessionAffinity, .serviceNoEndpoints]
        return ReachabilityModel.checks(for: snapshot, options: options).filter { serviceClaims.contains($0.claim) }.map(\.serviceLine)
    }
}

extension ConnectivityCheck {
    /// `claim kind from→to:port expected`, with the DNS name and tries where there are.
    var serviceLine: String {
        var text = "\(claim.rawValue) \(line)"
        if let name = probe?.name { text += " name=\(name) expect=[\(probe?.expectAddresses?.joined(separator: ",") ?? "")]" }
        if let tries = probe?.tries { text += " tries=\(tries)" }
        switch answerers {
        case let .every(names)?: text += " every=\(names.sorted().joined(separator: ","))"
        case let .one(of: names)?: text += " one-of=\(names.sorted().joined(separator: ","))"
        case nil: break
        }
        return text
    }
}

@Suite("Service reachability model")
struct ServiceReachabilityTests {
    @Test("golden expectations from a client on n1: ClusterIP, NodePort, hostPort, headless, no endpoints, affinity, Local")
    func goldenFromClient() throws {
        let all = try ServiceLab.lines(from: "c")
        // Checks with tries come first (they run longest); the rest in the model's order.
        #expect(all.prefix(2) == ["session-affinity http c→10.96.0.22:80 connected tries=10 one-of=e1,e2",
                                  "service-spread http c→10.96.0.20:80 connected tries=21 every=e1,e2"])
        let lines = Array(all.dropFirst(2))
        #expect(lines == [
            // ClusterIPs from c (node n1), by Service: empty has no ready endpoint and refuses;
            // local has its only endpoint on n2, so under internalTrafficPolicy: Local c's node drops.
            "service-no-endpoints tcp c→10.96.0.23:80 refused",
            "service-ip tcp c→10.96.0.24:80 timeout",
            "service-ip tcp c→10.96.0.21:80 connected",
            "service-spread http c→10.96.0.21:80 connected tries=1 every=e1",
            "node-port tcp c→192.168.200.11:30080 connected",
            "node-port tcp c→192.168.200.12:30080 connected",
            "service-ip tcp c→10.96.0.22:80 connected",
            "service-ip tcp c→10.96.0.20:80 connected",
            // The cluster DNS's TCP port; its UDP port is asked by the name checks (not an echo server).
            "service-ip tcp c→10.96.0.10:53 connected",
            // Names: the FQDN and the short name (c is in default); a ClusterIP Service's name holds
            // its ClusterIP even without endpoints; a headless one its ready endpoints (not e3).
            "service-dns dns c→10.96.0.10 connected name=empty.default.svc.cluster.local expect=[10.96.0.23]",
            "service-dns dns c→10.96.0.10 connected name=empty expect=[10.96.0.23]",
            "service-dns dns c→10.96.0.10 connected name=hl.default.svc.cluster.local expect=[10.244.1.2,10.244.2.2]",
            "service-dns dns c→10.96.0.10 connected name=hl expect=[10.244.1.2,10.244.2.2]",
            "service-dns dns c→10.96.0.10 connected name=local.default.svc.cluster.local expect=[10.96.0.24]",
            "service-dns dns c→10.96.0.10 connected name=local expect=[10.96.0.24]",
            "service-dns dns c→10.96.0.10 connected name=np.default.svc.cluster.local expect=[10.96.0.21]",
            "service-dns dns c→10.96.0.10 connected name=np expect=[10.96.0.21]",
            "service-dns dns c→10.96.0.10 connected name=sticky.default.svc.cluster.local expect=[10.96.0.22]",
            "service-dns dns c→10.96.0.10 connected name=sticky expect=[10.96.0.22]",
            "service-dns dns c→10.96.0.10 connected name=web.default.svc.cluster.local expect=[10.96.0.20]",
            "service-dns dns c→10.96.0.10 connected name=web expect=[10.96.0.20]",
            "service-dns dns c→10.96.0.10 connected name=kube-dns.kube-system.svc.cluster.local expect=[10.96.0.10]",
            // e1's hostPort on its node's address.
            "host-port tcp c→192.168.200.11:9080 connected",
        ], "actual:\n\(lines.joined(separator: "\n"))")
    }

    @Test("on n2, internalTrafficPolicy: Local reaches the local endpoint; an endpoint reaches its own Service (hairpin)")
    func fromEndpointOnSecondNode() throws {
        let lines = try ServiceLab.lines(from: "e2").filter { $0.hasPrefix("service-ip") }
        #expect(lines.contains("service-ip tcp e2→10.96.0.24:80 connected"), "\(lines)")
        #expect(lines.contains("service-ip tcp e2→10.96.0.20:80 connected"), "\(lines)")
    }

    @Test("the checks carry the pod's own resolver settings and the source address")
    func probeDetails() throws {
        let checks = ReachabilityModel.checks(for: ServiceLab.snapshot(), options: MatrixOptions(sources: try EndpointSelector(parsing: "c", namespace: nil)))
        let short = try #require(checks.first { $0.probe?.name == "web" })
        #expect(short.probe?.search == ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"])
        #expect(short.probe?.queryNames == ["web.default.svc.cluster.local", "web.svc.cluster.local", "web.cluster.local", "web"])
        #expect(short.probe?.problems() == [])
        let clusterIP = try #require(checks.first { $0.claim == .serviceIP && $0.probe?.to == "10.96.0.20" })
        #expect(clusterIP.expectedSource == IPv4Address(10, 244, 1, 3))
        #expect(clusterIP.probe?.observesSource == false)
        let spread = try #require(checks.first { $0.claim == .serviceSpread && $0.probe?.to == "10.96.0.20" })
        #expect(spread.probe?.problems() == [])
        #expect(spread.method == "http GET / ×21")
    }

    @Test("no Services, no Service checks; --namespace keeps the Services of that namespace; --to leaves them out")
    func scoping() throws {
        let plain = Lab.snapshot([ServiceLab.e1, ServiceLab.c])
        #expect(ReachabilityModel.checks(for: plain).allSatisfy { ![.serviceIP, .serviceDNS, .serviceSpread].contains($0.claim) })
        let kubeSystem = ReachabilityModel.checks(for: ServiceLab.snapshot(), options: MatrixOptions(namespace: "kube-system"))
        #expect(kubeSystem.filter { $0.claim == .serviceIP }.map(\.to) == ["kube-system/kube-dns 10.96.0.10:53/tcp"])
        let narrowed = ReachabilityModel.checks(for: ServiceLab.snapshot(), options: MatrixOptions(targets: try EndpointSelector(parsing: "e1", namespace: nil)))
        #expect(narrowed.allSatisfy { $0.claim != .serviceIP && $0.claim != .serviceDNS })
    }

    @Test("a pod with dnsPolicy Default does not resolve through the cluster DNS: no name checks from it")
    func dnsPolicyDefault() throws {
        var c = ServiceLab.c
        c.spec.dnsPolicy = .default
        var snapshot = ServiceLab.snapshot()
        snapshot.pods = snapshot.pods.map { $0.metadata.name == "c" ? c : $0 }
        let checks = ReachabilityModel.checks(for: snapshot, options: MatrixOptions(sources: try EndpointSelector(parsing: "c", namespace: nil)))
        #expect(!checks.isEmpty)
        #expect(!checks.contains { $0.claim == .serviceDNS })
    }

    @Test("spread needs servers that name their pod: nginx endpoints get reachability checks only")
    func spreadNeedsNamingServers() throws {
        let n1 = Lab.pod("n1", node: "n1", ip: "10.244.1.5", [Container(name: "web", image: "nginx")], labels: ["app": "web"])
        let n2 = Lab.pod("n2", node: "n2", ip: "10.244.2.5", [Container(name: "web", image: "nginx")], labels: ["app": "web"])
        var snapshot = Lab.snapshot([n1, n2, ServiceLab.c])
        snapshot.services = [ServiceLab.service("""
            metadata: {name: nginx, namespace: default}
            spec: {clusterIP: 10.96.0.50, selector: {app: web}, ports: [{name: http, port: 80}]}
            """)]
        snapshot.endpointSlices = [ServiceLab.slice("nginx", [ServiceLab.endpoint("10.244.1.5", node: "n1"), ServiceLab.endpoint("10.244.2.5", node: "n2")],
                                                    ports: [EndpointPort(name: "http", protocol: .tcp, port: 80)])]
        let checks = ReachabilityModel.checks(for: snapshot)
        #expect(checks.filter { $0.claim == .serviceIP }.count == 3)
        #expect(!checks.contains { $0.claim == .serviceSpread })
    }

    @Test("tries for a spread check keep a false failure below one in a million", arguments: [(1, 1), (2, 21), (3, 37), (4, 53), (10, 153)])
    func spreadTries(endpoints: Int, tries: Int) {
        #expect(ReachabilityModel.spreadTries(endpoints: endpoints) == tries)
        if endpoints > 1 {
            var missing = Double(endpoints)
            for _ in 0..<tries { missing *= 1 - 1 / Double(endpoints) }
            #expect(missing <= ReachabilityModel.spreadFalseFailure)
            #expect(missing / (1 - 1 / Double(endpoints)) > ReachabilityModel.spreadFalseFailure, "one try fewer would do")
        }
    }

    @Test("spread and affinity are judged from who answered")
    func answerers() {
        let spread = AnswererExpectation.every(["a", "b", "c"])
        #expect(spread.problem(["a": 10, "b": 20, "c": 7]) == nil)
        #expect(spread.problem(["a": 30, "b": 7]) == "c never answered (answers: a ×30, b ×7)")
        #expect(spread.problem(["a": 30, "b": 6, "c": 1, "x": 1]) == "answered by x, which are not ready endpoints (answers: a ×30, b ×6, c ×1, x ×1)")
        let sticky = AnswererExpectation.one(of: ["a", "b"])
        #expect(sticky.problem(["b": 10]) == nil)
        #expect(sticky.problem(["a": 4, "b": 6]) == "answers came from 2 pods, not one (answers: a ×4, b ×6)")
        #expect(sticky.problem(["z": 10]) == "answered by z, which is not a ready endpoint")

        let check = ConnectivityCheck(claim: .serviceSpread, from: "c", to: "default/web", probe: nil, expected: .connected, reason: "r",
                                      answerers: spread)
        #expect(CheckResult(check: check, actual: ProbeResult(outcome: .connected, answeredBy: ["a": 1, "b": 1, "c": 1])).matched)
        #expect(!CheckResult(check: check, actual: ProbeResult(outcome: .connected, answeredBy: ["a": 3])).matched)
        #expect(!CheckResult(check: check, actual: ProbeResult(outcome: .timeout)).matched)
    }
}

extension ServiceReachabilityTests {
    @Test("--to a ClusterIP:port is judged by the Service: connected with ready endpoints, refused without, dropped under Local elsewhere",
          arguments: [("10.96.0.20:80", "service-ip tcp c→10.96.0.20:80 connected"), ("10.96.0.23:80", "service-no-endpoints tcp c→10.96.0.23:80 refused"),
                      ("10.96.0.24:80", "service-ip tcp c→10.96.0.24:80 timeout"), ("10.96.0.20:81", "service-ip tcp c→10.96.0.20:81 unreachable")])
    func clusterIPAsAddress(target: String, expected: String) throws {
        let options = MatrixOptions(sources: try EndpointSelector(parsing: "c", namespace: nil), targets: try EndpointSelector(parsing: target, namespace: nil))
        #expect(ReachabilityModel.checks(for: ServiceLab.snapshot(), options: options).map(\.serviceLine) == [expected])
    }
}

@Suite("DNS probe messages")
struct DNSProbeMessageTests {
    @Test("a query is RFC 1035's: header, one question for A IN")
    func query() {
        #expect(DNSQuery.encode(id: 0x1234, name: "web.default") == [
            0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
            3, 0x77, 0x65, 0x62, 7, 0x64, 0x65, 0x66, 0x61, 0x75, 0x6C, 0x74, 0,
            0, 1, 0, 1,
        ])
    }

    @Test("an answer's A records are read through name compression; NXDOMAIN and garbage are told apart")
    func answers() {
        var response = DNSQuery.encode(id: 7, name: "hl.default")
        response[2] = 0x81; response[3] = 0x80  // QR, RD, RA; NOERROR
        response[7] = 3  // three answers: two A, one CNAME-like record of another type
        for (index, last) in [UInt8(2), 3].enumerated() {
            response += [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 244, UInt8(index + 1), last]
        }
        response += [0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 5, 0, 2, 0xC0, 12]
        let answer = DNSQuery.decode(response)
        #expect(answer == DNSQuery.Answer(id: 7, rcode: 0, addresses: [IPv4Address(10, 244, 1, 2), IPv4Address(10, 244, 2, 3)], truncated: false))

        var missing = DNSQuery.encode(id: 9, name: "nope")
        missing[2] = 0x81; missing[3] = 0x83
        #expect(DNSQuery.decode(missing)?.rcodeName == "NXDOMAIN")
        #expect(DNSQuery.decode(DNSQuery.encode(id: 1, name: "q")) == nil, "a query is not an answer")
        #expect(DNSQuery.decode(Array(response.prefix(30))) == nil, "cut short")
    }

    @Test("names are expanded as a resolver with ndots:5 does")
    func searchExpansion() {
        let search = ["ns.svc.cluster.local", "svc.cluster.local"]
        #expect(ProbeRequest(to: "10.96.0.10", kind: .dns, name: "web", search: search).queryNames == ["web.ns.svc.cluster.local", "web.svc.cluster.local", "web"])
        #expect(ProbeRequest(to: "10.96.0.10", kind: .dns, name: "a.b.c.d.e.f", search: search).queryNames == ["a.b.c.d.e.f", "a.b.c.d.e.f.ns.svc.cluster.local", "a.b.c.d.e.f.svc.cluster.local"])
        #expect(ProbeRequest(to: "10.96.0.10", kind: .dns, name: "web.ns.svc.cluster.local.", search: search).queryNames == ["web.ns.svc.cluster.local"])
    }

    @Test("bad dns and tries fields are named", arguments: [
        (ProbeRequest(fromPod: "default/c", to: "10.96.0.10", kind: .dns), ["name: required for dns probes"]),
        (ProbeRequest(fromPod: "default/c", to: "10.96.0.10", kind: .dns, name: "bad..name"), ["name: \"bad..name\" is not a DNS name"]),
        (ProbeRequest(fromPod: "default/c", to: "10.96.0.10", kind: .dns, name: "web", expectAddresses: ["x"]), ["expectAddresses: \"x\" is not an IPv4 address"]),
        (ProbeRequest(fromPod: "default/c", to: "10.96.0.10", port: 80, kind: .tcp, name: "web", tries: 3),
         ["name: only for dns probes", "tries: only for http probes"]),
        (ProbeRequest(fromPod: "default/c", to: "10.96.0.10", port: 80, kind: .http, tries: 0), ["tries: 0 is outside 1-1000"]),
    ])
    func problems(request: ProbeRequest, expected: [String]) {
        #expect(request.problems() == expected)
    }
}
