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
    }

    private let subscribers = Locked<[UUID: Subscriber]>([:])

    public init() {}

    /// A stream of events for `kind` (in `namespace`, or all when nil). It ends when the
    /// consumer stops iterating.
    public func subscribe(kind: String, namespace: String?) -> AsyncStream<WatchEvent> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<WatchEvent>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        subscribers.withLock { $0[id] = Subscriber(kind: kind, namespace: namespace, continuation: continuation) }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        return stream
    }

    public func publish(_ event: WatchEvent) {
        let targets = subscribers.withLock { subs in
            subs.values.filter { $0.kind == event.objectKind && ($0.namespace == nil || $0.namespace == event.namespace) }.map(\.continuation)
        }
        for continuation in targets { continuation.yield(event) }
    }

    /// Ends every stream (agent shutdown).
    public func finishAll() {
        let all = subscribers.withLock { subs in
            defer { subs.removeAll() }
            return subs.values.map(\.continuation)
        }
        for continuation in all { continuation.finish() }
    }
}
