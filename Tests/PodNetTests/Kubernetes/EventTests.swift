import Testing
@testable import PodNet

@Suite("Events")
struct EventTests {
    static let t0 = Timestamp(secondsSince1970: 1_700_000_000)

    static func event(_ reason: String, _ message: String, type: EventType, first: Int64, last: Int64, count: Int32) -> Event {
        Event(metadata: ObjectMeta(name: "web.1", namespace: "default"),
              involvedObject: ObjectReference(kind: "Pod", namespace: "default", name: "web", uid: "u", apiVersion: "v1", fieldPath: "spec.containers{web}"),
              reason: reason, message: message, type: type,
              firstTimestamp: Timestamp(secondsSince1970: t0.secondsSince1970 + first),
              lastTimestamp: Timestamp(secondsSince1970: t0.secondsSince1970 + last), count: count)
    }

    @Test("describe's Events section: oldest first, repeats as (xN over AGE), as kubectl prints it")
    func section() {
        let now = Timestamp(secondsSince1970: Self.t0.secondsSince1970 + 30)
        let text = EventDescription.section([
            Self.event("Killing", "Container web failed liveness probe, will be restarted", type: .normal, first: 25, last: 25, count: 1),
            Self.event("Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 404", type: .warning, first: 5, last: 25, count: 3),
        ], now: now)
        #expect(text == """
            Events:
              Type\tReason\tAge\tFrom\tMessage
              ----\t------\t----\t----\t-------
              Warning\tUnhealthy\t5s (x3 over 25s)\tkubelet\tLiveness probe failed: HTTP probe failed with statuscode: 404
              Normal\tKilling\t5s\tkubelet\tContainer web failed liveness probe, will be restarted

            """)
        #expect(EventDescription.section([], now: now) == "Events:\t<none>\n")
    }

    @Test("an event reads back what it wrote")
    func roundTrip() throws {
        let event = Self.event("Unhealthy", "Readiness probe failed: ", type: .warning, first: 0, last: 3, count: 2)
        #expect(try Event(json: event.json) == event)
        #expect(event.json["involvedObject"]?["fieldPath"] == "spec.containers{web}")
        #expect(event.json["source"] == ["component": "kubelet"])
    }
}
