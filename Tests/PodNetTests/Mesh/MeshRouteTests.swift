import Testing
@testable import PodNet

@Suite("Route objects: decoding and validation")
struct MeshRouteObjectTests {
    static let header = "apiVersion: podlab.dev/v1\nkind: Route\nmetadata: {name: r, namespace: b}\n"

    static func route(_ yaml: String) throws -> MeshRoute {
        try MeshRoute(json: YAMLReader.value(from: header + yaml))
    }

    static func errors(_ yaml: String) throws -> [String] {
        try route(yaml).validationErrors().map(\.description)
    }

    @Test("a full route decodes, validates, writes back, and reads as the decision's rules")
    func roundTrip() throws {
        let route = try Self.route("""
            spec:
              service: web
              rules:
              - match: {pathPrefix: /api, methods: [GET], headers: {X-Canary: "1"}}
                backends: [{service: web-v1, weight: 90}, {service: web-v2, weight: 10}]
                timeout: 2s
                retries: {attempts: 3, perTryTimeout: 500ms, retryOn: [5xx, connect-failure, reset]}
                fault: {delay: {fixed: 100ms, percent: 10}, abort: {status: 503, percent: 5}}
              - backends: [{service: web-v1}]
              - retries: {attempts: 2}
            """)
        #expect(route.validationErrors().isEmpty)
        #expect(try MeshRoute(json: route.json) == route)
        let traffic = route.traffic
        #expect(traffic.qualifiedName == "b/r" && traffic.serviceKey == "b/web")
        #expect(traffic.rules[0] == TrafficRoute.Rule(
            match: .init(pathPrefix: "/api", methods: ["GET"], headers: ["x-canary": "1"]),
            backends: [.init(service: "web-v1", weight: 90), .init(service: "web-v2", weight: 10)],
            timeout: .seconds(2),
            retries: .init(attempts: 3, perTryTimeout: .milliseconds(500), retryOn: [.serverError, .connectFailure, .reset]),
            fault: .init(delay: .init(fixed: .milliseconds(100), percent: 10), abort: .init(status: 503, percent: 5))))
        // One backend without a weight takes everything; retryOn defaults to 5xx.
        #expect(traffic.rules[1].backends == [.init(service: "web-v1", weight: 100)])
        #expect(traffic.rules[2].retries == .init(attempts: 2, perTryTimeout: nil, retryOn: [.serverError]))
        #expect(route.spec.rules[1].backends?[0].weight == nil)
    }

    @Test("the kind is read from manifests and served as podlab.dev/v1 routes (short name rt)")
    func served() throws {
        let object = try AnyKubernetesObject(json: YAMLReader.value(from: Self.header + "spec: {service: web, rules: [{}]}"))
        #expect(object.kind == "Route")
        let served = try #require(ServedResources.find(groupVersion: "podlab.dev/v1", resource: "routes"))
        #expect(served.shortNames == ["rt"] && served.namespaced && served.group == "podlab.dev" && served.kind == "Route")
        #expect(MeshRoute.collectionPath(namespace: "b") == "/apis/podlab.dev/v1/namespaces/b/routes")
    }

    @Test("kubectl explain finds the kind by its short name and describes its rules")
    func explain() throws {
        let resources = ServedResources.all.map {
            DiscoveredResource(groupVersion: $0.groupVersion, resource: $0.resource, singular: $0.singular, shortNames: $0.shortNames, kind: $0.kind)
        }
        let output = try Explain.explain(try Explain.resolve("rt", in: resources, apiVersion: nil), fieldPath: ["spec", "rules", "retries"], recursive: false,
                                         document: OpenAPISchema.v2)
        #expect(output.error == nil)
        #expect(output.text.hasPrefix("GROUP:      podlab.dev\nKIND:       Route\nVERSION:    v1\n\nFIELD: retries <RouteRetries>"), "\(output.text)")
        for field in ["attempts\t<integer>", "perTryTimeout\t<string>", "retryOn\t<[]string>"] { #expect(output.text.contains(field), "\(output.text)") }
    }

    @Test("a wrong type and an unknown field are decoding errors naming the field")
    func decodingErrors() throws {
        func message(_ yaml: String) -> String? {
            do { _ = try Self.route(yaml) } catch { return "\(error)" }
            return nil
        }
        #expect(message("spec: {service: web, rules: [{backends: [{service: a, weight: \"90\"}]}]}")
                == "Route in version \"podlab.dev/v1\" cannot be handled as a Route: json: cannot unmarshal string into field spec.rules[0].backends[0].weight of type int32")
        #expect(message("spec: {service: web, rules: [{retries: {attempts: 1, retryOn: [5xx], backoff: 1s}}]}")
                == "Route in version \"podlab.dev/v1\" cannot be handled as a Route: strict decoding error: unknown field \"spec.rules[0].retries.backoff\"")
    }

    @Test("bad input: each error names the field and the reason", arguments: [
        ("spec: {service: web, rules: [{backends: [{service: a, weight: 90}, {service: b, weight: 20}]}]}",
         "spec.rules[0].backends: Invalid value: 110: the weights must sum to 100"),
        ("spec: {service: web, rules: [{backends: [{service: a, weight: 50}]}]}",
         "spec.rules[0].backends: Invalid value: 50: the weights must sum to 100"),
        ("spec: {service: web, rules: [{backends: [{service: a, weight: -10}, {service: b, weight: 100}]}]}",
         "spec.rules[0].backends[0].weight: Invalid value: -10: must be between 0 and 100"),
        ("spec: {service: web, rules: [{backends: [{service: a}, {service: b, weight: 100}]}]}",
         "spec.rules[0].backends[0].weight: Required value: each of several backends needs a weight (percent, summing to 100)"),
        ("spec: {service: web, rules: [{backends: []}]}",
         "spec.rules[0].backends: Required value: list one backend Service or more, or leave `backends` out to send the rule's requests to the route's Service"),
        ("spec: {service: web, rules: [{backends: [{service: a, weight: 50}, {service: a, weight: 50}]}]}",
         "spec.rules[0].backends[1].service: Duplicate value: \"a\""),
        ("spec: {service: web, rules: [{fault: {delay: {fixed: -100ms, percent: 10}}}]}",
         "spec.rules[0].fault.delay.fixed: Invalid value: \"-100ms\": must not be negative"),
        ("spec: {service: web, rules: [{fault: {delay: {fixed: 100ms, percent: 101}}}]}",
         "spec.rules[0].fault.delay.percent: Invalid value: 101: must be between 0 and 100"),
        ("spec: {service: web, rules: [{fault: {abort: {status: 503, percent: -1}}}]}",
         "spec.rules[0].fault.abort.percent: Invalid value: -1: must be between 0 and 100"),
        ("spec: {service: web, rules: [{fault: {abort: {status: 600}}}]}",
         "spec.rules[0].fault.abort.status: Invalid value: 600: must be an HTTP status between 200 and 599"),
        ("spec: {service: web, rules: [{fault: {abort: {status: 199}}}]}",
         "spec.rules[0].fault.abort.status: Invalid value: 199: must be an HTTP status between 200 and 599"),
        ("spec: {service: web, rules: [{fault: {}}]}", "spec.rules[0].fault: Required value: must specify `delay` or `abort`"),
        ("spec: {service: web, rules: [{retries: {attempts: 2, retryOn: [5xx, timeout]}}]}",
         "spec.rules[0].retries.retryOn[1]: Unsupported value: \"timeout\": supported values: \"5xx\", \"gateway-error\", \"connect-failure\", \"reset\""),
        ("spec: {service: web, rules: [{retries: {attempts: 11}}]}", "spec.rules[0].retries.attempts: Invalid value: 11: must be between 0 and 10"),
        ("spec: {service: web, rules: [{retries: {retryOn: [reset]}}]}",
         "spec.rules[0].retries.attempts: Required value: the number of retries after the first try"),
        ("spec: {service: web, rules: [{timeout: 2 seconds}]}",
         "spec.rules[0].timeout: Invalid value: \"2 seconds\": must be a duration such as `500ms`, `2s` or `1m30s` (units ns, us, ms, s, m, h)"),
        ("spec: {service: web, rules: [{timeout: \"2\"}]}",
         "spec.rules[0].timeout: Invalid value: \"2\": must be a duration such as `500ms`, `2s` or `1m30s` (units ns, us, ms, s, m, h)"),
        ("spec: {service: web, rules: [{timeout: 0s}]}", "spec.rules[0].timeout: Invalid value: \"0s\": must be greater than 0"),
        ("spec: {service: web, rules: [{retries: {attempts: 1, perTryTimeout: -1s}}]}",
         "spec.rules[0].retries.perTryTimeout: Invalid value: \"-1s\": must not be negative"),
        ("spec: {service: web, rules: [{match: {pathPrefix: api}}]}",
         "spec.rules[0].match.pathPrefix: Invalid value: \"api\": must begin with `/` and hold no query or fragment"),
        ("spec: {service: web, rules: [{match: {methods: [get]}}]}",
         "spec.rules[0].match.methods[0]: Unsupported value: \"get\": supported values: \"GET\", \"HEAD\", \"POST\", \"PUT\", \"DELETE\", \"OPTIONS\", \"PATCH\", \"TRACE\", \"CONNECT\""),
        ("spec: {service: web, rules: [{match: {headers: {\"x canary\": \"1\"}}}]}",
         "spec.rules[0].match.headers: Invalid value: \"x canary\": a header name must be an HTTP token (letters, digits and !#$%&'*+-.^_`|~)"),
        ("spec: {rules: [{}]}", "spec.service: Required value: the Service (of the route's namespace) whose requests the route shapes"),
        ("spec: {service: web}", "spec.rules: Required value: a route needs at least one rule"),
    ])
    func badInput(yaml: String, message: String) throws {
        #expect(try Self.errors(yaml) == [message])
    }

    @Test("a bad name is refused as for every object")
    func badName() throws {
        let route = try MeshRoute(json: YAMLReader.value(from: "apiVersion: podlab.dev/v1\nkind: Route\nmetadata: {name: Bad_Name}\nspec: {service: web, rules: [{}]}"))
        #expect(throws: InvalidObjectError.self) { try route.validated() }
        #expect(route.validationErrors().first?.field.description == "metadata.name")
    }
}

