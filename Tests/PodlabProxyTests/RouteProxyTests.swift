import Foundation
import MeshRouting
import NIOCore
import NIOHTTP1
import NIOPosix
@testable import PodlabProxy
import Synchronization
import Testing

/// Routes and least-request through a real outbound sidecar on loopback: the application's
/// requests to a Service's ClusterIP (nothing redirects on loopback, so the sidecar is told the
/// original destination) go to backend HTTP servers on 127.0.0.1, one port per endpoint.
@Suite("podlab-proxy: Routes (splits, faults, timeouts, retries) and least-request on the outbound side")
struct RouteProxyTests {
    static let web = Destination(address: "10.96.0.10", port: 80)

    /// Backend servers, the sidecar, and its access log; everything closed at the end.
    final class Lab: @unchecked Sendable {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var channels: [any Channel] = []
        var servers: [ProxyServer] = []
        let log = Mutex<[String]>([])
        let endpoints = ServiceEndpoints()
        let routes = RouteTable()

        /// An HTTP server answering its `name`; `behaviour(n)` for its n-th request (from 0) gives
        /// the status and how long to wait first.
        func backend(_ name: String, requests: Counter, behaviour: @escaping @Sendable (Int) -> (status: Int, delay: TimeAmount) = { _ in (200, .zero) })
            async throws -> Int {
            let channel = try await ServerBootstrap(group: group)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        try channel.pipeline.syncOperations.addHandler(Backend(name: name, requests: requests, behaviour: behaviour))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
            channels.append(channel)
            return try #require(channel.localAddress?.port)
        }

        /// A Service `shop/NAME` at `clusterIP`:80 (port `http`) whose endpoints are 127.0.0.1 on `ports`.
        func service(_ name: String, clusterIP: String, ports: [Int], loadBalancing: LoadBalancing = .roundRobin) {
            endpoints.setService("shop/\(name)", .init(clusterIP: clusterIP, ports: [.init(name: "http", port: 80)], loadBalancing: loadBalancing))
            for (index, port) in ports.enumerated() {
                endpoints.setSlice("shop/\(name)-\(index)", .init(service: name, ports: ["http": port], readyAddresses: ["127.0.0.1"]))
            }
        }

        /// The sidecar of a pod `shop/client` whose application connects to `web`; its outbound port.
        func startProxy(backoff: RetryBackoff = RetryBackoff()) async throws -> (port: Int, context: ProxyContext) {
            var configuration = ProxyConfiguration()
            configuration.outboundPort = 0
            configuration.inboundPort = 0
            configuration.metricsPort = 0
            configuration.readinessPort = 0
            configuration.podName = "client"
            configuration.podNamespace = "shop"
            let context = ProxyContext(configuration: configuration, endpoints: endpoints, routes: routes, retryBackoff: backoff,
                                       originalDestination: { channel in
                                           channel.eventLoop.makeCompletedFuture {
                                               try SocketAddress(ipAddress: RouteProxyTests.web.address, port: RouteProxyTests.web.port)
                                           }
                                       },
                                       accessLogSink: { [self] line in self.log.withLock { $0.append(line) } })
            let server = ProxyServer(context: context, threads: 1)
            servers.append(server)
            let bound = try await server.start()
            channels += bound
            return (try #require(bound[0].localAddress?.port), context)
        }

        var accessLog: [String] { log.withLock { $0 } }

        /// The access log once `condition` holds of it (a request's line is written just after
        /// its answer, so a client can be faster than it), or after 30 s as it is.
        func accessLog(until condition: ([String]) -> Bool) async throws -> [String] {
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline, !condition(accessLog) { try await Task.sleep(for: .milliseconds(5)) }
            return accessLog
        }

        func close() async {
            for channel in channels { try? await channel.close() }
            for server in servers { try? await server.shutdown() }
            try? await group.shutdownGracefully()
        }

        static func with(_ body: (Lab) async throws -> Void) async throws {
            let lab = Lab()
            do { try await body(lab) } catch {
                await lab.close()
                throw error
            }
            await lab.close()
        }
    }

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
        func next() -> Int { value.wrappingAdd(1, ordering: .relaxed).oldValue }
        var count: Int { value.load(ordering: .relaxed) }
    }

    final class Backend: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let name: String
        let requests: Counter
        let behaviour: @Sendable (Int) -> (status: Int, delay: TimeAmount)

