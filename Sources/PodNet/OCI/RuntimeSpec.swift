/// The OCI runtime spec (`config.json`) of a container run from an OCI image, as containerd's
/// CRI plugin builds it for the kubelet: the image's entrypoint, command, environment, working
/// directory and user under the pod's `command`, `args`, `env`, `workingDir` and
/// `securityContext`; the pod's network, UTS and IPC namespaces joined by path, a mount
/// namespace of its own, and a pid namespace of its own or, with `shareProcessNamespace`, the
/// pod's (its pause process's, by path); `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf` bind-mounted from
/// the pod's directory; the pod's volumes; containerd's default capabilities, masked paths and
/// `RLIMIT_NOFILE`.
public struct RuntimeSpec: Hashable, Sendable {
    /// The namespace files of the pod the container joins.
    public struct PodNamespaces: Hashable, Sendable {
        public var network: String
        public var uts: String
        public var ipc: String
        /// The pod's pid namespace (`/proc/<pause>/ns/pid`) with `shareProcessNamespace`; nil:
        /// the container gets a pid namespace of its own.
        public var pid: String?

        public init(network: String, uts: String, ipc: String, pid: String? = nil) {
            self.network = network
            self.uts = uts
            self.ipc = ipc
            self.pid = pid
        }
    }

    /// The pod's files the kubelet mounts over the image's.
    public struct PodFiles: Hashable, Sendable {
        public var hosts: String
        public var hostname: String
        public var resolvConf: String

        public init(hosts: String, hostname: String, resolvConf: String) {
            self.hosts = hosts
            self.hostname = hostname
            self.resolvConf = resolvConf
        }
    }

    /// One bind mount of the container: a host path at a path of the container.
    public struct BindMount: Hashable, Sendable {
        public var source: String
        public var destination: String
        public var readOnly: Bool

        public init(source: String, destination: String, readOnly: Bool) {
            self.source = source
            self.destination = destination
            self.readOnly = readOnly
        }
    }

    public var args: [String]
    /// `NAME=value`, in order.
    public var env: [String]
    public var cwd: String
    public var uid: UInt32
    public var gid: UInt32
    public var additionalGids: [UInt32]
    /// `CAP_*` names, in the order containerd lists them.
    public var capabilities: [String]
    public var noNewPrivileges: Bool
    /// The container's `tty`: the process gets a terminal (`process.terminal`).
    public var terminal: Bool
    public var readOnlyRoot: Bool
    public var rootfs: String
    public var namespaces: PodNamespaces
    /// The pod's files and volumes, in mount order (shallower destinations first).
    public var mounts: [BindMount]
    public var cgroupsPath: String?
    /// The container's `resources.limits` (`linux.resources`, as containerd's CRI writes them):
    /// the runtime sets them in the cgroup it joins, which the agent made with the same values.
    public var limits: ContainerCgroupLimits

