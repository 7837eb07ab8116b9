import CMalloc
import MeshRouting
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What every connection's handlers share.
public final class ProxyContext: Sendable {
    public let configuration: ProxyConfiguration
    public let metrics: ProxyMetrics
    public let endpoints: ServiceEndpoints
    public let peers: MeshPeers
    /// The pod's workload certificate (nil without `PODLAB_MESH_CERTS`).
    public let credentials: MeshCredentials?
    /// The MeshPolicies and this pod's labels: who may reach the application.
    public let authorization: MeshPolicyTable
    /// The Routes: how this pod's requests to Services are shaped.
    public let routes: RouteTable
    /// Requests and retries in flight, for the retry budget.
    public let retryAccounting: RetryAccounting
    /// The wait before each retry (Envoy's defaults: 25 ms doubling up to 250 ms, jittered).
    public let retryBackoff: RetryBackoff
    /// Where a captured connection was going: `SO_ORIGINAL_DST`, or a fixed answer in tests on
    /// loopback, where nothing redirects.
    let originalDestination: @Sendable (any Channel) -> EventLoopFuture<SocketAddress>
    /// Where access-log lines go besides stdout (tests read them).
    let accessLogSink: (@Sendable (String) -> Void)?
    private let ready = Atomic<Bool>(false)

    public init(configuration: ProxyConfiguration, metrics: ProxyMetrics = ProxyMetrics(), endpoints: ServiceEndpoints = ServiceEndpoints(),
                peers: MeshPeers = MeshPeers(), authorization: MeshPolicyTable? = nil, routes: RouteTable = RouteTable(),
                retryAccounting: RetryAccounting = RetryAccounting(), retryBackoff: RetryBackoff = RetryBackoff(),
                originalDestination: @escaping @Sendable (any Channel) -> EventLoopFuture<SocketAddress> = OriginalDestination.of,
                accessLogSink: (@Sendable (String) -> Void)? = nil) {
        self.configuration = configuration
        self.metrics = metrics
        self.endpoints = endpoints
        self.peers = peers
        self.authorization = authorization
            ?? MeshPolicyTable(namespace: configuration.podNamespace, ownPod: configuration.podIdentity, following: configuration.apiSocket != nil)
        self.routes = routes
        self.accessLogSink = accessLogSink
        self.retryAccounting = retryAccounting
        self.retryBackoff = retryBackoff
        credentials = configuration.certificateDirectory.map(MeshCredentials.init(directory:))
        self.originalDestination = originalDestination
    }

    /// Ready once both capture listeners are bound and the MeshPolicies are known (until then
    /// every inbound request is refused).
    public var isReady: Bool { ready.load(ordering: .acquiring) && authorization.isKnown }
    func markReady() { ready.store(true, ordering: .releasing) }

    /// One request's line on stdout (the container's log): gathered with the lines of the
    /// requests around it and written within 100 ms (see AccessLogLines).
    public func accessLog(_ line: String) {
        accessLogSink?(line)
        AccessLogLines.shared.append(line)
    }
    /// A line about the proxy itself, written at once (after the access-log lines before it).
    public func log(_ line: String) { AccessLogLines.shared.writeNow("podlab-proxy: " + line) }
}

/// The access log on its way to stdout. A line per request written by a system call of its own
/// was about 6 % of a busy sidecar's samples (and for the agent one more read of the log pipe
/// and write of the log file each), so lines written on an event loop are gathered and written
/// together: after `flushDelay`, or as soon as `flushBytes` have gathered, or before any line
/// about the proxy itself, and on SIGTERM before the proxy ends (podlab-proxy's `main`).
/// Envoy's access log buffers too (it flushes every second). A line written off the event
/// loops goes out at once.
public final class AccessLogLines: Sendable {
    public static let shared = AccessLogLines(descriptor: 1)

    /// How long a line may wait for others.
    let flushDelay: TimeAmount
    /// How much may gather before it is written without waiting.
    static let flushBytes = 32 * 1024

    private struct Pending {
        var bytes: [UInt8] = []
        var flushScheduled = false
    }
    private let pending = Mutex(Pending())
    private let descriptor: Int32

    init(descriptor: Int32, flushDelay: TimeAmount = .milliseconds(100)) {
        self.descriptor = descriptor
        self.flushDelay = flushDelay
    }

    /// Queues `line`; on an event loop, a flush is scheduled on it if none is.
    func append(_ line: String) {
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop else {
            writeNow(line)
            return
        }
        let (full, schedule) = pending.withLock { pending -> (Bool, Bool) in
            pending.bytes.append(contentsOf: line.utf8)
            pending.bytes.append(UInt8(ascii: "\n"))
            if pending.bytes.count >= Self.flushBytes { return (true, false) }
            if pending.flushScheduled { return (false, false) }
            pending.flushScheduled = true
            return (false, true)
        }
        if full {
            flush()
        } else if schedule {
            loop.scheduleTask(in: flushDelay) { self.flush() }
        }
    }

