import Testing
@testable import PodNet

@Suite("unchanged writes: what kube-apiserver does not store")
struct UnchangedWriteTests {
    static let stored: JSONValue = [
        "apiVersion": "v1", "kind": "Pod",
        "metadata": ["name": "web", "resourceVersion": "7", "labels": ["tier": "frontend"],
                     "managedFields": [["manager": "kubectl-patch", "operation": "Update", "time": "2026-01-01T00:00:00Z"]]],
        "spec": ["containers": [["name": "web", "image": "nginx"]]],
        "status": ["phase": "Running"],
    ]

    @Test("equal apart from managedFields' times, a missing resourceVersion or status: unchanged")
    func unchanged() {
        let written: JSONValue = ["apiVersion": "v1", "kind": "Pod",
                   "metadata": ["name": "web", "labels": ["tier": "frontend"],
                                "managedFields": [["manager": "kubectl-patch", "operation": "Update", "time": "2026-02-02T00:00:00Z"]]],
                   "spec": ["containers": [["name": "web", "image": "nginx"]]]]
        #expect(UnchangedWrite.isUnchanged(stored: Self.stored, written: written))
        #expect(UnchangedWrite.isUnchanged(stored: Self.stored, written: Self.stored))
    }

    @Test("a changed label, another manager, or a stale resourceVersion: a write")
    func changed() {
        let label: JSONValue = ["apiVersion": "v1", "kind": "Pod",
                                "metadata": ["name": "web", "resourceVersion": "7", "labels": ["tier": "backend"],
                                             "managedFields": [["manager": "kubectl-patch", "operation": "Update", "time": "2026-01-01T00:00:00Z"]]],
                                "spec": ["containers": [["name": "web", "image": "nginx"]]], "status": ["phase": "Running"]]
        #expect(!UnchangedWrite.isUnchanged(stored: Self.stored, written: label))
        let manager: JSONValue = ["apiVersion": "v1", "kind": "Pod",
                                  "metadata": ["name": "web", "resourceVersion": "7", "labels": ["tier": "frontend"],
                                               "managedFields": [["manager": "other", "operation": "Update", "time": "2026-01-01T00:00:00Z"]]],
                                  "spec": ["containers": [["name": "web", "image": "nginx"]]], "status": ["phase": "Running"]]
        #expect(!UnchangedWrite.isUnchanged(stored: Self.stored, written: manager))
        let stale: JSONValue = ["apiVersion": "v1", "kind": "Pod",
                                "metadata": ["name": "web", "resourceVersion": "6", "labels": ["tier": "frontend"],
                                             "managedFields": [["manager": "kubectl-patch", "operation": "Update", "time": "2026-01-01T00:00:00Z"]]],
                                "spec": ["containers": [["name": "web", "image": "nginx"]]], "status": ["phase": "Running"]]
        #expect(!UnchangedWrite.isUnchanged(stored: Self.stored, written: stale), "a stale update gets its 409 from the update path")
    }
}
