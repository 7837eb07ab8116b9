import Testing
@testable import PodNet

@Suite("default/kubernetes, the API's Service")
struct APIServerServiceTests {
    @Test("as kube-apiserver makes it: the CIDR's first address, 443 named https over TCP, no selector",
          arguments: [("10.96.0.0/16", "10.96.0.1"), ("10.100.0.0/24", "10.100.0.1"), ("172.20.8.0/30", "172.20.8.1")])
    func shape(cidr: String, address: String) throws {
        let service = try #require(APIServerService.service(serviceCIDR: IPv4Prefix(cidr)!)).applyingDefaults()
        try service.validated()
        #expect(service.qualifiedName == "default/kubernetes")
        #expect(service.spec.clusterIP == address)
        #expect(service.spec.selector.isEmpty)
        #expect(service.spec.effectiveType == .clusterIP)
        #expect(service.spec.ports.map { "\($0.name) \($0.port)/\($0.effectiveProtocol.rawValue)" } == ["https 443/TCP"])
        #expect(service.metadata.labels == ["component": "apiserver", "provider": "kubernetes"])
        #expect(service.metadata.annotations[APIServerService.endpointsAnnotation]?.contains("no namespace of the lab reaches") == true)
        #expect(APIServerService.isAPIServerService(service))
    }

    @Test("a range without a first host address has no such Service")
    func tinyRange() {
        #expect(APIServerService.service(serviceCIDR: IPv4Prefix("10.96.0.0/31")!) == nil)
        #expect(APIServerService.address(serviceCIDR: IPv4Prefix("10.96.0.7/32")!) == nil)
    }

    @Test("its one slice has its port and no endpoint, whatever pods there are; other selector-less Services have none")
    func slices() throws {
        let api = try #require(APIServerService.service(serviceCIDR: IPv4Prefix("10.96.0.0/16")!)).applyingDefaults()
        var pod = Pod(metadata: ObjectMeta(name: "a", namespace: "default", labels: ["component": "apiserver"]))
        pod.status.podIP = "10.244.1.2"
        let desired = EndpointSlices.desired(for: api, pods: [pod])
        #expect(desired == [EndpointSlices.Content(ports: [EndpointPort(name: "https", protocol: .tcp, port: 443)], endpoints: [])])
        var manual = api
        manual.metadata.name = "manual"
        #expect(EndpointSlices.desired(for: manual, pods: [pod]).isEmpty)
        var elsewhere = api
        elsewhere.metadata.namespace = "team"
        #expect(!APIServerService.isAPIServerService(elsewhere))

        // The dataplane's view: a port with no endpoint, which the node rejects at once.
        var slice = EndpointSlice(metadata: ObjectMeta(name: "kubernetes", namespace: "default",
                                                       labels: [EndpointSlice.serviceNameLabel: "kubernetes"]))
        slice.ports = desired[0].ports
        var stored = api
        stored.metadata.uid = "u"
        let table = ServiceTable(services: [stored], slices: [slice])
        let entry = try #require(table.services.first)
        #expect(entry.clusterIP == IPv4Address("10.96.0.1"))
        #expect(entry.ports.map(\.port) == [443])
        #expect(entry.ports.allSatisfy { $0.endpoints.isEmpty })
        let endpoints = EndpointSlices.endpoints(for: stored, slices: [slice])
        #expect(endpoints.metadata.name == "kubernetes" && endpoints.subsets.isEmpty)
    }
}
