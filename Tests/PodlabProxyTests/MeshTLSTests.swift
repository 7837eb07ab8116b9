import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
@testable import PodlabAgent
import PodNet
@testable import PodlabProxy
import Synchronization
import Testing

/// mTLS through real proxies on loopback: certificates from the agent's own code, written where
/// the agent writes them, read by the proxy as in a pod; an HTTP application behind the inbound
/// listener answers with the `x-forwarded-client-cert` it was given. Nothing redirects on
/// loopback, so each proxy is told its connections' original destination.
@Suite("podlab-proxy: mTLS between sidecars on loopback")
struct MeshTLSProxyTests {
    static let client = MeshIdentity(namespace: "shop", serviceAccount: "frontend")
    static let server = MeshIdentity(namespace: "shop", serviceAccount: "cart")

    /// A lab state directory with a mesh CA, removed at the end.
    final class Lab: @unchecked Sendable {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("podlab-mtls-\(UUID().uuidString)").path
        let paths: LabPaths
        let authority: CertificateAuthority
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var channels: [any Channel] = []
        var servers: [ProxyServer] = []

        init() throws {
            paths = LabPaths(lab: "mtls", stateRoot: root)
            try LabStateModes.makeLabDirectory(paths)
            authority = try MeshCertificates.loadOrCreateAuthority(paths)
        }

        /// A pod's certificate directory as the agent writes it.
        func credentials(_ identity: MeshIdentity, pod: String, authority: CertificateAuthority? = nil, issued: Date = Date()) throws -> String {
            try MeshCertificates.provision(identity, podUID: pod, authority: authority ?? self.authority, paths: paths, now: issued)
            return MeshCertificates.directory(paths, podUID: pod)
        }

        /// A client's TLS context, trusting this lab's mesh CA.
        func clientTLS(_ directory: String) throws -> NIOSSLContext {
            let credentials = MeshCredentials(directory: directory)
            try credentials.reloadIfChanged()
            return try #require(credentials.current).client
        }

        /// The application: answers every request with the `x-forwarded-client-cert` it got ("-" for none).
        func startApplication(requests: Counter) async throws -> Int {
            let channel = try await ServerBootstrap(group: group)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        try channel.pipeline.syncOperations.addHandler(ClientCertificateEcho(requests: requests))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
            channels.append(channel)
            return try #require(channel.localAddress?.port)
        }

        /// A sidecar whose captured connections were all going to 127.0.0.1:`original`; returns
        /// its outbound and inbound ports.
        func startProxy(certificates: String?, mode: MTLSMode = .permissive, original: Int, peers: MeshPeers = MeshPeers(),
                        namespace: String = "") async throws -> (outbound: Int, inbound: Int, context: ProxyContext) {
            var configuration = ProxyConfiguration()
            configuration.outboundPort = 0
            configuration.inboundPort = 0
            configuration.metricsPort = 0
            configuration.readinessPort = 0
            configuration.podName = "test"
            configuration.podNamespace = namespace
            configuration.certificateDirectory = certificates
            configuration.mtlsMode = mode
            let context = ProxyContext(configuration: configuration, peers: peers) { channel in
                channel.eventLoop.makeCompletedFuture { try SocketAddress(ipAddress: "127.0.0.1", port: original) }
            }
            try context.credentials?.reloadIfChanged()
            let server = ProxyServer(context: context, threads: 1)
            servers.append(server)
            let bound = try await server.start()
            channels += bound
            return (try #require(bound[0].localAddress?.port), try #require(bound[1].localAddress?.port), context)
        }

        func close() async {
            for channel in channels { try? await channel.close() }
            for server in servers { try? await server.shutdown() }
            try? await group.shutdownGracefully()
            try? FileManager.default.removeItem(atPath: root)
        }

        static func with(_ body: (Lab) async throws -> Void) async throws {
            let lab = try Lab()
            do { try await body(lab) } catch {
                await lab.close()
                throw error
            }
            await lab.close()
        }
    }

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
        func increment() { value.add(1, ordering: .relaxed) }
        var count: Int { value.load(ordering: .relaxed) }
    }

    final class ClientCertificateEcho: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let requests: Counter
        var header = "-"

