import Testing
@testable import PodNet

@Suite("managedFields and server-side apply")
struct ManagedFieldsTests {
    static func value(_ text: String) throws -> JSONValue { try JSONReader.value(from: text) }
    static let time = Timestamp(secondsSince1970: 1_700_000_000)

    static let deployment: JSONValue = [
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": ["name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "7", "labels": ["app": "web"]],
        "spec": [
            "replicas": 2,
            "template": ["spec": ["containers": [["name": "web", "image": "nginx", "ports": [["containerPort": 80]]]]]],
        ],
        "status": ["replicas": 2],
    ]

    @Test("the field set of an object: leaves, keyed elements with their fields; no server metadata, status or type")
    func fieldSetOfObject() {
        let set = ManagedFieldSet(of: Self.deployment)
        let printed = Set(set.paths.map(\.printed))
        #expect(printed == [
            ".metadata.labels.app", ".spec.replicas",
            ".spec.template.spec.containers[name=\"web\"]", ".spec.template.spec.containers[name=\"web\"].name",
            ".spec.template.spec.containers[name=\"web\"].image",
            ".spec.template.spec.containers[name=\"web\"].ports[containerPort=80]",
            ".spec.template.spec.containers[name=\"web\"].ports[containerPort=80].containerPort",
        ])
    }

    @Test("FieldsV1: f:/k: keys, `.` on an element that has owned fields, and read back to the same set")
    func fieldsV1RoundTrip() throws {
        let set = ManagedFieldSet(of: Self.deployment)
        let encoded = set.fieldsV1
        let container = encoded["f:spec"]?["f:template"]?["f:spec"]?["f:containers"]?[#"k:{"name":"web"}"#]
        #expect(container?["."] == .object([:]))
        #expect(container?["f:image"] == .object([:]))
        #expect(container?["f:ports"]?[#"k:{"containerPort":80}"#]?["f:containerPort"] == .object([:]))
        #expect(encoded["f:metadata"]?["f:labels"]?["f:app"] == .object([:]))
        #expect(ManagedFieldSet(fieldsV1: encoded) == set)
        let finalizers = ManagedFieldSet(of: ["metadata": ["finalizers": ["a"]]])
        #expect(finalizers.fieldsV1 == [ "f:metadata": ["f:finalizers": [#"v:"a""#: [:]]]])
    }

    @Test("create then update: the creator owns everything, a later writer takes what it changed, removed fields go")
    func recordUpdates() throws {
        let created = ManagedFields.recordUpdate(from: nil, to: Self.deployment, manager: "kubectl-create", apiVersion: "apps/v1", time: Self.time)
        let first = ManagedFields.entries(of: created)
        #expect(first.count == 1)
        #expect(first[0].manager == "kubectl-create" && first[0].operation == .update && first[0].apiVersion == "apps/v1")
        #expect(first[0].fields == ManagedFieldSet(of: Self.deployment))
        #expect(created["metadata"]?["managedFields"]?.arrayValue?[0]["time"] == "2023-11-14T22:13:20Z")
        #expect(created["metadata"]?["managedFields"]?.arrayValue?[0]["fieldsType"] == "FieldsV1")

        var scaled = created
        scaled = try PatchType.merge.apply(try Self.value(#"{"spec":{"replicas":5},"metadata":{"labels":{"app":null,"tier":"x"}}}"#), to: scaled)
        let updated = ManagedFields.recordUpdate(from: created, to: scaled, manager: "kubectl-scale", apiVersion: "apps/v1", time: Self.time)
        let entries = ManagedFields.entries(of: updated)
        #expect(entries.map(\.manager) == ["kubectl-create", "kubectl-scale"])
        #expect(Set(entries[1].fields.paths.map(\.printed)) == [".spec.replicas", ".metadata.labels.tier"])
        let creator = Set(entries[0].fields.paths.map(\.printed))
        #expect(!creator.contains(".spec.replicas") && !creator.contains(".metadata.labels.app"))
        #expect(creator.contains(".spec.template.spec.containers[name=\"web\"].image"))
    }

    @Test("apply creates, a second apply changes its own fields and drops the ones it no longer names")
    func applyOwnFields() throws {
        let configuration: JSONValue = [
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": ["name": "web", "labels": ["app": "web", "tier": "front"]],
            "spec": ["replicas": 2, "template": ["spec": ["containers": [["name": "web", "image": "nginx"]]]]],
        ]
        let created = try ManagedFields.apply(configuration, to: nil, manager: "kubectl", force: false, time: Self.time)
        #expect(ManagedFields.entries(of: created).map(\.operation) == [.apply])
        #expect(created["metadata"]?["labels"] == ["app": "web", "tier": "front"])

        var next = configuration
        next = try PatchType.merge.apply(try Self.value(#"{"metadata":{"labels":{"tier":null}},"spec":{"replicas":3}}"#), to: next)
        let applied = try ManagedFields.apply(next, to: created, manager: "kubectl", force: false, time: Self.time)
        #expect(applied["metadata"]?["labels"] == ["app": "web"])
        #expect(applied["spec"]?["replicas"] == 3)
        #expect(ManagedFields.entries(of: applied).count == 1)
        #expect(ManagedFields.entries(of: applied)[0].fields == ManagedFieldSet(of: next))

        // A keyed element whose key changes: the old element goes whole, with the fields the
        // server defaulted in it.
        let service: JSONValue = ["apiVersion": "v1", "kind": "Service", "metadata": ["name": "web"], "spec": ["ports": [["port": 80]]]]
        var live = try ManagedFields.apply(service, to: nil, manager: "kubectl", force: false, time: Self.time)
        live = try PatchType.merge.apply(try Self.value(#"{"spec":{"ports":[{"port":80,"protocol":"TCP","targetPort":80}]}}"#), to: live)
        let moved = try ManagedFields.apply(["apiVersion": "v1", "kind": "Service", "metadata": ["name": "web"], "spec": ["ports": [["port": 8080]]]],
                                            to: live, manager: "kubectl", force: false, time: Self.time)
        #expect(moved["spec"]?["ports"] == [["port": 8080]])
    }

    @Test("another manager's apply of a field owned with a different value is a 409 naming the field and manager; force takes it over")
    func applyConflicts() throws {
        let configuration: JSONValue = [
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web"],
            "spec": ["replicas": 2, "template": ["spec": ["containers": [["name": "web", "image": "nginx"]]]]],
        ]
        let live = try ManagedFields.apply(configuration, to: nil, manager: "kubectl", force: false, time: Self.time)
        let other: JSONValue = [
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web"],
            "spec": ["replicas": 4, "template": ["spec": ["containers": [["name": "web", "image": "nginx"]]]]],
        ]
        let error = #expect(throws: ApplyConflicts.self) {
            try ManagedFields.apply(other, to: live, manager: "scaler", force: false, time: Self.time)
        }
        let status = try #require(error?.status)
        #expect(status.code == 409)
        #expect(status.reason == .conflict)
        #expect(status.message == #"Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas"#)
        #expect(status.details?.causes == [APIStatus.Cause(reason: "FieldManagerConflict", message: #"conflict with "kubectl""#, field: ".spec.replicas")])

        // The same value is shared, not a conflict: the image stays owned by both.
        let forced = try ManagedFields.apply(other, to: live, manager: "scaler", force: true, time: Self.time)
        #expect(forced["spec"]?["replicas"] == 4)
        let entries = ManagedFields.entries(of: forced)
        let image: ManagedPath = [.field("spec"), .field("template"), .field("spec"), .field("containers"), .key("name", "web"), .field("image")]
        #expect(entries.first { $0.manager == "kubectl" }?.fields.paths.contains(image) == true)
        #expect(entries.first { $0.manager == "kubectl" }?.fields.paths.contains([.field("spec"), .field("replicas")]) == false)
        #expect(entries.first { $0.manager == "scaler" }?.fields.paths.contains([.field("spec"), .field("replicas")]) == true)
    }

    @Test("an Update owner is named with its API version and time; several conflicts are listed per manager")
    func conflictMessages() throws {
        let created = ManagedFields.recordUpdate(from: nil, to: Self.deployment, manager: "kubectl-client-side-apply", apiVersion: "apps/v1", time: Self.time)
        var configuration = Self.deployment
        configuration = try PatchType.merge.apply(try Self.value(#"{"metadata":{"labels":{"app":"api"}},"spec":{"replicas":9}}"#), to: configuration)
        let error = #expect(throws: ApplyConflicts.self) {
            try ManagedFields.apply(configuration, to: created, manager: "kubectl", force: false, time: Self.time)
        }
        #expect(error?.status.message == """
            Apply failed with 2 conflicts: conflicts with "kubectl-client-side-apply" using apps/v1 at 2023-11-14T22:13:20Z
            - .metadata.labels.app
            - .spec.replicas
            """)
    }

    @Test("the default manager is the User-Agent's product name")
    func defaultManager() {
        #expect(ManagedFields.defaultManager(userAgent: "kubectl/v1.20.0 (linux/amd64) kubernetes/abc") == "kubectl")
        #expect(ManagedFields.defaultManager(userAgent: nil) == "unknown")
    }
}
