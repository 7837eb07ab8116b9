import MeshAuthorization
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS
#if canImport(Glibc)
import Glibc
#endif

/// One captured connection, from accept until the proxy knows how to carry it: it finds the
/// original destination, picks where to connect (an endpoint of the Service, the destination
/// itself, or the application on 127.0.0.1 for inbound), connects, and looks at the first
/// bytes. A request line makes it an HTTP/1.1 exchange (`HTTPExchange`); anything else, or an
/// upstream that speaks first, is passed through byte for byte (`Glue`). It then leaves the
/// pipeline. Everything of one connection runs on one event loop: the upstream channel is
/// made on the downstream's.
///
/// mTLS: outbound, a destination that is a meshed pod (`MeshPeers`) is reached through TLS with
/// the pod's certificate, and the peer's certificate must carry the identity its pod has
/// (`PeerVerification`) before a byte of the application's goes out. Inbound, the first byte
/// tells a TLS ClientHello (0x16) from plain text: TLS is terminated here with a client
/// certificate required (chained to the mesh CA, unexpired), and the client's identity is kept
/// for the exchange (`x-forwarded-client-cert`, the access log); plain text is let in only in
/// PERMISSIVE mode.
///
/// Routes and least-request, outbound: HTTP/1.1 to a Service that a Route names or that balances
/// by least-request is routed request by request (`RoutedExchange`).
///
/// Authorization (MeshPolicy), inbound: an HTTP connection's requests are decided one by one
/// (`HTTPExchange`); any other connection is decided once, when it is known not to be HTTP, and
/// reset (RST, SO_LINGER 0) when no rule allows it. The application has then seen a connection
/// open and close, with no byte of the client's.
final class CapturedConnection: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    /// How an inbound connection's bytes arrive.
    enum Security {
        /// Nothing read yet.
        case undecided
        /// A ClientHello came: the TLS handler is in place, the handshake runs.
        case handshaking
        /// Mutual TLS with a client of this identity.
        case mutual(peer: String)
        case plain
    }

    let direction: TrafficDirection
    let context: ProxyContext
    private var buffered: [ByteBuffer] = []
    private var upstream: (any Channel)?
    private var sniffer: UpstreamSniffer?
    private var upstreamFirst: [ByteBuffer] = []
    private var target: Destination?
    private var destination: Destination?
    private var security: Security
    /// The identity the upstream's certificate carried (outbound mTLS).
    private var upstreamIdentity: String?
    private var decided = false
    private var closed = false
    /// The connection made before the first bytes failed, to a Service whose HTTP is routed per
    /// request: an HTTP client's requests can still go (to other endpoints, retried).
    private var routableWithoutUpstream = false

    init(direction: TrafficDirection, context: ProxyContext) {
        self.direction = direction
        self.context = context
        security = direction == .inbound ? .undecided : .plain
    }

    func channelActive(context channelContext: ChannelHandlerContext) {
        context.originalDestination(channelContext.channel).assumeIsolated().whenComplete { result in
            switch result {
            case let .success(address):
                guard let original = Destination(address) else { return self.fail(channelContext, "no original destination") }
                self.connect(channelContext, original: original)
            case let .failure(error):
                self.fail(channelContext, "no original destination: \(error)")
            }
        }
        channelContext.fireChannelActive()
    }

    func channelInactive(context channelContext: ChannelHandlerContext) {
        closed = true
        upstream?.close(promise: nil)
        channelContext.fireChannelInactive()
    }

    func channelRead(context channelContext: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        if case .undecided = security {
            guard let first = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) else { return }
            if first == 0x16, let credentials = context.credentials?.current {
                // The TLS handler goes in front of this one and gets the bytes read so far; what
                // it decrypts comes back here.
                security = .handshaking
                do {
                    try channelContext.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: credentials.server), position: .before(self))
                } catch {
                    return fail(channelContext, "setting up TLS: \(error)")
                }
                channelContext.pipeline.syncOperations.fireChannelRead(NIOAny(bytes))
                return
            }
            guard context.configuration.mtlsMode != .strict else {
                context.metrics.plainTextRefused()
                return fail(channelContext, first == 0x16 ? "TLS refused: this sidecar has no certificate (STRICT mode)"
                                                          : "plain text refused (STRICT mode)")
            }
            security = .plain
        }
        buffered.append(bytes)
        decide(channelContext)
    }

    func userInboundEventTriggered(context channelContext: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent, case .handshaking = security {
            let certificate = try? channelContext.pipeline.syncOperations.nioSSL_peerCertificate()
            guard let peer = certificate.flatMap(MeshCredentials.spiffeIdentity(of:)) else {
                context.metrics.tlsHandshake(.inbound, succeeded: false)
                return fail(channelContext, "mTLS: the client's certificate carries no SPIFFE identity")
            }
            context.metrics.tlsHandshake(.inbound, succeeded: true)
            security = .mutual(peer: peer)
            decide(channelContext)
        }
        channelContext.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context channelContext: ChannelHandlerContext, error: any Error) {
        if case .handshaking = security {
            context.metrics.tlsHandshake(.inbound, succeeded: false)
            return fail(channelContext, "mTLS handshake failed: \(error)")
        }
        channelContext.fireErrorCaught(error)
    }

    private func fail(_ channelContext: ChannelHandlerContext, _ reason: String) {
        context.log("\(direction.rawValue) connection from \(channelContext.remoteAddress.map { "\($0)" } ?? "?") dropped: \(reason)")
        channelContext.close(promise: nil)
    }

    /// Closes the client's connection with a reset: what a TCP client of a refused connection
    /// sees (Envoy's RBAC network filter closes the same way).
    private func reset(_ channelContext: ChannelHandlerContext, _ reason: String) {
        context.log("\(direction.rawValue) connection from \(channelContext.remoteAddress.map { "\($0)" } ?? "?") reset: \(reason)")
        ConnectionReset.reset(channelContext.channel)
    }

    private func connect(_ channelContext: ChannelHandlerContext, original: Destination) {
        let configuration = context.configuration
        let target: Destination
        switch direction {
        case .outbound:
            // A connection made to the proxy's own listener, not redirected to it, would loop.
            if configuration.ownPorts.contains(original.port), original.address == "127.0.0.1" || original.address == configuration.podIP {
                return fail(channelContext, "\(original) is the proxy itself")
            }
            target = context.endpoints.pick(original) ?? original
        case .inbound:
            target = Destination(address: "127.0.0.1", port: original.port)
        }
        destination = original
        self.target = target
        let sniffer = UpstreamSniffer()
        self.sniffer = sniffer
        // A meshed peer is reached through mTLS: to the port the application asked for, which
        // the peer's capture hands to its inbound listener.
        var verification: (tls: NIOSSLContext, expected: String, verified: EventLoopPromise<String>)?
        if direction == .outbound, let expected = context.peers.mtlsIdentity(for: target), let credentials = context.credentials?.current {
            verification = (credentials.client, expected, channelContext.eventLoop.makePromise(of: String.self))
        }
        // The upstream channel lives on this connection's event loop, where its initializer runs.
        let boundSniffer = NIOLoopBound(sniffer, eventLoop: channelContext.eventLoop)
        let bootstrap = ClientBootstrap(group: channelContext.eventLoop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { [verification] channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let verification {
                        try pipeline.addHandler(NIOSSLClientHandler(context: verification.tls, serverHostname: MeshTLSNames.serverName))
                        try pipeline.addHandler(PeerVerification(expected: verification.expected, verified: verification.verified))
                    }
                    try pipeline.addHandler(boundSniffer.value)
                }
            }
        let address: SocketAddress
        do { address = try SocketAddress(ipAddress: target.address, port: target.port) } catch {
            verification?.verified.fail(PeerVerification.Failure(description: "no connection"))
            return fail(channelContext, "\(target): \(error)")
        }
        var connected = bootstrap.connect(to: address)
        if let verification {
            let metrics = context.metrics
            connected.whenFailure { verification.verified.fail($0) }
            connected = connected.flatMap { channel in
                verification.verified.futureResult.map { _ in channel }.flatMapErrorThrowing { error in
                    channel.close(promise: nil)
                    throw error
                }
            }
            verification.verified.futureResult.whenComplete { result in
                if case .success = result { metrics.tlsHandshake(.outbound, succeeded: true) } else { metrics.tlsHandshake(.outbound, succeeded: false) }
            }
        }
        connected.assumeIsolated().whenComplete { result in
            switch result {
            case let .success(channel):
                guard !self.closed else { channel.close(promise: nil); return }
                self.upstream = channel
                self.upstreamIdentity = verification?.expected
                sniffer.onFirstBytes = { bytes in
                    self.upstreamFirst.append(bytes)
                    self.decide(channelContext)
                }
                sniffer.onClose = { if !self.decided { channelContext.close(promise: nil) } }
                self.decide(channelContext)
            case let .failure(error):
                if self.direction == .outbound, let service = self.context.endpoints.target(original),
                   RoutedExchange.shapes(service, context: self.context) {
                    self.routableWithoutUpstream = true
                    self.context.log("\(self.direction.rawValue) connection: connecting to \(target) failed (\(error)); HTTP requests will be routed each on its own")
                    return self.decide(channelContext)
                }
                self.fail(channelContext, "\(verification == nil ? "connecting" : "mTLS") to \(target) failed: \(error)")
            }
        }
    }

    /// Chooses once both the upstream is connected and someone has spoken.
    private func decide(_ channelContext: ChannelHandlerContext) {
        guard !decided, let target, let destination, !buffered.isEmpty || !upstreamFirst.isEmpty else { return }
        if upstream == nil, routableWithoutUpstream, let first = buffered.first {
            guard HTTPSniff.isRequestStart(first), let service = context.endpoints.target(destination) else {
                return fail(channelContext, "connecting to \(target) failed, and the connection is not HTTP")
            }
            decided = true
            do {
                let pipeline = channelContext.pipeline.syncOperations
                try pipeline.configureHTTPServerPipeline(position: .after(self), withPipeliningAssistance: true, withErrorHandling: true)
                try pipeline.addHandler(RoutedExchange(context: context, destination: destination, service: service, source: context.configuration.podIdentity))
            } catch {
                return fail(channelContext, "setting up forwarding: \(error)")
            }
            let pending = buffered
            buffered = []
            for bytes in pending { channelContext.fireChannelRead(wrapInboundOut(bytes)) }
            channelContext.fireChannelReadComplete()
            channelContext.pipeline.syncOperations.removeHandler(context: channelContext, promise: nil)
            return
        }
        guard let upstream else { return }
        switch security {
        case .handshaking:
            return
        case .undecided:
            // The application spoke first and the client has said nothing yet: in PERMISSIVE
            // mode that is a plain-text client of a server-first protocol; STRICT waits for TLS.
            guard context.configuration.mtlsMode != .strict else { return }
            security = .plain
        case .plain, .mutual:
            break
        }
        decided = true
        var peer: String?
        if case let .mutual(client) = security { peer = client }
        if direction == .outbound { peer = upstreamIdentity }
        do {
            let pipeline = channelContext.pipeline.syncOperations
            if upstreamFirst.isEmpty, let first = buffered.first, HTTPSniff.isRequestStart(first), direction == .outbound,
               let service = context.endpoints.target(destination), RoutedExchange.shapes(service, context: context) {
                // A Route shapes this Service, or it balances by least-request: each request is
                // routed on its own; the connection made already joins the pool.
                let routed = RoutedExchange(context: context, destination: destination, service: service, source: context.configuration.podIdentity)
                try pipeline.configureHTTPServerPipeline(position: .after(self), withPipeliningAssistance: true, withErrorHandling: true)
                try pipeline.addHandler(routed)
                if let sniffer { upstream.pipeline.syncOperations.removeHandler(sniffer, promise: nil) }
                routed.adopt(upstream, endpoint: target, peerIdentity: upstreamIdentity)
            } else if upstreamFirst.isEmpty, let first = buffered.first, HTTPSniff.isRequestStart(first) {
                let exchange = HTTPExchange(direction: direction, context: context, destination: destination, upstreamAddress: target,
                                            source: direction == .outbound ? context.configuration.podIdentity
                                                : channelContext.remoteAddress?.ipAddress ?? "unknown",
                                            peerIdentity: peer)
                try pipeline.configureHTTPServerPipeline(position: .after(self), withPipeliningAssistance: true, withErrorHandling: true)
                try pipeline.addHandler(exchange.downstream)
                let upstreamPipeline = upstream.pipeline.syncOperations
                try upstreamPipeline.addHTTPClientHandlers()
                try upstreamPipeline.addHandler(exchange.upstream)
                if let sniffer { upstreamPipeline.removeHandler(sniffer, promise: nil) }
            } else {
                if direction == .inbound {
                    let request = MeshRequest(peerIdentity: peer, port: destination.port)
                    let decision = context.authorization.decide(request)
                    if !decision.allowed {
                        context.metrics.denied(http: false)
                        upstream.close(promise: nil)
                        return reset(channelContext, "rbac=denied: \(decision.reason)")
                    }
                }
                let (down, up) = Glue.pair()
                try pipeline.addHandler(down, position: .after(self))
                try upstream.pipeline.syncOperations.addHandler(up)
                for bytes in upstreamFirst { up.forward(bytes) }
                up.flushPartner()
                if let sniffer { upstream.pipeline.syncOperations.removeHandler(sniffer, promise: nil) }
            }
        } catch {
            return fail(channelContext, "setting up forwarding: \(error)")
        }
        if let peer {
            context.log("\(direction.rawValue) connection \(channelContext.remoteAddress?.description ?? "?") → \(target): mTLS, peer \(peer)")
        }
        let pending = buffered
        buffered = []
        for bytes in pending { channelContext.fireChannelRead(wrapInboundOut(bytes)) }
        channelContext.fireChannelReadComplete()
        channelContext.pipeline.syncOperations.removeHandler(context: channelContext, promise: nil)
    }

    typealias InboundOut = ByteBuffer
}