        init(requests: Counter) { self.requests = requests }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case let .head(head):
                requests.increment()
                header = head.headers["x-forwarded-client-cert"].joined(separator: ",")
                if header.isEmpty { header = "-" }
            case .body:
                break
            case .end:
                let body = context.channel.allocator.buffer(string: header)
                let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "\(body.readableBytes)"])
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }

    /// A test client's connection: what it received, whether it closed, the server's certificate.
    final class Connection: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let state = Mutex<(bytes: [UInt8], closed: Bool)>(([], false))
        var channel: (any Channel)?

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            state.withLock { $0.bytes += buffer.readableBytesView }
        }

        func channelInactive(context: ChannelHandlerContext) {
            state.withLock { $0.closed = true }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }

        static func open(_ lab: Lab, port: Int, tls: NIOSSLContext?) async throws -> Connection {
            let connection = Connection()
            connection.channel = try await ClientBootstrap(group: lab.group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: MeshTLSNames.serverName)) }
                        try channel.pipeline.syncOperations.addHandler(connection)
                    }
                }
                .connect(host: "127.0.0.1", port: port).get()
            return connection
        }

        /// Sends a GET and waits for its whole response's body; nil when the connection closed first.
        func get(_ path: String, headers: String = "") async throws -> String? {
            let start = state.withLock { $0.bytes.count }
            // A connection the server already closed (a refused handshake) cannot be written: no answer.
            do { try await channel?.writeAndFlush(ByteBuffer(string: "GET \(path) HTTP/1.1\r\nhost: test\r\n\(headers)\r\n")).get() } catch {
                return nil
            }
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                let (bytes, closed) = state.withLock { ($0.bytes, $0.closed) }
                let text = String(decoding: bytes[start...], as: UTF8.self)
                if let split = text.range(of: "\r\n\r\n") {
                    let head = text[..<split.lowerBound].lowercased()
                    let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                        .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                    let body = text[split.upperBound...]
                    if body.utf8.count >= length { return String(body) }
                }
                if closed { return nil }
                try await Task.sleep(for: .milliseconds(5))
            }
            throw CancellationError()
        }

        /// The serial number of the certificate the server showed.
        func serverSerial() async throws -> [UInt8]? {
            try await channel?.nioSSL_peerCertificate().get()?.serialNumber
        }

        func close() async { try? await channel?.close() }
    }

    @Test("a sidecar's client certificate is accepted, and the application sees its identity in x-forwarded-client-cert")
    func handshake() async throws {
        try await Lab.with { lab in
            let requests = Counter()
            let app = try await lab.startApplication(requests: requests)
            let proxy = try await lab.startProxy(certificates: try lab.credentials(Self.server, pod: "server"), original: app)
            let connection = try await Connection.open(lab, port: proxy.inbound, tls: try lab.clientTLS(try lab.credentials(Self.client, pod: "client")))
            // A client's own header is not passed on: the proxy writes it.
            let body = try await connection.get("/", headers: "x-forwarded-client-cert: URI=spiffe://cluster.local/ns/kube-system/sa/admin\r\n")
            #expect(body == "By=spiffe://cluster.local/ns/shop/sa/cart;URI=spiffe://cluster.local/ns/shop/sa/frontend")
            await connection.close()
            #expect(proxy.context.metrics.exposition().contains("podlab_proxy_tls_handshakes_total{direction=\"inbound\",result=\"succeeded\"} 1"))
        }
    }

    @Test("a client certificate from another CA, or an expired one, is refused before the application sees a byte",
          arguments: ["another CA", "expired"])
    func refusedCertificates(kind: String) async throws {
        try await Lab.with { lab in
            let requests = Counter()
            let app = try await lab.startApplication(requests: requests)
            let proxy = try await lab.startProxy(certificates: try lab.credentials(Self.server, pod: "server"), original: app)
            let bad: String
            if kind == "expired" {
                bad = try lab.credentials(Self.client, pod: "client", issued: Date().addingTimeInterval(-7200))
            } else {
                let other = try CertificateAuthority.make(commonName: "elsewhere", notBefore: Date().addingTimeInterval(-3600), notAfter: Date().addingTimeInterval(3600))
                bad = try lab.credentials(Self.client, pod: "client", authority: other)
            }
            // The bad client trusts the right CA: only its own certificate is at fault.
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(MeshCertificates.directory(lab.paths, podUID: "server") + "/ca.crt"))
            configuration.certificateVerification = .noHostnameVerification
            let blocks = MeshCredentials.pemBlocks(try MeshCredentials.readBytes(bad + "/workload.pem"))
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: try #require(blocks.first).bytes, format: .pem))
            configuration.certificateChain = [.certificate(try NIOSSLCertificate(bytes: try #require(blocks.last).bytes, format: .pem))]
            let refused = try await Connection.open(lab, port: proxy.inbound, tls: try NIOSSLContext(configuration: configuration))
            #expect(try await refused.get("/") == nil)
            #expect(requests.count == 0)
            // The same proxy still serves a good client.
            let good = try await Connection.open(lab, port: proxy.inbound, tls: try lab.clientTLS(try lab.credentials(Self.client, pod: "good")))
            #expect(try await good.get("/")?.hasSuffix("URI=spiffe://cluster.local/ns/shop/sa/frontend") == true)
            #expect(requests.count == 1)
            await good.close()
        }
    }

    @Test("STRICT closes a plain-text client's connection; PERMISSIVE serves it without a client identity, and mTLS beside it")
    func modes() async throws {
        try await Lab.with { lab in
            let requests = Counter()
            let app = try await lab.startApplication(requests: requests)
            let certificates = try lab.credentials(Self.server, pod: "server")
            let strict = try await lab.startProxy(certificates: certificates, mode: .strict, original: app)
            let permissive = try await lab.startProxy(certificates: certificates, mode: .permissive, original: app)
            let clientTLS = try lab.clientTLS(try lab.credentials(Self.client, pod: "client"))

            let plainToStrict = try await Connection.open(lab, port: strict.inbound, tls: nil)
            #expect(try await plainToStrict.get("/") == nil)
            #expect(requests.count == 0)
            #expect(strict.context.metrics.exposition().contains("podlab_proxy_plaintext_refused_total 1"))
            let tlsToStrict = try await Connection.open(lab, port: strict.inbound, tls: clientTLS)
            #expect(try await tlsToStrict.get("/")?.contains("URI=spiffe://cluster.local/ns/shop/sa/frontend") == true)

            let plainToPermissive = try await Connection.open(lab, port: permissive.inbound, tls: nil)
            #expect(try await plainToPermissive.get("/", headers: "x-forwarded-client-cert: URI=spiffe://forged\r\n") == "-")
            let tlsToPermissive = try await Connection.open(lab, port: permissive.inbound, tls: clientTLS)
            #expect(try await tlsToPermissive.get("/")?.contains("URI=spiffe://cluster.local/ns/shop/sa/frontend") == true)
            #expect(requests.count == 3)
            for connection in [tlsToStrict, plainToPermissive, tlsToPermissive] { await connection.close() }
        }
    }

    @Test("outbound to a meshed peer rides mTLS and checks the peer's identity; a peer naming another identity is refused")
    func outboundToInbound() async throws {
        try await Lab.with { lab in
            let requests = Counter()
            let app = try await lab.startApplication(requests: requests)
            let server = try await lab.startProxy(certificates: try lab.credentials(Self.server, pod: "server"), mode: .strict, original: app)
            let peers = MeshPeers()
            peers.set("shop/cart", address: "127.0.0.1", peer: .init(identity: Self.server.uri))
            let client = try await lab.startProxy(certificates: try lab.credentials(Self.client, pod: "client"), original: server.inbound, peers: peers)
            // The application's plain request leaves its sidecar as mTLS: the STRICT server lets it in.
            let connection = try await Connection.open(lab, port: client.outbound, tls: nil)
            #expect(try await connection.get("/") == "By=spiffe://cluster.local/ns/shop/sa/cart;URI=spiffe://cluster.local/ns/shop/sa/frontend")
            await connection.close()
            #expect(client.context.metrics.exposition().contains("podlab_proxy_tls_handshakes_total{direction=\"outbound\",result=\"succeeded\"} 1"))

            // The pod at that address is now another service account's: its certificate does not match.
            peers.set("shop/cart", address: "127.0.0.1", peer: .init(identity: "spiffe://cluster.local/ns/shop/sa/payments"))
            let mismatched = try await Connection.open(lab, port: client.outbound, tls: nil)
            #expect(try await mismatched.get("/") == nil)
            #expect(requests.count == 1)
            // A port the peer's capture leaves alone goes in plain text (here: refused by STRICT).
            peers.set("shop/cart", address: "127.0.0.1", peer: .init(identity: Self.server.uri, excludedPorts: [server.inbound]))
            #expect(peers.mtlsIdentity(for: Destination(address: "127.0.0.1", port: server.inbound)) == nil)
            #expect(peers.mtlsIdentity(for: Destination(address: "127.0.0.1", port: 15090)) == nil)
        }
    }

    @Test("a renewed certificate is taken by new handshakes while an open connection keeps working")
    func rotation() async throws {
        try await Lab.with { lab in
            let requests = Counter()
            let app = try await lab.startApplication(requests: requests)
            let certificates = try lab.credentials(Self.server, pod: "server")
            let proxy = try await lab.startProxy(certificates: certificates, mode: .strict, original: app)
            let clientTLS = try lab.clientTLS(try lab.credentials(Self.client, pod: "client"))
            let before = try await Connection.open(lab, port: proxy.inbound, tls: clientTLS)
            #expect(try await before.get("/one") != nil)
            let oldSerial = try #require(try await before.serverSerial())

            _ = try lab.credentials(Self.server, pod: "server")
            #expect(try #require(proxy.context.credentials).reloadIfChanged())
            #expect(try #require(proxy.context.credentials).reloadIfChanged() == false)

            let after = try await Connection.open(lab, port: proxy.inbound, tls: clientTLS)
            #expect(try await after.get("/two") != nil)
            let newSerial = try #require(try await after.serverSerial())
            #expect(newSerial != oldSerial)
            // The connection made before the renewal is still up and still answered.
            #expect(try await before.get("/three")?.contains("URI=spiffe://cluster.local/ns/shop/sa/frontend") == true)
            #expect(requests.count == 3)
            await before.close()
            await after.close()
        }
    }
}