@Suite("Route decisions: rule, backend, fault, retry, budget, least-request")
struct TrafficRouteDecisionTests {
    static let route = TrafficRoute(namespace: "b", name: "r", service: "web", rules: [
        .init(match: .init(pathPrefix: "/api", methods: ["GET"], headers: ["x-canary": "1"]), backends: [.init(service: "web-v2", weight: 100)]),
        .init(match: .init(pathPrefix: "/api"), backends: [.init(service: "web-v1", weight: 90), .init(service: "web-v2", weight: 10)]),
        .init(match: .init(methods: ["POST"])),
    ])

    @Test("the first rule that matches applies; none matching: nil", arguments: [
        ("GET", "/api/items?x=1", [("X-Canary", "1")], 0 as Int?),
        ("GET", "/api", [("x-canary", "1")], 0),
        ("GET", "/api/items", [("x-canary", "2")], 1),
        ("HEAD", "/api/items", [("x-canary", "1")], 1),
        ("GET", "/apis", [("x-canary", "1")], nil),
        ("POST", "/apis", [], 2),
        ("GET", "/", [], nil),
    ])
    func ruleChoice(method: String, target: String, headers: [(String, String)], expected: Int?) {
        let request = RouteRequest(method: method, target: target, headers: headers.map { (name: $0.0, value: $0.1) })
        #expect(Self.route.rule(for: request)?.index == expected)
    }

