/// Traffic shaping for the HTTP/1.1 requests to one Service: Route's rules as plain values, and
/// the decisions the client's sidecar takes for each request (which rule, which backend
/// Service, which fault, whether to retry, which endpoint). Pure Swift without Foundation,
/// shared by the model (PodNet, which decodes and validates the objects) and the sidecar
/// (PodlabProxy, which decides without asking the agent).
///
/// The first rule whose match holds applies; a request no rule matches goes to the Service
/// itself, as if there were no Route.
public struct TrafficRoute: Hashable, Sendable {
    public var namespace: String
    public var name: String
    /// The Service (of `namespace`) whose requests the route shapes.
    public var service: String
    public var rules: [Rule]

    public init(namespace: String, name: String, service: String, rules: [Rule] = []) {
        self.namespace = namespace
        self.name = name
        self.service = service
        self.rules = rules
    }

    /// `namespace/name`, as logs name the route.
    public var qualifiedName: String { "\(namespace)/\(name)" }
    /// `namespace/service`: the Service's key.
    public var serviceKey: String { "\(namespace)/\(service)" }

    /// The first rule that matches `request`, with its index; nil: no rule does.
    public func rule(for request: RouteRequest) -> (index: Int, rule: Rule)? {
        guard let index = rules.firstIndex(where: { $0.match?.matches(request) ?? true }) else { return nil }
        return (index, rules[index])
    }

    /// What a request must be for a rule to apply: every part given must hold.
    public struct Match: Hashable, Sendable {
        /// The path begins with it (`/api` matches `/api`, `/api/x` and `/api?q`, not `/apix`:
        /// a segment prefix, as Gateway API's PathPrefix).
        public var pathPrefix: String?
        /// Upper-case methods; empty: any.
        public var methods: [String]
        /// Exact values by lower-case header name.
        public var headers: [String: String]

        public init(pathPrefix: String? = nil, methods: [String] = [], headers: [String: String] = [:]) {
            self.pathPrefix = pathPrefix
            self.methods = methods
            self.headers = headers
        }

        public func matches(_ request: RouteRequest) -> Bool {
            if let pathPrefix, !Self.path(request.path, hasSegmentPrefix: pathPrefix) { return false }
            if !methods.isEmpty, !methods.contains(request.method) { return false }
            for (name, value) in headers where !request.headerValues(name).contains(value) { return false }
            return true
        }

        /// `/api` is a prefix of `/api` and `/api/items`, not of `/apis`; `/` and `/api/` of any
        /// path that begins with them.
        public static func path(_ path: String, hasSegmentPrefix prefix: String) -> Bool {
            guard path.hasPrefix(prefix) else { return false }
            if prefix.hasSuffix("/") || path.count == prefix.count { return true }
            return path.dropFirst(prefix.count).first == "/"
        }
    }

    /// A Service (of the route's namespace) that gets `weight` percent of a rule's requests.
    public struct Backend: Hashable, Sendable {
        public var service: String
        public var weight: Int

        public init(service: String, weight: Int) {
            self.service = service
            self.weight = weight
        }
    }

    /// What counts as a failed attempt worth another one.
    public enum RetryCondition: String, Hashable, Sendable, CaseIterable {
        /// Any 5xx answer, and no answer at all: a failed connect, a reset or a close before
        /// the response's head, a per-try timeout (Envoy's `5xx`).
        case serverError = "5xx"
        /// 502, 503 or 504 answered, or a per-try timeout (Envoy's `gateway-error`).
        case gatewayError = "gateway-error"
        /// The connection to the endpoint could not be made.
        case connectFailure = "connect-failure"
        /// The endpoint reset or closed the connection before the response's head.
        case reset
    }

    /// How one attempt ended.
    public enum AttemptOutcome: Hashable, Sendable {
        case response(status: Int)
        case connectFailure
        case reset
        case perTryTimeout
    }

    public struct Retry: Hashable, Sendable {
        /// Retries after the first try (Istio's `attempts`): at most `attempts + 1` tries.
        public var attempts: Int
        /// Each try's limit; nil: only the rule's timeout.
        public var perTryTimeout: Duration?
        public var retryOn: [RetryCondition]

        public init(attempts: Int, perTryTimeout: Duration? = nil, retryOn: [RetryCondition] = [.serverError]) {
            self.attempts = attempts
            self.perTryTimeout = perTryTimeout
            self.retryOn = retryOn
        }

        /// Whether an attempt that ended as `outcome` counts as failed under `retryOn`.
        public func isRetriable(_ outcome: AttemptOutcome) -> Bool {
            retryOn.contains { condition in
                switch (condition, outcome) {
                case let (.serverError, .response(status)): (500...599).contains(status)
                case (.serverError, _): true
                case let (.gatewayError, .response(status)): [502, 503, 504].contains(status)
                case (.gatewayError, .perTryTimeout): true
                case (.connectFailure, .connectFailure): true
                case (.reset, .reset): true
                default: false
                }
            }
        }

