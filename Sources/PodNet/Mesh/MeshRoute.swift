@_exported import MeshRouting

/// A route (`apiVersion: podlab.dev/v1`, `kind: Route`): traffic shaping for the HTTP/1.1
/// requests to one Service of its namespace, enforced by each client's sidecar on the way out
/// (weighted backends, a timeout, retries, injected faults). In the spirit of Istio's
/// VirtualService and Gateway API's HTTPRoute, smaller. The decisions are `TrafficRoute`'s.
///
/// ```yaml
/// apiVersion: podlab.dev/v1
/// kind: Route
/// metadata: {name: web, namespace: default}
/// spec:
///   service: web
///   rules:
///   - match: {pathPrefix: /api, methods: [GET], headers: {x-canary: "1"}}
///     backends: [{service: web-v1, weight: 90}, {service: web-v2, weight: 10}]
///     timeout: 2s
///     retries: {attempts: 3, perTryTimeout: 500ms, retryOn: [5xx, connect-failure, reset]}
///     fault: {delay: {fixed: 100ms, percent: 10}, abort: {status: 503, percent: 5}}
/// ```
///
/// The Swift type is `MeshRoute`: `Route` is taken by the kernel layer's routes.
public struct MeshRoute: KubernetesObject, Hashable {
    public static let kind = "Route"
    public static let apiVersion = "podlab.dev/v1"

    public var metadata: ObjectMeta
    public var spec: MeshRouteSpec

    public init(metadata: ObjectMeta = ObjectMeta(), spec: MeshRouteSpec = MeshRouteSpec()) {
        self.metadata = metadata
        self.spec = spec
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        try reader.typeInformation(of: MeshRoute.self)
        metadata = try reader.object("metadata") ?? ObjectMeta()
        spec = try reader.object("spec") ?? MeshRouteSpec()
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.setTypeInformation(of: MeshRoute.self)
        writer.set("metadata", metadata.json)
        writer.set("spec", spec.json)
    }

    /// As the API server stores it: in `namespace` when it names none.
    public func applyingDefaults(namespace: String) -> MeshRoute {
        var route = self
        if route.metadata.namespace.isEmpty { route.metadata.namespace = namespace }
        return route
    }

    /// The rules as the sidecar decides with them (a valid route; an invalid duration reads as none).
    public var traffic: TrafficRoute {
        TrafficRoute(namespace: metadata.namespace.isEmpty ? "default" : metadata.namespace, name: metadata.name, service: spec.service,
                     rules: spec.rules.map(\.traffic))
    }

    /// The field errors, all of them (an empty list: valid).
    public func validationErrors() -> [FieldError] { MeshRouteValidation.validate(self) }

    public func validated() throws(InvalidObjectError) {
        let errors = validationErrors()
        if !errors.isEmpty { throw InvalidObjectError(kind: MeshRoute.kind, name: metadata.name, errors: errors) }
    }
}

extension MeshRoute: KubernetesResource {
    public static let resource = "routes"
    public static let isNamespaced = true
}

/// `spec` of a route.
public struct MeshRouteSpec: JSONObjectCodable, Hashable {
    /// The Service of the route's namespace whose requests it shapes.
    public var service: String
    /// The first that matches a request applies; none matches: the request goes to `service`.
    public var rules: [MeshRouteRule]

    public init(service: String = "", rules: [MeshRouteRule] = []) {
        self.service = service
        self.rules = rules
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        service = try reader.string("service") ?? ""
        rules = try reader.objects("rules")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("service", omittingEmpty: service)
        writer.set("rules", omittingEmpty: rules)
    }
}

/// `spec.rules[]`.
public struct MeshRouteRule: JSONObjectCodable, Hashable {
    public var match: MeshRouteMatch?
    /// nil: not given (the route's Service); given empty: refused.
    public var backends: [MeshRouteBackend]?
    /// A Go duration (`2s`).
    public var timeout: String?
    public var retries: MeshRouteRetries?
    public var fault: MeshRouteFault?

