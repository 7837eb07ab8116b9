import Foundation
import Testing
@testable import PodNet

/// A list joined from its items' kept encodings is, byte for byte, the list written whole; a
/// page sliced from them is the page read back from that list and written again.
@Suite("EncodedList: lists and pages from kept encodings")
struct EncodedListTests {
    static func pod(_ name: String, labels: [String: String] = [:], ready: Bool = true) throws -> Pod {
        var pod = try Pod(json: JSONReader.value(from: """
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"\(name)","namespace":"default","uid":"u-\(name)","resourceVersion":"7",
             "creationTimestamp":"2026-12-06T20:00:00Z","annotations":{"note":"a <b> & \\"c\\" \\u2028 é"}},
             "spec":{"nodeName":"podlab-n1","terminationGracePeriodSeconds":30,
               "containers":[{"name":"c","image":"busybox","command":["sleep","3600"],"resources":{"limits":{"cpu":"1.5"}}}]},
             "status":{"phase":"Running","podIP":"10.244.1.2","conditions":[{"type":"Ready","status":"\(ready ? "True" : "False")"}],
               "containerStatuses":[{"name":"c","ready":\(ready),"restartCount":2,"image":"busybox","imageID":"",
                 "state":{"running":{"startedAt":"2026-12-06T20:00:01Z"}}}]}}
            """))
        pod.metadata.labels = labels
        return pod
    }

    static func pods() throws -> [Pod] {
        [try pod("a", labels: ["app": "web"]), try pod("b", ready: false), try pod("c-with-a-longer-name", labels: ["tier": "<db>"])]
    }

    @Test("the whole list: the same bytes as ObjectList writes, empty or not")
    func wholeList() throws {
        for items in [try Self.pods(), []] {
            let list = EncodedList(Pod.self, items: items.map { EncodedObject($0) }, resourceVersion: "42")
            let written = ObjectList(items: items, resourceVersion: "42").json.jsonText(indent: 0)
            #expect(String(decoding: list.jsonData(), as: UTF8.self) == written)
        }
    }

    @Test("every page of limit 2: the same bytes as paging the list read back")
    func pages() throws {
        let items = try Self.pods()
        let list = EncodedList(Pod.self, items: items.map { EncodedObject($0) }, resourceVersion: "42")
        let whole = try JSONReader.value(from: ObjectList(items: items, resourceVersion: "42").json.jsonText(indent: 0))
        var token: String? = nil
        var pageCount = 0
        repeat {
            let expected = try ListPaging.page(whole, limit: 2, continueToken: token)
            let window = try ListPaging.Window(count: items.count, limit: 2, continueToken: token)
            let page = list.jsonData(items: Array(list.items[window.range]),
                                     metadata: list.metadata(continue: window.continueToken, remainingItemCount: window.remainingItemCount))
            #expect(String(decoding: page, as: UTF8.self) == expected.jsonText(indent: 0))
            token = window.continueToken
            pageCount += 1
        } while token != nil
        #expect(pageCount == 2)
    }

    @Test("a window: the range, the token of the next page and what remains; a foreign token is a 400")
    func window() throws {
        let first = try ListPaging.Window(count: 5, limit: 2, continueToken: nil)
        #expect(first.range == 0..<2 && first.remainingItemCount == 3)
        let second = try ListPaging.Window(count: 5, limit: 2, continueToken: first.continueToken)
        #expect(second.range == 2..<4 && second.remainingItemCount == 1)
        let last = try ListPaging.Window(count: 5, limit: 2, continueToken: second.continueToken)
        #expect(last.range == 4..<5 && last.continueToken == nil && last.remainingItemCount == nil)
        #expect(try ListPaging.Window(count: 5, limit: 0, continueToken: nil).range == 0..<5)
        #expect(throws: APIStatus.self) { try ListPaging.Window(count: 5, limit: 2, continueToken: "bm90IG91cnM=") }
    }

    @Test("a Table printed from the typed pods, and written with their texts spliced, is the Table printed from their JSON")
    func typedTable() throws {
        let served = try #require(ServedResources.find(groupVersion: "v1", resource: "pods"))
        let encoded = try Self.pods().map { EncodedObject($0) }
        let now = Timestamp(secondsSince1970: 1_796_000_000)
        for include in [ServerTable.IncludeObject.metadata, .object, .none] {
            let fromJSON = try ServerTable.table(served, objects: encoded.map(\.json), resourceVersion: "42", now: now, include: include)
            let fromTyped = try ServerTable.table(served, objects: encoded.map(\.json), typed: encoded.map(\.object), resourceVersion: "42",
                                                  now: now, include: include)
            #expect(fromTyped.jsonText(indent: 0) == fromJSON.jsonText(indent: 0))
            let written = try ServerTable.tableText(served, objects: encoded, resourceVersion: "42", now: now, include: include)
            #expect(String(decoding: written, as: UTF8.self) == fromJSON.jsonText(indent: 0))
            // A page's Table carries the page's metadata instead.
            let pageMetadata: JSONValue = .object(["resourceVersion": "42", "continue": "abc", "remainingItemCount": .integer(3)])
            guard case .object(var fields) = fromJSON else { Issue.record("not an object"); return }
            fields["metadata"] = pageMetadata
            let page = try ServerTable.tableText(served, objects: encoded, resourceVersion: "42", metadata: pageMetadata, now: now, include: include)
            #expect(String(decoding: page, as: UTF8.self) == JSONValue.object(fields).jsonText(indent: 0))
        }
        // Objects of another kind are not printed as pods: the JSON's decoding reports them.
        let service = EncodedObject(Service(metadata: ObjectMeta(name: "s", namespace: "default")))
        #expect(served.typedTable?([service.object], now) == nil)
    }

    @Test("a kept encoding read back and written again gives its own bytes (what paging relied on)")
    func roundTrip() throws {
        for pod in try Self.pods() {
            let encoded = EncodedObject(pod)
            let text = String(decoding: encoded.text, as: UTF8.self)
            #expect(try JSONReader.value(from: text).jsonText(indent: 0) == text)
            #expect(text == pod.json.jsonText(indent: 0))
        }
    }
}
