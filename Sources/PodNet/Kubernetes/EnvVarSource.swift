/// Where an environment variable's value comes from (`env[].valueFrom`).
public struct EnvVarSource: JSONObjectCodable, Hashable {
    /// A field of the pod (the downward API): `metadata.name`, `status.podIP`...
    public var fieldRef: ObjectFieldSelector?
    /// A resource of a container: `limits.cpu`, `requests.memory`...
    public var resourceFieldRef: ResourceFieldSelector?
    /// `configMapKeyRef`, `secretKeyRef`, `fileKeyRef`: kept as given, refused by validation
    /// (podlab has no ConfigMaps or Secrets).
    public var preservedFields: [String: JSONValue]

    public static let unmodeledFields: [String: FieldSchema] = [
        "configMapKeyRef": .object(["name": .any, "key": .any, "optional": .any]),
        "secretKeyRef": .object(["name": .any, "key": .any, "optional": .any]),
        "fileKeyRef": .object(["volumeName": .any, "path": .any, "key": .any, "optional": .any]),
    ]

    public init(fieldRef: ObjectFieldSelector? = nil, resourceFieldRef: ResourceFieldSelector? = nil, preservedFields: [String: JSONValue] = [:]) {
        self.fieldRef = fieldRef
        self.resourceFieldRef = resourceFieldRef
        self.preservedFields = preservedFields
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        fieldRef = try reader.object("fieldRef")
        resourceFieldRef = try reader.object("resourceFieldRef")
        preservedFields = reader.preservedFields(Self.unmodeledFields)
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("fieldRef", omittingNil: fieldRef)
        writer.set("resourceFieldRef", omittingNil: resourceFieldRef)
        writer.merge(preservedFields)
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