    public init(match: MeshRouteMatch? = nil, backends: [MeshRouteBackend]? = nil, timeout: String? = nil,
                retries: MeshRouteRetries? = nil, fault: MeshRouteFault? = nil) {
        self.match = match
        self.backends = backends
        self.timeout = timeout
        self.retries = retries
        self.fault = fault
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        match = try reader.object("match")
        backends = reader.contains("backends") ? try reader.objects("backends") : nil
        timeout = try reader.string("timeout")
        retries = try reader.object("retries")
        fault = try reader.object("fault")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        if let match { writer.set("match", match.json) }
        if let backends { writer.set("backends", .array(backends.map(\.json))) }
        if let timeout { writer.set("timeout", .string(timeout)) }
        if let retries { writer.set("retries", retries.json) }
        if let fault { writer.set("fault", fault.json) }
    }

    var traffic: TrafficRoute.Rule {
        TrafficRoute.Rule(match: match.map { TrafficRoute.Match(pathPrefix: $0.pathPrefix, methods: $0.methods,
                                                                headers: Dictionary($0.headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a })) },
                          backends: (backends ?? []).map { TrafficRoute.Backend(service: $0.service, weight: $0.weight ?? 100) },
                          timeout: timeout.flatMap(MeshRouteValidation.duration),
                          retries: retries.map { retries in
                              TrafficRoute.Retry(attempts: retries.attempts ?? 0, perTryTimeout: retries.perTryTimeout.flatMap(MeshRouteValidation.duration),
                                                 retryOn: retries.retryOn.isEmpty ? [.serverError] : retries.retryOn.compactMap(TrafficRoute.RetryCondition.init(rawValue:)))
                          },
                          fault: fault.map { fault in
                              TrafficRoute.Fault(delay: fault.delay.flatMap { delay in
                                                     MeshRouteValidation.duration(delay.fixed ?? "").map { .init(fixed: $0, percent: delay.percent ?? 100) } },
                                                 abort: fault.abort.map { .init(status: $0.status ?? 0, percent: $0.percent ?? 100) })
                          })
    }
}

/// `match`: every part given must hold.
public struct MeshRouteMatch: JSONObjectCodable, Hashable {
    public var pathPrefix: String?
    public var methods: [String]
    public var headers: [String: String]

    public init(pathPrefix: String? = nil, methods: [String] = [], headers: [String: String] = [:]) {
        self.pathPrefix = pathPrefix
        self.methods = methods
        self.headers = headers
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        pathPrefix = try reader.string("pathPrefix")
        methods = try reader.stringArray("methods") ?? []
        headers = try reader.stringMap("headers") ?? [:]
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        if let pathPrefix { writer.set("pathPrefix", .string(pathPrefix)) }
        writer.set("methods", omittingEmpty: methods)
        if !headers.isEmpty { writer.set("headers", .object(headers.mapValues { .string($0) })) }
    }
}

/// `backends[]`: a Service of the route's namespace and its share.
public struct MeshRouteBackend: JSONObjectCodable, Hashable {
    public var service: String
    /// Percent of the rule's requests; may be left out when there is one backend (100).
    public var weight: Int?

    public init(service: String = "", weight: Int? = nil) {
        self.service = service
        self.weight = weight
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        service = try reader.string("service") ?? ""
        weight = try reader.int32("weight").map(Int.init)
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("service", .string(service))
        if let weight { writer.set("weight", .integer(Int64(weight))) }
    }
}

/// `retries`.
public struct MeshRouteRetries: JSONObjectCodable, Hashable {
    /// Retries after the first try.
    public var attempts: Int?
    public var perTryTimeout: String?
    /// Empty: `5xx`.
    public var retryOn: [String]

    public init(attempts: Int? = nil, perTryTimeout: String? = nil, retryOn: [String] = []) {
        self.attempts = attempts
        self.perTryTimeout = perTryTimeout
        self.retryOn = retryOn
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        attempts = try reader.int32("attempts").map(Int.init)
        perTryTimeout = try reader.string("perTryTimeout")
        retryOn = try reader.stringArray("retryOn") ?? []
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        if let attempts { writer.set("attempts", .integer(Int64(attempts))) }
        if let perTryTimeout { writer.set("perTryTimeout", .string(perTryTimeout)) }
        writer.set("retryOn", omittingEmpty: retryOn)
    }
}

