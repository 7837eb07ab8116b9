/// How long Events are kept, and how many: Kubernetes keeps an event for an hour after its
/// last occurrence (kube-apiserver's `--event-ttl`, 1 h; a repeat renews it). podlab does the
/// same, and also keeps at most `maximumCount`, dropping the least recently seen first, so
/// a pod failing a probe every second forever cannot grow the store without limit.
public struct EventRetention: Sendable, Equatable {
    /// Seconds after its last occurrence an event is dropped.
    public var timeToLive: Int64
    public var maximumCount: Int

    public init(timeToLive: Int64, maximumCount: Int) {
        self.timeToLive = timeToLive
        self.maximumCount = maximumCount
    }

    /// One hour, 1 000 events.
    public static let standard = EventRetention(timeToLive: 3600, maximumCount: 1000)

    /// What repeats of one event share, so they count up one event (the kubelet's recorder
    /// aggregates them the same way): the object (and its field), type, reason and message.
    public static func key(about object: ObjectReference, type: EventType, reason: String, message: String) -> String {
        [object.uid, object.fieldPath, type.rawValue, reason, message].joined(separator: "\u{0}")
    }

    public static func key(of event: Event) -> String {
        key(about: event.involvedObject, type: event.type, reason: event.reason, message: event.message)
    }

    /// When an event was last seen (seconds since 1970): its last timestamp, else its first,
    /// else its creation.
    public static func lastSeen(_ event: Event) -> Int64 {
        (event.lastTimestamp ?? event.firstTimestamp ?? event.metadata.creationTimestamp)?.secondsSince1970 ?? 0
    }

    /// Whether an event last seen at `lastSeen` has expired at `now`.
    public func isExpired(lastSeen: Int64, now: Int64) -> Bool {
        now - lastSeen > timeToLive
    }

    /// The keys of `events` (key → last seen) to drop at `now` so that `adding` more fit: every
    /// expired one, then the least recently seen beyond the count (ties by key, so the choice
    /// does not depend on a dictionary's order).
    public func dropped(_ events: [String: Int64], now: Int64, adding: Int = 0) -> [String] {
        var dropped: [String] = []
        var kept: [(key: String, lastSeen: Int64)] = []
        for (key, lastSeen) in events {
            if isExpired(lastSeen: lastSeen, now: now) { dropped.append(key) } else { kept.append((key, lastSeen)) }
        }
        let excess = kept.count + adding - maximumCount
        if excess > 0 {
            kept.sort { ($0.lastSeen, $0.key) < ($1.lastSeen, $1.key) }
            dropped += kept.prefix(min(excess, kept.count)).map(\.key)
        }
        return dropped.sorted()
    }
}
