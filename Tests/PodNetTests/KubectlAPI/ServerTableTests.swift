import Testing
@testable import PodNet

/// Server-side printing: the Table kubectl receives prints what `podlab get` prints.
@Suite("meta.k8s.io Table rendering")
struct ServerTableTests {
    static let now = Timestamp(secondsSince1970: 1_800_000_000)

    static func pod(_ name: String, ip: String, node: String, ready: Bool, restarts: Int = 0) throws -> JSONValue {
        try JSONReader.value(from: """
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"\(name)","namespace":"default","uid":"u-\(name)",
             "labels":{"run":"\(name)"},"resourceVersion":"7","creationTimestamp":"\(now.adding(seconds: -300))"},
             "spec":{"nodeName":"\(node)","containers":[{"name":"c","image":"nginx"}]},
             "status":{"phase":"Running","podIP":"\(ip)","conditions":[{"type":"Ready","status":"\(ready ? "True" : "False")"}],
               "containerStatuses":[{"name":"c","ready":\(ready),"restartCount":\(restarts),"image":"nginx","imageID":"",
                 "state":{"running":{"startedAt":"\(now.adding(seconds: -290))"}}}]}}
            """)
    }

    static func pods() throws -> [JSONValue] {
        [try pod("nginx", ip: "10.244.1.2", node: "n1", ready: true),
         try pod("a-much-longer-pod-name", ip: "10.244.2.17", node: "n2", ready: false, restarts: 3)]
    }

    @Test("pods: the Table prints exactly what podlab get prints, narrow and wide")
    func podParity() throws {
        let served = try #require(ServedResources.find(groupVersion: "v1", resource: "pods"))
        let objects = try Self.pods()
        let table = try ServerTable.table(served, objects: objects, resourceVersion: "9", now: Self.now)
        let typed = try objects.map { try Pod(json: $0) }
        #expect(ServerTable.render(table, wide: false) == PodTableRow.table(typed, wide: false, now: Self.now).render())
        #expect(ServerTable.render(table, wide: true) == PodTableRow.table(typed, wide: true, now: Self.now).render())
        #expect(ServerTable.render(table, wide: false).hasPrefix("NAME                     READY   STATUS    RESTARTS   AGE\n"))
    }

    @Test("pods: kubectl's column names, the wide ones at priority 1")
    func podColumns() throws {
        let served = try #require(ServedResources.find(groupVersion: "v1", resource: "pods"))
        let table = try ServerTable.table(served, objects: try Self.pods(), resourceVersion: "9", now: Self.now)
        let columns = table["columnDefinitions"]?.arrayValue ?? []
        #expect(columns.compactMap { $0["name"]?.stringValue } == ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"])
        #expect(columns.map { $0["priority"] } == [0, 0, 0, 0, 0, 1, 1, 1, 1].map { JSONValue.integer($0) })
        #expect(table["kind"] == "Table")
        #expect(table["apiVersion"] == "meta.k8s.io/v1")
        #expect(table["metadata"]?["resourceVersion"] == "9")
        let cells = table["rows"]?.arrayValue?.first?["cells"]?.arrayValue
        #expect(cells == ["nginx", "1/1", "Running", "0", "5m", "10.244.1.2", "n1", "<none>", "<none>"])
    }

    @Test("includeObject: PartialObjectMetadata by default, the object, or nothing")
    func includeObject() throws {
        let served = try #require(ServedResources.find(groupVersion: "v1", resource: "pods"))
        let objects = try Self.pods()
        let metadata = try ServerTable.table(served, objects: objects, resourceVersion: "9", now: Self.now)
        let row = try #require(metadata["rows"]?.arrayValue?.first)
        #expect(row["object"]?["kind"] == "PartialObjectMetadata")
        #expect(row["object"]?["metadata"]?["labels"]?["run"] == "nginx")
        #expect(row["object"]?["spec"] == nil)
        let whole = try ServerTable.table(served, objects: objects, resourceVersion: "9", now: Self.now, include: .object)
        #expect(whole["rows"]?.arrayValue?.first?["object"] == objects[0])
        let none = try ServerTable.table(served, objects: objects, resourceVersion: "9", now: Self.now, include: .none)
        #expect(none["rows"]?.arrayValue?.first?["object"] == nil)
        #expect(ServerTable.IncludeObject(query: nil) == .metadata)
        #expect(ServerTable.IncludeObject(query: "Everything") == nil)
    }

    @Test("column names as kube-apiserver spells them", arguments: [
        ("NAME", "Name"), ("NOMINATED NODE", "Nominated Node"), ("CLUSTER-IP", "Cluster-IP"), ("PORT(S)", "Port(s)"),
        ("UP-TO-DATE", "Up-to-date"), ("IP", "IP"), ("LAST SEEN", "Last Seen"),
    ])
    func columnNames(header: String, name: String) {
        #expect(ServerTable.columnName(header) == name)
    }

    @Test("every served kind with a table renders it; an empty list has the columns and no rows")
    func everyKind() throws {
        for served in ServedResources.all {
            let table = try ServerTable.table(served, objects: [], resourceVersion: "1", now: Self.now)
            #expect(table["rows"] == .array([]), "\(served.resource)")
            #expect((table["columnDefinitions"]?.arrayValue?.count ?? 0) >= 2, "\(served.resource)")
            #expect(table["columnDefinitions"]?.arrayValue?.first?["name"] == "Name" || served.resource == "events", "\(served.resource)")
        }
    }

    @Test("a wrong object is a decoding error, not a table")
    func wrongObject() throws {
        let served = try #require(ServedResources.find(groupVersion: "v1", resource: "pods"))
        #expect(throws: ObjectDecodingError.self) {
            _ = try ServerTable.table(served, objects: [["kind": "Pod", "apiVersion": "v1", "spec": "no"]], resourceVersion: "1", now: Self.now)
        }
    }
}
