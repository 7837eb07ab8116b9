extension Deployment {
    /// The Deployment as the API server stores it (`SetDefaults_Deployment`, apps/v1): one
    /// replica, a `RollingUpdate` of 25% surge and 25% unavailable, ten old ReplicaSets kept,
    /// a 600 s progress deadline, and the pod defaults in the template.
    public func applyingDefaults() -> Deployment {
        var deployment = self
        var spec = deployment.spec
        if spec.replicas == nil { spec.replicas = 1 }
        if spec.strategy.type == nil { spec.strategy.type = .rollingUpdate }
        if spec.strategy.type == .rollingUpdate {
            spec.strategy.hasRollingUpdate = true
            if spec.strategy.maxSurge == nil { spec.strategy.maxSurge = .string("25%") }
            if spec.strategy.maxUnavailable == nil { spec.strategy.maxUnavailable = .string("25%") }
        }
        if spec.revisionHistoryLimit == nil { spec.revisionHistoryLimit = 10 }
        if spec.progressDeadlineSeconds == nil { spec.progressDeadlineSeconds = 600 }
        spec.template = spec.template.applyingDefaults()
        deployment.spec = spec
        return deployment
    }

    /// Checks the Deployment as the API server does on create (`ValidateDeployment`), with its
    /// messages, the template as a pod is checked.
    public func validated() throws(InvalidObjectError) {
        let errors = WorkloadValidation.validate(self)
        if !errors.isEmpty { throw InvalidObjectError(kind: Deployment.kind, name: metadata.name, errors: errors) }
    }

    /// Checks an update: as a create, and the selector may not change (apps/v1).
    public func validatedUpdate(from old: Deployment) throws(InvalidObjectError) {
        var errors = WorkloadValidation.validate(self)
        if spec.selector != old.spec.selector {
            errors.append(.invalid(FieldPath("spec").child("selector"), .goValue(WorkloadValidation.goSelector(spec.selector)), "field is immutable"))
        }
        if !errors.isEmpty { throw InvalidObjectError(kind: Deployment.kind, name: metadata.name, errors: errors) }
    }
}

extension ReplicaSet {
    /// The ReplicaSet as the API server stores it: one replica, the pod defaults in the template.
    public func applyingDefaults() -> ReplicaSet {
        var replicaSet = self
        if replicaSet.spec.replicas == nil { replicaSet.spec.replicas = 1 }
        replicaSet.spec.template = replicaSet.spec.template.applyingDefaults()
        return replicaSet
    }

    /// Checks the ReplicaSet as the API server does on create (`ValidateReplicaSet`).
    public func validated() throws(InvalidObjectError) {
        let errors = WorkloadValidation.validate(self)
        if !errors.isEmpty { throw InvalidObjectError(kind: ReplicaSet.kind, name: metadata.name, errors: errors) }
    }

    public func validatedUpdate(from old: ReplicaSet) throws(InvalidObjectError) {
        var errors = WorkloadValidation.validate(self)
        if spec.selector != old.spec.selector {
            errors.append(.invalid(FieldPath("spec").child("selector"), .goValue(WorkloadValidation.goSelector(spec.selector)), "field is immutable"))
        }
        if !errors.isEmpty { throw InvalidObjectError(kind: ReplicaSet.kind, name: metadata.name, errors: errors) }
    }
}

/// The rules of `ValidateDeploymentSpec` and `ValidateReplicaSetSpec` (apps validation).
enum WorkloadValidation {
    static func validate(_ deployment: Deployment) -> [FieldError] {
        let spec = deployment.spec
        let path = FieldPath("spec")
        var errors = ObjectMetaValidation.validate(deployment.metadata, nameErrors: KubernetesNames.dns1123SubdomainErrors)
        errors += PodSupport.refusals(deployment.metadata, path: "metadata")
        errors += nonnegative(spec.replicas, path.child("replicas"))
        errors += validateSelectorAndTemplate(spec.selector, spec.template, kind: "deployment", path: path)
        errors += validateStrategy(spec.strategy, path: path.child("strategy"))
        errors += nonnegative(spec.minReadySeconds, path.child("minReadySeconds"))
        errors += nonnegative(spec.revisionHistoryLimit, path.child("revisionHistoryLimit"))
        if let deadline = spec.progressDeadlineSeconds {
            errors += nonnegative(deadline, path.child("progressDeadlineSeconds"))
            if deadline <= spec.minReadySeconds {
                errors.append(.invalid(path.child("progressDeadlineSeconds"), .integer(Int64(deadline)), "must be greater than minReadySeconds"))
            }
        }
        if spec.paused {
            errors.append(.forbidden(path.child("paused"), PodSupport.notSupported + ": a rollout cannot be paused"))
        }
        return errors
    }

    static func validate(_ replicaSet: ReplicaSet) -> [FieldError] {
        let spec = replicaSet.spec
        let path = FieldPath("spec")
        var errors = ObjectMetaValidation.validate(replicaSet.metadata, nameErrors: KubernetesNames.dns1123SubdomainErrors)
        errors += nonnegative(spec.replicas, path.child("replicas"))
        errors += nonnegative(spec.minReadySeconds, path.child("minReadySeconds"))
        errors += validateSelectorAndTemplate(spec.selector, spec.template, kind: "deployment", path: path)
        return errors
    }