/// `fault`: a delay and/or an abort, each for a percentage of the rule's requests.
public struct MeshRouteFault: JSONObjectCodable, Hashable {
    public struct Delay: JSONObjectCodable, Hashable {
        public var fixed: String?
        public var percent: Int?

        public init(fixed: String? = nil, percent: Int? = nil) {
            self.fixed = fixed
            self.percent = percent
        }

        public init(from reader: ObjectReader) throws(ObjectDecodingError) {
            fixed = try reader.string("fixed")
            percent = try reader.int32("percent").map(Int.init)
            reader.rejectUnreadFields()
        }

        public func write(to writer: inout ObjectWriter) {
            if let fixed { writer.set("fixed", .string(fixed)) }
            if let percent { writer.set("percent", .integer(Int64(percent))) }
        }
    }

    public struct Abort: JSONObjectCodable, Hashable {
        public var status: Int?
        public var percent: Int?

        public init(status: Int? = nil, percent: Int? = nil) {
            self.status = status
            self.percent = percent
        }

        public init(from reader: ObjectReader) throws(ObjectDecodingError) {
            status = try reader.int32("status").map(Int.init)
            percent = try reader.int32("percent").map(Int.init)
            reader.rejectUnreadFields()
        }

        public func write(to writer: inout ObjectWriter) {
            if let status { writer.set("status", .integer(Int64(status))) }
            if let percent { writer.set("percent", .integer(Int64(percent))) }
        }
    }

    public var delay: Delay?
    public var abort: Abort?

    public init(delay: Delay? = nil, abort: Abort? = nil) {
        self.delay = delay
        self.abort = abort
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        delay = try reader.object("delay")
        abort = try reader.object("abort")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        if let delay { writer.set("delay", delay.json) }
        if let abort { writer.set("abort", abort.json) }
    }
}

/// The checks the agent makes before it stores a route, with Kubernetes' message forms.
enum MeshRouteValidation {
    static let methods = MeshPolicyValidation.methods
    static let retryConditions = TrafficRoute.RetryCondition.allCases.map(\.rawValue)

    /// A valid duration's value; nil for a malformed or negative one.
    static func duration(_ text: String) -> Duration? {
        if case let .success(duration) = RouteDuration.parse(text) { return duration }
        return nil
    }

    static func validate(_ route: MeshRoute) -> [FieldError] {
        let path = FieldPath("spec")
        var errors = ObjectMetaValidation.validate(route.metadata, nameErrors: KubernetesNames.dns1123SubdomainErrors)
        if route.spec.service.isEmpty {
            errors.append(.required(path.child("service"), "the Service (of the route's namespace) whose requests the route shapes"))
        } else {
            errors += KubernetesNames.dns1035LabelErrors(route.spec.service).map { .invalid(path.child("service"), .string(route.spec.service), $0) }
        }
        if route.spec.rules.isEmpty {
            errors.append(.required(path.child("rules"), "a route needs at least one rule"))
        }
        for (index, rule) in route.spec.rules.enumerated() {
            errors += validate(rule, path: path.child("rules").index(index))
        }
        return errors
    }

