/// A service (`apiVersion: v1`, `kind: Service`): a stable virtual address (ClusterIP), and
/// optionally a port on every node (NodePort), in front of the ready pods its selector picks.
public struct Service: KubernetesObject, Hashable {
    public static let kind = "Service"
    public static let apiVersion = "v1"

    public var metadata: ObjectMeta
    public var spec: ServiceSpec
    /// `{loadBalancer: {}}` once stored, as the API server writes it.
    public var status: [String: JSONValue]

    public init(metadata: ObjectMeta = ObjectMeta(), spec: ServiceSpec = ServiceSpec(), status: [String: JSONValue] = [:]) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    /// `namespace/name`.
    public var qualifiedName: String { "\(metadata.namespace.isEmpty ? "default" : metadata.namespace)/\(metadata.name)" }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        try reader.typeInformation(of: Service.self)
        metadata = try reader.object("metadata") ?? ObjectMeta()
        spec = try reader.object("spec") ?? ServiceSpec()
        switch reader.value("status") {
        case nil, .null?: status = [:]
        case let .object(fields)?:
            let unknown = fields.keys.filter { $0 != "loadBalancer" && $0 != "conditions" }.sorted()
            guard unknown.isEmpty else { throw .unknownFields(unknown.map { reader.path.child("status").child($0) }) }
            status = fields
        case let other?: throw .typeMismatch(field: reader.path.child("status"), expected: "object", found: other.typeName)
        }
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.setTypeInformation(of: Service.self)
        writer.set("metadata", metadata.json)
        writer.set("spec", spec.json)
        writer.set("status", .object(status))
    }

    /// A headless service (`clusterIP: None`): DNS names its endpoints, no virtual address.
    public var isHeadless: Bool { spec.clusterIP == ServiceSpec.noneClusterIP }
}

/// `spec.type` of a service.
public struct ServiceType: StringValue {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let clusterIP: ServiceType = "ClusterIP"
    public static let nodePort: ServiceType = "NodePort"
    public static let loadBalancer: ServiceType = "LoadBalancer"
    public static let externalName: ServiceType = "ExternalName"
    /// In the order Kubernetes lists them in validation messages.
    public static let supported: [ServiceType] = [.clusterIP, .externalName, .loadBalancer, .nodePort]
}

/// `spec.sessionAffinity` of a service.
public struct SessionAffinity: StringValue {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let none: SessionAffinity = "None"
    public static let clientIP: SessionAffinity = "ClientIP"
    public static let supported: [SessionAffinity] = [.clientIP, .none]
}

/// `spec.internalTrafficPolicy` and `spec.externalTrafficPolicy`.
public struct TrafficPolicy: StringValue {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let cluster: TrafficPolicy = "Cluster"
    public static let local: TrafficPolicy = "Local"
    public static let supported: [TrafficPolicy] = [.cluster, .local]
}

/// `spec` of a service.
public struct ServiceSpec: JSONObjectCodable, Hashable {
    /// `clusterIP: None`: a headless service.
    public static let noneClusterIP = "None"
    /// Kubernetes' default ClientIP affinity timeout: three hours.
    public static let defaultAffinityTimeout: Int32 = 10800

    public var type: ServiceType?
    /// Pods with all these labels (in the service's namespace) are its endpoints; empty selects
    /// none (the endpoints are then managed by hand, which podlab does not offer).
    public var selector: [String: String]
    public var ports: [ServicePort]
    /// The virtual address, allocated from the lab's service CIDR unless requested; `None` for
    /// a headless service.
    public var clusterIP: String
    public var clusterIPs: [String]
    public var sessionAffinity: SessionAffinity?
    /// `sessionAffinityConfig.clientIP.timeoutSeconds`.
    public var affinityTimeoutSeconds: Int32?
    public var internalTrafficPolicy: TrafficPolicy?
    public var externalTrafficPolicy: TrafficPolicy?
    /// Endpoints for pods that are not ready (DNS of StatefulSets uses it).
    public var publishNotReadyAddresses: Bool
    public var ipFamilies: [String]
    public var ipFamilyPolicy: String
    /// Fields Kubernetes defines that podlab keeps (and refuses where it would act differently).
    public var preservedFields: [String: JSONValue]

    public static let unmodeledFields: Set<String> = [
        "externalIPs", "externalName", "loadBalancerIP", "loadBalancerSourceRanges", "loadBalancerClass",
        "healthCheckNodePort", "allocateLoadBalancerNodePorts", "trafficDistribution",
    ]

