/// What a probe does. Every kind but `route` runs inside the source pod's network namespace.
public enum ProbeKind: String, Codable, Hashable, Sendable, CaseIterable {
    /// A TCP connect (the three-way handshake), closed at once.
    case tcp
    /// A UDP datagram that must come back unchanged (the echo images send it back).
    case udp
    /// An HTTP/1.1 `GET` whose status and body are checked.
    case http
    /// An ICMP echo request.
    case icmp
    /// A `bind` of the port inside the pod: whether a second listener could have it.
    case bind
    /// A lookup in the host's routing table, from the root network namespace: no packet is sent.
    case route
    /// A DNS query for an A record (`name`, expanded with `search` as a pod's resolver does),
    /// sent over UDP to the nameserver `to` from inside the pod.
    case dns

    /// Kinds that need a port.
    public var needsPort: Bool {
        switch self {
        case .tcp, .udp, .http, .bind: true
        case .icmp, .route, .dns: false
        }
    }
}

/// One probe as the agent's `POST /podlab/v1/probes` takes it.
///
/// ```json
/// {"id": "7", "fromPod": "default/a", "to": "10.244.2.3", "port": 80, "kind": "http",
///  "timeoutMillis": 1000, "expectBody": "Welcome to nginx!", "observeSource": true}
/// ```
public struct ProbeRequest: Codable, Hashable, Sendable {
    /// Echoed in the result, so callers can match results to requests.
    public var id: String?
    /// The pod whose network namespace the probe runs in, `namespace/name`; none for `route`.
    public var fromPod: String?
    /// The destination address (for `bind`: the local address to bind, usually `0.0.0.0`).
    public var to: String
    /// TCP or UDP port, for `tcp`, `udp`, `http` and `bind`.
    public var port: Int?
    public var kind: ProbeKind
    /// How long the probe may take; `defaultTimeoutMillis` when not given.
    public var timeoutMillis: Int?
    /// `http`: text the body must contain.
    public var expectBody: String?
    /// `http`: the status the answer must have (200 when not given).
    public var expectStatus: Int?
    /// `http`: the request target, `/` when not given.
    public var path: String?
    /// Also find out which source address the destination sees. A client socket only knows its
    /// own address, which address translation on the way never changes; so the agent, which
    /// holds every pod's namespace, reads it inside the destination pod: for a `tcp` probe,
    /// whether the pod's kernel holds the probe's own connection as coming from the source's
    /// own address and port; otherwise (or when it does not) it opens a socket of its own
    /// there, has the source pod connect to it (TCP; a UDP datagram for `udp` probes) and reads
    /// the peer address it got. For destinations that are pods of the lab; not for `bind` and
    /// `route`.
    public var observeSource: Bool?
    /// `dns`: the name to look up (A records).
    public var name: String?
    /// `dns`: the resolver's search domains, tried in order (`options ndots:5`: a name with fewer
    /// than five dots is tried with each of them before it is tried as it is).
    public var search: [String]?
    /// `dns`: the addresses the answer must hold, no more and no fewer (any order).
    public var expectAddresses: [String]?
    /// `http`: how many requests to make, one after another, each on a connection of its own;
    /// the result counts which pod answered each (`ProbeResult.answeredBy`). For Services: the
    /// spread over endpoints, and session affinity.
    public var tries: Int?

    public static let defaultTimeoutMillis = 1000
    public static let maximumTimeoutMillis = 60_000
    public static let defaultPath = "/"
    /// The most `tries` one probe may make.
    public static let maximumTries = 1000
    /// The nameserver's port.
    public static let dnsPort = 53
    /// `ndots` of the resolver configuration the kubelet writes.
    public static let ndots = 5

