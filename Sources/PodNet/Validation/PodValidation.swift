extension Pod {
    /// Checks the pod as the API server does on create, collecting every error with Kubernetes'
    /// messages (see `FieldError`). Two containers declaring the same port is not an error but a
    /// warning, as in Kubernetes: the second container will fail at run time with EADDRINUSE,
    /// which is exactly what the lab demonstrates.
    ///
    /// After Kubernetes' own rules come podlab's: a field podlab does not act on and that would
    /// change what the pod does is refused (see `PodSupport`), so nothing is accepted and then
    /// silently ignored.
    public func validate() -> ValidationResult {
        validate(creating: true)
    }

    func validate(creating: Bool) -> ValidationResult {
        var errors = ObjectMetaValidation.validate(metadata, nameErrors: KubernetesNames.dns1123SubdomainErrors)
        errors += PodSpecValidation.validate(spec, path: "spec")
        errors += PodSupport.refusals(self, creating: creating)
        return ValidationResult(errors: errors, warnings: PodSpecValidation.warnings(for: spec, path: "spec"))
    }

    /// The pod's warnings if it is valid; otherwise throws an error listing every field error.
    @discardableResult
    public func validated() throws(InvalidObjectError) -> [String] {
        let result = validate()
        guard result.isValid else { throw InvalidObjectError(kind: Pod.kind, name: metadata.name, errors: result.errors) }
        return result.warnings
    }
}

/// The rules of `ValidatePodSpec` that apply to what podlab models.
enum PodSpecValidation {
    static func validate(_ spec: PodSpec, path: FieldPath) -> [FieldError] {
        var names: Set<String> = []
        let (volumes, volumeErrors) = VolumeValidation.validateVolumes(spec.volumes, path: path.child("volumes"))
        var errors = volumeErrors
        if spec.containers.isEmpty {
            errors.append(.required(path.child("containers")))
        }
        errors += validateContainers(spec.containers, path: path.child("containers"), names: &names, volumes: volumes)
        // Host ports are checked across the app containers, which run together; each init
        // container on its own, since they run one at a time.
        errors += validateUniqueHostPorts(spec.containers, path: path.child("containers"))
        errors += validateContainers(spec.initContainers, path: path.child("initContainers"), names: &names, volumes: volumes)
        if let policy = spec.restartPolicy, !RestartPolicy.supported.contains(policy) {
            errors.append(.notSupported(path.child("restartPolicy"), policy.rawValue, supported: RestartPolicy.supported.map(\.rawValue)))
        }
        if let policy = spec.dnsPolicy, !DNSPolicy.supported.contains(policy) {
            errors.append(.notSupported(path.child("dnsPolicy"), policy.rawValue, supported: DNSPolicy.supported.map(\.rawValue)))
        } else {
            errors += PodDNS.validate(spec, path: path)
        }
        if !spec.nodeName.isEmpty {
            errors += KubernetesNames.dns1123SubdomainErrors(spec.nodeName).map { .invalid(path.child("nodeName"), .string(spec.nodeName), $0) }
        }
        if let deadline = spec.activeDeadlineSeconds, deadline < 1 || deadline > Int64(Int32.max) {
            errors.append(.invalid(path.child("activeDeadlineSeconds"), .integer(deadline), "must be between 1 and \(Int32.max), inclusive"))
        }
        if !spec.hostname.isEmpty {
            errors += KubernetesNames.dns1123LabelErrors(spec.hostname).map { .invalid(path.child("hostname"), .string(spec.hostname), $0) }
        }
        if let subdomain = spec.preservedFields["subdomain"]?.stringValue, !subdomain.isEmpty {
            errors += KubernetesNames.dns1123LabelErrors(subdomain).map { .invalid(path.child("subdomain"), .string(subdomain), $0) }
        }
        if spec.hostNetwork {
            errors += validateHostNetworkPorts(spec.containers, path: path.child("containers"))
            errors += validateHostNetworkPorts(spec.initContainers, path: path.child("initContainers"))
        }
        errors += validateHostAliases(spec.hostAliases, path: path.child("hostAliases"))
        return errors
    }