    static func validate(_ rule: MeshRouteRule, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        if let match = rule.match {
            let matchPath = path.child("match")
            if let prefix = match.pathPrefix, !prefix.hasPrefix("/") || prefix.contains("?") || prefix.contains("#") {
                errors.append(.invalid(matchPath.child("pathPrefix"), .string(prefix), "must begin with `/` and hold no query or fragment"))
            }
            for (index, method) in match.methods.enumerated() where !methods.contains(method) {
                errors.append(.notSupported(matchPath.child("methods").index(index), method, supported: methods))
            }
            for name in match.headers.keys.sorted() where !isToken(name) {
                errors.append(.invalid(matchPath.child("headers"), .string(name), "a header name must be an HTTP token (letters, digits and !#$%&'*+-.^_`|~)"))
            }
        }
        if let backends = rule.backends {
            let backendsPath = path.child("backends")
            if backends.isEmpty {
                errors.append(.required(backendsPath, "list one backend Service or more, or leave `backends` out to send the rule's requests to the route's Service"))
            }
            var seen: Set<String> = []
            for (index, backend) in backends.enumerated() {
                let backendPath = backendsPath.index(index)
                if backend.service.isEmpty {
                    errors.append(.required(backendPath.child("service"), ""))
                } else {
                    errors += KubernetesNames.dns1035LabelErrors(backend.service).map { .invalid(backendPath.child("service"), .string(backend.service), $0) }
                    if !seen.insert(backend.service).inserted { errors.append(.duplicate(backendPath.child("service"), .string(backend.service))) }
                }
                if let weight = backend.weight, !(0...100).contains(weight) {
                    errors.append(.invalid(backendPath.child("weight"), .integer(Int64(weight)), "must be between 0 and 100"))
                } else if backend.weight == nil, backends.count > 1 {
                    errors.append(.required(backendPath.child("weight"), "each of several backends needs a weight (percent, summing to 100)"))
                }
            }
            let weights = backends.compactMap(\.weight)
            if backends.count > 1, weights.count == backends.count, weights.allSatisfy({ (0...100).contains($0) }), weights.reduce(0, +) != 100 {
                errors.append(.invalid(backendsPath, .integer(Int64(weights.reduce(0, +))), "the weights must sum to 100"))
            }
            if backends.count == 1, let weight = backends[0].weight, (0...100).contains(weight), weight != 100 {
                errors.append(.invalid(backendsPath, .integer(Int64(weight)), "the weights must sum to 100"))
            }
        }
        if let timeout = rule.timeout { errors += validate(duration: timeout, path: path.child("timeout"), positive: true) }
        if let retries = rule.retries {
            let retriesPath = path.child("retries")
            if let attempts = retries.attempts {
                if !(0...10).contains(attempts) {
                    errors.append(.invalid(retriesPath.child("attempts"), .integer(Int64(attempts)), "must be between 0 and 10"))
                }
            } else {
                errors.append(.required(retriesPath.child("attempts"), "the number of retries after the first try"))
            }
            if let perTry = retries.perTryTimeout { errors += validate(duration: perTry, path: retriesPath.child("perTryTimeout"), positive: true) }
            for (index, condition) in retries.retryOn.enumerated() where TrafficRoute.RetryCondition(rawValue: condition) == nil {
                errors.append(.notSupported(retriesPath.child("retryOn").index(index), condition, supported: retryConditions))
            }
        }
        if let fault = rule.fault {
            let faultPath = path.child("fault")
            if fault.delay == nil, fault.abort == nil {
                errors.append(.required(faultPath, "must specify `delay` or `abort`"))
            }
            if let delay = fault.delay {
                if let fixed = delay.fixed {
                    errors += validate(duration: fixed, path: faultPath.child("delay").child("fixed"), positive: false)
                } else {
                    errors.append(.required(faultPath.child("delay").child("fixed"), "how long to wait before forwarding (`100ms`)"))
                }
                errors += validate(percent: delay.percent, path: faultPath.child("delay").child("percent"))
            }
            if let abort = fault.abort {
                if let status = abort.status {
                    if !(200...599).contains(status) {
                        errors.append(.invalid(faultPath.child("abort").child("status"), .integer(Int64(status)), "must be an HTTP status between 200 and 599"))
                    }
                } else {
                    errors.append(.required(faultPath.child("abort").child("status"), "the HTTP status to answer instead of forwarding"))
                }
                errors += validate(percent: abort.percent, path: faultPath.child("abort").child("percent"))
            }
        }
        return errors
    }

    static func validate(duration text: String, path: FieldPath, positive: Bool) -> [FieldError] {
        switch RouteDuration.parse(text) {
        case .failure(.negative):
            return [.invalid(path, .string(text), "must not be negative")]
        case .failure(.malformed):
            return [.invalid(path, .string(text), "must be a duration such as `500ms`, `2s` or `1m30s` (units ns, us, ms, s, m, h)")]
        case let .success(duration):
            if positive, duration <= .zero { return [.invalid(path, .string(text), "must be greater than 0")] }
            return []
        }
    }

    static func validate(percent: Int?, path: FieldPath) -> [FieldError] {
        guard let percent, !(0...100).contains(percent) else { return [] }
        return [.invalid(path, .integer(Int64(percent)), "must be between 0 and 100")]
    }

    static func isToken(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "!#$%&'*+-.^_`|~".unicodeScalars.contains(scalar))
        }
    }
}
