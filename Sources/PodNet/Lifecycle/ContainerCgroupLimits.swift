/// What a container's cgroup enforces, from its `resources.limits`, computed as the kubelet
/// computes it (`MilliCPUToQuota`; memory in bytes, no swap), and the cgroup files that say it
/// on each version of cgroups. Requests are not applied: they give the QoS class only.
public struct ContainerCgroupLimits: Hashable, Sendable {
    /// `limits.memory` in bytes; nil when not limited (or limited to 0, which Kubernetes reads as unset).
    public var memoryBytes: Int64?
    /// The CPU time the container may use per `cpuPeriodMicros`, from `limits.cpu`; nil when not limited.
    public var cpuQuotaMicros: Int64?
    /// The CFS period, the kubelet's default.
    public var cpuPeriodMicros: Int64 = ContainerCgroupLimits.defaultCPUPeriodMicros

    /// The kubelet's CFS period (100 ms).
    public static let defaultCPUPeriodMicros: Int64 = 100_000
    /// The smallest quota the kernel accepts (1 ms), to which the kubelet raises smaller ones.
    public static let minimumCPUQuotaMicros: Int64 = 1_000

    public init(memoryBytes: Int64? = nil, cpuQuotaMicros: Int64? = nil) {
        self.memoryBytes = memoryBytes
        self.cpuQuotaMicros = cpuQuotaMicros
    }

    /// The limits of `container`.
    public init(_ container: Container) {
        let limits = container.resourceRequirements.limits
        if let memory = limits["memory"], memory > .zero { memoryBytes = Int64(clamping: memory.value) }
        if let cpu = limits["cpu"], cpu > .zero {
            let quota = Int64(clamping: cpu.milliValue * Int128(cpuPeriodMicros) / 1000)
            cpuQuotaMicros = max(quota, Self.minimumCPUQuotaMicros)
        }
    }

    /// True when nothing is limited: the container needs no cgroup of its own.
    public var isEmpty: Bool { memoryBytes == nil && cpuQuotaMicros == nil }

    /// A cgroup file and the value written to it.
    public struct Setting: Hashable, Sendable {
        /// The v1 controller whose hierarchy holds the file (`memory`, `cpu`); empty on v2.
        public var controller: String
        public var file: String
        public var value: String
        /// Written only where the kernel has it (swap accounting, `memory.oom.group`).
        public var optional: Bool

        public init(_ controller: String, _ file: String, _ value: String, optional: Bool = false) {
            self.controller = controller
            self.file = file
            self.value = value
            self.optional = optional
        }
    }

    /// The files of a cgroup v1 container cgroup, in the order they must be written: the
    /// memory limit before the memory+swap one (which may not be below it), so the container
    /// gets no swap, as the kubelet configures it without swap.
    public var v1Settings: [Setting] {
        var settings: [Setting] = []
        if let memoryBytes {
            settings.append(Setting("memory", "memory.limit_in_bytes", String(memoryBytes)))
            settings.append(Setting("memory", "memory.memsw.limit_in_bytes", String(memoryBytes), optional: true))
        }
        if let cpuQuotaMicros {
            settings.append(Setting("cpu", "cpu.cfs_period_us", String(cpuPeriodMicros)))
            settings.append(Setting("cpu", "cpu.cfs_quota_us", String(cpuQuotaMicros)))
        }
        return settings
    }

    /// The files of a cgroup v2 container cgroup: `memory.max` with no swap, the whole cgroup
    /// killed together on OOM (the kubelet's default since 1.28), and `cpu.max`.
    public var v2Settings: [Setting] {
        var settings: [Setting] = []
        if let memoryBytes {
            settings.append(Setting("", "memory.max", String(memoryBytes)))
            settings.append(Setting("", "memory.swap.max", "0", optional: true))
            settings.append(Setting("", "memory.oom.group", "1", optional: true))
        }
        if let cpuQuotaMicros {
            settings.append(Setting("", "cpu.max", "\(cpuQuotaMicros) \(cpuPeriodMicros)"))
        }
        return settings
    }

    /// The v1 controllers (hierarchies) the container's cgroup is made in.
    public var v1Controllers: [String] {
        (memoryBytes == nil ? [] : ["memory"]) + (cpuQuotaMicros == nil ? [] : ["cpu"])
    }

    /// The v2 controllers the container's parents must enable for their children (`cgroup.subtree_control`).
    public var v2Controllers: [String] {
        (memoryBytes == nil ? [] : ["memory"]) + (cpuQuotaMicros == nil ? [] : ["cpu"])
    }

    /// The count of OOM kills in a cgroup's `memory.events` (v2) or `memory.oom_control` (v1):
    /// the `oom_kill N` line of either; 0 when the kernel does not count them.
    public static func oomKills(in text: String) -> Int {
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, fields[0] == "oom_kill", let count = Int(fields[1]) { return count }
        }
        return 0
    }
}