        init(name: String, requests: Counter, behaviour: @escaping @Sendable (Int) -> (status: Int, delay: TimeAmount)) {
            self.name = name
            self.requests = requests
            self.behaviour = behaviour
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            let (status, delay) = behaviour(requests.next())
            let body = context.channel.allocator.buffer(string: name)
            let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: ["content-length": "\(body.readableBytes)"])
            let respond = {
                context.write(self.wrapOutboundOut(.head(head)), promise: nil)
                context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
                context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            }
            if delay == .zero { respond() } else { context.eventLoop.assumeIsolated().scheduleTask(in: delay) { respond() } }
        }
    }

    /// A server that answers `503` to the first try of each request (by `x-request-id`, which a
    /// retry keeps) and `200` to the next, and records the size of each try's body.
    final class FirstTryFails: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let seen = Mutex<(ids: Set<String>, bodies: [Int])>(([], []))
        private var id = ""
        private var size = 0

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case let .head(head):
                id = head.headers.first(name: "x-request-id") ?? ""
                size = 0
            case let .body(bytes):
                size += bytes.readableBytes
            case .end:
                let first = seen.withLock { seen in
                    seen.bodies.append(size)
                    return seen.ids.insert(id).inserted
                }
                let body = context.channel.allocator.buffer(string: "\(size)")
                let head = HTTPResponseHead(version: .http1_1, status: first ? .serviceUnavailable : .ok,
                                            headers: ["content-length": "\(body.readableBytes)"])
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }

    /// An HTTP/1.1 client on one kept-alive connection, one request at a time.
    final class Client: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart
        struct Response: Sendable {
            var status: Int
            var headers: HTTPHeaders
            var body: String
        }

        var channel: (any Channel)?
        private var pending: EventLoopPromise<Response>?
        private var response = Response(status: 0, headers: [:], body: "")

        static func open(_ lab: Lab, port: Int) async throws -> Client {
            let client = Client()
            client.channel = try await ClientBootstrap(group: lab.group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(client)
                    }
                }
                .connect(host: "127.0.0.1", port: port).get()
            return client
        }

        func get(_ path: String = "/", headers: [(String, String)] = []) async throws -> Response {
            try await send(.GET, path, headers: headers)
        }

        /// A request with `body` (in 16 KiB parts), its length announced.
        func send(_ method: HTTPMethod, _ path: String = "/", headers: [(String, String)] = [], body: [UInt8]? = nil) async throws -> Response {
            let channel = try #require(channel)
            let promise = channel.eventLoop.makePromise(of: Response.self)
            try await channel.eventLoop.submit {
                guard channel.isActive else { return promise.fail(ChannelError.ioOnClosedChannel) }
                self.pending = promise
                self.response = Response(status: 0, headers: [:], body: "")
                var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
                head.headers.add(name: "host", value: "web")
                if let body { head.headers.add(name: "content-length", value: "\(body.count)") }
                for (name, value) in headers { head.headers.add(name: name, value: value) }
                channel.write(HTTPClientRequestPart.head(head), promise: nil)
                var offset = 0
                while let body, offset < body.count {
                    let end = min(body.count, offset + 16_384)
                    channel.write(HTTPClientRequestPart.body(.byteBuffer(channel.allocator.buffer(bytes: body[offset..<end]))), promise: nil)
                    offset = end
                }
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            }.get()
            return try await promise.futureResult.get()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case let .head(head):
                response.status = Int(head.status.code)
                response.headers = head.headers
            case let .body(bytes):
                response.body += String(buffer: bytes)
            case .end:
                let promise = pending
                pending = nil
                promise?.succeed(response)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            pending?.fail(ChannelError.ioOnClosedChannel)
            pending = nil
            context.fireChannelInactive()
        }

        func close() async { try? await channel?.close() }
    }

    /// `web` (the Route's Service) and `web-v1` on one endpoint, `web-v2` on another.
    static func canary(_ lab: Lab, v1: Counter, v2: Counter) async throws {
        let one = try await lab.backend("v1", requests: v1)
        let two = try await lab.backend("v2", requests: v2)
        lab.service("web", clusterIP: Self.web.address, ports: [one])
        lab.service("web-v1", clusterIP: "10.96.0.11", ports: [one])
        lab.service("web-v2", clusterIP: "10.96.0.12", ports: [two])
    }

    @Test("a 90/10 split over 1 000 requests lands within ±5 points, on one kept-alive connection")
    func split() async throws {
        try await Lab.with { lab in
            let v1 = Counter(), v2 = Counter()
            try await Self.canary(lab, v1: v1, v2: v2)
            lab.routes.replaceAll([TrafficRoute(namespace: "shop", name: "canary", service: "web", rules: [
                .init(backends: [.init(service: "web-v1", weight: 90), .init(service: "web-v2", weight: 10)]),
            ])])
            let proxy = try await lab.startProxy()
            let client = try await Client.open(lab, port: proxy.port)
            var bodies: [String: Int] = [:]
            for _ in 0..<1000 {
                let response = try await client.get("/")
                #expect(response.status == 200)
                bodies[response.body, default: 0] += 1
            }
            await client.close()
            #expect((850...950).contains(bodies["v1"] ?? 0), "\(bodies)")
            #expect((bodies["v1"] ?? 0) + (bodies["v2"] ?? 0) == 1000)
            #expect(v1.count + v2.count == 1000)
            let line = try #require(lab.accessLog.first)
            #expect(line.contains("destination=10.96.0.10:80") && line.contains("route=shop/canary rule=0") && line.contains("tries=1 flags=-"), "\(line)")
        }
    }

    @Test("the first matching rule applies: a header sends a request to the canary, a path prefix elsewhere, the rest to the Service")
    func matches() async throws {
        try await Lab.with { lab in
            let v1 = Counter(), v2 = Counter()
            try await Self.canary(lab, v1: v1, v2: v2)
            lab.routes.replaceAll([TrafficRoute(namespace: "shop", name: "by-header", service: "web", rules: [
                .init(match: .init(headers: ["x-canary": "1"]), backends: [.init(service: "web-v2", weight: 100)]),
                .init(match: .init(pathPrefix: "/v2"), backends: [.init(service: "web-v2", weight: 100)]),
            ])])
            let proxy = try await lab.startProxy()
            let client = try await Client.open(lab, port: proxy.port)
            #expect(try await client.get("/", headers: [("X-Canary", "1")]).body == "v2")
            #expect(try await client.get("/v2/items").body == "v2")
            #expect(try await client.get("/v2x").body == "v1")
            #expect(try await client.get("/", headers: [("x-canary", "0")]).body == "v1")
            await client.close()
        }
    }

    @Test("an abort for 20 % of the requests is answered by the sidecar, the application never seeing them")
    func abort() async throws {
        try await Lab.with { lab in
            let v1 = Counter(), v2 = Counter()
            try await Self.canary(lab, v1: v1, v2: v2)
            lab.routes.replaceAll([TrafficRoute(namespace: "shop", name: "faulty", service: "web", rules: [
                .init(fault: .init(abort: .init(status: 418, percent: 20))),
            ])])
            let proxy = try await lab.startProxy()
            let client = try await Client.open(lab, port: proxy.port)
            var aborted = 0
            for _ in 0..<500 {
                let response = try await client.get("/")
                if response.status == 418 {
                    aborted += 1
                    #expect(response.body == "fault filter abort")
                } else {
                    #expect(response.status == 200 && response.body == "v1")
                }
            }
            await client.close()
            #expect((70...130).contains(aborted), "\(aborted) of 500 aborted")
            #expect(v1.count == 500 - aborted)
            #expect(proxy.context.metrics.exposition().contains("podlab_proxy_faults_injected_total{route=\"shop/faulty\",fault=\"abort\"} \(aborted)"))
            let log = try await lab.accessLog { $0.count == 500 }
            #expect(log.filter { $0.contains("\" 418 ") && $0.contains("flags=FI") }.count == aborted)
        }
    }

    @Test("a delay for every request holds it at least that long, then forwards it")
    func delay() async throws {
        try await Lab.with { lab in
            let v1 = Counter(), v2 = Counter()
            try await Self.canary(lab, v1: v1, v2: v2)
            lab.routes.replaceAll([TrafficRoute(namespace: "shop", name: "slow", service: "web", rules: [
                .init(fault: .init(delay: .init(fixed: .milliseconds(300), percent: 100))),
            ])])
            let proxy = try await lab.startProxy()
            let client = try await Client.open(lab, port: proxy.port)
            let started = ContinuousClock.now
            let response = try await client.get("/")
            // A lower bound only: the delay is the sidecar's, however loaded the machine is.
            #expect(ContinuousClock.now - started >= .milliseconds(300))
            #expect(response.status == 200 && response.body == "v1" && v1.count == 1)
            await client.close()
            #expect(try await lab.accessLog { !$0.isEmpty }.last?.contains("flags=DI") == true)
        }
    }

    @Test("past the rule's timeout the sidecar answers 504 and logs why; the connection stays usable")
    func timeout() async throws {
        try await Lab.with { lab in
            let requests = Counter()
            let slow = try await lab.backend("slow", requests: requests) { n in (200, n == 0 ? .seconds(6) : .zero) }
            lab.service("web", clusterIP: Self.web.address, ports: [slow])
            lab.routes.replaceAll([TrafficRoute(namespace: "shop", name: "bounded", service: "web", rules: [.init(timeout: .seconds(2))])])
            let proxy = try await lab.startProxy()
            let client = try await Client.open(lab, port: proxy.port)
            let response = try await client.get("/")
            #expect(response.status == 504 && response.body == "upstream request timeout")
            let line = try #require(try await lab.accessLog { !$0.isEmpty }.last)
            #expect(line.contains("\" 504 ") && line.contains("flags=UT") && line.contains("reason=\"upstream request timeout: the route's 2s passed after 1 tries\""), "\(line)")
            // The next request on the same client connection is answered (by a new upstream connection).
            #expect(try await client.get("/").body == "slow")
            await client.close()
        }
    }

    @Test("retries: one of two endpoints failing (half the requests) becomes 100 % success, and the retries are counted")
    func retriesToAnotherEndpoint() async throws {
        try await Lab.with { lab in
            let good = Counter(), bad = Counter()
            let healthy = try await lab.backend("ok", requests: good)
            let failing = try await lab.backend("broken", requests: bad) { _ in (503, .zero) }
            lab.service("web", clusterIP: Self.web.address, ports: [healthy, failing])
            // Without retries about half fail.
            lab.routes.replaceAll([TrafficRoute(namespace: "shop", name: "plain", service: "web", rules: [.init()])])
            let proxy = try await lab.startProxy()
            let client = try await Client.open(lab, port: proxy.port)
            var failures = 0
            for _ in 0..<200 where try await client.get("/").status != 200 { failures += 1 }
            #expect((60...140).contains(failures), "\(failures) of 200 failed without retries")

            lab.routes.replaceAll([TrafficRoute(namespace: "shop", name: "retrying", service: "web", rules: [
                .init(retries: .init(attempts: 2, retryOn: [.serverError])),
            ])])
            failures = 0
            for _ in 0..<1000 where try await client.get("/").status != 200 { failures += 1 }
            await client.close()
            #expect(failures == 0)
            let metrics = proxy.context.metrics.exposition()
            let retries = metrics.split(separator: "\n").first { $0.hasPrefix("podlab_proxy_retries_total{route=\"shop/retrying\"}") }
            let count = retries.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
            #expect((300...700).contains(count), "\(retries ?? "no retries counted")")
            #expect(lab.accessLog.contains { $0.contains("route=shop/retrying") && $0.contains("tries=2") })
        }
    }

    @Test("retries: a single endpoint failing half of its requests at random becomes ≥ 99 % success")
    func retriesRandomFailures() async throws {
        try await Lab.with { lab in
            let requests = Counter()
            let flaky = try await lab.backend("flaky", requests: requests) { _ in (Bool.random() ? 500 : 200, .zero) }
            lab.service("web", clusterIP: Self.web.address, ports: [flaky])
            lab.routes.replaceAll([TrafficRoute(namespace: "shop", name: "retrying", service: "web", rules: [
                .init(retries: .init(attempts: 9, retryOn: [.serverError])),
            ])])
            // The back-off is another test's claim: a short one here keeps a thousand requests,
            // two thousand tries, within seconds (Envoy's 25 ms base took a minute or more on a
            // loaded machine).
            let proxy = try await lab.startProxy(backoff: RetryBackoff(base: .milliseconds(1), maximum: .milliseconds(10)))
            let client = try await Client.open(lab, port: proxy.port)
            var successes = 0
            for _ in 0..<1000 where try await client.get("/").status == 200 { successes += 1 }
            await client.close()
            #expect(successes >= 990, "\(successes) of 1000")
            #expect(requests.count > 1500, "the endpoint saw \(requests.count) tries")
        }
    }

    @Test("retries: a refused connection is retried on another endpoint (connect-failure); without a rule it answers 503 UF")
    func connectFailure() async throws {
        try await Lab.with { lab in
            let good = Counter()
            let healthy = try await lab.backend("ok", requests: good)
            // A port nothing listens on: bind one and close it.
            let closed = try await ServerBootstrap(group: lab.group).bind(host: "127.0.0.1", port: 0).get()
            let deadPort = try #require(closed.localAddress?.port)
            try await closed.close()
            lab.service("web", clusterIP: Self.web.address, ports: [healthy, deadPort])
            lab.routes.replaceAll([TrafficRoute(namespace: "shop", name: "r", service: "web", rules: [
                .init(retries: .init(attempts: 1, retryOn: [.connectFailure])),
            ])])
            let proxy = try await lab.startProxy()
            let client = try await Client.open(lab, port: proxy.port)
            // The connection the sidecar makes before the first request may be the refused one:
            // the requests are routed each on its own all the same.
            for _ in 0..<20 { #expect(try await client.get("/").status == 200) }
            for _ in 0..<10 {
                let fresh = try await Client.open(lab, port: proxy.port)
                #expect(try await fresh.get("/").status == 200)
                await fresh.close()
            }
            lab.routes.replaceAll([TrafficRoute(namespace: "shop", name: "r", service: "web", rules: [.init()])])
            var unreachable = 0
            for _ in 0..<20 {
                let response = try await client.get("/")
                if response.status == 503 {
                    unreachable += 1
                    #expect(response.body.hasPrefix("upstream connect error"))
                }
            }
            await client.close()
            #expect(unreachable > 0)
            #expect(try await lab.accessLog { $0.count == 50 }.contains { $0.contains("\" 503 ") && $0.contains("flags=UF") })
        }
    }

    @Test("retries with a body: up to 64 KiB kept and sent whole again; a larger one not retried and counted; POST never")
    func retriesWithBody() async throws {
        try await Lab.with { lab in
            let backend = FirstTryFails()
            let channel = try await ServerBootstrap(group: lab.group)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        try channel.pipeline.syncOperations.addHandler(backend)
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
            lab.channels.append(channel)
            lab.service("web", clusterIP: Self.web.address, ports: [try #require(channel.localAddress?.port)])
            lab.routes.replaceAll([TrafficRoute(namespace: "shop", name: "retrying", service: "web", rules: [
                .init(retries: .init(attempts: 2, retryOn: [.serverError])),
            ])])
            let proxy = try await lab.startProxy()
            let client = try await Client.open(lab, port: proxy.port)

            // 64 KiB exactly: the first try fails, the retry carries the whole body again.
            let kept = try await client.send(.PUT, "/kept", body: [UInt8](repeating: 0x61, count: 65_536))
            #expect(kept.status == 200 && kept.body == "65536")
            #expect(backend.seen.withLock { $0.bodies } == [65_536, 65_536])

            // One byte more: streamed to the first try, not kept, so not retried; counted.
            let large = try await client.send(.PUT, "/large", body: [UInt8](repeating: 0x62, count: 65_537))
            #expect(large.status == 503)
            #expect(backend.seen.withLock { $0.bodies } == [65_536, 65_536, 65_537])
            let metrics = proxy.context.metrics.exposition()
            #expect(metrics.contains("podlab_proxy_retry_body_too_large_total 1\n"), "\(metrics)")
            let log = try await lab.accessLog { $0.count == 2 }
            #expect(log.last?.contains("\"PUT /large\" 503 ") == true && log.last?.contains("tries=1") == true
                && log.last?.contains("reason=\"not retried: the request's body passed the 64 KiB retry buffer\"") == true, "\(log)")

            // Not idempotent: never retried, whatever its size; not counted as too large.
            let post = try await client.send(.POST, "/post", body: Array("small".utf8))
            #expect(post.status == 503)
            #expect(backend.seen.withLock { $0.bodies }.count == 4)
            #expect(proxy.context.metrics.exposition().contains("podlab_proxy_retry_body_too_large_total 1\n"))
            await client.close()
        }
    }

    @Test("retries wait the back-off first: with a 100 ms base ten single retries take at least 150 ms")
    func retryBackoff() async throws {
        try await Lab.with { lab in
            let requests = Counter()
            // Every other try fails: each request is answered on its second try.
            let flaky = try await lab.backend("flaky", requests: requests) { n in (n % 2 == 0 ? 503 : 200, .zero) }
            lab.service("web", clusterIP: Self.web.address, ports: [flaky])
            lab.routes.replaceAll([TrafficRoute(namespace: "shop", name: "retrying", service: "web", rules: [
                .init(retries: .init(attempts: 1, retryOn: [.serverError])),
            ])])
            let proxy = try await lab.startProxy(backoff: RetryBackoff(base: .milliseconds(100), maximum: .milliseconds(250)))
            let client = try await Client.open(lab, port: proxy.port)
            let started = ContinuousClock.now
            for _ in 0..<10 { #expect(try await client.get("/").status == 200) }
            let elapsed = ContinuousClock.now - started
            await client.close()
            // Ten waits drawn uniformly below 100 ms: under 150 ms in all has a chance of 1 in 60 000.
            #expect(elapsed >= .milliseconds(150), "\(elapsed)")
            #expect(requests.count == 20)
        }
    }

    @Test("least-request: of two endpoints the slow one gets far fewer of 200 concurrent requests (round robin: half)")
    func leastRequest() async throws {
        try await Lab.with { lab in
            let fast = Counter(), slow = Counter()
            // Slow enough that a loaded machine's stalls on the fast one do not hide the difference.
            let quick = try await lab.backend("fast", requests: fast)
            let sluggish = try await lab.backend("slow", requests: slow) { _ in (200, .seconds(1)) }
            lab.service("web", clusterIP: Self.web.address, ports: [quick, sluggish], loadBalancing: .leastRequest)
            let proxy = try await lab.startProxy()
            // Eight application connections, 25 requests each, at once.
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for _ in 0..<8 {
                    tasks.addTask {
                        let client = try await Client.open(lab, port: proxy.port)
                        for _ in 0..<25 { #expect(try await client.get("/").status == 200) }
                        await client.close()
                    }
                }
                try await tasks.waitForAll()
            }
            #expect(fast.count + slow.count == 200)
            #expect(slow.count < 40, "slow \(slow.count), fast \(fast.count)")
            // Every request ended: nothing is counted in flight any more.
            for port in [quick, sluggish] { #expect(lab.endpoints.requestsInFlight(Destination(address: "127.0.0.1", port: port)) == 0) }
        }
    }

    @Test("the Route watch: events fill the table, a reconnect refills it at the bookmark")
    func watch() {
        let routes = RouteTable()
        func apply(_ line: String) {
            WatchHandler.apply(Array(line.utf8), kind: .routes, to: ServiceEndpoints(), peers: MeshPeers(),
                               policies: MeshPolicyTable(namespace: "", ownPod: "", following: false), routes: routes)
        }
        routes.beginRefill()
        apply(#"{"type":"ADDED","object":{"apiVersion":"podlab.dev/v1","kind":"Route","metadata":{"name":"canary","namespace":"shop"},"spec":{"service":"web","rules":[{"match":{"pathPrefix":"/api","headers":{"X-Canary":"1"}},"backends":[{"service":"web-v1","weight":90},{"service":"web-v2","weight":10}],"timeout":"2s","retries":{"attempts":3,"perTryTimeout":"500ms","retryOn":["5xx","reset"]},"fault":{"delay":{"fixed":"100ms","percent":10},"abort":{"status":503,"percent":5}}}]}}}"#)
        #expect(routes.route(forService: "shop/web") == nil)
        apply(#"{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9","annotations":{"k8s.io/initial-events-end":"true"}}}}"#)
        let route = routes.route(forService: "shop/web")
        #expect(route?.rules.first == TrafficRoute.Rule(
            match: .init(pathPrefix: "/api", headers: ["x-canary": "1"]),
            backends: [.init(service: "web-v1", weight: 90), .init(service: "web-v2", weight: 10)],
            timeout: .seconds(2), retries: .init(attempts: 3, perTryTimeout: .milliseconds(500), retryOn: [.serverError, .reset]),
            fault: .init(delay: .init(fixed: .milliseconds(100), percent: 10), abort: .init(status: 503, percent: 5))))
        // A reconnect keeps the old route until the new list ends; then it is gone.
        routes.beginRefill()
        #expect(routes.route(forService: "shop/web") != nil)
        apply(#"{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"12","annotations":{"k8s.io/initial-events-end":"true"}}}}"#)
        #expect(routes.route(forService: "shop/web") == nil)
    }
}
