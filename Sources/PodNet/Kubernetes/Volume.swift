/// A volume of a pod (`spec.volumes[]`): a directory its containers can mount. podlab acts on
/// `emptyDir`, `hostPath`, `configMap`, `secret`, `downwardAPI` and `projected`; the other
/// sources are kept only to be refused by validation (see `PodSupport`).
public struct Volume: JSONObjectCodable, Hashable {
    /// A DNS label, unique in the pod; `volumeMounts[].name` refers to it.
    public var name: String
    public var emptyDir: EmptyDirVolumeSource?
    public var hostPath: HostPathVolumeSource?
    public var configMap: ConfigMapVolumeSource?
    public var secret: SecretVolumeSource?
    public var downwardAPI: DownwardAPIVolumeSource?
    public var projected: ProjectedVolumeSource?
    /// The other volume sources (`persistentVolumeClaim`, `nfs`...), as given.
    public var preservedFields: [String: JSONValue]

    public init(name: String, emptyDir: EmptyDirVolumeSource? = nil, hostPath: HostPathVolumeSource? = nil,
                configMap: ConfigMapVolumeSource? = nil, secret: SecretVolumeSource? = nil, downwardAPI: DownwardAPIVolumeSource? = nil,
                projected: ProjectedVolumeSource? = nil, preservedFields: [String: JSONValue] = [:]) {
        self.name = name
        self.emptyDir = emptyDir
        self.hostPath = hostPath
        self.configMap = configMap
        self.secret = secret
        self.downwardAPI = downwardAPI
        self.projected = projected
        self.preservedFields = preservedFields
    }

    static let modeledSources: Set<String> = ["emptyDir", "hostPath", "configMap", "secret", "downwardAPI", "projected"]

    /// The volume sources Kubernetes defines besides those podlab models, in the order the API
    /// server checks them.
    static let otherSources: [String] = PodSupport.volumeSources.filter { !modeledSources.contains($0) }

    /// The names of the sources the volume sets, in the order the API server checks them
    /// (`emptyDir`, `hostPath`, then the others).
    public var sourceNames: [String] {
        let modeled: [String: Bool] = ["configMap": configMap != nil, "secret": secret != nil, "downwardAPI": downwardAPI != nil,
                                       "projected": projected != nil]
        return (emptyDir == nil ? [] : ["emptyDir"]) + (hostPath == nil ? [] : ["hostPath"])
            + PodSupport.volumeSources.filter { modeled[$0] ?? (preservedFields[$0] != nil && !Volume.modeledSources.contains($0)) }
    }

    /// The volume's files are written by the kubelet from objects and from the pod (and
    /// rewritten when those change): the container sees them read-only.
    public var isProjected: Bool { configMap != nil || secret != nil || downwardAPI != nil || projected != nil }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        name = try reader.string("name") ?? ""
        emptyDir = try reader.object("emptyDir")
        hostPath = try reader.object("hostPath")
        configMap = try reader.object("configMap")
        secret = try reader.object("secret")
        downwardAPI = try reader.object("downwardAPI")
        projected = try reader.object("projected")
        preservedFields = reader.preservedFields(Set(Volume.otherSources))
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("name", .string(name))
        writer.set("emptyDir", omittingNil: emptyDir)
        writer.set("hostPath", omittingNil: hostPath)
        writer.set("configMap", omittingNil: configMap)
        writer.set("secret", omittingNil: secret)
        writer.set("downwardAPI", omittingNil: downwardAPI)
        writer.set("projected", omittingNil: projected)
        writer.merge(preservedFields)
    }
}

/// `emptyDir`: a directory made for the pod when it starts, shared by its containers and
/// removed with the pod; on the node's disk, or a tmpfs with `medium: Memory`.
public struct EmptyDirVolumeSource: JSONObjectCodable, Hashable {
    /// "" (the node's disk) or `Memory` (a tmpfs).
    public var medium: String
    /// The most the volume may hold: the tmpfs's size with `medium: Memory`.
    public var sizeLimit: Quantity?

