/// A namespace (`apiVersion: v1`, `kind: Namespace`): the scope of pod and service names.
/// `default` and `kube-system` always exist; deleting one deletes what it holds.
public struct Namespace: KubernetesObject, Hashable {
    public static let kind = "Namespace"
    public static let apiVersion = "v1"

    /// The label the API server puts on every namespace, with its name as value.
    public static let nameLabel = "kubernetes.io/metadata.name"
    /// The namespaces every lab has, as every cluster does.
    public static let builtIn = ["default", "kube-system"]

    public var metadata: ObjectMeta
    /// `spec.finalizers` (`[kubernetes]`), kept as the API server writes it.
    public var spec: [String: JSONValue]
    public var status: NamespaceStatus

    public init(metadata: ObjectMeta = ObjectMeta(), spec: [String: JSONValue] = [:], status: NamespaceStatus = NamespaceStatus()) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        try reader.typeInformation(of: Namespace.self)
        metadata = try reader.object("metadata") ?? ObjectMeta()
        switch reader.value("spec") {
        case nil, .null?: spec = [:]
        case let .object(fields)?:
            let unknown = fields.keys.filter { $0 != "finalizers" }.sorted()
            guard unknown.isEmpty else { throw .unknownFields(unknown.map { reader.path.child("spec").child($0) }) }
            spec = fields
        case let other?: throw .typeMismatch(field: reader.path.child("spec"), expected: "object", found: other.typeName)
        }
        status = try reader.object("status") ?? NamespaceStatus()
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.setTypeInformation(of: Namespace.self)
        writer.set("metadata", metadata.json)
        writer.set("spec", .object(spec))
        writer.set("status", status.json)
    }

    /// A namespace as the API server stores it: the name label, `spec.finalizers`, `Active`.
    public func applyingDefaults() -> Namespace {
        var namespace = self
        namespace.metadata.namespace = ""
        namespace.metadata.labels[Namespace.nameLabel] = namespace.metadata.name
        if namespace.spec["finalizers"] == nil { namespace.spec["finalizers"] = .array([.string("kubernetes")]) }
        if namespace.status.phase.isEmpty { namespace.status.phase = NamespaceStatus.active }
        return namespace
    }

    /// Checks the name (a DNS-1123 label) and metadata, with the API server's messages.
    public func validated() throws(InvalidObjectError) {
        var errors = ObjectMetaValidation.validate(metadata, nameErrors: KubernetesNames.dns1123LabelErrors)
        errors.removeAll { $0.field == FieldPath("metadata").child("namespace") }
        if !metadata.namespace.isEmpty {
            errors.append(.forbidden(FieldPath("metadata").child("namespace"), "not allowed on this type"))
        }
        // The mesh's mTLS mode for the namespace's pods; DISABLE is a pod's only (MeshTLSMode).
        if let mode = metadata.annotations[MeshTLSMode.annotation], mode != MeshTLSMode.permissive.rawValue, mode != MeshTLSMode.strict.rawValue {
            errors.append(.notSupported(FieldPath("metadata").child("annotations").key(MeshTLSMode.annotation), mode,
                                        supported: [MeshTLSMode.permissive.rawValue, MeshTLSMode.strict.rawValue]))
        }
        if !errors.isEmpty { throw InvalidObjectError(kind: Namespace.kind, name: metadata.name, errors: errors) }
    }
}

/// `status` of a namespace.
public struct NamespaceStatus: JSONObjectCodable, Hashable {
    public static let active = "Active"
    public static let terminating = "Terminating"

    /// `Active`, or `Terminating` while what it holds is being deleted.
    public var phase: String

    public init(phase: String = "") { self.phase = phase }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        phase = try reader.string("phase") ?? ""
        _ = reader.preservedFields(["conditions"])
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("phase", omittingEmpty: phase)
    }
}
