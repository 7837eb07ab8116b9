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
    /// ConfigMaps and Secrets whose keys all become variables (before `env`, which wins).
    public var envFrom: [EnvFromSource]
    /// Volumes of the pod mounted into this container.
    public var volumeMounts: [VolumeMount]
    /// Restarts the container when it fails (see `ProbeWorker`).
    public var livenessProbe: ContainerProbe?
    /// Keeps the container out of `Ready` until it succeeds, and whenever it fails.
    public var readinessProbe: ContainerProbe?
    /// Holds liveness and readiness back until it succeeds; restarts the container when it fails.
    public var startupProbe: ContainerProbe?
    /// Fields Kubernetes defines that podlab keeps unchanged (`resources`,
    /// `imagePullPolicy`, `securityContext`, `stdin`, `tty`...).
    public var preservedFields: [String: JSONValue]

    /// Fields of `Container` podlab stores without interpreting, with their shape where strict
    /// decoding should look inside them. Which of them a container may use is decided by
    /// validation (see `PodSupport`).
    public static let unmodeledFields: [String: FieldSchema] = [
        "resources": .object(["limits": .map(.any), "requests": .map(.any), "claims": .list(.fields(["name", "request"]))]),
        "resizePolicy": .list(.fields(["resourceName", "restartPolicy"])), "restartPolicy": .any,
        "volumeDevices": .any,
        "lifecycle": .fields(["postStart", "preStop", "stopSignal"]), "terminationMessagePath": .any,
        "terminationMessagePolicy": .any, "imagePullPolicy": .any, "securityContext": .fields(PodSupport.containerSecurityContextFields),
        "stdin": .any, "stdinOnce": .any, "tty": .any,
    ]

    public init(name: String, image: String = "", command: [String] = [], args: [String] = [], workingDir: String = "",
                ports: [ContainerPort] = [], env: [EnvVar] = [], envFrom: [EnvFromSource] = [], volumeMounts: [VolumeMount] = [], livenessProbe: ContainerProbe? = nil,
                readinessProbe: ContainerProbe? = nil, startupProbe: ContainerProbe? = nil, preservedFields: [String: JSONValue] = [:]) {
        self.name = name
        self.image = image
        self.command = command
        self.args = args
        self.workingDir = workingDir
        self.ports = ports
        self.env = env
        self.envFrom = envFrom
        self.volumeMounts = volumeMounts
        self.livenessProbe = livenessProbe
        self.readinessProbe = readinessProbe
        self.startupProbe = startupProbe
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
        envFrom = try reader.objects("envFrom")
        volumeMounts = try reader.objects("volumeMounts")
        livenessProbe = try reader.object("livenessProbe")
        readinessProbe = try reader.object("readinessProbe")
        startupProbe = try reader.object("startupProbe")
        preservedFields = reader.preservedFields(Self.unmodeledFields)
        // Always written as `{}` when empty (see `write(to:)`), so an empty one carries nothing.
        if preservedFields["resources"] == .object([:]) { preservedFields["resources"] = nil }
        if let resources = preservedFields["resources"] {
            preservedFields["resources"] = try Container.canonicalResources(resources, path: reader.path.child("resources"))
        }
    }

    /// `resources` with every quantity in `limits` and `requests` parsed and written in its
    /// canonical form (`0.5` → `500m`), as the API server stores it; a malformed one fails.
    static func canonicalResources(_ resources: JSONValue, path: FieldPath) throws(ObjectDecodingError) -> JSONValue {
        guard case var .object(fields) = resources else { return resources }
        for list in ["limits", "requests"] {
            guard case let .object(entries)? = fields[list] else { continue }
            var canonical: [String: JSONValue] = [:]
            for (name, value) in entries {
                do { canonical[name] = .string(try Quantity(json: value).description) } catch {
                    throw .malformedQuantity(field: path.child(list).key(name), reason: error.description)
                }
            }
            fields[list] = .object(canonical)
        }
        return .object(fields)
    }

    /// `resources.requests` and `resources.limits`, parsed.
    public var resourceRequirements: (requests: ResourceList, limits: ResourceList) {
        func list(_ key: String) -> ResourceList {
            (preservedFields["resources"]?[key]?.objectValue ?? [:]).compactMapValues { try? Quantity(json: $0) }
        }
        return (list("requests"), list("limits"))
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("name", .string(name))
        writer.set("image", omittingEmpty: image)
        writer.set("command", omittingEmpty: command)
        writer.set("args", omittingEmpty: args)
        writer.set("workingDir", omittingEmpty: workingDir)
        writer.set("ports", omittingEmpty: ports)
        writer.set("env", omittingEmpty: env)
        writer.set("envFrom", omittingEmpty: envFrom)
        writer.set("volumeMounts", omittingEmpty: volumeMounts)
        writer.set("livenessProbe", omittingNil: livenessProbe)
        writer.set("readinessProbe", omittingNil: readinessProbe)
        writer.set("startupProbe", omittingNil: startupProbe)
        // `resources` is a struct (not a pointer) in Kubernetes, so it is always written.
        writer.set("resources", preservedFields["resources"] ?? .object([:]))
        writer.merge(preservedFields)
    }
}

extension Container {
    /// The value that makes an init container a sidecar (`initContainers[].restartPolicy`), the
    /// only one Kubernetes accepts there.
    public static let sidecarRestartPolicy = "Always"

    /// `restartPolicy` as written (only init containers may set it), nil when unset.
    public var restartPolicy: String? {
        guard let value = preservedFields["restartPolicy"], value != .null else { return nil }
        return value.stringValue ?? value.jsonText(indent: 0)
    }

    /// True for an init container with `restartPolicy: Always`: a native sidecar (Kubernetes'
    /// "restartable init container"), started in its turn among the init containers and then
    /// kept running beside the app containers.
    public var isSidecar: Bool { restartPolicy == Container.sidecarRestartPolicy }
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

/// An environment variable of a container (`env[]`): a literal `value` (which may refer to
/// earlier variables as `$(NAME)`), or a value taken from the pod (`valueFrom`).
public struct EnvVar: JSONObjectCodable, Hashable {
    public var name: String
    public var value: String
    public var valueFrom: EnvVarSource?

    public init(name: String, value: String = "", valueFrom: EnvVarSource? = nil) {
        self.name = name
        self.value = value
        self.valueFrom = valueFrom
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        name = try reader.string("name") ?? ""
        value = try reader.string("value") ?? ""
        valueFrom = try reader.object("valueFrom")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("name", .string(name))
        writer.set("value", omittingEmpty: value)
        writer.set("valueFrom", omittingNil: valueFrom)
    }
}
