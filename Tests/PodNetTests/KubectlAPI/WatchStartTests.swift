import PodNet
import Testing

/// Where a watch starts, and the combinations kube-apiserver refuses.
@Suite struct WatchStartTests {
    @Test func noVersionOrZeroStartsWithTheCurrentObjects() throws {
        #expect(try WatchStart(resourceVersion: nil, sendInitialEvents: nil, resourceVersionMatch: nil, allowWatchBookmarks: false) == .currentObjects)
        #expect(try WatchStart(resourceVersion: "", sendInitialEvents: nil, resourceVersionMatch: nil, allowWatchBookmarks: true) == .currentObjects)
        #expect(try WatchStart(resourceVersion: "0", sendInitialEvents: nil, resourceVersionMatch: nil, allowWatchBookmarks: false) == .currentObjects)
    }

    @Test func aVersionStartsAfterIt() throws {
        #expect(try WatchStart(resourceVersion: "42", sendInitialEvents: nil, resourceVersionMatch: nil, allowWatchBookmarks: false) == .after(42))
        #expect(try WatchStart(resourceVersion: "42", sendInitialEvents: false, resourceVersionMatch: "NotOlderThan", allowWatchBookmarks: true) == .after(42))
    }

    @Test func sendInitialEventsEndsThemWithABookmark() throws {
        #expect(try WatchStart(resourceVersion: nil, sendInitialEvents: true, resourceVersionMatch: "NotOlderThan", allowWatchBookmarks: true)
                == .currentObjectsThenBookmark)
        #expect(try WatchStart(resourceVersion: "7", sendInitialEvents: true, resourceVersionMatch: "NotOlderThan", allowWatchBookmarks: true)
                == .currentObjectsThenBookmark)
    }

    @Test func forbiddenCombinationsAreInvalidListOptions() {
        #expect(throws: APIStatus.self) {
            try WatchStart(resourceVersion: nil, sendInitialEvents: true, resourceVersionMatch: nil, allowWatchBookmarks: true)
        }
        do {
            _ = try WatchStart(resourceVersion: nil, sendInitialEvents: true, resourceVersionMatch: "Exact", allowWatchBookmarks: false)
            Issue.record("accepted")
        } catch {
            #expect(error.code == 422)
            #expect(error.reason == .invalid)
            #expect(error.message == "ListOptions.meta.k8s.io \"\" is invalid: [resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan, allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true]")
        }
        do {
            _ = try WatchStart(resourceVersion: "3", sendInitialEvents: nil, resourceVersionMatch: "NotOlderThan", allowWatchBookmarks: false)
            Issue.record("accepted")
        } catch {
            #expect(error.details?.causes.map(\.field) == ["resourceVersionMatch"])
        }
        do {
            _ = try WatchStart(resourceVersion: "abc", sendInitialEvents: nil, resourceVersionMatch: nil, allowWatchBookmarks: false)
            Issue.record("accepted")
        } catch {
            #expect(error.code == 400)
        }
    }
}
