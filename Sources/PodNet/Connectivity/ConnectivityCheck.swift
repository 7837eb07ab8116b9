/// One expectation of the reachability model: a probe and the outcome it must have, with the
/// reason the model expects it.
public struct ConnectivityCheck: Hashable, Sendable {
    /// The claim this check serves.
    public var claim: ConnectivityClaim
    /// The source for people: a pod (`a`, `team/a`) or `host`.
    public var from: String
    /// The target for people: `b 10.244.2.3:80 (web)`, `localhost:8080 (server)`, `gateway 10.244.1.1`.
    public var to: String
    /// What to send; nil when the model already knows the answer (`evaluated`).
    public var probe: ProbeRequest?
    /// The outcome that proves the claim.
    public var expected: ProbeOutcome
    /// Other outcomes that prove it as well (an address nobody holds: unreachable or timeout).
    public var tolerated: Set<ProbeOutcome>
    /// For pod-to-pod probes: the source address of the probe, the source pod's own. Pods see
    /// each other's real addresses (no NAT between pods): the probe's socket must have it, and
    /// where the probe observes the source (`ProbeRequest.observeSource`), the destination must
    /// have seen it.
    public var expectedSource: IPv4Address?
    /// Why the model expects `expected`.
    public var reason: String
    /// The result of a check the model decides itself, without a probe.
    public var evaluated: ProbeResult?
    /// For probes with `tries`: which pods must have answered.
    public var answerers: AnswererExpectation?

    public init(claim: ConnectivityClaim, from: String, to: String, probe: ProbeRequest?, expected: ProbeOutcome,
                tolerated: Set<ProbeOutcome> = [], expectedSource: IPv4Address? = nil, reason: String, evaluated: ProbeResult? = nil,
                answerers: AnswererExpectation? = nil) {
        self.claim = claim
        self.from = from
        self.to = to
        self.probe = probe
        self.expected = expected
        self.tolerated = tolerated
        self.expectedSource = expectedSource
        self.reason = reason
        self.evaluated = evaluated
        self.answerers = answerers
    }

    /// What the probe does, for people: `tcp`, `http GET /`, `bind 80/tcp`, ...
    public var method: String {
        guard let probe else { return "model" }
        switch probe.kind {
        case .tcp: return "tcp connect"
        case .udp: return "udp echo"
        case .http:
            let tries = probe.effectiveTries > 1 ? " ×\(probe.effectiveTries)" : ""
            return "http GET \(probe.path ?? ProbeRequest.defaultPath)\(tries)"
        case .dns: return "dns A \(probe.name ?? "")"
        case .icmp: return "icmp echo"
        case .bind: return "bind :\(probe.port ?? 0)"
        case .route: return "route lookup (no packet sent)"
        }
    }

    /// True when `outcome` proves the claim.
    public func accepts(_ outcome: ProbeOutcome) -> Bool { outcome == expected || tolerated.contains(outcome) }
}

/// A check with what actually happened.
public struct CheckResult: Hashable, Sendable {
    public var check: ConnectivityCheck
    public var actual: ProbeResult
    /// Why the result does not prove the claim; nil when it does.
    public var problem: String?

    public var matched: Bool { problem == nil }

    /// Compares a result with its check: the outcome must be accepted; a connection must leave
    /// from the expected source address, and where the probe observed the source, the
    /// destination must have seen that address too.
    public init(check: ConnectivityCheck, actual: ProbeResult) {
        self.check = check
        self.actual = actual
        problem = Self.problem(check, actual)
    }

    static func problem(_ check: ConnectivityCheck, _ actual: ProbeResult) -> String? {
        guard check.accepts(actual.outcome) else { return "expected \(check.expected.title), got \(actual.outcome.title)" }
        if actual.outcome == .connected, let answerers = check.answerers, let problem = answerers.problem(actual.answeredBy ?? [:]) {
            return problem
        }
        guard actual.outcome == .connected, let expected = check.expectedSource else { return nil }
        if let source = actual.sourceAddress, source != expected {
            return "the answer went to \(source), not the pod's own address \(expected) (address translation between pods)"
        }
        guard let probe = check.probe, probe.observesSource else { return nil }
        let way = "\(expected) → \(probe.to)"
        guard let seen = actual.observedSourceAddress else {
            return "\(way): the source the server saw is unknown (\(actual.observationError ?? "the agent did not observe it"))"
        }
        return seen == expected ? nil : "\(way): server saw \(seen) (NAT)"
    }
}

/// Which pods must answer a probe that makes several requests (`ProbeRequest.tries`), named by
/// the hostnames their answers carry.
public enum AnswererExpectation: Hashable, Sendable {
    /// Load is spread: every one of these answers at least once, and nothing else answers.
    case every(Set<String>)
    /// Session affinity: one of these answers every request.
    case one(of: Set<String>)

    /// Why `answeredBy` (hostname → answers) breaks the expectation; nil when it holds.
    public func problem(_ answeredBy: [String: Int]) -> String? {
        let seen = Set(answeredBy.keys)
        let counts = answeredBy.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
        switch self {
        case let .every(expected):
            let strangers = seen.subtracting(expected).sorted()
            if !strangers.isEmpty { return "answered by \(strangers.joined(separator: ", ")), which are not ready endpoints (answers: \(counts))" }
            let missing = expected.subtracting(seen).sorted()
            if !missing.isEmpty { return "\(missing.joined(separator: ", ")) never answered (answers: \(counts))" }
            return nil
        case let .one(of: expected):
            if seen.count != 1 { return "answers came from \(seen.count) pods, not one (answers: \(counts.isEmpty ? "none" : counts))" }
            if let only = seen.first, !expected.contains(only) { return "answered by \(only), which is not a ready endpoint" }
            return nil
        }
    }
}
