/// `podlab test --scenario mesh`: the mesh's claims proved on a lab, each with its figure. In a
/// meshed namespace of its own (and a second one, an outsider), echo backends behind Services, a
/// STRICT backend guarded by a MeshPolicy, a flaky backend (half its answers 503) with and
/// without a Route's retries, a 90/10 Route, and two clients: one meshed, one not. The objects
/// it makes, what its clients' curl prints, and the verdict of each case.
public enum MeshScenario {
    public static let name = "mesh"

    /// The meshed namespace of a run: `podlab-mesh-<suffix>`.
    public static func namespace(suffix: String) -> String { "podlab-mesh-\(suffix)" }
    /// A second meshed namespace, whose identity the MeshPolicy does not allow.
    public static func outsiderNamespace(suffix: String) -> String { "podlab-mesh-\(suffix)-outsider" }

    /// The meshed client (in both namespaces) and the client without a sidecar.
    public static let client = "client"
    public static let plainClient = "plain"
    /// The STRICT backend behind Service `web`, which the MeshPolicy guards.
    public static let web = "web"
    /// The backend failing half its requests, behind `flaky` (no Route) and `flaky-retried`.
    public static let flaky = "flaky"
    public static let flakyRetried = "flaky-retried"
    /// The two versions behind `split`, and their own Services.
    public static let split = "split"
    public static let versions = ["v1", "v2"]
    public static let echoPort: Int64 = 8080

    /// The share of requests the flaky backend answers 503 (the issue's 50 %).
    public static let flakyPercent = 50
    /// Retries of the Route over the flaky backend: with 10 a request fails only when 11 draws in
    /// a row fail, 1 in 2 048 (≥ 99 % holds over 500 requests all but never).
    public static let retryAttempts = 10
    /// Requests without and with retries, and through the split.
    public static let flakyRequests = 200
    public static let retriedRequests = 500
    public static let splitRequests = 1000
    /// The split's weights and how far the measured share may be from them.
    public static let splitWeights = (v1: 90, v2: 10)
    public static let splitTolerance = 5.0
    /// Success needed with retries, and the most the backend may succeed without them (else the
    /// flaky mode did not fail enough for the retries to prove anything).
    public static let retriedSuccessFloor = 99.0
    public static let flakySuccessCeiling = 80.0

    // MARK: Objects

    public static func namespaceObject(_ name: String) -> JSONValue {
        ["apiVersion": "v1", "kind": "Namespace",
         "metadata": ["name": .string(name), "labels": [MeshAnnotations.namespaceLabel: .string(MeshAnnotations.enabled)]]]
    }

    /// A client: curl's image asleep, for the scenario to run curl in; `meshed: false` opts it out
    /// of its namespace's mesh.
    public static func clientPod(_ name: String, namespace: String, meshed: Bool) -> JSONValue {
        var metadata: [String: JSONValue] = ["name": .string(name), "namespace": .string(namespace)]
        if !meshed { metadata["annotations"] = [MeshAnnotations.mesh: .string(MeshAnnotations.disabled)] }
        return ["apiVersion": "v1", "kind": "Pod", "metadata": .object(metadata),
                "spec": ["terminationGracePeriodSeconds": 0,
                         "containers": [["name": .string(name), "image": "curl", "command": ["sleep", "3600"]]]]]
    }

    /// An echo server; `failPercent` makes it flaky, `strict` refuses plain text.
    public static func echoPod(_ name: String, namespace: String, labels: [String: String], failPercent: Int = 0, strict: Bool = false) -> JSONValue {
        var metadata: [String: JSONValue] = ["name": .string(name), "namespace": .string(namespace), "labels": .object(labels.mapValues(JSONValue.string))]
        if strict { metadata["annotations"] = [MeshTLSMode.annotation: .string(MeshTLSMode.strict.rawValue)] }
        var container: [String: JSONValue] = [
            "name": "echo", "image": "podlab/echo",
            "ports": [["name": "http", "containerPort": .integer(echoPort)]],
            // A TCP probe: an HTTP one would see the flaky backend's 503s and take it out of its Service.
            "readinessProbe": ["tcpSocket": ["port": .integer(echoPort)], "periodSeconds": 1],
        ]
        if failPercent > 0 { container["env"] = [["name": "ECHO_FAIL_PERCENT", "value": .string(String(failPercent))]] }
        return ["apiVersion": "v1", "kind": "Pod", "metadata": .object(metadata),
                "spec": ["terminationGracePeriodSeconds": 0, "containers": [.object(container)]]]
    }

