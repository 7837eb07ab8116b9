import Testing
@testable import PodNet

@Suite("Probe requests, selectors, the lab boundary and the host's routes")
struct ProbeRulesTests {
    // MARK: Requests

    static let requests: [(ProbeRequest, [String])] = [
        (ProbeRequest(fromPod: "default/a", to: "10.244.1.2", port: 80, kind: .tcp), []),
        (ProbeRequest(fromPod: "a", to: "10.244.1.2", port: 80, kind: .http, expectBody: "x", expectStatus: 200, path: "/"), []),
        (ProbeRequest(to: "10.244.1.2", kind: .route), []),
        (ProbeRequest(fromPod: "default/a", to: "10.244.1.2", kind: .tcp), ["port: required for tcp probes"]),
        (ProbeRequest(fromPod: "default/a", to: "10.244.1.2", port: 70000, kind: .udp), ["port: 70000 is not a port number (1-65535)"]),
        (ProbeRequest(fromPod: "default/a", to: "10.244.1.2", port: 1, kind: .icmp), ["port: icmp probes have no port"]),
        (ProbeRequest(fromPod: "default/a", to: "web", port: 80, kind: .tcp), ["to: \"web\" is not an IPv4 address"]),
        (ProbeRequest(fromPod: nil, to: "10.244.1.2", port: 80, kind: .tcp),
         ["fromPod: required for tcp probes (namespace/name of the pod to probe from)"]),
        (ProbeRequest(fromPod: "default/a", to: "10.244.1.2", kind: .route), ["fromPod: route probes run in the host's routing table, not in a pod"]),
        (ProbeRequest(fromPod: "a/b/c", to: "10.244.1.2", kind: .icmp), ["fromPod: \"a/b/c\" is not namespace/name"]),
        (ProbeRequest(fromPod: "default/a", to: "10.244.1.2", kind: .icmp, timeoutMillis: 0), ["timeoutMillis: 0 is outside 1-60000"]),
        (ProbeRequest(fromPod: "default/a", to: "10.244.1.2", port: 80, kind: .tcp, expectBody: "x"), ["expectBody: only for http probes"]),
        (ProbeRequest(fromPod: "default/a", to: "10.244.1.2", port: 80, kind: .http, path: "no-slash"),
         ["path: \"no-slash\" is not an absolute path without spaces"]),
    ]

    @Test("what makes a probe request unusable", arguments: requests)
    func problems(request: ProbeRequest, expected: [String]) {
        #expect(request.problems() == expected)
    }

    @Test("the source pod: namespace/name, or a bare name in default")
    func sourcePod() {
        #expect(ProbeRequest(fromPod: "team/web", to: "10.0.0.1", kind: .icmp).sourcePod! == ("team", "web"))
        #expect(ProbeRequest(fromPod: "web", to: "10.0.0.1", kind: .icmp).sourcePod! == ("default", "web"))
        #expect(ProbeRequest(fromPod: nil, to: "10.0.0.1", kind: .route).sourcePod == nil)
    }

    // MARK: Boundary

    static let boundary = LabBoundary(lab: "lab", clusterCIDR: IPv4Prefix("10.244.0.0/16")!, serviceCIDR: IPv4Prefix("10.96.0.0/16"),
                                      nodeAddresses: [IPv4Address(192, 168, 200, 11), IPv4Address(192, 168, 200, 12)])

    @Test("inside the lab: cluster and service CIDR, node addresses, loopback", arguments: [
        ("10.244.1.2", true), ("10.244.255.255", true), ("10.96.0.10", true), ("192.168.200.12", true), ("127.0.0.1", true),
        ("127.9.9.9", true), ("192.168.200.13", false), ("192.168.200.1", false), ("10.245.0.1", false), ("8.8.8.8", false),
        ("0.0.0.0", false), ("255.255.255.255", false),
    ])
    func inside(address: String, expected: Bool) {
        #expect(Self.boundary.contains(IPv4Address(address)!) == expected)
    }