        /// Whether another try follows a failed one: `tries` made so far (the first counts),
        /// the outcome retriable, and room left in the budget.
        public func shouldRetry(_ outcome: AttemptOutcome, tries: Int, budgetAllows: Bool) -> RetryDecision {
            guard isRetriable(outcome) else { return .no(reason: "not retriable") }
            guard tries <= attempts else { return .no(reason: "retries exhausted (\(attempts))") }
            guard budgetAllows else { return .no(reason: "retry budget exhausted") }
            return .retry
        }
    }

    public enum RetryDecision: Hashable, Sendable {
        case retry
        case no(reason: String)
    }

    public struct Fault: Hashable, Sendable {
        public struct Delay: Hashable, Sendable {
            public var fixed: Duration
            /// Of the rule's requests, 0–100.
            public var percent: Int

            public init(fixed: Duration, percent: Int) {
                self.fixed = fixed
                self.percent = percent
            }
        }

        public struct Abort: Hashable, Sendable {
            /// The status answered instead of forwarding, 200–599.
            public var status: Int
            public var percent: Int

            public init(status: Int, percent: Int) {
                self.status = status
                self.percent = percent
            }
        }

        public var delay: Delay?
        public var abort: Abort?

        public init(delay: Delay? = nil, abort: Abort? = nil) {
            self.delay = delay
            self.abort = abort
        }

        /// The faults for one request given two independent rolls in 0..<100 (a request is
        /// delayed when its roll is below the percent; 100 % always, 0 % never).
        public func decide(delayRoll: Int, abortRoll: Int) -> FaultDecision {
            FaultDecision(delay: delay.flatMap { delayRoll < $0.percent ? $0.fixed : nil },
                          abortStatus: abort.flatMap { abortRoll < $0.percent ? $0.status : nil })
        }
    }

    public struct FaultDecision: Hashable, Sendable {
        /// Wait this long before forwarding (or aborting).
        public var delay: Duration?
        /// Answer this status instead of forwarding.
        public var abortStatus: Int?

        public init(delay: Duration? = nil, abortStatus: Int? = nil) {
            self.delay = delay
            self.abortStatus = abortStatus
        }
    }

    public struct Rule: Hashable, Sendable {
        /// nil: every request.
        public var match: Match?
        /// Weighted Services (weights summing to 100); empty: the route's Service itself.
        public var backends: [Backend]
        /// The whole request's limit, retries included; nil: none.
        public var timeout: Duration?
        public var retries: Retry?
        public var fault: Fault?

        public init(match: Match? = nil, backends: [Backend] = [], timeout: Duration? = nil, retries: Retry? = nil, fault: Fault? = nil) {
            self.match = match
            self.backends = backends
            self.timeout = timeout
            self.retries = retries
            self.fault = fault
        }

        /// The backend Service for a request given a roll in 0..<100 (the sum of the weights):
        /// the first whose cumulative weight exceeds it. nil: the route's Service itself.
        public func backend(roll: Int) -> String? {
            guard !backends.isEmpty else { return nil }
            var total = 0
            for backend in backends {
                total += backend.weight
                if roll < total { return backend.service }
            }
            return backends.last { $0.weight > 0 }?.service ?? backends[backends.count - 1].service
        }
    }
}

/// What the client's sidecar knows of a request when it routes it.
public struct RouteRequest: Hashable, Sendable {
    public var method: String
    /// Without the query and fragment.
    public var path: String
    /// Header values by lower-case name.
    public var headers: [String: [String]]

    public init(method: String, target: String, headers: [(name: String, value: String)] = []) {
        self.method = method
        let end = target.firstIndex { $0 == "?" || $0 == "#" } ?? target.endIndex
        path = String(target[..<end])
        var byName: [String: [String]] = [:]
        for (name, value) in headers { byName[name.lowercased(), default: []].append(value) }
        self.headers = byName
    }

    public func headerValues(_ name: String) -> [String] { headers[name.lowercased()] ?? [] }

    /// The methods RFC 9110 (9.2.2) calls idempotent.
    public static let idempotentMethods: Set<String> = ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]

    /// The most request body a sidecar keeps to send again: Envoy buffers a body for retries up
    /// to its per-request buffer limit and retries only what it buffered; here 64 KiB.
    public static let retryBufferLimit = 64 * 1024

    /// Whether a failed try may be sent again: an idempotent method whose body, if it has one,
    /// the sidecar still holds whole (`bodyBytes` so far, at most `retryBufferLimit`).
    public static func isRetriable(method: String, bodyBytes: Int) -> Bool {
        idempotentMethods.contains(method) && keepsForRetry(bodyBytes: bodyBytes)
    }

    /// Whether a body of `bodyBytes` (so far) is still kept for a retry.
    public static func keepsForRetry(bodyBytes: Int) -> Bool { bodyBytes <= retryBufferLimit }
}