    /// containerd's default capability set (`oci.defaultUnixCaps`, Docker's as well).
    public static let defaultCapabilities = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ]

    /// Every capability Linux 6.x defines, in number order (`capabilities: add: [ALL]`).
    public static let allCapabilities = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
        "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
        "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ]

    /// containerd's `PATH` for an image that sets none (`oci.defaultUnixEnv`).
    public static let defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// containerd's default `RLIMIT_NOFILE` (soft and hard).
    public static let openFilesLimit: Int64 = 1024

    /// Paths containerd masks and makes read-only in every container.
    public static let maskedPaths = [
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
        "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
    ]
    public static let readonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

    /// Builds the spec of `container` in `pod`.
    /// - Parameters:
    ///   - environment: the container's resolved `env`, `command` and `args` (`ContainerEnvironment`).
    ///   - image: the image's config; `passwd` and `group` its `/etc/passwd` and `/etc/group` ("" when absent).
    ///   - volumeSources: each volume's directory on the host, by volume name.
    ///   - readOnlyVolumes: volumes mounted read-only whatever the mount says (the kubelet's
    ///     `configMap`, `secret`, `downwardAPI` and `projected` volumes).
    /// - Throws: `RuntimeSpecError` with the kubelet's reason and message.
    public init(pod: Pod, container: Container, environment: ContainerEnvironment, image: ImageConfig, passwd: String = "", group: String = "",
                rootfs: String, namespaces: PodNamespaces, files: PodFiles, volumeSources: [String: String], readOnlyVolumes: Set<String> = [],
                cgroupsPath: String? = nil) throws(RuntimeSpecError) {
        // Kubernetes' rules (kuberuntime: the runtime combines them as Docker does): `command`
        // replaces the entrypoint and drops the image's Cmd; `args` alone replace Cmd.
        if !environment.command.isEmpty {
            args = environment.command + environment.args
        } else if !environment.args.isEmpty {
            args = image.entrypoint + environment.args
        } else {
            args = image.entrypoint + image.cmd
        }
        guard !args.isEmpty else {
            throw RuntimeSpecError(reason: "CreateContainerError", message: "failed to generate container spec: no command specified")
        }

        // containerd: its default PATH, HOSTNAME, the image's, then the container's; a later
        // definition replaces an earlier one in place.
        var env: [String] = []
        var positions: [String: Int] = [:]
        func set(_ entry: String) {
            let name = String(entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0])
            if let index = positions[name] { env[index] = entry } else { positions[name] = env.count; env.append(entry) }
        }
        set(Self.defaultPath)
        set("HOSTNAME=\(PodHostname(pod: pod).kernelHostname)")
        image.env.forEach(set)
        for variable in environment.variables { set("\(variable.name)=\(variable.value)") }
        // containerd's `WithTTY` adds TERM=xterm after everything else; glibc reads the first
        // definition, so a TERM of the image or the container stays.
        terminal = container.tty
        if terminal && positions["TERM"] == nil { set("TERM=xterm") }
        self.env = env

        cwd = !container.workingDir.isEmpty ? container.workingDir : !image.workingDir.isEmpty ? image.workingDir : "/"

        let podContext = pod.spec.preservedFields["securityContext"]
        let context = container.preservedFields["securityContext"]
        func id(_ key: String) -> UInt32? {
            for value in [context?[key], podContext?[key]] {
                if case let .integer(number)? = value, number >= 0, number <= Int64(UInt32.max) { return UInt32(number) }
            }
            return nil
        }
        let imageUser: ImageUser
        do {
            imageUser = try ImageUser.resolve(image.user, passwd: passwd, group: group)
        } catch {
            throw RuntimeSpecError(reason: "CreateContainerError", message: "failed to generate container spec: \(error.message)")
        }
        let runAsUser = id("runAsUser")
        uid = runAsUser ?? imageUser.uid
        gid = id("runAsGroup") ?? (runAsUser.map { ImageUser.primaryGroup(of: $0, passwd: passwd) } ?? imageUser.gid)
        let nonRoot = { () -> Bool in
            for value in [context?["runAsNonRoot"], podContext?["runAsNonRoot"]] { if case let .bool(flag)? = value { return flag } }
            return false
        }()
        if nonRoot {
            let podName = "\(pod.metadata.name)_\(pod.metadata.namespace.isEmpty ? "default" : pod.metadata.namespace)(\(pod.metadata.uid))"
            // The kubelet's messages (kuberuntime_container_linux.go, verifyRunAsNonRoot).
            if runAsUser == 0 {
                throw RuntimeSpecError(reason: "CreateContainerConfigError",
                                       message: "container's runAsUser breaks non-root policy (pod: \"\(podName)\", container: \(container.name))")
            }
            if runAsUser == nil && !ImageUser.isNumeric(image.user) {
                throw RuntimeSpecError(reason: "CreateContainerConfigError", message:
                    "container has runAsNonRoot and image has non-numeric user (\(image.user)), cannot verify user is non-root (pod: \"\(podName)\", container: \(container.name))")
            }
            if runAsUser == nil && uid == 0 {
                throw RuntimeSpecError(reason: "CreateContainerConfigError",
                                       message: "container has runAsNonRoot and image will run as root (pod: \"\(podName)\", container: \(container.name))")
            }
        }
        var groups: [UInt32] = []
        let memberName = runAsUser == nil ? imageUser.name : nil
        for extra in ImageUser.memberships(of: memberName, group: group) + (podContext?["supplementalGroups"]?.arrayValue ?? []).compactMap({ value -> UInt32? in
            if case let .integer(number) = value, number >= 0, number <= Int64(UInt32.max) { return UInt32(number) }
            return nil
        }) where extra != gid && !groups.contains(extra) {
            groups.append(extra)
        }
        additionalGids = groups

        if context?["privileged"] == .bool(true) {
            throw RuntimeSpecError(reason: "CreateContainerConfigError", message: "privileged containers are not supported by podlab")
        }
        // The CRI's order: drop first (ALL empties the set), then add (ALL gives every one).
        let names = { (key: String) -> [String] in
            (context?["capabilities"]?[key]?.arrayValue ?? []).compactMap(\.stringValue).map { $0.uppercased() }
                .map { $0 == "ALL" || $0.hasPrefix("CAP_") ? $0 : "CAP_" + $0 }
        }
        var capabilities = Self.defaultCapabilities
        let drop = names("drop")
        capabilities = drop.contains("ALL") ? [] : capabilities.filter { !drop.contains($0) }
        let add = names("add")
        if add.contains("ALL") {
            capabilities = Self.allCapabilities
        } else {
            for name in add where !capabilities.contains(name) {
                guard Self.allCapabilities.contains(name) else {
                    throw RuntimeSpecError(reason: "CreateContainerError", message: "failed to generate container spec: unknown capability \"\(name)\" to add")
                }
                capabilities.append(name)
            }
        }
        self.capabilities = capabilities
        noNewPrivileges = context?["allowPrivilegeEscalation"] == .bool(false)
        readOnlyRoot = context?["readOnlyRootFilesystem"] == .bool(true)
        self.rootfs = rootfs
        self.namespaces = namespaces
        self.cgroupsPath = cgroupsPath
        limits = ContainerCgroupLimits(container)

        var mounts: [BindMount] = []
        for mount in container.volumeMounts {
            guard let source = volumeSources[mount.name] else {
                throw RuntimeSpecError(reason: "CreateContainerConfigError", message: "cannot find volume \"\(mount.name)\" to mount into container \"\(container.name)\"")
            }
            let path = mount.subPath.isEmpty ? source : source + "/" + mount.subPath
            mounts.append(BindMount(source: path, destination: mount.mountPath, readOnly: mount.readOnly || readOnlyVolumes.contains(mount.name)))
        }
        // The kubelet mounts /etc/hosts unless a volume is already mounted there; containerd
        // adds /etc/hostname and /etc/resolv.conf the same way.
        for (source, destination) in [(files.hosts, "/etc/hosts"), (files.hostname, "/etc/hostname"), (files.resolvConf, "/etc/resolv.conf")]
        where !mounts.contains(where: { $0.destination == destination }) {
            mounts.append(BindMount(source: source, destination: destination, readOnly: false))
        }
        // containerd sorts the mounts by depth so that a parent is mounted before what is
        // mounted inside it (a stable sort: equal depths keep the kubelet's order).
        let depth = { (path: String) in path.split(separator: "/").count }
        self.mounts = mounts.enumerated().sorted { (depth($0.element.destination), $0.offset) < (depth($1.element.destination), $1.offset) }.map(\.element)
    }

    /// The `config.json` document.
    public var json: JSONValue {
        let capabilityList = JSONValue.array(capabilities.map { .string($0) })
        func mount(_ destination: String, _ type: String, _ source: String, _ options: [String]) -> JSONValue {
            ["destination": .string(destination), "type": .string(type), "source": .string(source), "options": .array(options.map { .string($0) })]
        }
        var mountList: [JSONValue] = [
            mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
            mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
            mount("/dev/pts", "devpts", "devpts", ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
            mount("/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
            mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
            mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
            mount("/sys/fs/cgroup", "cgroup", "cgroup", ["nosuid", "noexec", "nodev", "relatime", "ro"]),
        ]
        for bind in mounts {
            mountList.append(mount(bind.destination, "bind", bind.source, ["rbind", "rprivate", bind.readOnly ? "ro" : "rw"]))
        }
        var linux: [String: JSONValue] = [
            "namespaces": [
                namespaces.pid.map { ["type": "pid", "path": .string($0)] } ?? ["type": "pid"],
                ["type": "ipc", "path": .string(namespaces.ipc)],
                ["type": "uts", "path": .string(namespaces.uts)],
                ["type": "mount"],
                ["type": "network", "path": .string(namespaces.network)],
            ],
            "maskedPaths": .array(Self.maskedPaths.map { .string($0) }),
            "readonlyPaths": .array(Self.readonlyPaths.map { .string($0) }),
        ]
        if let cgroupsPath { linux["cgroupsPath"] = .string(cgroupsPath) }
        var resources: [String: JSONValue] = [:]
        if let memory = limits.memoryBytes { resources["memory"] = ["limit": .integer(memory)] }
        if let quota = limits.cpuQuotaMicros { resources["cpu"] = ["quota": .integer(quota), "period": .integer(limits.cpuPeriodMicros)] }
        if !resources.isEmpty { linux["resources"] = .object(resources) }
        return [
            "ociVersion": "1.0.2",
            "process": [
                "terminal": .bool(terminal),
                "user": ["uid": .integer(Int64(uid)), "gid": .integer(Int64(gid)), "additionalGids": .array(additionalGids.map { .integer(Int64($0)) })],
                "args": .array(args.map { .string($0) }),
                "env": .array(env.map { .string($0) }),
                "cwd": .string(cwd),
                "capabilities": ["bounding": capabilityList, "effective": capabilityList, "permitted": capabilityList],
                "rlimits": [["type": "RLIMIT_NOFILE", "hard": .integer(Self.openFilesLimit), "soft": .integer(Self.openFilesLimit)]],
                "noNewPrivileges": .bool(noNewPrivileges),
            ],
            "root": ["path": .string(rootfs), "readonly": .bool(readOnlyRoot)],
            "mounts": .array(mountList),
            "linux": .object(linux),
        ]
    }
}

/// Why a container's spec cannot be built: the kubelet's waiting reason
/// (`CreateContainerConfigError`, `CreateContainerError`) and message.
public struct RuntimeSpecError: Error, Hashable, Sendable, CustomStringConvertible {
    public var reason: String
    public var message: String

    public init(reason: String, message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { message }
}
