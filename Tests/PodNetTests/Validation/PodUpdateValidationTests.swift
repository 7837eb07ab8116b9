import Testing
@testable import PodNet

@Suite("Pod update rules")
struct PodUpdateValidationTests {
    static let forbiddenPrefix = "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"

    static let toleration: JSONValue = ["key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"]

    static func old() -> Pod {
        validPod {
            $0.metadata.uid = "u1"
            $0.spec.tolerations = [toleration]
        }.applyingDefaults()
    }

    struct UpdateCase: Sendable, CustomTestStringConvertible {
        let name: String
        let change: @Sendable (inout Pod) -> Void
        let expected: [String]
        init(_ name: String, _ change: @escaping @Sendable (inout Pod) -> Void, _ expected: [String]) {
            self.name = name
            self.change = change
            self.expected = expected
        }
        var testDescription: String { name }
    }

    static let cases: [UpdateCase] = [
        UpdateCase("no change", { _ in }, []),
        UpdateCase("image", { $0.spec.containers[0].image = "nginx:1.25" }, []),
        UpdateCase("labels and annotations", { $0.metadata.labels["tier"] = "front"; $0.metadata.annotations["a"] = "b" }, []),
        UpdateCase("set deadline", { $0.spec.activeDeadlineSeconds = 60 }, ["spec.activeDeadlineSeconds: Forbidden: not supported by podlab yet"]),
        UpdateCase("add volume", { $0.spec.volumes = [Volume(name: "data", emptyDir: EmptyDirVolumeSource())] },
                   [forbiddenPrefix + "\n  + spec.volumes: [{\"emptyDir\":{},\"name\":\"data\"}]"]),
        UpdateCase("add a refused volume", { $0.spec.volumes = [Volume(name: "data", preservedFields: ["nfs": ["server": "s"]])] },
                   ["spec.volumes[0].nfs: Forbidden: not supported by podlab yet",
                    forbiddenPrefix + "\n  + spec.volumes: [{\"name\":\"data\",\"nfs\":{\"server\":\"s\"}}]"]),
        UpdateCase("add toleration", { $0.spec.tolerations.append(["key": "k", "operator": "Exists"]) }, []),
        UpdateCase("remove toleration", { $0.spec.tolerations = [] },
                   ["spec.tolerations[0]: Forbidden: existing toleration can not be modified except its tolerationSeconds"]),
        UpdateCase("add container", { $0.spec.containers.append(Container(name: "b", image: "x")) },
                   ["spec.containers: Forbidden: pod updates may not add or remove containers"]),
        UpdateCase("empty image", { $0.spec.containers[0].image = "" }, ["spec.containers[0].image: Required value"]),
        UpdateCase("rename", { $0.metadata.name = "other" }, [#"metadata.name: Invalid value: "other": field is immutable"#]),
        UpdateCase("new uid", { $0.metadata.uid = "u2" }, [#"metadata.uid: Invalid value: "u2": field is immutable"#]),
        UpdateCase("port", { $0.spec.containers[0].ports[0].containerPort = 8080 },
                   [forbiddenPrefix + "\n  - spec.containers[0].ports[0].containerPort: 80\n  + spec.containers[0].ports[0].containerPort: 8080"]),
        UpdateCase("node and env", { $0.spec.nodeName = "n2"; $0.spec.containers[0].env = [EnvVar(name: "A", value: "1")] },
                   [forbiddenPrefix + "\n  + spec.containers[0].env: [{\"name\":\"A\",\"value\":\"1\"}]\n  + spec.nodeName: \"n2\""]),
        UpdateCase("grace period", { $0.spec.terminationGracePeriodSeconds = 5 },
                   [forbiddenPrefix + "\n  - spec.terminationGracePeriodSeconds: 30\n  + spec.terminationGracePeriodSeconds: 5"]),
    ]

    @Test("allowed and forbidden changes", arguments: cases)
    func update(_ testCase: UpdateCase) {
        var new = Self.old()
        testCase.change(&new)
        #expect(new.validateUpdate(from: Self.old()).errors.map(\.description) == testCase.expected)
    }

    /// Kubernetes' deadline rules, checked on the spec alone: podlab refuses deadlines until it
    /// enforces them, so no whole pod with one passes validation.
    @Test("a deadline may be lowered, not raised or removed", arguments: [
        (Int64?(60), [String]()),
        (6000, ["spec.activeDeadlineSeconds: Invalid value: 6000: must be less than or equal to previous value"]),
        (nil, [#"spec.activeDeadlineSeconds: Invalid value: "null": must not update from a positive integer to nil value"#]),
    ] as [(Int64?, [String])])
    func deadline(newDeadline: Int64?, expected: [String]) {
        var old = Self.old().spec
        old.activeDeadlineSeconds = 600
        var new = old
        new.activeDeadlineSeconds = newDeadline
        #expect(PodUpdateValidation.validateSpec(new, old: old).map(\.description) == expected)
    }

    @Test("a negative grace period may become 1, nothing else")
    func gracePeriod() {
        let old = validPod { $0.spec.terminationGracePeriodSeconds = -1 }
        #expect(validPod { $0.spec.terminationGracePeriodSeconds = 1 }.validateUpdate(from: old).isValid)
        #expect(!validPod { $0.spec.terminationGracePeriodSeconds = 2 }.validateUpdate(from: old).isValid)
    }

    @Test("defaults on either side do not count as changes")
    func defaults() {
        #expect(validPod().validateUpdate(from: validPod().applyingDefaults()).isValid)
        #expect(validPod().applyingDefaults().validateUpdate(from: validPod()).isValid)
    }

    @Test("kubectl prints the forbidden update like Kubernetes")
    func message() {
        let new = validPod { $0.spec.containers[0].ports[0].containerPort = 3030 }
        let error = #expect(throws: InvalidObjectError.self) { try new.validatedUpdate(from: validPod()) }
        #expect(error?.description.hasPrefix("The Pod \"web\" is invalid: " + Self.forbiddenPrefix) == true)
        #expect(error?.description.hasSuffix("+ spec.containers[0].ports[0].containerPort: 3030") == true)
    }

    @Test("long diffs are cut")
    func longDiff() {
        let old = validPod { $0.spec.containers[0].args = (0..<30).map { "old\($0)" } }
        let new = validPod { $0.spec.containers[0].args = (0..<30).map { "new\($0)" } }
        let detail = new.validateUpdate(from: old).errors.first?.detail ?? ""
        let lines = detail.split(separator: "\n")
        #expect(lines.count == 22)
        #expect(lines[1] == #"  - spec.containers[0].args[0]: "old0""#)
        #expect(lines[2] == #"  + spec.containers[0].args[0]: "new0""#)
        #expect(lines.last == "  ... 40 more")
    }
}
