/// `GET /podlab/v1/namespaces/{ns}/pods/{name}/sandbox`: the namespaces a pod's containers
/// run in, for `exec`.
public struct PodSandbox: Codable, Sendable, Equatable {
    /// The pod's network namespace, a name under /run/netns.
    public var netns: String
    /// The pod's UTS namespace file.
    public var uts: String?
    /// The pod's IPC namespace file.
    public var ipc: String?
    public var hostname: String?
    public var podIP: String?
    public var containers: [Container]

    /// One container's process settings.
    public struct Container: Codable, Sendable, Equatable {
        public var name: String
        public var env: [String: String]?
        public var workingDir: String?

        public init(name: String, env: [String: String]? = nil, workingDir: String? = nil) {
            self.name = name
            self.env = env
            self.workingDir = workingDir
        }
    }

    public init(netns: String, uts: String? = nil, ipc: String? = nil, hostname: String? = nil, podIP: String? = nil,
                containers: [Container]) {
        self.netns = netns
        self.uts = uts
        self.ipc = ipc
        self.hostname = hostname
        self.podIP = podIP
        self.containers = containers
    }

    public static func path(namespace: String, pod: String) -> String {
        "/podlab/v1/namespaces/\(namespace)/pods/\(pod)/sandbox"
    }
}
