import Testing
@testable import PodNet

/// A valid pod to break one field at a time.
func validPod(_ change: (inout Pod) -> Void = { _ in }) -> Pod {
    var pod = Pod(
        metadata: ObjectMeta(name: "web", namespace: "default", labels: ["app": "web"]),
        spec: PodSpec(containers: [Container(name: "nginx", image: "nginx", ports: [ContainerPort(containerPort: 80)])])
    )
    change(&pod)
    return pod
}

@Suite("Pod validation")
struct PodValidationTests {
    static let subdomainMessage = #"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#
    static let labelMessage = #"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"#

    @Test("a valid pod has no errors")
    func valid() throws {
        #expect(validPod().validate() == ValidationResult())
        #expect(try validPod().validated() == [])
        #expect(validPod().applyingDefaults().validate().isValid)
    }

    @Test("the kubectl message for an invalid name matches Kubernetes")
    func invalidNameMessage() {
        let pod = validPod { $0.metadata.name = "Foo" }
        let error = #expect(throws: InvalidObjectError.self) { try pod.validated() }
        #expect(error?.description == #"The Pod "Foo" is invalid: metadata.name: Invalid value: "Foo": "# + Self.subdomainMessage)
        #expect(error?.status.message == #"Pod "Foo" is invalid: metadata.name: Invalid value: "Foo": "# + Self.subdomainMessage)
        #expect(error?.status.code == 422)
        #expect(error?.status.reason == .invalid)
        #expect(error?.status.details?.causes == [APIStatus.Cause(reason: "FieldValueInvalid", message: #"Invalid value: "Foo": "# + Self.subdomainMessage, field: "metadata.name")])
    }

