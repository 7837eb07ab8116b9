extension Service {
    /// The service as the API server stores it: type `ClusterIP`, affinity `None`, TCP ports
    /// whose `targetPort` is their `port`, `Cluster` traffic policies, one IPv4 family.
    /// Addresses and node ports are not defaults: `ServiceAllocation` assigns them.
    public func applyingDefaults() -> Service {
        var service = self
        var spec = service.spec
        if spec.type == nil { spec.type = .clusterIP }
        if spec.sessionAffinity == nil { spec.sessionAffinity = SessionAffinity.none }
        if spec.sessionAffinity == .clientIP, spec.affinityTimeoutSeconds == nil {
            spec.affinityTimeoutSeconds = ServiceSpec.defaultAffinityTimeout
        }
        for index in spec.ports.indices {
            if spec.ports[index].protocol == nil { spec.ports[index].protocol = .tcp }
            if spec.ports[index].targetPort == nil { spec.ports[index].targetPort = .int(spec.ports[index].port) }
        }
        if spec.internalTrafficPolicy == nil { spec.internalTrafficPolicy = .cluster }
        if spec.effectiveType == .nodePort, spec.externalTrafficPolicy == nil { spec.externalTrafficPolicy = .cluster }
        if spec.clusterIPs.isEmpty, !spec.clusterIP.isEmpty { spec.clusterIPs = [spec.clusterIP] }
        if spec.clusterIP.isEmpty, let first = spec.clusterIPs.first { spec.clusterIP = first }
        if spec.ipFamilies.isEmpty { spec.ipFamilies = ["IPv4"] }
        if spec.ipFamilyPolicy.isEmpty { spec.ipFamilyPolicy = "SingleStack" }
        service.spec = spec
        if service.status.isEmpty { service.status = ["loadBalancer": .object([:])] }
        return service
    }

    /// Checks the service as the API server does on create, with its messages, then podlab's
    /// own refusals (a field podlab would not act on is refused, never ignored).
    public func validated() throws(InvalidObjectError) {
        let errors = ServiceValidation.validate(self)
        if !errors.isEmpty { throw InvalidObjectError(kind: Service.kind, name: metadata.name, errors: errors) }
    }

    /// Checks an update: as a create, and the virtual address may not change once set.
    public func validatedUpdate(from old: Service) throws(InvalidObjectError) {
        var errors = ServiceValidation.validate(self)
        if !old.spec.clusterIP.isEmpty, spec.clusterIP != old.spec.clusterIP {
            errors.append(.invalid(FieldPath("spec").child("clusterIPs").index(0), .string(spec.clusterIP), "may not change once set"))
        }
        if !errors.isEmpty { throw InvalidObjectError(kind: Service.kind, name: metadata.name, errors: errors) }
    }
}

/// `ValidateService`'s rules for what podlab models, and podlab's refusals.
enum ServiceValidation {
    static let notSupported = PodSupport.notSupported

    static func validate(_ service: Service) -> [FieldError] {
        let spec = service.spec
        let path = FieldPath("spec")
        var errors = ObjectMetaValidation.validate(service.metadata, nameErrors: KubernetesNames.dns1035LabelErrors)
        let type = spec.effectiveType
        if !ServiceType.supported.contains(type) {
            errors.append(.notSupported(path.child("type"), type.rawValue, supported: ServiceType.supported.map(\.rawValue)))
        } else if type == .loadBalancer || type == .externalName {
            errors.append(.forbidden(path.child("type"), notSupported + ": the lab has no load balancer or external DNS; use ClusterIP or NodePort"))
        }
        if spec.ports.isEmpty, !service.isHeadless {
            errors.append(.required(path.child("ports")))
        }
        errors += validatePorts(spec, path: path.child("ports"))
        errors += ObjectMetaValidation.validateLabels(spec.selector, path: path.child("selector"))
        errors += validateClusterIP(spec, path: path)
        errors += validateAffinity(spec, path: path)
        if let policy = spec.internalTrafficPolicy, !TrafficPolicy.supported.contains(policy) {
            errors.append(.notSupported(path.child("internalTrafficPolicy"), policy.rawValue, supported: TrafficPolicy.supported.map(\.rawValue)))
        }
        if let policy = spec.externalTrafficPolicy {
            if type != .nodePort && type != .loadBalancer {
                errors.append(.invalid(path.child("externalTrafficPolicy"), .string(policy.rawValue), "may only be set when `type` is 'NodePort' or 'LoadBalancer'"))
            } else if !TrafficPolicy.supported.contains(policy) {
                errors.append(.notSupported(path.child("externalTrafficPolicy"), policy.rawValue, supported: TrafficPolicy.supported.map(\.rawValue)))
            } else if policy == .local {
                errors.append(.forbidden(path.child("externalTrafficPolicy"), notSupported + ": NodePorts reach the endpoints of every node"))
            }
        }
        for (index, family) in spec.ipFamilies.enumerated() where family != "IPv4" {
            errors.append(family == "IPv6"
                ? .forbidden(path.child("ipFamilies").index(index), notSupported + ": the lab is IPv4-only")
                : .notSupported(path.child("ipFamilies").index(index), family, supported: ["IPv4", "IPv6"]))
        }
        if !spec.ipFamilyPolicy.isEmpty {
            let policies = ["PreferDualStack", "RequireDualStack", "SingleStack"]
            if !policies.contains(spec.ipFamilyPolicy) {
                errors.append(.notSupported(path.child("ipFamilyPolicy"), spec.ipFamilyPolicy, supported: policies))
            } else if spec.ipFamilyPolicy == "RequireDualStack" {
                errors.append(.forbidden(path.child("ipFamilyPolicy"), notSupported + ": the lab is IPv4-only"))
            }
        }
        for field in spec.preservedFields.keys.sorted() {
            errors.append(.forbidden(path.child(field), notSupported))
        }
        // How the mesh's sidecars pick an endpoint for a request to it.
        if let value = service.metadata.annotations[LoadBalancing.annotation], LoadBalancing(rawValue: value) == nil {
            errors.append(.notSupported(FieldPath("metadata").child("annotations").key(LoadBalancing.annotation), value,
                                        supported: LoadBalancing.allCases.map(\.rawValue)))
        }
        return errors
    }

