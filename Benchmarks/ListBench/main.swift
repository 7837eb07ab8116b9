// The API's list path in-process (issue 12, "Performance"): N stored pods (default 1 000, as
// the agent keeps them: defaults, status, managedFields) answered as a list the way the agent
// answered it before kept encodings (every pod written again; a page or Table read back from
// the list's JSON) and the way it answers now (`EncodedList`: the pods' kept texts joined, a
// page sliced, a Table printed from the typed pods). Median of R runs of each, side by side,
// and a check that both give the same bytes. No root, no lab.
//
//   list-bench [--pods N] [--runs R]

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PodNet

var pods = 1_000
var runs = 10
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let flag = arguments.next() {
    guard let value = arguments.next(), let number = Int(value), number > 0, flag == "--pods" || flag == "--runs" else {
        print("usage: list-bench [--pods N] [--runs R]")
        exit(2)
    }
    if flag == "--pods" { pods = number } else { runs = number }
}

/// One pod as the agent stores a running busybox pod of scripts/bench-api.
func storedPod(_ index: Int) throws -> Pod {
    let name = String(format: "p-%04d", index)
    let node = "n\(index % 5 + 1)"
    let ip = "10.244.\(index % 5 + 1).\(index / 5 + 2)"
    let created = "2026-12-06T20:00:00Z"
    return try Pod(json: JSONReader.value(from: """
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"\(name)","namespace":"default","uid":"5f0c9b8e-1d2a-4c3b-9e8f-\(String(format: "%012d", index))",
         "resourceVersion":"\(2000 + index)","creationTimestamp":"\(created)","labels":{"app":"bench"},
         "managedFields":[{"manager":"kubectl-client-side-apply","operation":"Update","apiVersion":"v1","time":"\(created)","fieldsType":"FieldsV1",
           "fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\\"name\\":\\"c\\"}":{".":{},"f:command":{},"f:image":{},
           "f:imagePullPolicy":{},"f:name":{},"f:resources":{},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},
           "f:enableServiceLinks":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},"f:terminationGracePeriodSeconds":{}}}}]},
         "spec":{"containers":[{"name":"c","image":"busybox","command":["sleep","36000"],"imagePullPolicy":"Always","resources":{},
           "terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],
          "restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","nodeName":"podlab-\(node)",
          "serviceAccountName":"default","securityContext":{},"schedulerName":"default-scheduler","enableServiceLinks":true,
          "tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},
                         {"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]},
         "status":{"phase":"Running","hostIP":"192.168.200.\(index % 5 + 11)","podIP":"\(ip)","podIPs":[{"ip":"\(ip)"}],"startTime":"\(created)",
          "qosClass":"BestEffort",
          "conditions":[{"type":"Initialized","status":"True","lastTransitionTime":"\(created)"},
                        {"type":"Ready","status":"True","lastTransitionTime":"\(created)"},
                        {"type":"ContainersReady","status":"True","lastTransitionTime":"\(created)"},
                        {"type":"PodScheduled","status":"True","lastTransitionTime":"\(created)"}],
          "containerStatuses":[{"name":"c","state":{"running":{"startedAt":"\(created)"}},"ready":true,"started":true,"restartCount":0,
            "image":"busybox:latest","imageID":"podlab://busybox@sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7",
            "containerID":"podlab://default-\(name)-c"}]}}
        """))
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? .nan : sorted[sorted.count / 2]
}

func timed<T>(_ body: () throws -> T) rethrows -> (milliseconds: Double, result: T) {
    let start = ContinuousClock.now
    let result = try body()
    let elapsed = ContinuousClock.now - start
    return (Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15, result)
}

func format(_ milliseconds: Double) -> String { String(format: "%8.1f ms", milliseconds) }

let objects = try (0..<pods).map(storedPod)
let served = ServedResources.find(groupVersion: "v1", resource: "pods")!
let now = Timestamp(secondsSince1970: 1_796_000_000)
let resourceVersion = "4000"

// What the agent keeps: each pod's encoding, made once per change (here: once).
let (encodeMillis, encoded) = timed { objects.map { EncodedObject($0) } }
let kept = Dictionary(encoded.map { ($0.json["metadata"]?["name"]?.stringValue ?? "", $0) }) { first, _ in first }
/// A list as `Controller.listData` makes it now: each kept encoding looked up and checked
/// against the pod it was made from.
func encodedList() -> EncodedList {
    EncodedList(Pod.self, items: objects.map { pod in
        if let entry = kept[pod.metadata.name], let made = entry.object as? Pod, made == pod { return entry }
        return EncodedObject(pod)
    }, resourceVersion: resourceVersion)
}

/// Every page of `limit` as kubectl reads them (the continue token of each page asks for the next).
func pages(limit: Int, _ page: (String?) throws -> (Data, String?)) rethrows -> [Data] {
    var answers: [Data] = []
    var token: String? = nil
    repeat {
        let (data, next) = try page(token)
        answers.append(data)
        token = next
    } while token != nil
    return answers
}

