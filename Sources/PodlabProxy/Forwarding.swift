import NIOCore
import NIOHTTP1
import NIOPosix
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
final class CapturedConnection: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    let direction: TrafficDirection
    let context: ProxyContext
    private var buffered: [ByteBuffer] = []
    private var upstream: (any Channel)?
    private var sniffer: UpstreamSniffer?
    private var upstreamFirst: [ByteBuffer] = []
    private var target: Destination?
    private var destination: Destination?
    private var decided = false
    private var closed = false

    init(direction: TrafficDirection, context: ProxyContext) {
        self.direction = direction
        self.context = context
    }

    func channelActive(context channelContext: ChannelHandlerContext) {
        OriginalDestination.of(channelContext.channel).assumeIsolated().whenComplete { result in
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
        buffered.append(unwrapInboundIn(data))
        decide(channelContext)
    }

    private func fail(_ channelContext: ChannelHandlerContext, _ reason: String) {
        context.log("\(direction.rawValue) connection from \(channelContext.remoteAddress.map { "\($0)" } ?? "?") dropped: \(reason)")
        channelContext.close(promise: nil)
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
        // The upstream channel lives on this connection's event loop, where its initializer runs.
        let boundSniffer = NIOLoopBound(sniffer, eventLoop: channelContext.eventLoop)
        let bootstrap = ClientBootstrap(group: channelContext.eventLoop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(boundSniffer.value) }
            }
        let address: SocketAddress
        do { address = try SocketAddress(ipAddress: target.address, port: target.port) } catch {
            return fail(channelContext, "\(target): \(error)")
        }
        bootstrap.connect(to: address).assumeIsolated().whenComplete { result in
            switch result {
            case let .success(channel):
                guard !self.closed else { channel.close(promise: nil); return }
                self.upstream = channel
                sniffer.onFirstBytes = { bytes in
                    self.upstreamFirst.append(bytes)
                    self.decide(channelContext)
                }
                sniffer.onClose = { if !self.decided { channelContext.close(promise: nil) } }
                self.decide(channelContext)
            case let .failure(error):
                self.fail(channelContext, "connecting to \(target) failed: \(error)")
            }
        }
    }

    /// Chooses once both the upstream is connected and someone has spoken.
    private func decide(_ channelContext: ChannelHandlerContext) {
        guard !decided, let upstream, let target, let destination, !buffered.isEmpty || !upstreamFirst.isEmpty else { return }
        decided = true
        do {
            let pipeline = channelContext.pipeline.syncOperations
            if upstreamFirst.isEmpty, let first = buffered.first, HTTPSniff.isRequestStart(first) {
                let exchange = HTTPExchange(direction: direction, context: context, destination: destination, upstreamAddress: target,
                                            source: direction == .outbound ? context.configuration.podIdentity
                                                : channelContext.remoteAddress?.ipAddress ?? "unknown")
                try pipeline.configureHTTPServerPipeline(position: .after(self), withPipeliningAssistance: true, withErrorHandling: true)
                try pipeline.addHandler(exchange.downstream)
                let upstreamPipeline = upstream.pipeline.syncOperations
                try upstreamPipeline.addHTTPClientHandlers()
                try upstreamPipeline.addHandler(exchange.upstream)
                if let sniffer { upstreamPipeline.removeHandler(sniffer, promise: nil) }
            } else {
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
        let pending = buffered
        buffered = []
        for bytes in pending { channelContext.fireChannelRead(wrapInboundOut(bytes)) }
        channelContext.fireChannelReadComplete()
        channelContext.pipeline.syncOperations.removeHandler(context: channelContext, promise: nil)
    }

    typealias InboundOut = ByteBuffer
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

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
