@_exported import MeshAuthorization

/// A mesh policy (`apiVersion: podlab.dev/v1`, `kind: MeshPolicy`): which peers may reach the
/// meshed pods its `selector` picks, by identity or namespace, on which ports, paths and
/// methods. Enforced by the receiving pod's sidecar (HTTP 403, or a reset for other TCP); the
/// semantics are Istio's ALLOW AuthorizationPolicy (see `MeshAuthorizationPolicy`).
///
/// ```yaml
/// apiVersion: podlab.dev/v1
/// kind: MeshPolicy
/// metadata: {name: web-from-a, namespace: b}
/// spec:
///   selector: {matchLabels: {app: web}}
///   rules:
///   - from: [{namespaces: [a]}]
///     to: [{ports: [8080], paths: ["/api/*"], methods: [GET]}]
/// ```
public struct MeshPolicy: KubernetesObject, Hashable {
    public static let kind = "MeshPolicy"
    public static let apiVersion = "podlab.dev/v1"

    public var metadata: ObjectMeta
    public var spec: MeshPolicySpec

    public init(metadata: ObjectMeta = ObjectMeta(), spec: MeshPolicySpec = MeshPolicySpec()) {
        self.metadata = metadata
        self.spec = spec
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        try reader.typeInformation(of: MeshPolicy.self)
        metadata = try reader.object("metadata") ?? ObjectMeta()
        spec = try reader.object("spec") ?? MeshPolicySpec()
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.setTypeInformation(of: MeshPolicy.self)
        writer.set("metadata", metadata.json)
        writer.set("spec", spec.json)
    }

    /// The rules as the decision reads them.
    public var authorization: MeshAuthorizationPolicy {
        MeshAuthorizationPolicy(namespace: metadata.namespace.isEmpty ? "default" : metadata.namespace, name: metadata.name,
                                selector: spec.selector.matchLabels,
                                rules: spec.rules.map { rule in
                                    .init(from: rule.from.map { .init(identities: $0.identities, namespaces: $0.namespaces) },
                                          to: rule.to.map { .init(ports: $0.ports, paths: $0.paths, methods: $0.methods) })
                                })
    }

    /// As the API server stores it: in `namespace` when it names none.
    public func applyingDefaults(namespace: String) -> MeshPolicy {
        var policy = self
        if policy.metadata.namespace.isEmpty { policy.metadata.namespace = namespace }
        return policy
    }

    /// The field errors, all of them (an empty list: valid).
    public func validationErrors() -> [FieldError] { MeshPolicyValidation.validate(self) }

    public func validated() throws(InvalidObjectError) {
        let errors = validationErrors()
        if !errors.isEmpty { throw InvalidObjectError(kind: MeshPolicy.kind, name: metadata.name, errors: errors) }
    }
}

extension MeshPolicy: KubernetesResource {
    public static let resource = "meshpolicies"
    public static let isNamespaced = true
}

/// `spec` of a mesh policy.
public struct MeshPolicySpec: JSONObjectCodable, Hashable {
    /// The meshed pods of the policy's namespace it applies to (`matchLabels`); empty: all.
    public var selector: LabelSelectorSpec
    /// A request is allowed when one rule matches it; none: the selected pods admit nothing.
    public var rules: [MeshPolicyRule]

    public init(selector: LabelSelectorSpec = LabelSelectorSpec(), rules: [MeshPolicyRule] = []) {
        self.selector = selector
        self.rules = rules
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        selector = try reader.object("selector") ?? LabelSelectorSpec()
        rules = try reader.objects("rules")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("selector", selector.json)
        writer.set("rules", omittingEmpty: rules)
    }
}

/// `spec.rules[]`: from any of `from` (none: any peer) to any of `to` (none: anything).
public struct MeshPolicyRule: JSONObjectCodable, Hashable {
    public var from: [MeshPolicySource]
    public var to: [MeshPolicyOperation]

    public init(from: [MeshPolicySource] = [], to: [MeshPolicyOperation] = []) {
        self.from = from
        self.to = to
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        from = try reader.objects("from")
        to = try reader.objects("to")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("from", omittingEmpty: from)
        writer.set("to", omittingEmpty: to)
    }
}

/// `from[]`: peers by SPIFFE identity and/or namespace (both given: both must hold).
public struct MeshPolicySource: JSONObjectCodable, Hashable {
    public var identities: [String]
    public var namespaces: [String]

    public init(identities: [String] = [], namespaces: [String] = []) {
        self.identities = identities
        self.namespaces = namespaces
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        identities = try reader.stringArray("identities") ?? []
        namespaces = try reader.stringArray("namespaces") ?? []
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("identities", omittingEmpty: identities)
        writer.set("namespaces", omittingEmpty: namespaces)
    }
}

/// `to[]`: ports, paths and methods (each given list must hold).
public struct MeshPolicyOperation: JSONObjectCodable, Hashable {
    public var ports: [Int]
    public var paths: [String]
    public var methods: [String]

