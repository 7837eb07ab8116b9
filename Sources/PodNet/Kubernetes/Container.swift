/// One container of a pod (`spec.containers[]`): a supervised process in the pod's namespaces.
public struct Container: JSONObjectCodable, Hashable {
    public var name: String
    /// Which built-in image to run (`nginx`, `curlimages/curl`, ...).
    public var image: String
    /// Replaces the image's entrypoint.
    public var command: [String]
    /// Arguments to the entrypoint (or to `command`).
    public var args: [String]
    public var workingDir: String
    /// Ports the container says it listens on. Informational, as in Kubernetes: they do not
    /// open or reserve anything.
    public var ports: [ContainerPort]
    public var env: [EnvVar]
    /// Fields Kubernetes defines that podlab keeps unchanged (`resources`, `volumeMounts`,
    /// probes, `imagePullPolicy`, `securityContext`, `stdin`, `tty`...).
    public var preservedFields: [String: JSONValue]

    /// Fields of `Container` podlab stores without interpreting.
    public static let unmodeledFields: Set<String> = [
        "envFrom", "resources", "resizePolicy", "restartPolicy", "volumeMounts", "volumeDevices",
        "livenessProbe", "readinessProbe", "startupProbe", "lifecycle", "terminationMessagePath",
        "terminationMessagePolicy", "imagePullPolicy", "securityContext", "stdin", "stdinOnce", "tty",
    ]

    public init(name: String, image: String = "", command: [String] = [], args: [String] = [], workingDir: String = "",
                ports: [ContainerPort] = [], env: [EnvVar] = [], preservedFields: [String: JSONValue] = [:]) {
        self.name = name
        self.image = image
        self.command = command
        self.args = args
        self.workingDir = workingDir
        self.ports = ports
        self.env = env
        self.preservedFields = preservedFields
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        name = try reader.string("name") ?? ""
        image = try reader.string("image") ?? ""
        command = try reader.stringArray("command") ?? []
        args = try reader.stringArray("args") ?? []
        workingDir = try reader.string("workingDir") ?? ""
        ports = try reader.objects("ports")
        env = try reader.objects("env")
        preservedFields = reader.preservedFields(Self.unmodeledFields)
        // Always written as `{}` when empty (see `write(to:)`), so an empty one carries nothing.
        if preservedFields["resources"] == .object([:]) { preservedFields["resources"] = nil }
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("name", .string(name))
        writer.set("image", omittingEmpty: image)
        writer.set("command", omittingEmpty: command)
        writer.set("args", omittingEmpty: args)
        writer.set("workingDir", omittingEmpty: workingDir)
        writer.set("ports", omittingEmpty: ports)
        writer.set("env", omittingEmpty: env)
        // `resources` is a struct (not a pointer) in Kubernetes, so it is always written.
        writer.set("resources", preservedFields["resources"] ?? .object([:]))
        writer.merge(preservedFields)
    }
}

/// The transport protocol of a port.
public struct PortProtocol: StringValue {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let tcp: PortProtocol = "TCP"
    public static let udp: PortProtocol = "UDP"
    public static let sctp: PortProtocol = "SCTP"
    /// In the order Kubernetes lists them in validation messages.
    public static let supported: [PortProtocol] = [.sctp, .tcp, .udp]
}

/// A port a container declares (`ports[]`).
public struct ContainerPort: JSONObjectCodable, Hashable {
    /// An IANA service name (`http`), unique within the pod.
    public var name: String
    public var containerPort: Int32
    /// Defaults to TCP.
    public var `protocol`: PortProtocol?
    /// 0 when not set.
    public var hostPort: Int32
    public var preservedFields: [String: JSONValue]

    public init(containerPort: Int32, protocol: PortProtocol? = nil, name: String = "", hostPort: Int32 = 0) {
        self.name = name
        self.containerPort = containerPort
        self.protocol = `protocol`
        self.hostPort = hostPort
        self.preservedFields = [:]
    }

    /// The protocol with Kubernetes' default applied.
    public var effectiveProtocol: PortProtocol { `protocol` ?? .tcp }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        name = try reader.string("name") ?? ""
        containerPort = try reader.int32("containerPort") ?? 0
        `protocol` = try reader.enumeration("protocol")
        hostPort = try reader.int32("hostPort") ?? 0
        preservedFields = reader.preservedFields(["hostIP"])
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("name", omittingEmpty: name)
        writer.set("containerPort", .integer(Int64(containerPort)))
        writer.set("protocol", omittingNil: `protocol`)
        writer.set("hostPort", omittingZero: Int64(hostPort))
        writer.merge(preservedFields)
    }
}

/// An environment variable of a container (`env[]`).
public struct EnvVar: JSONObjectCodable, Hashable {
    public var name: String
    public var value: String
    /// `valueFrom` and other fields podlab keeps but does not resolve.
    public var preservedFields: [String: JSONValue]

    public init(name: String, value: String = "") {
        self.name = name
        self.value = value
        self.preservedFields = [:]
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        name = try reader.string("name") ?? ""
        value = try reader.string("value") ?? ""
        preservedFields = reader.preservedFields(["valueFrom"])
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("name", .string(name))
        writer.set("value", omittingEmpty: value)
        writer.merge(preservedFields)
    }
}
