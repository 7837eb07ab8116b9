/// Where a pod is in its lifecycle (`status.phase`).
public struct PodPhase: StringValue {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Accepted, but not all containers have started.
    public static let pending: PodPhase = "Pending"
    /// Bound to a node, all containers created, at least one running or restarting.
    public static let running: PodPhase = "Running"
    /// All containers exited with 0 and will not be restarted.
    public static let succeeded: PodPhase = "Succeeded"
    /// All containers exited, at least one with a failure, and none will be restarted.
    public static let failed: PodPhase = "Failed"
    public static let unknown: PodPhase = "Unknown"

    /// Succeeded and Failed are final: a pod never leaves them.
    public var isTerminal: Bool { self == .succeeded || self == .failed }
}

/// `True`, `False` or `Unknown`.
public struct ConditionStatus: StringValue {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let `true`: ConditionStatus = "True"
    public static let `false`: ConditionStatus = "False"
    public static let unknown: ConditionStatus = "Unknown"
}

/// The type of a pod condition.
public struct PodConditionType: StringValue {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let podScheduled: PodConditionType = "PodScheduled"
    public static let initialized: PodConditionType = "Initialized"
    public static let containersReady: PodConditionType = "ContainersReady"
    public static let ready: PodConditionType = "Ready"
}

/// One entry of `status.conditions`.
public struct PodCondition: JSONObjectCodable, Hashable {
    public var type: PodConditionType
    public var status: ConditionStatus
    /// Written as `null` when unset, as Kubernetes does.
    public var lastProbeTime: Timestamp?
    public var lastTransitionTime: Timestamp?
    public var reason: String
    public var message: String
    public var preservedFields: [String: JSONValue]

    public init(type: PodConditionType, status: ConditionStatus, lastTransitionTime: Timestamp? = nil,
                reason: String = "", message: String = "", lastProbeTime: Timestamp? = nil) {
        self.type = type
        self.status = status
        self.lastProbeTime = lastProbeTime
        self.lastTransitionTime = lastTransitionTime
        self.reason = reason
        self.message = message
        self.preservedFields = [:]
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        type = try reader.enumeration("type") ?? ""
        status = try reader.enumeration("status") ?? ""
        lastProbeTime = try reader.timestamp("lastProbeTime")
        lastTransitionTime = try reader.timestamp("lastTransitionTime")
        reason = try reader.string("reason") ?? ""
        message = try reader.string("message") ?? ""
        preservedFields = reader.preservedFields(["observedGeneration"])
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("type", .string(type.rawValue))
        writer.set("status", .string(status.rawValue))
        writer.set("lastProbeTime", nullable: lastProbeTime)
        writer.set("lastTransitionTime", nullable: lastTransitionTime)
        writer.set("reason", omittingEmpty: reason)
        writer.set("message", omittingEmpty: message)
        writer.merge(preservedFields)
    }
}

/// An address in `status.podIPs` / `status.hostIPs`.
public struct PodIP: JSONObjectCodable, Hashable {
    public var ip: String

    public init(ip: String) { self.ip = ip }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        ip = try reader.string("ip") ?? ""
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("ip", .string(ip))
    }
}

/// `status` of a pod: what the node agent observed.
public struct PodStatus: JSONObjectCodable, Hashable {
    public var phase: PodPhase?
    public var conditions: [PodCondition]
    public var message: String
    /// A short CamelCase reason for the phase (`Evicted`, `NodeLost`).
    public var reason: String
    public var nominatedNodeName: String
    /// The node's underlay address.
    public var hostIP: String
    public var hostIPs: [PodIP]
    public var podIP: String
    public var podIPs: [PodIP]
    public var startTime: Timestamp?
    public var initContainerStatuses: [ContainerStatus]
    public var containerStatuses: [ContainerStatus]
    /// Fields Kubernetes defines that podlab keeps unchanged (`qosClass`...).
    public var preservedFields: [String: JSONValue]

    public static let unmodeledFields: Set<String> = [
        "qosClass", "ephemeralContainerStatuses", "resize", "resourceClaimStatuses", "observedGeneration",
        "extendedResourceClaimStatus",
    ]

    public init(phase: PodPhase? = nil, conditions: [PodCondition] = [], message: String = "", reason: String = "",
                nominatedNodeName: String = "", hostIP: String = "", hostIPs: [PodIP] = [], podIP: String = "", podIPs: [PodIP] = [],
                startTime: Timestamp? = nil, initContainerStatuses: [ContainerStatus] = [], containerStatuses: [ContainerStatus] = []) {
        self.phase = phase
        self.conditions = conditions
        self.message = message
        self.reason = reason
        self.nominatedNodeName = nominatedNodeName
        self.hostIP = hostIP
        self.hostIPs = hostIPs
        self.podIP = podIP
        self.podIPs = podIPs
        self.startTime = startTime
        self.initContainerStatuses = initContainerStatuses
        self.containerStatuses = containerStatuses
        self.preservedFields = [:]
    }

    /// The condition of `type`, if reported.
    public func condition(_ type: PodConditionType) -> PodCondition? {
        conditions.first { $0.type == type }
    }

    /// The status of the container named `name`, if reported.
    public func containerStatus(named name: String) -> ContainerStatus? {
        containerStatuses.first { $0.name == name }
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        phase = try reader.enumeration("phase")
        conditions = try reader.objects("conditions")
        message = try reader.string("message") ?? ""
        reason = try reader.string("reason") ?? ""
        nominatedNodeName = try reader.string("nominatedNodeName") ?? ""
        hostIP = try reader.string("hostIP") ?? ""
        hostIPs = try reader.objects("hostIPs")
        podIP = try reader.string("podIP") ?? ""
        podIPs = try reader.objects("podIPs")
        startTime = try reader.timestamp("startTime")
        initContainerStatuses = try reader.objects("initContainerStatuses")
        containerStatuses = try reader.objects("containerStatuses")
        preservedFields = reader.preservedFields(Self.unmodeledFields)
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("phase", omittingNil: phase)
        writer.set("conditions", omittingEmpty: conditions)
        writer.set("message", omittingEmpty: message)
        writer.set("reason", omittingEmpty: reason)
        writer.set("nominatedNodeName", omittingEmpty: nominatedNodeName)
        writer.set("hostIP", omittingEmpty: hostIP)
        writer.set("hostIPs", omittingEmpty: hostIPs)
        writer.set("podIP", omittingEmpty: podIP)
        writer.set("podIPs", omittingEmpty: podIPs)
        writer.set("startTime", omittingNil: startTime)
        writer.set("initContainerStatuses", omittingEmpty: initContainerStatuses)
        writer.set("containerStatuses", omittingEmpty: containerStatuses)
        writer.merge(preservedFields)
    }
}