    public static func service(_ name: String, namespace: String, selector: [String: String]) -> JSONValue {
        ["apiVersion": "v1", "kind": "Service", "metadata": ["name": .string(name), "namespace": .string(namespace)],
         "spec": ["selector": .object(selector.mapValues(JSONValue.string)), "ports": [["name": "http", "port": 80, "targetPort": "http"]]]]
    }

    /// Admits to `web` only identities of the scenario's own namespace.
    public static func policy(namespace: String) -> JSONValue {
        ["apiVersion": .string(MeshPolicy.apiVersion), "kind": .string(MeshPolicy.kind),
         "metadata": ["name": "web-from-own-namespace", "namespace": .string(namespace)],
         "spec": ["selector": ["matchLabels": ["app": .string(web)]],
                  "rules": [["from": [["namespaces": [.string(namespace)]]]]]]]
    }

    /// Retries `attempts` times on 5xx (the scenario's 10; fewer to see it fail).
    public static func retryRoute(namespace: String, attempts: Int) -> JSONValue {
        ["apiVersion": .string(MeshRoute.apiVersion), "kind": .string(MeshRoute.kind),
         "metadata": ["name": .string(flakyRetried), "namespace": .string(namespace)],
         "spec": ["service": .string(flakyRetried),
                  "rules": [["retries": ["attempts": .integer(Int64(attempts)), "retryOn": ["5xx"]]]]]]
    }

    public static func splitRoute(namespace: String) -> JSONValue {
        ["apiVersion": .string(MeshRoute.apiVersion), "kind": .string(MeshRoute.kind),
         "metadata": ["name": .string(split), "namespace": .string(namespace)],
         "spec": ["service": .string(split),
                  "rules": [["backends": [["service": "split-v1", "weight": .integer(Int64(splitWeights.v1))],
                                          ["service": "split-v2", "weight": .integer(Int64(splitWeights.v2))]]]]]]
    }

    /// Everything but the clients, in the order to create it: Services, Routes and the policy
    /// before any pod, so every sidecar's first lists hold them.
    public static func backendObjects(namespace: String, retryAttempts: Int) -> [JSONValue] {
        var objects: [JSONValue] = [
            service(web, namespace: namespace, selector: ["app": web]),
            service(flaky, namespace: namespace, selector: ["app": flaky]),
            service(flakyRetried, namespace: namespace, selector: ["app": flaky]),
            service(split, namespace: namespace, selector: ["app": split]),
        ]
        objects += versions.map { service("split-\($0)", namespace: namespace, selector: ["app": split, "version": $0]) }
        objects += [policy(namespace: namespace), retryRoute(namespace: namespace, attempts: retryAttempts), splitRoute(namespace: namespace)]
        objects += [
            echoPod(web, namespace: namespace, labels: ["app": web], strict: true),
            echoPod(flaky, namespace: namespace, labels: ["app": flaky], failPercent: flakyPercent),
        ]
        objects += versions.map { echoPod($0, namespace: namespace, labels: ["app": split, "version": $0]) }
        return objects
    }

    /// The pods a run waits for, as `namespace/name`.
    public static func pods(namespace: String, outsider: String) -> [String] {
        [web, flaky] .map { "\(namespace)/\($0)" } + versions.map { "\(namespace)/\($0)" }
            + ["\(namespace)/\(client)", "\(namespace)/\(plainClient)", "\(outsider)/\(client)"]
    }

    // MARK: What curl printed

    /// The `-w` format after each body: `=#<status>#=`, marks no echo body contains.
    public static let writeOut = "=#%{http_code}#="

    /// One answer: the status (`000` when none came) and the echo's JSON body, when there was one.
    public struct Answer: Hashable, Sendable {
        public var status: String
        public var body: String

        public init(status: String, body: String) {
            self.status = status
            self.body = body
        }