    public init(id: String? = nil, fromPod: String? = nil, to: String, port: Int? = nil, kind: ProbeKind, timeoutMillis: Int? = nil,
                expectBody: String? = nil, expectStatus: Int? = nil, path: String? = nil, observeSource: Bool? = nil,
                name: String? = nil, search: [String]? = nil, expectAddresses: [String]? = nil, tries: Int? = nil) {
        self.id = id
        self.fromPod = fromPod
        self.to = to
        self.port = port
        self.kind = kind
        self.timeoutMillis = timeoutMillis
        self.expectBody = expectBody
        self.expectStatus = expectStatus
        self.path = path
        self.observeSource = observeSource
        self.name = name
        self.search = search
        self.expectAddresses = expectAddresses
        self.tries = tries
    }

    /// `http`: the requests the probe makes (1 without `tries`).
    public var effectiveTries: Int { tries ?? 1 }

    /// `dns`: the names the resolver asks for, in order: a name ending in a dot only as it is;
    /// one with fewer than `ndots` dots with each search domain first, then as it is; else as it
    /// is first, then with the search domains (glibc's and musl's order).
    public var queryNames: [String] {
        guard let name, !name.isEmpty else { return [] }
        if name.hasSuffix(".") { return [String(name.dropLast())] }
        let expanded = (search ?? []).map { "\(name).\($0)" }
        return name.filter { $0 == "." }.count < ProbeRequest.ndots ? expanded + [name] : [name] + expanded
    }

    /// True when the probe asks for the destination's view of its source.
    public var observesSource: Bool { observeSource == true }

    /// The timeout with its default applied.
    public var effectiveTimeoutMillis: Int { timeoutMillis ?? ProbeRequest.defaultTimeoutMillis }

    /// The destination as an address, if `to` is one.
    public var destination: IPv4Address? { IPv4Address(to) }

    /// `namespace/name` of the source pod split in two; a bare name is in `default`.
    public var sourcePod: (namespace: String, name: String)? {
        guard let fromPod, !fromPod.isEmpty else { return nil }
        guard let slash = fromPod.firstIndex(of: "/") else { return ("default", fromPod) }
        return (String(fromPod[..<slash]), String(fromPod[fromPod.index(after: slash)...]))
    }

    /// What is wrong with the request, field by field; empty when it can be run.
    public func problems() -> [String] {
        var problems: [String] = []
        if destination == nil { problems.append("to: \"\(to)\" is not an IPv4 address") }
        if kind.needsPort {
            if let port {
                if !(1...65535).contains(port) { problems.append("port: \(port) is not a port number (1-65535)") }
            } else {
                problems.append("port: required for \(kind.rawValue) probes")
            }
        } else if port != nil {
            problems.append("port: \(kind.rawValue) probes have no port")
        }
        if kind == .dns {
            if let name {
                if !DNSName.isValid(name) { problems.append("name: \"\(name)\" is not a DNS name") }
            } else {
                problems.append("name: required for dns probes")
            }
            for domain in search ?? [] where !DNSName.isValid(domain) || domain.hasSuffix(".") {
                problems.append("search: \"\(domain)\" is not a DNS domain")
            }
            for address in expectAddresses ?? [] where IPv4Address(address) == nil {
                problems.append("expectAddresses: \"\(address)\" is not an IPv4 address")
            }
        } else {
            if name != nil { problems.append("name: only for dns probes") }
            if search != nil { problems.append("search: only for dns probes") }
            if expectAddresses != nil { problems.append("expectAddresses: only for dns probes") }
        }
        if let tries {
            if kind != .http {
                problems.append("tries: only for http probes")
            } else if !(1...ProbeRequest.maximumTries).contains(tries) {
                problems.append("tries: \(tries) is outside 1-\(ProbeRequest.maximumTries)")
            }
        }
        if kind == .route {
            if fromPod != nil { problems.append("fromPod: route probes run in the host's routing table, not in a pod") }
        } else if let source = sourcePod {
            if source.namespace.isEmpty || source.name.isEmpty || source.name.contains("/") {
                problems.append("fromPod: \"\(fromPod ?? "")\" is not namespace/name")
            }
        } else {
            problems.append("fromPod: required for \(kind.rawValue) probes (namespace/name of the pod to probe from)")
        }
        if let timeoutMillis, !(1...ProbeRequest.maximumTimeoutMillis).contains(timeoutMillis) {
            problems.append("timeoutMillis: \(timeoutMillis) is outside 1-\(ProbeRequest.maximumTimeoutMillis)")
        }
        if observesSource, kind == .bind || kind == .route || kind == .dns {
            problems.append("observeSource: \(kind.rawValue) probes send nothing to a destination")
        }
        if kind != .http {
            if expectBody != nil { problems.append("expectBody: only for http probes") }
            if expectStatus != nil { problems.append("expectStatus: only for http probes") }
            if path != nil { problems.append("path: only for http probes") }
        } else {
            if let expectStatus, !(100...599).contains(expectStatus) { problems.append("expectStatus: \(expectStatus) is not an HTTP status") }
            if let path, !path.hasPrefix("/") || path.contains(where: { $0 == " " || $0 == "\r" || $0 == "\n" }) {
                problems.append("path: \"\(path)\" is not an absolute path without spaces")
            }
        }
        return problems
    }
}

