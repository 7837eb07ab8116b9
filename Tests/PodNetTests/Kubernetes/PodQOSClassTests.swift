import Testing
@testable import PodNet

/// The QoS class as Kubernetes' `ComputePodQOS` gives it, and the requests the API server
/// defaults from limits.
@Suite("QoS class and requests defaulted from limits")
struct PodQOSClassTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let containers: [String]
        let initContainers: [String]
        let expected: PodQOSClass
        init(_ containers: [String], init initContainers: [String] = [], _ expected: PodQOSClass) {
            self.containers = containers
            self.initContainers = initContainers
            self.expected = expected
        }
        var testDescription: String { "\(expected.rawValue): \(containers) init \(initContainers)" }
    }

    /// A pod whose containers have these `resources` (YAML flow maps), as read from a manifest.
    static func pod(_ containers: [String], init initContainers: [String] = []) throws -> Pod {
        func list(_ resources: [String], prefix: String) -> String {
            resources.enumerated().map { "  - {name: \(prefix)\($0.offset), image: busybox, resources: \($0.element)}\n" }.joined()
        }
        let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n" + list(containers, prefix: "c")
            + (initContainers.isEmpty ? "" : "  initContainers:\n" + list(initContainers, prefix: "i"))
        return try Pod(json: YAMLReader.value(from: yaml))
    }

    static let guaranteed = "{limits: {cpu: 100m, memory: 64Mi}}"

    static let cases: [Case] = [
        Case(["{}"], .bestEffort),
        Case(["{}", "{}"], .bestEffort),
        Case(["{requests: {ephemeral-storage: 1Gi}}"], .bestEffort),
        Case(["{requests: {cpu: '0', memory: '0'}}"], .bestEffort),
        Case(["{limits: {cpu: '0', memory: '0'}}"], .bestEffort),
        Case(["{requests: {cpu: 100m}}"], .burstable),
        Case(["{limits: {memory: 64Mi}}"], .burstable),
        Case(["{limits: {cpu: 100m}}"], .burstable),
        // Requests come from the limits: cpu and memory limited is guaranteed.
        Case([guaranteed], .guaranteed),
        Case(["{limits: {cpu: '1', memory: 1Gi}, requests: {cpu: 1000m, memory: 1024Mi}}"], .guaranteed),
        Case(["{limits: {cpu: 100m, memory: 64Mi}, requests: {cpu: 50m}}"], .burstable),
        Case(["{limits: {cpu: 100m, memory: 64Mi}, requests: {memory: 32Mi}}"], .burstable),
        Case(["{limits: {cpu: 100m, memory: 64Mi, ephemeral-storage: 1Gi}, requests: {ephemeral-storage: 500Mi}}"], .guaranteed),
        Case([guaranteed, guaranteed], .guaranteed),
        Case([guaranteed, "{}"], .burstable),
        Case([guaranteed, "{limits: {cpu: 100m}}"], .burstable),
        // Init containers count like the others.
        Case([guaranteed], init: [guaranteed], .guaranteed),
        Case([guaranteed], init: ["{}"], .burstable),
        Case(["{}"], init: ["{requests: {memory: 1Mi}}"], .burstable),
    ]

    @Test(arguments: cases)
    func qosClass(_ row: Case) throws {
        let pod = try Self.pod(row.containers, init: row.initContainers)
        #expect(PodQOSClass(pod.spec) == row.expected)
        // The same before and after the API server's defaults.
        #expect(PodQOSClass(pod.applyingDefaults().spec) == row.expected)
    }

    @Test("a limit without its request defaults the request to the limit, in the stored spec")
    func requestsDefaultedFromLimits() throws {
        let pod = try Self.pod(["{limits: {cpu: 500m, memory: 64Mi}, requests: {cpu: 100m}}", "{requests: {cpu: 1}}"],
                               init: ["{limits: {memory: '67108864'}}"]).applyingDefaults()
        #expect(pod.spec.containers[0].json["resources"] == ["limits": ["cpu": "500m", "memory": "64Mi"], "requests": ["cpu": "100m", "memory": "64Mi"]])
        #expect(pod.spec.containers[1].json["resources"] == ["requests": ["cpu": "1"]])
        #expect(pod.spec.initContainers[0].json["resources"] == ["limits": ["memory": "67108864"], "requests": ["memory": "67108864"]])
        #expect(pod.applyingDefaults() == pod)
    }

    @Test("defaulting happens before validation: a request above its limit is refused with Kubernetes' message")
    func requestAboveLimit() throws {
        let pod = try Self.pod(["{limits: {memory: 32Mi}, requests: {memory: 64Mi, cpu: 2}}"]).applyingDefaults()
        #expect(pod.validate().errors.map(\.description)
            == [#"spec.containers[0].resources.requests: Invalid value: "64Mi": must be less than or equal to memory limit of 32Mi"#])
    }

    @Test("status.qosClass is read and written as Kubernetes spells it")
    func statusField() throws {
        var status = PodStatus()
        #expect(status.qosClass == nil)
        status.qosClass = .burstable
        #expect(status.json["qosClass"] == "Burstable")
        let read = try PodStatus(json: ["qosClass": "Guaranteed"])
        #expect(read.qosClass == .guaranteed)
    }
}

