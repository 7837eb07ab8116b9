/// A v1 Event (`kind: Event`): something that happened to an object, as the kubelet reports
/// it (`Unhealthy`, `Killing`). Repeats of one event are one object with a `count`, as the
/// kubelet's event recorder aggregates them.
public struct Event: KubernetesObject, Hashable {
    public static let kind = "Event"
    public static let apiVersion = "v1"

    public var metadata: ObjectMeta
    public var involvedObject: ObjectReference
    public var reason: String
    public var message: String
    /// `Normal` or `Warning`.
    public var type: EventType
    /// Who reported it (`kubelet`).
    public var sourceComponent: String
    public var firstTimestamp: Timestamp?
    public var lastTimestamp: Timestamp?
    public var count: Int32

    public init(metadata: ObjectMeta, involvedObject: ObjectReference, reason: String, message: String, type: EventType,
                sourceComponent: String = "kubelet", firstTimestamp: Timestamp? = nil, lastTimestamp: Timestamp? = nil, count: Int32 = 1) {
        self.metadata = metadata
        self.involvedObject = involvedObject
        self.reason = reason
        self.message = message
        self.type = type
        self.sourceComponent = sourceComponent
        self.firstTimestamp = firstTimestamp
        self.lastTimestamp = lastTimestamp
        self.count = count
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        try reader.typeInformation(of: Event.self)
        metadata = try reader.object("metadata") ?? ObjectMeta()
        involvedObject = try reader.object("involvedObject") ?? ObjectReference()
        reason = try reader.string("reason") ?? ""
        message = try reader.string("message") ?? ""
        type = try reader.enumeration("type") ?? .normal
        sourceComponent = reader.value("source")?["component"]?.stringValue ?? ""
        firstTimestamp = try reader.timestamp("firstTimestamp")
        lastTimestamp = try reader.timestamp("lastTimestamp")
        count = try reader.int32("count") ?? 0
        _ = reader.preservedFields(["eventTime", "reportingComponent", "reportingInstance", "series", "action", "related"])
    }

    public func write(to writer: inout ObjectWriter) {
        writer.setTypeInformation(of: Event.self)
        writer.set("metadata", metadata.json)
        writer.set("involvedObject", involvedObject.json)
        writer.set("reason", omittingEmpty: reason)
        writer.set("message", omittingEmpty: message)
        writer.set("source", .object(sourceComponent.isEmpty ? [:] : ["component": .string(sourceComponent)]))
        writer.set("firstTimestamp", nullable: firstTimestamp)
        writer.set("lastTimestamp", nullable: lastTimestamp)
        writer.set("count", omittingZero: Int64(count))
        writer.set("type", .string(type.rawValue))
        writer.set("eventTime", .null)
        writer.set("reportingComponent", .string(sourceComponent))
        writer.set("reportingInstance", .string(""))
    }
}

public typealias EventList = ObjectList<Event>

/// `Normal` or `Warning`.
public struct EventType: StringValue {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let normal: EventType = "Normal"
    public static let warning: EventType = "Warning"
}

/// The kubelet's event reasons podlab reports.
public enum EventReason {
    /// A probe failed or errored.
    public static let unhealthy = "Unhealthy"
    /// A container is being stopped (a failed liveness or startup probe, the pod's deletion).
    public static let killing = "Killing"
    /// The scheduler bound the pod to a node.
    public static let scheduled = "Scheduled"
    /// The pod's sandbox is gone and made again (with `shareProcessNamespace`: its pause
    /// process ended, taking the pod's pid namespace and its processes with it).
    public static let sandboxChanged = "SandboxChanged"
    /// The container's image is being pulled from its registry.
    public static let pulling = "Pulling"
    /// The container's image is there.
    public static let pulled = "Pulled"
    /// The container was made, and its process started.
    public static let created = "Created"
    public static let started = "Started"
    /// A container (or its image pull) waits before it is tried again.
    public static let backOff = "BackOff"
    /// An image pull or a container start failed.
    public static let failed = "Failed"
    /// A volume could not be set up (a ConfigMap or Secret it reads is missing, say).
    public static let failedMount = "FailedMount"
    /// `envFrom` keys that are no valid variable names were left out.
    public static let invalidEnvironmentVariableNames = "InvalidEnvironmentVariableNames"
    /// A Deployment changed the size of one of its ReplicaSets.
    public static let scalingReplicaSet = "ScalingReplicaSet"
    /// A ReplicaSet made or deleted one of its pods.
    public static let successfulCreate = "SuccessfulCreate"
    public static let successfulDelete = "SuccessfulDelete"
}


/// What `kubectl describe` shows of events: the `Events:` section, oldest first, the age of a
/// repeated event as `5s (x3 over 25s)`.
public enum EventDescription {
    public static func section(_ events: [Event], now: Timestamp) -> String {
        guard !events.isEmpty else { return "Events:\t<none>\n" }
        var w = "Events:\n  Type\tReason\tAge\tFrom\tMessage\n  ----\t------\t----\t----\t-------\n"
        let sorted = events.sorted { ($0.firstTimestamp?.secondsSince1970 ?? 0) < ($1.firstTimestamp?.secondsSince1970 ?? 0) }
        for event in sorted {
            let last = event.lastTimestamp.map { HumanDuration.since($0, now: now) } ?? "<unknown>"
            var age = last
            if event.count > 1, let first = event.firstTimestamp {
                age = "\(last) (x\(event.count) over \(HumanDuration.since(first, now: now)))"
            }
            let message = event.message.trimmingWhitespace()
            w += "  \(event.type.rawValue)\t\(event.reason)\t\(age)\t\(event.sourceComponent)\t\(message)\n"
        }
        return w
    }
}
