import Testing
@testable import PodNet

/// The API server's rules for `env[].valueFrom` (`validateEnvVarValueFrom`), checked after
/// defaults as the API server does.
@Suite("Env sources validation")
struct EnvValidationTests {
    static let prefix = "spec.containers[0].env[0].valueFrom"

    static func errors(_ variable: EnvVar) -> [String] {
        validPod { $0.spec.containers[0].env = [variable] }.applyingDefaults().validate().errors.map(\.description)
    }

    static func field(_ path: String, apiVersion: String = "") -> EnvVar {
        EnvVar(name: "V", valueFrom: EnvVarSource(fieldRef: ObjectFieldSelector(fieldPath: path, apiVersion: apiVersion)))
    }

    static func resource(_ resource: String, divisor: String = "0") -> EnvVar {
        EnvVar(name: "V", valueFrom: EnvVarSource(resourceFieldRef: ResourceFieldSelector(resource: resource, divisor: try! Quantity(parsing: divisor))))
    }

    static let supportedPaths = #"supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs""#
    static let byteDivisors = "1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei"

    static let fieldCases: [(EnvVar, [String])] = [
        (field("metadata.name"), []),
        (field("spec.host"), []),
        (field("metadata.labels['app']"), []),
        (field("metadata.annotations['Example.com/Owner']"), []),
        (field("status.phase"), ["\(prefix).fieldRef.fieldPath: Unsupported value: \"status.phase\": " + supportedPaths]),
        (field("metadata.labels"), ["\(prefix).fieldRef.fieldPath: Unsupported value: \"metadata.labels\": " + supportedPaths]),
        (field("spec.containers"), [#"\#(prefix).fieldRef.fieldPath: Invalid value: "spec.containers": error converting fieldPath: field label not supported: spec.containers"#]),
        (field("metadata.name['x']"), [#"\#(prefix).fieldRef.fieldPath: Invalid value: "metadata.name['x']": error converting fieldPath: field label does not support subscript: metadata.name['x']"#]),
        (field("metadata.name", apiVersion: "v2"), [#"\#(prefix).fieldRef.fieldPath: Invalid value: "metadata.name": error converting fieldPath: unsupported pod version: v2"#]),
        (field(""), ["\(prefix).fieldRef.fieldPath: Required value"]),
        (field("metadata.labels['bad key']"), [#"\#(prefix).fieldRef: Invalid value: "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"#]),
    ]

    @Test("field paths", arguments: fieldCases)
    func fieldPaths(_ variable: EnvVar, expected: [String]) {
        #expect(Self.errors(variable) == expected)
    }

    static let selectorCases: [(EnvVar, [String])] = [
        (resource("limits.cpu", divisor: "1m"), []),
        (resource("requests.memory", divisor: "1Mi"), []),
        (resource("limits.memory", divisor: "1024Ki"), []),
        (resource("requests.hugepages-2Mi"), []),
        (resource("limits.pods"), [#"\#(prefix).resourceFieldRef.resource: Unsupported value: "limits.pods": supported values: "limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu", "requests.ephemeral-storage", "requests.memory""#]),
        (resource(""), ["\(prefix).resourceFieldRef.resource: Required value"]),
        (resource("limits.cpu", divisor: "10m"), [#"\#(prefix).resourceFieldRef.divisor: Invalid value: "limits.cpu": only divisor's values 1m and 1 are supported with the cpu resource"#]),
        (resource("limits.memory", divisor: "1024"), [#"\#(prefix).resourceFieldRef.divisor: Invalid value: "limits.memory": only divisor's values \#(byteDivisors) are supported with the memory resource"#]),
        (resource("requests.ephemeral-storage", divisor: "2"), [#"\#(prefix).resourceFieldRef.divisor: Invalid value: "requests.ephemeral-storage": only divisor's values \#(byteDivisors) are supported with the local ephemeral storage resource"#]),
    ]

    @Test("resources and divisors", arguments: selectorCases)
    func resources(_ variable: EnvVar, expected: [String]) {
        #expect(Self.errors(variable) == expected)
    }

    @Test("one source, and no value beside it")
    func sources() {
        #expect(Self.errors(EnvVar(name: "V", valueFrom: EnvVarSource())) == [
            #"\#(Self.prefix): Invalid value: "": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"#])
        var both = Self.field("metadata.name")
        both.value = "x"
        #expect(Self.errors(both) == [#"\#(Self.prefix): Invalid value: "": may not be specified when `value` is not empty"#])
        var two = Self.field("metadata.name")
        two.valueFrom?.resourceFieldRef = ResourceFieldSelector(resource: "limits.cpu")
        #expect(Self.errors(two) == [#"\#(Self.prefix): Invalid value: "": may not have more than one field specified at a time"#])
    }

    @Test("defaults give field references apiVersion v1, and it is written back")
    func apiVersionDefault() throws {
        let pod = validPod { $0.spec.containers[0].env = [Self.field("metadata.name")] }.applyingDefaults()
        #expect(pod.spec.containers[0].env[0].valueFrom?.fieldRef?.apiVersion == "v1")
        let written = pod.spec.containers[0].env[0].json
        #expect(written == ["name": "V", "valueFrom": ["fieldRef": ["apiVersion": "v1", "fieldPath": "metadata.name"]]])
        #expect(Self.errors(Self.resource("limits.cpu")) == [])
        #expect(Self.resource("limits.cpu").json == ["name": "V", "valueFrom": ["resourceFieldRef": ["resource": "limits.cpu", "divisor": "0"]]])
    }

    static let dongleLimitRefused = "spec.containers[0].resources.limits[example.com/dongle]: Forbidden: not supported by podlab yet: podlab enforces cpu and memory limits only"

    static let resourceCases: [(JSONValue, [String])] = [
        (["requests": ["cpu": "250m", "memory": "64Mi"]], []),
        (["requests": ["cpu": "-1"]], [#"spec.containers[0].resources.requests[cpu]: Invalid value: "-1": must be greater than or equal to 0"#]),
        (["requests": ["gpu": "1"]], [#"spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard resource type or fully qualified"#]),
        (["requests": ["pods": "1"]], [#"spec.containers[0].resources.requests[pods]: Invalid value: "pods": must be a standard resource for containers"#]),
        (["requests": ["example.com/dongle": "1"]], ["spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources"]),
        (["limits": ["cpu": "1"], "requests": ["cpu": "2"]],
         [#"spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1"#]),
        (["limits": ["memory": "32Mi"], "requests": ["memory": "64Mi"]],
         [#"spec.containers[0].resources.requests: Invalid value: "64Mi": must be less than or equal to memory limit of 32Mi"#]),
        (["limits": ["cpu": "500m", "memory": "64Mi"], "requests": ["cpu": "500m", "memory": "32Mi"]], []),
        (["limits": ["cpu": "-1"]], [#"spec.containers[0].resources.limits[cpu]: Invalid value: "-1": must be greater than or equal to 0"#]),
        (["limits": ["ephemeral-storage": "1Gi"]],
         ["spec.containers[0].resources.limits[ephemeral-storage]: Forbidden: not supported by podlab yet: podlab enforces cpu and memory limits only"]),
        (["limits": ["example.com/dongle": "1"], "requests": ["example.com/dongle": "2"]],
         [#"spec.containers[0].resources.requests: Invalid value: "2": must be equal to example.com/dongle limit of 1"#,
          dongleLimitRefused]),
        (["limits": ["example.com/dongle": "500m"]],
         [#"spec.containers[0].resources.limits[example.com/dongle]: Invalid value: "500m": must be an integer"#,
          dongleLimitRefused]),
    ]

    @Test("requests and limits: Kubernetes' checks first, then podlab's refusal of limits it does not enforce", arguments: resourceCases)
    func resourceRequirements(resources: JSONValue, expected: [String]) throws {
        let pod = try Pod(json: validPod { $0.spec.containers[0].preservedFields["resources"] = resources }.json)
        #expect(pod.validate().errors.map(\.description) == expected)
    }
}
