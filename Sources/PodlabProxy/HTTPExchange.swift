import MeshAuthorization
import NIOCore
import NIOHTTP1

/// An HTTP/1.1 connection through the proxy: requests from the downstream go to one upstream
/// connection, kept alive for as long as both sides keep theirs, and responses come back in
/// order (the server pipeline's pipelining assistance holds a second request until the first
/// is answered). Each request gets `x-request-id` if it has none, each response
/// `x-podlab-upstream` (the address that answered); each finished exchange is counted and
/// logged in one line. Inbound, `x-forwarded-client-cert` is the proxy's to write (a client's
/// own is dropped): over mTLS it names the client's identity in Envoy's form
/// (`By=<this pod's identity>;URI=<the client's>`), for the application. Inbound, each request
/// is first put to the MeshPolicies (`MeshPolicyTable`): one no rule allows is answered 403
/// here and never reaches the application.
final class HTTPExchange {
    struct Request {
        var start: NIODeadline
        var method: HTTPMethod
        var uri: String
        var requestID: String
        var status: Int = 0
        var bytes = 0
    }

    let direction: TrafficDirection
    let context: ProxyContext
    let destination: Destination
    let upstreamAddress: Destination
    let source: String
    /// The other sidecar's identity when the connection rides mTLS: the client's inbound, the
    /// server's outbound.
    let peerIdentity: String?
    var requests: [Request] = []

    let downstream: Downstream
    let upstream: Upstream

    init(direction: TrafficDirection, context: ProxyContext, destination: Destination, upstreamAddress: Destination, source: String,
         peerIdentity: String? = nil) {
        self.direction = direction
        self.context = context
        self.destination = destination
        self.upstreamAddress = upstreamAddress
        self.source = source
        self.peerIdentity = peerIdentity
        downstream = Downstream()
        upstream = Upstream()
        downstream.exchange = self
        upstream.exchange = self
    }

    /// Outbound: the Service the requests go to (its address when it is none), for the per-route
    /// metrics; looked up once, at the first request's end.
    private lazy var routeKey = ProxyMetrics.RouteKey(service: context.endpoints.target(destination)?.service ?? destination.description)

    /// A response ended: count it and log it.
    func finished(_ request: Request) {
        let seconds = Double((NIODeadline.now() - request.start).nanoseconds) / 1e9
        let destinationName = direction == .inbound ? "\(context.configuration.podIdentity):\(destination.port)" : destination.description
        context.metrics.requestFinished(ProxyMetrics.RequestKey(direction: direction, source: source, destination: destinationName, code: request.status),
                                        seconds: seconds)
        if direction == .outbound { context.metrics.routeRequestFinished(routeKey, code: request.status, seconds: seconds) }
        let milliseconds = (seconds * 1000 * 1000).rounded() / 1000
        context.accessLog("\(direction.rawValue) \(source) \"\(request.method.rawValue) \(request.uri)\" \(request.status) \(request.bytes)B "
                          + "\(milliseconds)ms destination=\(destinationName) upstream=\(upstreamAddress) x-request-id=\(request.requestID)"
                          + " mtls=\(peerIdentity ?? "-")")
    }

    /// The body of a refused request's answer: Envoy's RBAC filter's words.
    static let deniedBody = "RBAC: access denied\n"

    /// Answers a request the MeshPolicies refuse with 403 (the connection kept alive when the
    /// client keeps it), counts it and logs it with the reason.
    func refuse(_ head: HTTPRequestHead, reason: String) {
        let requestID = head.headers.first(name: "x-request-id") ?? RequestID.make()
        var headers = HTTPHeaders([("content-type", "text/plain"), ("content-length", String(Self.deniedBody.utf8.count)),
                                   ("x-request-id", requestID)])
        if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
        downstream.write(.head(HTTPResponseHead(version: head.version, status: .forbidden, headers: headers)), flush: false)
        if let context = downstream.context {
            downstream.write(.body(.byteBuffer(context.channel.allocator.buffer(string: Self.deniedBody))), flush: false)
        }
        // Counted before the answer ends: whoever reads the metrics after it sees it.
        context.metrics.denied(http: true)
        let destinationName = "\(context.configuration.podIdentity):\(destination.port)"
        context.metrics.requestFinished(ProxyMetrics.RequestKey(direction: direction, source: source, destination: destinationName, code: 403), seconds: 0)
        context.accessLog("\(direction.rawValue) \(source) \"\(head.method.rawValue) \(head.uri)\" 403 \(Self.deniedBody.utf8.count)B 0.0ms "
                          + "destination=\(destinationName) upstream=- x-request-id=\(requestID) mtls=\(peerIdentity ?? "-") rbac=denied "
                          + "reason=\"\(reason)\"")
        downstream.end(closing: !head.isKeepAlive)
    }

    /// The client's side: requests in, responses out.
    final class Downstream: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        static let clientCertificateHeader = "x-forwarded-client-cert"

