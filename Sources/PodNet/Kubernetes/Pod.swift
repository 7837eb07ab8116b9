/// A pod (`apiVersion: v1`, `kind: Pod`): one network namespace with one IP, and containers
/// that share it.
public struct Pod: KubernetesObject, Hashable {
    public static let kind = "Pod"
    public static let apiVersion = "v1"

    /// Name, namespace, labels and bookkeeping.
    public var metadata: ObjectMeta
    /// What the user asked for.
    public var spec: PodSpec
    /// Always written (as `status: {}` when empty), as Kubernetes does.
    public var status: PodStatus

    /// A pod from its parts.
    public init(metadata: ObjectMeta = ObjectMeta(), spec: PodSpec = PodSpec(), status: PodStatus = PodStatus()) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    /// `namespace/name`, the pod's key in the store and in messages.
    public var qualifiedName: String { "\(metadata.namespace.isEmpty ? "default" : metadata.namespace)/\(metadata.name)" }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        try reader.typeInformation(of: Pod.self)
        metadata = try reader.object("metadata") ?? ObjectMeta()
        spec = try reader.object("spec") ?? PodSpec()
        status = try reader.object("status") ?? PodStatus()
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.setTypeInformation(of: Pod.self)
        writer.set("metadata", metadata.json)
        writer.set("spec", spec.json)
        writer.set("status", status.json)
    }
}