/// Before: the list written whole, then read back, paged and written again for each page.
func pagedBefore(table: Bool, limit: Int) throws -> [Data] {
    try pages(limit: limit) { token in
        let body = Data(ObjectList(items: objects, resourceVersion: resourceVersion).json.jsonText(indent: 0).utf8)
        let value = try ListPaging.page(try JSONReader.value(from: String(decoding: body, as: UTF8.self)), limit: limit, continueToken: token)
        let next = value["metadata"]?["continue"]?.stringValue
        guard table else { return (Data(value.jsonText(indent: 0).utf8), next) }
        guard case .object(var fields) = try ServerTable.table(served, objects: value["items"]?.arrayValue ?? [], resourceVersion: resourceVersion, now: now),
              let metadata = value["metadata"]?.objectValue else { return (Data(), nil) }
        fields["metadata"] = .object(metadata.filter { ["resourceVersion", "continue", "remainingItemCount"].contains($0.key) })
        return (Data(JSONValue.object(fields).jsonText(indent: 0).utf8), next)
    }
}

/// Now: the kept encodings joined, the page sliced, the Table printed from the typed pods.
func pagedNow(table: Bool, limit: Int) throws -> [Data] {
    try pages(limit: limit) { token in
        let list = encodedList()
        let window = try ListPaging.Window(count: list.items.count, limit: limit, continueToken: token)
        let page = Array(list.items[window.range])
        let metadata = list.metadata(continue: window.continueToken, remainingItemCount: window.remainingItemCount)
        guard table else { return (list.jsonData(items: page, metadata: metadata), window.continueToken) }
        return (try ServerTable.tableText(served, objects: page, resourceVersion: resourceVersion, metadata: metadata, now: now), window.continueToken)
    }
}

let cases: [(String, () throws -> [Data], () throws -> [Data])] = [
    ("list as JSON, no limit", { [Data(ObjectList(items: objects, resourceVersion: resourceVersion).json.jsonText(indent: 0).utf8)] },
     { [encodedList().jsonData()] }),
    ("JSON, limit=500, every page", { try pagedBefore(table: false, limit: 500) }, { try pagedNow(table: false, limit: 500) }),
    ("Table, limit=500, every page (kubectl)", { try pagedBefore(table: true, limit: 500) }, { try pagedNow(table: true, limit: 500) }),
]

print("list-bench: \(pods) pods, median of \(runs); encoding every pod once (kept): \(format(encodeMillis).trimmingCharacters(in: .whitespaces))")
print("    \("what".padding(toLength: 40, withPad: " ", startingAt: 0))   before         now   same bytes")
var identical = true
for (name, before, after) in cases {
    var beforeTimes: [Double] = [], afterTimes: [Double] = []
    var beforeAnswer: [Data] = [], afterAnswer: [Data] = []
    for _ in 0..<runs {
        let old = try timed(before)
        beforeTimes.append(old.milliseconds)
        beforeAnswer = old.result
        let new = try timed(after)
        afterTimes.append(new.milliseconds)
        afterAnswer = new.result
    }
    // A Table's rows carry no time but AGE, the same `now` in both.
    let same = beforeAnswer == afterAnswer
    identical = identical && same
    print("    \(name.padding(toLength: 40, withPad: " ", startingAt: 0)) \(format(median(beforeTimes))) \(format(median(afterTimes)))   \(same ? "yes" : "NO") (\(afterAnswer.reduce(0) { $0 + $1.count }) bytes)")
}
// Where a Table's time goes now: printing the rows, and writing the Table as JSON.
let typedPods = encoded.map(\.object)
let rowsMillis = median((0..<runs).map { _ in timed { served.typedTable?(typedPods, now)?.columns.rows.count ?? 0 }.milliseconds })
let wholeMillis = try median((0..<runs).map { _ in try timed { try ServerTable.tableText(served, objects: encoded, resourceVersion: resourceVersion, now: now).count }.milliseconds })
print("    \("Table of all: printing the rows".padding(toLength: 40, withPad: " ", startingAt: 0))             \(format(rowsMillis))")
print("    \("Table of all: rows and its JSON".padding(toLength: 40, withPad: " ", startingAt: 0))             \(format(wholeMillis))")

// What `podlab get pods` does with the list once it has it: read it, decode the pods, print the table.
let body = encodedList().jsonData()
var cliTimes: [Double] = []
for _ in 0..<runs {
    cliTimes.append(try timed {
        let list = try PodList(json: try JSONReader.value(from: String(decoding: body, as: UTF8.self)))
        return PodTableRow.table(list.items, wide: false, now: now).render().count
    }.milliseconds)
}
print("    \("podlab get pods: read, decode, print".padding(toLength: 40, withPad: " ", startingAt: 0))             \(format(median(cliTimes)))")
exit(identical ? 0 : 1)
