import Foundation
@testable import PodlabAgent
import Testing

/// What a watch from a resourceVersion gets: the remembered events after it, a 410 when they
/// are no longer all remembered, and bookmarks that follow the events they cover.
@Suite struct WatchHubTests {
    static func event(_ version: Int64, kind: String = "Pod") -> WatchEvent {
        WatchEvent(type: .modified, objectKind: kind, namespace: "default", resourceVersion: version, object: Data("{}".utf8))
    }

    static func first(_ count: Int, of stream: AsyncStream<WatchEvent>) async -> [WatchEvent] {
        var events: [WatchEvent] = []
        for await event in stream {
            events.append(event)
            if events.count == count { break }
        }
        return events
    }

    @Test func aWatchFromAVersionGetsTheEventsAfterIt() async throws {
        let hub = WatchHub()
        for version in 1...5 { hub.publish(Self.event(Int64(version))) }
        hub.publish(Self.event(6, kind: "Service"))
        let stream = try hub.subscribe(kind: "Pod", namespace: nil, since: 3)
        hub.publish(Self.event(7))
        #expect(await Self.first(3, of: stream).map(\.resourceVersion) == [4, 5, 7])
    }

    @Test func aVersionOlderThanTheRememberedEventsIsExpired() throws {
        let hub = WatchHub()
        for version in 1...Int64(WatchHub.recentEvents + 1) { hub.publish(Self.event(version)) }
        // Half the events were forgotten to make room: a watch from before them cannot be served.
        let forgotten = Int64(WatchHub.recentEvents / 2 + 1)
        #expect(throws: WatchExpired(requested: 10, oldest: forgotten)) { try hub.subscribe(kind: "Pod", namespace: nil, since: 10) }
        #expect(WatchExpired(requested: 10, oldest: forgotten).message == "too old resource version: 10 (\(forgotten))")
        _ = try hub.subscribe(kind: "Pod", namespace: nil, since: forgotten)
        _ = try hub.subscribe(kind: "Pod", namespace: nil, since: nil)
    }

    @Test func versionsFromBeforeTheAgentStartedAreExpired() throws {
        let hub = WatchHub()
        hub.start(at: 300)
        #expect(throws: WatchExpired.self) { try hub.subscribe(kind: "Pod", namespace: nil, since: 299) }
        _ = try hub.subscribe(kind: "Pod", namespace: nil, since: 300)
    }

    @Test func aBookmarkCarriesTheNewestVersionAndFollowsTheEventsItCovers() async throws {
        let hub = WatchHub(bookmarkInterval: .milliseconds(50))
        hub.start(at: 10)
        let plain = try hub.subscribe(kind: "Pod", namespace: nil)
        let marked = try hub.subscribe(kind: "Pod", namespace: "default", bookmarks: true)
        hub.publish(Self.event(11))
        hub.publish(Self.event(12, kind: "Service"))
        let events = await Self.first(2, of: marked)
        #expect(events.map(\.type) == [.modified, .bookmark])
        #expect(events.last?.resourceVersion == 12)
        #expect(events.last?.objectKind == "Pod")
        hub.publish(Self.event(13))
        // The watch without bookmarks got the events only.
        #expect(await Self.first(2, of: plain).map(\.type) == [.modified, .modified])
        hub.finishAll()
    }
}