/// How a probe ended.
public enum ProbeOutcome: String, Codable, Hashable, Sendable, CaseIterable {
    /// The handshake completed, the datagram or echo came back, or the HTTP answer was right.
    case connected
    /// The destination said no: a TCP reset, or ICMP port unreachable for UDP.
    case refused
    /// No answer within the probe's timeout.
    case timeout
    /// No route, or ICMP host/network unreachable; for `route`: the host has no way into the lab.
    case unreachable
    /// Something answered, but not what was expected (HTTP status or body, UDP payload).
    case wrongAnswer = "wrong-answer"
    /// `bind`: another socket in the pod holds the port.
    case inUse = "in-use"
    /// `bind`: nothing in the pod holds the port.
    case free
    /// `route`: the host's routing table leads into the lab.
    case routed
    /// The probe could not be run (no such pod, no sandbox, a failed syscall).
    case error

    /// How tables print it.
    public var title: String {
        switch self {
        case .connected: "connected"
        case .refused: "refused"
        case .timeout: "timeout"
        case .unreachable: "unreachable"
        case .wrongAnswer: "wrong answer"
        case .inUse: "in use"
        case .free: "free"
        case .routed: "routed"
        case .error: "error"
        }
    }
}

/// What one probe found.
public struct ProbeResult: Codable, Hashable, Sendable {
    /// The request's `id`.
    public var id: String?
    public var outcome: ProbeOutcome
    /// From the first packet (or syscall) to the outcome.
    public var latencyMillis: Double
    /// The local address and port the kernel chose (`10.244.1.2:43122`), when a socket got one.
    public var source: String?
    /// The address and port the socket was connected to.
    public var destination: String?
    /// One line for people: the errno, the HTTP status, why a `route` check holds.
    public var detail: String
    /// With `observeSource`: the source address and port the destination saw (`192.168.200.11:40312`
    /// when the source node masqueraded the packet).
    public var observedSource: String?
    /// With `observeSource`: why the destination's view could not be read.
    public var observationError: String?
    /// `dns`: the addresses of the answer's A records, sorted.
    public var answers: [String]?
    /// `http` with `tries`: how many answers each pod gave, by the hostname its answer names
    /// (`"hostname":"web-1"` of the echo image); `?` counts answers that name no pod.
    public var answeredBy: [String: Int]?

    public init(id: String? = nil, outcome: ProbeOutcome, latencyMillis: Double = 0, source: String? = nil,
                destination: String? = nil, detail: String = "", observedSource: String? = nil, observationError: String? = nil,
                answers: [String]? = nil, answeredBy: [String: Int]? = nil) {
        self.id = id
        self.outcome = outcome
        self.latencyMillis = latencyMillis
        self.source = source
        self.destination = destination
        self.detail = detail
        self.observedSource = observedSource
        self.observationError = observationError
        self.answers = answers
        self.answeredBy = answeredBy
    }

    /// The address part of `source` (`10.244.1.2` of `10.244.1.2:43122`).
    public var sourceAddress: IPv4Address? { Self.address(of: source) }