    @Test("several errors are listed one per line by kubectl and in brackets by the API")
    func severalErrors() {
        let pod = validPod { $0.spec.containers = [Container(name: "")] }
        let error = #expect(throws: InvalidObjectError.self) { try pod.validated() }
        #expect(error?.description == """
            The Pod "web" is invalid: \n* spec.containers[0].name: Required value
            * spec.containers[0].image: Required value
            """)
        #expect(error?.status.message == #"Pod "web" is invalid: [spec.containers[0].name: Required value, spec.containers[0].image: Required value]"#)
    }

    struct FieldCase: Sendable, CustomTestStringConvertible {
        let change: @Sendable (inout Pod) -> Void
        let expected: [String]
        init(_ change: @escaping @Sendable (inout Pod) -> Void, _ expected: [String]) {
            self.change = change
            self.expected = expected
        }
        var testDescription: String { expected.first ?? "valid" }
    }

    static let fieldCases: [FieldCase] = [
        FieldCase({ $0.metadata.name = "" }, ["metadata.name: Required value: name or generateName is required"]),
        FieldCase({ $0.metadata.name = "web_1" }, [#"metadata.name: Invalid value: "web_1": "# + subdomainMessage]),
        FieldCase({ $0.metadata.name = String(repeating: "a", count: 254) },
         ["metadata.name: Invalid value: \"\(String(repeating: "a", count: 254))\": must be no more than 253 characters"]),
        FieldCase({ $0.metadata.name = "web.example.com" }, []),
        FieldCase({ $0.metadata.name = "web-" }, [#"metadata.name: Invalid value: "web-": "# + subdomainMessage]),
        FieldCase({ $0.metadata.name = "-web" }, [#"metadata.name: Invalid value: "-web": "# + subdomainMessage]),
        FieldCase({ $0.metadata.name = "web.-a" }, [#"metadata.name: Invalid value: "web.-a": "# + subdomainMessage]),
        FieldCase({ $0.metadata.name = "web-.a" }, [#"metadata.name: Invalid value: "web-.a": "# + subdomainMessage]),
        FieldCase({ $0.metadata.name = "web." }, [#"metadata.name: Invalid value: "web.": "# + subdomainMessage]),
        FieldCase({ $0.metadata.name = ".web" }, [#"metadata.name: Invalid value: ".web": "# + subdomainMessage]),
        FieldCase({ $0.metadata.name = "web..a" }, [#"metadata.name: Invalid value: "web..a": "# + subdomainMessage]),
        FieldCase({ $0.metadata.name = "WEB" }, [#"metadata.name: Invalid value: "WEB": "# + subdomainMessage]),
        FieldCase({ $0.metadata.name = "wéb" }, [#"metadata.name: Invalid value: "wéb": "# + subdomainMessage]),
        FieldCase({ $0.metadata.name = "a" }, []),
        FieldCase({ $0.metadata.name = "0-9.a-b" }, []),
        FieldCase({ $0.metadata.name = String(repeating: "a", count: 63) + "." + String(repeating: "b", count: 189) }, []),
        FieldCase({ $0.spec.containers[0].name = "nginx-" }, [#"spec.containers[0].name: Invalid value: "nginx-": "# + labelMessage]),
        FieldCase({ $0.spec.containers[0].name = "-nginx" }, [#"spec.containers[0].name: Invalid value: "-nginx": "# + labelMessage]),
        FieldCase({ $0.metadata.namespace = "team-" }, [#"metadata.namespace: Invalid value: "team-": "# + labelMessage]),
        FieldCase({ $0.spec.nodeName = "n1-" }, [#"spec.nodeName: Invalid value: "n1-": "# + subdomainMessage]),
        FieldCase({ $0.spec.hostname = "web-" }, [#"spec.hostname: Invalid value: "web-": "# + labelMessage]),
        FieldCase({ $0.metadata.namespace = "Default" }, [#"metadata.namespace: Invalid value: "Default": "# + labelMessage]),
        FieldCase({ $0.spec.containers = [] }, ["spec.containers: Required value"]),
        FieldCase({ $0.spec.containers[0].name = "" }, ["spec.containers[0].name: Required value"]),
        FieldCase({ $0.spec.containers[0].name = "Nginx" }, [#"spec.containers[0].name: Invalid value: "Nginx": "# + labelMessage]),
        FieldCase({ $0.spec.containers[0].name = "a.b" }, [#"spec.containers[0].name: Invalid value: "a.b": must not contain dots"#]),
        FieldCase({ $0.spec.containers[0].name = String(repeating: "x", count: 64) },
         ["spec.containers[0].name: Invalid value: \"\(String(repeating: "x", count: 64))\": must be no more than 63 characters"]),
        FieldCase({ $0.spec.containers.append(Container(name: "nginx", image: "httpd")) }, [#"spec.containers[1].name: Duplicate value: "nginx""#]),
        FieldCase({ $0.spec.initContainers = [Container(name: "nginx", image: "busybox")] }, [#"spec.initContainers[0].name: Duplicate value: "nginx""#]),
        FieldCase({ $0.spec.initContainers = [Container(name: "setup", image: "busybox"), Container(name: "setup", image: "busybox")] },
         [#"spec.initContainers[1].name: Duplicate value: "setup""#]),
        FieldCase({ $0.spec.initContainers = [Container(name: "setup", image: "")] }, ["spec.initContainers[0].image: Required value"]),
        FieldCase({ $0.spec.initContainers = [Container(name: "proxy", image: "nginx", preservedFields: ["restartPolicy": "Always"])] }, []),
        FieldCase({ $0.spec.initContainers = [Container(name: "setup", image: "busybox", preservedFields: ["restartPolicy": "OnFailure"])] },
         [#"spec.initContainers[0].restartPolicy: Unsupported value: "OnFailure": supported values: "Always""#]),
        // Init containers run one at a time: the same host port in two of them is fine, twice
        // in one is not (Kubernetes names such a container as the first of a list of its own).
        FieldCase({ $0.spec.initContainers = [Container(name: "a", image: "busybox", ports: [ContainerPort(containerPort: 80, hostPort: 8080)]),
                                              Container(name: "b", image: "busybox", ports: [ContainerPort(containerPort: 80, hostPort: 8080),
                                                                                             ContainerPort(containerPort: 81, hostPort: 8080)])] },
         [#"spec.initContainers[0].ports[1].hostPort: Duplicate value: "TCP//8080""#,
          "spec.initContainers[0].ports[0].hostPort: Forbidden: not supported by podlab yet: podlab maps the host ports of app containers only",
          "spec.initContainers[1].ports[0].hostPort: Forbidden: not supported by podlab yet: podlab maps the host ports of app containers only",
          "spec.initContainers[1].ports[1].hostPort: Forbidden: not supported by podlab yet: podlab maps the host ports of app containers only"]),
        FieldCase({ $0.spec.containers[0].image = "" }, ["spec.containers[0].image: Required value"]),
        FieldCase({ $0.spec.containers[0].image = " nginx" }, [#"spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace"#]),
        FieldCase({ $0.spec.containers[0].ports[0].containerPort = 0 }, ["spec.containers[0].ports[0].containerPort: Required value"]),
        FieldCase({ $0.spec.containers[0].ports[0].containerPort = 70000 },
         ["spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"]),
        FieldCase({ $0.spec.containers[0].ports[0].containerPort = -1 },
         ["spec.containers[0].ports[0].containerPort: Invalid value: -1: must be between 1 and 65535, inclusive"]),
        FieldCase({ $0.spec.containers[0].ports[0].containerPort = 65535 }, []),
        FieldCase({ $0.spec.containers[0].ports[0].hostPort = 65536 },
         ["spec.containers[0].ports[0].hostPort: Invalid value: 65536: must be between 1 and 65535, inclusive"]),
        FieldCase({ $0.spec.containers[0].ports[0].protocol = "ICMP" },
         [#"spec.containers[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP""#]),
        FieldCase({ $0.spec.containers[0].ports[0].name = "HTTP" },
         [#"spec.containers[0].ports[0].name: Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"#,
          #"spec.containers[0].ports[0].name: Invalid value: "HTTP": must contain at least one letter (a-z)"#]),
        FieldCase({ $0.spec.containers[0].ports[0].name = "-very--long-name-" },
         [#"spec.containers[0].ports[0].name: Invalid value: "-very--long-name-": must be no more than 15 characters"#,
          #"spec.containers[0].ports[0].name: Invalid value: "-very--long-name-": must not contain consecutive hyphens"#,
          #"spec.containers[0].ports[0].name: Invalid value: "-very--long-name-": must not begin or end with a hyphen"#]),
        FieldCase({ $0.spec.containers[0].ports = [ContainerPort(containerPort: 80, name: "http"), ContainerPort(containerPort: 81, name: "http")] },
         [#"spec.containers[0].ports[1].name: Duplicate value: "http""#]),
        FieldCase({ $0.spec.containers[0].ports = [ContainerPort(containerPort: 80, hostPort: 8080), ContainerPort(containerPort: 81, hostPort: 8080)] },
         [#"spec.containers[0].ports[1].hostPort: Duplicate value: "TCP//8080""#]),
        FieldCase({ $0.spec.containers[0].env = [EnvVar(name: ""), EnvVar(name: "1X"), EnvVar(name: "..a"), EnvVar(name: "my.env-NAME_1")] },
         ["spec.containers[0].env[0].name: Required value",
          #"spec.containers[0].env[1].name: Invalid value: "1X": a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"#,
          #"spec.containers[0].env[2].name: Invalid value: "..a": must not start with '..'"#]),
        FieldCase({ $0.spec.restartPolicy = "Sometimes" },
         [#"spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never""#]),
        FieldCase({ $0.spec.restartPolicy = .onFailure }, []),
        FieldCase({ $0.spec.dnsPolicy = "Local" },
         [#"spec.dnsPolicy: Unsupported value: "Local": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None""#]),
        FieldCase({ $0.spec.dnsPolicy = DNSPolicy.none }, ["spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"]),
        FieldCase({ $0.spec.nodeName = "N1" }, [#"spec.nodeName: Invalid value: "N1": "# + subdomainMessage]),
        FieldCase({ $0.spec.hostname = "my.host" }, [#"spec.hostname: Invalid value: "my.host": must not contain dots"#]),
        FieldCase({ $0.spec.activeDeadlineSeconds = 0 },
         ["spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive", "spec.activeDeadlineSeconds: Forbidden: not supported by podlab yet"]),
        FieldCase({ $0.metadata.generation = -1 }, ["metadata.generation: Invalid value: -1: must be greater than or equal to 0"]),
    ]

    @Test("field errors", arguments: fieldCases)
    func fieldErrors(_ testCase: FieldCase) {
        #expect(validPod(testCase.change).validate().errors.map(\.description) == testCase.expected)
    }

    @Test("label keys and values", arguments: [
        (["app.kubernetes.io/name": "web", "a": "", "A_b.c-D": "V_1.x-Y"], [String]()),
        (["bad key!": "x"],
         [#"metadata.labels: Invalid value: "bad key!": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"#]),
        (["app": "bad value!"],
         [#"metadata.labels: Invalid value: "bad value!": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"#]),
        (["app": String(repeating: "v", count: 64)],
         ["metadata.labels: Invalid value: \"\(String(repeating: "v", count: 64))\": must be no more than 63 characters"]),
        (["/name": "x"], [#"metadata.labels: Invalid value: "/name": prefix part must be non-empty"#]),
        (["example.com/": "x"], [#"metadata.labels: Invalid value: "example.com/": name part must be non-empty"#,
                                 #"metadata.labels: Invalid value: "example.com/": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"#]),
        (["Example.com/name": "x"], [#"metadata.labels: Invalid value: "Example.com/name": prefix part "# + subdomainMessage]),
        (["a/b/c": "x"],
         [#"metadata.labels: Invalid value: "a/b/c": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"#]),
    ])
    func labels(labels: [String: String], expected: [String]) {
        #expect(validPod { $0.metadata.labels = labels }.validate().errors.map(\.description) == expected)
    }

    @Test("annotations: qualified keys, 256 KiB in total")
    func annotations() {
        #expect(validPod { $0.metadata.annotations = ["kubectl.kubernetes.io/last-applied-configuration": "{}"] }.validate().isValid)
        let big = validPod { $0.metadata.annotations = ["a": String(repeating: "x", count: 262_144)] }
        #expect(big.validate().errors.map(\.description) == ["metadata.annotations: Too long: must have at most 262144 bytes"])
    }

    @Test("the same port in two containers is a warning, not an error")
    func duplicatePortWarning() {
        let pod = validPod { $0.spec.containers.append(Container(name: "httpd", image: "httpd", ports: [ContainerPort(containerPort: 80)])) }
        let result = pod.validate()
        #expect(result.isValid)
        #expect(result.warnings == ["spec.containers[1].ports[0]: duplicate port definition with spec.containers[0].ports[0]"])
        let udp = validPod { $0.spec.containers.append(Container(name: "dns", image: "x", ports: [ContainerPort(containerPort: 80, protocol: .udp)])) }
        #expect(udp.validate().warnings.isEmpty)
        let overlap = validPod { $0.spec.containers.append(Container(name: "b", image: "x", ports: [ContainerPort(containerPort: 80, hostPort: 8080)])) }
        #expect(overlap.validate().warnings == ["spec.containers[1].ports[0]: overlapping port definition with spec.containers[0].ports[0]"])
    }

    @Test("all errors are collected, in Kubernetes' order")
    func collectsAll() {
        let pod = validPod {
            $0.metadata.name = "Web"
            $0.metadata.labels = ["ok": "no way"]
            $0.spec.restartPolicy = "Sometimes"
            $0.spec.containers = [Container(name: "a"), Container(name: "a", image: "x", ports: [ContainerPort(containerPort: 0)])]
        }
        #expect(pod.validate().errors.map(\.field.description) == [
            "metadata.name", "metadata.labels", "spec.containers[0].image", "spec.containers[1].name",
            "spec.containers[1].ports[0].containerPort", "spec.restartPolicy",
        ])
    }

    @Test("defaults match the API server's")
    func defaults() throws {
        let pod = validPod { $0.spec.containers.append(Container(name: "b", image: "example/app:1.2", ports: [ContainerPort(containerPort: 9)])) }.applyingDefaults()
        #expect(pod.spec.restartPolicy == .always)
        #expect(pod.spec.dnsPolicy == .clusterFirst)
        #expect(pod.spec.terminationGracePeriodSeconds == 30)
        #expect(pod.spec.preservedFields["schedulerName"] == "default-scheduler")
        #expect(pod.spec.containers[0].ports[0].protocol == .tcp)
        #expect(pod.spec.containers[0].preservedFields["imagePullPolicy"] == "Always")
        #expect(pod.spec.containers[1].preservedFields["imagePullPolicy"] == "IfNotPresent")
        #expect(pod.spec.containers[0].preservedFields["terminationMessagePath"] == "/dev/termination-log")
        #expect(pod.applyingDefaults() == pod)
        #expect(Pod.defaultPullPolicy(for: "localhost:5000/app") == "Always")
        #expect(Pod.defaultPullPolicy(for: "app:latest") == "Always")
        #expect(Pod.defaultPullPolicy(for: "app@sha256:abc") == "IfNotPresent")
        let kept = validPod { $0.spec.restartPolicy = .never }.applyingDefaults()
        #expect(kept.spec.restartPolicy == .never)
    }
}
