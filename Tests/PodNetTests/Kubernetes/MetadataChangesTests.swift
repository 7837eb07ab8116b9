import PodNet
import Testing

@Suite("label and annotate changes")
struct MetadataChangesTests {
    @Test func splitsObjectsFromChanges() throws {
        let split = try MetadataChanges.split(["pods", "web", "a=b", "c-"], field: .labels)
        #expect(split.resources == ["pods", "web"])
        #expect(split.changes == ["a=b", "c-"])
        #expect(throws: MetadataChangeError("all resources must be specified before annotation changes: web")) {
            try MetadataChanges.split(["pods", "a=b", "web"], field: .annotations)
        }
        // "-" alone and "=x" name objects, as kubectl reads them.
        #expect(try MetadataChanges.split(["-", "=x"], field: .labels).resources == ["-", "=x"])
    }

    @Test func parsesLabelsWithKubectlsChecks() throws {
        let changes = try MetadataChanges(parsing: ["app=web", "tier-"], field: .labels)
        #expect(changes.set == ["app": "web"])
        #expect(changes.remove == ["tier"])
        #expect(throws: MetadataChangeError("invalid label spec: a=b=c")) { try MetadataChanges(parsing: ["a=b=c"], field: .labels) }
        #expect(throws: MetadataChangeError("can not both modify and remove a label in the same command")) {
            try MetadataChanges(parsing: ["a=b", "a-"], field: .labels)
        }
        // Annotation values may hold anything, "=" too.
        #expect(try MetadataChanges(parsing: ["note=a=b c"], field: .annotations).set == ["note": "a=b c"])
        #expect(throws: (any Error).self) { try MetadataChanges(parsing: ["x=-bad-"], field: .labels) }
    }

    @Test func refusesToOverwriteAChangedValue() {
        let labels = MetadataChanges(field: .labels, set: ["app": "api", "new": "x"])
        #expect(labels.overwriteRefusal(current: ["app": "web"]) == "'app' already has a value (web), and --overwrite is false")
        #expect(labels.overwriteRefusal(current: ["app": "api"]) == nil)
        let both = MetadataChanges(field: .labels, set: ["a": "1", "b": "2"])
        #expect(both.overwriteRefusal(current: ["a": "0", "b": "0"])
            == "'a' already has a value (0), and --overwrite is false\n'b' already has a value (0), and --overwrite is false")
        let annotations = MetadataChanges(field: .annotations, set: ["owner": "b", "kubernetes.io/change-cause": "x"])
        #expect(annotations.overwriteRefusal(current: ["owner": "a", "kubernetes.io/change-cause": "y"])
            == "--overwrite is false but found the following declared annotation(s): 'owner' already has a value (a)")
    }

    @Test func mergePatchCarriesOnlyWhatChanges() {
        let changes = MetadataChanges(field: .labels, set: ["app": "web", "tier": "db"], remove: ["old", "absent"])
        let current = ["app": "web", "old": "1"]
        #expect(changes.mergePatch(current: current) == ["metadata": ["labels": ["tier": "db", "old": .null]]])
        #expect(changes.applied(to: current) == ["app": "web", "tier": "db"])
        #expect(MetadataChanges(field: .annotations, set: ["a": "b"]).mergePatch(current: ["a": "b"]) == nil)
    }
}

@Suite("kubectl wait's conditions")
struct WaitConditionTests {
    static let pod: JSONValue = [
        "metadata": ["name": "web", "generation": 2],
        "status": ["phase": "Running", "conditions": [["type": "Ready", "status": "True"], ["type": "Stale", "status": "True", "observedGeneration": 1]]],
    ]

    @Test func readsKubectlsSpellings() throws {
        #expect(try WaitCondition(parsing: "condition=ready").isMet(by: Self.pod))
        #expect(try !WaitCondition(parsing: "condition=Ready=False").isMet(by: Self.pod))
        #expect(try !WaitCondition(parsing: "condition=Initialized").isMet(by: Self.pod))
        // A condition observed for an older generation does not count yet.
        #expect(try !WaitCondition(parsing: "condition=Stale").isMet(by: Self.pod))
        #expect(try WaitCondition(parsing: "delete").isMet(by: nil))
        #expect(try !WaitCondition(parsing: "delete").isMet(by: Self.pod))
        #expect(try WaitCondition(parsing: "create").isMet(by: Self.pod))
        #expect(try WaitCondition(parsing: "jsonpath={.status.phase}=Running").isMet(by: Self.pod))
        #expect(try !WaitCondition(parsing: "jsonpath={.status.phase}=Pending").isMet(by: Self.pod))
        #expect(try WaitCondition(parsing: #"jsonpath={.status.conditions[?(@.type=="Ready")].status}=True"#).isMet(by: Self.pod))
        #expect(try WaitCondition(parsing: "jsonpath=.status.phase").isMet(by: Self.pod))
        #expect(try !WaitCondition(parsing: "jsonpath=.status.podIP").isMet(by: Self.pod))
    }

    @Test func refusesWhatKubectlRefuses() {
        #expect(throws: WaitConditionError("unrecognized condition: \"\"")) { try WaitCondition(parsing: "") }
        #expect(throws: WaitConditionError("unrecognized condition: \"foo\"")) { try WaitCondition(parsing: "foo") }
        #expect(throws: WaitConditionError("unrecognized condition: \"condition=\"")) { try WaitCondition(parsing: "condition=") }
    }
}
