/// The volume sources whose files the kubelet writes itself from API objects and from the pod:
/// `configMap`, `secret`, `downwardAPI` and `projected` (which combines them). Modes are
/// decimal numbers in JSON (`420` is 0644), as Kubernetes writes them.

/// A key of a ConfigMap or Secret written to a path of the volume (`items[]`).
public struct KeyToPath: JSONObjectCodable, Hashable {
    public var key: String
    /// Relative, without `..`; may hold directories (`conf/app.ini`).
    public var path: String
    /// The file's mode; nil: the volume's `defaultMode`.
    public var mode: Int32?

    public init(key: String, path: String, mode: Int32? = nil) {
        self.key = key
        self.path = path
        self.mode = mode
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        key = try reader.string("key") ?? ""
        path = try reader.string("path") ?? ""
        mode = try reader.int32("mode")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("key", .string(key))
        writer.set("path", .string(path))
        writer.set("mode", omittingNil: mode.map(Int64.init))
    }
}

/// `configMap` (a volume) and `sources[].configMap` (a projection, which has no `defaultMode`).
public struct ConfigMapVolumeSource: JSONObjectCodable, Hashable {
    public var name: String
    /// Only these keys, at these paths; empty: every key at a path of its own name.
    public var items: [KeyToPath]
    /// The mode of files without one of their own; the API server sets 0644 (420).
    public var defaultMode: Int32?
    /// `true`: a missing map (or key) is an empty volume (or a missing file) rather than an error.
    public var optional: Bool?

    public init(name: String, items: [KeyToPath] = [], defaultMode: Int32? = nil, optional: Bool? = nil) {
        self.name = name
        self.items = items
        self.defaultMode = defaultMode
        self.optional = optional
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        name = try reader.string("name") ?? ""
        items = try reader.objects("items")
        defaultMode = try reader.int32("defaultMode")
        optional = try reader.bool("optional")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("name", .string(name))
        writer.set("items", omittingEmpty: items)
        writer.set("defaultMode", omittingNil: defaultMode.map(Int64.init))
        writer.set("optional", omittingNil: optional)
    }
}

/// `secret`: as `configMap`, but the object is named by `secretName` (in a projection: `name`).
public struct SecretVolumeSource: JSONObjectCodable, Hashable {
    public var secretName: String
    public var items: [KeyToPath]
    public var defaultMode: Int32?
    public var optional: Bool?

    public init(secretName: String, items: [KeyToPath] = [], defaultMode: Int32? = nil, optional: Bool? = nil) {
        self.secretName = secretName
        self.items = items
        self.defaultMode = defaultMode
        self.optional = optional
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        secretName = try reader.string("secretName") ?? ""
        items = try reader.objects("items")
        defaultMode = try reader.int32("defaultMode")
        optional = try reader.bool("optional")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("secretName", omittingEmpty: secretName)
        writer.set("items", omittingEmpty: items)
        writer.set("defaultMode", omittingNil: defaultMode.map(Int64.init))
        writer.set("optional", omittingNil: optional)
    }
}

/// One file of a `downwardAPI` volume: a field of the pod or a resource of a container.
public struct DownwardAPIVolumeFile: JSONObjectCodable, Hashable {
    public var path: String
    public var fieldRef: ObjectFieldSelector?
    public var resourceFieldRef: ResourceFieldSelector?
    public var mode: Int32?

    public init(path: String, fieldRef: ObjectFieldSelector? = nil, resourceFieldRef: ResourceFieldSelector? = nil, mode: Int32? = nil) {
        self.path = path
        self.fieldRef = fieldRef
        self.resourceFieldRef = resourceFieldRef
        self.mode = mode
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        path = try reader.string("path") ?? ""
        fieldRef = try reader.object("fieldRef")
        resourceFieldRef = try reader.object("resourceFieldRef")
        mode = try reader.int32("mode")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("path", .string(path))
        writer.set("fieldRef", omittingNil: fieldRef)
        writer.set("resourceFieldRef", omittingNil: resourceFieldRef)
        writer.set("mode", omittingNil: mode.map(Int64.init))
    }
}

/// `downwardAPI`: the pod's name, namespace, uid, labels, annotations and its containers'
/// resources as files; labels and annotations follow the pod's changes.
public struct DownwardAPIVolumeSource: JSONObjectCodable, Hashable {
    public var items: [DownwardAPIVolumeFile]
    public var defaultMode: Int32?

    public init(items: [DownwardAPIVolumeFile] = [], defaultMode: Int32? = nil) {
        self.items = items
        self.defaultMode = defaultMode
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        items = try reader.objects("items")
        defaultMode = try reader.int32("defaultMode")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("items", omittingEmpty: items)
        writer.set("defaultMode", omittingNil: defaultMode.map(Int64.init))
    }
}

/// `projected`: the files of several sources in one directory.
public struct ProjectedVolumeSource: JSONObjectCodable, Hashable {
    public var sources: [VolumeProjection]
    public var defaultMode: Int32?

