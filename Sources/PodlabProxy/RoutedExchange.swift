import MeshRouting
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// Requests in flight and requests retrying in flight across the sidecar: the retry budget's
/// two numbers (`RetryBudget`, Envoy's: retries at most 20 % of the requests, at least 3).
public final class RetryAccounting: Sendable {
    public let budget: RetryBudget
    private let counts = Mutex((requests: 0, retrying: 0))

    public init(budget: RetryBudget = RetryBudget()) { self.budget = budget }

    func requestStarted() { counts.withLock { $0.requests += 1 } }

    func requestEnded(retrying: Bool) {
        counts.withLock { counts in
            counts.requests -= 1
            if retrying { counts.retrying -= 1 }
        }
    }

    /// Whether a request may retry now; the first retry of a request counts it as retrying
    /// until it ends.
    func admitRetry(alreadyRetrying: Bool) -> Bool {
        counts.withLock { counts in
            guard budget.allows(activeRequests: counts.requests, activeRetries: counts.retrying - (alreadyRetrying ? 1 : 0)) else { return false }
            if !alreadyRetrying { counts.retrying += 1 }
            return true
        }
    }
}

/// Outbound HTTP/1.1 to a Service that a Route shapes or that balances by least-request: each
/// request is routed on its own (unlike `HTTPExchange`, which keeps one upstream connection per
/// downstream one). For each request: the Route's first matching rule, a backend Service by
/// weight, injected faults (a delay before forwarding, an abort answered here), an endpoint by
/// the backend's load balancing (another one for each retry), a kept-alive connection to it
/// from this downstream connection's pool (or a new one, through mTLS to a meshed peer), the
/// rule's timeout over the whole request (504 past it, as Envoy answers) and per-try timeouts,
/// and retries when the try failed as `retryOn` says, within the attempts and the sidecar's
/// retry budget, each after Envoy's jittered exponential back-off (`RetryBackoff`). Only
/// idempotent requests are retried; a body is streamed to the first try and a copy kept for the
/// next ones up to 64 KiB (`RouteRequest.retryBufferLimit`, as Envoy buffers a body for retries up
/// to a limit): a request whose body passed it is not retried (counted in
/// `podlab_proxy_retry_body_too_large_total`). Requests run one at a time (the server pipeline's pipelining
/// assistance holds the next until this one is answered). One access-log line per request
/// with the route, the rule, the backend, the tries and Envoy's response flags.
final class RoutedExchange: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let context: ProxyContext
    /// Where the application sent it: the Service's ClusterIP and port.
    let destination: Destination
    let service: ServiceEndpoints.ServiceTarget
    let source: String
    private var channelContext: ChannelHandlerContext?
    /// Kept-alive upstream connections, idle, by endpoint.
    private var idle: [Destination: [UpstreamLink]] = [:]
    private var current: RoutedRequest?
    private var nextAttempt = 0
    private var closed = false

    init(context: ProxyContext, destination: Destination, service: ServiceEndpoints.ServiceTarget, source: String) {
        self.context = context
        self.destination = destination
        self.service = service
        self.source = source
    }

    /// Whether `service`'s requests go through here: a Route names it, or it balances by least-request.
    static func shapes(_ service: ServiceEndpoints.ServiceTarget, context: ProxyContext) -> Bool {
        service.loadBalancing == .leastRequest || context.routes.route(forService: service.service) != nil
    }

    func handlerAdded(context: ChannelHandlerContext) { channelContext = context }
    func handlerRemoved(context: ChannelHandlerContext) { channelContext = nil }

    /// The upstream connection made before the first bytes (to an endpoint of the Service)
    /// joins the pool, HTTP handlers added.
    func adopt(_ channel: any Channel, endpoint: Destination, peerIdentity: String?) {
        do {
            let link = UpstreamLink(endpoint: endpoint, peerIdentity: peerIdentity)
            try channel.pipeline.syncOperations.addHTTPClientHandlers()
            try channel.pipeline.syncOperations.addHandler(link)
            park(link)
        } catch {
            channel.close(promise: nil)
        }
    }

    // MARK: Downstream

    func channelRead(context channelContext: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(head):
            start(head)
        case let .body(bytes):
            guard let request = current, !request.finished else { return }
            request.keepForRetry(bytes)
            if let link = request.attempt?.link, request.attempt?.sent == true {
                link.write(.body(.byteBuffer(bytes)), flush: false)
            } else {
                request.body.append(bytes)
            }
        case let .end(trailers):
            guard let request = current else { return }
            request.ended = true
            request.trailers = trailers
            if request.finished {
                current = nil
            } else if let link = request.attempt?.link, request.attempt?.sent == true {
                link.write(.end(trailers), flush: true)
            }
        }
    }

    func channelInactive(context channelContext: ChannelHandlerContext) {
        closed = true
        if let request = current, !request.finished {
            request.flags.append("DC")
            finish(request, status: 0)
        }
        for links in idle.values { for link in links { link.channel?.close(promise: nil) } }
        idle = [:]
        channelContext.fireChannelInactive()
    }

    private func start(_ incoming: HTTPRequestHead) {
        var head = incoming
        let requestID = head.headers.first(name: "x-request-id") ?? RequestID.make()
        if !head.headers.contains(name: "x-request-id") { head.headers.add(name: "x-request-id", value: requestID) }
        let routeRequest = RouteRequest(method: head.method.rawValue, target: head.uri, headers: head.headers.map { (name: $0.name, value: $0.value) })
        let route = context.routes.route(forService: service.service)
        let matched = route?.rule(for: routeRequest)
        // A body announced larger than the retry buffer is not kept from its first byte.
        let announced = head.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
        let request = RoutedRequest(head: head, requestID: requestID, route: route, ruleIndex: matched?.index, rule: matched?.rule,
                                    idempotent: RouteRequest.isRetriable(method: head.method.rawValue, bodyBytes: 0),
                                    keepsBody: RouteRequest.keepsForRetry(bodyBytes: announced))
        current = request
        context.retryAccounting.requestStarted()
        // The backend: a weighted Service of the route's namespace, or the Service itself.
        var random = FastRandom()
        if let backend = matched?.rule.backend(roll: Int.random(in: 0..<100, using: &random)), let route {
            request.backend = backend
            request.target = context.endpoints.target(service: "\(route.namespace)/\(backend)", like: service.port)
        } else {
            request.backend = String(service.service.split(separator: "/").last ?? "")
            request.target = service
        }
        let faults = matched?.rule.fault?.decide(delayRoll: Int.random(in: 0..<100, using: &random), abortRoll: Int.random(in: 0..<100, using: &random)) ?? TrafficRoute.FaultDecision()
        if let delay = faults.delay, let channelContext {
            request.flags.append("DI")
            context.metrics.faultInjected(route: route?.qualifiedName ?? "-", kind: "delay")
            request.delayTask = channelContext.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Self.nanoseconds(delay))) {
                self.forward(request, abortStatus: faults.abortStatus)
            }
        } else {
            forward(request, abortStatus: faults.abortStatus)
        }
    }

    /// After any delay: abort, or the first try (the rule's timeout starts here, as Envoy's
    /// route timeout starts after its fault filter).
    private func forward(_ request: RoutedRequest, abortStatus: Int?) {
        guard !request.finished, let channelContext else { return }
        if let abortStatus {
            request.flags.append("FI")
            context.metrics.faultInjected(route: request.route?.qualifiedName ?? "-", kind: "abort")
            return answer(request, status: abortStatus, body: "fault filter abort")
        }
        if let timeout = request.rule?.timeout {
            request.timeoutTask = channelContext.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Self.nanoseconds(timeout))) {
                self.timedOut(request)
            }
        }
        startAttempt(request)
    }

    private func startAttempt(_ request: RoutedRequest) {
        guard !request.finished, !closed, let channelContext else { return }
        guard let target = request.target, let endpoint = context.endpoints.choose(target, excluding: request.tried) else {
            request.flags.append("UH")
            return answer(request, status: 503, body: "no healthy upstream")
        }
        request.tried.insert(endpoint)
        request.tries += 1
        nextAttempt += 1
        let attempt = Attempt(id: nextAttempt, endpoint: endpoint)
        request.attempt = attempt
        context.endpoints.requestInFlight(endpoint, 1)
        if let perTry = request.rule?.retries?.perTryTimeout {
            attempt.perTryTask = channelContext.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Self.nanoseconds(perTry))) {
                self.attemptFailed(request, attempt, .perTryTimeout)
            }
        }
        while let link = idle[endpoint]?.popLast() {
            if link.channel?.isActive == true { return send(request, attempt, link) }
        }
        let (link, connected) = connect(endpoint, on: channelContext.eventLoop)
        connected.assumeIsolated().whenComplete { result in
            switch result {
            case .success:
                if request.attempt === attempt, !request.finished, !attempt.abandoned {
                    self.send(request, attempt, link)
                } else if self.closed {
                    link.channel?.close(promise: nil)
                } else {
                    self.park(link)
                }
            case .failure:
                self.attemptFailed(request, attempt, .connectFailure)
            }
        }
    }

    private func send(_ request: RoutedRequest, _ attempt: Attempt, _ link: UpstreamLink) {
        attempt.link = link
        attempt.sent = true
        link.onPart = { [weak self] part in self?.upstreamRead(request, attempt, part) }
        link.onClose = { [weak self] in self?.upstreamClosed(request, attempt) }
        link.write(.head(request.head), flush: false)
        // A retry sends again every part of the body read so far; the rest streams to it as it comes.
        for bytes in request.tries > 1 ? request.replay ?? [] : request.body { link.write(.body(.byteBuffer(bytes)), flush: false) }
        request.body = []
        if request.ended { link.write(.end(request.trailers), flush: true) } else { link.flush() }
    }

    // MARK: Upstream

    private func upstreamRead(_ request: RoutedRequest, _ attempt: Attempt, _ part: HTTPClientResponsePart) {
        guard request.attempt === attempt, !attempt.abandoned, !request.finished else { return }
        switch part {
        case var .head(head):
            let status = Int(head.status.code)
            if status < 200 {
                write(.head(HTTPResponseHead(version: request.head.version, status: head.status, headers: head.headers)), flush: true)
                return
            }
            if status >= 500, request.idempotent, let retries = request.rule?.retries {
                if case .retry = retries.shouldRetry(.response(status: status), tries: request.tries, budgetAllows: true) {
                    if replayable(request), retry(request, attempt) { return }
                } else if retries.isRetriable(.response(status: status)), request.tries > 1 {
                    request.flags.append("URX")
                }
            }
            attempt.perTryTask?.cancel()
            request.status = status
            request.upstream = attempt.endpoint
            attempt.keepAlive = head.isKeepAlive
            head.headers.replaceOrAdd(name: "x-podlab-upstream", value: attempt.endpoint.description)
            head.headers.remove(name: "connection")
            if !request.head.isKeepAlive { head.headers.add(name: "connection", value: "close") }
            head.version = request.head.version
            request.responded = true
            write(.head(head), flush: false)
        case let .body(bytes):
            request.bytes += bytes.readableBytes
            write(.body(.byteBuffer(bytes)), flush: false)
        case let .end(trailers):
            // The try ends before the client can see the answer's end: whoever reads the
            // endpoint's count after the answer finds it down.
            endAttempt(attempt, keep: attempt.keepAlive)
            write(.end(trailers), flush: true)
            finish(request, status: request.status)
        }
    }

    private func upstreamClosed(_ request: RoutedRequest, _ attempt: Attempt) {
        guard request.attempt === attempt, !attempt.abandoned, !request.finished else { return }
        if request.responded {
            // Part of the response is out: nothing to retry or answer; the client sees the cut.
            request.flags.append("UC")
            endAttempt(attempt, keep: false)
            finish(request, status: request.status)
            channelContext?.close(promise: nil)
        } else {
            attemptFailed(request, attempt, .reset)
        }
    }

    /// A try that got no usable answer: another one, or the answer Envoy gives.
    private func attemptFailed(_ request: RoutedRequest, _ attempt: Attempt, _ outcome: TrafficRoute.AttemptOutcome) {
        guard request.attempt === attempt, !attempt.abandoned, !request.finished else { return }
        if request.idempotent, let retries = request.rule?.retries {
            if case .retry = retries.shouldRetry(outcome, tries: request.tries, budgetAllows: true) {
                if replayable(request), retry(request, attempt) { return }
            } else if retries.isRetriable(outcome), request.tries > 1 {
                request.flags.append("URX")
            }
        }
        endAttempt(attempt, keep: false)
        switch outcome {
        case .connectFailure:
            request.flags.append("UF")
            answer(request, status: 503, body: "upstream connect error or disconnect/reset before headers. reset reason: connection failure")
        case .reset:
            request.flags.append("UC")
            answer(request, status: 503, body: "upstream connect error or disconnect/reset before headers. reset reason: connection termination")
        case .perTryTimeout:
            request.flags.append("UT")
            request.reason = "per-try timeout \(RouteDuration.format(request.rule?.retries?.perTryTimeout ?? .zero)) after \(request.tries) tries"
            answer(request, status: 504, body: "upstream request timeout")
        case let .response(status):
            answer(request, status: status, body: "")
        }
    }

    /// Whether the request can be sent again: its body, if any, is still kept whole. The first
    /// retry a body past the buffer prevents is counted, and said in the access log.
    private func replayable(_ request: RoutedRequest) -> Bool {
        if request.replay != nil { return true }
        if request.reason == nil {
            context.metrics.retryBodyTooLarge()
            request.reason = "not retried: the request's body passed the \(RouteRequest.retryBufferLimit / 1024) KiB retry buffer"
        }
        return false
    }

    /// Abandons `attempt` and starts the next after the back-off, when the budget lets it; false:
    /// it does not.
    private func retry(_ request: RoutedRequest, _ attempt: Attempt) -> Bool {
        guard context.retryAccounting.admitRetry(alreadyRetrying: request.retrying) else {
            request.flags.append("UO")
            context.metrics.retryOverflow()
            return false
        }
        request.retrying = true
        endAttempt(attempt, keep: false)
        context.metrics.retried(route: request.route?.qualifiedName ?? "-")
        var random = FastRandom()
        let delay = context.retryBackoff.delay(retry: request.tries, roll: Double.random(in: 0..<1, using: &random))
        if delay > .zero, let channelContext {
            request.backoffTask = channelContext.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Self.nanoseconds(delay))) {
                request.backoffTask = nil
                self.startAttempt(request)
            }
        } else {
            startAttempt(request)
        }
        return true
    }

    private func timedOut(_ request: RoutedRequest) {
        guard !request.finished else { return }
        request.flags.append("UT")
        request.reason = "upstream request timeout: the route's \(RouteDuration.format(request.rule?.timeout ?? .zero)) passed after \(request.tries) tries"
        if let attempt = request.attempt { endAttempt(attempt, keep: false) }
        if request.responded {
            finish(request, status: request.status)
            channelContext?.close(promise: nil)
        } else {
            answer(request, status: 504, body: "upstream request timeout")
        }
    }

    /// The try is over: its endpoint's count goes down, its connection back to the pool (an
    /// answer read whole on a kept-alive connection) or closed.
    private func endAttempt(_ attempt: Attempt, keep: Bool) {
        guard !attempt.abandoned else { return }
        attempt.abandoned = true
        attempt.perTryTask?.cancel()
        context.endpoints.requestInFlight(attempt.endpoint, -1)
        guard let link = attempt.link else { return }
        if keep, !closed, link.channel?.isActive == true { park(link) } else { link.channel?.close(promise: nil) }
    }

    private func park(_ link: UpstreamLink) {
        link.onPart = nil
        link.onClose = { [weak self, weak link] in
            guard let self, let link else { return }
            self.idle[link.endpoint]?.removeAll { $0 === link }
        }
        idle[link.endpoint, default: []].append(link)
    }

    /// A new connection to `endpoint` (through mTLS to a meshed peer, whose certificate must
    /// name its pod's identity), its link, and when it is ready.
    private func connect(_ endpoint: Destination, on eventLoop: any EventLoop) -> (UpstreamLink, EventLoopFuture<Void>) {
        let expected = context.peers.mtlsIdentity(for: endpoint)
        let credentials = expected == nil ? nil : context.credentials?.current
        let verified = eventLoop.makePromise(of: String.self)
        let link = UpstreamLink(endpoint: endpoint, peerIdentity: credentials == nil ? nil : expected)
        let boundLink = NIOLoopBound(link, eventLoop: eventLoop)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let credentials, let expected {
                        try pipeline.addHandler(NIOSSLClientHandler(context: credentials.client, serverHostname: MeshTLSNames.serverName))
                        try pipeline.addHandler(PeerVerification(expected: expected, verified: verified))
                    }
                    try pipeline.addHTTPClientHandlers()
                    try pipeline.addHandler(boundLink.value)
                }
            }
        let address: SocketAddress
        do { address = try SocketAddress(ipAddress: endpoint.address, port: endpoint.port) } catch {
            verified.fail(error)
            return (link, eventLoop.makeFailedFuture(error))
        }
        let metrics = context.metrics
        let tls = credentials != nil
        var connected = bootstrap.connect(to: address)
        if tls {
            connected.whenFailure { verified.fail($0) }
            connected = connected.flatMap { channel in
                verified.futureResult.map { _ in channel }.flatMapErrorThrowing { error in
                    channel.close(promise: nil)
                    throw error
                }
            }
            verified.futureResult.whenComplete { result in
                if case .success = result { metrics.tlsHandshake(.outbound, succeeded: true) } else { metrics.tlsHandshake(.outbound, succeeded: false) }
            }
        } else {
            verified.succeed("")
        }
        return (link, connected.map { _ in () })
    }

    // MARK: Answers

    private func write(_ part: HTTPServerResponsePart, flush: Bool) {
        guard let channelContext else { return }
        if flush { channelContext.writeAndFlush(wrapOutboundOut(part), promise: nil) } else { channelContext.write(wrapOutboundOut(part), promise: nil) }
    }

    /// Answers the request here (a fault's abort, a timeout, no endpoint, a failed try).
    private func answer(_ request: RoutedRequest, status: Int, body: String) {
        guard !request.finished, let channelContext else { return }
        var headers = HTTPHeaders([("content-type", "text/plain"), ("content-length", String(body.utf8.count)), ("x-request-id", request.requestID)])
        if !request.head.isKeepAlive { headers.add(name: "connection", value: "close") }
        write(.head(HTTPResponseHead(version: request.head.version, status: HTTPResponseStatus(statusCode: status), headers: headers)), flush: false)
        if !body.isEmpty, request.head.method != .HEAD {
            write(.body(.byteBuffer(channelContext.channel.allocator.buffer(string: body))), flush: false)
        }
        write(.end(nil), flush: true)
        request.bytes = body.utf8.count
        finish(request, status: status)
    }

    private func finish(_ request: RoutedRequest, status: Int) {
        guard !request.finished else { return }
        request.finished = true
        request.delayTask?.cancel()
        request.timeoutTask?.cancel()
        request.backoffTask?.cancel()
        if let attempt = request.attempt, !attempt.abandoned { endAttempt(attempt, keep: false) }
        context.retryAccounting.requestEnded(retrying: request.retrying)
        let seconds = Double((NIODeadline.now() - request.start).nanoseconds) / 1e9
        context.metrics.requestFinished(ProxyMetrics.RequestKey(direction: .outbound, source: source, destination: destination.description, code: status),
                                        seconds: seconds)
        context.metrics.routeRequestFinished(ProxyMetrics.RouteKey(service: service.service, route: request.route?.qualifiedName ?? "-",
                                                                   rule: request.ruleIndex.map(String.init) ?? "-"),
                                             code: status, seconds: seconds)
        let milliseconds = (seconds * 1000 * 1000).rounded() / 1000
        var line = "outbound \(source) \"\(request.head.method.rawValue) \(request.head.uri)\" \(status) \(request.bytes)B \(milliseconds)ms "
            + "destination=\(destination) upstream=\(request.upstream?.description ?? "-") x-request-id=\(request.requestID) "
            + "mtls=\(request.attempt?.link?.peerIdentity ?? "-") route=\(request.route?.qualifiedName ?? "-") "
            + "rule=\(request.ruleIndex.map(String.init) ?? "-") backend=\(request.backend) tries=\(request.tries) "
            + "flags=\(request.flags.isEmpty ? "-" : request.flags.joined(separator: ","))"
        if let reason = request.reason { line += " reason=\"\(reason)\"" }
        context.accessLog(line)
        if request.ended { current = nil }
        if !request.head.isKeepAlive, let channelContext {
            let channel = channelContext.channel
            channelContext.eventLoop.assumeIsolated().execute { channel.close(promise: nil) }
        }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// One request through `RoutedExchange`, from its head to its answer's end.
final class RoutedRequest {
    let head: HTTPRequestHead
    let requestID: String
    let start = NIODeadline.now()
    let route: TrafficRoute?
    let ruleIndex: Int?
    let rule: TrafficRoute.Rule?
    /// An idempotent method: retried when the rule says so and its body is kept.
    let idempotent: Bool
    /// Every part of the body read so far, to send again on a retry; nil once it passed the
    /// retry buffer (or a larger one was announced).
    var replay: [ByteBuffer]?
    var replayBytes = 0
    var backend = ""
    var target: ServiceEndpoints.ServiceTarget?
    /// Body parts read before a try's connection was ready.
    var body: [ByteBuffer] = []
    var ended = false
    var trailers: HTTPHeaders?
    var tried: Set<Destination> = []
    var tries = 0
    var attempt: Attempt?
    /// Counted in the retry budget since its first retry.
    var retrying = false
    /// The answer's head went to the client: no retry or local answer any more.
    var responded = false
    var finished = false
    var status = 0
    var bytes = 0
    var upstream: Destination?
    /// Envoy's response flags: DI, FI, UT, UF, UC, UH, URX, UO, DC.
    var flags: [String] = []
    var reason: String?
    var delayTask: Scheduled<Void>?
    var timeoutTask: Scheduled<Void>?
    /// The back-off before the next try.
    var backoffTask: Scheduled<Void>?

    init(head: HTTPRequestHead, requestID: String, route: TrafficRoute?, ruleIndex: Int?, rule: TrafficRoute.Rule?, idempotent: Bool,
         keepsBody: Bool = true) {
        self.head = head
        self.requestID = requestID
        self.route = route
        self.ruleIndex = ruleIndex
        self.rule = rule
        self.idempotent = idempotent
        replay = idempotent && keepsBody && rule?.retries != nil ? [] : nil
    }

    /// Keeps a body part for a retry while the body fits the buffer.
    func keepForRetry(_ bytes: ByteBuffer) {
        guard replay != nil else { return }
        replayBytes += bytes.readableBytes
        if RouteRequest.keepsForRetry(bodyBytes: replayBytes) { replay?.append(bytes) } else { replay = nil }
    }
}

/// One try of a request: an endpoint, and the connection once there is one.
final class Attempt {
    let id: Int
    let endpoint: Destination
    var link: UpstreamLink?
    var sent = false
    var keepAlive = true
    var abandoned = false
    var perTryTask: Scheduled<Void>?

    init(id: Int, endpoint: Destination) {
        self.id = id
        self.endpoint = endpoint
    }
}

/// An upstream HTTP/1.1 connection of a `RoutedExchange`'s pool: what it reads goes to the try
/// that holds it; closed while idle, it leaves the pool.
final class UpstreamLink: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    let endpoint: Destination
    /// The peer's SPIFFE identity when the connection rides mTLS.
    let peerIdentity: String?
    var onPart: ((HTTPClientResponsePart) -> Void)?
    var onClose: (() -> Void)?
    private var context: ChannelHandlerContext?

    init(endpoint: Destination, peerIdentity: String?) {
        self.endpoint = endpoint
        self.peerIdentity = peerIdentity
    }

    var channel: (any Channel)? { context?.channel }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func write(_ part: HTTPClientRequestPart, flush: Bool) {
        guard let context else { return }
        if flush { context.writeAndFlush(wrapOutboundOut(part), promise: nil) } else { context.write(wrapOutboundOut(part), promise: nil) }
    }

    func flush() { context?.flush() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        onPart?(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        let onClose = onClose
        self.onClose = nil
        onPart = nil
        onClose?()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