    /// Writes what has gathered, then `line`.
    func writeNow(_ line: String) {
        var bytes = take()
        bytes.append(contentsOf: line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        write(bytes)
    }

    /// Writes what has gathered.
    public func flush() {
        let bytes = take()
        if !bytes.isEmpty { write(bytes) }
    }

    private func take() -> [UInt8] {
        pending.withLock { pending in
            pending.flushScheduled = false
            defer { pending.bytes = [] }
            return pending.bytes
        }
    }

    private func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }
}

/// The four listeners: outbound capture (:15001), inbound capture (:15006), metrics (:15090)
/// and readiness (:15021). One event loop: the proxy shares its pod's CPU with the application,
/// and each more thread is one more stack and malloc arena in every sidecar's resident set.
public final class ProxyServer: Sendable {
    public let context: ProxyContext
    let group: MultiThreadedEventLoopGroup

    public init(context: ProxyContext, threads: Int = 1) {
        self.context = context
        group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
    }

    /// Binds every listener; returns the bound channels (the capture ones first).
    public func start() async throws -> [any Channel] {
        let configuration = context.configuration
        let context = self.context
        var channels: [any Channel] = []
        for (direction, port) in [(TrafficDirection.outbound, configuration.outboundPort), (.inbound, configuration.inboundPort)] {
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 1024)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelOption(.allowRemoteHalfClosure, value: false)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers([ConnectionCounter(direction: direction, metrics: context.metrics),
                                                                         CapturedConnection(direction: direction, context: context)])
                    }
                }
                .bind(host: "0.0.0.0", port: port).get()
            channels.append(channel)
        }
        for (port, kind) in [(configuration.metricsPort, AdminHandler.Kind.metrics), (configuration.readinessPort, .readiness)] {
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(AdminHandler(kind: kind, context: context))
                    }
                }
                .bind(host: "0.0.0.0", port: port).get()
            channels.append(channel)
        }
        // Every second, on the loop: once connections have closed and a second has passed with
        // no more closing, the pages their buffers and TLS state freed go back to the kernel.
        let loop = group.next()
        let trim = Mutex(HeapTrim())
        let metrics = context.metrics
        loop.scheduleRepeatedTask(initialDelay: HeapTrim.interval, delay: HeapTrim.interval) { _ in
            if trim.withLock({ $0.due(closed: metrics.connectionsClosed) }) { _ = malloc_trim(0) }
        }
        context.markReady()
        return channels
    }

    public func shutdown() async throws { try await group.shutdownGracefully() }

    /// The proxy's event loops, for its other clients (the agent's watches).
    public var eventLoops: any EventLoopGroup { group }
}

/// When the sidecar gives freed memory back (`malloc_trim`). glibc keeps the pages a closed
/// connection's buffers and TLS state were in, so without a trim a sidecar's RSS stays at its
/// busiest moment's for good. A trim walks the free lists (well under a millisecond for a
/// sidecar's heap), so it runs once a burst of closings is over, not at every close.
struct HeapTrim {
    static let interval = TimeAmount.seconds(1)
    /// Connections closed, as counted at the last look and at the last trim.
    private var closedAtLastLook: UInt64 = 0
    private var closedAtLastTrim: UInt64 = 0

    /// Whether to trim now, given the count of connections closed so far: some closed since the
    /// last trim, and none since the last look.
    mutating func due(closed: UInt64) -> Bool {
        defer { closedAtLastLook = closed }
        guard closed == closedAtLastLook, closed != closedAtLastTrim else { return false }
        closedAtLastTrim = closed
        return true
    }
}

/// `/metrics` on :15090 and `/healthz/ready` on :15021.
final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    enum Kind: Sendable { case metrics, readiness }

    let kind: Kind
    let proxy: ProxyContext
    private var keepAlive = true
    private var path = ""

    init(kind: Kind, context: ProxyContext) {
        self.kind = kind
        proxy = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(head):
            path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "")
            keepAlive = head.isKeepAlive
        case .body:
            break
        case .end:
            let response: (status: HTTPResponseStatus, contentType: String, body: String)
            switch (kind, path) {
            case (.metrics, "/metrics"), (.metrics, "/stats/prometheus"):
                response = (.ok, "text/plain; version=0.0.4; charset=utf-8", proxy.metrics.exposition())
            case (.readiness, "/healthz/ready"):
                response = proxy.isReady ? (.ok, "text/plain", "ready\n") : (.serviceUnavailable, "text/plain", "not ready\n")
            default:
                response = (.notFound, "text/plain", "not found\n")
            }
            let (status, contentType, body) = response
            var headers = HTTPHeaders([("content-type", contentType), ("content-length", String(body.utf8.count))])
            if !keepAlive { headers.add(name: "connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
            let keepAlive = self.keepAlive
            let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            let written = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
            written.futureResult.whenComplete { _ in
                if !keepAlive { loopContext.value.close(promise: nil) }
            }
        }
    }
}