    @Test("path prefixes match whole segments")
    func segments() {
        #expect(TrafficRoute.Match.path("/api/x", hasSegmentPrefix: "/api"))
        #expect(TrafficRoute.Match.path("/api", hasSegmentPrefix: "/api"))
        #expect(!TrafficRoute.Match.path("/apix", hasSegmentPrefix: "/api"))
        #expect(TrafficRoute.Match.path("/anything", hasSegmentPrefix: "/"))
        #expect(TrafficRoute.Match.path("/api/x", hasSegmentPrefix: "/api/"))
    }

    @Test("a roll in 0..<100 picks the backend by cumulative weight; 90/10 splits 90 rolls to 10")
    func weights() {
        let rule = Self.route.rules[1]
        #expect(rule.backend(roll: 0) == "web-v1")
        #expect(rule.backend(roll: 89) == "web-v1")
        #expect(rule.backend(roll: 90) == "web-v2")
        #expect(rule.backend(roll: 99) == "web-v2")
        let counts = Dictionary(grouping: (0..<100).compactMap { rule.backend(roll: $0) }, by: { $0 }).mapValues(\.count)
        #expect(counts == ["web-v1": 90, "web-v2": 10])
        #expect(Self.route.rules[2].backend(roll: 5) == nil)
        // A zero weight never gets a request.
        let zero = TrafficRoute.Rule(backends: [.init(service: "a", weight: 0), .init(service: "b", weight: 100)])
        #expect((0..<100).allSatisfy { zero.backend(roll: $0) == "b" })
    }