/// The cgroup files a container's limits become, as the kubelet computes them.
@Suite("Container cgroup limits")
struct ContainerCgroupLimitsTests {
    static func container(_ resources: JSONValue) throws -> Container {
        try Container(json: ["name": "c", "image": "busybox", "resources": resources])
    }

    static let cases: [(JSONValue, Int64?, Int64?)] = [
        ([:], nil, nil),
        (["requests": ["cpu": "1", "memory": "1Gi"]], nil, nil),
        (["limits": ["memory": "32Mi"]], 33_554_432, nil),
        (["limits": ["memory": "1G"]], 1_000_000_000, nil),
        (["limits": ["memory": "0"]], nil, nil),
        (["limits": ["cpu": "500m"]], nil, 50_000),
        (["limits": ["cpu": "2"]], nil, 200_000),
        (["limits": ["cpu": "1.5"]], nil, 150_000),
        // Below the kernel's minimum quota: raised to 1 ms, as the kubelet does.
        (["limits": ["cpu": "1m"]], nil, 1_000),
        (["limits": ["cpu": "10m"]], nil, 1_000),
        (["limits": ["cpu": "11m"]], nil, 1_100),
        (["limits": ["cpu": "250m", "memory": "64Mi"]], 67_108_864, 25_000),
    ]

    @Test(arguments: cases)
    func limits(resources: JSONValue, memory: Int64?, quota: Int64?) throws {
        let limits = ContainerCgroupLimits(try Self.container(resources))
        #expect(limits.memoryBytes == memory)
        #expect(limits.cpuQuotaMicros == quota)
        #expect(limits.isEmpty == (memory == nil && quota == nil))
    }

    @Test("v1 writes the memory limit before memory+swap, and the period before the quota; v2 memory.max and cpu.max")
    func files() {
        let limits = ContainerCgroupLimits(memoryBytes: 33_554_432, cpuQuotaMicros: 50_000)
        #expect(limits.v1Settings.map { "\($0.controller)/\($0.file)=\($0.value)\($0.optional ? "?" : "")" } == [
            "memory/memory.limit_in_bytes=33554432", "memory/memory.memsw.limit_in_bytes=33554432?",
            "cpu/cpu.cfs_period_us=100000", "cpu/cpu.cfs_quota_us=50000",
        ])
        #expect(limits.v2Settings.map { "\($0.file)=\($0.value)\($0.optional ? "?" : "")" } == [
            "memory.max=33554432", "memory.swap.max=0?", "memory.oom.group=1?", "cpu.max=50000 100000",
        ])
        #expect(limits.v1Controllers == ["memory", "cpu"])
        #expect(ContainerCgroupLimits(cpuQuotaMicros: 1_000).v1Controllers == ["cpu"])
        #expect(ContainerCgroupLimits(memoryBytes: 1).v2Settings.map(\.file) == ["memory.max", "memory.swap.max", "memory.oom.group"])
    }

    @Test("OOM kills are read from memory.events (v2) and memory.oom_control (v1)")
    func oomKills() {
        #expect(ContainerCgroupLimits.oomKills(in: "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n") == 1)
        #expect(ContainerCgroupLimits.oomKills(in: "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n") == 3)
        #expect(ContainerCgroupLimits.oomKills(in: "oom_kill_disable 0\nunder_oom 0\n") == 0)
    }
}
