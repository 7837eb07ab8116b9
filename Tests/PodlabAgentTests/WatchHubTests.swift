import Foundation
import NIOCore
@testable import PodlabAgent
import PodNet
import Testing

/// What a watch from a resourceVersion gets: the remembered events after it, a 410 when they
/// are no longer all remembered, and bookmarks that follow the events they cover; each event's
/// line written once and shared by every watcher; label selectors; a watcher too far behind ended.
@Suite struct WatchHubTests {
    static func event(_ version: Int64, kind: String = "Pod", labels: [String: String] = [:]) -> WatchEvent {
        let object = JSONValue.object(["metadata": .object(["labels": .object(labels.mapValues { .string($0) }),
                                                            "resourceVersion": .string(String(version))])])
        return WatchEvent(type: .modified, objectKind: kind, namespace: "default", resourceVersion: version,
                          object: Data(object.jsonText(indent: 0).utf8))
    }

    /// A line's type and its object's resourceVersion.
    static func read(_ line: Data) throws -> (type: String, version: Int64) {
        let value = try JSONReader.value(from: String(decoding: line, as: UTF8.self))
        return (value["type"]?.stringValue ?? "", Int64(value["object"]?["metadata"]?["resourceVersion"]?.stringValue ?? "") ?? -1)
    }

    static func first(_ count: Int, of stream: WatchLines) async throws -> [(type: String, version: Int64)] {
        try await stream.first(count).map(read)
    }

    static let pods = WatchRequest(kind: "Pod", namespace: nil)

