import FoundationEssentials
import NIOCore
import Testing
@testable import PodlabProxy

@Suite("podlab-proxy: endpoints, HTTP detection, metrics")
struct ProxyTests {
    @Test("a ClusterIP's connections take its ready endpoints in turn, by the port's name")
    func roundRobin() {
        let endpoints = ServiceEndpoints()
        endpoints.setService("shop/web", .init(clusterIP: "10.96.0.20", ports: [.init(name: "http", port: 80), .init(name: "dns", port: 53, protocolName: "UDP")]))
        endpoints.setSlice("shop/web-abc", .init(service: "web", ports: ["http": 8080], readyAddresses: ["10.244.1.3", "10.244.2.4"]))
        // Another namespace's slice for a Service of the same name is not this one's.
        endpoints.setSlice("other/web-xyz", .init(service: "web", ports: ["http": 8080], readyAddresses: ["10.244.9.9"]))
        let service = Destination(address: "10.96.0.20", port: 80)
        let picks = (0..<4).map { _ in endpoints.pick(service)?.description }
        #expect(picks == ["10.244.1.3:8080", "10.244.2.4:8080", "10.244.1.3:8080", "10.244.2.4:8080"])
        #expect(endpoints.pick(Destination(address: "10.96.0.20", port: 53)) == nil)
        #expect(endpoints.pick(Destination(address: "10.244.1.3", port: 8080)) == nil)
        endpoints.setSlice("shop/web-abc", nil)
        #expect(endpoints.pick(service) == nil)
    }

