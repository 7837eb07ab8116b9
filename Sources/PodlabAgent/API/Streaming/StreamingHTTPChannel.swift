import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import Netns
import NIOWebSocket
import PodNet
import ServiceLifecycle

/// The HTTPS listener's connections: HTTP/1.1 for the API, and on a connection's first request
/// the two upgrades kubectl's streaming verbs (`exec`, `attach`, `cp`, `port-forward`) ask for —
/// WebSocket (kubectl ≥ 1.30, client libraries) and SPDY/3.1 (older kubectl, and port-forward).
/// Whether to upgrade is decided before the `101` goes out (`StreamingEndpoints.prepare`); a
/// refused upgrade goes on as plain HTTP, where the router answers with the Status that says why.
struct StreamingHTTPChannel: ServerChildChannel, HTTPChannelHandler {
    enum Upgraded: Sendable {
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case webSocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, PreparedStream)
        case spdy(NIOAsyncChannel<ByteBuffer, ByteBuffer>, PreparedStream)
    }

    struct Value: ServerChildChannelValue {
        let upgraded: EventLoopFuture<Upgraded>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    let http1: HTTP1Channel.Configuration
    let endpoints: StreamingEndpoints
    /// Until its first request head, a connection is closed after this long (later ones are the
    /// HTTP pipeline's `IdleConnectionCloser`'s).
    let idleTimeout: TimeAmount

    /// The largest WebSocket frame read (a `kubectl cp` into a pod streams its tar in frames of 32 KiB).
    static let maximumWebSocketFrame = 1 << 20

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let endpoints = self.endpoints
            let prepared = Locked<PreparedStream?>(nil)
            let refusedHead = Locked<HTTPRequestHead?>(nil)
            let webSocket = NIOTypedWebSocketServerUpgrader<Upgraded>(
                maxFrameSize: Self.maximumWebSocketFrame,
                shouldUpgrade: { channel, head in
                    let promise = channel.eventLoop.makePromise(of: HTTPHeaders?.self)
                    promise.completeWithTask {
                        guard let stream = try? await endpoints.prepare(head, transport: .webSocket) else {
                            refusedHead.withLock { $0 = head }
                            return nil
                        }
                        prepared.withLock { $0 = stream }
                        var headers = HTTPHeaders()
                        if let name = stream.answeredProtocol { headers.add(name: "Sec-WebSocket-Protocol", value: name) }
                        return headers
                    }
                    return promise.futureResult
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        guard let stream = prepared.withLock({ $0 }) else { throw StreamingRefusal.notStreaming }
                        if stream.target.kind == .portForward {
                            try channel.pipeline.syncOperations.addHandler(WebSocketTunnel())
                            return .spdy(try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel), stream)
                        }
                        let upgraded = try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(wrappingChannelSynchronously: channel)
                        return .webSocket(upgraded, stream)
                    }
                })
            let spdy = SPDYUpgrader(endpoints: endpoints, prepared: prepared, refusedHead: refusedHead)
            let http1 = self.http1
            let upgraders: [any NIOTypedHTTPServerProtocolUpgrader<Upgraded>] = [webSocket, spdy]
            let configuration = NIOTypedHTTPServerUpgradeConfiguration<Upgraded>(
                upgraders: upgraders,
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let head = refusedHead.withLock({ $0 }) {
                            try channel.pipeline.syncOperations.addHandler(RefusedUpgradeHead(head: head))
                        }
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandlers(http1.additionalChannelHandlers())
                        try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(idleTimeout: http1.idleTimeout.map { .init($0) }, logger: logger))
                        return .http(try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true)))
                    }
                })
            var pipeline = NIOUpgradableHTTPServerPipelineConfiguration<Upgraded>(upgradeConfiguration: configuration)
            pipeline.enablePipelining = false
            pipeline.enableErrorHandling = false
            pipeline.enableResponseHeaderValidation = false
            pipeline.decoderConfiguration.maxHeaderFieldSize = http1.httpDecoder.maxHeaderFieldSize
            pipeline.decoderConfiguration.maxHeaderListSize = http1.httpDecoder.maxHeaderListSize
            pipeline.decoderConfiguration.maxHeaderFieldCount = http1.httpDecoder.maxHeaderFieldCount
            try channel.pipeline.syncOperations.addHandler(FirstRequestDeadline(timeout: idleTimeout))
            let upgraded = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: pipeline)
            return Value(upgraded: upgraded, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgraded.get() {
            case let .http(channel):
                await handleHTTP(asyncChannel: channel, logger: logger)
            case let .webSocket(channel, prepared):
                await WebSocketStreams.serve(channel, prepared: prepared, endpoints: endpoints, logger: logger)
            case let .spdy(channel, prepared):
                await SPDYStreams.serve(channel, prepared: prepared, endpoints: endpoints, logger: logger)
            }
        } catch {
            logger.debug("a connection ended before its first request was answered: \(error)")
        }
    }
}

