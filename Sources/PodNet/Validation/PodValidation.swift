extension Pod {
    /// Checks the pod as the API server does on create, collecting every error with Kubernetes'
    /// messages (see `FieldError`). Two containers declaring the same port is not an error but a
    /// warning, as in Kubernetes: the second container will fail at run time with EADDRINUSE,
    /// which is exactly what the lab demonstrates.
    public func validate() -> ValidationResult {
        var errors = ObjectMetaValidation.validate(metadata, nameErrors: KubernetesNames.dns1123SubdomainErrors)
        errors += PodSpecValidation.validate(spec, path: "spec")
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
        var errors: [FieldError] = []
        var names: Set<String> = []
        if spec.containers.isEmpty {
            errors.append(.required(path.child("containers")))
        }
        errors += validateContainers(spec.containers, path: path.child("containers"), names: &names)
        errors += validateContainers(spec.initContainers, path: path.child("initContainers"), names: &names)
        errors += validateUniqueHostPorts(spec, path: path)
        if let policy = spec.restartPolicy, !RestartPolicy.supported.contains(policy) {
            errors.append(.notSupported(path.child("restartPolicy"), policy.rawValue, supported: RestartPolicy.supported.map(\.rawValue)))
        }
        if let policy = spec.dnsPolicy {
            if !DNSPolicy.supported.contains(policy) {
                errors.append(.notSupported(path.child("dnsPolicy"), policy.rawValue, supported: DNSPolicy.supported.map(\.rawValue)))
            } else if policy == .none, spec.preservedFields["dnsConfig"] == nil {
                errors.append(.required(path.child("dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None"))
            }
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
        return errors
    }

    /// Names (unique across containers and init containers), image, ports, env.
    static func validateContainers(_ containers: [Container], path: FieldPath, names: inout Set<String>) -> [FieldError] {
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
        }
        return errors
    }

    /// Host ports are a node resource: two ports of a pod may not claim the same one (`AccumulateUniqueHostPorts`).
    static func validateUniqueHostPorts(_ spec: PodSpec, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        var claimed: Set<String> = []
        for (listName, containers) in [("containers", spec.containers), ("initContainers", spec.initContainers)] {
            for (containerIndex, container) in containers.enumerated() {
                for (portIndex, port) in container.ports.enumerated() where port.hostPort != 0 {
                    let key = "\(port.hostPort)/\(port.effectiveProtocol.rawValue)"
                    if !claimed.insert(key).inserted {
                        errors.append(.duplicate(path.child(listName).index(containerIndex).child("ports").index(portIndex).child("hostPort"), .string(key)))
                    }
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
        if !spec.initContainers.isEmpty {
            warnings.append("\(path.child("initContainers")): podlab does not run init containers; they are kept but ignored")
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
