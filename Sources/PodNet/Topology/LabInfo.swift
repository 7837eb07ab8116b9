/// Where a lab is in its life, as its agent reports it.
public enum LabPhase: String, Codable, Sendable, CustomStringConvertible {
    /// The agent is building or adopting the lab network and the pods.
    case creating = "Creating"
    case ready = "Ready"
    /// `podlab down` is removing everything.
    case deleting = "Deleting"
    /// The lab could not be built; `message` says why.
    case failed = "Failed"

    public var description: String { rawValue }
}

/// `GET /podlab/v1/lab`: the lab as its agent sees it. The agent encodes it and the CLI
/// decodes it: one type for both ends.
public struct LabInfo: Codable, Sendable, Equatable {
    public var phase: LabPhase
    public var name: String
    /// What the agent is doing now, or why the lab failed.
    public var message: String?
    /// `host-gw` or `vxlan`.
    public var routing: String?
    public var clusterCIDR: String?
    public var serviceCIDR: String?
    public var underlayCIDR: String?
    /// The underlay's network namespace.
    public var underlayNamespace: String?
    /// When the lab was made (RFC 3339).
    public var createdAt: String?
    public var agent: Agent?
    public var nodes: [Node]?
    /// The HTTPS API for kubectl (`https://127.0.0.1:<port>`); see `podlab kubeconfig`.
    public var apiServer: String?

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

    public init(name: String, phase: LabPhase, message: String? = nil, routing: String? = nil, clusterCIDR: String? = nil,
                serviceCIDR: String? = nil, underlayCIDR: String? = nil, underlayNamespace: String? = nil, createdAt: String? = nil,
                agent: Agent? = nil, nodes: [Node]? = nil, apiServer: String? = nil) {
        self.apiServer = apiServer
        self.name = name
        self.phase = phase
        self.message = message
        self.routing = routing
        self.clusterCIDR = clusterCIDR
        self.serviceCIDR = serviceCIDR
        self.underlayCIDR = underlayCIDR
        self.underlayNamespace = underlayNamespace
        self.createdAt = createdAt
        self.agent = agent
        self.nodes = nodes
    }

    public static let path = "/podlab/v1/lab"
}