    @Test("watch events decode into the table: a not-ready endpoint is left out, DELETED removes")
    func watchEvents() throws {
        let endpoints = ServiceEndpoints()
        func feed(_ kind: AgentWatch.Kind, _ text: String) { WatchHandler.apply(Array(text.utf8), kind: kind, to: endpoints, peers: MeshPeers(), policies: MeshPolicyTable(namespace: "", ownPod: "", following: false)) }
        feed(.services, (#"{"type":"ADDED","object":{"metadata":{"name":"web","namespace":"default"},"spec":{"clusterIP":"10.96.0.5","ports":[{"port":80,"protocol":"TCP","targetPort":80}]}}}"#))
        feed(.endpointSlices, (#"""
            {"type":"ADDED","object":{"metadata":{"name":"web-1","namespace":"default","labels":{"kubernetes.io/service-name":"web"}},
             "addressType":"IPv4","ports":[{"name":"","port":80,"protocol":"TCP"}],
             "endpoints":[{"addresses":["10.244.1.2"],"conditions":{"ready":true}},{"addresses":["10.244.1.3"],"conditions":{"ready":false}}]}}
            """#.split(separator: "\n").joined()))
        #expect(endpoints.table == [Destination(address: "10.96.0.5", port: 80): [Destination(address: "10.244.1.2", port: 80)]])
        feed(.services, (#"{"type":"DELETED","object":{"metadata":{"name":"web","namespace":"default"},"spec":{"clusterIP":"10.96.0.5"}}}"#))
        #expect(endpoints.table.isEmpty)
    }

    @Test("pod events make the meshed peers' table: identity from the service account, excluded ports, DISABLE and unmeshed left out")
    func peersFromPods() {
        let peers = MeshPeers()
        func feed(_ text: String) { WatchHandler.apply(Array(text.utf8), kind: .pods, to: ServiceEndpoints(), peers: peers, policies: MeshPolicyTable(namespace: "", ownPod: "", following: false)) }
        let sidecar = #"{"name":"podlab-proxy","image":"podlab/proxy"}"#
        feed(#"{"type":"ADDED","object":{"metadata":{"name":"cart","namespace":"shop","annotations":{"podlab.dev/exclude-ports":"5432, 6379"}},"#
             + #""spec":{"serviceAccountName":"cart","containers":[{"name":"web","image":"nginx"},"# + sidecar + #"]},"status":{"podIP":"10.244.1.5"}}}"#)
        feed(#"{"type":"ADDED","object":{"metadata":{"name":"web","namespace":"shop"},"spec":{"containers":["# + sidecar + #"]},"status":{"podIP":"10.244.1.6"}}}"#)
        feed(#"{"type":"ADDED","object":{"metadata":{"name":"old","namespace":"shop","annotations":{"podlab.dev/mtls":"DISABLE"}},"spec":{"containers":["#
             + sidecar + #"]},"status":{"podIP":"10.244.1.7"}}}"#)
        feed(#"{"type":"ADDED","object":{"metadata":{"name":"plain","namespace":"shop"},"spec":{"containers":[{"name":"web","image":"nginx"}]},"status":{"podIP":"10.244.1.8"}}}"#)
        #expect(peers.mtlsIdentity(for: Destination(address: "10.244.1.5", port: 8080)) == "spiffe://cluster.local/ns/shop/sa/cart")
        #expect(peers.mtlsIdentity(for: Destination(address: "10.244.1.5", port: 5432)) == nil)
        #expect(peers.mtlsIdentity(for: Destination(address: "10.244.1.5", port: 15090)) == nil)
        #expect(peers.mtlsIdentity(for: Destination(address: "10.244.1.6", port: 80)) == "spiffe://cluster.local/ns/shop/sa/default")
        #expect(peers.mtlsIdentity(for: Destination(address: "10.244.1.7", port: 80)) == nil)
        #expect(peers.mtlsIdentity(for: Destination(address: "10.244.1.8", port: 80)) == nil)
        feed(#"{"type":"DELETED","object":{"metadata":{"name":"cart","namespace":"shop"},"spec":{"containers":["# + sidecar + #"]},"status":{"podIP":"10.244.1.5"}}}"#)
        #expect(peers.mtlsIdentity(for: Destination(address: "10.244.1.5", port: 8080)) == nil)
    }

    @Test("a request line makes the connection HTTP; anything else is passed through", arguments: [
        ("GET / HTTP/1.1\r\n", true), ("POST /x HTTP/1.1\r\n", true), ("HEAD / HTTP/1.0\r\n", true),
        ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", false), ("\u{16}\u{03}\u{01}\u{02}\u{00}", false), ("GETX / HTTP/1.1", false), ("SSH-2.0-x\r\n", false),
    ])
    func sniff(text: String, http: Bool) {
        #expect(HTTPSniff.isRequestStart(ByteBuffer(string: text)) == http)
    }

    @Test("request ids are version-4 UUIDs, all different")
    func requestIDs() {
        let ids = (0..<1000).map { _ in RequestID.make() }
        #expect(Set(ids).count == 1000)
        for id in ids {
            let characters = Array(id)
            #expect(id.count == 36, "\(id)")
            #expect([8, 13, 18, 23].allSatisfy { characters[$0] == "-" }, "\(id)")
            #expect(characters.enumerated().allSatisfy { [8, 13, 18, 23].contains($0.offset) || "0123456789abcdef".contains($0.element) }, "\(id)")
            #expect(characters[14] == "4", "version: \(id)")
            #expect("89ab".contains(characters[19]), "variant: \(id)")
        }
        // Every other hex digit takes all 16 values over 1 000 ids (random, not fixed).
        for position in [0, 7, 9, 15, 20, 24, 35] {
            #expect(Set(ids.map { Array($0)[position] }).count == 16, "position \(position)")
        }
    }

    @Test("xoshiro256** gives its reference sequence for the seed 1, 2, 3, 4")
    func xoshiroReference() {
        var generator = Xoshiro256StarStar(seed: (1, 2, 3, 4))
        #expect((0..<4).map { _ in generator.next() } == [11520, 0, 1_509_978_240, 1_215_971_899_390_074_240])
        var zero = Xoshiro256StarStar(seed: (0, 0, 0, 0))
        #expect((0..<4).map { _ in zero.next() }.contains { $0 != 0 })
    }

    @Test("the metrics text, golden")
    func exposition() {
        let metrics = ProxyMetrics()
        metrics.connectionOpened(.outbound)
        metrics.connectionOpened(.outbound)
        metrics.connectionClosed(.outbound)
        metrics.requestFinished(.init(direction: .outbound, source: "default/client", destination: "10.96.0.5:80", code: 200), seconds: 0.003)
        metrics.requestFinished(.init(direction: .outbound, source: "default/client", destination: "10.96.0.5:80", code: 200), seconds: 0.0004)
        metrics.requestFinished(.init(direction: .outbound, source: "default/\"odd\"", destination: "10.96.0.5:80", code: 503), seconds: 20)
        metrics.denied(http: true)
        metrics.denied(http: true)
        metrics.denied(http: false)
        metrics.retried(route: "shop/web")
        metrics.retried(route: "shop/web")
        metrics.retryOverflow()
        metrics.faultInjected(route: "shop/web", kind: "delay")
        metrics.faultInjected(route: "shop/web", kind: "abort")
        metrics.faultInjected(route: "shop/web", kind: "abort")
        metrics.routeRequestFinished(.init(service: "shop/web", route: "shop/web", rule: "0"), code: 200, seconds: 0.003)
        metrics.routeRequestFinished(.init(service: "10.244.1.9:8080"), code: 503, seconds: 0.0004)
        let text = metrics.exposition()
        #expect(text == """
            # HELP podlab_proxy_requests_total HTTP requests forwarded, by direction, source, destination and status code.
            # TYPE podlab_proxy_requests_total counter
            podlab_proxy_requests_total{direction="outbound",source="default/\\"odd\\"",destination="10.96.0.5:80",code="503"} 1
            podlab_proxy_requests_total{direction="outbound",source="default/client",destination="10.96.0.5:80",code="200"} 2
            # HELP podlab_proxy_request_duration_seconds Time from a request's first byte to its response's last, by direction.
            # TYPE podlab_proxy_request_duration_seconds histogram
            podlab_proxy_request_duration_seconds_bucket{direction="outbound",le="0.0005"} 1
            podlab_proxy_request_duration_seconds_bucket{direction="outbound",le="0.001"} 1
            podlab_proxy_request_duration_seconds_bucket{direction="outbound",le="0.0025"} 1
            podlab_proxy_request_duration_seconds_bucket{direction="outbound",le="0.005"} 2
            podlab_proxy_request_duration_seconds_bucket{direction="outbound",le="0.01"} 2
            podlab_proxy_request_duration_seconds_bucket{direction="outbound",le="0.025"} 2
            podlab_proxy_request_duration_seconds_bucket{direction="outbound",le="0.05"} 2
            podlab_proxy_request_duration_seconds_bucket{direction="outbound",le="0.1"} 2
            podlab_proxy_request_duration_seconds_bucket{direction="outbound",le="0.25"} 2
            podlab_proxy_request_duration_seconds_bucket{direction="outbound",le="0.5"} 2
            podlab_proxy_request_duration_seconds_bucket{direction="outbound",le="1"} 2
            podlab_proxy_request_duration_seconds_bucket{direction="outbound",le="2.5"} 2
            podlab_proxy_request_duration_seconds_bucket{direction="outbound",le="5"} 2
            podlab_proxy_request_duration_seconds_bucket{direction="outbound",le="10"} 2
            podlab_proxy_request_duration_seconds_bucket{direction="outbound",le="+Inf"} 3
            podlab_proxy_request_duration_seconds_sum{direction="outbound"} 20.0034
            podlab_proxy_request_duration_seconds_count{direction="outbound"} 3
            # HELP podlab_proxy_connections_total TCP connections accepted, by direction.
            # TYPE podlab_proxy_connections_total counter
            podlab_proxy_connections_total{direction="inbound"} 0
            podlab_proxy_connections_total{direction="outbound"} 2
            # HELP podlab_proxy_active_connections TCP connections open now, by direction.
            # TYPE podlab_proxy_active_connections gauge
            podlab_proxy_active_connections{direction="inbound"} 0
            podlab_proxy_active_connections{direction="outbound"} 1
            # HELP podlab_proxy_tls_handshakes_total mTLS handshakes with other sidecars, by direction and result.
            # TYPE podlab_proxy_tls_handshakes_total counter
            podlab_proxy_tls_handshakes_total{direction="inbound",result="failed"} 0
            podlab_proxy_tls_handshakes_total{direction="inbound",result="succeeded"} 0
            podlab_proxy_tls_handshakes_total{direction="outbound",result="failed"} 0
            podlab_proxy_tls_handshakes_total{direction="outbound",result="succeeded"} 0
            # HELP podlab_proxy_plaintext_refused_total Plain-text connections closed because the pod's mTLS mode is STRICT.
            # TYPE podlab_proxy_plaintext_refused_total counter
            podlab_proxy_plaintext_refused_total 0
            # HELP podlab_proxy_requests_denied_total Inbound HTTP requests (answered 403) and TCP connections (reset) no MeshPolicy rule allowed.
            # TYPE podlab_proxy_requests_denied_total counter
            podlab_proxy_requests_denied_total{protocol="http"} 2
            podlab_proxy_requests_denied_total{protocol="tcp"} 1
            # HELP podlab_proxy_retries_total Outbound HTTP requests sent again after a failed try, by Route.
            # TYPE podlab_proxy_retries_total counter
            podlab_proxy_retries_total{route="shop/web"} 2
            # HELP podlab_proxy_retry_overflow_total Retries not made because the retry budget (20 % of the requests in flight, at least 3) was spent.
            # TYPE podlab_proxy_retry_overflow_total counter
            podlab_proxy_retry_overflow_total 1
            # HELP podlab_proxy_retry_body_too_large_total Outbound HTTP requests not retried because their body passed the 64 KiB retry buffer.
            # TYPE podlab_proxy_retry_body_too_large_total counter
            podlab_proxy_retry_body_too_large_total 0
            # HELP podlab_proxy_faults_injected_total Delays and aborts a Route injected, by Route and kind.
            # TYPE podlab_proxy_faults_injected_total counter
            podlab_proxy_faults_injected_total{route="shop/web",fault="abort"} 2
            podlab_proxy_faults_injected_total{route="shop/web",fault="delay"} 1
            # HELP podlab_proxy_route_requests_total Outbound HTTP requests by Service, Route, rule and status code.
            # TYPE podlab_proxy_route_requests_total counter
            podlab_proxy_route_requests_total{service="10.244.1.9:8080",route="-",rule="-",code="503"} 1
            podlab_proxy_route_requests_total{service="shop/web",route="shop/web",rule="0",code="200"} 1
            # HELP podlab_proxy_route_request_duration_seconds Outbound HTTP requests' time from the first byte to the response's last, by Service, Route and rule.
            # TYPE podlab_proxy_route_request_duration_seconds histogram
            podlab_proxy_route_request_duration_seconds_bucket{service="10.244.1.9:8080",route="-",rule="-",le="0.0005"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="10.244.1.9:8080",route="-",rule="-",le="0.001"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="10.244.1.9:8080",route="-",rule="-",le="0.0025"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="10.244.1.9:8080",route="-",rule="-",le="0.005"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="10.244.1.9:8080",route="-",rule="-",le="0.01"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="10.244.1.9:8080",route="-",rule="-",le="0.025"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="10.244.1.9:8080",route="-",rule="-",le="0.05"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="10.244.1.9:8080",route="-",rule="-",le="0.1"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="10.244.1.9:8080",route="-",rule="-",le="0.25"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="10.244.1.9:8080",route="-",rule="-",le="0.5"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="10.244.1.9:8080",route="-",rule="-",le="1"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="10.244.1.9:8080",route="-",rule="-",le="2.5"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="10.244.1.9:8080",route="-",rule="-",le="5"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="10.244.1.9:8080",route="-",rule="-",le="10"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="10.244.1.9:8080",route="-",rule="-",le="+Inf"} 1
            podlab_proxy_route_request_duration_seconds_sum{service="10.244.1.9:8080",route="-",rule="-"} 0.0004
            podlab_proxy_route_request_duration_seconds_count{service="10.244.1.9:8080",route="-",rule="-"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="shop/web",route="shop/web",rule="0",le="0.0005"} 0
            podlab_proxy_route_request_duration_seconds_bucket{service="shop/web",route="shop/web",rule="0",le="0.001"} 0
            podlab_proxy_route_request_duration_seconds_bucket{service="shop/web",route="shop/web",rule="0",le="0.0025"} 0
            podlab_proxy_route_request_duration_seconds_bucket{service="shop/web",route="shop/web",rule="0",le="0.005"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="shop/web",route="shop/web",rule="0",le="0.01"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="shop/web",route="shop/web",rule="0",le="0.025"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="shop/web",route="shop/web",rule="0",le="0.05"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="shop/web",route="shop/web",rule="0",le="0.1"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="shop/web",route="shop/web",rule="0",le="0.25"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="shop/web",route="shop/web",rule="0",le="0.5"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="shop/web",route="shop/web",rule="0",le="1"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="shop/web",route="shop/web",rule="0",le="2.5"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="shop/web",route="shop/web",rule="0",le="5"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="shop/web",route="shop/web",rule="0",le="10"} 1
            podlab_proxy_route_request_duration_seconds_bucket{service="shop/web",route="shop/web",rule="0",le="+Inf"} 1
            podlab_proxy_route_request_duration_seconds_sum{service="shop/web",route="shop/web",rule="0"} 0.003
            podlab_proxy_route_request_duration_seconds_count{service="shop/web",route="shop/web",rule="0"} 1

            """)
    }

    @Test("connections closed so far: both directions, the open ones not counted")
    func connectionsClosed() {
        let metrics = ProxyMetrics()
        #expect(metrics.connectionsClosed == 0)
        metrics.connectionOpened(.outbound)
        metrics.connectionOpened(.outbound)
        metrics.connectionOpened(.inbound)
        #expect(metrics.connectionsClosed == 0)
        metrics.connectionClosed(.outbound)
        metrics.connectionClosed(.inbound)
        #expect(metrics.connectionsClosed == 2)
    }

    @Test("the heap is trimmed once closings have stopped for a look, once per burst")
    func heapTrim() {
        var trim = HeapTrim()
        // Nothing closed yet: nothing to give back. Closings go on (5, 9): wait for them to stop.
        // None since the last look (9 again): trim, once. Then the next burst (10).
        let closed: [UInt64] = [0, 5, 9, 9, 9, 9, 10, 10, 10]
        let due = closed.map { trim.due(closed: $0) }
        #expect(due == [false, false, false, true, false, false, false, true, false])
    }
}
