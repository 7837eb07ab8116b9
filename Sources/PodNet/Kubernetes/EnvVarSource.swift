/// Where an environment variable's value comes from (`env[].valueFrom`).
public struct EnvVarSource: JSONObjectCodable, Hashable {
    /// A field of the pod (the downward API): `metadata.name`, `status.podIP`...
    public var fieldRef: ObjectFieldSelector?
    /// A resource of a container: `limits.cpu`, `requests.memory`...
    public var resourceFieldRef: ResourceFieldSelector?
    /// A key of a ConfigMap in the pod's namespace.
    public var configMapKeyRef: KeySelector?
    /// A key of a Secret in the pod's namespace.
    public var secretKeyRef: KeySelector?
    /// `fileKeyRef`: kept as given, refused by validation.
    public var preservedFields: [String: JSONValue]

    public static let unmodeledFields: [String: FieldSchema] = [
        "fileKeyRef": .object(["volumeName": .any, "path": .any, "key": .any, "optional": .any]),
    ]

    public init(fieldRef: ObjectFieldSelector? = nil, resourceFieldRef: ResourceFieldSelector? = nil, configMapKeyRef: KeySelector? = nil,
                secretKeyRef: KeySelector? = nil, preservedFields: [String: JSONValue] = [:]) {
        self.fieldRef = fieldRef
        self.resourceFieldRef = resourceFieldRef
        self.configMapKeyRef = configMapKeyRef
        self.secretKeyRef = secretKeyRef
        self.preservedFields = preservedFields
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        fieldRef = try reader.object("fieldRef")
        resourceFieldRef = try reader.object("resourceFieldRef")
        configMapKeyRef = try reader.object("configMapKeyRef")
        secretKeyRef = try reader.object("secretKeyRef")
        preservedFields = reader.preservedFields(Self.unmodeledFields)
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("fieldRef", omittingNil: fieldRef)
        writer.set("resourceFieldRef", omittingNil: resourceFieldRef)
        writer.set("configMapKeyRef", omittingNil: configMapKeyRef)
        writer.set("secretKeyRef", omittingNil: secretKeyRef)
        writer.merge(preservedFields)
    }
}

/// `configMapKeyRef`, `secretKeyRef`: one key of an object in the pod's namespace.
public struct KeySelector: JSONObjectCodable, Hashable {
    public var name: String
    public var key: String
    /// `true`: a missing object or key leaves the variable unset instead of failing the container.
    public var optional: Bool?

    public init(name: String, key: String, optional: Bool? = nil) {
        self.name = name
        self.key = key
        self.optional = optional
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        name = try reader.string("name") ?? ""
        key = try reader.string("key") ?? ""
        optional = try reader.bool("optional")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("name", omittingEmpty: name)
        writer.set("key", .string(key))
        writer.set("optional", omittingNil: optional)
    }
}

/// `envFrom[]`: every key of a ConfigMap or Secret as a variable, its name behind `prefix`.
public struct EnvFromSource: JSONObjectCodable, Hashable {
    public var prefix: String
    public var configMapRef: EnvObjectReference?
    public var secretRef: EnvObjectReference?

    public init(prefix: String = "", configMapRef: EnvObjectReference? = nil, secretRef: EnvObjectReference? = nil) {
        self.prefix = prefix
        self.configMapRef = configMapRef
        self.secretRef = secretRef
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        prefix = try reader.string("prefix") ?? ""
        configMapRef = try reader.object("configMapRef")
        secretRef = try reader.object("secretRef")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("prefix", omittingEmpty: prefix)
        writer.set("configMapRef", omittingNil: configMapRef)
        writer.set("secretRef", omittingNil: secretRef)
    }
}

/// `envFrom[].configMapRef`, `secretRef`.
public struct EnvObjectReference: JSONObjectCodable, Hashable {
    public var name: String
    /// `true`: a missing object adds no variable instead of failing the container.
    public var optional: Bool?

    public init(name: String, optional: Bool? = nil) {
        self.name = name
        self.optional = optional
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        name = try reader.string("name") ?? ""
        optional = try reader.bool("optional")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("name", omittingEmpty: name)
        writer.set("optional", omittingNil: optional)
    }
}

/// A field of the pod, by path (`metadata.labels['app']`), for the downward API.
public struct ObjectFieldSelector: JSONObjectCodable, Hashable {
    /// The schema the path is in; Kubernetes defaults it to `v1`.
    public var apiVersion: String
    public var fieldPath: String

    public init(fieldPath: String, apiVersion: String = "") {
        self.apiVersion = apiVersion
        self.fieldPath = fieldPath
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        apiVersion = try reader.string("apiVersion") ?? ""
        fieldPath = try reader.string("fieldPath") ?? ""
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("apiVersion", omittingEmpty: apiVersion)
        writer.set("fieldPath", .string(fieldPath))
    }
}

/// A container's resource (`limits.cpu`...), scaled by `divisor`, for the downward API.
public struct ResourceFieldSelector: JSONObjectCodable, Hashable {
    /// The container whose resources are read; empty for the variable's own container.
    public var containerName: String
    /// `limits.cpu`, `limits.memory`, `limits.ephemeral-storage`, `requests.*`.
    public var resource: String
    /// The unit of the value (`1m` for millicores, `1Mi`...); zero (not set) means `1`.
    public var divisor: Quantity

    public init(resource: String, containerName: String = "", divisor: Quantity = .zero) {
        self.containerName = containerName
        self.resource = resource
        self.divisor = divisor
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        containerName = try reader.string("containerName") ?? ""
        resource = try reader.string("resource") ?? ""
        divisor = try reader.quantity("divisor") ?? .zero
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("containerName", omittingEmpty: containerName)
        writer.set("resource", .string(resource))
        // A struct in Kubernetes, so always written (`"0"` when not set).
        writer.set("divisor", .string(divisor.description))
    }
}
