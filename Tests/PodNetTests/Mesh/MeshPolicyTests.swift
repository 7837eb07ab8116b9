import Testing
@testable import PodNet

@Suite("MeshPolicy objects: decoding and validation")
struct MeshPolicyObjectTests {
    static let header = "apiVersion: podlab.dev/v1\nkind: MeshPolicy\nmetadata: {name: p, namespace: b}\n"

    static func policy(_ yaml: String) throws -> MeshPolicy {
        try MeshPolicy(json: YAMLReader.value(from: header + yaml))
    }

    static func errors(_ yaml: String) throws -> [String] {
        try policy(yaml).validationErrors().map(\.description)
    }

    @Test("a full policy decodes, validates, writes back, and reads as the decision's rules")
    func roundTrip() throws {
        let policy = try Self.policy("""
            spec:
              selector: {matchLabels: {app: web}}
              rules:
              - from:
                - namespaces: [a]
                - identities: ["spiffe://cluster.local/ns/c/sa/reader"]
                to:
                - {ports: [8080], paths: ["/api/*", /healthz], methods: [GET, HEAD]}
              - to: [{ports: [9000]}]
            """)
        #expect(policy.validationErrors().isEmpty)
        #expect(try MeshPolicy(json: policy.json) == policy)
        #expect(policy.spec.rules[0].to[0].ports == [8080])
        let rules = policy.authorization
        #expect(rules.namespace == "b" && rules.name == "p" && rules.selector == ["app": "web"])
        #expect(rules.rules[0].from == [.init(namespaces: ["a"]), .init(identities: ["spiffe://cluster.local/ns/c/sa/reader"])])
        #expect(rules.rules[1] == .init(to: [.init(ports: [9000])]))
        // An empty selector is written as `{}`; a rule-less policy has no `rules`.
        let empty = try Self.policy("spec: {}")
        #expect(empty.json["spec"]?["selector"] == .object([:]))
        #expect(empty.json["spec"]?["rules"] == nil)
    }

    @Test("the kind is read from manifests and served as podlab.dev/v1 meshpolicies (short name mp)")
    func served() throws {
        let object = try AnyKubernetesObject(json: YAMLReader.value(from: Self.header + "spec: {}"))
        #expect(object.kind == "MeshPolicy")
        let served = try #require(ServedResources.find(groupVersion: "podlab.dev/v1", resource: "meshpolicies"))
        #expect(served.shortNames == ["mp"] && served.namespaced && served.group == "podlab.dev")
        #expect(ServedResources.groupVersions.contains("podlab.dev/v1"))
        #expect(MeshPolicy.collectionPath(namespace: "b") == "/apis/podlab.dev/v1/namespaces/b/meshpolicies")
    }