/// NIO's upgrade handler passes on neither the head of a request whose upgrade was refused
/// (swift-nio's `NIOTypedHTTPServerUpgraderStateMachine` buffers nothing while it looks for an
/// upgrader) nor, for a GET, its end (the HTTP decoder stops at an upgrade request's head), so
/// the route that answers the refusal never saw the request and the client waited for an answer
/// forever — kubectl 1.32 waited so for its WebSocket port-forward instead of falling back to
/// SPDY. The request kept at the refusal is passed on once the HTTP pipeline is in place; an end
/// the upgrade handler passes on later is the same request's, and dropped.
final class RefusedUpgradeHead: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    private var head: HTTPRequestHead?

    init(head: HTTPRequestHead) { self.head = head }

    func handlerAdded(context: ChannelHandlerContext) {
        // After the pipeline's setup (this runs inside it), so the HTTP handlers get it.
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (handler, context) = loopBound.value
            guard let head = handler.head else { return }
            handler.head = nil
            context.fireChannelRead(handler.wrapInboundOut(.head(head)))
            context.fireChannelRead(handler.wrapInboundOut(.end(nil)))
            context.fireChannelReadComplete()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if head == nil, case .end = unwrapInboundIn(data) { return }
        if let head {
            self.head = nil
            context.fireChannelRead(wrapInboundOut(.head(head)))
        }
        context.fireChannelRead(data)
    }
}

/// The WebSocket tunnel of port-forward (`SPDY/3.1+portforward.k8s.io`, client-go's
/// `tunnelingDialer`): the bytes of a SPDY connection travel in binary messages, one message per
/// write, so above this handler the session is the same SPDY one as after a SPDY upgrade. Pings
/// are answered; a close ends the connection.
final class WebSocketTunnel: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .binary, .continuation:
            context.fireChannelRead(wrapInboundOut(frame.unmaskedData))
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            context.close(promise: nil)
        default:
            break
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, data: unwrapOutboundIn(data))), promise: promise)
    }
}

/// The SPDY/3.1 upgrade (`Upgrade: SPDY/3.1`, `X-Stream-Protocol-Version`): after the `101` the
/// connection carries SPDY frames (`SPDYStreams`).
struct SPDYUpgrader: NIOTypedHTTPServerProtocolUpgrader {
    typealias UpgradeResult = StreamingHTTPChannel.Upgraded

    let supportedProtocol = "SPDY/3.1"
    let requiredUpgradeHeaders: [String] = []
    let endpoints: StreamingEndpoints
    let prepared: Locked<PreparedStream?>
    let refusedHead: Locked<HTTPRequestHead?>

    func buildUpgradeResponse(channel: any Channel, upgradeRequest: HTTPRequestHead, initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
        let promise = channel.eventLoop.makePromise(of: HTTPHeaders.self)
        let endpoints = self.endpoints, prepared = self.prepared, refusedHead = self.refusedHead
        promise.completeWithTask {
            let stream: PreparedStream
            do { stream = try await endpoints.prepare(upgradeRequest, transport: .spdy) } catch {
                refusedHead.withLock { $0 = upgradeRequest }
                throw error
            }
            prepared.withLock { $0 = stream }
            var headers = initialResponseHeaders
            if let name = stream.answeredProtocol { headers.add(name: "X-Stream-Protocol-Version", value: name) }
            return headers
        }
        return promise.futureResult
    }

    func upgrade(channel: any Channel, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<UpgradeResult> {
        let prepared = self.prepared
        return channel.eventLoop.makeCompletedFuture {
            guard let stream = prepared.withLock({ $0 }) else { throw StreamingRefusal.notStreaming }
            return .spdy(try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel), stream)
        }
    }
}

/// Closes a connection that sends nothing for `timeout` after it opened; removes itself at the
/// first bytes.
final class FirstRequestDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let timeout: TimeAmount
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        let loop = context.eventLoop.assumeIsolated()
        timer = loop.scheduleTask(in: timeout) { context.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        timer?.cancel()
        timer = nil
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
