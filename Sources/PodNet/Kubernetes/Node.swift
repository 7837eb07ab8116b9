/// A node of the lab (`apiVersion: v1`, `kind: Node`): a network namespace with its own pod CIDR.
public struct Node: KubernetesObject, Hashable {
    public static let kind = "Node"
    public static let apiVersion = "v1"

    /// Name, labels (roles) and bookkeeping.
    public var metadata: ObjectMeta
    public var spec: NodeSpec
    public var status: NodeStatus

    /// A node from its parts.
    public init(metadata: ObjectMeta = ObjectMeta(), spec: NodeSpec = NodeSpec(), status: NodeStatus = NodeStatus()) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        try reader.typeInformation(of: Node.self)
        metadata = try reader.object("metadata") ?? ObjectMeta()
        spec = try reader.object("spec") ?? NodeSpec()
        status = try reader.object("status") ?? NodeStatus()
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.setTypeInformation(of: Node.self)
        writer.set("metadata", metadata.json)
        writer.set("spec", spec.json)
        writer.set("status", status.json)
    }

    /// The node's `InternalIP` address, if reported.
    public var internalIP: String? { status.addresses.first { $0.type == .internalIP }?.address }

    /// The node's `ExternalIP` address, if reported.
    public var externalIP: String? { status.addresses.first { $0.type == .externalIP }?.address }

    /// Roles from `node-role.kubernetes.io/<role>` labels and the `kubernetes.io/role` label, sorted.
    public var roles: [String] {
        var roles: Set<String> = []
        for (key, value) in metadata.labels {
            if key.hasPrefix("node-role.kubernetes.io/") {
                let role = String(key.dropFirst("node-role.kubernetes.io/".count))
                if !role.isEmpty { roles.insert(role) }
            } else if key == "kubernetes.io/role", !value.isEmpty {
                roles.insert(value)
            }
        }
        return roles.sorted()
    }
}

/// `spec` of a node.
public struct NodeSpec: JSONObjectCodable, Hashable {
    /// The node's pod CIDR (`10.244.1.0/24`).
    public var podCIDR: String
    public var podCIDRs: [String]
    /// A cordoned node takes no new pods.
    public var unschedulable: Bool
    public var preservedFields: [String: JSONValue]

    public init(podCIDR: String = "", podCIDRs: [String] = [], unschedulable: Bool = false) {
        self.podCIDR = podCIDR
        self.podCIDRs = podCIDRs
        self.unschedulable = unschedulable
        self.preservedFields = [:]
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        podCIDR = try reader.string("podCIDR") ?? ""
        podCIDRs = try reader.stringArray("podCIDRs") ?? []
        unschedulable = try reader.bool("unschedulable") ?? false
        preservedFields = reader.preservedFields(["providerID", "taints", "configSource", "externalID"])
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("podCIDR", omittingEmpty: podCIDR)
        writer.set("podCIDRs", omittingEmpty: podCIDRs)
        if unschedulable { writer.set("unschedulable", .bool(true)) }
        writer.merge(preservedFields)
    }
}

/// The type of a node address.
public struct NodeAddressType: StringValue {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let internalIP: NodeAddressType = "InternalIP"
    public static let externalIP: NodeAddressType = "ExternalIP"
    public static let hostname: NodeAddressType = "Hostname"
}

/// One entry of a node's `status.addresses`.
public struct NodeAddress: JSONObjectCodable, Hashable {
    public var type: NodeAddressType
    public var address: String

    public init(type: NodeAddressType, address: String) {
        self.type = type
        self.address = address
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        type = try reader.enumeration("type") ?? ""
        address = try reader.string("address") ?? ""
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("type", .string(type.rawValue))
        writer.set("address", .string(address))
    }
}

/// The type of a node condition.
public struct NodeConditionType: StringValue {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let ready: NodeConditionType = "Ready"
}

/// One entry of a node's `status.conditions`.
public struct NodeCondition: JSONObjectCodable, Hashable {
    public var type: NodeConditionType
    public var status: ConditionStatus
    public var lastHeartbeatTime: Timestamp?
    public var lastTransitionTime: Timestamp?
    public var reason: String
    public var message: String

