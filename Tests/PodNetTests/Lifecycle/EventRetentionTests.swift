import Testing
@testable import PodNet

@Suite("Event retention: one hour after the last occurrence, at most a count")
struct EventRetentionTests {
    static let retention = EventRetention(timeToLive: 3600, maximumCount: 3)

    @Test("an event goes once its last occurrence is more than the time to live ago",
          arguments: [(Int64(0), false), (3599, false), (3600, false), (3601, true), (86_400, true)])
    func expiry(age: Int64, expired: Bool) {
        #expect(Self.retention.isExpired(lastSeen: 1_000_000, now: 1_000_000 + age) == expired)
        #expect(Self.retention.dropped(["k": 1_000_000], now: 1_000_000 + age) == (expired ? ["k"] : []))
    }

    @Test("beyond the count, the least recently seen go first (expired ones first of all)")
    func count() {
        let now: Int64 = 10_000
        let events: [String: Int64] = ["a": now - 10, "b": now - 5000, "c": now - 1, "d": now - 20, "e": now]
        // b expired; of a, c, d, e one more must go for 3: d, the least recently seen.
        #expect(Self.retention.dropped(events, now: now) == ["b", "d"])
        // Room for one more: a goes too.
        #expect(Self.retention.dropped(events, now: now, adding: 1) == ["a", "b", "d"])
        #expect(Self.retention.dropped(["x": now, "y": now], now: now).isEmpty)
        // Ties are broken by key, not by a dictionary's order.
        #expect(Self.retention.dropped(["q": now, "p": now, "s": now, "r": now], now: now) == ["p"])
    }

    @Test("Kubernetes' hour and a thousand events by default")
    func standard() {
        #expect(EventRetention.standard == EventRetention(timeToLive: 3600, maximumCount: 1000))
    }

    @Test("repeats share a key: the object and its field, type, reason and message")
    func key() {
        let object = ObjectReference(kind: "Pod", namespace: "default", name: "web", uid: "u1", apiVersion: "v1", fieldPath: "spec.containers{app}")
        let event = Event(metadata: ObjectMeta(name: "web.1", namespace: "default"), involvedObject: object, reason: "Unhealthy",
                          message: "Readiness probe failed", type: .warning, lastTimestamp: Timestamp(secondsSince1970: 42))
        #expect(EventRetention.key(of: event) == EventRetention.key(about: object, type: .warning, reason: "Unhealthy", message: "Readiness probe failed"))
        #expect(EventRetention.key(of: event) != EventRetention.key(about: object, type: .warning, reason: "Unhealthy", message: "Liveness probe failed"))
        #expect(EventRetention.lastSeen(event) == 42)
    }
}
