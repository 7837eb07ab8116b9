import Testing
@testable import PodNet

@Suite("Deployment and ReplicaSet objects")
struct DeploymentValidationTests {
    static func deployment(_ yaml: String) throws -> Deployment {
        try Deployment(json: YAMLReader.value(from: yaml))
    }

    static let web = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          replicas: 3
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers: [{name: nginx, image: nginx}]
        """

    static func errors(_ deployment: Deployment) -> [String] {
        WorkloadValidation.validate(deployment.applyingDefaults()).map(\.description)
    }

    static func webDeployment(_ change: (inout Deployment) -> Void) throws -> Deployment {
        var deployment = try Self.deployment(web)
        change(&deployment)
        return deployment
    }

    @Test("decodes, defaults as apps/v1 does and writes back")
    func roundTrip() throws {
        let deployment = try Self.deployment(Self.web).applyingDefaults()
        #expect(deployment.spec.replicas == 3)
        #expect(deployment.spec.strategy.type == .rollingUpdate)
        #expect(deployment.spec.strategy.maxSurge == .string("25%"))
        #expect(deployment.spec.strategy.maxUnavailable == .string("25%"))
        #expect(deployment.spec.revisionHistoryLimit == 10)
        #expect(deployment.spec.progressDeadlineSeconds == 600)
        #expect(deployment.spec.template.spec.restartPolicy == .always)
        let json = deployment.json
        #expect(json["spec"]?["strategy"]?["rollingUpdate"]?["maxSurge"] == .string("25%"))
        #expect(json["apiVersion"] == .string("apps/v1"))
        #expect(try Deployment(json: json) == deployment)
        #expect(Self.errors(deployment).isEmpty)
        #expect(deployment.applyingDefaults() == deployment)
    }

    @Test("a Recreate strategy gets no rollingUpdate")
    func recreateDefaults() throws {
        let deployment = try Self.webDeployment { $0.spec.strategy = DeploymentStrategy(type: .recreate) }.applyingDefaults()
        #expect(deployment.json["spec"]?["strategy"] == .object(["type": .string("Recreate")]))
        #expect(Self.errors(deployment).isEmpty)
    }

    @Test("unknown fields are refused, not dropped")
    func strict() {
        #expect(throws: ObjectDecodingError.self) {
            try Self.deployment(Self.web.replacingOccurrences(of: "replicas: 3", with: "replica: 3"))
        }
        #expect(throws: ObjectDecodingError.self) {
            try Self.deployment(Self.web + "\n  strategy: {rollingUpdate: {maxSurges: 1}}")
        }
    }

    @Test("manifests read Deployments and ReplicaSets, and DeploymentLists")
    func manifests() throws {
        let items = try Manifest.objects(in: Self.web + "\n---\napiVersion: apps/v1\nkind: DeploymentList\nitems: []\n")
        #expect(items.count == 1)
        guard case let .success(.deployment(deployment))? = items.first?.result else {
            Issue.record("not a deployment: \(String(describing: items.first?.result))")
            return
        }
        #expect(deployment.metadata.name == "web")
    }

    static let validationCases: [(String, @Sendable (inout Deployment) -> Void, [String])] = [
        ("a selector that does not match the template", { $0.spec.selector = LabelSelectorSpec(matchLabels: ["app": "api"]) },
         [#"spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`"#]),
        ("no selector", { $0.spec.selector = nil }, ["spec.selector: Required value"]),
        ("an empty selector", { $0.spec.selector = LabelSelectorSpec() },
         ["spec.selector: Invalid value: &v1.LabelSelector{MatchLabels:map[string]string{}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"]),
        ("negative replicas", { $0.spec.replicas = -1 }, ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]),
        ("both limits 0", { $0.spec.strategy = DeploymentStrategy(type: .rollingUpdate, maxSurge: .int(0), maxUnavailable: .string("0%")) },
         ["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0%: may not be 0 when `maxSurge` is 0"]),
        ("a bad percentage", { $0.spec.strategy = DeploymentStrategy(type: .rollingUpdate, maxSurge: .string("25"), maxUnavailable: .int(1)) },
         ["spec.strategy.rollingUpdate.maxSurge: Invalid value: 25: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"]),
        ("more than 100% unavailable", { $0.spec.strategy = DeploymentStrategy(type: .rollingUpdate, maxSurge: .int(1), maxUnavailable: .string("150%")) },
         ["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 150%: must not be greater than 100%"]),
        ("rollingUpdate with Recreate", { $0.spec.strategy = DeploymentStrategy(type: .recreate, maxSurge: .int(1)) },
         ["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]),
        ("an unknown strategy", { $0.spec.strategy = DeploymentStrategy(type: "BlueGreen") },
         [#"spec.strategy.type: Unsupported value: "BlueGreen": supported values: "Recreate", "RollingUpdate""#]),
        ("restartPolicy Never", { $0.spec.template.spec.restartPolicy = .never },
         [#"spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always""#]),
        ("a template without containers", { $0.spec.template.spec.containers = [] }, ["spec.template.spec.containers: Required value"]),
        ("a negative history limit", { $0.spec.revisionHistoryLimit = -2 }, ["spec.revisionHistoryLimit: Invalid value: -2: must be greater than or equal to 0"]),
    ]

    @Test("bad Deployments get the API server's messages", arguments: validationCases.indices)
    func validation(_ index: Int) throws {
        let (_, change, expected) = Self.validationCases[index]
        #expect(Self.errors(try Self.webDeployment(change)) == expected)
    }

    @Test("the selector may not change")
    func immutableSelector() throws {
        let old = try Self.deployment(Self.web).applyingDefaults()
        var new = old
        new.spec.selector = LabelSelectorSpec(matchLabels: ["app": "web", "tier": "front"])
        new.spec.template.metadata.labels["tier"] = "front"
        #expect(throws: InvalidObjectError.self) { try new.validatedUpdate(from: old) }
        var scaled = old
        scaled.spec.replicas = 5
        #expect(throws: Never.self) { try scaled.validatedUpdate(from: old) }
    }

    @Test("a ReplicaSet is checked like a Deployment's template")
    func replicaSet() throws {
        let deployment = try Self.deployment(Self.web)
        let good = ReplicaSet(metadata: ObjectMeta(name: "web-1"), spec: ReplicaSetSpec(replicas: 2, selector: deployment.spec.selector, template: deployment.spec.template))
        #expect(WorkloadValidation.validate(good.applyingDefaults()).isEmpty)
        var bad = good
        bad.spec.selector = LabelSelectorSpec(matchLabels: ["app": "x"])
        #expect(WorkloadValidation.validate(bad.applyingDefaults()).map(\.description)
            == [#"spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`"#])
    }

    @Test("matchExpressions select as the API server's selectors do")
    func matchExpressions() {
        let selector = LabelSelectorSpec(matchLabels: ["app": "web"], matchExpressions: [
            LabelSelectorRequirementSpec(key: "tier", operator: "In", values: ["front", "edge"]),
            LabelSelectorRequirementSpec(key: "canary", operator: "DoesNotExist"),
        ])
        #expect(selector.selector.matches(["app": "web", "tier": "edge"]))
        #expect(!selector.selector.matches(["app": "web", "tier": "back"]))
        #expect(!selector.selector.matches(["app": "web", "tier": "edge", "canary": "1"]))
        let bad = LabelSelectorSpec(matchExpressions: [LabelSelectorRequirementSpec(key: "tier", operator: "In")])
        #expect(bad.validate(path: "spec.selector").map(\.description)
            == ["spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"])
    }
}
