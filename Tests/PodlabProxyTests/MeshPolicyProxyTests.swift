import Foundation
import MeshAuthorization
import NIOCore
import NIOPosix
import NIOSSL
@testable import PodlabAgent
import PodNet
@testable import PodlabProxy
import Synchronization
import Testing

/// MeshPolicy enforced by a real inbound sidecar on loopback (the mTLS suite's lab): HTTP
/// requests refused with 403 before the application sees them, other TCP reset, and the
/// policies and labels as the sidecar's watch fills them.
@Suite("podlab-proxy: MeshPolicy on the inbound side")
struct MeshPolicyProxyTests {
    typealias Lab = MeshTLSProxyTests.Lab
    typealias Connection = MeshTLSProxyTests.Connection
    static let server = MeshIdentity(namespace: "shop", serviceAccount: "cart")
    static let frontend = MeshIdentity(namespace: "shop", serviceAccount: "frontend")
    static let stranger = MeshIdentity(namespace: "elsewhere", serviceAccount: "default")

    /// Namespace `shop` only, to `/api/*` with GET.
    static func shopOnly(port: Int) -> MeshAuthorizationPolicy {
        MeshAuthorizationPolicy(namespace: "shop", name: "shop-only", selector: ["app": "cart"], rules: [
            .init(from: [.init(namespaces: ["shop"])], to: [.init(ports: [port], paths: ["/api/*"], methods: ["GET"])]),
        ])
    }

    @Test("HTTP: a request no rule allows is answered 403 by the sidecar, on a connection kept alive; removing the policy lets it through")
    func http() async throws {
        try await Lab.with { lab in
            let requests = MeshTLSProxyTests.Counter()
            let app = try await lab.startApplication(requests: requests)
            let proxy = try await lab.startProxy(certificates: try lab.credentials(Self.server, pod: "server"), original: app, namespace: "shop")
            proxy.context.authorization.setOwnLabels(["app": "cart"])
            proxy.context.authorization.replaceAll([Self.shopOnly(port: app)])

            let friend = try await Connection.open(lab, port: proxy.inbound, tls: try lab.clientTLS(try lab.credentials(Self.frontend, pod: "frontend")))
            #expect(try await friend.get("/api/items")?.hasSuffix("URI=\(Self.frontend.uri)") == true)
            #expect(try await friend.get("/admin") == HTTPExchange.deniedBody)
            #expect(requests.count == 1)

            let stranger = try await Connection.open(lab, port: proxy.inbound, tls: try lab.clientTLS(try lab.credentials(Self.stranger, pod: "stranger")))
            #expect(try await stranger.get("/api/items") == HTTPExchange.deniedBody)
            // The same connection, kept alive, is refused again, and not closed.
            #expect(try await stranger.get("/api/other") == HTTPExchange.deniedBody)
            let plain = try await Connection.open(lab, port: proxy.inbound, tls: nil)
            #expect(try await plain.get("/api/items") == HTTPExchange.deniedBody)
            #expect(requests.count == 1)
            let metrics = proxy.context.metrics.exposition()
            #expect(metrics.contains("podlab_proxy_requests_denied_total{protocol=\"http\"} 4"))
            #expect(metrics.contains("podlab_proxy_requests_total{direction=\"inbound\",source=\"127.0.0.1\",destination=\"shop/test:\(app)\",code=\"403\"} 4"))

            // The policy is gone: the stranger's next request on the same connection goes through.
            proxy.context.authorization.set("shop/shop-only", nil)
            #expect(try await stranger.get("/api/items")?.hasSuffix("URI=\(Self.stranger.uri)") == true)
            #expect(try await plain.get("/anything") == "-")
            #expect(requests.count == 3)
            for connection in [friend, stranger, plain] { await connection.close() }
        }
    }

    @Test("TCP: a connection that is not HTTP is reset when no rule allows it (mTLS and plain), passed when one does")
    func tcp() async throws {
        try await Lab.with { lab in
            let requests = MeshTLSProxyTests.Counter()
            let app = try await lab.startApplication(requests: requests)
            let proxy = try await lab.startProxy(certificates: try lab.credentials(Self.server, pod: "server"), original: app, namespace: "shop")
            proxy.context.authorization.setOwnLabels(["app": "cart"])
            // Namespace shop on the port, any protocol: TCP from shop passes, from elsewhere not.
            proxy.context.authorization.replaceAll([MeshAuthorizationPolicy(namespace: "shop", name: "tcp", rules: [
                .init(from: [.init(namespaces: ["shop"])], to: [.init(ports: [app])]),
            ])])
            let cases: [(MeshIdentity?, Bool)] = [(Self.stranger, false), (nil, false), (Self.frontend, true)]
            for (identity, allowed) in cases {
                let tls = try identity.map { try lab.clientTLS(try lab.credentials($0, pod: $0.serviceAccount)) }
                let client = try await RawClient.open(lab, port: proxy.inbound, tls: tls)
                try await client.send("hello, not HTTP\n")
                // Allowed: until the application's answer is in; refused: until the connection ends.
                let outcome = try await client.outcome { allowed ? $0.bytes.contains("\r\n\r\n") : $0.closed }
                if allowed {
                    // The application's HTTP parser answers the bytes it got: they reached it.
                    #expect(outcome.bytes.hasPrefix("HTTP/1.1 400"), "\(identity?.uri ?? "plain")")
                } else {
                    #expect(outcome.reset, "\(identity?.uri ?? "plain"): \(outcome)")
                    #expect(outcome.bytes.isEmpty)
                }
            }
            #expect(proxy.context.metrics.exposition().contains("podlab_proxy_requests_denied_total{protocol=\"tcp\"} 2"))
            #expect(requests.count == 0)
        }
    }