    /// `validateHostNetwork`: in the node's network a container listens on the node's port, so a
    /// `hostPort` other than the `containerPort` could not be honoured.
    static func validateHostNetworkPorts(_ containers: [Container], path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        for (containerIndex, container) in containers.enumerated() {
            for (portIndex, port) in container.ports.enumerated() where port.hostPort != port.containerPort {
                errors.append(.invalid(path.index(containerIndex).child("ports").index(portIndex).child("containerPort"),
                                       .integer(Int64(port.containerPort)), "must match `hostPort` when `hostNetwork` is true"))
            }
        }
        return errors
    }

    /// `ValidateHostAliases`: each `ip` an IP address, each hostname a DNS-1123 subdomain.
    static func validateHostAliases(_ aliases: [HostAlias], path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        for (index, alias) in aliases.enumerated() {
            let aliasPath = path.index(index)
            if IPAddress(alias.ip) == nil {
                errors.append(.invalid(aliasPath.child("ip"), .string(alias.ip), "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
            }
            for (nameIndex, hostname) in alias.hostnames.enumerated() {
                errors += KubernetesNames.dns1123SubdomainErrors(hostname).map {
                    .invalid(aliasPath.child("hostnames").index(nameIndex), .string(hostname), $0)
                }
            }
        }
        return errors
    }

    /// Names (unique across containers and init containers), image, ports, env, volume mounts
    /// (of the pod's valid `volumes`).
    static func validateContainers(_ containers: [Container], path: FieldPath, names: inout Set<String>, volumes: Set<String>) -> [FieldError] {
        var errors: [FieldError] = []
        for (index, container) in containers.enumerated() {
            let containerPath = path.index(index)
            if container.name.isEmpty {
                errors.append(.required(containerPath.child("name")))
            } else {
                let nameErrors = KubernetesNames.dns1123LabelErrors(container.name)
                errors += nameErrors.map { .invalid(containerPath.child("name"), .string(container.name), $0) }
                if nameErrors.isEmpty, !names.insert(container.name).inserted {
                    errors.append(.duplicate(containerPath.child("name"), .string(container.name)))
                }
            }
            if container.image.isEmpty {
                errors.append(.required(containerPath.child("image")))
            } else if container.image.trimmingWhitespace() != container.image {
                errors.append(.invalid(containerPath.child("image"), .string(container.image), "must not have leading or trailing whitespace"))
            }
            errors += validatePorts(container.ports, path: containerPath.child("ports"))
            errors += validateEnv(container.env, path: containerPath.child("env"))
            errors += validateEnvFrom(container.envFrom, path: containerPath.child("envFrom"))
            errors += VolumeValidation.validateMounts(container.volumeMounts, volumes: volumes, path: containerPath.child("volumeMounts"))
            errors += validateResources(container.preservedFields["resources"], path: containerPath.child("resources"))
            errors += validateEnumerations(container, path: containerPath)
            if path.components.last == .field("initContainers") {
                errors += validateInitContainer(container, path: containerPath, listPath: path)
                // A regular init container's probes are refused as a whole (above).
                if container.isSidecar { errors += ProbeValidation.validate(container, path: containerPath) }
            } else {
                errors += ProbeValidation.validate(container, path: containerPath)
                if let policy = container.preservedFields["restartPolicy"], !policy.isEmpty {
                    errors.append(.forbidden(containerPath.child("restartPolicy"), "may not be set for non-init containers"))
                }
            }
        }
        return errors
    }

    /// The rules of `validateInitContainers` beyond the common ones: `restartPolicy` may only
    /// be `Always` (a sidecar); host ports must not repeat within the container; lifecycle hooks
    /// and probes are for sidecars only.
    static func validateInitContainer(_ container: Container, path: FieldPath, listPath: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        if let policy = container.restartPolicy, policy != Container.sidecarRestartPolicy {
            errors.append(.notSupported(path.child("restartPolicy"), policy, supported: [Container.sidecarRestartPolicy]))
        }
        // Kubernetes checks each init container as a list of its own, so the path names it as
        // the list's first element whatever its index (`checkHostPortConflicts([]{ctr}, fldPath)`).
        errors += validateUniqueHostPorts([container], path: listPath)
        if !container.isSidecar {
            let fields = container.preservedFields
            if let lifecycle = fields["lifecycle"], lifecycle != .null {
                errors.append(.forbidden(path.child("lifecycle"), "may not be set for init containers without restartPolicy=Always"))
            }
            for type in [ContainerProbeType.liveness, .readiness, .startup] where container.probe(type) != nil {
                errors.append(.forbidden(path.child(type.field), "may not be set for init containers without restartPolicy=Always"))
            }
        }
        return errors
    }

    /// `imagePullPolicy` and `terminationMessagePolicy`, when set, hold one of their values.
    static func validateEnumerations(_ container: Container, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        let rules: [(field: String, supported: [String])] = [
            ("imagePullPolicy", ["Always", "IfNotPresent", "Never"]),
            ("terminationMessagePolicy", ["File", "FallbackToLogsOnError"]),
        ]
        for rule in rules {
            if let value = container.preservedFields[rule.field]?.stringValue, !value.isEmpty, !rule.supported.contains(value) {
                errors.append(.notSupported(path.child(rule.field), value, supported: rule.supported))
            }
        }
        return errors
    }

    static func validatePorts(_ ports: [ContainerPort], path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        var names: Set<String> = []
        for (index, port) in ports.enumerated() {
            let portPath = path.index(index)
            if !port.name.isEmpty {
                let nameErrors = KubernetesNames.portNameErrors(port.name)
                if !nameErrors.isEmpty {
                    errors += nameErrors.map { .invalid(portPath.child("name"), .string(port.name), $0) }
                } else if !names.insert(port.name).inserted {
                    errors.append(.duplicate(portPath.child("name"), .string(port.name)))
                }
            }
            if port.containerPort == 0 {
                errors.append(.required(portPath.child("containerPort")))
            } else if !(1...65535).contains(port.containerPort) {
                errors.append(.invalid(portPath.child("containerPort"), .integer(Int64(port.containerPort)), "must be between 1 and 65535, inclusive"))
            }
            if port.hostPort != 0, !(1...65535).contains(port.hostPort) {
                errors.append(.invalid(portPath.child("hostPort"), .integer(Int64(port.hostPort)), "must be between 1 and 65535, inclusive"))
            }
            if let portProtocol = port.protocol, !PortProtocol.supported.contains(portProtocol) {
                errors.append(.notSupported(portPath.child("protocol"), portProtocol.rawValue, supported: PortProtocol.supported.map(\.rawValue)))
            }
        }
        return errors
    }

    static func validateEnv(_ env: [EnvVar], path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        for (index, variable) in env.enumerated() {
            let namePath = path.index(index).child("name")
            if variable.name.isEmpty {
                errors.append(.required(namePath))
            } else {
                errors += KubernetesNames.envVarNameErrors(variable.name).map { .invalid(namePath, .string(variable.name), $0) }
            }
            if let source = variable.valueFrom {
                errors += validateEnvSource(source, value: variable.value, path: path.index(index).child("valueFrom"))
            }
        }
        return errors
    }

    /// `validateEnvVarValueFrom`: exactly one source, and no `value` beside it.
    static func validateEnvSource(_ source: EnvVarSource, value: String, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        var sources = 0
        if let field = source.fieldRef {
            sources += 1
            errors += validateFieldSelector(field, path: path.child("fieldRef"))
        }
        if let resource = source.resourceFieldRef {
            sources += 1
            errors += validateResourceSelector(resource, path: path.child("resourceFieldRef"))
        }
        for (selector, field) in [(source.configMapKeyRef, "configMapKeyRef"), (source.secretKeyRef, "secretKeyRef")] {
            guard let selector else { continue }
            sources += 1
            errors += validateKeySelector(selector, path: path.child(field))
        }
        sources += source.preservedFields.values.filter { $0 != .null }.count
        if sources == 0 {
            errors.append(.invalid(path, .string(""), "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
        } else if !value.isEmpty {
            errors.append(.invalid(path, .string(""), "may not be specified when `value` is not empty"))
        } else if sources > 1 {
            errors.append(.invalid(path, .string(""), "may not have more than one field specified at a time"))
        }
        return errors
    }

    /// `validateConfigMapKeySelector`, `validateSecretKeySelector`.
    static func validateKeySelector(_ selector: KeySelector, path: FieldPath) -> [FieldError] {
        var errors = KubernetesNames.dns1123SubdomainErrors(selector.name).map { FieldError.invalid(path.child("name"), .string(selector.name), $0) }
        if selector.key.isEmpty {
            errors.append(.required(path.child("key")))
        } else {
            errors += ConfigValidation.keyErrors(selector.key).map { .invalid(path.child("key"), .string(selector.key), $0) }
        }
        return errors
    }

    /// `validateEnvFrom`: a valid prefix, exactly one named source.
    static func validateEnvFrom(_ sources: [EnvFromSource], path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        for (index, source) in sources.enumerated() {
            let itemPath = path.index(index)
            if !source.prefix.isEmpty {
                errors += KubernetesNames.envVarNameErrors(source.prefix).map { .invalid(itemPath.child("prefix"), .string(source.prefix), $0) }
            }
            let references = [(source.configMapRef, "configMapRef"), (source.secretRef, "secretRef")].compactMap { reference, field in
                reference.map { ($0, field) }
            }
            for (reference, field) in references {
                if reference.name.isEmpty {
                    errors.append(.required(itemPath.child(field).child("name")))
                } else {
                    errors += KubernetesNames.dns1123SubdomainErrors(reference.name).map { .invalid(itemPath.child(field).child("name"), .string(reference.name), $0) }
                }
            }
            if references.isEmpty {
                errors.append(.invalid(path, .string(""), "must specify one of: `configMapRef` or `secretRef`"))
            } else if references.count > 1 {
                errors.append(.forbidden(itemPath, "may not have more than one field specified at a time"))
            }
        }
        return errors
    }

    /// `validateObjectFieldSelector` with the paths an environment variable may read.
    static func validateFieldSelector(_ selector: ObjectFieldSelector, path: FieldPath,
                                      supported: [String] = DownwardAPI.environmentFieldPaths) -> [FieldError] {
        guard !selector.apiVersion.isEmpty else { return [.required(path.child("apiVersion"))] }
        guard !selector.fieldPath.isEmpty else { return [.required(path.child("fieldPath"))] }
        let converted: String
        switch DownwardAPI.convertFieldPath(selector.fieldPath, apiVersion: selector.apiVersion) {
        case let .success(internalPath): converted = internalPath
        case let .failure(error):
            return [.invalid(path.child("fieldPath"), .string(selector.fieldPath), "error converting fieldPath: \(error)")]
        }
        if let (base, key) = DownwardAPI.splitSubscript(converted) {
            switch base {
            case "metadata.annotations": return KubernetesNames.qualifiedNameErrors(key.lowercased()).map { .invalid(path, .string(key.lowercased()), $0) }
            case "metadata.labels": return KubernetesNames.qualifiedNameErrors(key).map { .invalid(path, .string(key), $0) }
            default: return [.invalid(path, .string(base), "does not support subscript")]
            }
        }
        guard supported.contains(converted) else {
            return [.notSupported(path.child("fieldPath"), converted, supported: supported)]
        }
        return []
    }

    static let cpuDivisors: Set<String> = ["1m", "1"]
    static let byteDivisors: Set<String> = ["1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"]
    static let byteDivisorList = "1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei"

    /// `validateContainerResourceFieldSelector` and `validateContainerResourceDivisor`. The
    /// divisor error shows the resource, not the divisor, as Kubernetes' does.
    static func validateResourceSelector(_ selector: ResourceFieldSelector, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        let resource = selector.resource
        let isHugePages = resource.hasPrefix("requests.hugepages-") || resource.hasPrefix("limits.hugepages-")
        if resource.isEmpty {
            errors.append(.required(path.child("resource")))
        } else if !DownwardAPI.containerResources.contains(resource), !isHugePages {
            errors.append(.notSupported(path.child("resource"), resource, supported: DownwardAPI.containerResources))
        }
        guard !selector.divisor.isZero else { return errors }
        let divisor = selector.divisor.description
        let divisorPath = path.child("divisor")
        switch resource {
        case "limits.cpu", "requests.cpu":
            if !cpuDivisors.contains(divisor) {
                errors.append(.invalid(divisorPath, .string(resource), "only divisor's values 1m and 1 are supported with the cpu resource"))
            }
        case "limits.memory", "requests.memory":
            if !byteDivisors.contains(divisor) {
                errors.append(.invalid(divisorPath, .string(resource), "only divisor's values \(byteDivisorList) are supported with the memory resource"))
            }
        case "limits.ephemeral-storage", "requests.ephemeral-storage":
            if !byteDivisors.contains(divisor) {
                errors.append(.invalid(divisorPath, .string(resource), "only divisor's values \(byteDivisorList) are supported with the local ephemeral storage resource"))
            }
        default:
            break
        }
        if isHugePages, !byteDivisors.contains(divisor) {
            errors.append(.invalid(divisorPath, .string(resource), "only divisor's values \(byteDivisorList) are supported with the hugepages resource"))
        }
        return errors
    }

    /// Resource names Kubernetes knows without a domain (`IsStandardResourceName`).
    static let standardResourceNames: Set<String> = [
        "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage",
        "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods", "services", "replicationcontrollers",
        "resourcequotas", "secrets", "persistentvolumeclaims", "configmaps", "storage", "requests.storage",
        "services.nodeports", "services.loadbalancers",
    ]

    /// `validateResourceRequirements` for a container: names, non-negative quantities, whole
    /// numbers for extended resources, requests no larger than limits (equal for resources
    /// that cannot be overcommitted, which need a limit).
    static func validateResources(_ resources: JSONValue?, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        let limitsPath = path.child("limits"), requestsPath = path.child("requests")
        func quantities(_ key: String) -> [(String, Quantity)] {
            (resources?[key]?.objectValue ?? [:]).compactMap { name, value in (try? Quantity(json: value)).map { (name, $0) } }.sorted { $0.0 < $1.0 }
        }
        let limits = quantities("limits"), requests = quantities("requests")
        let limitByName = Dictionary(limits, uniquingKeysWith: { first, _ in first })
        for (name, quantity) in limits {
            errors += validateResourceName(name, path: limitsPath.key(name))
            errors += validateResourceQuantity(name, quantity, path: limitsPath.key(name))
        }
        for (name, quantity) in requests {
            errors += validateResourceName(name, path: requestsPath.key(name))
            errors += validateResourceQuantity(name, quantity, path: requestsPath.key(name))
            let overcommitAllowed = isNativeResource(name) && !name.hasPrefix("hugepages-")
            if let limit = limitByName[name] {
                if !overcommitAllowed, quantity != limit {
                    errors.append(.invalid(requestsPath, .string(quantity.description), "must be equal to \(name) limit of \(limit)"))
                } else if quantity > limit {
                    errors.append(.invalid(requestsPath, .string(quantity.description), "must be less than or equal to \(name) limit of \(limit)"))
                }
            } else if !overcommitAllowed {
                errors.append(.required(limitsPath, "Limit must be set for non overcommitable resources"))
            }
        }
        return errors
    }

    static func isNativeResource(_ name: String) -> Bool { !name.contains("/") || name.contains("kubernetes.io/") }

    /// `validateContainerResourceName`.
    static func validateResourceName(_ name: String, path: FieldPath) -> [FieldError] {
        let nameErrors = KubernetesNames.qualifiedNameErrors(name).map { FieldError.invalid(path, .string(name), $0) }
        guard nameErrors.isEmpty else { return nameErrors }
        if !name.contains("/") {
            if !standardResourceNames.contains(name), !name.hasPrefix("hugepages-") {
                return [.invalid(path, .string(name), "must be a standard resource type or fully qualified")]
            }
            if !["cpu", "memory", "ephemeral-storage"].contains(name), !name.hasPrefix("hugepages-") {
                return [.invalid(path, .string(name), "must be a standard resource for containers")]
            }
        } else if !isNativeResource(name), name.hasPrefix("requests.") {
            return [.invalid(path, .string(name), "doesn't follow extended resource name standard")]
        }
        return []
    }

    /// `ValidateResourceQuantityValue`: not negative; extended resources in whole units.
    static func validateResourceQuantity(_ name: String, _ quantity: Quantity, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        if quantity < .zero {
            errors.append(.invalid(path, .string(quantity.description), "must be greater than or equal to 0"))
        }
        if !isNativeResource(name), quantity.milliValue % 1000 != 0 {
            errors.append(.invalid(path, .string(quantity.description), "must be an integer"))
        }
        return errors
    }

    /// Host ports are a node resource: two ports of these containers may not claim the same
    /// protocol, host IP and port (`AccumulateUniqueHostPorts`).
    static func validateUniqueHostPorts(_ containers: [Container], path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        var claimed: Set<String> = []
        for (containerIndex, container) in containers.enumerated() {
            for (portIndex, port) in container.ports.enumerated() where port.hostPort != 0 {
                let hostIP = port.preservedFields["hostIP"]?.stringValue ?? ""
                let key = "\(port.effectiveProtocol.rawValue)/\(hostIP)/\(port.hostPort)"
                if !claimed.insert(key).inserted {
                    errors.append(.duplicate(path.index(containerIndex).child("ports").index(portIndex).child("hostPort"), .string(key)))
                }
            }
        }
        return errors
    }

    /// Kubernetes' port warnings (`pkg/api/pod/warnings.go`): the same container port declared
    /// twice in a pod, which will fail at run time for all but one listener.
    static func warnings(for spec: PodSpec, path: FieldPath) -> [String] {
        var warnings: [String] = []
        var seen: [String: [(path: FieldPath, port: ContainerPort)]] = [:]
        for (listName, containers) in [("initContainers", spec.initContainers), ("containers", spec.containers)] {
            for (containerIndex, container) in containers.enumerated() {
                for (portIndex, port) in container.ports.enumerated() {
                    let portPath = path.child(listName).index(containerIndex).child("ports").index(portIndex)
                    let hostIP = port.preservedFields["hostIP"]?.stringValue ?? ""
                    if !hostIP.isEmpty, port.hostPort == 0 {
                        warnings.append("\(portPath): hostIP set without hostPort")
                    }
                    let key = "\(port.containerPort)/\(port.effectiveProtocol.rawValue)"
                    for other in seen[key] ?? [] {
                        let otherIP = other.port.preservedFields["hostIP"]?.stringValue ?? ""
                        if hostIP == otherIP, port.hostPort == other.port.hostPort {
                            warnings.append("\(portPath): duplicate port definition with \(other.path)")
                        } else if port.hostPort == 0 || other.port.hostPort == 0 {
                            warnings.append("\(portPath): overlapping port definition with \(other.path)")
                        } else if port.hostPort == other.port.hostPort, hostIP.isEmpty != otherIP.isEmpty {
                            warnings.append("\(portPath): dangerously ambiguous port definition with \(other.path)")
                        }
                    }
                    seen[key, default: []].append((portPath, port))
                }
            }
        }
        return warnings
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and line breaks.
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let end = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[start...end])
    }
}
