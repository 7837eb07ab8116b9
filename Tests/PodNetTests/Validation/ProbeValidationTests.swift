import Testing
@testable import PodNet

/// Probes are decoded, defaulted and validated as the API server does, with Kubernetes' field
/// paths and messages; what podlab cannot run is refused by name.
@Suite("Probe validation")
struct ProbeValidationTests {
    struct Row: Sendable, CustomTestStringConvertible {
        let yaml: String
        let expected: [String]
        init(_ yaml: String, _ expected: [String]) {
            self.yaml = yaml
            self.expected = expected
        }
        var testDescription: String { expected.first ?? "valid: \(yaml)" }
    }

    /// A pod whose app container has `probe` (YAML flow text) as a field, e.g.
    /// `livenessProbe: {tcpSocket: {port: 80}}`, with the API server's defaults applied.
    static func pod(_ probe: String, initContainer: String? = nil) throws -> Pod {
        let yaml = """
            apiVersion: v1
            kind: Pod
            metadata:
              name: web
            spec:
              containers:
              - name: app
                image: nginx
                ports: [{name: http, containerPort: 80}]
                \(probe)
            \(initContainer.map { "  initContainers:\n  - " + $0 } ?? "")
            """
        return try Pod(json: YAMLReader.value(from: yaml)).applyingDefaults()
    }

    static let path = "spec.containers[0]"
    static let refused = "Forbidden: not supported by podlab yet"

    static let rows: [Row] = [
        Row("livenessProbe: {httpGet: {path: /healthz, port: 80}}", []),
        Row("readinessProbe: {httpGet: {port: http, httpHeaders: [{name: X-Probe, value: 'yes'}]}}", []),
        Row("startupProbe: {tcpSocket: {port: http}, failureThreshold: 30, periodSeconds: 1}", []),
        Row("readinessProbe: {exec: {command: [test, -f, /tmp/ready]}, initialDelaySeconds: 5}", []),
        Row("livenessProbe: {tcpSocket: {port: 80, host: 10.244.1.1}, terminationGracePeriodSeconds: 5}", []),
        Row("livenessProbe: {initialDelaySeconds: 1}", ["\(path).livenessProbe: Required value: must specify a handler type"]),
        Row("livenessProbe: {exec: {command: ['true']}, tcpSocket: {port: 80}}",
            ["\(path).livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type"]),
        Row("readinessProbe: {exec: {}}", ["\(path).readinessProbe.exec.command: Required value"]),
        Row("readinessProbe: {tcpSocket: {port: 0}}", ["\(path).readinessProbe.tcpSocket.port: Invalid value: 0: must be between 1 and 65535, inclusive"]),
        Row("readinessProbe: {tcpSocket: {}}", ["\(path).readinessProbe.tcpSocket.port: Invalid value: 0: must be between 1 and 65535, inclusive"]),
        Row("readinessProbe: {httpGet: {port: 70000}}", ["\(path).readinessProbe.httpGet.port: Invalid value: 70000: must be between 1 and 65535, inclusive"]),
        Row("readinessProbe: {httpGet: {port: '8080'}}", [#"\#(path).readinessProbe.httpGet.port: Invalid value: "8080": must contain at least one letter (a-z)"#]),
        Row("readinessProbe: {httpGet: {port: Web_Port}}", [
            #"\#(path).readinessProbe.httpGet.port: Invalid value: "Web_Port": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"#,
        ]),
        Row("readinessProbe: {httpGet: {port: 80, scheme: FTP}}",
            [#"\#(path).readinessProbe.httpGet.scheme: Unsupported value: "FTP": supported values: "HTTP", "HTTPS""#]),
        Row("readinessProbe: {httpGet: {port: 80, httpHeaders: [{name: 'X Probe', value: v}]}}", [
            #"\#(path).readinessProbe.httpGet.httpHeaders: Invalid value: "X Probe": a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')"#,
        ]),
        Row("readinessProbe: {tcpSocket: {port: 80}, periodSeconds: -1, timeoutSeconds: -2}", [
            "\(path).readinessProbe.timeoutSeconds: Invalid value: -2: must be greater than or equal to 0",
            "\(path).readinessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0",
        ]),
        Row("readinessProbe: {tcpSocket: {port: 80}, terminationGracePeriodSeconds: 5}",
            ["\(path).readinessProbe.terminationGracePeriodSeconds: Invalid value: 5: must not be set for readinessProbes"]),
        Row("livenessProbe: {tcpSocket: {port: 80}, terminationGracePeriodSeconds: 0}",
            ["\(path).livenessProbe.terminationGracePeriodSeconds: Invalid value: 0: must be greater than 0"]),
        Row("livenessProbe: {tcpSocket: {port: 80}, successThreshold: 2}", ["\(path).livenessProbe.successThreshold: Invalid value: 2: must be 1"]),
        Row("startupProbe: {tcpSocket: {port: 80}, successThreshold: 3}", ["\(path).startupProbe.successThreshold: Invalid value: 3: must be 1"]),
        Row("readinessProbe: {tcpSocket: {port: 80}, successThreshold: 3}", []),
        // What podlab cannot run.
        Row("livenessProbe: {grpc: {port: 9090}}", ["\(path).livenessProbe.grpc: \(refused): use httpGet, tcpSocket or exec"]),
        Row("livenessProbe: {grpc: {port: 0}}", [
            "\(path).livenessProbe.grpc.port: Invalid value: 0: must be between 1 and 65535, inclusive",
            "\(path).livenessProbe.grpc: \(refused): use httpGet, tcpSocket or exec",
        ]),
        Row("readinessProbe: {httpGet: {port: 443, scheme: HTTPS}}", ["\(path).readinessProbe.httpGet.scheme: \(refused): probes speak plain HTTP"]),
        Row("readinessProbe: {httpGet: {port: 80, host: example.com}}",
            ["\(path).readinessProbe.httpGet.host: \(refused): give an IPv4 address, or none for the pod's IP"]),
        Row("readinessProbe: {tcpSocket: {port: 80, host: db}}",
            ["\(path).readinessProbe.tcpSocket.host: \(refused): give an IPv4 address, or none for the pod's IP"]),
    ]

    @Test("probe fields", arguments: rows)
    func fields(_ row: Row) throws {
        let result = try Self.pod(row.yaml).validate()
        #expect(result.errors.map(\.description) == row.expected)
    }

    @Test("probes of a regular init container are refused as Kubernetes does; a sidecar's are checked")
    func initContainers() throws {
        let regular = try Self.pod("", initContainer: "{name: init, image: busybox, livenessProbe: {tcpSocket: {port: 0}}}")
        #expect(regular.validate().errors.map(\.description) == [
            "spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
        ])
        let sidecar = try Self.pod("", initContainer: "{name: proxy, image: nginx, restartPolicy: Always, startupProbe: {tcpSocket: {port: 0}}}")
        #expect(sidecar.validate().errors.map(\.description) == [
            "spec.initContainers[0].startupProbe.tcpSocket.port: Invalid value: 0: must be between 1 and 65535, inclusive",
        ])
    }

