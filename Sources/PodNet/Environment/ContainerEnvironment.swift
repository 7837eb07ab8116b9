/// The environment and argv the kubelet gives a container (`makeEnvironmentVariables`,
/// `ExpandContainerCommandAndArgs`): first every key of each `envFrom` ConfigMap or Secret
/// (behind its prefix; keys that are no valid variable name skipped and reported), then each
/// `env` entry in order, a literal `value` expanded against the variables defined before it, a
/// `valueFrom` resolved from the pod (the downward API) or from a ConfigMap or Secret key; then
/// `command` and `args` expanded against the result.
///
/// Only the container's own `env` and `envFrom` take part, as in Kubernetes (plus service
/// variables, which podlab does not have yet): variables the runtime or the image sets
/// (`HOSTNAME`, `PATH`) cannot be referred to with `$(...)`.
public struct ContainerEnvironment: Hashable, Sendable {
    /// The variables, in the order they were first defined; a later definition of the same
    /// name replaces the value in place.
    public private(set) var variables: [(name: String, value: String)]
    /// `command` after expansion (empty: the image's entrypoint).
    public var command: [String]
    /// `args` after expansion (empty: the image's arguments).
    public var args: [String]
    /// The `envFrom` keys left out as invalid names, which the kubelet reports in an
    /// `InvalidEnvironmentVariableNames` event.
    public var skippedKeys: [SkippedEnvironmentKeys] = []

    public static func == (lhs: ContainerEnvironment, rhs: ContainerEnvironment) -> Bool {
        lhs.variables.elementsEqual(rhs.variables) { $0 == $1 } && lhs.command == rhs.command && lhs.args == rhs.args
    }

    public func hash(into hasher: inout Hasher) {
        for variable in variables { hasher.combine(variable.name); hasher.combine(variable.value) }
        hasher.combine(command)
        hasher.combine(args)
    }