        weak var exchange: HTTPExchange?
        var context: ChannelHandlerContext?
        /// Holds the exchange for as long as the downstream channel lives.
        private var retained: HTTPExchange?
        /// A request the MeshPolicies refused: its body is dropped, its end answered 403.
        private var refused: (head: HTTPRequestHead, reason: String)?

        func handlerAdded(context: ChannelHandlerContext) {
            self.context = context
            retained = exchange
        }

        func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

        func write(_ part: HTTPServerResponsePart, flush: Bool) {
            guard let context else { return }
            if flush { context.writeAndFlush(wrapOutboundOut(part), promise: nil) } else { context.write(wrapOutboundOut(part), promise: nil) }
        }

        /// The response's end; `closing`: the connection closes once it is written.
        func end(closing: Bool) {
            guard let context else { return }
            let written = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
            if closing {
                let channel = context.channel
                written.futureResult.whenComplete { _ in channel.close(promise: nil) }
            }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard let exchange, let upstream = exchange.upstream.context else { return }
            let part = unwrapInboundIn(data)
            if case let .head(head) = part, exchange.direction == .inbound {
                let request = MeshRequest(peerIdentity: exchange.peerIdentity, port: exchange.destination.port,
                                          http: .init(method: head.method.rawValue, target: head.uri))
                let decision = exchange.context.authorization.decide(request)
                if !decision.allowed { refused = (head, decision.reason) }
            }
            if let refusal = refused {
                if case .end = part {
                    refused = nil
                    exchange.refuse(refusal.head, reason: refusal.reason)
                }
                return
            }
            switch part {
            case var .head(head):
                let requestID = head.headers.first(name: "x-request-id") ?? RequestID.make()
                if !head.headers.contains(name: "x-request-id") { head.headers.add(name: "x-request-id", value: requestID) }
                if exchange.direction == .inbound {
                    head.headers.remove(name: Self.clientCertificateHeader)
                    if let peer = exchange.peerIdentity {
                        let own = exchange.context.credentials?.current?.identity ?? ""
                        head.headers.add(name: Self.clientCertificateHeader, value: "By=\(own);URI=\(peer)")
                    }
                }
                exchange.requests.append(Request(start: .now(), method: head.method, uri: head.uri, requestID: requestID))
                upstream.write(exchange.upstream.wrapOutboundOut(.head(head)), promise: nil)
            case let .body(bytes):
                upstream.write(exchange.upstream.wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
            case let .end(trailers):
                upstream.writeAndFlush(exchange.upstream.wrapOutboundOut(.end(trailers)), promise: nil)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            exchange?.upstream.context?.close(promise: nil)
            retained = nil
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.fireErrorCaught(error)
        }
    }

    /// The server's side: requests out, responses in.
    final class Upstream: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart

        weak var exchange: HTTPExchange?
        var context: ChannelHandlerContext?

        func handlerAdded(context: ChannelHandlerContext) { self.context = context }
        func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard let exchange else { return }
            switch unwrapInboundIn(data) {
            case var .head(head):
                head.headers.replaceOrAdd(name: "x-podlab-upstream", value: exchange.upstreamAddress.description)
                // 1xx are interim: the request's status is its final answer's.
                if head.status.code >= 200, !exchange.requests.isEmpty { exchange.requests[0].status = Int(head.status.code) }
                exchange.downstream.write(.head(head), flush: head.status.code < 200)
            case let .body(bytes):
                if !exchange.requests.isEmpty { exchange.requests[0].bytes += bytes.readableBytes }
                exchange.downstream.write(.body(.byteBuffer(bytes)), flush: false)
            case let .end(trailers):
                exchange.downstream.write(.end(trailers), flush: true)
                if !exchange.requests.isEmpty { exchange.finished(exchange.requests.removeFirst()) }
            }
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            exchange?.downstream.context?.flush()
        }

        func channelInactive(context: ChannelHandlerContext) {
            exchange?.downstream.context?.close(promise: nil)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}

/// `x-request-id` values: 128 random bits as a UUID (version 4), as Envoy makes them.
enum RequestID {
    private static let digits = Array("0123456789abcdef".utf8)

    static func make() -> String {
        var random = FastRandom()
        var high = random.next(), low = random.next()
        high = high & ~(0xF << 12) | (0x4 << 12)    // version 4: the high nibble of byte 6
        low = low & ~(0x3 << 62) | (0x2 << 62)      // variant 10: the top bits of byte 8
        return String(unsafeUninitializedCapacity: 36) { text in
            var at = 0
            for index in 0..<32 {
                if index == 8 || index == 12 || index == 16 || index == 20 {
                    text[at] = UInt8(ascii: "-")
                    at += 1
                }
                let word = index < 16 ? high : low
                text[at] = digits[Int((word >> UInt64(60 - 4 * (index % 16))) & 0xF)]
                at += 1
            }
            return at
        }
    }
}
