import Foundation
import Netns

/// One change to a stored object, as a Kubernetes watch reports it.
public struct WatchEvent: Sendable {
    public enum Kind: String, Sendable {
        case added = "ADDED", modified = "MODIFIED", deleted = "DELETED"
        /// No change: the watch has seen everything up to `resourceVersion` (`allowWatchBookmarks`).
        case bookmark = "BOOKMARK"
    }
    public var type: Kind
    public var objectKind: String
    public var namespace: String
    public var resourceVersion: Int64
    /// The object's JSON (empty for a bookmark).
    public var object: Data
}

/// A watch from a resourceVersion whose later events are no longer all known: the client must
/// list again (the API server's `410 Gone`, reason `Expired`).
public struct WatchExpired: Error, Equatable {
    /// The version asked for.
    public var requested: Int64
    /// The oldest version a watch can start from now.
    public var oldest: Int64

    /// kube-apiserver's message for it.
    public var message: String { "too old resource version: \(requested) (\(oldest))" }
}

/// Fans store changes out to watchers (`?watch=true`).
public final class WatchHub: Sendable {
    private struct Subscriber {
        var kind: String
        var namespace: String?
        var bookmarks: Bool
        var continuation: AsyncStream<WatchEvent>.Continuation

        func wants(_ event: WatchEvent) -> Bool {
            kind == event.objectKind && (namespace == nil || namespace == event.namespace)
        }
    }

    private struct State {
        var subscribers: [UUID: Subscriber] = [:]
        /// The latest events, oldest first, for a watch that starts from a resourceVersion.
        var recent: [WatchEvent] = []
        /// Events up to this version are not all in `recent` (forgotten, or from before this
        /// agent started): a watch must start at or after it.
        var expiredThrough: Int64 = 0
        /// The newest version published.
        var latest: Int64 = 0
    }

    private let state = Locked(State())

    /// How many past events a watch from a resourceVersion can catch up on: a client lists,
    /// then watches from the list's version, and what changed in between must reach it
    /// (kubectl's `delete` waits for the DELETED event of an object that may be gone by then).
    static let recentEvents = 1024

    /// How often a watch that allows bookmarks gets one (kube-apiserver: about a minute).
    let bookmarkInterval: Duration
    private let bookmarkTimer = Locked<Task<Void, Never>?>(nil)

    public init(bookmarkInterval: Duration = .seconds(60)) {
        self.bookmarkInterval = bookmarkInterval
    }

    deinit { bookmarkTimer.withLock { $0?.cancel() } }

    /// The store's version when this agent started: what changed before it was published by
    /// another agent, so a watch from an older version cannot be served.
    public func start(at version: Int64) {
        state.withLock { state in
            state.expiredThrough = max(state.expiredThrough, version)
            state.latest = max(state.latest, version)
        }
    }

    /// A stream of events for `kind` (in `namespace`, or all when nil), starting with the
    /// remembered events newer than resourceVersion `since`; with `bookmarks`, a bookmark now
    /// and then. It ends when the consumer stops iterating. Throws `WatchExpired` when events
    /// after `since` are no longer known.
    public func subscribe(kind: String, namespace: String?, since: Int64? = nil, bookmarks: Bool = false) throws -> AsyncStream<WatchEvent> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<WatchEvent>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        let subscriber = Subscriber(kind: kind, namespace: namespace, bookmarks: bookmarks, continuation: continuation)
        // Under the lock: an event published meanwhile is either remembered here or sent to
        // the new subscriber, never both.
        try state.withLock { state in
            if let since {
                guard since >= state.expiredThrough else { throw WatchExpired(requested: since, oldest: state.expiredThrough) }
                for event in state.recent where event.resourceVersion > since && subscriber.wants(event) { continuation.yield(event) }
            }
            state.subscribers[id] = subscriber
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        if bookmarks { startBookmarkTimer() }
        return stream
    }

    public func publish(_ event: WatchEvent) {
        state.withLock { state in
            state.recent.append(event)
            state.latest = max(state.latest, event.resourceVersion)
            if state.recent.count > WatchHub.recentEvents {
                let forgotten = state.recent.count - WatchHub.recentEvents / 2
                state.expiredThrough = state.recent.prefix(forgotten).reduce(state.expiredThrough) { max($0, $1.resourceVersion) }
                state.recent.removeFirst(forgotten)
            }
            // Yielded under the lock, so a bookmark (sent under it too) never overtakes an
            // event of its version or older.
            for subscriber in state.subscribers.values where subscriber.wants(event) { subscriber.continuation.yield(event) }
        }
    }

    /// Sends every watch that allows them a bookmark at the newest version: under the lock, so
    /// each follows every event of that version or older it was sent.
    func sendBookmarks() {
        state.withLock { state in
            for subscriber in state.subscribers.values where subscriber.bookmarks {
                subscriber.continuation.yield(WatchEvent(type: .bookmark, objectKind: subscriber.kind, namespace: subscriber.namespace ?? "",
                                                         resourceVersion: state.latest, object: Data()))
            }
        }
    }

    private func startBookmarkTimer() {
        bookmarkTimer.withLock { timer in
            guard timer == nil else { return }
            let interval = bookmarkInterval
            timer = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    guard let self else { return }
                    self.sendBookmarks()
                }
            }
        }
    }

    /// Ends every stream (agent shutdown).
    public func finishAll() {
        bookmarkTimer.withLock { timer in
            timer?.cancel()
            timer = nil
        }
        let all = state.withLock { state in
            defer { state.subscribers.removeAll() }
            return state.subscribers.values.map(\.continuation)
        }
        for continuation in all { continuation.finish() }
    }
}