    @Test("kubectl explain finds the kind by its short name and describes its rules")
    func explain() throws {
        let resources = ServedResources.all.map {
            DiscoveredResource(groupVersion: $0.groupVersion, resource: $0.resource, singular: $0.singular, shortNames: $0.shortNames, kind: $0.kind)
        }
        let output = try Explain.explain(try Explain.resolve("mp", in: resources, apiVersion: nil), fieldPath: ["spec", "rules", "to"], recursive: false,
                                         document: OpenAPISchema.v2)
        #expect(output.error == nil)
        #expect(output.text.hasPrefix("GROUP:      podlab.dev\nKIND:       MeshPolicy\nVERSION:    v1\n\nFIELD: to <[]MeshPolicyOperation>"), "\(output.text)")
        for field in ["methods\t<[]string>", "paths\t<[]string>", "ports\t<[]integer>"] { #expect(output.text.contains(field), "\(output.text)") }
    }

    @Test("a wrong type and an unknown field are decoding errors naming the field")
    func decodingErrors() throws {
        func message(_ yaml: String) -> String? {
            do { _ = try Self.policy(yaml) } catch { return "\(error)" }
            return nil
        }
        #expect(message("spec: {rules: [{to: [{ports: [\"80\"]}]}]}")
                == "MeshPolicy in version \"podlab.dev/v1\" cannot be handled as a MeshPolicy: json: cannot unmarshal string into field spec.rules[0].to[0].ports[0] of type int32")
        #expect(message("spec: {rules: [{from: [{serviceAccounts: [x]}]}]}")
                == "MeshPolicy in version \"podlab.dev/v1\" cannot be handled as a MeshPolicy: strict decoding error: unknown field \"spec.rules[0].from[0].serviceAccounts\"")
    }

    @Test("bad input: each error names the field and the reason", arguments: [
        ("spec: {rules: [{to: [{ports: [70000]}]}]}", "spec.rules[0].to[0].ports[0]: Invalid value: 70000: must be between 1 and 65535"),
        ("spec: {rules: [{to: [{ports: [0]}]}]}", "spec.rules[0].to[0].ports[0]: Invalid value: 0: must be between 1 and 65535"),
        ("spec: {rules: [{to: [{methods: [FETCH]}]}]}",
         "spec.rules[0].to[0].methods[0]: Unsupported value: \"FETCH\": supported values: \"GET\", \"HEAD\", \"POST\", \"PUT\", \"DELETE\", \"OPTIONS\", \"PATCH\", \"TRACE\", \"CONNECT\""),
        ("spec: {rules: [{to: [{methods: [get]}]}]}",
         "spec.rules[0].to[0].methods[0]: Unsupported value: \"get\": supported values: \"GET\", \"HEAD\", \"POST\", \"PUT\", \"DELETE\", \"OPTIONS\", \"PATCH\", \"TRACE\", \"CONNECT\""),
        ("spec: {rules: [{to: [{paths: [api]}]}]}",
         "spec.rules[0].to[0].paths[0]: Invalid value: \"api\": must be `*`, an exact path beginning with `/`, or a prefix ending in `*` (`/api/*`); no query"),
        ("spec: {rules: [{to: [{paths: [\"/a/*/b\"]}]}]}",
         "spec.rules[0].to[0].paths[0]: Invalid value: \"/a/*/b\": must be `*`, an exact path beginning with `/`, or a prefix ending in `*` (`/api/*`); no query"),
        ("spec: {rules: [{from: [{identities: [\"spiffe://cluster.local/ns/a\"]}]}]}",
         "spec.rules[0].from[0].identities[0]: Invalid value: \"spiffe://cluster.local/ns/a\": must be a SPIFFE identity of the form spiffe://cluster.local/ns/NAMESPACE/sa/SERVICEACCOUNT"),
        ("spec: {rules: [{from: [{identities: [\"spiffe://example.org/ns/a/sa/b\"]}]}]}",
         "spec.rules[0].from[0].identities[0]: Invalid value: \"spiffe://example.org/ns/a/sa/b\": must be a SPIFFE identity of the form spiffe://cluster.local/ns/NAMESPACE/sa/SERVICEACCOUNT"),
        ("spec: {rules: [{from: [{identities: [\"spiffe://cluster.local/ns/A_b/sa/x\"]}]}]}",
         "spec.rules[0].from[0].identities[0]: Invalid value: \"spiffe://cluster.local/ns/A_b/sa/x\": the namespace \"A_b\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"),
        ("spec: {rules: [{from: [{namespaces: [Shop]}]}]}",
         "spec.rules[0].from[0].namespaces[0]: Invalid value: \"Shop\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"),
        ("spec: {rules: [{}]}",
         "spec.rules[0]: Required value: a rule needs `from` or `to`; one that matches every request makes the policy allow everything (delete the policy instead)"),
        ("spec: {rules: [{from: [{}]}]}", "spec.rules[0].from[0]: Required value: must specify `identities` or `namespaces`"),
        ("spec: {rules: [{to: [{}]}]}", "spec.rules[0].to[0]: Required value: must specify `ports`, `paths` or `methods`"),
        ("spec: {selector: {matchExpressions: [{key: app, operator: Exists}]}}",
         "spec.selector.matchExpressions: Forbidden: not supported by MeshPolicy: select pods by matchLabels"),
    ])
    func badInput(yaml: String, message: String) throws {
        #expect(try Self.errors(yaml) == [message])
    }

    @Test("a bad name is refused as for every object")
    func badName() throws {
        let policy = try MeshPolicy(json: YAMLReader.value(from: "apiVersion: podlab.dev/v1\nkind: MeshPolicy\nmetadata: {name: Bad_Name}\nspec: {}"))
        #expect(throws: InvalidObjectError.self) { try policy.validated() }
        #expect(policy.validationErrors().first?.field.description == "metadata.name")
    }
}

