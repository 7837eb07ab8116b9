/// `GET /podlab/v1/lab`: the lab as its agent sees it.
public struct LabInfo: Codable, Sendable, Equatable {
    /// `Creating`, `Ready`, `Deleting` or `Failed`.
    public var phase: String
    public var name: String
    /// What the agent is doing now, or why the lab failed.
    public var message: String?
    /// `host-gw` or `vxlan`.
    public var routing: String?
    public var clusterCIDR: String?
    public var serviceCIDR: String?
    public var underlayCIDR: String?
    public var agent: Agent?
    public var nodes: [Node]?

    /// The agent process.
    public struct Agent: Codable, Sendable, Equatable {
        public var pid: Int32?
        public var startTime: String?

        public init(pid: Int32? = nil, startTime: String? = nil) {
            self.pid = pid
            self.startTime = startTime
        }
    }

    /// One node of the lab.
    public struct Node: Codable, Sendable, Equatable {
        public var name: String
        /// The node's network namespace.
        public var namespace: String?
        public var underlayIP: String?
        public var podCIDR: String?
        public var gateway: String?
        /// Pods scheduled on the node.
        public var pods: Int?
        public var ready: Bool?

        public init(name: String, namespace: String? = nil, underlayIP: String? = nil, podCIDR: String? = nil,
                    gateway: String? = nil, pods: Int? = nil, ready: Bool? = nil) {
            self.name = name
            self.namespace = namespace
            self.underlayIP = underlayIP
            self.podCIDR = podCIDR
            self.gateway = gateway
            self.pods = pods
            self.ready = ready
        }
    }

    public init(name: String, phase: String, message: String? = nil, routing: String? = nil, clusterCIDR: String? = nil,
                serviceCIDR: String? = nil, underlayCIDR: String? = nil, agent: Agent? = nil, nodes: [Node]? = nil) {
        self.name = name
        self.phase = phase
        self.message = message
        self.routing = routing
        self.clusterCIDR = clusterCIDR
        self.serviceCIDR = serviceCIDR
        self.underlayCIDR = underlayCIDR
        self.agent = agent
        self.nodes = nodes
    }

    public static let path = "/podlab/v1/lab"
}

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
    public var hostname: String?
    public var podIP: String?
    public var containers: [Container]

    /// One container's process settings.
    public struct Container: Codable, Sendable, Equatable {
        public var name: String
        public var env: [String: String]?
        public var workingDir: String?
        /// The mount namespace to run in: the pod's, or the container's own (its volumes) while
        /// it runs; absent when it has one of its own but no process.
        public var mnt: String?

        public init(name: String, env: [String: String]? = nil, workingDir: String? = nil, mnt: String? = nil) {
            self.name = name
            self.env = env
            self.workingDir = workingDir
            self.mnt = mnt
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