    @Test func aWatchFromAVersionGetsTheEventsAfterIt() async throws {
        let hub = WatchHub()
        for version in 1...5 { hub.publish(Self.event(Int64(version))) }
        hub.publish(Self.event(6, kind: "Service"))
        let stream = try hub.subscribe(Self.pods, since: 3, initial: [Data(#"{"object":{},"type":"ADDED"}"#.utf8)])
        hub.publish(Self.event(7))
        let lines = try await Self.first(4, of: stream)
        #expect(lines.map(\.type) == ["ADDED", "MODIFIED", "MODIFIED", "MODIFIED"])
        #expect(lines.dropFirst().map(\.version) == [4, 5, 7])
    }

    @Test func theLineIsTheEventWrittenAsTheAPIWritesIt() throws {
        let event = Self.event(9, labels: ["app": "web"])
        let written = Controller.watchLine("MODIFIED", written: Array(event.object))
        #expect(WatchEvent.line("MODIFIED", object: event.object) == written)
        #expect(WatchEvent.labels(in: event.object) == ["app": "web"])
        #expect(WatchEvent.labels(in: Data("not json".utf8)).isEmpty)
    }

    @Test func aLabelSelectorPassesOnlyTheObjectsItAccepts() async throws {
        let hub = WatchHub()
        let selector = try LabelSelector(parsing: "app=web")
        let web = try hub.subscribe(WatchRequest(kind: "Pod", namespace: nil, labels: { selector.matches($0) }))
        let all = try hub.subscribe(Self.pods)
        hub.publish(Self.event(1, labels: ["app": "db"]))
        hub.publish(Self.event(2, labels: ["app": "web"]))
        hub.publish(Self.event(3))
        #expect(try await Self.first(1, of: web).map(\.version) == [2])
        #expect(try await Self.first(3, of: all).map(\.version) == [1, 2, 3])
    }

    @Test func aWatcherTooFarBehindIsEndedAndTheOthersGoOn() async throws {
        let hub = WatchHub()
        let slow = try hub.subscribe(Self.pods)
        let total = WatchHub.pendingLines + 5
        var keeping = try hub.subscribe(Self.pods).makeAsyncIterator()
        var read = 0
        for version in 1...Int64(total) {
            hub.publish(Self.event(version))
            // The second watcher keeps up.
            if let batch = await keeping.next() { read += WatchLines.split(batch).count }
        }
        #expect(read == total)
        // The slow one got what fit, in order, and then its end: never a gap.
        var versions: [Int64] = []
        for await batch in slow { versions += try WatchLines.split(batch).map { try Self.read($0).version } }
        #expect(versions == Array(1...Int64(WatchHub.pendingLines)))
    }

    @Test func linesThatGatherWhileTheWriterIsBusyComeAsOneBatch() async throws {
        let hub = WatchHub()
        var watch = try hub.subscribe(Self.pods).makeAsyncIterator()
        hub.publish(Self.event(1))
        let first = try #require(await watch.next())
        #expect(WatchLines.split(first).count == 1)
        // Three events while the writer is "writing" the first: one batch of three lines.
        for version in 2...4 { hub.publish(Self.event(Int64(version))) }
        let second = try #require(await watch.next())
        #expect(try WatchLines.split(second).map { try Self.read($0).version } == [2, 3, 4])
        #expect(second.readableBytesView.last == UInt8(ascii: "\n"))
    }

    @Test func aWatchWhoseReaderIsGoneLeavesTheHub() async throws {
        let hub = WatchHub()
        do {
            let watch = try hub.subscribe(Self.pods)
            #expect(hub.subscriberCount == 1)
            _ = watch
        }
        #expect(hub.subscriberCount == 0)
        // A reader whose task is cancelled while it waits.
        let watch = try hub.subscribe(Self.pods)
        let reader = Task { for await _ in watch {} }
        try await Task.sleep(for: .milliseconds(20))
        reader.cancel()
        await reader.value
        #expect(hub.subscriberCount == 0)
    }

    @Test func aTimedWatchEndsAfterItsTimeoutWithItsLinesSent() async throws {
        let hub = WatchHub()
        let subscription = try hub.subscribe(Self.pods)
        hub.publish(Self.event(1))
        // The timer starts after the event was queued: a pause of the test's thread cannot end
        // the watch before it.
        let watch = subscription.ending(after: .milliseconds(50))
        var versions: [Int64] = []
        for await batch in watch { versions += try WatchLines.split(batch).map { try Self.read($0).version } }
        #expect(versions == [1])
        #expect(hub.subscriberCount == 0)
    }

    @Test func aVersionOlderThanTheRememberedEventsIsExpired() throws {
        let hub = WatchHub()
        for version in 1...Int64(WatchHub.recentEvents + 1) { hub.publish(Self.event(version)) }
        // Half the events were forgotten to make room: a watch from before them cannot be served.
        let forgotten = Int64(WatchHub.recentEvents / 2 + 1)
        #expect(throws: WatchExpired(requested: 10, oldest: forgotten)) { try hub.subscribe(Self.pods, since: 10) }
        #expect(WatchExpired(requested: 10, oldest: forgotten).message == "too old resource version: 10 (\(forgotten))")
        _ = try hub.subscribe(Self.pods, since: forgotten)
        _ = try hub.subscribe(Self.pods, since: nil)
    }

    @Test func versionsFromBeforeTheAgentStartedAreExpired() throws {
        let hub = WatchHub()
        hub.start(at: 300)
        #expect(throws: WatchExpired.self) { try hub.subscribe(Self.pods, since: 299) }
        _ = try hub.subscribe(Self.pods, since: 300)
    }

    @Test func aBookmarkCarriesTheNewestVersionAndFollowsTheEventsItCovers() async throws {
        // Long enough that the two events are published before the first bookmark is due.
        let hub = WatchHub(bookmarkInterval: .seconds(1))
        hub.start(at: 10)
        let plain = try hub.subscribe(Self.pods)
        let marked = try hub.subscribe(WatchRequest(kind: "Pod", namespace: "default", bookmark: { version in
            WatchEvent.line("BOOKMARK", object: Data(#"{"kind":"Pod","metadata":{"resourceVersion":"\#(version)"}}"#.utf8))
        }))
        hub.publish(Self.event(11))
        hub.publish(Self.event(12, kind: "Service"))
        let lines = try await Self.first(2, of: marked)
        #expect(lines.map(\.type) == ["MODIFIED", "BOOKMARK"])
        #expect(lines.last?.version == 12)
        hub.publish(Self.event(13))
        // The watch without bookmarks got the events only.
        #expect(try await Self.first(2, of: plain).map(\.type) == ["MODIFIED", "MODIFIED"])
        hub.finishAll()
    }
}

extension WatchLines {
    /// A batch's lines, without their newlines.
    static func split(_ batch: ByteBuffer) -> [Data] {
        batch.readableBytesView.split(separator: UInt8(ascii: "\n")).map { Data($0) }
    }

    /// Line by line, as a client reads a watch.
    var eachLine: AsyncStream<Data> {
        AsyncStream { continuation in
            let task = Task {
                for await batch in self {
                    for line in Self.split(batch) { continuation.yield(line) }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// The first `count` lines (fewer if the watch ends first).
    func first(_ count: Int) async -> [Data] {
        var lines: [Data] = []
        for await batch in self {
            lines += Self.split(batch)
            if lines.count >= count { break }
        }
        return Array(lines.prefix(count))
    }
}

/// A watch write carries a batch of lines: what is filtered or printed per event is done per line.
@Suite struct WatchBatchLinesTests {
    @Test func eachLineIsTransformedOrLeftOut() {
        let batch = ByteBuffer(string: "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n")
        let result = WatchLines.eachLine(of: batch) { line in
            let text = String(buffer: line)
            return text.contains("2") ? nil : ByteBuffer(string: text.uppercased())
        }
        #expect(String(buffer: result) == "{\"N\":1}\n{\"N\":3}\n")
        let none = WatchLines.eachLine(of: batch) { _ in nil }
        #expect(none.readableBytes == 0)
        // A last line without its newline still counts.
        let open = WatchLines.eachLine(of: ByteBuffer(string: "a\nb")) { $0 }
        #expect(String(buffer: open) == "a\nb\n")
    }
}