    public init(type: NodeConditionType, status: ConditionStatus, lastHeartbeatTime: Timestamp? = nil,
                lastTransitionTime: Timestamp? = nil, reason: String = "", message: String = "") {
        self.type = type
        self.status = status
        self.lastHeartbeatTime = lastHeartbeatTime
        self.lastTransitionTime = lastTransitionTime
        self.reason = reason
        self.message = message
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        type = try reader.enumeration("type") ?? ""
        status = try reader.enumeration("status") ?? ""
        lastHeartbeatTime = try reader.timestamp("lastHeartbeatTime")
        lastTransitionTime = try reader.timestamp("lastTransitionTime")
        reason = try reader.string("reason") ?? ""
        message = try reader.string("message") ?? ""
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("type", .string(type.rawValue))
        writer.set("status", .string(status.rawValue))
        writer.set("lastHeartbeatTime", nullable: lastHeartbeatTime)
        writer.set("lastTransitionTime", nullable: lastTransitionTime)
        writer.set("reason", omittingEmpty: reason)
        writer.set("message", omittingEmpty: message)
    }
}

/// A node's `status.nodeInfo`: what runs it. All fields are always written, as in Kubernetes.
public struct NodeSystemInfo: JSONObjectCodable, Hashable {
    public var machineID: String
    public var systemUUID: String
    public var bootID: String
    public var kernelVersion: String
    public var osImage: String
    public var containerRuntimeVersion: String
    public var kubeletVersion: String
    public var kubeProxyVersion: String
    public var operatingSystem: String
    public var architecture: String
    public var preservedFields: [String: JSONValue]

    public init(machineID: String = "", systemUUID: String = "", bootID: String = "", kernelVersion: String = "",
                osImage: String = "", containerRuntimeVersion: String = "", kubeletVersion: String = "",
                kubeProxyVersion: String = "", operatingSystem: String = "", architecture: String = "") {
        self.machineID = machineID
        self.systemUUID = systemUUID
        self.bootID = bootID
        self.kernelVersion = kernelVersion
        self.osImage = osImage
        self.containerRuntimeVersion = containerRuntimeVersion
        self.kubeletVersion = kubeletVersion
        self.kubeProxyVersion = kubeProxyVersion
        self.operatingSystem = operatingSystem
        self.architecture = architecture
        self.preservedFields = [:]
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        machineID = try reader.string("machineID") ?? ""
        systemUUID = try reader.string("systemUUID") ?? ""
        bootID = try reader.string("bootID") ?? ""
        kernelVersion = try reader.string("kernelVersion") ?? ""
        osImage = try reader.string("osImage") ?? ""
        containerRuntimeVersion = try reader.string("containerRuntimeVersion") ?? ""
        kubeletVersion = try reader.string("kubeletVersion") ?? ""
        kubeProxyVersion = try reader.string("kubeProxyVersion") ?? ""
        operatingSystem = try reader.string("operatingSystem") ?? ""
        architecture = try reader.string("architecture") ?? ""
        preservedFields = reader.preservedFields(["swap"])
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("machineID", .string(machineID))
        writer.set("systemUUID", .string(systemUUID))
        writer.set("bootID", .string(bootID))
        writer.set("kernelVersion", .string(kernelVersion))
        writer.set("osImage", .string(osImage))
        writer.set("containerRuntimeVersion", .string(containerRuntimeVersion))
        writer.set("kubeletVersion", .string(kubeletVersion))
        writer.set("kubeProxyVersion", .string(kubeProxyVersion))
        writer.set("operatingSystem", .string(operatingSystem))
        writer.set("architecture", .string(architecture))
        writer.merge(preservedFields)
    }
}

/// `status` of a node.
public struct NodeStatus: JSONObjectCodable, Hashable {
    public var addresses: [NodeAddress]
    public var conditions: [NodeCondition]
    public var nodeInfo: NodeSystemInfo
    /// `capacity`, `allocatable`, `daemonEndpoints`, `images`... kept unchanged.
    public var preservedFields: [String: JSONValue]

    public static let unmodeledFields: Set<String> = [
        "capacity", "allocatable", "phase", "daemonEndpoints", "images", "volumesInUse", "volumesAttached",
        "config", "runtimeHandlers", "features", "declaredFeatures",
    ]

    public init(addresses: [NodeAddress] = [], conditions: [NodeCondition] = [], nodeInfo: NodeSystemInfo = NodeSystemInfo()) {
        self.addresses = addresses
        self.conditions = conditions
        self.nodeInfo = nodeInfo
        self.preservedFields = [:]
    }

    /// The condition of `type`, if reported.
    public func condition(_ type: NodeConditionType) -> NodeCondition? {
        conditions.first { $0.type == type }
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        addresses = try reader.objects("addresses")
        conditions = try reader.objects("conditions")
        nodeInfo = try reader.object("nodeInfo") ?? NodeSystemInfo()
        preservedFields = reader.preservedFields(Self.unmodeledFields)
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("addresses", omittingEmpty: addresses)
        writer.set("conditions", omittingEmpty: conditions)
        writer.set("nodeInfo", nodeInfo.json)
        writer.merge(preservedFields)
    }
}
