import Foundation
import Netns

/// One change to a stored object, as a Kubernetes watch reports it.
public struct WatchEvent: Sendable {
    public enum Kind: String, Sendable { case added = "ADDED", modified = "MODIFIED", deleted = "DELETED" }
    public var type: Kind
    public var objectKind: String
    public var namespace: String
    public var resourceVersion: Int64
    /// The object's JSON.
    public var object: Data
}

/// Fans store changes out to watchers (`?watch=true`).
public final class WatchHub: Sendable {
    private struct Subscriber {
        var kind: String
        var namespace: String?
        var continuation: AsyncStream<WatchEvent>.Continuation

        func wants(_ event: WatchEvent) -> Bool {
            kind == event.objectKind && (namespace == nil || namespace == event.namespace)
        }
    }

    private struct State {
        var subscribers: [UUID: Subscriber] = [:]
        /// The latest events, oldest first, for a watch that starts from a resourceVersion.
        var recent: [WatchEvent] = []
    }

    private let subscribers = Locked(State())

    /// How many past events a watch from a resourceVersion can catch up on: a client lists,
    /// then watches from the list's version, and what changed in between must reach it
    /// (kubectl's `delete` waits for the DELETED event of an object that may be gone by then).
    static let recentEvents = 1024

    public init() {}

    /// A stream of events for `kind` (in `namespace`, or all when nil), starting with the
    /// remembered events newer than resourceVersion `since`. It ends when the consumer stops
    /// iterating.
    public func subscribe(kind: String, namespace: String?, since: Int64? = nil) -> AsyncStream<WatchEvent> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<WatchEvent>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        let subscriber = Subscriber(kind: kind, namespace: namespace, continuation: continuation)
        // Under the lock: an event published meanwhile is either remembered here or sent to
        // the new subscriber, never both.
        subscribers.withLock { state in
            state.subscribers[id] = subscriber
            if let since {
                for event in state.recent where event.resourceVersion > since && subscriber.wants(event) { continuation.yield(event) }
            }
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    public func publish(_ event: WatchEvent) {
        let targets = subscribers.withLock { state in
            state.recent.append(event)
            if state.recent.count > WatchHub.recentEvents { state.recent.removeFirst(state.recent.count - WatchHub.recentEvents / 2) }
            return state.subscribers.values.filter { $0.wants(event) }.map(\.continuation)
        }
        for continuation in targets { continuation.yield(event) }
    }

    /// Ends every stream (agent shutdown).
    public func finishAll() {
        let all = subscribers.withLock { state in
            defer { state.subscribers.removeAll() }
            return state.subscribers.values.map(\.continuation)
        }
        for continuation in all { continuation.finish() }
    }
}
