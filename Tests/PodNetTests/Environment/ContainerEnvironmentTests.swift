import Testing
@testable import PodNet

@Suite("Container environment and the downward API")
struct ContainerEnvironmentTests {
    static let allocatable: ResourceList = ["cpu": Quantity(4), "memory": Quantity(8 * 1024 * 1024 * 1024, format: .binarySI),
                                            "ephemeral-storage": Quantity(100_000_000_000)]

    /// A scheduled, addressed pod whose only container has `env`, `command` and `args`.
    static func pod(env: [EnvVar], command: [String] = [], args: [String] = [], resources: JSONValue? = nil) -> Pod {
        var container = Container(name: "app", image: "busybox", command: command, args: args, env: env)
        container.preservedFields["resources"] = resources
        return Pod(
            metadata: ObjectMeta(name: "web", namespace: "team", labels: ["app": "web", "tier": "front"],
                                 annotations: ["example.com/owner": "ops"], uid: "0d2c9f3e-uid"),
            spec: PodSpec(containers: [container, Container(name: "side", image: "busybox")], nodeName: "lab-n2"),
            status: PodStatus(hostIP: "192.168.200.12", hostIPs: [PodIP(ip: "192.168.200.12")], podIP: "10.244.2.7",
                              podIPs: [PodIP(ip: "10.244.2.7")])
        ).applyingDefaults()
    }

    static func resolve(_ pod: Pod) throws -> ContainerEnvironment {
        try ContainerEnvironment(container: pod.spec.containers[0], pod: pod, nodeAllocatable: allocatable)
    }

    static func field(_ name: String, _ path: String) -> EnvVar {
        EnvVar(name: name, valueFrom: EnvVarSource(fieldRef: ObjectFieldSelector(fieldPath: path)))
    }

    static func resource(_ name: String, _ resource: String, divisor: String? = nil, container: String = "") throws -> EnvVar {
        EnvVar(name: name, valueFrom: EnvVarSource(resourceFieldRef: ResourceFieldSelector(
            resource: resource, containerName: container, divisor: try divisor.map { try Quantity(parsing: $0) } ?? .zero)))
    }

    @Test("a value refers to variables defined before it, not after")
    func order() throws {
        let environment = try Self.resolve(Self.pod(env: [
            EnvVar(name: "A", value: "a"),
            EnvVar(name: "B", value: "$(A)-$(C)"),
            EnvVar(name: "C", value: "c"),
            EnvVar(name: "A", value: "[$(A)]"),
            EnvVar(name: "D", value: "$$(A) $(HOSTNAME) $(PATH)"),
        ]))
        #expect(environment.variables.map(\.name) == ["A", "B", "C", "D"])
        #expect(environment.dictionary == ["A": "[a]", "B": "a-$(C)", "C": "c", "D": "$(A) $(HOSTNAME) $(PATH)"])
    }

    @Test("command and args expand against the whole list")
    func argv() throws {
        let environment = try Self.resolve(Self.pod(
            env: [EnvVar(name: "GREETING", value: "hello"), Self.field("POD_IP", "status.podIP")],
            command: ["sh", "-c", "echo $(GREETING) from $(POD_IP)"], args: ["$(LATER)", "$$(GREETING)", "$(GREETING"]))
        #expect(environment.command == ["sh", "-c", "echo hello from 10.244.2.7"])
        #expect(environment.args == ["$(LATER)", "$(GREETING)", "$(GREETING"])
    }

    @Test("field references", arguments: [
        ("metadata.name", "web"),
        ("metadata.namespace", "team"),
        ("metadata.uid", "0d2c9f3e-uid"),
        ("metadata.labels['tier']", "front"),
        ("metadata.labels['missing']", ""),
        ("metadata.annotations['example.com/owner']", "ops"),
        ("spec.nodeName", "lab-n2"),
        ("spec.serviceAccountName", "default"),
        ("status.podIP", "10.244.2.7"),
        ("status.podIPs", "10.244.2.7"),
        ("status.hostIP", "192.168.200.12"),
        ("status.hostIPs", "192.168.200.12"),
    ])
    func fieldRef(path: String, expected: String) throws {
        let environment = try Self.resolve(Self.pod(env: [Self.field("V", path), EnvVar(name: "W", value: "<$(V)>")]))
        #expect(environment.dictionary == ["V": expected, "W": "<\(expected)>"])
    }

    @Test("resource references: the container's requests, and the node's allocatable where no limit is set", arguments: [
        ("requests.cpu", nil, "1"),
        ("requests.cpu", "1m", "250"),
        ("requests.memory", nil, "67108864"),
        ("requests.memory", "1Mi", "64"),
        ("requests.ephemeral-storage", nil, "0"),
        ("limits.cpu", nil, "4"),
        ("limits.cpu", "1m", "4000"),
        ("limits.memory", "1Gi", "8"),
        ("limits.memory", "1G", "9"),
        ("limits.ephemeral-storage", "1G", "100"),
    ] as [(String, String?, String)])
    func resourceFieldRef(resource: String, divisor: String?, expected: String) throws {
        let pod = Self.pod(env: [try Self.resource("V", resource, divisor: divisor)], resources: ["requests": ["cpu": "250m", "memory": "64Mi"]])
        #expect(try Self.resolve(pod).dictionary == ["V": expected])
    }

    @Test("another container's resources by name; an unknown container is the kubelet's config error")
    func containerName() throws {
        let pod = Self.pod(env: [try Self.resource("SIDE_CPU", "requests.cpu", divisor: "1m", container: "side")])
        #expect(try Self.resolve(pod).dictionary == ["SIDE_CPU": "0"])
        let missing = Self.pod(env: [try Self.resource("X", "limits.cpu", container: "nope")])
        #expect(throws: DownwardAPIError.containerNotFound("nope")) { try Self.resolve(missing) }
        #expect(DownwardAPIError.containerNotFound("nope").description == "container nope not found")
    }

    @Test("a whole label map is formatted as Kubernetes' FormatMap does")
    func formatMap() {
        #expect(DownwardAPI.formatMap(["b": "2", "a": "x\"y"]) == "a=\"x\\\"y\"\nb=\"2\"")
    }
}