    @Test("until its policies and its pod's labels are known the sidecar refuses, and is not ready")
    func unknownUntilListed() async throws {
        let table = MeshPolicyTable(namespace: "shop", ownPod: "shop/cart-1", following: true)
        let request = MeshRequest(peerIdentity: Self.frontend.uri, port: 8080, http: .init(method: "GET", target: "/"))
        #expect(!table.isKnown)
        #expect(table.decide(request) == MeshAuthorizationDecision(allowed: false, reason: "the sidecar has not yet received the MeshPolicies and its pod's labels"))

        let policies = AgentWatch.Kind.meshPolicies, pods = AgentWatch.Kind.pods
        let endpoints = ServiceEndpoints(), peers = MeshPeers()
        func apply(_ line: String, _ kind: AgentWatch.Kind) {
            WatchHandler.apply(Array(line.utf8), kind: kind, to: endpoints, peers: peers, policies: table)
        }
        table.beginRefill()
        apply(#"{"type":"ADDED","object":{"apiVersion":"podlab.dev/v1","kind":"MeshPolicy","metadata":{"name":"closed","namespace":"shop"},"spec":{"selector":{"matchLabels":{"app":"cart"}}}}}"#, policies)
        apply(#"{"type":"BOOKMARK","object":{"apiVersion":"podlab.dev/v1","kind":"MeshPolicy","metadata":{"resourceVersion":"9","annotations":{"k8s.io/initial-events-end":"true"}}}}"#, policies)
        #expect(!table.isKnown)
        apply(#"{"type":"ADDED","object":{"metadata":{"name":"cart-1","namespace":"shop","labels":{"app":"cart"}},"spec":{},"status":{}}}"#, pods)
        #expect(table.isKnown)
        #expect(table.decide(request).reason == "no rule of MeshPolicy shop/closed matches \(Self.frontend.uri), port 8080, GET /")

        // A reconnected watch: the old policy stays in force until the new list has ended.
        table.beginRefill()
        #expect(!table.decide(request).allowed)
        apply(#"{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"12","annotations":{"k8s.io/initial-events-end":"true"}}}}"#, policies)
        #expect(table.decide(request) == MeshAuthorizationDecision(allowed: true, reason: "no MeshPolicy selects the pod"))
        // A later policy with its rules, then its deletion.
        apply(#"{"type":"ADDED","object":{"metadata":{"name":"open","namespace":"shop"},"spec":{"rules":[{"from":[{"identities":["\#(Self.frontend.uri)"]}],"to":[{"ports":[8080],"methods":["GET"]}]}]}}}"#, policies)
        #expect(table.decide(request).reason == "allowed by MeshPolicy shop/open rules[0]")
        #expect(!table.decide(MeshRequest(peerIdentity: Self.stranger.uri, port: 8080, http: .init(method: "GET", target: "/"))).allowed)
        apply(#"{"type":"DELETED","object":{"metadata":{"name":"open","namespace":"shop"},"spec":{}}}"#, policies)
        #expect(table.decide(MeshRequest(peerIdentity: Self.stranger.uri, port: 8080)).allowed)
    }

    /// A client that sends raw bytes and tells a reset from a close.
    final class RawClient: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        struct Outcome: CustomStringConvertible {
            var bytes: String
            var closed: Bool
            var reset: Bool
            var description: String { "bytes \(bytes.debugDescription), closed \(closed), reset \(reset)" }
        }

        let state = Mutex(Outcome(bytes: "", closed: false, reset: false))
        var channel: (any Channel)?

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            state.withLock { $0.bytes += String(decoding: buffer.readableBytesView, as: UTF8.self) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            state.withLock { $0.closed = true }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            if ConnectionReset.isReset(error) { state.withLock { $0.reset = true } }
            context.close(promise: nil)
        }

        static func open(_ lab: Lab, port: Int, tls: NIOSSLContext?) async throws -> RawClient {
            let client = RawClient()
            client.channel = try await ClientBootstrap(group: lab.group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: MeshTLSNames.serverName)) }
                        try channel.pipeline.syncOperations.addHandler(client)
                    }
                }
                .connect(host: "127.0.0.1", port: port).get()
            return client
        }

        func send(_ text: String) async throws {
            try await channel?.writeAndFlush(ByteBuffer(string: text)).get()
        }

        /// Once `done` holds (or after 10 s): what came back and how it ended.
        func outcome(until done: (Outcome) -> Bool) async throws -> Outcome {
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline, !done(state.withLock { $0 }) { try await Task.sleep(for: .milliseconds(5)) }
            try? await channel?.close()
            return state.withLock { $0 }
        }
    }
}