    public static let memory = "Memory"

    public init(medium: String = "", sizeLimit: Quantity? = nil) {
        self.medium = medium
        self.sizeLimit = sizeLimit
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        medium = try reader.string("medium") ?? ""
        sizeLimit = try reader.quantity("sizeLimit")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("medium", omittingEmpty: medium)
        if let sizeLimit { writer.set("sizeLimit", .string(sizeLimit.description)) }
    }
}

/// `hostPath`: a file or directory of the host, checked (`type`) before the pod starts.
public struct HostPathVolumeSource: JSONObjectCodable, Hashable {
    public var path: String
    /// What must be at `path` (see `HostPathType`); the API server sets "" when it is absent.
    public var type: HostPathType?

    public init(path: String, type: HostPathType? = nil) {
        self.path = path
        self.type = type
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        path = try reader.string("path") ?? ""
        type = try reader.string("type").map(HostPathType.init(rawValue:))
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("path", .string(path))
        if let type { writer.set("type", .string(type.rawValue)) }
    }
}

/// What a `hostPath` volume expects to find (`HostPathType`), checked as the kubelet checks it.
public struct HostPathType: StringValue {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// No check: whatever is there (a missing path becomes a directory, as containerd makes it).
    public static let unset: HostPathType = ""
    public static let directoryOrCreate: HostPathType = "DirectoryOrCreate"
    public static let directory: HostPathType = "Directory"
    public static let fileOrCreate: HostPathType = "FileOrCreate"
    public static let file: HostPathType = "File"
    public static let socket: HostPathType = "Socket"
    public static let charDevice: HostPathType = "CharDevice"
    public static let blockDevice: HostPathType = "BlockDevice"
    /// Sorted, as the API server lists them in validation messages.
    public static let supported: [HostPathType] = [.unset, .blockDevice, .charDevice, .directory, .directoryOrCreate, .file, .fileOrCreate, .socket]
}

/// A volume mounted into a container (`volumeMounts[]`).
public struct VolumeMount: JSONObjectCodable, Hashable {
    /// The volume (`spec.volumes[].name`).
    public var name: String
    /// Where in the container; absolute, unique in the container.
    public var mountPath: String
    public var readOnly: Bool
    /// A path inside the volume to mount instead of its root (made as a directory if missing).
    public var subPath: String
    /// Kept to be refused: podlab does not expand it.
    public var subPathExpr: String
    /// `None` (the default) is what podlab does; the others are refused.
    public var mountPropagation: String?
    /// `Disabled` is what podlab does; the others are refused.
    public var recursiveReadOnly: String?

    public init(name: String, mountPath: String, readOnly: Bool = false, subPath: String = "", subPathExpr: String = "",
                mountPropagation: String? = nil, recursiveReadOnly: String? = nil) {
        self.name = name
        self.mountPath = mountPath
        self.readOnly = readOnly
        self.subPath = subPath
        self.subPathExpr = subPathExpr
        self.mountPropagation = mountPropagation
        self.recursiveReadOnly = recursiveReadOnly
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        name = try reader.string("name") ?? ""
        mountPath = try reader.string("mountPath") ?? ""
        readOnly = try reader.bool("readOnly") ?? false
        subPath = try reader.string("subPath") ?? ""
        subPathExpr = try reader.string("subPathExpr") ?? ""
        mountPropagation = try reader.string("mountPropagation")
        recursiveReadOnly = try reader.string("recursiveReadOnly")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("name", .string(name))
        writer.set("mountPath", .string(mountPath))
        if readOnly { writer.set("readOnly", .bool(true)) }
        writer.set("subPath", omittingEmpty: subPath)
        writer.set("subPathExpr", omittingEmpty: subPathExpr)
        writer.set("mountPropagation", omittingNil: mountPropagation)
        writer.set("recursiveReadOnly", omittingNil: recursiveReadOnly)
    }
}
