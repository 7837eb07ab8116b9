/// The schemas of the kinds kubectl validates and explains (Pod, Service, Deployment,
/// NetworkPolicy, Namespace, ConfigMap, Secret, MeshPolicy, Route), described once here and written out as the OpenAPI v2 document
/// (JSON, and gnostic's protobuf that kubectl reads) and the OpenAPI v3 documents per group
/// version. Fields podlab does not describe in detail are free-form objects, which kubectl
/// validates no further — so a manifest valid for Kubernetes is never refused here.

/// The type of a field.
public indirect enum OpenAPIType: Sendable, Hashable {
    case string
    case integer(format: String)
    case boolean
    /// `IntOrString` (`targetPort: 80` or `"http"`), as Kubernetes writes it.
    case intOrString
    /// RFC 3339 time.
    case time
    /// Another definition, by its short name (`PodSpec`).
    case object(String)
    case array(OpenAPIType)
    case map(OpenAPIType)
    /// An object whose fields are not described (validated no further).
    case freeObject

    public static let int32 = OpenAPIType.integer(format: "int32")
    public static let int64 = OpenAPIType.integer(format: "int64")
}

/// One field of a definition, with the strategic merge patch metadata kubectl reads.
public struct OpenAPIField: Sendable, Hashable {
    public var name: String
    public var type: OpenAPIType
    public var description: String
    public var required: Bool
    /// `x-kubernetes-patch-merge-key`: the list merges element by element on this field.
    public var mergeKey: String?
    /// `x-kubernetes-patch-strategy` (`merge`, `retainKeys`, `merge,retainKeys`).
    public var patchStrategy: String?

    public init(_ name: String, _ type: OpenAPIType, _ description: String, required: Bool = false, mergeKey: String? = nil, patchStrategy: String? = nil) {
        self.name = name
        self.type = type
        self.description = description
        self.required = required
        self.mergeKey = mergeKey
        self.patchStrategy = patchStrategy ?? (mergeKey == nil ? nil : "merge")
    }
}

/// One definition (`io.k8s.api.core.v1.Pod`): its fields, and the kind it is when it is one.
public struct OpenAPIDefinition: Sendable, Hashable {
    /// The short name other definitions refer to it by.
    public var name: String
    /// The Go package path prefix Kubernetes names it with (`io.k8s.api.core.v1`).
    public var package: String
    public var description: String
    public var fields: [OpenAPIField]
    /// Group, version and kind for a top-level kind.
    public var kind: (group: String, version: String, kind: String)?

    public var fullName: String { "\(package).\(name)" }

    public static func == (lhs: OpenAPIDefinition, rhs: OpenAPIDefinition) -> Bool { lhs.fullName == rhs.fullName }
    public func hash(into hasher: inout Hasher) { hasher.combine(fullName) }

    /// The group version its kind is served at (`v1`, `apps/v1`); nil for a part of a kind.
    public var groupVersion: String? {
        guard let kind else { return nil }
        return kind.group.isEmpty ? kind.version : "\(kind.group)/\(kind.version)"
    }
}

public enum OpenAPISchema {
    static let core = "io.k8s.api.core.v1", meta = "io.k8s.apimachinery.pkg.apis.meta.v1", mesh = "dev.podlab.v1"

    static func kind(_ name: String, _ package: String, group: String, version: String, _ description: String, spec: String?) -> OpenAPIDefinition {
        var fields = [
            OpenAPIField("apiVersion", .string, "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values."),
            OpenAPIField("kind", .string, "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase."),
            OpenAPIField("metadata", .object("ObjectMeta"), "Standard object's metadata."),
        ]
        if let spec { fields.append(OpenAPIField("spec", .object(spec), "Specification of the desired behavior of the \(name).")) }
        fields.append(OpenAPIField("status", .freeObject, "Most recently observed status of the \(name). Populated by the system. Read-only."))
        return OpenAPIDefinition(name: name, package: package, description: description, fields: fields, kind: (group, version, name))
    }

    /// A kind that holds data rather than a spec and a status (ConfigMap, Secret).
    static func dataKind(_ name: String, _ description: String, _ dataFields: [OpenAPIField]) -> OpenAPIDefinition {
        let fields = [
            OpenAPIField("apiVersion", .string, "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values."),
            OpenAPIField("immutable", .boolean, "Immutable, if set to true, ensures that data stored in the \(name) cannot be updated (only object metadata can be modified). If not set to true, the field can be modified at any time. Defaulted to nil."),
            OpenAPIField("kind", .string, "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase."),
            OpenAPIField("metadata", .object("ObjectMeta"), "Standard object's metadata."),
        ] + dataFields
        return OpenAPIDefinition(name: name, package: core, description: description, fields: fields.sorted { $0.name < $1.name }, kind: ("", "v1", name))
    }

