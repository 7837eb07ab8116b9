/// A Deployment (`apiVersion: apps/v1`): `replicas` pods from a template, rolled out through
/// one ReplicaSet per template version (its revision), with a rolling update or by recreating.
public struct Deployment: KubernetesObject, Hashable {
    public static let kind = "Deployment"
    public static let apiVersion = "apps/v1"

    /// The annotation numbering a Deployment's template versions, on it and on its ReplicaSets.
    public static let revisionAnnotation = "deployment.kubernetes.io/revision"
    /// On a ReplicaSet: the Deployment's replicas when it last scaled it (the API server's bookkeeping).
    public static let desiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
    public static let maxReplicasAnnotation = "deployment.kubernetes.io/max-replicas"
    /// `kubernetes.io/change-cause`, shown by `rollout history`.
    public static let changeCauseAnnotation = "kubernetes.io/change-cause"

    public var metadata: ObjectMeta
    public var spec: DeploymentSpec
    public var status: DeploymentStatus

    public init(metadata: ObjectMeta = ObjectMeta(), spec: DeploymentSpec = DeploymentSpec(), status: DeploymentStatus = DeploymentStatus()) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        try reader.typeInformation(of: Deployment.self)
        metadata = try reader.object("metadata") ?? ObjectMeta()
        spec = try reader.object("spec") ?? DeploymentSpec()
        status = try reader.object("status") ?? DeploymentStatus()
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.setTypeInformation(of: Deployment.self)
        writer.set("metadata", metadata.json)
        writer.set("spec", spec.json)
        writer.set("status", status.json)
    }

    public var desiredReplicas: Int { Int(spec.replicas ?? 1) }
}

/// `spec.strategy.type`.
public struct DeploymentStrategyType: StringValue {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let recreate: DeploymentStrategyType = "Recreate"
    public static let rollingUpdate: DeploymentStrategyType = "RollingUpdate"
    public static let supported: [DeploymentStrategyType] = [.recreate, .rollingUpdate]
}

/// `spec.strategy`.
public struct DeploymentStrategy: JSONObjectCodable, Hashable {
    public var type: DeploymentStrategyType?
    /// `rollingUpdate.maxSurge`: pods above `replicas` during an update (a number or a percentage).
    public var maxSurge: IntOrString?
    /// `rollingUpdate.maxUnavailable`: pods below `replicas` during an update.
    public var maxUnavailable: IntOrString?
    /// Whether `rollingUpdate` was given (it is refused with `Recreate`).
    public var hasRollingUpdate: Bool

    public init(type: DeploymentStrategyType? = nil, maxSurge: IntOrString? = nil, maxUnavailable: IntOrString? = nil) {
        self.type = type
        self.maxSurge = maxSurge
        self.maxUnavailable = maxUnavailable
        self.hasRollingUpdate = maxSurge != nil || maxUnavailable != nil
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        type = try reader.enumeration("type")
        let rolling = try reader.object("rollingUpdate", as: RollingUpdate.self)
        hasRollingUpdate = rolling != nil
        maxSurge = rolling?.maxSurge
        maxUnavailable = rolling?.maxUnavailable
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("type", omittingNil: type)
        if hasRollingUpdate {
            var fields: [String: JSONValue] = [:]
            if let maxSurge { fields["maxSurge"] = maxSurge.json }
            if let maxUnavailable { fields["maxUnavailable"] = maxUnavailable.json }
            writer.set("rollingUpdate", .object(fields))
        }
    }

    struct RollingUpdate: JSONObjectCodable {
        var maxSurge: IntOrString?
        var maxUnavailable: IntOrString?
        init(from reader: ObjectReader) throws(ObjectDecodingError) {
            maxSurge = try reader.intOrString("maxSurge")
            maxUnavailable = try reader.intOrString("maxUnavailable")
            reader.rejectUnreadFields()
        }
        func write(to writer: inout ObjectWriter) {}
    }
}