/// Outbound mTLS: once the handshake is done (the chain checked against the mesh CA by
/// BoringSSL), the peer's certificate must name the identity its pod has; otherwise the
/// connection closes before the application's bytes are sent.
final class PeerVerification: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let expected: String
    let verified: EventLoopPromise<String>

    init(expected: String, verified: EventLoopPromise<String>) {
        self.expected = expected
        self.verified = verified
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent {
            let certificate = try? context.pipeline.syncOperations.nioSSL_peerCertificate()
            let identity = certificate.flatMap(MeshCredentials.spiffeIdentity(of:))
            if identity == expected {
                verified.succeed(expected)
            } else {
                verified.fail(Failure(description: "the peer's certificate names \(identity ?? "no SPIFFE identity"), not \(expected)"))
                context.close(promise: nil)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        verified.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        verified.fail(Failure(description: "the connection closed during the handshake"))
        context.fireChannelInactive()
    }
}

/// Counts a captured connection from accept to close; it stays first in the pipeline, where the
/// handlers that carry the connection come and go.
final class ConnectionCounter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let direction: TrafficDirection
    let metrics: ProxyMetrics

    init(direction: TrafficDirection, metrics: ProxyMetrics) {
        self.direction = direction
        self.metrics = metrics
    }

    func channelActive(context: ChannelHandlerContext) {
        metrics.connectionOpened(direction)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        metrics.connectionClosed(direction)
        context.fireChannelInactive()
    }
}

