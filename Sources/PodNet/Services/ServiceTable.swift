/// What one node's Service dataplane must implement: the Services of the lab with their
/// endpoints, as the API objects (Service, EndpointSlice) describe them, reduced to what the
/// rules need. `ServiceRules.generate(for:node:)` turns it into the node's ruleset.
public struct ServiceTable: Hashable, Sendable, Codable {
    public var services: [ServiceEntry]

    public init(_ services: [ServiceEntry] = []) {
        self.services = services
    }

    /// The service and port a virtual address and port belong to (the ClusterIP, or a node's
    /// address with a NodePort).
    public func service(address: IPv4Address, port: UInt16, protocol proto: ServiceProtocol, node: ServiceNode) -> (ServiceEntry, ServicePortEntry)? {
        for service in services {
            for entry in service.ports where entry.protocol == proto {
                if let clusterIP = service.clusterIP, clusterIP == address, entry.port == port { return (service, entry) }
                if service.type == .nodePort, address == node.underlayIP, entry.nodePort == port { return (service, entry) }
            }
        }
        return nil
    }
}

/// The transport protocols a Service port may use here.
public enum ServiceProtocol: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case tcp, udp
    public var description: String { rawValue }
    /// The IP protocol number.
    public var number: UInt8 { self == .tcp ? 6 : 17 }
}

/// One Service: its virtual address, ports and how it picks endpoints.
public struct ServiceEntry: Hashable, Sendable, Codable {
    public enum ServiceType: String, Hashable, Sendable, Codable {
        case clusterIP = "ClusterIP"
        case nodePort = "NodePort"
    }

    public enum SessionAffinity: Hashable, Sendable, Codable {
        case none
        /// Connections from one client address go to the endpoint its last connection went to,
        /// for `timeoutSeconds` after that connection (Kubernetes' default is 10 800).
        case clientIP(timeoutSeconds: UInt32)
    }

    public enum TrafficPolicy: String, Hashable, Sendable, Codable {
        /// Any ready endpoint in the cluster.
        case cluster = "Cluster"
        /// Only endpoints on the client's node; none there means the packet is dropped.
        case local = "Local"
    }

    public var namespace: String
    public var name: String
    /// nil for a headless Service (`clusterIP: None`), which the dataplane does not implement.
    public var clusterIP: IPv4Address?
    public var type: ServiceType
    public var ports: [ServicePortEntry]
    public var sessionAffinity: SessionAffinity
    public var internalTrafficPolicy: TrafficPolicy

    public init(namespace: String = "default", name: String, clusterIP: IPv4Address?, type: ServiceType = .clusterIP, ports: [ServicePortEntry],
                sessionAffinity: SessionAffinity = .none, internalTrafficPolicy: TrafficPolicy = .cluster) {
        self.namespace = namespace
        self.name = name
        self.clusterIP = clusterIP
        self.type = type
        self.ports = ports
        self.sessionAffinity = sessionAffinity
        self.internalTrafficPolicy = internalTrafficPolicy
    }

    /// `default/web`
    public var qualifiedName: String { "\(namespace)/\(name)" }
}

/// One port of a Service, with the endpoints that serve it.
public struct ServicePortEntry: Hashable, Sendable, Codable {
    public var name: String
    public var `protocol`: ServiceProtocol
    public var port: UInt16
    /// Set for NodePort Services.
    public var nodePort: UInt16?
    /// The endpoints for this port (their `port` is the resolved targetPort).
    public var endpoints: [ServiceEndpoint]

    public init(name: String = "", protocol proto: ServiceProtocol = .tcp, port: UInt16, nodePort: UInt16? = nil, endpoints: [ServiceEndpoint]) {
        self.name = name
        self.protocol = proto
        self.port = port
        self.nodePort = nodePort
        self.endpoints = endpoints
    }

    /// `http 80/tcp`, or `80/tcp` for an unnamed port.
    public var label: String { (name.isEmpty ? "" : "\(name) ") + "\(port)/\(self.protocol)" }
}

/// An endpoint as an EndpointSlice lists it: a pod address and port with its conditions.
public struct ServiceEndpoint: Hashable, Sendable, Codable, CustomStringConvertible {
    public var ip: IPv4Address
    public var port: UInt16
    public var nodeName: String?
    public var ready: Bool
    public var serving: Bool
    public var terminating: Bool

    public init(ip: IPv4Address, port: UInt16, nodeName: String? = nil, ready: Bool = true, serving: Bool? = nil, terminating: Bool = false) {
        self.ip = ip
        self.port = port
        self.nodeName = nodeName
        self.ready = ready
        self.serving = serving ?? ready
        self.terminating = terminating
    }

    /// `10.244.1.2:8080`
    public var description: String { "\(ip):\(port)" }
}

/// The node a ruleset is for: its name and addresses.
public struct ServiceNode: Hashable, Sendable, Codable {
    public var name: String
    /// The node's address on the underlay network, where NodePorts listen.
    public var underlayIP: IPv4Address
    public var podCIDR: IPv4Prefix
    public var clusterCIDR: IPv4Prefix
    public var serviceCIDR: IPv4Prefix

    public init(name: String, underlayIP: IPv4Address, podCIDR: IPv4Prefix, clusterCIDR: IPv4Prefix, serviceCIDR: IPv4Prefix) {
        self.name = name
        self.underlayIP = underlayIP
        self.podCIDR = podCIDR
        self.clusterCIDR = clusterCIDR
        self.serviceCIDR = serviceCIDR
    }
}

extension ServiceNode {
    /// The node as the lab's plan places it.
    public init(_ node: NodePlan, in plan: LabPlan) {
        self.init(name: node.name, underlayIP: node.underlayAddress.address, podCIDR: node.podCIDR, clusterCIDR: plan.clusterCIDR,
                  serviceCIDR: plan.serviceCIDR)
    }
}