        public var succeeded: Bool { status == "200" }
        /// The echo's `hostname`: the pod that answered.
        public var hostname: String? { Self.field("hostname", in: body) }
        /// The echo's `client`: the peer address the application saw.
        public var client: String? { Self.field("client", in: body) }
        /// A request header as the application saw it (the name as the echo prints it).
        public func header(_ name: String) -> String? { Self.field(name, in: body) }

        /// The string value of `"key":"value"` in the echo's one-line JSON (its values carry no
        /// escaped quotes here: addresses, names, ids).
        static func field(_ key: String, in body: String) -> String? {
            guard let start = body.range(of: "\"\(key)\":\"") else { return nil }
            let rest = body[start.upperBound...]
            guard let end = rest.firstIndex(of: "\"") else { return nil }
            return String(rest[..<end])
        }
    }

    /// curl's output for several URLs with `writeOut`: each body, then its mark.
    public static func answers(_ output: String) -> [Answer] {
        var answers: [Answer] = []
        var rest = Substring(output)
        while let open = rest.range(of: "=#") {
            guard let close = rest[open.upperBound...].range(of: "#=") else { break }
            answers.append(Answer(status: String(rest[open.upperBound..<close.lowerBound]), body: String(rest[..<open.lowerBound])))
            rest = rest[close.upperBound...]
        }
        return answers
    }

    // MARK: Verdicts

    /// A case's verdict and its line.
    public struct Verdict: Hashable, Sendable {
        public var name: String
        public var passed: Bool
        /// What was measured, for people.
        public var detail: String
        public var seconds: Double

        public init(name: String, passed: Bool, detail: String, seconds: Double = 0) {
            self.name = name
            self.passed = passed
            self.detail = detail
            self.seconds = seconds
        }

        /// `PASS  captured traffic: … (12ms)`.
        public var line: String {
            "\(passed ? "PASS" : "FAIL")  \(name): \(detail) (\(Self.seconds(seconds)))"
        }

        /// `42ms` under a second, `3.1s` from one on.
        static func seconds(_ value: Double) -> String {
            if value < 0.9995 { return "\(Int((value * 1000).rounded()))ms" }
            let tenths = Int((value * 10).rounded())
            return "\(tenths / 10).\(tenths % 10)s"
        }
    }

    /// `100.0`, `99.8`, `48.5`.
    public static func percent(_ part: Int, of whole: Int) -> String {
        guard whole > 0 else { return "-" }
        let tenths = Int((Double(part) * 1000 / Double(whole)).rounded())
        return "\(tenths / 10).\(tenths % 10)%"
    }

    /// Captured traffic: the meshed client's request through the Service reached the backend from
    /// the backend's own sidecar (a loopback peer, not the client's address), carrying an
    /// `x-request-id` the client never set.
    public static func captured(_ answer: Answer?, clientIP: String, service: String) -> Verdict {
        let name = "captured traffic"
        guard let answer, answer.succeeded, let peer = answer.client else {
            return Verdict(name: name, passed: false, detail: "client → Service \(service): \(describe(answer)), no echo of the request")
        }
        let requestID = answer.header("x-request-id")
        let identity = answer.header("x-forwarded-client-cert").flatMap { value in
            value.range(of: "URI=").map { String(value[$0.upperBound...]) }
        }
        let fromSidecar = peer.hasPrefix("127.0.0.") && !peer.hasPrefix(clientIP + ":")
        var detail = "client (\(clientIP)) → Service \(service): the backend saw \(peer)"
            + (fromSidecar ? " (its sidecar)" : " (not its sidecar)")
            + ", x-request-id " + (requestID ?? "missing")
        if let identity { detail += ", mTLS peer \(identity)" }
        return Verdict(name: name, passed: fromSidecar && requestID != nil, detail: detail)
    }

    /// STRICT refuses plain text: the unmeshed client gets no answer from the STRICT backend,
    /// while a PERMISSIVE one answers it.
    public static func strict(refused: Answer?, curlStatus: Int32, control: Answer?, target: String, controlTarget: String) -> Verdict {
        let name = "STRICT refuses plain text"
        let wasRefused = refused.map { $0.status == "000" } ?? true
        let detail = "unmeshed plain → web (STRICT, \(target)): "
            + (wasRefused ? "refused (curl exit \(curlStatus)\(curlMeaning(curlStatus)))" : "answered \(refused?.status ?? "?")")
            + "; → \(controlTarget) (PERMISSIVE): \(describe(control))"
        return Verdict(name: name, passed: wasRefused && control?.succeeded == true, detail: detail)
    }

