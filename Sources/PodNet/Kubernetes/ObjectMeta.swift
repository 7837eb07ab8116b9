/// `metadata` of a Kubernetes object (`metav1.ObjectMeta`).
public struct ObjectMeta: JSONObjectCodable, Hashable {
    /// The object's name, unique per kind and namespace.
    public var name: String
    /// The namespace; the agent uses `default` when empty.
    public var namespace: String
    /// Set by the agent when the object is created.
    public var uid: String
    /// Changes on every write; a client's update must carry the current value.
    public var resourceVersion: String
    /// Incremented on every change of the desired state (spec).
    public var generation: Int64?
    /// Set by the agent on create; written as `null` when unset, as Kubernetes does.
    public var creationTimestamp: Timestamp?
    /// Set when deletion was requested; the pod shows `Terminating` until it is gone.
    public var deletionTimestamp: Timestamp?
    public var deletionGracePeriodSeconds: Int64?
    /// Labels, for selectors (`-l app=web`).
    public var labels: [String: String]
    /// Free-form notes; not used for selection.
    public var annotations: [String: String]
    /// Fields Kubernetes defines that podlab keeps unchanged (`ownerReferences`, `finalizers`...).
    public var preservedFields: [String: JSONValue]

    /// Fields of `ObjectMeta` podlab stores without interpreting.
    public static let unmodeledFields: Set<String> = ["generateName", "selfLink", "ownerReferences", "finalizers", "managedFields"]

    public init(name: String = "", namespace: String = "", labels: [String: String] = [:], annotations: [String: String] = [:],
                uid: String = "", resourceVersion: String = "", generation: Int64? = nil,
                creationTimestamp: Timestamp? = nil, deletionTimestamp: Timestamp? = nil, deletionGracePeriodSeconds: Int64? = nil,
                preservedFields: [String: JSONValue] = [:]) {
        self.name = name
        self.namespace = namespace
        self.uid = uid
        self.resourceVersion = resourceVersion
        self.generation = generation
        self.creationTimestamp = creationTimestamp
        self.deletionTimestamp = deletionTimestamp
        self.deletionGracePeriodSeconds = deletionGracePeriodSeconds
        self.labels = labels
        self.annotations = annotations
        self.preservedFields = preservedFields
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        name = try reader.string("name") ?? ""
        namespace = try reader.string("namespace") ?? ""
        uid = try reader.string("uid") ?? ""
        resourceVersion = try reader.string("resourceVersion") ?? ""
        generation = try reader.int64("generation")
        creationTimestamp = try reader.timestamp("creationTimestamp")
        deletionTimestamp = try reader.timestamp("deletionTimestamp")
        deletionGracePeriodSeconds = try reader.int64("deletionGracePeriodSeconds")
        labels = try reader.stringMap("labels") ?? [:]
        annotations = try reader.stringMap("annotations") ?? [:]
        preservedFields = reader.preservedFields(Self.unmodeledFields)
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("name", omittingEmpty: name)
        writer.set("namespace", omittingEmpty: namespace)
        writer.set("uid", omittingEmpty: uid)
        writer.set("resourceVersion", omittingEmpty: resourceVersion)
        writer.set("generation", omittingNil: generation)
        writer.set("creationTimestamp", nullable: creationTimestamp)
        writer.set("deletionTimestamp", omittingNil: deletionTimestamp)
        writer.set("deletionGracePeriodSeconds", omittingNil: deletionGracePeriodSeconds)
        writer.set("labels", omittingEmpty: labels)
        writer.set("annotations", omittingEmpty: annotations)
        writer.merge(preservedFields)
    }
}

/// `metadata` of a list or a `Status` (`metav1.ListMeta`).
public struct ListMeta: JSONObjectCodable, Hashable {
    public var resourceVersion: String
    /// The token for the next page of a paged list.
    public var `continue`: String
    public var remainingItemCount: Int64?
    public var preservedFields: [String: JSONValue]

    public init(resourceVersion: String = "", continue: String = "", remainingItemCount: Int64? = nil) {
        self.resourceVersion = resourceVersion
        self.continue = `continue`
        self.remainingItemCount = remainingItemCount
        self.preservedFields = [:]
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        resourceVersion = try reader.string("resourceVersion") ?? ""
        `continue` = try reader.string("continue") ?? ""
        remainingItemCount = try reader.int64("remainingItemCount")
        preservedFields = reader.preservedFields(["selfLink"])
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("resourceVersion", omittingEmpty: resourceVersion)
        writer.set("continue", omittingEmpty: `continue`)
        writer.set("remainingItemCount", omittingNil: remainingItemCount)
        writer.merge(preservedFields)
    }
}