/// Envoy's back-off between tries: fully jittered exponential, a wait drawn uniformly below a
/// ceiling that starts at `base` (25 ms) and doubles with each retry up to `maximum` (250 ms,
/// ten times the base: Envoy's defaults, `JitteredExponentialBackOffStrategy`).
public struct RetryBackoff: Hashable, Sendable {
    public var base: Duration
    public var maximum: Duration

    public init(base: Duration = .milliseconds(25), maximum: Duration = .milliseconds(250)) {
        self.base = base
        self.maximum = maximum
    }

    /// The ceiling before retry `retry` (1 for the first retry): base × 2^(retry − 1), at most `maximum`.
    public func ceiling(retry: Int) -> Duration {
        let doublings = min(max(retry - 1, 0), 30)
        let nanoseconds = Self.nanoseconds(base) << doublings
        return min(.nanoseconds(nanoseconds), maximum)
    }

    /// The wait before retry `retry`, for a `roll` uniform in [0, 1).
    public func delay(retry: Int, roll: Double) -> Duration {
        let ceiling = Self.nanoseconds(self.ceiling(retry: retry))
        return .nanoseconds(Int64((Double(ceiling) * min(max(roll, 0), 1)).rounded(.down)))
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// Envoy's retry budget: retries in flight may be at most `percent` of the requests in flight
/// (of this sidecar), but always at least `minimumConcurrency`, so a lone request may retry.
public struct RetryBudget: Hashable, Sendable {
    public var percent: Int
    public var minimumConcurrency: Int

    public init(percent: Int = 20, minimumConcurrency: Int = 3) {
        self.percent = percent
        self.minimumConcurrency = minimumConcurrency
    }

    public func allows(activeRequests: Int, activeRetries: Int) -> Bool {
        activeRetries < max(minimumConcurrency, activeRequests * percent / 100)
    }
}

/// How a sidecar picks one of a Service's endpoints for a request.
public enum LoadBalancing: String, Hashable, Sendable, CaseIterable {
    /// In turn (the default).
    case roundRobin = "round-robin"
    /// Power of two choices over the requests in flight, as Envoy's LEAST_REQUEST: two
    /// endpoints at random, the one with fewer.
    case leastRequest = "least-request"

    /// The Service annotation that chooses it.
    public static let annotation = "podlab.dev/load-balancer"

    /// P2C: of the endpoints `first` and `second` (two distinct indices, see `pair`), the one
    /// with fewer requests in flight; a tie goes to `first`.
    public static func leastRequest(active: [Int], first: Int, second: Int) -> Int {
        active[second] < active[first] ? second : first
    }

    /// Two distinct indices of `count` from two random numbers (one index when `count` is 1).
    public static func pair(count: Int, random1: Int, random2: Int) -> (Int, Int) {
        let first = abs(random1 % count)
        guard count > 1 else { return (first, first) }
        return (first, (first + 1 + abs(random2 % (count - 1))) % count)
    }
}

/// Go's `time.ParseDuration` for what a Route holds (`2s`, `500ms`, `1m30s`, `1.5s`; units
/// ns, us, µs, ms, s, m, h), so a manifest written for Istio or Gateway API reads the same.
public enum RouteDuration {
    public enum ParseError: Error, Hashable, Sendable {
        case malformed
        case negative
    }

    public static func parse(_ text: String) -> Result<Duration, ParseError> {
        var rest = Substring(text)
        var negative = false
        if rest.first == "-" || rest.first == "+" {
            negative = rest.first == "-"
            rest = rest.dropFirst()
        }
        if rest == "0" { return .success(.zero) }
        guard !rest.isEmpty else { return .failure(.malformed) }
        var total = Duration.zero
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number.filter({ $0 == "." }).count <= 1, number != "." else { return .failure(.malformed) }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            rest = rest.dropFirst(unit.count)
            let nanoseconds: Int64
            switch unit {
            case "ns": nanoseconds = 1
            case "us", "µs", "μs": nanoseconds = 1_000
            case "ms": nanoseconds = 1_000_000
            case "s": nanoseconds = 1_000_000_000
            case "m": nanoseconds = 60_000_000_000
            case "h": nanoseconds = 3_600_000_000_000
            default: return .failure(.malformed)
            }
            let parts = number.split(separator: ".", omittingEmptySubsequences: false)
            guard let whole = parts[0].isEmpty ? 0 : Int64(parts[0]), whole < Int64.max / nanoseconds else { return .failure(.malformed) }
            var value = whole * nanoseconds
            if parts.count == 2, !parts[1].isEmpty {
                var scale = nanoseconds
                for digit in parts[1] {
                    scale /= 10
                    guard scale > 0 else { break }
                    value += Int64(digit.wholeNumberValue ?? 0) * scale
                }
            }
            total += .nanoseconds(value)
        }
        if negative, total != .zero { return .failure(.negative) }
        return .success(total)
    }

    /// `2s`, `500ms`, `1.5s`: the shortest of s and ms (as a manifest writes it).
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
        return "\(milliseconds)ms"
    }
}