    /// The variables as a dictionary.
    public var dictionary: [String: String] {
        Dictionary(variables.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    /// Resolves `container`'s environment in `pod`, which runs on a node offering
    /// `nodeAllocatable` (what `limits.*` resolve to where the container sets no limit).
    /// - Throws: `DownwardAPIError` for a source that cannot be resolved; the kubelet then
    ///   leaves the container waiting with `CreateContainerConfigError` and this message.
    /// `objects` are the ConfigMaps and Secrets of the pod's namespace.
    public init(container: Container, pod: Pod, nodeAllocatable: ResourceList, objects: ConfigObjects = ConfigObjects()) throws(DownwardAPIError) {
        var values: [String: String] = [:]
        var order: [String] = []
        let namespace = pod.metadata.namespace.isEmpty ? "default" : pod.metadata.namespace
        var skipped: [SkippedEnvironmentKeys] = []
        for source in container.envFrom {
            let entries: [String: String]
            let kind: String
            let name: String
            if let reference = source.configMapRef {
                guard let map = objects.configMaps[reference.name] else {
                    if reference.optional == true { continue }
                    throw .objectNotFound(kind: "configmap", name: reference.name)
                }
                entries = map.data
                kind = "configMap"
                name = reference.name
            } else if let reference = source.secretRef {
                guard let secret = objects.secrets[reference.name] else {
                    if reference.optional == true { continue }
                    throw .objectNotFound(kind: "secret", name: reference.name)
                }
                entries = secret.data.mapValues { String(decoding: $0, as: UTF8.self) }
                kind = "secret"
                name = reference.name
            } else {
                continue
            }
            var invalid: [String] = []
            for key in entries.keys.sorted() {
                let variable = source.prefix + key
                guard KubernetesNames.envVarNameErrors(variable).isEmpty else {
                    invalid.append(variable)
                    continue
                }
                if values.updateValue(entries[key]!, forKey: variable) == nil { order.append(variable) }
            }
            if !invalid.isEmpty { skipped.append(SkippedEnvironmentKeys(keys: invalid, kind: kind, namespace: namespace, name: name)) }
        }
        for variable in container.env {
            let value: String
            if !variable.value.isEmpty {
                value = VariableExpansion.expand(variable.value, variables: values)
            } else if let source = variable.valueFrom {
                if let field = source.fieldRef {
                    value = try DownwardAPI.value(of: field, in: pod)
                } else if let resource = source.resourceFieldRef {
                    value = try DownwardAPI.value(of: resource, container: container, pod: pod, nodeAllocatable: nodeAllocatable)
                } else if let selector = source.configMapKeyRef {
                    guard let map = objects.configMaps[selector.name] else {
                        if selector.optional == true { continue }
                        throw .objectNotFound(kind: "configmap", name: selector.name)
                    }
                    guard let found = map.data[selector.key] else {
                        if selector.optional == true { continue }
                        throw .keyNotFound(key: selector.key, kind: ConfigMap.kind, namespace: namespace, name: selector.name)
                    }
                    value = found
                } else if let selector = source.secretKeyRef {
                    guard let secret = objects.secrets[selector.name] else {
                        if selector.optional == true { continue }
                        throw .objectNotFound(kind: "secret", name: selector.name)
                    }
                    guard let found = secret.data[selector.key] else {
                        if selector.optional == true { continue }
                        throw .keyNotFound(key: selector.key, kind: Secret.kind, namespace: namespace, name: selector.name)
                    }
                    value = String(decoding: found, as: UTF8.self)
                } else {
                    throw .unsupportedSource(variable: variable.name)
                }
            } else {
                value = ""
            }
            if values.updateValue(value, forKey: variable.name) == nil { order.append(variable.name) }
        }
        variables = order.map { ($0, values[$0]!) }
        skippedKeys = skipped
        command = container.command.map { VariableExpansion.expand($0, variables: values) }
        args = container.args.map { VariableExpansion.expand($0, variables: values) }
    }
}

/// The ConfigMaps and Secrets of one namespace, by name: what a pod's volumes and
/// environment may read.
public struct ConfigObjects: Sendable {
    public var configMaps: [String: ConfigMap]
    public var secrets: [String: Secret]

    public init(configMaps: [String: ConfigMap] = [:], secrets: [String: Secret] = [:]) {
        self.configMaps = configMaps
        self.secrets = secrets
    }
}

/// `envFrom` keys that are no valid variable names, skipped (`InvalidEnvironmentVariableNames`).
public struct SkippedEnvironmentKeys: Hashable, Sendable {
    /// Sorted, with the prefix.
    public var keys: [String]
    /// `configMap` or `secret`.
    public var kind: String
    public var namespace: String
    public var name: String

    /// The kubelet's event message.
    public var message: String {
        "Keys [\(keys.joined(separator: ", "))] from the EnvFrom \(kind) \(namespace)/\(name) were skipped since they are considered invalid environment variable names."
    }
}

/// Why a variable's source (the downward API, a ConfigMap or Secret) could not be resolved,
/// in the kubelet's words.
public enum DownwardAPIError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A `fieldPath` Kubernetes does not offer (validation refuses these on create), with
    /// Kubernetes' message.
    case invalidFieldPath(String)
    case unsupportedResource(String)
    case containerNotFound(String)
    /// A source podlab does not resolve (`fileKeyRef`; validation refuses it).
    case unsupportedSource(variable: String)
    /// `configmap "settings" not found` (`kind` in lower case, as the kubelet's cache names it).
    case objectNotFound(kind: String, name: String)
    /// `couldn't find key a in ConfigMap default/settings`.
    case keyNotFound(key: String, kind: String, namespace: String, name: String)

    public var description: String {
        switch self {
        case let .invalidFieldPath(message): message
        case let .unsupportedResource(resource): "unsupported container resource : \(resource)"
        case let .containerNotFound(name): "container \(name) not found"
        case let .unsupportedSource(variable): "the source of environment variable \(variable) is not supported by podlab yet"
        case let .objectNotFound(kind, name): "\(kind) \"\(name)\" not found"
        case let .keyNotFound(key, kind, namespace, name): "couldn't find key \(key) in \(kind) \(namespace)/\(name)"
        }
    }
}

/// Values of the pod's fields and of containers' resources, as the kubelet resolves them for
/// `valueFrom.fieldRef` and `valueFrom.resourceFieldRef`.
public enum DownwardAPI {
    /// The field paths an environment variable may read, in the order the API server lists
    /// them in its "supported values" message.
    public static let environmentFieldPaths = [
        "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName",
        "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
    ]

    /// The field paths the downward API knows at all (`ConvertDownwardAPIFieldLabel`); those
    /// not in `environmentFieldPaths` are for volumes only.
    static let knownFieldPaths: Set<String> = Set(environmentFieldPaths).union([
        "metadata.annotations", "metadata.labels", "spec.restartPolicy", "spec.schedulerName", "status.phase",
    ])

    /// The resources `resourceFieldRef` may read (`hugepages-*` as well, by prefix).
    public static let containerResources = [
        "limits.cpu", "limits.ephemeral-storage", "limits.memory",
        "requests.cpu", "requests.ephemeral-storage", "requests.memory",
    ]

    /// Kubernetes' `SplitMaybeSubscriptedPath`: `metadata.labels['app']` → (`metadata.labels`, `app`).
    public static func splitSubscript(_ path: String) -> (path: String, subscript: String)? {
        guard path.hasSuffix("']") else { return nil }
        let trimmed = path.dropLast(2)
        guard let open = trimmed.range(of: "['") else { return nil }
        let base = String(trimmed[..<open.lowerBound])
        guard !base.isEmpty else { return nil }
        return (base, String(trimmed[open.upperBound...]))
    }

