#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import CNetlink  // malloc_trim
import Synchronization

/// What keeps idle or abandoned connections from exhausting the agent, with the figures of
/// kube-apiserver where it has one.
///
/// - A connection that sends no complete request head for `idleTimeout` after it opened or after
///   its last answer ended is closed, and so is one whose request body stops coming for as long
///   before it is answered: 90 s, kube-apiserver's `IdleTimeout` (its `ReadHeaderTimeout` is
///   32 s; here one timer covers both, since a head that never completes is never delivered). A
///   request being answered (a watch, a log follow, an attach whose input streams) is not idle.
/// - At most `maximumConnections` are open at once (4096, fewer if the descriptor limit is
///   lower); more wait in the listen backlog until one closes.
/// - The agent's descriptor limit is raised to its hard limit (at most 65536), as Go programs
///   such as kube-apiserver do at start: the default soft limit of 1024 would end the agent's
///   pidfds, namespaces and logs long before its connections.
struct APIConnectionLimits: Sendable {
    static let defaultIdleTimeout: TimeAmount = .seconds(90)
    static let defaultMaximumConnections = 4096
    /// Descriptors kept for the agent's own work (namespaces, pidfds, logs, pipes, the store).
    static let reservedDescriptors = 1024

    var idleTimeout: TimeAmount
    var maximumConnections: Int

    /// The limits for the running agent; `PODLAB_API_IDLE_TIMEOUT` (seconds) shortens the idle
    /// timeout for tests.
    static func forAgent(logger: Logger) -> APIConnectionLimits {
        let descriptors = raiseDescriptorLimit()
        let idle = ProcessInfo.processInfo.environment["PODLAB_API_IDLE_TIMEOUT"].flatMap(Double.init).map {
            TimeAmount.milliseconds(Int64($0 * 1000))
        } ?? defaultIdleTimeout
        let maximum = max(64, min(defaultMaximumConnections, descriptors - reservedDescriptors))
        logger.debug("API connections: at most \(maximum), idle ones closed after \(Double(idle.nanoseconds) / 1e9) s (descriptor limit \(descriptors))")
        return APIConnectionLimits(idleTimeout: idle, maximumConnections: maximum)
    }

    /// The descriptors the agent wants: a `podlab test` of 100 pods behind 100 Services holds
    /// about 34 000 probe sockets at once, and the API and the containers' logs need theirs.
    static let wantedDescriptors: rlim_t = 65536

    /// Raises the descriptor limit to `wantedDescriptors`: both limits where the agent may raise
    /// the hard one (it runs as root: `CAP_SYS_RESOURCE`), else the soft one to the hard one.
    /// Returns the soft limit now.
    static func raiseDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_max < wantedDescriptors {
            var raised = rlimit(rlim_cur: wantedDescriptors, rlim_max: wantedDescriptors)
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        let wanted = min(limit.rlim_max, wantedDescriptors)
        if limit.rlim_cur < wanted {
            var raised = limit
            raised.rlim_cur = wanted
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }

    var http1Configuration: HTTP1Channel.Configuration {
        let timeout = idleTimeout
        return HTTP1Channel.Configuration(additionalChannelHandlers: [IdleConnectionCloser(timeout: timeout)])
    }
}

/// Closes a connection that makes no progress for `timeout` while nothing is being answered:
/// from when it opens, and from the end of each answer, to the next request head; between the
/// parts of a request body until the answer starts. A closed connection ends the handler's
/// body read with an error, so a half-sent object is never stored. An answer that says
/// `Connection: close`, or a 413, ends its connection (see `closeAfter`).
final class IdleConnectionCloser: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let timeout: TimeAmount
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
        lingerTimer?.cancel()
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        ConnectionCensus.opened()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        lingerTimer?.cancel()
        ConnectionCensus.closed()
        context.fireChannelInactive()
    }

    /// True from a response head to its end: the request is being answered.
    private var answering = false
    /// The answer being written says `Connection: close`, or refuses a body it did not read
    /// (413): the connection ends with it.
    private var closesAfterAnswer = false
    /// Such an answer was written: the connection is closing, no idle timer any more.
    private var closing = false
    /// The close a second after such an answer.
    private var lingerTimer: Scheduled<Void>?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head, .body:
            if answering { disarm() } else { arm(context) }
        case .end:
            disarm()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case let .head(head):
            answering = true
            // A 413 leaves the rest of its body unread (APIServer.requestBody).
            closesAfterAnswer = head.status.code == 413 || head.headerFields[.connection]?.lowercased() == "close"
            disarm()
        case .body:
            break
        case .end:
            answering = false
            if closesAfterAnswer {
                closeAfter(context, writing: data, promise: promise)
                return
            }
            arm(context)
        }
        context.write(data, promise: promise)
    }

    /// An answer that closes its connection (a body refused before it was read, which the
    /// connection cannot skip to a next request): once it is written, the agent's side is
    /// shut (the client reads the answer, then the end), and a second later the connection
    /// goes, as Go's server closes after such an answer. A client still sending the rest of
    /// its body — nothing reads it any more — is then told by the close instead of waiting
    /// for the idle timeout.
    private func closeAfter(_ context: ChannelHandlerContext, writing data: NIOAny, promise: EventLoopPromise<Void>?) {
        closing = true
        disarm()
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.cascade(to: promise)
        let loop = context.eventLoop.assumeIsolated()
        written.futureResult.assumeIsolated().whenSuccess {
            // Gone meanwhile (the client closed first): nothing left to shut.
            guard context.channel.isActive else { return }
            context.close(mode: .output, promise: nil)
            self.lingerTimer = loop.scheduleTask(in: .seconds(1)) { context.close(promise: nil) }
        }
        context.writeAndFlush(data, promise: written)
    }

    private func arm(_ context: ChannelHandlerContext) {
        guard !closing else { return }
        disarm()
        let loop = context.eventLoop.assumeIsolated()
        timer = loop.scheduleTask(in: timeout) { context.close(promise: nil) }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}

/// Counts the API's open connections and gives the memory of a burst back to the system once
/// it is over. Thousands of connections leave their buffers in the allocator's free lists (one
/// arena per event-loop thread); glibc keeps those pages, so without a trim the agent's RSS
/// would stay at the burst's peak for good. When the count falls back to a few after having
/// been high, `malloc_trim` returns the free pages (a few milliseconds, off the event loops).
enum ConnectionCensus {
    /// A burst: this many connections open at once since the last trim.
    static let burst = 256
    /// Back to a few: the trim runs when no more than this many remain.
    static let quiet = 16

    private static let open = Atomic<Int>(0)
    private static let peak = Atomic<Int>(0)

    static func opened() {
        let now = open.add(1, ordering: .relaxed).newValue
        _ = peak.max(now, ordering: .relaxed)
    }

    static func closed() {
        let now = open.subtract(1, ordering: .relaxed).newValue
        guard now <= quiet, peak.load(ordering: .relaxed) >= burst else { return }
        // One trim a burst: whoever resets the peak runs it.
        guard peak.exchange(now, ordering: .relaxed) >= burst else { return }
        DispatchQueue.global(qos: .utility).async { _ = malloc_trim(0) }
    }
}