    public init(ports: [Int] = [], paths: [String] = [], methods: [String] = []) {
        self.ports = ports
        self.paths = paths
        self.methods = methods
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        ports = []
        for (index, element) in (try reader.array("ports") ?? []).enumerated() {
            switch element {
            case let .integer(number) where Int32(exactly: number) != nil: ports.append(Int(number))
            case let .number(number) where number.rounded() == number && abs(number) < 2.2e9: ports.append(Int(number))
            default: throw .typeMismatch(field: reader.path.child("ports").index(index), expected: "int32", found: element.typeName)
            }
        }
        paths = try reader.stringArray("paths") ?? []
        methods = try reader.stringArray("methods") ?? []
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        if !ports.isEmpty { writer.set("ports", .array(ports.map { .integer(Int64($0)) })) }
        writer.set("paths", omittingEmpty: paths)
        writer.set("methods", omittingEmpty: methods)
    }
}

/// The checks the agent makes before it stores a mesh policy, with Kubernetes' message forms.
enum MeshPolicyValidation {
    /// The methods a rule may name (the proxy's HTTP/1.1 parser knows more; these are the ones
    /// a request through it carries).
    static let methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"]
    static let identityFormat = "spiffe://cluster.local/ns/NAMESPACE/sa/SERVICEACCOUNT"

    static func validate(_ policy: MeshPolicy) -> [FieldError] {
        let path = FieldPath("spec")
        var errors = ObjectMetaValidation.validate(policy.metadata, nameErrors: KubernetesNames.dns1123SubdomainErrors)
        let selector = policy.spec.selector
        errors += ObjectMetaValidation.validateLabels(selector.matchLabels, path: path.child("selector").child("matchLabels"))
        if !selector.matchExpressions.isEmpty {
            errors.append(.forbidden(path.child("selector").child("matchExpressions"), "not supported by MeshPolicy: select pods by matchLabels"))
        }
        for (ruleIndex, rule) in policy.spec.rules.enumerated() {
            let rulePath = path.child("rules").index(ruleIndex)
            if rule.from.isEmpty, rule.to.isEmpty {
                errors.append(.required(rulePath, "a rule needs `from` or `to`; one that matches every request makes the policy allow everything (delete the policy instead)"))
            }
            for (index, source) in rule.from.enumerated() { errors += validate(source, path: rulePath.child("from").index(index)) }
            for (index, operation) in rule.to.enumerated() { errors += validate(operation, path: rulePath.child("to").index(index)) }
        }
        return errors
    }

    static func validate(_ source: MeshPolicySource, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        if source.identities.isEmpty, source.namespaces.isEmpty {
            errors.append(.required(path, "must specify `identities` or `namespaces`"))
        }
        for (index, identity) in source.identities.enumerated() {
            let field = path.child("identities").index(index)
            guard let parsed = MeshIdentity(uri: identity) else {
                errors.append(.invalid(field, .string(identity), "must be a SPIFFE identity of the form \(identityFormat)"))
                continue
            }
            if let message = KubernetesNames.dns1123LabelErrors(parsed.namespace).first {
                errors.append(.invalid(field, .string(identity), "the namespace \(FieldError.goQuoted(parsed.namespace)): \(message)"))
            }
            if let message = KubernetesNames.dns1123SubdomainErrors(parsed.serviceAccount).first {
                errors.append(.invalid(field, .string(identity), "the service account \(FieldError.goQuoted(parsed.serviceAccount)): \(message)"))
            }
        }
        for (index, namespace) in source.namespaces.enumerated() {
            errors += KubernetesNames.dns1123LabelErrors(namespace).map { .invalid(path.child("namespaces").index(index), .string(namespace), $0) }
        }
        return errors
    }

    static func validate(_ operation: MeshPolicyOperation, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        if operation.ports.isEmpty, operation.paths.isEmpty, operation.methods.isEmpty {
            errors.append(.required(path, "must specify `ports`, `paths` or `methods`"))
        }
        for (index, port) in operation.ports.enumerated() where !(1...65535).contains(port) {
            errors.append(.invalid(path.child("ports").index(index), .integer(Int64(port)), "must be between 1 and 65535"))
        }
        for (index, pattern) in operation.paths.enumerated() {
            let valid = pattern == "*" || (pattern.hasPrefix("/") && !pattern.dropLast().contains("*") && !pattern.contains("?"))
            if !valid {
                errors.append(.invalid(path.child("paths").index(index), .string(pattern),
                                       "must be `*`, an exact path beginning with `/`, or a prefix ending in `*` (`/api/*`); no query"))
            }
        }
        for (index, method) in operation.methods.enumerated() where !methods.contains(method) {
            errors.append(.notSupported(path.child("methods").index(index), method, supported: methods))
        }
        return errors
    }
}
