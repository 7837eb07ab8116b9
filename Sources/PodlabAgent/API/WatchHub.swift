import Foundation
import Netns
import PodNet

/// One change to a stored object, as a Kubernetes watch reports it.
public struct WatchEvent: Sendable {
    public enum Kind: String, Sendable {
        case added = "ADDED", modified = "MODIFIED", deleted = "DELETED"
    }
    public var type: Kind
    public var objectKind: String
    public var namespace: String
    public var resourceVersion: Int64
    /// The object's JSON.
    public var object: Data
    /// Its watch line, once a watcher wanted it.
    var line: Data?
    /// Its object's labels, once a watch with a label selector wanted them.
    var labels: [String: String]?

    public init(type: Kind, objectKind: String, namespace: String, resourceVersion: Int64, object: Data) {
        self.type = type
        self.objectKind = objectKind
        self.namespace = namespace
        self.resourceVersion = resourceVersion
        self.object = object
    }

    /// `{"object":OBJECT,"type":"TYPE"}`: the bytes `{"type": TYPE, "object": OBJECT}` is written
    /// as (keys in byte order), with the object's text as it is.
    static func line(_ type: String, object: Data) -> Data {
        object.withUnsafeBytes { line(type, object: $0) }
    }

    static func line(_ type: String, object: UnsafeRawBufferPointer) -> Data {
        var line = Data()
        line.reserveCapacity(object.count + type.utf8.count + 20)
        line.append(contentsOf: #"{"object":"#.utf8)
        if let base = object.baseAddress { line.append(base.assumingMemoryBound(to: UInt8.self), count: object.count) }
        line.append(contentsOf: #","type":""#.utf8)
        line.append(contentsOf: type.utf8)
        line.append(contentsOf: #""}"#.utf8)
        return line
    }

    /// The `metadata.labels` of an object's JSON text (none when it has none or is not JSON).
    static func labels(in object: Data) -> [String: String] {
        guard let value = try? JSONReader.value(from: String(decoding: object, as: UTF8.self)),
              case let .object(fields)? = value["metadata"]?["labels"] else { return [:] }
        var labels: [String: String] = [:]
        for (key, value) in fields { labels[key] = value.stringValue ?? "" }
        return labels
    }
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

/// What one watch asks of the hub.
public struct WatchRequest: Sendable {
    /// The kind watched (`Pod`, `Service`, ...).
    public var kind: String
    /// Only this namespace's objects, or all when nil.
    public var namespace: String?
    /// Only objects whose labels this accepts (a `labelSelector`), or all when nil.
    public var labels: (@Sendable ([String: String]) -> Bool)?
    /// With `allowWatchBookmarks`: the bookmark line for a version, sent now and then.
    public var bookmark: (@Sendable (Int64) -> Data)?

    public init(kind: String, namespace: String?, labels: (@Sendable ([String: String]) -> Bool)? = nil,
                bookmark: (@Sendable (Int64) -> Data)? = nil) {
        self.kind = kind
        self.namespace = namespace
        self.labels = labels
        self.bookmark = bookmark
    }
}

/// Fans store changes out to watchers (`?watch=true`).
///
/// Each event's watch line (`{"object":…,"type":"MODIFIED"}`) is written once, when the first
/// watcher wants it, and every watcher gets that same line: a watcher costs one copy into its
/// `WatchQueue` per event, not an encoding of its own, and its writer sends what has gathered
/// in one write. Labels are read from the event's text once per event, and only
/// when a watch has a label selector.
public final class WatchHub: Sendable {
    private struct Subscriber {
        var request: WatchRequest
        var queue: WatchQueue

        func wants(_ event: WatchEvent) -> Bool {
            request.kind == event.objectKind && (request.namespace == nil || request.namespace == event.namespace)
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

    /// The lines a watcher may have waiting to be sent. A watcher that falls this far behind is
    /// ended, as kube-apiserver ends a watcher too slow for its buffer; its client lists and
    /// watches again. Events are never dropped from a watch that goes on.
    static let pendingLines = 10_000

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

    /// A watch's lines: `initial` first, then the remembered events newer than resourceVersion
    /// `since`, then every event `request` wants as it is published; bookmarks now and then where
    /// the request has them. It ends when its reader stops reading, or when the reader falls
    /// `pendingLines` behind. Throws `WatchExpired` when events after `since` are no longer known.
    public func subscribe(_ request: WatchRequest, since: Int64? = nil, initial: [Data] = []) throws -> WatchLines {
        let id = UUID()
        let queue = WatchQueue(limit: max(Self.pendingLines, initial.count + 1))
        let subscriber = Subscriber(request: request, queue: queue)
        // Under the lock: an event published meanwhile is either remembered here or sent to
        // the new subscriber, never both.
        try state.withLock { state in
            if let since {
                guard since >= state.expiredThrough else { throw WatchExpired(requested: since, oldest: state.expiredThrough) }
            }
            for line in initial { queue.yield(line) }
            if let since {
                for index in state.recent.indices where state.recent[index].resourceVersion > since && subscriber.wants(state.recent[index]) {
                    if let line = Self.line(of: &state.recent[index], for: request) { queue.yield(line) }
                }
            }
            state.subscribers[id] = subscriber
        }
        queue.onTermination { [weak self] in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        if request.bookmark != nil { startBookmarkTimer() }
        return WatchLines(queue)
    }

    /// How many watches are open.
    var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    public func publish(_ event: WatchEvent) {
        var event = event
        var ended: [WatchQueue] = []
        state.withLock { state in
            state.latest = max(state.latest, event.resourceVersion)
            // Yielded under the lock, so a bookmark (sent under it too) never overtakes an
            // event of its version or older.
            for subscriber in state.subscribers.values where subscriber.wants(event) {
                guard let line = Self.line(of: &event, for: subscriber.request) else { continue }
                if subscriber.queue.yield(line) == .dropped { ended.append(subscriber.queue) }
            }
            state.recent.append(event)
            if state.recent.count > WatchHub.recentEvents {
                let forgotten = state.recent.count - WatchHub.recentEvents / 2
                state.expiredThrough = state.recent.prefix(forgotten).reduce(state.expiredThrough) { max($0, $1.resourceVersion) }
                state.recent.removeFirst(forgotten)
            }
        }
        // Outside the lock: finishing runs the watch's termination, which takes it.
        for queue in ended { queue.finish() }
    }

    /// The event's line for a watch that wants its kind and namespace, or nil when the watch's
    /// label selector refuses it. The line and the labels are made once per event, kept in it.
    private static func line(of event: inout WatchEvent, for request: WatchRequest) -> Data? {
        if let accepts = request.labels {
            if event.labels == nil { event.labels = WatchEvent.labels(in: event.object) }
            guard accepts(event.labels ?? [:]) else { return nil }
        }
        if event.line == nil { event.line = WatchEvent.line(event.type.rawValue, object: event.object) }
        return event.line
    }

    /// Sends every watch that allows them a bookmark at the newest version: under the lock, so
    /// each follows every event of that version or older it was sent.
    func sendBookmarks() {
        state.withLock { state in
            for subscriber in state.subscribers.values {
                guard let bookmark = subscriber.request.bookmark else { continue }
                subscriber.queue.yield(bookmark(state.latest))
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
            return state.subscribers.values.map(\.queue)
        }
        for queue in all { queue.finish() }
    }
}