    @Test("defaults are the API server's, shown again on output")
    func defaults() throws {
        let pod = try Self.pod("readinessProbe: {httpGet: {port: http}}")
        let probe = try #require(pod.spec.containers[0].readinessProbe)
        #expect(probe == ContainerProbe(httpGet: HTTPGetAction(path: "/", port: .name("http"), scheme: "HTTP"),
                                        timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3))
        let written = pod.spec.containers[0].json["readinessProbe"]
        #expect(written == ["httpGet": ["path": "/", "port": "http", "scheme": "HTTP"],
                            "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3])
        #expect(pod.applyingDefaults() == pod)
    }

    @Test("strict decoding finds misspelt and mistyped probe fields")
    func decoding() throws {
        #expect(throws: ObjectDecodingError.self) { try Self.pod("livenessProbe: {tcpSocket: {port: 80}, periodSecond: 5}") }
        #expect(throws: ObjectDecodingError.self) { try Self.pod("livenessProbe: {httpGet: {port: 80, paht: /}}") }
        #expect(throws: ObjectDecodingError.self) { try Self.pod("livenessProbe: {tcpSocket: {port: [80]}}") }
        #expect(throws: ObjectDecodingError.self) { try Self.pod("livenessProbe: {tcpSocket: {port: 80}, periodSeconds: ten}") }
    }

    @Test("a named port resolves to the container's port of that name")
    func namedPort() throws {
        let container = try Self.pod("").spec.containers[0]
        #expect(PortNumberOrName.name("http").resolved(in: container) == 80)
        #expect(PortNumberOrName.name("metrics").resolved(in: container) == nil)
        #expect(PortNumberOrName.number(8080).resolved(in: container) == 8080)
    }
}
