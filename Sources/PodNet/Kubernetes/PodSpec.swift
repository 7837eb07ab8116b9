/// What a pod's containers do when they exit.
public struct RestartPolicy: StringValue {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let always: RestartPolicy = "Always"
    public static let onFailure: RestartPolicy = "OnFailure"
    public static let never: RestartPolicy = "Never"
    /// In the order Kubernetes lists them in validation messages.
    public static let supported: [RestartPolicy] = [.always, .onFailure, .never]
}

/// How a pod's DNS is set up. podlab records it; `ClusterFirst` is the default.
public struct DNSPolicy: StringValue {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let clusterFirst: DNSPolicy = "ClusterFirst"
    public static let clusterFirstWithHostNet: DNSPolicy = "ClusterFirstWithHostNet"
    public static let `default`: DNSPolicy = "Default"
    public static let none: DNSPolicy = "None"
    public static let supported: [DNSPolicy] = [.clusterFirstWithHostNet, .clusterFirst, .default, .none]
}

/// `spec` of a pod.
public struct PodSpec: JSONObjectCodable, Hashable {
    /// The containers of the pod; at least one.
    public var containers: [Container]
    /// Run one at a time, in order, before the containers; those with `restartPolicy: Always`
    /// are sidecars that keep running beside them (see `PodInitialization`).
    public var initContainers: [Container]
    /// `Always` (the default), `OnFailure` or `Never`.
    public var restartPolicy: RestartPolicy?
    /// Seconds between SIGTERM and SIGKILL when the pod is deleted (default 30).
    public var terminationGracePeriodSeconds: Int64?
    /// How long the pod may run before it is failed.
    public var activeDeadlineSeconds: Int64?
    /// Recorded; `ClusterFirst` by default.
    public var dnsPolicy: DNSPolicy?
    /// The node the pod runs on: set by the user to pin it, or by the scheduler.
    public var nodeName: String
    /// The pod's hostname (defaults to the pod name).
    public var hostname: String
    /// Kept as given; only additions are allowed on update.
    public var tolerations: [JSONValue]
    /// Directories the containers can mount (`emptyDir`, `hostPath`).
    public var volumes: [Volume]
    /// Fields Kubernetes defines that podlab keeps unchanged (`affinity`,
    /// `securityContext`, `schedulerName`, `serviceAccountName`...).
    public var preservedFields: [String: JSONValue]

    /// Fields of `PodSpec` podlab stores without interpreting, with their shape where strict
    /// decoding should look inside them. Which of them a pod may use is decided by
    /// validation (see `PodSupport`).
    public static let unmodeledFields: [String: FieldSchema] = [
        "ephemeralContainers": .any, "nodeSelector": .map(.any), "serviceAccountName": .any, "serviceAccount": .any,
        "automountServiceAccountToken": .any, "hostNetwork": .any, "hostPID": .any, "hostIPC": .any, "shareProcessNamespace": .any,
        "securityContext": .fields(PodSupport.podSecurityContextFields),
        "imagePullSecrets": .list(.fields(["name"])), "subdomain": .any,
        "affinity": .fields(["nodeAffinity", "podAffinity", "podAntiAffinity"]),
        "schedulerName": .any, "hostAliases": .list(.fields(["ip", "hostnames"])),
        "priorityClassName": .any, "priority": .any, "dnsConfig": .fields(["nameservers", "searches", "options"]),
        "readinessGates": .list(.fields(["conditionType"])), "runtimeClassName": .any, "enableServiceLinks": .any,
        "preemptionPolicy": .any, "overhead": .map(.any), "topologySpreadConstraints": .any, "setHostnameAsFQDN": .any,
        "os": .fields(["name"]), "hostUsers": .any, "schedulingGates": .list(.fields(["name"])), "resourceClaims": .any,
        "resources": .fields(["limits", "requests", "claims"]), "hostnameOverride": .any,
    ]

    /// The fields of one toleration (`spec.tolerations[]`).
    static let tolerationSchema: FieldSchema = .fields(["key", "operator", "value", "effect", "tolerationSeconds"])

    /// A spec from values; unset fields keep their Kubernetes defaults (see `Pod.applyingDefaults()`).
    public init(containers: [Container] = [], initContainers: [Container] = [], restartPolicy: RestartPolicy? = nil,
                terminationGracePeriodSeconds: Int64? = nil, activeDeadlineSeconds: Int64? = nil, dnsPolicy: DNSPolicy? = nil,
                nodeName: String = "", hostname: String = "", tolerations: [JSONValue] = [], volumes: [Volume] = [],
                preservedFields: [String: JSONValue] = [:]) {
        self.containers = containers
        self.initContainers = initContainers
        self.restartPolicy = restartPolicy
        self.terminationGracePeriodSeconds = terminationGracePeriodSeconds
        self.activeDeadlineSeconds = activeDeadlineSeconds
        self.dnsPolicy = dnsPolicy
        self.nodeName = nodeName
        self.hostname = hostname
        self.tolerations = tolerations
        self.volumes = volumes
        self.preservedFields = preservedFields
    }

    /// The restart policy with Kubernetes' default (`Always`) applied.
    public var effectiveRestartPolicy: RestartPolicy { restartPolicy ?? .always }

    /// The number of readiness gates (`spec.readinessGates`), shown by `get pods -o wide`.
    public var readinessGateTypes: [String] {
        (preservedFields["readinessGates"]?.arrayValue ?? []).compactMap { $0["conditionType"]?.stringValue }
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        containers = try reader.objects("containers")
        initContainers = try reader.objects("initContainers")
        restartPolicy = try reader.enumeration("restartPolicy")
        terminationGracePeriodSeconds = try reader.int64("terminationGracePeriodSeconds")
        activeDeadlineSeconds = try reader.int64("activeDeadlineSeconds")
        dnsPolicy = try reader.enumeration("dnsPolicy")
        nodeName = try reader.string("nodeName") ?? ""
        hostname = try reader.string("hostname") ?? ""
        tolerations = try reader.array("tolerations") ?? []
        for (index, toleration) in tolerations.enumerated() {
            reader.recordUnknownFields(in: toleration, at: reader.path.child("tolerations").index(index), schema: Self.tolerationSchema)
        }
        volumes = try reader.objects("volumes")
        preservedFields = reader.preservedFields(Self.unmodeledFields)
    }

    public func write(to writer: inout ObjectWriter) {
        // `containers` has no omitempty in Kubernetes.
        writer.set("containers", .array(containers.map(\.json)))
        writer.set("initContainers", omittingEmpty: initContainers)
        writer.set("restartPolicy", omittingNil: restartPolicy)
        writer.set("terminationGracePeriodSeconds", omittingNil: terminationGracePeriodSeconds)
        writer.set("activeDeadlineSeconds", omittingNil: activeDeadlineSeconds)
        writer.set("dnsPolicy", omittingNil: dnsPolicy)
        writer.set("nodeName", omittingEmpty: nodeName)
        writer.set("hostname", omittingEmpty: hostname)
        if !tolerations.isEmpty { writer.set("tolerations", .array(tolerations)) }
        writer.set("volumes", omittingEmpty: volumes)
        writer.merge(preservedFields)
    }
}
