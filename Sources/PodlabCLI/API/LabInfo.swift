import Netns
/// `GET /podlab/v1/namespaces/{ns}/pods/{name}/sandbox`: the namespaces a pod's containers
/// run in, for `exec`.
public struct PodSandbox: Codable, Sendable, Equatable {
    /// The pod's network namespace, a name under /run/netns.
    public var netns: String
    /// The pod's UTS namespace file.
    public var uts: String?
    /// The pod's IPC namespace file.
    public var ipc: String?
    /// The pod's mount namespace file (its own `/etc/hosts`); absent from agents before them.
    public var mnt: String?
    /// The pod's pid namespace (`/proc/<pause>/ns/pid`) with `shareProcessNamespace`.
    public var pid: String?
    public var hostname: String?
    public var podIP: String?
    public var containers: [Container]

    /// One container's process settings.
    public struct Container: Codable, Sendable, Equatable {
        public var name: String
        public var env: [String: String]?
        public var workingDir: String?
        /// Who the container runs as (its `securityContext`); an exec'd process runs as it too.
        public var runAsUser: UInt32?
        public var runAsGroup: UInt32?
        public var groups: [UInt32]?
        /// The mount namespace to run in: the pod's, or the container's own (its volumes) while
        /// it runs; absent when it has one of its own but no process.
        public var mnt: String?
        /// The container's cgroup (its limits), which an exec'd process joins as it starts: a
        /// cgroup v2 directory, or the `cgroup.procs` files of its v1 hierarchies.
        public var cgroupDirectory: String?
        public var cgroupProcs: [String]?

        public init(name: String, env: [String: String]? = nil, workingDir: String? = nil,
                    runAsUser: UInt32? = nil, runAsGroup: UInt32? = nil, groups: [UInt32]? = nil, mnt: String? = nil) {
            self.name = name
            self.env = env
            self.workingDir = workingDir
            self.runAsUser = runAsUser
            self.runAsGroup = runAsGroup
            self.groups = groups
            self.mnt = mnt
        }

        /// The cgroup to spawn an exec'd process in; nil for a container without limits.
        public var cgroup: SpawnCgroup? {
            guard cgroupDirectory != nil || !(cgroupProcs ?? []).isEmpty else { return nil }
            return SpawnCgroup(directory: cgroupDirectory, procsFiles: cgroupProcs ?? [])
        }

        /// The ids to spawn an exec'd process with; nil: root, as the agent itself.
        public var credentials: SpawnCredentials? {
            guard let runAsUser, runAsUser != 0 || (runAsGroup ?? 0) != 0 || (groups ?? [0]) != [0] else { return nil }
            return SpawnCredentials(uid: runAsUser, gid: runAsGroup ?? 0, groups: groups ?? [runAsGroup ?? 0])
        }
    }

    public init(netns: String, uts: String? = nil, ipc: String? = nil, mnt: String? = nil, hostname: String? = nil, podIP: String? = nil,
                containers: [Container]) {
        self.netns = netns
        self.uts = uts
        self.ipc = ipc
        self.mnt = mnt
        self.hostname = hostname
        self.podIP = podIP
        self.containers = containers
    }

    public static func path(namespace: String, pod: String) -> String {
        "/podlab/v1/namespaces/\(namespace)/pods/\(pod)/sandbox"
    }
}