    /// An unauthorised identity gets 403; the allowed one gets through.
    public static func authorization(outsider: Answer?, outsiderNamespace: String, allowed: Answer?, namespace: String) -> Verdict {
        let name = "unauthorised identity gets 403"
        let denied = outsider?.status == "403" && outsider?.body.contains("RBAC: access denied") == true
        let detail = "MeshPolicy admits namespace \(namespace) to web: client of \(outsiderNamespace) → \(describe(outsider))"
            + "; client of \(namespace) → \(describe(allowed))"
        return Verdict(name: name, passed: denied && allowed?.succeeded == true, detail: detail)
    }

    /// Retries: the flaky backend alone fails (at most `flakySuccessCeiling` succeed), with the
    /// Route's retries at least `retriedSuccessFloor` do.
    public static func retries(without: [Answer], with retried: [Answer], attempts: Int, retries: Int?) -> Verdict {
        let name = "retries hide a backend failing \(flakyPercent)%"
        let plain = without.filter(\.succeeded).count, shaped = retried.filter(\.succeeded).count
        let plainRate = without.isEmpty ? 0 : Double(plain) * 100 / Double(without.count)
        let shapedRate = retried.isEmpty ? 0 : Double(shaped) * 100 / Double(retried.count)
        var detail = "without retries \(plain)/\(without.count) succeeded (\(percent(plain, of: without.count))); "
            + "Route with \(attempts) retries: \(shaped)/\(retried.count) (\(percent(shaped, of: retried.count)), needs ≥ \(Int(retriedSuccessFloor))%)"
        if let retries { detail += ", \(retries) retries made" }
        if plainRate > flakySuccessCeiling { detail += "; the backend failed too few requests to prove anything" }
        return Verdict(name: name, passed: !retried.isEmpty && shapedRate >= retriedSuccessFloor && plainRate <= flakySuccessCeiling, detail: detail)
    }

    /// The split: every request answered, v2's share within `splitTolerance` points of its weight.
    public static func split(_ answers: [Answer]) -> Verdict {
        let name = "\(splitWeights.v1)/\(splitWeights.v2) split"
        let v1 = answers.filter { $0.succeeded && $0.hostname == "v1" }.count
        let v2 = answers.filter { $0.succeeded && $0.hostname == "v2" }.count
        let failed = answers.filter { !$0.succeeded }.count
        let share = answers.isEmpty ? 0 : Double(v2) * 100 / Double(answers.count)
        let within = abs(share - Double(splitWeights.v2)) <= splitTolerance
        let detail = "\(answers.count) requests: v1 \(v1), v2 \(v2) (\(percent(v2, of: answers.count)), needs \(splitWeights.v2) ± \(Int(splitTolerance)))"
            + (failed > 0 ? ", \(failed) failed" : "")
        return Verdict(name: name, passed: !answers.isEmpty && failed == 0 && within && v1 + v2 == answers.count, detail: detail)
    }

    static func describe(_ answer: Answer?) -> String {
        guard let answer else { return "no answer" }
        return answer.status == "000" ? "no answer" : "\(answer.status)"
    }

    /// curl's exit statuses a refused connection ends with.
    static func curlMeaning(_ status: Int32) -> String {
        switch status {
        case 7: ": could not connect"
        case 28: ": timed out"
        case 52: ": empty reply"
        case 56: ": connection reset"
        default: ""
        }
    }

    /// The value of `podlab_proxy_retries_total{route="<route>"}` in a sidecar's metrics.
    public static func retriesMade(metrics: String, route: String) -> Int? {
        let prefix = "podlab_proxy_retries_total{route=\"\(route)\"} "
        for line in metrics.split(separator: "\n") where line.hasPrefix(prefix) {
            return Int(line.dropFirst(prefix.count))
        }
        return nil
    }
}