    public init(type: ServiceType? = nil, selector: [String: String] = [:], ports: [ServicePort] = [], clusterIP: String = "") {
        self.type = type
        self.selector = selector
        self.ports = ports
        self.clusterIP = clusterIP
        self.clusterIPs = []
        self.sessionAffinity = nil
        self.affinityTimeoutSeconds = nil
        self.internalTrafficPolicy = nil
        self.externalTrafficPolicy = nil
        self.publishNotReadyAddresses = false
        self.ipFamilies = []
        self.ipFamilyPolicy = ""
        self.preservedFields = [:]
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        type = try reader.enumeration("type")
        selector = try reader.stringMap("selector") ?? [:]
        ports = try reader.objects("ports")
        clusterIP = try reader.string("clusterIP") ?? ""
        clusterIPs = try reader.stringArray("clusterIPs") ?? []
        sessionAffinity = try reader.enumeration("sessionAffinity")
        affinityTimeoutSeconds = nil
        if let config = try reader.object("sessionAffinityConfig", as: SessionAffinityConfig.self) {
            affinityTimeoutSeconds = config.timeoutSeconds
        }
        internalTrafficPolicy = try reader.enumeration("internalTrafficPolicy")
        externalTrafficPolicy = try reader.enumeration("externalTrafficPolicy")
        publishNotReadyAddresses = try reader.bool("publishNotReadyAddresses") ?? false
        ipFamilies = try reader.stringArray("ipFamilies") ?? []
        ipFamilyPolicy = try reader.string("ipFamilyPolicy") ?? ""
        preservedFields = reader.preservedFields(Self.unmodeledFields)
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("type", omittingNil: type)
        writer.set("selector", omittingEmpty: selector)
        writer.set("ports", omittingEmpty: ports)
        writer.set("clusterIP", omittingEmpty: clusterIP)
        writer.set("clusterIPs", omittingEmpty: clusterIPs)
        writer.set("sessionAffinity", omittingNil: sessionAffinity)
        if let affinityTimeoutSeconds {
            writer.set("sessionAffinityConfig", .object(["clientIP": .object(["timeoutSeconds": .integer(Int64(affinityTimeoutSeconds))])]))
        }
        writer.set("internalTrafficPolicy", omittingNil: internalTrafficPolicy)
        writer.set("externalTrafficPolicy", omittingNil: externalTrafficPolicy)
        if publishNotReadyAddresses { writer.set("publishNotReadyAddresses", .bool(true)) }
        writer.set("ipFamilies", omittingEmpty: ipFamilies)
        writer.set("ipFamilyPolicy", omittingEmpty: ipFamilyPolicy)
        writer.merge(preservedFields)
    }

    /// The type with Kubernetes' default.
    public var effectiveType: ServiceType { type ?? .clusterIP }
}

/// `sessionAffinityConfig` (only its `clientIP.timeoutSeconds` exists).
struct SessionAffinityConfig: JSONObjectCodable {
    var timeoutSeconds: Int32?

    init(from reader: ObjectReader) throws(ObjectDecodingError) {
        timeoutSeconds = try reader.object("clientIP", as: ClientIPConfig.self)?.timeoutSeconds
        _ = reader.preservedFields([])
    }

    func write(to writer: inout ObjectWriter) {
        if let timeoutSeconds { writer.set("clientIP", .object(["timeoutSeconds": .integer(Int64(timeoutSeconds))])) }
    }

    struct ClientIPConfig: JSONObjectCodable {
        var timeoutSeconds: Int32?
        init(from reader: ObjectReader) throws(ObjectDecodingError) {
            timeoutSeconds = try reader.int32("timeoutSeconds")
            _ = reader.preservedFields([])
        }
        func write(to writer: inout ObjectWriter) {
            if let timeoutSeconds { writer.set("timeoutSeconds", .integer(Int64(timeoutSeconds))) }
        }
    }
}

/// One port of a service.
public struct ServicePort: JSONObjectCodable, Hashable {
    /// Required when the service has more than one port; names SRV records and EndpointSlice ports.
    public var name: String
    public var `protocol`: PortProtocol?
    /// The service's own port, on its ClusterIP.
    public var port: Int32
    /// The pods' port: a number, or the name of a container port. Defaults to `port`.
    public var targetPort: IntOrString?
    /// The port on every node's address (NodePort services), 30000–32767; 0 until allocated.
    public var nodePort: Int32
    public var preservedFields: [String: JSONValue]

    public init(name: String = "", protocol: PortProtocol? = nil, port: Int32, targetPort: IntOrString? = nil, nodePort: Int32 = 0) {
        self.name = name
        self.protocol = `protocol`
        self.port = port
        self.targetPort = targetPort
        self.nodePort = nodePort
        self.preservedFields = [:]
    }

    public var effectiveProtocol: PortProtocol { `protocol` ?? .tcp }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        name = try reader.string("name") ?? ""
        `protocol` = try reader.enumeration("protocol")
        port = try reader.int32("port") ?? 0
        targetPort = try reader.intOrString("targetPort")
        nodePort = try reader.int32("nodePort") ?? 0
        preservedFields = reader.preservedFields(["appProtocol"])
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("name", omittingEmpty: name)
        writer.set("protocol", omittingNil: `protocol`)
        writer.set("port", .integer(Int64(port)))
        if let targetPort { writer.set("targetPort", targetPort.json) }
        writer.set("nodePort", omittingZero: Int64(nodePort))
        writer.merge(preservedFields)
    }
}