    /// Kubernetes' `ConvertDownwardAPIFieldLabel`: the path in its internal form (`spec.host`
    /// is the old name of `spec.nodeName`), or the reason it is not a downward API path.
    public static func convertFieldPath(_ path: String, apiVersion: String) -> Result<String, DownwardAPIError> {
        guard apiVersion == "v1" else { return .failure(.invalidFieldPath("unsupported pod version: \(apiVersion)")) }
        if let (base, _) = splitSubscript(path) {
            guard base == "metadata.annotations" || base == "metadata.labels" else {
                return .failure(.invalidFieldPath("field label does not support subscript: \(path)"))
            }
            return .success(path)
        }
        if path == "spec.host" { return .success("spec.nodeName") }
        guard knownFieldPaths.contains(path) else { return .failure(.invalidFieldPath("field label not supported: \(path)")) }
        return .success(path)
    }

    /// The value of a pod field (`podFieldSelectorRuntimeValue`).
    public static func value(of selector: ObjectFieldSelector, in pod: Pod) throws(DownwardAPIError) -> String {
        let path: String
        switch convertFieldPath(selector.fieldPath, apiVersion: selector.apiVersion.isEmpty ? "v1" : selector.apiVersion) {
        case let .success(converted): path = converted
        case let .failure(error): throw error
        }
        switch path {
        case "spec.nodeName": return pod.spec.nodeName
        // The ServiceAccount admission sets `default` when the pod names none; podlab has no
        // other service account (validation refuses other names).
        case "spec.serviceAccountName": return pod.spec.preservedFields["serviceAccountName"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        case "status.hostIP": return pod.status.hostIP
        case "status.hostIPs": return pod.status.hostIPs.isEmpty ? pod.status.hostIP : pod.status.hostIPs.map(\.ip).joined(separator: ",")
        case "status.podIP": return pod.status.podIPs.first?.ip ?? pod.status.podIP
        case "status.podIPs": return pod.status.podIPs.map(\.ip).joined(separator: ",")
        default: return try metadataValue(path, of: pod.metadata)
        }
    }

    /// The metadata fields (`ExtractFieldPathAsString`), which kubectl resolves too.
    public static func metadataValue(_ path: String, of metadata: ObjectMeta) throws(DownwardAPIError) -> String {
        if let (base, key) = splitSubscript(path) {
            switch base {
            case "metadata.annotations": return metadata.annotations[key] ?? ""
            case "metadata.labels": return metadata.labels[key] ?? ""
            default: throw .invalidFieldPath("fieldPath \"\(path)\" does not support subscript")
            }
        }
        switch path {
        case "metadata.annotations": return formatMap(metadata.annotations)
        case "metadata.labels": return formatMap(metadata.labels)
        case "metadata.name": return metadata.name
        case "metadata.namespace": return metadata.namespace
        case "metadata.uid": return metadata.uid
        default: throw .invalidFieldPath("unsupported fieldPath: \(path)")
        }
    }

    /// `key="value"` lines, sorted by key (Kubernetes' `FormatMap`).
    static func formatMap(_ map: [String: String]) -> String {
        map.keys.sorted().map { "\($0)=\(FieldError.goQuoted(map[$0]!))" }.joined(separator: "\n")
    }

    /// The value of a container resource (`containerResourceRuntimeValue`): from the container
    /// `selector.containerName` names (or `container`), with every limit the container does not
    /// set taken from the node's allocatable resources, as the kubelet does.
    public static func value(of selector: ResourceFieldSelector, container: Container, pod: Pod,
                             nodeAllocatable: ResourceList) throws(DownwardAPIError) -> String {
        var target = container
        if !selector.containerName.isEmpty {
            guard let named = (pod.spec.containers + pod.spec.initContainers).first(where: { $0.name == selector.containerName }) else {
                throw .containerNotFound(selector.containerName)
            }
            target = named
        }
        var (requests, limits) = target.resourceRequirements
        for name in ["cpu", "memory", "ephemeral-storage"] where limits[name]?.isZero ?? true {
            limits[name] = nodeAllocatable[name]
        }
        return try resourceValue(selector, requests: requests, limits: limits)
    }

    /// `ExtractContainerResourceValue`: the resource scaled by the divisor and rounded up
    /// (`1m` → millicores; memory in bytes for `1`). A resource that is not set is 0.
    public static func resourceValue(_ selector: ResourceFieldSelector, requests: ResourceList, limits: ResourceList) throws(DownwardAPIError) -> String {
        let divisor = selector.divisor.isZero ? Quantity(1) : selector.divisor
        let parts = selector.resource.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0] == "limits" || parts[0] == "requests" else { throw .unsupportedResource(selector.resource) }
        let list = parts[0] == "limits" ? limits : requests
        let name = parts[1]
        let amount = list[name] ?? .zero
        switch name {
        case "cpu":
            return String(Quantity.divideRoundingUp(amount.milliValue, max(divisor.milliValue, 1)))
        case "memory", "ephemeral-storage":
            return String(Quantity.divideRoundingUp(amount.value, max(divisor.value, 1)))
        case _ where name.hasPrefix("hugepages-"):
            return String(Quantity.divideRoundingUp(amount.value, max(divisor.value, 1)))
        default:
            throw .unsupportedResource(selector.resource)
        }
    }
}