    /// The address part of `observedSource`.
    public var observedSourceAddress: IPv4Address? { Self.address(of: observedSource) }

    /// The address part of `destination`.
    public var destinationAddress: IPv4Address? { Self.address(of: destination) }

    static func address(of endpoint: String?) -> IPv4Address? {
        guard let endpoint else { return nil }
        let bytes = endpoint.utf8
        return IPv4Address(dottedQuad: bytes[..<(bytes.firstIndex(of: UInt8(ascii: ":")) ?? bytes.endIndex)])
    }
}

/// The body of `POST /podlab/v1/probes`.
public struct ProbeBatch: Codable, Hashable, Sendable {
    public var probes: [ProbeRequest]

    public init(probes: [ProbeRequest]) { self.probes = probes }

    /// The agent's probe endpoint. With `?stream=true` it answers with `ProbeStreamLine`s as
    /// probes finish, instead of one `ProbeBatchResult` at the end.
    public static let path = "/podlab/v1/probes"
    /// The bare connect loop the benchmark compares against (TCP probes only, no per-probe results).
    public static let floorPath = "/podlab/v1/probes/floor"
    /// Probes one request may carry.
    public static let maximumCount = 50_000
}

/// The answer of `POST /podlab/v1/probes`: one result per probe, in request order.
public struct ProbeBatchResult: Codable, Hashable, Sendable {
    public var results: [ProbeResult]
    /// Wall time of the whole batch inside the agent.
    public var elapsedMillis: Double

    public init(results: [ProbeResult], elapsedMillis: Double) {
        self.results = results
        self.elapsedMillis = elapsedMillis
    }
}

/// One line of the streamed answer of `POST /podlab/v1/probes?stream=true` (newline-delimited
/// JSON): the results that finished since the last line, each with its index in the batch;
/// the last line says `done` and carries the batch's wall time.
public struct ProbeStreamLine: Codable, Hashable, Sendable {
    /// A result and the position of its probe in the request.
    public struct Entry: Codable, Hashable, Sendable {
        public var index: Int
        public var result: ProbeResult

        public init(index: Int, result: ProbeResult) {
            self.index = index
            self.result = result
        }
    }

    public var results: [Entry]
    public var done: Bool?
    public var elapsedMillis: Double?
    /// On the last line: where the batch's time went inside the agent.
    public var timings: ProbeTimings?

    public init(results: [Entry], done: Bool? = nil, elapsedMillis: Double? = nil, timings: ProbeTimings? = nil) {
        self.results = results
        self.done = done
        self.elapsedMillis = elapsedMillis
        self.timings = timings
    }
}

/// Where a probe batch's time went inside the agent, phase by phase (milliseconds).
public struct ProbeTimings: Codable, Hashable, Sendable {
    /// Decoding the request, checking the probes and finding the source pods' namespaces.
    public var prepareMillis: Double
    /// Observing the source addresses the destinations see: witness connections before the
    /// probes, and reading the destination pods' connection tables after them.
    public var observeMillis: Double
    /// Opening the probes' sockets inside the source pods.
    public var openMillis: Double
    /// The probe loops: from the first connect to the last result.
    public var probeMillis: Double
    /// How many rounds the descriptor budget cut the batch into.
    public var rounds: Int
    /// Probes whose source the destination's kernel showed as the probe's own connection.
    public var observedByLookup: Int
    /// Probes whose source a witness connection or datagram observed.
    public var observedByWitness: Int

    public init(prepareMillis: Double = 0, observeMillis: Double = 0, openMillis: Double = 0, probeMillis: Double = 0, rounds: Int = 0,
                observedByLookup: Int = 0, observedByWitness: Int = 0) {
        self.prepareMillis = prepareMillis
        self.observeMillis = observeMillis
        self.openMillis = openMillis
        self.probeMillis = probeMillis
        self.rounds = rounds
        self.observedByLookup = observedByLookup
        self.observedByWitness = observedByWitness
    }
}