    @Test("faults apply below their percent")
    func faults() {
        let fault = TrafficRoute.Fault(delay: .init(fixed: .milliseconds(100), percent: 10), abort: .init(status: 503, percent: 5))
        #expect(fault.decide(delayRoll: 9, abortRoll: 5) == .init(delay: .milliseconds(100), abortStatus: nil))
        #expect(fault.decide(delayRoll: 10, abortRoll: 4) == .init(delay: nil, abortStatus: 503))
        #expect(fault.decide(delayRoll: 99, abortRoll: 99) == .init())
        let always = TrafficRoute.Fault(abort: .init(status: 418, percent: 100))
        #expect((0..<100).allSatisfy { always.decide(delayRoll: $0, abortRoll: $0).abortStatus == 418 })
        let never = TrafficRoute.Fault(delay: .init(fixed: .seconds(1), percent: 0))
        #expect((0..<100).allSatisfy { never.decide(delayRoll: $0, abortRoll: $0) == .init() })
    }

    @Test("retry conditions", arguments: [
        ([TrafficRoute.RetryCondition.serverError], TrafficRoute.AttemptOutcome.response(status: 500), true),
        ([.serverError], .response(status: 404), false),
        ([.serverError], .response(status: 200), false),
        ([.serverError], .reset, true),
        ([.serverError], .connectFailure, true),
        ([.serverError], .perTryTimeout, true),
        ([.gatewayError], .response(status: 503), true),
        ([.gatewayError], .response(status: 500), false),
        ([.gatewayError], .perTryTimeout, true),
        ([.gatewayError], .reset, false),
        ([.connectFailure], .connectFailure, true),
        ([.connectFailure], .response(status: 503), false),
        ([.reset], .reset, true),
        ([.reset], .connectFailure, false),
        ([.connectFailure, .reset], .perTryTimeout, false),
    ])
    func retryConditions(retryOn: [TrafficRoute.RetryCondition], outcome: TrafficRoute.AttemptOutcome, retriable: Bool) {
        #expect(TrafficRoute.Retry(attempts: 1, retryOn: retryOn).isRetriable(outcome) == retriable)
    }

    @Test("a retry follows while attempts and the budget last")
    func retryDecision() {
        let retry = TrafficRoute.Retry(attempts: 2, retryOn: [.serverError])
        #expect(retry.shouldRetry(.response(status: 503), tries: 1, budgetAllows: true) == .retry)
        #expect(retry.shouldRetry(.response(status: 503), tries: 2, budgetAllows: true) == .retry)
        #expect(retry.shouldRetry(.response(status: 503), tries: 3, budgetAllows: true) == .no(reason: "retries exhausted (2)"))
        #expect(retry.shouldRetry(.response(status: 503), tries: 1, budgetAllows: false) == .no(reason: "retry budget exhausted"))
        #expect(retry.shouldRetry(.response(status: 404), tries: 1, budgetAllows: true) == .no(reason: "not retriable"))
        #expect(TrafficRoute.Retry(attempts: 0).shouldRetry(.reset, tries: 1, budgetAllows: true) == .no(reason: "retries exhausted (0)"))
    }

    @Test("only idempotent requests are retried, with a body only while it fits the 64 KiB retry buffer")
    func retriableRequests() {
        #expect(RouteRequest.isRetriable(method: "GET", bodyBytes: 0))
        #expect(RouteRequest.isRetriable(method: "DELETE", bodyBytes: 0))
        // A body is kept for retries up to 64 KiB, as Envoy buffers one up to its limit.
        #expect(RouteRequest.isRetriable(method: "PUT", bodyBytes: 65_536))
        #expect(!RouteRequest.isRetriable(method: "PUT", bodyBytes: 65_537))
        #expect(!RouteRequest.isRetriable(method: "POST", bodyBytes: 0))
        #expect(!RouteRequest.isRetriable(method: "PATCH", bodyBytes: 0))
    }

    @Test("Envoy's back-off: a ceiling of 25 ms doubling per retry up to 250 ms, the wait drawn below it", arguments: [
        (1, 25), (2, 50), (3, 100), (4, 200), (5, 250), (9, 250), (40, 250), (0, 25),
    ])
    func backoffCeiling(retry: Int, milliseconds: Int64) {
        #expect(RetryBackoff().ceiling(retry: retry) == .milliseconds(milliseconds))
    }

