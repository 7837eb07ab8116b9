/// Who may talk to a meshed pod: MeshPolicy's rules as plain values, and the one decision the
/// receiving sidecar takes for each request (HTTP) or connection (anything else). Pure Swift
/// without Foundation, shared by the model (PodNet, which decodes and validates the objects)
/// and the sidecar (PodlabProxy, which decides without asking the agent).
///
/// The semantics are Istio's ALLOW AuthorizationPolicy: a pod no policy selects admits
/// everything; a pod selected by at least one admits only what one of their rules matches (a
/// selected pod whose policies have no rule admits nothing).
public struct MeshAuthorizationPolicy: Hashable, Sendable {
    public var namespace: String
    public var name: String
    /// `matchLabels` of the pods of `namespace` it applies to; empty: all of them.
    public var selector: [String: String]
    public var rules: [Rule]

    public init(namespace: String, name: String, selector: [String: String] = [:], rules: [Rule] = []) {
        self.namespace = namespace
        self.name = name
        self.selector = selector
        self.rules = rules
    }

    /// `namespace/name`, as decisions name the policy.
    public var qualifiedName: String { "\(namespace)/\(name)" }

    /// Whether it applies to a pod of `namespace` with `labels`.
    public func selects(namespace podNamespace: String, labels: [String: String]) -> Bool {
        podNamespace == namespace && selector.allSatisfy { labels[$0.key] == $0.value }
    }

    /// One rule: a request matched by any of `from` (none: any peer) and any of `to` (none: any
    /// port, path and method).
    public struct Rule: Hashable, Sendable {
        public var from: [Source]
        public var to: [Operation]

        public init(from: [Source] = [], to: [Operation] = []) {
            self.from = from
            self.to = to
        }

        public func matches(_ request: MeshRequest) -> Bool {
            (from.isEmpty || from.contains { $0.matches(request.peerIdentity) }) && (to.isEmpty || to.contains { $0.matches(request) })
        }
    }

    /// Where a request comes from: every non-empty list must hold (an identity listed, and in a
    /// namespace listed). A peer without an identity (plain text) matches no source.
    public struct Source: Hashable, Sendable {
        /// SPIFFE identities, `spiffe://cluster.local/ns/NS/sa/SA`.
        public var identities: [String]
        public var namespaces: [String]

        public init(identities: [String] = [], namespaces: [String] = []) {
            self.identities = identities
            self.namespaces = namespaces
        }

        public func matches(_ peer: String?) -> Bool {
            guard let peer else { return false }
            if !identities.isEmpty, !identities.contains(peer) { return false }
            if !namespaces.isEmpty {
                guard let namespace = Self.namespace(ofIdentity: peer), namespaces.contains(where: { $0 == namespace }) else { return false }
            }
            return true
        }
    }

    /// What a request asks for: every non-empty list must hold. `paths` and `methods` are HTTP's:
    /// a connection that is not HTTP matches no operation that lists them (Istio drops such a
    /// rule for TCP, which, in an ALLOW policy, denies).
    public struct Operation: Hashable, Sendable {
        /// The application's ports (the original destination's).
        public var ports: [Int]
        /// Exact (`/healthz`), a prefix (`/api/*`), or `*` for any path; the query is not part
        /// of the path.
        public var paths: [String]
        /// Upper-case HTTP methods.
        public var methods: [String]

        public init(ports: [Int] = [], paths: [String] = [], methods: [String] = []) {
            self.ports = ports
            self.paths = paths
            self.methods = methods
        }

        public func matches(_ request: MeshRequest) -> Bool {
            if !ports.isEmpty, !ports.contains(request.port) { return false }
            guard !paths.isEmpty || !methods.isEmpty else { return true }
            guard let http = request.http else { return false }
            if !methods.isEmpty, !methods.contains(http.method) { return false }
            if !paths.isEmpty, !paths.contains(where: { Self.path($0, matches: http.path) }) { return false }
            return true
        }

        /// `*` matches any path, `/api/*` any path that begins with `/api/`, anything else only itself.
        public static func path(_ pattern: String, matches path: String) -> Bool {
            if pattern == "*" { return true }
            if pattern.hasSuffix("*") { return path.hasPrefix(pattern.dropLast()) }
            return pattern == path
        }
    }
}

/// What the receiving sidecar knows when it decides.
public struct MeshRequest: Hashable, Sendable {
    public struct HTTP: Hashable, Sendable {
        public var method: String
        /// Without the query (`/api/items`, not `/api/items?page=2`).
        public var path: String

        public init(method: String, path: String) {
            self.method = method
            self.path = path
        }

        /// From a request target: the query and fragment cut off.
        public init(method: String, target: String) {
            self.method = method
            let end = target.firstIndex { $0 == "?" || $0 == "#" } ?? target.endIndex
            path = String(target[..<end])
        }
    }

    /// The client's SPIFFE identity from its certificate; nil for plain text.
    public var peerIdentity: String?
    /// The application's port the client connected to.
    public var port: Int
    /// nil: a connection that is not HTTP/1.1, decided once at its start.
    public var http: HTTP?

    public init(peerIdentity: String?, port: Int, http: HTTP? = nil) {
        self.peerIdentity = peerIdentity
        self.port = port
        self.http = http
    }

    /// `spiffe://…/sa/b, port 8080, GET /api` — as a decision's reason prints the request.
    public var description: String {
        var text = "\(peerIdentity ?? "plain text (no identity)"), port \(port)"
        if let http { text += ", \(http.method) \(http.path)" }
        return text
    }
}

/// Allowed or denied, and why: the policy and rule that allowed, or the policies none of whose
/// rules matched.
public struct MeshAuthorizationDecision: Hashable, Sendable {
    public var allowed: Bool
    public var reason: String

    public init(allowed: Bool, reason: String) {
        self.allowed = allowed
        self.reason = reason
    }

    /// Decides one request to a pod of `namespace` with `labels`, under `policies` (all of the
    /// cluster's; those of other namespaces and those not selecting the pod are passed by).
    public static func decide(_ request: MeshRequest, namespace: String, labels: [String: String],
                              policies: [MeshAuthorizationPolicy]) -> MeshAuthorizationDecision {
        let selecting = policies.filter { $0.selects(namespace: namespace, labels: labels) }
            .sorted { $0.name < $1.name }
        guard !selecting.isEmpty else { return MeshAuthorizationDecision(allowed: true, reason: "no MeshPolicy selects the pod") }
        for policy in selecting {
            if let index = policy.rules.firstIndex(where: { $0.matches(request) }) {
                return MeshAuthorizationDecision(allowed: true, reason: "allowed by MeshPolicy \(policy.qualifiedName) rules[\(index)]")
            }
        }
        let names = selecting.map(\.qualifiedName).joined(separator: ", ")
        return MeshAuthorizationDecision(allowed: false, reason: "no rule of MeshPolicy \(names) matches \(request.description)")
    }
}

extension MeshAuthorizationPolicy.Source {
    /// The namespace of `spiffe://cluster.local/ns/NAMESPACE/sa/SERVICEACCOUNT` (PodNet's
    /// `MeshIdentity` reads it too; the sidecar has no PodNet), nil for any other shape.
    static func namespace(ofIdentity identity: String) -> Substring? {
        let prefix = "spiffe://cluster.local/ns/"
        guard identity.hasPrefix(prefix) else { return nil }
        let parts = identity.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1] == "sa", !parts[0].isEmpty, !parts[2].isEmpty else { return nil }
        return parts[0]
    }
}