    /// Every definition served.
    public static let definitions: [OpenAPIDefinition] = [
        dataKind("ConfigMap", "ConfigMap holds configuration data for pods to consume.", [
            OpenAPIField("binaryData", .map(.string), "BinaryData contains the binary data. Each key must consist of alphanumeric characters, '-', '_' or '.'. BinaryData can contain byte sequences that are not in the UTF-8 range. The keys stored in BinaryData must not overlap with the ones in the Data field, this is enforced during validation process."),
            OpenAPIField("data", .map(.string), "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process."),
        ]),
        dataKind("Secret", "Secret holds secret data of a certain type. The total bytes of the values in the Data field must be less than MaxSecretSize bytes.", [
            OpenAPIField("data", .map(.string), "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here."),
            OpenAPIField("stringData", .map(.string), "stringData allows specifying non-binary secret data in string form. It is provided as a write-only input field for convenience. All keys and values are merged into the data field on write, overwriting any existing values. The stringData field is never output when reading from the API."),
            OpenAPIField("type", .string, "Used to facilitate programmatic handling of secret data."),
        ]),
        kind("Pod", core, group: "", version: "v1",
             "Pod is a collection of containers that can run on a host. This resource is created by clients and scheduled onto hosts.", spec: "PodSpec"),
        kind("Service", core, group: "", version: "v1",
             "Service is a named abstraction of software service (for example, mysql) consisting of local port (for example 3306) that the proxy listens on, and the selector that determines which pods will answer requests sent through the proxy.",
             spec: "ServiceSpec"),
        kind("Namespace", core, group: "", version: "v1", "Namespace provides a scope for Names. Use of multiple namespaces is optional.", spec: "NamespaceSpec"),
        kind("Deployment", "io.k8s.api.apps.v1", group: "apps", version: "v1", "Deployment enables declarative updates for Pods and ReplicaSets.", spec: "DeploymentSpec"),
        kind("NetworkPolicy", "io.k8s.api.networking.v1", group: "networking.k8s.io", version: "v1",
             "NetworkPolicy describes what network traffic is allowed for a set of Pods", spec: "NetworkPolicySpec"),
        kind("MeshPolicy", mesh, group: "podlab.dev", version: "v1",
             "MeshPolicy allows requests to the meshed pods it selects, by the peer's identity or namespace and the port, path and method; the receiving sidecar refuses the rest (HTTP 403, or a TCP reset).",
             spec: "MeshPolicySpec"),
        kind("Route", mesh, group: "podlab.dev", version: "v1",
             "Route shapes the HTTP/1.1 requests to one Service of its namespace, in each client's sidecar: the first rule that matches a request sends it to weighted backend Services, with a timeout, retries and injected faults.",
             spec: "RouteSpec"),
        OpenAPIDefinition(name: "ObjectMeta", package: meta, description: "ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.", fields: [
            OpenAPIField("annotations", .map(.string), "Annotations is an unstructured key value map stored with a resource that may be set by external tools to store and retrieve arbitrary metadata."),
            OpenAPIField("creationTimestamp", .time, "CreationTimestamp is a timestamp representing the server time when this object was created. Populated by the system. Read-only."),
            OpenAPIField("deletionGracePeriodSeconds", .int64, "Number of seconds allowed for this object to gracefully terminate before it will be removed from the system. Only set when deletionTimestamp is also set."),
            OpenAPIField("deletionTimestamp", .time, "DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted. Set by the server when a graceful deletion is requested."),
            OpenAPIField("finalizers", .array(.string), "Must be empty before the object is deleted from the registry.", patchStrategy: "merge"),
            OpenAPIField("generateName", .string, "GenerateName is an optional prefix, used by the server, to generate a unique name ONLY IF the Name field has not been provided."),
            OpenAPIField("generation", .int64, "A sequence number representing a specific generation of the desired state. Populated by the system. Read-only."),
            OpenAPIField("labels", .map(.string), "Map of string keys and values that can be used to organize and categorize (scope and select) objects."),
            OpenAPIField("managedFields", .array(.freeObject), "ManagedFields maps workflow-id and version to the set of fields that are managed by that workflow."),
            OpenAPIField("name", .string, "Name must be unique within a namespace. Cannot be updated."),
            OpenAPIField("namespace", .string, "Namespace defines the space within which each name must be unique. An empty namespace is equivalent to the \"default\" namespace."),
            OpenAPIField("ownerReferences", .array(.freeObject), "List of objects depended by this object.", mergeKey: "uid"),
            OpenAPIField("resourceVersion", .string, "An opaque value that represents the internal version of this object, used for optimistic concurrency. Populated by the system. Read-only."),
            OpenAPIField("selfLink", .string, "Deprecated: selfLink is a legacy read-only field that is no longer populated by the system."),
            OpenAPIField("uid", .string, "UID is the unique in time and space value for this object. Populated by the system. Read-only."),
        ]),
        OpenAPIDefinition(name: "PodSpec", package: core, description: "PodSpec is a description of a pod.", fields: [
            OpenAPIField("activeDeadlineSeconds", .int64, "Optional duration in seconds the pod may be active on the node relative to StartTime before the system will actively try to mark it failed and kill associated containers."),
            OpenAPIField("affinity", .freeObject, "If specified, the pod's scheduling constraints"),
            OpenAPIField("automountServiceAccountToken", .boolean, "AutomountServiceAccountToken indicates whether a service account token should be automatically mounted."),
            OpenAPIField("containers", .array(.object("Container")), "List of containers belonging to the pod. Containers cannot currently be added or removed. There must be at least one container in a Pod. Cannot be updated.",
                         required: true, mergeKey: "name"),
            OpenAPIField("dnsConfig", .freeObject, "Specifies the DNS parameters of a pod."),
            OpenAPIField("dnsPolicy", .string, "Set DNS policy for the pod. Defaults to \"ClusterFirst\". Valid values are 'ClusterFirstWithHostNet', 'ClusterFirst', 'Default' or 'None'."),
            OpenAPIField("enableServiceLinks", .boolean, "EnableServiceLinks indicates whether information about services should be injected into pod's environment variables."),
            OpenAPIField("ephemeralContainers", .array(.freeObject), "List of ephemeral containers run in this pod.", mergeKey: "name"),
            OpenAPIField("hostAliases", .array(.freeObject), "HostAliases is an optional list of hosts and IPs that will be injected into the pod's hosts file if specified.", mergeKey: "ip"),
            OpenAPIField("hostIPC", .boolean, "Use the host's ipc namespace. Optional: Default to false."),
            OpenAPIField("hostNetwork", .boolean, "Host networking requested for this pod. Use the host's network namespace."),
            OpenAPIField("hostPID", .boolean, "Use the host's pid namespace. Optional: Default to false."),
            OpenAPIField("hostUsers", .boolean, "Use the host's user namespace. Optional: Default to true."),
            OpenAPIField("hostname", .string, "Specifies the hostname of the Pod. If not specified, the pod's hostname will be set to a system-defined value."),
            OpenAPIField("hostnameOverride", .string, "HostnameOverride specifies an explicit override for the pod's hostname as perceived by the pod."),
            OpenAPIField("imagePullSecrets", .array(.freeObject), "ImagePullSecrets is an optional list of references to secrets in the same namespace to use for pulling any of the images used by this PodSpec.", mergeKey: "name"),
            OpenAPIField("initContainers", .array(.object("Container")), "List of initialization containers belonging to the pod. Init containers are executed in order prior to containers being started.", mergeKey: "name"),
            OpenAPIField("nodeName", .string, "NodeName indicates in which node this pod is scheduled."),
            OpenAPIField("nodeSelector", .map(.string), "NodeSelector is a selector which must be true for the pod to fit on a node."),
            OpenAPIField("os", .freeObject, "Specifies the OS of the containers in the pod."),
            OpenAPIField("overhead", .freeObject, "Overhead represents the resource overhead associated with running a pod for a given RuntimeClass."),
            OpenAPIField("preemptionPolicy", .string, "PreemptionPolicy is the Policy for preempting pods with lower priority."),
            OpenAPIField("priority", .int32, "The priority value. Various system components use this field to find the priority of the pod."),
            OpenAPIField("priorityClassName", .string, "If specified, indicates the pod's priority."),
            OpenAPIField("readinessGates", .array(.freeObject), "If specified, all readiness gates will be evaluated for pod readiness."),
            OpenAPIField("resourceClaims", .array(.freeObject), "ResourceClaims defines which ResourceClaims must be allocated and reserved before the Pod is allowed to start.",
                         mergeKey: "name", patchStrategy: "merge,retainKeys"),
            OpenAPIField("resources", .freeObject, "Resources is the total amount of CPU and Memory resources required by all containers in the pod."),
            OpenAPIField("restartPolicy", .string, "Restart policy for all containers within the pod. One of Always, OnFailure, Never. Default to Always."),
            OpenAPIField("runtimeClassName", .string, "RuntimeClassName refers to a RuntimeClass object in the node.k8s.io group, which should be used to run this pod."),
            OpenAPIField("schedulerName", .string, "If specified, the pod will be dispatched by specified scheduler."),
            OpenAPIField("schedulingGates", .array(.freeObject), "SchedulingGates is an opaque list of values that if specified will block scheduling the pod.", mergeKey: "name"),
            OpenAPIField("securityContext", .freeObject, "SecurityContext holds pod-level security attributes and common container settings."),
            OpenAPIField("serviceAccount", .string, "DeprecatedServiceAccount is a deprecated alias for ServiceAccountName."),
            OpenAPIField("serviceAccountName", .string, "ServiceAccountName is the name of the ServiceAccount to use to run this pod."),
            OpenAPIField("setHostnameAsFQDN", .boolean, "If true the pod's hostname will be configured as the pod's FQDN, rather than the leaf name (the default)."),
            OpenAPIField("shareProcessNamespace", .boolean, "Share a single process namespace between all of the containers in a pod."),
            OpenAPIField("subdomain", .string, "If specified, the fully qualified Pod hostname will be \"<hostname>.<subdomain>.<pod namespace>.svc.<cluster domain>\"."),
            OpenAPIField("terminationGracePeriodSeconds", .int64, "Optional duration in seconds the pod needs to terminate gracefully. Defaults to 30 seconds."),
            OpenAPIField("tolerations", .array(.freeObject), "If specified, the pod's tolerations."),
            OpenAPIField("topologySpreadConstraints", .array(.freeObject), "TopologySpreadConstraints describes how a group of pods ought to spread across topology domains.", mergeKey: "topologyKey"),
            OpenAPIField("volumes", .array(.object("Volume")), "List of volumes that can be mounted by containers belonging to the pod.", mergeKey: "name", patchStrategy: "merge,retainKeys"),
        ]),
        OpenAPIDefinition(name: "Container", package: core, description: "A single application container that you want to run within a pod.", fields: [
            OpenAPIField("args", .array(.string), "Arguments to the entrypoint. The container image's CMD is used if this is not provided."),
            OpenAPIField("command", .array(.string), "Entrypoint array. Not executed within a shell. The container image's ENTRYPOINT is used if this is not provided."),
            OpenAPIField("env", .array(.object("EnvVar")), "List of environment variables to set in the container. Cannot be updated.", mergeKey: "name"),
            OpenAPIField("envFrom", .array(.object("EnvFromSource")), "List of sources to populate environment variables in the container."),
            OpenAPIField("image", .string, "Container image name."),
            OpenAPIField("imagePullPolicy", .string, "Image pull policy. One of Always, Never, IfNotPresent. Defaults to Always if :latest tag is specified, or IfNotPresent otherwise."),
            OpenAPIField("lifecycle", .object("Lifecycle"), "Actions that the management system should take in response to container lifecycle events. Cannot be updated."),
            OpenAPIField("livenessProbe", .object("Probe"), "Periodic probe of container liveness. Container will be restarted if the probe fails. Cannot be updated."),
            OpenAPIField("name", .string, "Name of the container specified as a DNS_LABEL. Each container in a pod must have a unique name (DNS_LABEL). Cannot be updated.", required: true),
            OpenAPIField("ports", .array(.object("ContainerPort")), "List of ports to expose from the container.", mergeKey: "containerPort"),
            OpenAPIField("readinessProbe", .object("Probe"), "Periodic probe of container service readiness. Container will be removed from service endpoints if the probe fails. Cannot be updated."),
            OpenAPIField("resizePolicy", .array(.object("ContainerResizePolicy")), "Resources resize policy for the container."),
            OpenAPIField("resources", .object("ResourceRequirements"), "Compute Resources required by this container. Cannot be updated."),
            OpenAPIField("restartPolicy", .string, "RestartPolicy defines the restart behavior of individual containers in a pod. Only \"Always\" is allowed, for init containers (sidecars)."),
            OpenAPIField("securityContext", .object("SecurityContext"), "SecurityContext defines the security options the container should be run with."),
            OpenAPIField("startupProbe", .object("Probe"), "StartupProbe indicates that the Pod has successfully initialized. Cannot be updated."),
            OpenAPIField("stdin", .boolean, "Whether this container should allocate a buffer for stdin in the container runtime. Default is false."),
            OpenAPIField("stdinOnce", .boolean, "Whether the container runtime should close the stdin channel after it has been opened by a single attach. Default is false."),
            OpenAPIField("terminationMessagePath", .string, "Path at which the file to which the container's termination message will be written is mounted into the container's filesystem."),
            OpenAPIField("terminationMessagePolicy", .string, "Indicate how the termination message should be populated. File or FallbackToLogsOnError."),
            OpenAPIField("tty", .boolean, "Whether this container should allocate a TTY for itself, also requires 'stdin' to be true. Default is false."),
            OpenAPIField("volumeDevices", .array(.object("VolumeDevice")), "volumeDevices is the list of block devices to be used by the container.", mergeKey: "devicePath"),
            OpenAPIField("volumeMounts", .array(.object("VolumeMount")), "Pod volumes to mount into the container's filesystem. Cannot be updated.", mergeKey: "mountPath"),
            OpenAPIField("workingDir", .string, "Container's working directory. If not specified, the container runtime's default will be used. Cannot be updated."),
        ]),
        OpenAPIDefinition(name: "ContainerPort", package: core, description: "ContainerPort represents a network port in a single container.", fields: [
            OpenAPIField("containerPort", .int32, "Number of port to expose on the pod's IP address. This must be a valid port number, 0 < x < 65536.", required: true),
            OpenAPIField("hostIP", .string, "What host IP to bind the external port to."),
            OpenAPIField("hostPort", .int32, "Number of port to expose on the host. If specified, this must be a valid port number, 0 < x < 65536."),
            OpenAPIField("name", .string, "If specified, this must be an IANA_SVC_NAME and unique within the pod. Each named port in a pod must have a unique name."),
            OpenAPIField("protocol", .string, "Protocol for port. Must be UDP, TCP, or SCTP. Defaults to \"TCP\"."),
        ]),
        OpenAPIDefinition(name: "EnvVar", package: core, description: "EnvVar represents an environment variable present in a Container.", fields: [
            OpenAPIField("name", .string, "Name of the environment variable.", required: true),
            OpenAPIField("value", .string, "Variable references $(VAR_NAME) are expanded using the previously defined environment variables in the container and any service environment variables."),
            OpenAPIField("valueFrom", .object("EnvVarSource"), "Source for the environment variable's value. Cannot be used if value is not empty."),
        ]),
        OpenAPIDefinition(name: "EnvVarSource", package: core, description: "EnvVarSource represents a source for the value of an EnvVar.", fields: [
            OpenAPIField("configMapKeyRef", .object("ConfigMapKeySelector"), "Selects a key of a ConfigMap."),
            OpenAPIField("fieldRef", .object("ObjectFieldSelector"), "Selects a field of the pod: supports metadata.name, metadata.namespace, `metadata.labels['<KEY>']`, `metadata.annotations['<KEY>']`, spec.nodeName, spec.serviceAccountName, status.hostIP, status.podIP, status.podIPs."),
            OpenAPIField("resourceFieldRef", .object("ResourceFieldSelector"), "Selects a resource of the container: only resources limits and requests (limits.cpu, limits.memory, limits.ephemeral-storage, requests.cpu, requests.memory and requests.ephemeral-storage) are currently supported."),
            OpenAPIField("secretKeyRef", .object("SecretKeySelector"), "Selects a key of a secret in the pod's namespace"),
        ]),
        OpenAPIDefinition(name: "ConfigMapKeySelector", package: core, description: "Selects a key from a ConfigMap.", fields: [
            OpenAPIField("key", .string, "The key to select.", required: true),
            OpenAPIField("name", .string, "Name of the referent."),
            OpenAPIField("optional", .boolean, "Specify whether the ConfigMap or its key must be defined"),
        ]),
        OpenAPIDefinition(name: "SecretKeySelector", package: core, description: "SecretKeySelector selects a key of a Secret.", fields: [
            OpenAPIField("key", .string, "The key of the secret to select from.  Must be a valid secret key.", required: true),
            OpenAPIField("name", .string, "Name of the referent."),
            OpenAPIField("optional", .boolean, "Specify whether the Secret or its key must be defined"),
        ]),
        OpenAPIDefinition(name: "ObjectFieldSelector", package: core, description: "ObjectFieldSelector selects an APIVersioned field of an object.", fields: [
            OpenAPIField("apiVersion", .string, "Version of the schema the FieldPath is written in terms of, defaults to \"v1\"."),
            OpenAPIField("fieldPath", .string, "Path of the field to select in the specified API version.", required: true),
        ]),
        OpenAPIDefinition(name: "ResourceFieldSelector", package: core, description: "ResourceFieldSelector represents container resources (cpu, memory) and their output format", fields: [
            OpenAPIField("containerName", .string, "Container name: required for volumes, optional for env vars"),
            OpenAPIField("divisor", .string, "Specifies the output format of the exposed resources, defaults to \"1\""),
            OpenAPIField("resource", .string, "Required: resource to select", required: true),
        ]),
        OpenAPIDefinition(name: "EnvFromSource", package: core, description: "EnvFromSource represents the source of a set of ConfigMaps or Secrets", fields: [
            OpenAPIField("configMapRef", .object("ConfigMapEnvSource"), "The ConfigMap to select from"),
            OpenAPIField("prefix", .string, "Optional text to prepend to the name of each environment variable."),
            OpenAPIField("secretRef", .object("SecretEnvSource"), "The Secret to select from"),
        ]),
        OpenAPIDefinition(name: "ConfigMapEnvSource", package: core, description: "ConfigMapEnvSource selects a ConfigMap to populate the environment variables with.", fields: [
            OpenAPIField("name", .string, "Name of the referent."),
            OpenAPIField("optional", .boolean, "Specify whether the ConfigMap must be defined"),
        ]),
        OpenAPIDefinition(name: "SecretEnvSource", package: core, description: "SecretEnvSource selects a Secret to populate the environment variables with.", fields: [
            OpenAPIField("name", .string, "Name of the referent."),
            OpenAPIField("optional", .boolean, "Specify whether the Secret must be defined"),
        ]),
        OpenAPIDefinition(name: "Probe", package: core, description: "Probe describes a health check to be performed against a container to determine whether it is alive or ready to receive traffic.", fields: [
            OpenAPIField("exec", .object("ExecAction"), "Exec specifies a command to execute in the container."),
            OpenAPIField("failureThreshold", .int32, "Minimum consecutive failures for the probe to be considered failed after having succeeded. Defaults to 3. Minimum value is 1."),
            OpenAPIField("grpc", .object("GRPCAction"), "GRPC specifies a GRPC HealthCheckRequest."),
            OpenAPIField("httpGet", .object("HTTPGetAction"), "HTTPGet specifies an HTTP GET request to perform."),
            OpenAPIField("initialDelaySeconds", .int32, "Number of seconds after the container has started before liveness probes are initiated."),
            OpenAPIField("periodSeconds", .int32, "How often (in seconds) to perform the probe. Default to 10 seconds. Minimum value is 1."),
            OpenAPIField("successThreshold", .int32, "Minimum consecutive successes for the probe to be considered successful after having failed. Defaults to 1. Must be 1 for liveness and startup. Minimum value is 1."),
            OpenAPIField("tcpSocket", .object("TCPSocketAction"), "TCPSocket specifies a connection to a TCP port."),
            OpenAPIField("terminationGracePeriodSeconds", .int64, "Optional duration in seconds the pod needs to terminate gracefully upon probe failure."),
            OpenAPIField("timeoutSeconds", .int32, "Number of seconds after which the probe times out. Defaults to 1 second. Minimum value is 1."),
        ]),
        OpenAPIDefinition(name: "ExecAction", package: core, description: "ExecAction describes a \"run in container\" action.", fields: [
            OpenAPIField("command", .array(.string), "Command is the command line to execute inside the container, the working directory for the command  is root ('/') in the container's filesystem. The command is simply exec'd, it is not run inside a shell, so traditional shell instructions ('|', etc) won't work. To use a shell, you need to explicitly call out to that shell. Exit status of 0 is treated as live/healthy and non-zero is unhealthy."),
        ]),
        OpenAPIDefinition(name: "GRPCAction", package: core, description: "GRPCAction specifies an action involving a GRPC service.", fields: [
            OpenAPIField("port", .int32, "Port number of the gRPC service. Number must be in the range 1 to 65535.", required: true),
            OpenAPIField("service", .string, "Service is the name of the service to place in the gRPC HealthCheckRequest. If this is not specified, the default behavior is defined by gRPC."),
        ]),
        OpenAPIDefinition(name: "HTTPGetAction", package: core, description: "HTTPGetAction describes an action based on HTTP Get requests.", fields: [
            OpenAPIField("host", .string, "Host name to connect to, defaults to the pod IP. You probably want to set \"Host\" in httpHeaders instead."),
            OpenAPIField("httpHeaders", .array(.object("HTTPHeader")), "Custom headers to set in the request. HTTP allows repeated headers."),
            OpenAPIField("path", .string, "Path to access on the HTTP server."),
            OpenAPIField("port", .intOrString, "Name or number of the port to access on the container. Number must be in the range 1 to 65535. Name must be an IANA_SVC_NAME.", required: true),
            OpenAPIField("scheme", .string, "Scheme to use for connecting to the host. Defaults to HTTP."),
        ]),
        OpenAPIDefinition(name: "HTTPHeader", package: core, description: "HTTPHeader describes a custom header to be used in HTTP probes", fields: [
            OpenAPIField("name", .string, "The header field name. This will be canonicalized upon output, so case-variant names will be understood as the same header.", required: true),
            OpenAPIField("value", .string, "The header field value", required: true),
        ]),
        OpenAPIDefinition(name: "TCPSocketAction", package: core, description: "TCPSocketAction describes an action based on opening a socket", fields: [
            OpenAPIField("host", .string, "Optional: Host name to connect to, defaults to the pod IP."),
            OpenAPIField("port", .intOrString, "Number or name of the port to access on the container. Number must be in the range 1 to 65535. Name must be an IANA_SVC_NAME.", required: true),
        ]),
        OpenAPIDefinition(name: "Lifecycle", package: core, description: "Lifecycle describes actions that the management system should take in response to container lifecycle events. For the PostStart and PreStop lifecycle handlers, management of the container blocks until the action is complete, unless the container process fails, in which case the handler is aborted.", fields: [
            OpenAPIField("postStart", .object("LifecycleHandler"), "PostStart is called immediately after a container is created. If the handler fails, the container is terminated and restarted according to its restart policy."),
            OpenAPIField("preStop", .object("LifecycleHandler"), "PreStop is called immediately before a container is terminated due to an API request or management event such as liveness/startup probe failure, preemption, resource contention, etc."),
            OpenAPIField("stopSignal", .string, "StopSignal defines which signal will be sent to a container when it is being stopped. If not specified, the default is defined by the container runtime in use."),
        ]),
        OpenAPIDefinition(name: "LifecycleHandler", package: core, description: "LifecycleHandler defines a specific action that should be taken in a lifecycle hook. One and only one of the fields, except TCPSocket must be specified.", fields: [
            OpenAPIField("exec", .object("ExecAction"), "Exec specifies a command to execute in the container."),
            OpenAPIField("httpGet", .object("HTTPGetAction"), "HTTPGet specifies an HTTP GET request to perform."),
            OpenAPIField("sleep", .object("SleepAction"), "Sleep represents a duration that the container should sleep."),
            OpenAPIField("tcpSocket", .object("TCPSocketAction"), "Deprecated. TCPSocket is NOT supported as a LifecycleHandler and kept for backward compatibility."),
        ]),
        OpenAPIDefinition(name: "SleepAction", package: core, description: "SleepAction describes a \"sleep\" action.", fields: [
            OpenAPIField("seconds", .int64, "Seconds is the number of seconds to sleep.", required: true),
        ]),
        OpenAPIDefinition(name: "ResourceRequirements", package: core, description: "ResourceRequirements describes the compute resource requirements.", fields: [
            OpenAPIField("claims", .array(.object("ResourceClaim")), "Claims lists the names of resources, defined in spec.resourceClaims, that are used by this container."),
            OpenAPIField("limits", .map(.string), "Limits describes the maximum amount of compute resources allowed."),
            OpenAPIField("requests", .map(.string), "Requests describes the minimum amount of compute resources required. If Requests is omitted for a container, it defaults to Limits if that is explicitly specified, otherwise to an implementation-defined value. Requests cannot exceed Limits."),
        ]),
        OpenAPIDefinition(name: "ResourceClaim", package: core, description: "ResourceClaim references one entry in PodSpec.ResourceClaims.", fields: [
            OpenAPIField("name", .string, "Name must match the name of one entry in pod.spec.resourceClaims of the Pod where this field is used. It makes that resource available inside a container.", required: true),
            OpenAPIField("request", .string, "Request is the name chosen for a request in the referenced claim. If empty, everything from the claim is made available, otherwise only the result of this request."),
        ]),
        OpenAPIDefinition(name: "SecurityContext", package: core, description: "SecurityContext holds security configuration that will be applied to a container. Some fields are present in both SecurityContext and PodSecurityContext.  When both are set, the values in SecurityContext take precedence.", fields: [
            OpenAPIField("allowPrivilegeEscalation", .boolean, "AllowPrivilegeEscalation controls whether a process can gain more privileges than its parent process."),
            OpenAPIField("appArmorProfile", .freeObject, "appArmorProfile is the AppArmor options to use by this container."),
            OpenAPIField("capabilities", .object("Capabilities"), "The capabilities to add/drop when running containers. Defaults to the default set of capabilities granted by the container runtime."),
            OpenAPIField("privileged", .boolean, "Run container in privileged mode. Processes in privileged containers are essentially equivalent to root on the host. Defaults to false."),
            OpenAPIField("procMount", .string, "procMount denotes the type of proc mount to use for the containers. The default value is Default which uses the container runtime defaults for readonly paths and masked paths."),
            OpenAPIField("readOnlyRootFilesystem", .boolean, "Whether this container has a read-only root filesystem. Default is false."),
            OpenAPIField("runAsGroup", .int64, "The GID to run the entrypoint of the container process. Uses runtime default if unset."),
            OpenAPIField("runAsNonRoot", .boolean, "Indicates that the container must run as a non-root user."),
            OpenAPIField("runAsUser", .int64, "The UID to run the entrypoint of the container process. Defaults to user specified in image metadata if unspecified."),
            OpenAPIField("seLinuxOptions", .freeObject, "The SELinux context to be applied to the container."),
            OpenAPIField("seccompProfile", .freeObject, "The seccomp options to use by this container."),
            OpenAPIField("windowsOptions", .freeObject, "The Windows specific settings applied to all containers."),
        ]),
        OpenAPIDefinition(name: "Capabilities", package: core, description: "Adds and removes POSIX capabilities from running containers.", fields: [
            OpenAPIField("add", .array(.string), "Added capabilities"),
            OpenAPIField("drop", .array(.string), "Removed capabilities"),
        ]),
        OpenAPIDefinition(name: "ContainerResizePolicy", package: core, description: "ContainerResizePolicy represents resource resize policy for the container.", fields: [
            OpenAPIField("resourceName", .string, "Name of the resource to which this resource resize policy applies. Supported values: cpu, memory.", required: true),
            OpenAPIField("restartPolicy", .string, "Restart policy to apply when specified resource is resized. If not specified, it defaults to NotRequired.", required: true),
        ]),
        OpenAPIDefinition(name: "VolumeDevice", package: core, description: "volumeDevice describes a mapping of a raw block device within a container.", fields: [
            OpenAPIField("devicePath", .string, "devicePath is the path inside of the container that the device will be mapped to.", required: true),
            OpenAPIField("name", .string, "name must match the name of a persistentVolumeClaim in the pod", required: true),
        ]),
        OpenAPIDefinition(name: "VolumeMount", package: core, description: "VolumeMount describes a mounting of a Volume within a container.", fields: [
            OpenAPIField("mountPath", .string, "Path within the container at which the volume should be mounted.  Must not contain ':'.", required: true),
            OpenAPIField("mountPropagation", .string, "mountPropagation determines how mounts are propagated from the host to container and the other way around. When not set, MountPropagationNone is used."),
            OpenAPIField("name", .string, "This must match the Name of a Volume.", required: true),
            OpenAPIField("readOnly", .boolean, "Mounted read-only if true, read-write otherwise (false or unspecified). Defaults to false."),
            OpenAPIField("recursiveReadOnly", .string, "RecursiveReadOnly specifies whether read-only mounts should be handled recursively."),
            OpenAPIField("subPath", .string, "Path within the volume from which the container's volume should be mounted. Defaults to \"\" (volume's root)."),
            OpenAPIField("subPathExpr", .string, "Expanded path within the volume from which the container's volume should be mounted. Behaves similarly to SubPath but environment variable references $(VAR_NAME) are expanded using the container's environment."),
        ]),
        OpenAPIDefinition(name: "Volume", package: core, description: "Volume represents a named volume in a pod that may be accessed by any container in the pod.", fields: [
            OpenAPIField("awsElasticBlockStore", .freeObject, "awsElasticBlockStore represents an AWS Disk resource that is attached to a kubelet's host machine and then exposed to the pod. Deprecated."),
            OpenAPIField("azureDisk", .freeObject, "azureDisk represents an Azure Data Disk mount on the host and bind mount to the pod. Deprecated."),
            OpenAPIField("azureFile", .freeObject, "azureFile represents an Azure File Service mount on the host and bind mount to the pod. Deprecated."),
            OpenAPIField("cephfs", .freeObject, "cephFS represents a Ceph FS mount on the host that shares a pod's lifetime. Deprecated."),
            OpenAPIField("cinder", .freeObject, "cinder represents a cinder volume attached and mounted on kubelets host machine. Deprecated."),
            OpenAPIField("configMap", .object("ConfigMapVolumeSource"), "configMap represents a configMap that should populate this volume"),
            OpenAPIField("csi", .freeObject, "csi (Container Storage Interface) represents ephemeral storage that is handled by certain external CSI drivers."),
            OpenAPIField("downwardAPI", .freeObject, "downwardAPI represents downward API about the pod that should populate this volume"),
            OpenAPIField("emptyDir", .object("EmptyDirVolumeSource"), "emptyDir represents a temporary directory that shares a pod's lifetime."),
            OpenAPIField("ephemeral", .freeObject, "ephemeral represents a volume that is handled by a cluster storage driver."),
            OpenAPIField("fc", .freeObject, "fc represents a Fibre Channel resource that is attached to a kubelet's host machine and then exposed to the pod."),
            OpenAPIField("flexVolume", .freeObject, "flexVolume represents a generic volume resource that is provisioned/attached using an exec based plugin. Deprecated."),
            OpenAPIField("flocker", .freeObject, "flocker represents a Flocker volume attached to a kubelet's host machine. Deprecated."),
            OpenAPIField("gcePersistentDisk", .freeObject, "gcePersistentDisk represents a GCE Disk resource that is attached to a kubelet's host machine and then exposed to the pod. Deprecated."),
            OpenAPIField("gitRepo", .freeObject, "gitRepo represents a git repository at a particular revision. Deprecated."),
            OpenAPIField("glusterfs", .freeObject, "glusterfs represents a Glusterfs mount on the host that shares a pod's lifetime. Deprecated."),
            OpenAPIField("hostPath", .object("HostPathVolumeSource"), "hostPath represents a pre-existing file or directory on the host machine that is directly exposed to the container."),
            OpenAPIField("image", .freeObject, "image represents an OCI object (a container image or artifact) pulled and mounted on the kubelet's host machine."),
            OpenAPIField("iscsi", .freeObject, "iscsi represents an ISCSI Disk resource that is attached to a kubelet's host machine and then exposed to the pod."),
            OpenAPIField("name", .string, "name of the volume. Must be a DNS_LABEL and unique within the pod.", required: true),
            OpenAPIField("nfs", .freeObject, "nfs represents an NFS mount on the host that shares a pod's lifetime"),
            OpenAPIField("persistentVolumeClaim", .freeObject, "persistentVolumeClaimVolumeSource represents a reference to a PersistentVolumeClaim in the same namespace."),
            OpenAPIField("photonPersistentDisk", .freeObject, "photonPersistentDisk represents a PhotonController persistent disk attached and mounted on kubelets host machine. Deprecated."),
            OpenAPIField("portworxVolume", .freeObject, "portworxVolume represents a portworx volume attached and mounted on kubelets host machine. Deprecated."),
            OpenAPIField("projected", .freeObject, "projected items for all in one resources secrets, configmaps, and downward API"),
            OpenAPIField("quobyte", .freeObject, "quobyte represents a Quobyte mount on the host that shares a pod's lifetime. Deprecated."),
            OpenAPIField("rbd", .freeObject, "rbd represents a Rados Block Device mount on the host that shares a pod's lifetime. Deprecated."),
            OpenAPIField("scaleIO", .freeObject, "scaleIO represents a ScaleIO persistent volume attached and mounted on Kubernetes nodes. Deprecated."),
            OpenAPIField("secret", .object("SecretVolumeSource"), "secret represents a secret that should populate this volume."),
            OpenAPIField("storageos", .freeObject, "storageOS represents a StorageOS volume attached and mounted on Kubernetes nodes. Deprecated."),
            OpenAPIField("vsphereVolume", .freeObject, "vsphereVolume represents a vSphere volume attached and mounted on kubelets host machine. Deprecated."),
        ]),
        OpenAPIDefinition(name: "ConfigMapVolumeSource", package: core, description: "Adapts a ConfigMap into a volume.", fields: [
            OpenAPIField("defaultMode", .int32, "defaultMode is optional: mode bits used to set permissions on created files by default. Defaults to 0644."),
            OpenAPIField("items", .array(.object("KeyToPath")), "items if unspecified, each key-value pair in the Data field of the referenced ConfigMap will be projected into the volume as a file whose name is the key and content is the value."),
            OpenAPIField("name", .string, "Name of the referent."),
            OpenAPIField("optional", .boolean, "optional specify whether the ConfigMap or its keys must be defined"),
        ]),
        OpenAPIDefinition(name: "SecretVolumeSource", package: core, description: "Adapts a Secret into a volume.", fields: [
            OpenAPIField("defaultMode", .int32, "defaultMode is Optional: mode bits used to set permissions on created files by default. Defaults to 0644."),
            OpenAPIField("items", .array(.object("KeyToPath")), "items If unspecified, each key-value pair in the Data field of the referenced Secret will be projected into the volume as a file whose name is the key and content is the value."),
            OpenAPIField("optional", .boolean, "optional field specify whether the Secret or its keys must be defined"),
            OpenAPIField("secretName", .string, "secretName is the name of the secret in the pod's namespace to use."),
        ]),
        OpenAPIDefinition(name: "KeyToPath", package: core, description: "Maps a string key to a path within a volume.", fields: [
            OpenAPIField("key", .string, "key is the key to project.", required: true),
            OpenAPIField("mode", .int32, "mode is Optional: mode bits used to set permissions on this file. Must be an octal value between 0000 and 0777 or a decimal value between 0 and 511."),
            OpenAPIField("path", .string, "path is the relative path of the file to map the key to. May not be an absolute path. May not contain the path element '..'. May not start with the string '..'.", required: true),
        ]),
        OpenAPIDefinition(name: "EmptyDirVolumeSource", package: core, description: "Represents an empty directory for a pod. Empty directory volumes support ownership management and SELinux relabeling.", fields: [
            OpenAPIField("medium", .string, "medium represents what type of storage medium should back this directory. The default is \"\" which means to use the node's default medium. Must be an empty string (default) or Memory."),
            OpenAPIField("sizeLimit", .string, "sizeLimit is the total amount of local storage required for this EmptyDir volume."),
        ]),
        OpenAPIDefinition(name: "HostPathVolumeSource", package: core, description: "Represents a host path mapped into a pod. Host path volumes do not support ownership management or SELinux relabeling.", fields: [
            OpenAPIField("path", .string, "path of the directory on the host. If the path is a symlink, it will follow the link to the real path.", required: true),
            OpenAPIField("type", .string, "type for HostPath Volume Defaults to \"\""),
        ]),
        OpenAPIDefinition(name: "ServiceSpec", package: core, description: "ServiceSpec describes the attributes that a user creates on a service.", fields: [
            OpenAPIField("allocateLoadBalancerNodePorts", .boolean, "allocateLoadBalancerNodePorts defines if NodePorts will be automatically allocated for services with type LoadBalancer."),
            OpenAPIField("clusterIP", .string, "clusterIP is the IP address of the service and is usually assigned randomly."),
            OpenAPIField("clusterIPs", .array(.string), "ClusterIPs is a list of IP addresses assigned to this service, and are usually assigned randomly."),
            OpenAPIField("externalIPs", .array(.string), "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
            OpenAPIField("externalName", .string, "externalName is the external reference that discovery mechanisms will return as an alias for this service (e.g. a DNS CNAME record)."),
            OpenAPIField("externalTrafficPolicy", .string, "externalTrafficPolicy describes how nodes distribute service traffic they receive on one of the Service's \"externally-facing\" addresses."),
            OpenAPIField("healthCheckNodePort", .int32, "healthCheckNodePort specifies the healthcheck nodePort for the service."),
            OpenAPIField("internalTrafficPolicy", .string, "InternalTrafficPolicy describes how nodes distribute service traffic they receive on the ClusterIP."),
            OpenAPIField("ipFamilies", .array(.string), "IPFamilies is a list of IP families (e.g. IPv4, IPv6) assigned to this service."),
            OpenAPIField("ipFamilyPolicy", .string, "IPFamilyPolicy represents the dual-stack-ness requested or required by this Service."),
            OpenAPIField("loadBalancerClass", .string, "loadBalancerClass is the class of the load balancer implementation this Service belongs to."),
            OpenAPIField("loadBalancerIP", .string, "Only applies to Service Type: LoadBalancer. Deprecated."),
            OpenAPIField("loadBalancerSourceRanges", .array(.string), "If specified and supported by the platform, traffic through the cloud-provider load-balancer will be restricted to the specified client IPs."),
            OpenAPIField("ports", .array(.object("ServicePort")), "The list of ports that are exposed by this service.", mergeKey: "port"),
            OpenAPIField("publishNotReadyAddresses", .boolean, "publishNotReadyAddresses indicates that any agent which deals with endpoints for this Service should disregard any indications of ready/not-ready."),
            OpenAPIField("selector", .map(.string), "Route service traffic to pods with label keys and values matching this selector."),
            OpenAPIField("sessionAffinity", .string, "Supports \"ClientIP\" and \"None\". Used to maintain session affinity."),
            OpenAPIField("sessionAffinityConfig", .freeObject, "sessionAffinityConfig contains the configurations of session affinity."),
            OpenAPIField("trafficDistribution", .string, "TrafficDistribution offers a way to express preferences for how traffic is distributed to Service endpoints."),
            OpenAPIField("type", .string, "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer."),
        ]),
        OpenAPIDefinition(name: "ServicePort", package: core, description: "ServicePort contains information on service's port.", fields: [
            OpenAPIField("appProtocol", .string, "The application protocol for this port."),
            OpenAPIField("name", .string, "The name of this port within the service. This must be a DNS_LABEL."),
            OpenAPIField("nodePort", .int32, "The port on each node on which this service is exposed when type is NodePort or LoadBalancer."),
            OpenAPIField("port", .int32, "The port that will be exposed by this service.", required: true),
            OpenAPIField("protocol", .string, "The IP protocol for this port. Supports \"TCP\", \"UDP\", and \"SCTP\". Default is TCP."),
            OpenAPIField("targetPort", .intOrString, "Number or name of the port to access on the pods targeted by the service."),
        ]),
        OpenAPIDefinition(name: "NamespaceSpec", package: core, description: "NamespaceSpec describes the attributes on a Namespace.", fields: [
            OpenAPIField("finalizers", .array(.string), "Finalizers is an opaque list of values that must be empty to permanently remove object from storage."),
        ]),
        OpenAPIDefinition(name: "DeploymentSpec", package: "io.k8s.api.apps.v1", description: "DeploymentSpec is the specification of the desired behavior of the Deployment.", fields: [
            OpenAPIField("minReadySeconds", .int32, "Minimum number of seconds for which a newly created pod should be ready without any of its container crashing, for it to be considered available."),
            OpenAPIField("paused", .boolean, "Indicates that the deployment is paused."),
            OpenAPIField("progressDeadlineSeconds", .int32, "The maximum time in seconds for a deployment to make progress before it is considered to be failed."),
            OpenAPIField("replicas", .int32, "Number of desired pods. This is a pointer to distinguish between explicit zero and not specified. Defaults to 1."),
            OpenAPIField("revisionHistoryLimit", .int32, "The number of old ReplicaSets to retain to allow rollback. Defaults to 10."),
            OpenAPIField("selector", .object("LabelSelector"), "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.", required: true),
            OpenAPIField("strategy", .freeObject, "The deployment strategy to use to replace existing pods with new ones.", patchStrategy: "retainKeys"),
            OpenAPIField("template", .object("PodTemplateSpec"), "Template describes the pods that will be created.", required: true),
        ]),
        OpenAPIDefinition(name: "PodTemplateSpec", package: core, description: "PodTemplateSpec describes the data a pod should have when created from a template", fields: [
            OpenAPIField("metadata", .object("ObjectMeta"), "Standard object's metadata."),
            OpenAPIField("spec", .object("PodSpec"), "Specification of the desired behavior of the pod."),
        ]),
        OpenAPIDefinition(name: "LabelSelector", package: meta, description: "A label selector is a label query over a set of resources. An empty label selector matches all objects.", fields: [
            OpenAPIField("matchExpressions", .array(.freeObject), "matchExpressions is a list of label selector requirements. The requirements are ANDed."),
            OpenAPIField("matchLabels", .map(.string), "matchLabels is a map of {key,value} pairs."),
        ]),
        OpenAPIDefinition(name: "NetworkPolicySpec", package: "io.k8s.api.networking.v1", description: "NetworkPolicySpec provides the specification of a NetworkPolicy", fields: [
            OpenAPIField("egress", .array(.object("NetworkPolicyEgressRule")), "egress is a list of egress rules to be applied to the selected pods."),
            OpenAPIField("ingress", .array(.object("NetworkPolicyIngressRule")), "ingress is a list of ingress rules to be applied to the selected pods."),
            OpenAPIField("podSelector", .object("LabelSelector"), "podSelector selects the pods to which this NetworkPolicy object applies. An empty podSelector matches all pods in this namespace."),
            OpenAPIField("policyTypes", .array(.string), "policyTypes is a list of rule types that the NetworkPolicy relates to. Valid options are [\"Ingress\"], [\"Egress\"], or [\"Ingress\", \"Egress\"]."),
        ]),
        OpenAPIDefinition(name: "NetworkPolicyIngressRule", package: "io.k8s.api.networking.v1", description: "NetworkPolicyIngressRule describes a particular set of traffic that is allowed to the pods matched by a NetworkPolicySpec's podSelector.", fields: [
            OpenAPIField("from", .array(.object("NetworkPolicyPeer")), "from is a list of sources which should be able to access the pods selected for this rule."),
            OpenAPIField("ports", .array(.object("NetworkPolicyPort")), "ports is a list of ports which should be made accessible on the pods selected for this rule."),
        ]),
        OpenAPIDefinition(name: "NetworkPolicyEgressRule", package: "io.k8s.api.networking.v1", description: "NetworkPolicyEgressRule describes a particular set of traffic that is allowed out of pods matched by a NetworkPolicySpec's podSelector.", fields: [
            OpenAPIField("ports", .array(.object("NetworkPolicyPort")), "ports is a list of destination ports for outgoing traffic."),
            OpenAPIField("to", .array(.object("NetworkPolicyPeer")), "to is a list of destinations for outgoing traffic of pods selected for this rule."),
        ]),
        OpenAPIDefinition(name: "NetworkPolicyPeer", package: "io.k8s.api.networking.v1", description: "NetworkPolicyPeer describes a peer to allow traffic to/from.", fields: [
            OpenAPIField("ipBlock", .freeObject, "ipBlock defines policy on a particular IPBlock."),
            OpenAPIField("namespaceSelector", .object("LabelSelector"), "namespaceSelector selects namespaces using cluster-scoped labels."),
            OpenAPIField("podSelector", .object("LabelSelector"), "podSelector is a label selector which selects pods."),
        ]),
        OpenAPIDefinition(name: "NetworkPolicyPort", package: "io.k8s.api.networking.v1", description: "NetworkPolicyPort describes a port to allow traffic on", fields: [
            OpenAPIField("endPort", .int32, "endPort indicates that the range of ports from port to endPort if set, inclusive, should be allowed by the policy."),
            OpenAPIField("port", .intOrString, "port represents the port on the given protocol. This can either be a numerical or named port on a pod."),
            OpenAPIField("protocol", .string, "protocol represents the protocol (TCP, UDP, or SCTP) which traffic must match. If not specified, this field defaults to TCP."),
        ]),
        OpenAPIDefinition(name: "MeshPolicySpec", package: mesh, description: "MeshPolicySpec selects meshed pods and lists the requests they admit.", fields: [
            OpenAPIField("rules", .array(.object("MeshPolicyRule")), "rules: a request matched by one of them is allowed; none: the selected pods admit nothing."),
            OpenAPIField("selector", .object("LabelSelector"), "selector (matchLabels) picks the meshed pods of the namespace the policy applies to; empty: all of them."),
        ]),
        OpenAPIDefinition(name: "MeshPolicyRule", package: mesh, description: "MeshPolicyRule matches a request from one of `from` to one of `to`.", fields: [
            OpenAPIField("from", .array(.object("MeshPolicySource")), "from: the peers; missing: any peer, plain text included."),
            OpenAPIField("to", .array(.object("MeshPolicyOperation")), "to: ports, paths and methods; missing: any."),
        ]),
        OpenAPIDefinition(name: "MeshPolicySource", package: mesh, description: "MeshPolicySource matches a peer by its mTLS identity; each list given must hold.", fields: [
            OpenAPIField("identities", .array(.string), "identities: SPIFFE identities, spiffe://cluster.local/ns/NAMESPACE/sa/SERVICEACCOUNT."),
            OpenAPIField("namespaces", .array(.string), "namespaces: the namespaces of the peers' identities."),
        ]),
        OpenAPIDefinition(name: "MeshPolicyOperation", package: mesh, description: "MeshPolicyOperation matches what a request asks for; each list given must hold.", fields: [
            OpenAPIField("methods", .array(.string), "methods: HTTP methods (GET, POST...); a connection that is not HTTP matches no operation listing them."),
            OpenAPIField("paths", .array(.string), "paths: exact paths, prefixes ending in * (/api/*), or *; HTTP only."),
            OpenAPIField("ports", .array(.int32), "ports: the application's ports."),
        ]),
        OpenAPIDefinition(name: "RouteSpec", package: mesh, description: "RouteSpec names the Service whose requests the route shapes, and its rules.", fields: [
            OpenAPIField("rules", .array(.object("RouteRule")), "rules: the first that matches a request applies; a request none matches goes to the Service itself.", required: true),
            OpenAPIField("service", .string, "service: the Service of the route's namespace whose requests (to its ClusterIP) the clients' sidecars shape.", required: true),
        ]),
        OpenAPIDefinition(name: "RouteRule", package: mesh, description: "RouteRule: which requests, where they go, and how they are timed, retried and faulted.", fields: [
            OpenAPIField("backends", .array(.object("RouteBackend")), "backends: Services of the route's namespace with weights summing to 100; missing: the route's Service."),
            OpenAPIField("fault", .object("RouteFault"), "fault: a delay and/or an abort injected for a percentage of the requests."),
            OpenAPIField("match", .object("RouteMatch"), "match: every part given must hold; missing: every request."),
            OpenAPIField("retries", .object("RouteRetries"), "retries: idempotent requests without a body are sent again, to another endpoint, when a try fails."),
            OpenAPIField("timeout", .string, "timeout: the whole request's limit, retries included (a duration: 2s, 500ms); past it the sidecar answers 504."),
        ]),
        OpenAPIDefinition(name: "RouteMatch", package: mesh, description: "RouteMatch selects requests; each part given must hold.", fields: [
            OpenAPIField("headers", .map(.string), "headers: exact values by header name (case-insensitive names)."),
            OpenAPIField("methods", .array(.string), "methods: HTTP methods (GET, POST...)."),
            OpenAPIField("pathPrefix", .string, "pathPrefix: the path begins with it, segment by segment (/api matches /api and /api/x, not /apix)."),
        ]),
        OpenAPIDefinition(name: "RouteBackend", package: mesh, description: "RouteBackend is a Service of the route's namespace and its share of the rule's requests.", fields: [
            OpenAPIField("service", .string, "service: the backend Service's name.", required: true),
            OpenAPIField("weight", .int32, "weight: percent of the rule's requests (0-100, the weights summing to 100); may be left out for a single backend."),
        ]),
        OpenAPIDefinition(name: "RouteRetries", package: mesh, description: "RouteRetries says when a failed try is sent again, to another endpoint.", fields: [
            OpenAPIField("attempts", .int32, "attempts: retries after the first try (0-10).", required: true),
            OpenAPIField("perTryTimeout", .string, "perTryTimeout: each try's limit (a duration); a try past it counts as failed (5xx, gateway-error)."),
            OpenAPIField("retryOn", .array(.string), "retryOn: 5xx, gateway-error, connect-failure, reset; missing: 5xx."),
        ]),
        OpenAPIDefinition(name: "RouteFault", package: mesh, description: "RouteFault injects a delay and/or an abort.", fields: [
            OpenAPIField("abort", .object("RouteFaultAbort"), "abort: answer a status instead of forwarding."),
            OpenAPIField("delay", .object("RouteFaultDelay"), "delay: wait before forwarding."),
        ]),
        OpenAPIDefinition(name: "RouteFaultDelay", package: mesh, description: "RouteFaultDelay waits before forwarding a percentage of the requests.", fields: [
            OpenAPIField("fixed", .string, "fixed: how long (a duration: 100ms).", required: true),
            OpenAPIField("percent", .int32, "percent: of the rule's requests (0-100); missing: 100."),
        ]),
        OpenAPIDefinition(name: "RouteFaultAbort", package: mesh, description: "RouteFaultAbort answers a status, without forwarding, for a percentage of the requests.", fields: [
            OpenAPIField("percent", .int32, "percent: of the rule's requests (0-100); missing: 100."),
            OpenAPIField("status", .int32, "status: the HTTP status answered (200-599).", required: true),
        ]),
    ]

    static let byName: [String: OpenAPIDefinition] = Dictionary(uniqueKeysWithValues: definitions.map { ($0.name, $0) })

    /// The full name a short one refers to.
    static func fullName(_ name: String) -> String { byName[name]?.fullName ?? name }

    // MARK: - OpenAPI v2

    /// A type as a v2 (or, with `v3`, a v3) schema.
    static func schema(_ type: OpenAPIType, description: String?, v3: Bool) -> [String: JSONValue] {
        var schema: [String: JSONValue]
        switch type {
        case .string: schema = ["type": "string"]
        case .integer(let format): schema = ["type": "integer", "format": .string(format)]
        case .boolean: schema = ["type": "boolean"]
        case .intOrString: schema = ["type": "string", "format": "int-or-string"]
        case .time: schema = ["type": "string", "format": "date-time"]
        case .object(let name):
            let reference = v3 ? "#/components/schemas/\(fullName(name))" : "#/definitions/\(fullName(name))"
            // v3 ignores siblings of a $ref: the description goes with an allOf, as Kubernetes writes it.
            schema = v3 ? ["allOf": [["$ref": .string(reference)]]] : ["$ref": .string(reference)]
        case .array(let element): schema = ["type": "array", "items": .object(Self.schema(element, description: nil, v3: v3))]
        case .map(let value): schema = ["type": "object", "additionalProperties": .object(Self.schema(value, description: nil, v3: v3))]
        case .freeObject: schema = ["type": "object"]
        }
        if let description { schema["description"] = .string(description) }
        return schema
    }

    static func schema(_ definition: OpenAPIDefinition, v3: Bool) -> JSONValue {
        var properties: [String: JSONValue] = [:]
        for field in definition.fields {
            var property = schema(field.type, description: field.description, v3: v3)
            if let key = field.mergeKey { property["x-kubernetes-patch-merge-key"] = .string(key) }
            if let strategy = field.patchStrategy { property["x-kubernetes-patch-strategy"] = .string(strategy) }
            properties[field.name] = .object(property)
        }
        var schema: [String: JSONValue] = ["type": "object", "description": .string(definition.description), "properties": .object(properties)]
        let required = definition.fields.filter(\.required).map { JSONValue.string($0.name) }
        if !required.isEmpty { schema["required"] = .array(required) }
        if let kind = definition.kind {
            schema["x-kubernetes-group-version-kind"] = [["group": .string(kind.group), "kind": .string(kind.kind), "version": .string(kind.version)]]
        }
        return .object(schema)
    }

    /// The object path of a served kind whose PATCH operation names it and its query parameters.
    static func objectPath(_ resource: ServedResource) -> String {
        resource.namespaced ? "\(resource.pathPrefix)/namespaces/{namespace}/\(resource.resource)/{name}"
            : "\(resource.pathPrefix)/\(resource.resource)/{name}"
    }

    /// The query parameters kubectl looks for in a PATCH operation before it uses them:
    /// kubectl 1.20 sends `--dry-run=server` only where `dryRun` is listed. `fieldValidation` is
    /// not listed, so a current kubectl validates against the schemas itself.
    static let patchParameters = ["dryRun", "fieldManager"]

    static func patchOperation(_ resource: ServedResource) -> JSONValue {
        [
            "operationId": .string("patch\(resource.kind)"),
            "parameters": .array(patchParameters.map { ["name": .string($0), "in": "query", "type": "string", "uniqueItems": true] }),
            "x-kubernetes-group-version-kind": ["group": .string(resource.group), "kind": .string(resource.kind), "version": .string(resource.version)],
        ]
    }

    /// The OpenAPI v2 document (`/openapi/v2` as JSON).
    public static let v2: JSONValue = {
        var paths: [String: JSONValue] = [:]
        for resource in ServedResources.all { paths[objectPath(resource)] = ["patch": patchOperation(resource)] }
        var definitions: [String: JSONValue] = [:]
        for definition in Self.definitions { definitions[definition.fullName] = schema(definition, v3: false) }
        return ["swagger": "2.0", "info": ["title": "Kubernetes", "version": "v1.31.0-podlab"], "paths": .object(paths), "definitions": .object(definitions)]
    }()

    // MARK: - OpenAPI v3

    /// `/openapi/v3`: each group version's document, with a hash of its content kubectl caches by.
    public static let v3Index: JSONValue = {
        var paths: [String: JSONValue] = [:]
        for groupVersion in ServedResources.groupVersions {
            let path = v3Path(groupVersion)
            paths[path] = ["serverRelativeURL": .string("/openapi/v3/\(path)?hash=\(v3Hash(groupVersion))")]
        }
        return ["paths": .object(paths)]
    }()

    /// `api/v1`, `apis/apps/v1`.
    public static func v3Path(_ groupVersion: String) -> String {
        groupVersion.contains("/") ? "apis/\(groupVersion)" : "api/\(groupVersion)"
    }

    /// The v3 document of one group version: its kinds' PATCH operations, and every schema.
    public static func v3(_ groupVersion: String) -> JSONValue {
        var paths: [String: JSONValue] = [:]
        for resource in ServedResources.all where resource.groupVersion == groupVersion {
            guard case .object(var operation) = patchOperation(resource) else { continue }
            operation["parameters"] = .array(patchParameters.map { ["name": .string($0), "in": "query", "schema": ["type": "string"]] })
            paths[objectPath(resource)] = ["patch": .object(operation)]
        }
        var schemas: [String: JSONValue] = [:]
        for definition in definitions { schemas[definition.fullName] = schema(definition, v3: true) }
        return ["openapi": "3.0.0", "info": ["title": "Kubernetes", "version": "v1.31.0-podlab"], "paths": .object(paths),
                "components": ["schemas": .object(schemas)]]
    }

    /// A hex digest of a group version's document (FNV-1a, 64 bits): it changes when the document does.
    public static func v3Hash(_ groupVersion: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in v3(groupVersion).jsonText(indent: 0).utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16, uppercase: true)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    // MARK: - gnostic protobuf

    /// The v2 document in gnostic's `openapi_v2.Document` protobuf, which kubectl asks for.
    public static let v2Protobuf: [UInt8] = {
        var document = ProtobufWriter()
        document.field(1, "2.0")
        var info = ProtobufWriter()
        info.field(1, "Kubernetes")
        info.field(2, "v1.31.0-podlab")
        document.field(2, info.bytes)
        var paths = ProtobufWriter()
        for (path, item) in (v2["paths"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard let patch = item["patch"] else { continue }
            var operation = ProtobufWriter()
            operation.field(5, patch["operationId"]?.stringValue ?? "")
            for parameter in patch["parameters"]?.arrayValue ?? [] {
                // ParametersItem.parameter (1) → Parameter.non_body_parameter (2) → query_parameter_sub_schema (3).
                var query = ProtobufWriter()
                query.field(2, "query")
                query.field(4, parameter["name"]?.stringValue ?? "")
                query.field(6, "string")
                query.varintField(20, 1)
                var nonBody = ProtobufWriter()
                nonBody.field(3, query.bytes)
                var wrapped = ProtobufWriter()
                wrapped.field(2, nonBody.bytes)
                var item = ProtobufWriter()
                item.field(1, wrapped.bytes)
                operation.field(8, item.bytes)
            }
            if let gvk = patch["x-kubernetes-group-version-kind"] { operation.field(13, namedAny("x-kubernetes-group-version-kind", gvk)) }
            var pathItem = ProtobufWriter()
            pathItem.field(8, operation.bytes)
            var named = ProtobufWriter()
            named.field(1, path)
            named.field(2, pathItem.bytes)
            paths.field(2, named.bytes)
        }
        document.field(8, paths.bytes)
        var definitions = ProtobufWriter()
        for (name, schema) in (v2["definitions"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            var named = ProtobufWriter()
            named.field(1, name)
            named.field(2, protobufSchema(schema))
            definitions.field(1, named.bytes)
        }
        document.field(9, definitions.bytes)
        return document.bytes
    }()

    /// A v2 schema as gnostic's `Schema` message.
    static func protobufSchema(_ schema: JSONValue) -> [UInt8] {
        var message = ProtobufWriter()
        if let reference = schema["$ref"]?.stringValue { message.field(1, reference) }
        if let format = schema["format"]?.stringValue { message.field(2, format) }
        if let description = schema["description"]?.stringValue { message.field(4, description) }
        for name in schema["required"]?.arrayValue ?? [] { message.field(19, name.stringValue ?? "") }
        if let additional = schema["additionalProperties"] {
            var item = ProtobufWriter()
            item.field(1, protobufSchema(additional))
            message.field(21, item.bytes)
        }
        if let type = schema["type"]?.stringValue {
            var item = ProtobufWriter()
            item.field(1, type)
            message.field(22, item.bytes)
        }
        if let items = schema["items"] {
            var item = ProtobufWriter()
            item.field(1, protobufSchema(items))
            message.field(23, item.bytes)
        }
        if let properties = schema["properties"]?.objectValue {
            var list = ProtobufWriter()
            for (name, property) in properties.sorted(by: { $0.key < $1.key }) {
                var named = ProtobufWriter()
                named.field(1, name)
                named.field(2, protobufSchema(property))
                list.field(1, named.bytes)
            }
            message.field(25, list.bytes)
        }
        for (name, value) in (schema.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) where name.hasPrefix("x-") {
            message.field(31, namedAny(name, value))
        }
        return message.bytes
    }

    /// A vendor extension: `NamedAny` with its value as YAML text (`Any.yaml`, field 2).
    static func namedAny(_ name: String, _ value: JSONValue) -> [UInt8] {
        var any = ProtobufWriter()
        any.field(2, value.yamlText())
        var named = ProtobufWriter()
        named.field(1, name)
        named.field(2, any.bytes)
        return named.bytes
    }
}

/// Protobuf's wire format for what the OpenAPI documents need: length-delimited fields
/// (strings, embedded messages) and varints.
public struct ProtobufWriter: Sendable {
    public var bytes: [UInt8] = []

    public init() {}

    public mutating func field(_ number: Int, _ payload: [UInt8]) {
        varint(UInt64(number) << 3 | 2)
        varint(UInt64(payload.count))
        bytes += payload
    }

    public mutating func field(_ number: Int, _ text: String) { field(number, Array(text.utf8)) }

    public mutating func varintField(_ number: Int, _ value: UInt64) {
        varint(UInt64(number) << 3)
        varint(value)
    }

    mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(rest & 0x7f) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }
}