    @Test("the back-off's wait is the roll's share of the ceiling")
    func backoffDelay() {
        let backoff = RetryBackoff()
        #expect(backoff.delay(retry: 1, roll: 0) == .zero)
        #expect(backoff.delay(retry: 1, roll: 0.5) == .microseconds(12_500))
        #expect(backoff.delay(retry: 3, roll: 0.999) == .nanoseconds(99_900_000))
        #expect(backoff.delay(retry: 7, roll: 0.2) == .milliseconds(50))
        #expect(RetryBackoff(base: .milliseconds(1), maximum: .milliseconds(4)).delay(retry: 4, roll: 0.5) == .milliseconds(2))
    }

    @Test("the retry budget: 20 % of the requests in flight, at least 3", arguments: [
        (0, 0, true), (1, 2, true), (1, 3, false), (10, 2, true), (10, 3, false), (100, 19, true), (100, 20, false), (50, 9, true), (50, 10, false),
    ])
    func budget(active: Int, retries: Int, allowed: Bool) {
        #expect(RetryBudget().allows(activeRequests: active, activeRetries: retries) == allowed)
    }

    @Test("least-request: of two distinct endpoints, the one with fewer requests in flight")
    func leastRequest() {
        #expect(LoadBalancing.leastRequest(active: [5, 1, 3], first: 0, second: 1) == 1)
        #expect(LoadBalancing.leastRequest(active: [5, 1, 3], first: 2, second: 0) == 2)
        #expect(LoadBalancing.leastRequest(active: [2, 2], first: 1, second: 0) == 1)
        for count in 1...5 {
            for a in 0..<20 {
                for b in 0..<20 {
                    let (first, second) = LoadBalancing.pair(count: count, random1: a, random2: b)
                    #expect((0..<count).contains(first) && (0..<count).contains(second))
                    #expect(count == 1 || first != second)
                }
            }
        }
        // Every pair shows up, so a busy endpoint loses to any idle one it is drawn with: over all
        // pairs, the endpoint with most requests in flight is never chosen.
        let active = [9, 0, 0, 0]
        var chosen: [Int: Int] = [:]
        for a in 0..<4 { for b in 0..<3 {
            let (first, second) = LoadBalancing.pair(count: 4, random1: a, random2: b)
            chosen[LoadBalancing.leastRequest(active: active, first: first, second: second), default: 0] += 1
        } }
        #expect(chosen[0] == nil && chosen.values.reduce(0, +) == 12)
    }

    @Test("durations read as Go's", arguments: [
        ("2s", Duration.seconds(2) as Duration?), ("500ms", .milliseconds(500)), ("1m30s", .seconds(90)), ("1.5s", .milliseconds(1500)),
        ("250us", .microseconds(250)), ("1h", .seconds(3600)), ("0", .zero), ("0s", .zero), ("+1s", .seconds(1)),
        ("2", nil), ("s", nil), ("1.2.3s", nil), ("", nil), ("1d", nil), ("-1s", nil), ("1 s", nil),
    ])
    func durations(text: String, expected: Duration?) {
        if case let .success(duration) = RouteDuration.parse(text) { #expect(duration == expected) } else { #expect(expected == nil) }
    }

    @Test("a negative duration is told apart from a malformed one")
    func negative() {
        #expect(RouteDuration.parse("-100ms") == .failure(.negative))
        #expect(RouteDuration.parse("-x") == .failure(.malformed))
        #expect(RouteDuration.format(.milliseconds(1500)) == "1500ms" && RouteDuration.format(.seconds(2)) == "2s")
    }
}

@Suite("The podlab.dev/load-balancer annotation of a Service")
struct LoadBalancerAnnotationTests {
    static func errors(_ annotation: String) throws -> [String] {
        let service = try Service(json: YAMLReader.value(from: """
            apiVersion: v1
            kind: Service
            metadata: {name: web, annotations: {podlab.dev/load-balancer: \(annotation)}}
            spec: {selector: {app: web}, ports: [{port: 80}]}
            """))
        return ServiceValidation.validate(service).map(\.description)
    }

    @Test("least-request and round-robin are accepted; anything else names the annotation")
    func annotation() throws {
        #expect(try Self.errors("least-request").isEmpty)
        #expect(try Self.errors("round-robin").isEmpty)
        #expect(try Self.errors("random") == [
            "metadata.annotations[podlab.dev/load-balancer]: Unsupported value: \"random\": supported values: \"round-robin\", \"least-request\"",
        ])
    }
}