    public init(sources: [VolumeProjection] = [], defaultMode: Int32? = nil) {
        self.sources = sources
        self.defaultMode = defaultMode
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        sources = try reader.objects("sources")
        defaultMode = try reader.int32("defaultMode")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("sources", .array(sources.map(\.json)))
        writer.set("defaultMode", omittingNil: defaultMode.map(Int64.init))
    }
}

/// One source of a `projected` volume. `clusterTrustBundle` and `podCertificate` are kept to
/// be refused: Kubernetes serves them only behind feature gates that are off by default
/// (`ClusterTrustBundleProjection`, `PodCertificateRequest`), and podlab has neither object.
public struct VolumeProjection: JSONObjectCodable, Hashable {
    public var configMap: ConfigMapProjection?
    public var secret: SecretProjection?
    public var downwardAPI: DownwardAPIProjection?
    public var serviceAccountToken: ServiceAccountTokenProjection?
    public var preservedFields: [String: JSONValue]

    public static let unmodeledSources: Set<String> = ["clusterTrustBundle", "podCertificate"]

    public init(configMap: ConfigMapProjection? = nil, secret: SecretProjection? = nil, downwardAPI: DownwardAPIProjection? = nil,
                serviceAccountToken: ServiceAccountTokenProjection? = nil, preservedFields: [String: JSONValue] = [:]) {
        self.configMap = configMap
        self.secret = secret
        self.downwardAPI = downwardAPI
        self.serviceAccountToken = serviceAccountToken
        self.preservedFields = preservedFields
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        configMap = try reader.object("configMap")
        secret = try reader.object("secret")
        downwardAPI = try reader.object("downwardAPI")
        serviceAccountToken = try reader.object("serviceAccountToken")
        preservedFields = reader.preservedFields(Self.unmodeledSources)
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("configMap", omittingNil: configMap)
        writer.set("secret", omittingNil: secret)
        writer.set("downwardAPI", omittingNil: downwardAPI)
        writer.set("serviceAccountToken", omittingNil: serviceAccountToken)
        writer.merge(preservedFields)
    }

    /// The sources it sets, in the API server's order.
    public var sourceNames: [String] {
        (secret == nil ? [] : ["secret"]) + (downwardAPI == nil ? [] : ["downwardAPI"]) + (configMap == nil ? [] : ["configMap"])
            + (serviceAccountToken == nil ? [] : ["serviceAccountToken"])
            + ["clusterTrustBundle", "podCertificate"].filter { preservedFields[$0] != nil && preservedFields[$0] != .null }
    }
}

/// `sources[].serviceAccountToken`: a token of the pod's service account, written to `path`,
/// for `audience` (the API server's own when empty), valid `expirationSeconds` (3600 unless
/// given; at least 600), rotated by the agent as the kubelet rotates it.
public struct ServiceAccountTokenProjection: JSONObjectCodable, Hashable {
    public var audience: String
    /// Defaulted to 3600 by the API server (`SetDefaults_ServiceAccountTokenProjection`).
    public var expirationSeconds: Int64?
    public var path: String

    public static let defaultExpirationSeconds: Int64 = 3600

    public init(audience: String = "", expirationSeconds: Int64? = nil, path: String) {
        self.audience = audience
        self.expirationSeconds = expirationSeconds
        self.path = path
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        audience = try reader.string("audience") ?? ""
        expirationSeconds = try reader.int64("expirationSeconds")
        path = try reader.string("path") ?? ""
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("audience", omittingEmpty: audience)
        writer.set("expirationSeconds", omittingNil: expirationSeconds)
        writer.set("path", .string(path))
    }

    /// The lifetime asked for, the default when unset.
    public var lifetime: Int64 { expirationSeconds ?? Self.defaultExpirationSeconds }
}

/// `sources[].configMap` and `sources[].secret`: the object's name, the keys to project
/// (all when empty) and whether it may be missing — one shape for both, as in the API.
public struct KeyProjection: JSONObjectCodable, Hashable {
    public var name: String
    public var items: [KeyToPath]
    public var optional: Bool?

    public init(name: String, items: [KeyToPath] = [], optional: Bool? = nil) {
        self.name = name
        self.items = items
        self.optional = optional
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        name = try reader.string("name") ?? ""
        items = try reader.objects("items")
        optional = try reader.bool("optional")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("name", omittingEmpty: name)
        writer.set("items", omittingEmpty: items)
        writer.set("optional", omittingNil: optional)
    }
}

public typealias ConfigMapProjection = KeyProjection
public typealias SecretProjection = KeyProjection

/// `sources[].downwardAPI`.
public struct DownwardAPIProjection: JSONObjectCodable, Hashable {
    public var items: [DownwardAPIVolumeFile]

    public init(items: [DownwardAPIVolumeFile] = []) { self.items = items }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        items = try reader.objects("items")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("items", omittingEmpty: items)
    }
}
