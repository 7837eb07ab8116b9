/// A ReplicaSet (`apiVersion: apps/v1`): keeps `replicas` pods matching its selector running,
/// made from its template. Deployments make and scale them; one can also be made directly.
public struct ReplicaSet: KubernetesObject, Hashable {
    public static let kind = "ReplicaSet"
    public static let apiVersion = "apps/v1"

    public var metadata: ObjectMeta
    public var spec: ReplicaSetSpec
    public var status: ReplicaSetStatus

    public init(metadata: ObjectMeta = ObjectMeta(), spec: ReplicaSetSpec = ReplicaSetSpec(), status: ReplicaSetStatus = ReplicaSetStatus()) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        try reader.typeInformation(of: ReplicaSet.self)
        metadata = try reader.object("metadata") ?? ObjectMeta()
        spec = try reader.object("spec") ?? ReplicaSetSpec()
        status = try reader.object("status") ?? ReplicaSetStatus()
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.setTypeInformation(of: ReplicaSet.self)
        writer.set("metadata", metadata.json)
        writer.set("spec", spec.json)
        writer.set("status", status.json)
    }

    /// The desired number of pods, with Kubernetes' default of 1.
    public var desiredReplicas: Int { Int(spec.replicas ?? 1) }
}

/// `spec` of a ReplicaSet.
public struct ReplicaSetSpec: JSONObjectCodable, Hashable {
    public var replicas: Int32?
    /// Seconds a ready pod must stay ready to count as available.
    public var minReadySeconds: Int32
    public var selector: LabelSelectorSpec?
    public var template: PodTemplateSpec

    public init(replicas: Int32? = nil, selector: LabelSelectorSpec? = nil, template: PodTemplateSpec = PodTemplateSpec(), minReadySeconds: Int32 = 0) {
        self.replicas = replicas
        self.selector = selector
        self.template = template
        self.minReadySeconds = minReadySeconds
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        replicas = try reader.int32("replicas")
        minReadySeconds = try reader.int32("minReadySeconds") ?? 0
        selector = try reader.object("selector")
        template = try reader.object("template") ?? PodTemplateSpec()
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("replicas", omittingNil: replicas.map(Int64.init))
        writer.set("minReadySeconds", omittingZero: Int64(minReadySeconds))
        writer.set("selector", omittingNil: selector)
        writer.set("template", template.json)
    }
}

/// `status` of a ReplicaSet.
public struct ReplicaSetStatus: JSONObjectCodable, Hashable {
    public var replicas: Int32
    public var fullyLabeledReplicas: Int32
    public var readyReplicas: Int32
    public var availableReplicas: Int32
    public var observedGeneration: Int64?
    public var conditions: [WorkloadCondition]

    public init(replicas: Int32 = 0, fullyLabeledReplicas: Int32 = 0, readyReplicas: Int32 = 0, availableReplicas: Int32 = 0,
                observedGeneration: Int64? = nil, conditions: [WorkloadCondition] = []) {
        self.replicas = replicas
        self.fullyLabeledReplicas = fullyLabeledReplicas
        self.readyReplicas = readyReplicas
        self.availableReplicas = availableReplicas
        self.observedGeneration = observedGeneration
        self.conditions = conditions
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        replicas = try reader.int32("replicas") ?? 0
        fullyLabeledReplicas = try reader.int32("fullyLabeledReplicas") ?? 0
        readyReplicas = try reader.int32("readyReplicas") ?? 0
        availableReplicas = try reader.int32("availableReplicas") ?? 0
        observedGeneration = try reader.int64("observedGeneration")
        conditions = try reader.objects("conditions")
        _ = reader.preservedFields(["terminatingReplicas"])
    }

    public func write(to writer: inout ObjectWriter) {
        // `replicas` is always written, the others only when not zero, as the API server does.
        writer.set("replicas", .integer(Int64(replicas)))
        writer.set("fullyLabeledReplicas", omittingZero: Int64(fullyLabeledReplicas))
        writer.set("readyReplicas", omittingZero: Int64(readyReplicas))
        writer.set("availableReplicas", omittingZero: Int64(availableReplicas))
        writer.set("observedGeneration", omittingNil: observedGeneration)
        writer.set("conditions", omittingEmpty: conditions)
    }
}