@Suite("MeshPolicy decisions: Istio's ALLOW semantics")
struct MeshAuthorizationTests {
    typealias Policy = MeshAuthorizationPolicy
    static let fromA = "spiffe://cluster.local/ns/a/sa/default"
    static let fromB = "spiffe://cluster.local/ns/b/sa/default"
    static let readerB = "spiffe://cluster.local/ns/b/sa/reader"

    /// In namespace b: pods `app=web` admit namespace a on 8080 (GET /api/* only), and b's
    /// `reader` on any port; `app=db` admits nothing.
    static let policies: [Policy] = [
        Policy(namespace: "b", name: "web", selector: ["app": "web"], rules: [
            .init(from: [.init(namespaces: ["a"])], to: [.init(ports: [8080], paths: ["/api/*"], methods: ["GET"])]),
            .init(from: [.init(identities: [readerB])]),
        ]),
        Policy(namespace: "b", name: "db-closed", selector: ["app": "db"]),
        // Another namespace's policy selects nothing in b.
        Policy(namespace: "c", name: "everything", rules: [.init(to: [.init(ports: [1])])]),
    ]

    static func decide(_ request: MeshRequest, labels: [String: String], namespace: String = "b") -> MeshAuthorizationDecision {
        MeshAuthorizationDecision.decide(request, namespace: namespace, labels: labels, policies: policies)
    }

    static let web = ["app": "web", "tier": "front"]

    @Test("the decision matrix", arguments: [
        // Namespace a on the allowed port, method and path prefix.
        (MeshRequest(peerIdentity: fromA, port: 8080, http: .init(method: "GET", target: "/api/items?page=2")), web, true),
        (MeshRequest(peerIdentity: fromA, port: 8080, http: .init(method: "POST", target: "/api/items")), web, false),
        (MeshRequest(peerIdentity: fromA, port: 8080, http: .init(method: "GET", target: "/admin")), web, false),
        // `/api/*` is a prefix of `/api/…`, not of `/api` itself.
        (MeshRequest(peerIdentity: fromA, port: 8080, http: .init(method: "GET", target: "/api")), web, false),
        (MeshRequest(peerIdentity: fromA, port: 9090, http: .init(method: "GET", target: "/api/x")), web, false),
        // Another namespace's identity; b's reader on any port and path.
        (MeshRequest(peerIdentity: fromB, port: 8080, http: .init(method: "GET", target: "/api/x")), web, false),
        (MeshRequest(peerIdentity: readerB, port: 9090, http: .init(method: "DELETE", target: "/anything")), web, true),
        // Plain text has no identity: no `from` matches it.
        (MeshRequest(peerIdentity: nil, port: 8080, http: .init(method: "GET", target: "/api/x")), web, false),
        // Not HTTP: an operation with paths or methods does not match; one rule without them does.
        (MeshRequest(peerIdentity: fromA, port: 8080), web, false),
        (MeshRequest(peerIdentity: readerB, port: 5432), web, true),
        // A pod selected by a rule-less policy admits nothing; an unselected pod admits all.
        (MeshRequest(peerIdentity: readerB, port: 5432), ["app": "db"], false),
        (MeshRequest(peerIdentity: nil, port: 80, http: .init(method: "GET", target: "/")), ["app": "cache"], true),
        (MeshRequest(peerIdentity: nil, port: 80), [:], true),
    ] as [(MeshRequest, [String: String], Bool)])
    func matrix(request: MeshRequest, labels: [String: String], allowed: Bool) {
        #expect(Self.decide(request, labels: labels).allowed == allowed, "\(request.description) to \(labels)")
    }