/// Holds what the upstream says before the connection is set up (a server that speaks first).
final class UpstreamSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    var onFirstBytes: ((ByteBuffer) -> Void)?
    var onClose: (() -> Void)?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        onFirstBytes?(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        onClose?()
        context.fireChannelInactive()
    }
}

/// Does the connection start with an HTTP/1.x request line (`GET /`…)? Only a method token
/// followed by a space and a target counts: TLS, HTTP/2's preface (`PRI *`) and other protocols
/// are passed through.
enum HTTPSniff {
    static let methods: [String] = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"]

    static func isRequestStart(_ buffer: ByteBuffer) -> Bool {
        let prefix = buffer.getBytes(at: buffer.readerIndex, length: min(buffer.readableBytes, 9)) ?? []
        for method in methods {
            let bytes = Array(method.utf8) + [0x20]
            if prefix.count >= bytes.count, Array(prefix.prefix(bytes.count)) == bytes {
                return true
            }
        }
        return false
    }
}

/// Two channels glued together: what one reads, the other writes; one closing closes both.
final class Glue: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: Glue?
    private var context: ChannelHandlerContext?
    private var pendingRead = false

    static func pair() -> (Glue, Glue) {
        let first = Glue()
        let second = Glue()
        first.partner = second
        second.partner = first
        return (first, second)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    /// Writes `bytes` to this glue's channel's partner side: used for bytes read before the glue existed.
    func forward(_ bytes: ByteBuffer) { partner?.write(bytes) }
    func flushPartner() { partner?.context?.flush() }

    private func write(_ bytes: ByteBuffer) {
        context?.write(wrapOutboundOut(bytes), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.write(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.context?.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.context?.close(promise: nil)
        context.fireChannelInactive()
    }

    /// A reset on one side (or a TLS connection cut without close_notify, which is how a reset
    /// under TLS arrives) resets the other: a refused connection's client sees the reset the
    /// receiving sidecar sent, through its own sidecar.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if ConnectionReset.isReset(error), let partner = partner?.context { ConnectionReset.reset(partner.channel) }
        context.close(promise: nil)
    }
}

/// Closing a connection with a TCP reset.
enum ConnectionReset {
    /// SO_LINGER 0, then the close goes past any TLS handler (which would first send
    /// close_notify and wait for the peer's), so the kernel sends RST at once.
    static func reset(_ channel: any Channel) {
        guard let options = channel as? any SocketOptionProvider else { return channel.close(promise: nil) }
        options.setSoLinger(linger(l_onoff: 1, l_linger: 0)).assumeIsolated().whenComplete { _ in
            if let tls = try? channel.pipeline.syncOperations.context(handlerType: NIOSSLHandler.self) {
                tls.close(promise: nil)
            } else {
                channel.close(promise: nil)
            }
        }
    }

    static func isReset(_ error: any Error) -> Bool {
        if let error = error as? IOError { return error.errnoCode == ECONNRESET }
        if let error = error as? NIOSSLError, case .uncleanShutdown = error { return true }
        return false
    }
}