    static func nonnegative(_ value: Int32?, _ field: FieldPath) -> [FieldError] {
        guard let value, value < 0 else { return [] }
        return [.invalid(field, .integer(Int64(value)), "must be greater than or equal to 0")]
    }

    /// The selector (required, not empty, well formed), the template's labels matching it, and
    /// the template checked as a pod is (`ValidatePodTemplateSpecForReplicaSet`): `restartPolicy`
    /// must be `Always`, no `activeDeadlineSeconds`. (Kubernetes says "deployment" in the
    /// empty-selector message for ReplicaSets too.)
    static func validateSelectorAndTemplate(_ selector: LabelSelectorSpec?, _ template: PodTemplateSpec, kind: String, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        let templatePath = path.child("template")
        if let selector {
            errors += selector.validate(path: path.child("selector"))
            if selector.isEmpty {
                errors.append(.invalid(path.child("selector"), .goValue(goSelector(selector)), "empty selector is invalid for \(kind)"))
            } else if !selector.selector.matches(template.metadata.labels) {
                errors.append(.invalid(templatePath.child("metadata").child("labels"), .goValue(goMap(template.metadata.labels)),
                                       "`selector` does not match template `labels`"))
            }
        } else {
            errors.append(.required(path.child("selector")))
        }
        errors += ObjectMetaValidation.validateLabels(template.metadata.labels, path: templatePath.child("metadata").child("labels"))
        errors += ObjectMetaValidation.validateAnnotations(template.metadata.annotations, path: templatePath.child("metadata").child("annotations"))
        let specPath = templatePath.child("spec")
        errors += PodSpecValidation.validate(template.spec, path: specPath)
        if let policy = template.spec.restartPolicy, policy != .always, RestartPolicy.supported.contains(policy) {
            errors.append(.notSupported(specPath.child("restartPolicy"), policy.rawValue, supported: [RestartPolicy.always.rawValue]))
        }
        if template.spec.activeDeadlineSeconds != nil {
            errors.append(.forbidden(specPath.child("activeDeadlineSeconds"), "activeDeadlineSeconds in ReplicaSet is not Supported"))
        }
        errors += PodSupport.refusals(template.spec, path: specPath, creating: true)
            .filter { $0.field != specPath.child("activeDeadlineSeconds") }
        let metaFields = template.metadata.preservedFields
        for name in ["ownerReferences", "finalizers"] where !(metaFields[name]?.isEmpty ?? true) {
            errors.append(PodSupport.refusal(templatePath.child("metadata").child(name)))
        }
        return errors
    }

    static func validateStrategy(_ strategy: DeploymentStrategy, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        switch strategy.type ?? .rollingUpdate {
        case .recreate:
            if strategy.hasRollingUpdate {
                errors.append(.forbidden(path.child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"))
            }
        case .rollingUpdate:
            let rolling = path.child("rollingUpdate")
            errors += positiveIntOrPercent(strategy.maxUnavailable, rolling.child("maxUnavailable"))
            errors += positiveIntOrPercent(strategy.maxSurge, rolling.child("maxSurge"))
            if RollingUpdateLimits.rawValue(strategy.maxUnavailable) == 0, RollingUpdateLimits.rawValue(strategy.maxSurge) == 0 {
                errors.append(.invalid(rolling.child("maxUnavailable"), .goValue(strategy.maxUnavailable?.description ?? "0"), "may not be 0 when `maxSurge` is 0"))
            }
            if case let .string(text)? = strategy.maxUnavailable, let percent = RollingUpdateLimits.percent(text), percent > 100 {
                errors.append(.invalid(rolling.child("maxUnavailable"), .goValue(text), "must not be greater than 100%"))
            }
        default:
            let type = strategy.type?.rawValue ?? ""
            errors.append(.notSupported(path.child("type"), type, supported: DeploymentStrategyType.supported.map(\.rawValue)))
        }
        return errors
    }

    /// `ValidatePositiveIntOrPercent`: a number ≥ 0 or a percentage like `25%`. Kubernetes prints
    /// the value with its `String()`, unquoted.
    static func positiveIntOrPercent(_ value: IntOrString?, _ field: FieldPath) -> [FieldError] {
        switch value {
        case let .int(number)?:
            return number < 0 ? [.invalid(field, .integer(Int64(number)), "must be greater than or equal to 0")] : []
        case let .string(text)?:
            guard RollingUpdateLimits.percent(text) == nil else { return [] }
            return [.invalid(field, .goValue(text),
                             "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")]
        case nil:
            return []
        }
    }

    /// A map as Go's `%#v` prints it, keys sorted: `map[string]string{"app":"web"}`.
    static func goMap(_ map: [String: String]) -> String {
        "map[string]string{" + map.keys.sorted().map { "\(FieldError.goQuoted($0)):\(FieldError.goQuoted(map[$0]!))" }.joined(separator: ", ") + "}"
    }

    /// A selector as Go's `%#v` prints a `*metav1.LabelSelector`, shortened to its labels.
    static func goSelector(_ selector: LabelSelectorSpec?) -> String {
        guard let selector else { return "null" }
        return "&v1.LabelSelector{MatchLabels:\(goMap(selector.matchLabels)), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"
    }
}