    @Test("a probe to an outside address is refused with the reason; a bind to the any-address is not")
    func refusal() {
        let outside = ProbeRequest(fromPod: "default/a", to: "8.8.8.8", port: 53, kind: .udp)
        #expect(Self.boundary.refusal(for: outside) == """
            8.8.8.8 is outside lab "lab": podlab never sends traffic outside its own namespaces (probes may go to \
            the cluster CIDR 10.244.0.0/16, the service CIDR 10.96.0.0/16, the node addresses 192.168.200.11, 192.168.200.12, \
            loopback 127.0.0.0/8)
            """)
        #expect(Self.boundary.refusal(for: ProbeRequest(fromPod: "default/a", to: "0.0.0.0", port: 80, kind: .bind)) == nil)
        #expect(Self.boundary.refusal(for: ProbeRequest(fromPod: "default/a", to: "0.0.0.0", port: 80, kind: .tcp)) != nil)
        #expect(Self.boundary.refusal(for: ProbeRequest(to: "1.1.1.1", kind: .route)) != nil)
        #expect(Self.boundary.refusal(for: ProbeRequest(fromPod: "default/a", to: "10.244.3.3", kind: .icmp)) == nil)
    }

    @Test("the boundary of a planned lab")
    func plannedBoundary() throws {
        let plan = try TopologySpec(name: "lab", nodeCount: 2).plan()
        let boundary = LabBoundary(plan: plan)
        #expect(boundary.nodeAddresses == [IPv4Address(192, 168, 200, 11), IPv4Address(192, 168, 200, 12)])
        #expect(boundary.clusterCIDR.description == "10.244.0.0/16" && boundary.serviceCIDR?.description == "10.96.0.0/16")
    }

    // MARK: Selectors

    @Test("selector text", arguments: [
        ("a", [EndpointSelector.Item.pod(namespace: nil, name: "a")]),
        ("a, team/b", [.pod(namespace: nil, name: "a"), .pod(namespace: "team", name: "b")]),
        ("host,gateway", [.host, .gateway]),
        ("10.244.1.2,10.244.1.3:8080", [.address(IPv4Address(10, 244, 1, 2), port: nil), .address(IPv4Address(10, 244, 1, 3), port: 8080)]),
        ("app=web,tier!=db", [.labels(try! LabelSelector(parsing: "app=web,tier!=db"))]),
        ("env in (a,b)", [.labels(try! LabelSelector(parsing: "env in (a,b)"))]),
    ])
    func parse(text: String, items: [EndpointSelector.Item]) throws {
        #expect(try EndpointSelector(parsing: text).items == items)
    }

    @Test("bare names take the given namespace")
    func namespaceOfNames() throws {
        #expect(try EndpointSelector(parsing: "a,other/b", namespace: "team").items == [.pod(namespace: "team", name: "a"), .pod(namespace: "other", name: "b")])
    }

    @Test("bad selector text", arguments: [
        ("", "invalid selector \"\": is empty"),
        ("a,,b", "invalid selector \"a,,b\": has an empty item"),
        ("10.244.1.2:0", "invalid selector \"10.244.1.2:0\": \"0\" in \"10.244.1.2:0\" is not a port (1-65535)"),
        ("10.244.1", "invalid selector \"10.244.1\": \"10.244.1\" is not an IPv4 address or ADDRESS:PORT"),
        ("team/", "invalid selector \"team/\": \"team/\" is not namespace/name"),
    ])
    func badSelectors(text: String, message: String) {
        #expect(throws: SelectorError.self) { try EndpointSelector(parsing: text) }
        do { _ = try EndpointSelector(parsing: text) } catch { #expect(error.description == message) }
    }

    @Test("matching pods and reporting names that match none")
    func matching() throws {
        let pods = Lab.snapshot().activePods
        let selector = try EndpointSelector(parsing: "a,10.244.2.2,missing,team/a")
        #expect(pods.filter(selector.selects).map(\.name) == ["a", "b"])
        #expect(selector.unknownPods(in: pods) == ["missing", "team/a"])
        #expect(try EndpointSelector(parsing: "app=echo").unknownPods(in: pods).isEmpty)
        let host = try EndpointSelector(parsing: "host")
        #expect(!host.selectsPods && host.includesHost && !host.includesGateway)
        #expect(EndpointSelector.all.includesHost && EndpointSelector.all.includesGateway && EndpointSelector.all.selectsPods)
    }

    // MARK: The host's routes

    static let labRanges = [IPv4Prefix("10.244.0.0/16")!, IPv4Prefix("10.96.0.0/16")!, IPv4Prefix("192.168.200.0/24")!]
    static let pod = IPv4Address(10, 244, 1, 2)

    @Test("a host with a default route and its own networks has no way into the lab")
    func isolated() {
        let routes = [
            HostIsolation.Route(destination: nil, device: "eth0", gateway: IPv4Address(192, 0, 2, 1)),
            HostIsolation.Route(destination: IPv4Prefix("192.0.2.0/24"), device: "eth0"),
            HostIsolation.Route(destination: IPv4Prefix("127.0.0.0/8"), device: "lo", table: 255, type: "local"),
        ]
        let result = HostIsolation.evaluate(target: Self.pod, labRanges: Self.labRanges, routes: routes)
        #expect(result.outcome == .unreachable)
        #expect(result.detail == "routing table only, no packet sent: the host would send 10.244.1.2 by default via 192.0.2.1 dev eth0, "
            + "not a lab interface; no route of the host covers 10.244.0.0/16, 10.96.0.0/16, 192.168.200.0/24")
    }

    @Test("no routes at all")
    func noRoutes() {
        let result = HostIsolation.evaluate(target: Self.pod, labRanges: Self.labRanges, routes: [])
        #expect(result.outcome == .unreachable)
        #expect(result.detail.contains("the host has no route for 10.244.1.2"))
    }

    @Test("a route that covers the lab's addresses but leaves elsewhere is named, and is no way in")
    func coveringElsewhere() {
        let routes = [HostIsolation.Route(destination: nil, device: "eth0"), HostIsolation.Route(destination: IPv4Prefix("10.0.0.0/8"), device: "wg0")]
        let result = HostIsolation.evaluate(target: Self.pod, labRanges: Self.labRanges, routes: routes)
        #expect(result.outcome == .unreachable)
        #expect(result.detail.contains("by 10.0.0.0/8 dev wg0, not a lab interface"))
        #expect(result.detail.contains("10.0.0.0/8 dev wg0 overlaps the lab's addresses but leads elsewhere"))
    }

    @Test("a route through a lab interface is a way in", arguments: [
        HostIsolation.Route(destination: IPv4Prefix("10.244.1.0/24"), device: "cni0"),
        HostIsolation.Route(destination: nil, device: "veth0a1b2c3d"),
        HostIsolation.Route(destination: IPv4Prefix("10.244.0.0/16"), device: "veth-n1", table: 100),
    ])
    func routed(route: HostIsolation.Route) {
        let result = HostIsolation.evaluate(target: Self.pod, labRanges: Self.labRanges, routes: [HostIsolation.Route(destination: nil, device: "eth0"), route])
        #expect(result.outcome == .routed)
        #expect(result.detail == "the host routes 10.244.1.2 into the lab: \(route.description)")
    }

    @Test("blackhole and unreachable routes lead nowhere")
    func blackhole() {
        let routes = [HostIsolation.Route(destination: IPv4Prefix("10.244.0.0/16"), device: "cni0", type: "blackhole")]
        #expect(HostIsolation.evaluate(target: Self.pod, labRanges: Self.labRanges, routes: routes).outcome == .unreachable)
    }

    @Test("lab interface names", arguments: [
        ("cni0", true), ("underlay0", true), ("veth-n1", true), ("veth-n12", true), ("veth0a1b2c3d", true),
        ("eth0", false), ("veth-nx", false), ("veth0a1b2c3", false), ("vethzzzzzzzz", false), ("docker0", false), ("lo", false),
    ])
    func labInterfaceNames(name: String, expected: Bool) {
        #expect(HostIsolation.isLabInterfaceName(name) == expected)
    }

    // MARK: Sampling

    @Test("samples are reproducible, distinct, in order, and of the asked size")
    func sampling() {
        let first = CheckSampling.indices(count: 50, of: 1000, seed: 7)
        #expect(first == CheckSampling.indices(count: 50, of: 1000, seed: 7))
        #expect(first != CheckSampling.indices(count: 50, of: 1000, seed: 8))
        #expect(first.count == 50 && Set(first).count == 50 && first == first.sorted() && first.allSatisfy { (0..<1000).contains($0) })
        #expect(CheckSampling.indices(count: 10, of: 4, seed: 1) == [0, 1, 2, 3])
        #expect(CheckSampling.indices(count: 3, of: 3, seed: 1) == [0, 1, 2])
    }
}