/// `spec` of a Deployment.
public struct DeploymentSpec: JSONObjectCodable, Hashable {
    public var replicas: Int32?
    public var selector: LabelSelectorSpec?
    public var template: PodTemplateSpec
    public var strategy: DeploymentStrategy
    public var minReadySeconds: Int32
    /// Old ReplicaSets kept (scaled to 0) for rollback; default 10.
    public var revisionHistoryLimit: Int32?
    public var progressDeadlineSeconds: Int32?
    public var paused: Bool

    public init(replicas: Int32? = nil, selector: LabelSelectorSpec? = nil, template: PodTemplateSpec = PodTemplateSpec(),
                strategy: DeploymentStrategy = DeploymentStrategy()) {
        self.replicas = replicas
        self.selector = selector
        self.template = template
        self.strategy = strategy
        self.minReadySeconds = 0
        self.revisionHistoryLimit = nil
        self.progressDeadlineSeconds = nil
        self.paused = false
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        replicas = try reader.int32("replicas")
        selector = try reader.object("selector")
        template = try reader.object("template") ?? PodTemplateSpec()
        strategy = try reader.object("strategy") ?? DeploymentStrategy()
        minReadySeconds = try reader.int32("minReadySeconds") ?? 0
        revisionHistoryLimit = try reader.int32("revisionHistoryLimit")
        progressDeadlineSeconds = try reader.int32("progressDeadlineSeconds")
        paused = try reader.bool("paused") ?? false
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("replicas", omittingNil: replicas.map(Int64.init))
        writer.set("selector", omittingNil: selector)
        writer.set("template", template.json)
        writer.set("strategy", strategy.json)
        writer.set("minReadySeconds", omittingZero: Int64(minReadySeconds))
        writer.set("revisionHistoryLimit", omittingNil: revisionHistoryLimit.map(Int64.init))
        writer.set("progressDeadlineSeconds", omittingNil: progressDeadlineSeconds.map(Int64.init))
        if paused { writer.set("paused", .bool(true)) }
    }
}

/// `status` of a Deployment.
public struct DeploymentStatus: JSONObjectCodable, Hashable {
    public var observedGeneration: Int64?
    public var replicas: Int32
    public var updatedReplicas: Int32
    public var readyReplicas: Int32
    public var availableReplicas: Int32
    public var unavailableReplicas: Int32
    public var conditions: [WorkloadCondition]
    public var collisionCount: Int32?

    public init() {
        observedGeneration = nil
        replicas = 0
        updatedReplicas = 0
        readyReplicas = 0
        availableReplicas = 0
        unavailableReplicas = 0
        conditions = []
        collisionCount = nil
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        observedGeneration = try reader.int64("observedGeneration")
        replicas = try reader.int32("replicas") ?? 0
        updatedReplicas = try reader.int32("updatedReplicas") ?? 0
        readyReplicas = try reader.int32("readyReplicas") ?? 0
        availableReplicas = try reader.int32("availableReplicas") ?? 0
        unavailableReplicas = try reader.int32("unavailableReplicas") ?? 0
        conditions = try reader.objects("conditions")
        collisionCount = try reader.int32("collisionCount")
        _ = reader.preservedFields(["terminatingReplicas"])
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("observedGeneration", omittingNil: observedGeneration)
        writer.set("replicas", omittingZero: Int64(replicas))
        writer.set("updatedReplicas", omittingZero: Int64(updatedReplicas))
        writer.set("readyReplicas", omittingZero: Int64(readyReplicas))
        writer.set("availableReplicas", omittingZero: Int64(availableReplicas))
        writer.set("unavailableReplicas", omittingZero: Int64(unavailableReplicas))
        writer.set("conditions", omittingEmpty: conditions)
        writer.set("collisionCount", omittingNil: collisionCount.map(Int64.init))
    }

    public func condition(_ type: String) -> WorkloadCondition? { conditions.first { $0.type == type } }
}

extension ReplicaSet: KubernetesResource {
    public static let resource = "replicasets"
    public static let isNamespaced = true
}

extension Deployment: KubernetesResource {
    public static let resource = "deployments"
    public static let isNamespaced = true
}

public typealias DeploymentList = ObjectList<Deployment>
public typealias ReplicaSetList = ObjectList<ReplicaSet>