    @Test("the reason names the allowing rule, or the selecting policies and the request")
    func reasons() {
        let allowed = Self.decide(MeshRequest(peerIdentity: Self.readerB, port: 1), labels: Self.web)
        #expect(allowed.reason == "allowed by MeshPolicy b/web rules[1]")
        let denied = Self.decide(MeshRequest(peerIdentity: Self.fromB, port: 8080, http: .init(method: "GET", target: "/api/x?y")), labels: Self.web)
        #expect(denied.reason == "no rule of MeshPolicy b/web matches spiffe://cluster.local/ns/b/sa/default, port 8080, GET /api/x")
        let plain = Self.decide(MeshRequest(peerIdentity: nil, port: 5432), labels: ["app": "db"])
        #expect(plain.reason == "no rule of MeshPolicy b/db-closed matches plain text (no identity), port 5432")
        #expect(Self.decide(MeshRequest(peerIdentity: nil, port: 1), labels: [:]).reason == "no MeshPolicy selects the pod")
    }

    @Test("several selecting policies allow the union; a source's lists must all hold")
    func unionAndConjunction() {
        let policies = [
            Policy(namespace: "b", name: "one", rules: [.init(to: [.init(ports: [1])])]),
            Policy(namespace: "b", name: "two", rules: [.init(from: [.init(identities: [Self.readerB], namespaces: ["a"])])]),
        ]
        func decide(_ request: MeshRequest) -> Bool {
            MeshAuthorizationDecision.decide(request, namespace: "b", labels: [:], policies: policies).allowed
        }
        #expect(decide(MeshRequest(peerIdentity: nil, port: 1)))
        // readerB is in namespace b, not a: both lists of the source must hold.
        #expect(!decide(MeshRequest(peerIdentity: Self.readerB, port: 2)))
        #expect(!decide(MeshRequest(peerIdentity: Self.fromA, port: 2)))
    }

    @Test("path patterns: exact, prefix, any", arguments: [
        ("*", "/x", true), ("/api/*", "/api/", true), ("/api/*", "/api", false), ("/api*", "/apis", true),
        ("/healthz", "/healthz", true), ("/healthz", "/healthz/", false),
    ])
    func paths(pattern: String, path: String, matches: Bool) {
        #expect(MeshAuthorizationPolicy.Operation.path(pattern, matches: path) == matches)
    }
}

@Suite("mesh status rows")
struct MeshStatusTests {
    @Test("time left prints as kubectl's ages; past is expired; none is <none>")
    func expiry() {
        let now = Timestamp(secondsSince1970: 1_000_000)
        let pods = [
            MeshPodStatus(namespace: "a", name: "web", node: "n1", identity: "spiffe://cluster.local/ns/a/sa/default", mode: "STRICT",
                          certificateNotAfter: now.adding(seconds: 41 * 60), ready: "2/2", proxyReady: true),
            MeshPodStatus(namespace: "a", name: "old", node: "n2", identity: "spiffe://cluster.local/ns/a/sa/default", mode: "PERMISSIVE",
                          certificateNotAfter: now.adding(seconds: -5), ready: "1/2", proxyReady: false),
            MeshPodStatus(namespace: "b", name: "plain", node: "n1", identity: "spiffe://cluster.local/ns/b/sa/default", mode: "DISABLE",
                          certificateNotAfter: nil, ready: "2/2", proxyReady: true),
        ]
        let table = MeshStatusTable.table(pods, now: now)
        #expect(table.headers == ["NAMESPACE", "NAME", "NODE", "IDENTITY", "MODE", "CERT EXPIRES", "READY"])
        #expect(table.rows.map { $0[5] } == ["41m", "expired", "<none>"])
    }
}