    static func validatePorts(_ spec: ServiceSpec, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        var names: Set<String> = []
        var keys: Set<String> = []
        for (index, port) in spec.ports.enumerated() {
            let portPath = path.index(index)
            if port.name.isEmpty {
                if spec.ports.count > 1 { errors.append(.required(portPath.child("name"))) }
            } else {
                errors += KubernetesNames.dns1123LabelErrors(port.name).map { .invalid(portPath.child("name"), .string(port.name), $0) }
                if !names.insert(port.name).inserted { errors.append(.duplicate(portPath.child("name"), .string(port.name))) }
            }
            if !(1...65535).contains(port.port) {
                errors.append(.invalid(portPath.child("port"), .integer(Int64(port.port)), "must be between 1 and 65535, inclusive"))
            }
            let proto = port.effectiveProtocol
            if !PortProtocol.supported.contains(proto) {
                errors.append(.notSupported(portPath.child("protocol"), proto.rawValue, supported: PortProtocol.supported.map(\.rawValue)))
            } else if proto == .sctp {
                errors.append(.forbidden(portPath.child("protocol"), notSupported + ": services carry TCP and UDP"))
            }
            switch port.targetPort {
            case let .int(number)?:
                if !(1...65535).contains(number) {
                    errors.append(.invalid(portPath.child("targetPort"), .integer(Int64(number)), "must be between 1 and 65535, inclusive"))
                }
            case let .string(name)?:
                errors += KubernetesNames.portNameErrors(name).map { .invalid(portPath.child("targetPort"), .string(name), $0) }
            case nil: break
            }
            if port.nodePort != 0, spec.effectiveType == .clusterIP {
                errors.append(.forbidden(portPath.child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
            }
            // Kubernetes prints the duplicate as a Go struct of protocol and port.
            let key = "\(proto.rawValue)/\(port.port)"
            if !keys.insert(key).inserted {
                errors.append(FieldError(type: .duplicate, field: portPath, value: .goValue(
                    "core.ServicePort{Name:\"\", Protocol:\"\(proto.rawValue)\", AppProtocol:(*string)(nil), Port:\(port.port), TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}"),
                    detail: ""))
            }
        }
        return errors
    }

    static func validateClusterIP(_ spec: ServiceSpec, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        if !spec.clusterIP.isEmpty, !spec.clusterIPs.isEmpty, spec.clusterIPs[0] != spec.clusterIP {
            errors.append(.invalid(path.child("clusterIPs"), .strings(spec.clusterIPs), "element [0] must match clusterIP"))
        }
        for (index, address) in spec.clusterIPs.enumerated() {
            let field = path.child("clusterIPs").index(index)
            if address == ServiceSpec.noneClusterIP {
                if spec.effectiveType == .nodePort || spec.effectiveType == .loadBalancer {
                    errors.append(.invalid(field, .string(address), "may not be set to 'None' for LoadBalancer or NodePort services"))
                }
                if index > 0 { errors.append(.invalid(field, .string(address), "must be a valid IP address")) }
            } else if IPv4Address(address) == nil {
                errors.append(.invalid(field, .string(address), "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
            }
        }
        if spec.clusterIPs.count > 1 {
            errors.append(.forbidden(path.child("clusterIPs").index(1), notSupported + ": the lab is IPv4-only"))
        }
        return errors
    }

    static func validateAffinity(_ spec: ServiceSpec, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        let affinity = spec.sessionAffinity ?? SessionAffinity.none
        if !SessionAffinity.supported.contains(affinity) {
            errors.append(.notSupported(path.child("sessionAffinity"), affinity.rawValue, supported: SessionAffinity.supported.map(\.rawValue)))
        }
        if let timeout = spec.affinityTimeoutSeconds {
            let field = path.child("sessionAffinityConfig").child("clientIP").child("timeoutSeconds")
            if affinity != .clientIP {
                errors.append(.forbidden(path.child("sessionAffinityConfig"), "must not be set when `sessionAffinity` is \(affinity.rawValue)"))
            } else if !(1...86400).contains(timeout) {
                errors.append(.invalid(field, .integer(Int64(timeout)), "must be greater than 0 and less than 86400"))
            }
        }
        return errors
    }
}
