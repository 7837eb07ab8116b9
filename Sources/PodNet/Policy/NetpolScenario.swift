/// `podlab test --scenario netpol`: the cases of Kubernetes' network-policy e2e suite
/// (test/e2e/network/netpol) on namespaces x, y, z with pods a, b, c, each serving TCP and UDP
/// on ports 80 and 81 (container ports `serve-80-tcp`, `serve-80-udp`, `serve-81-tcp`,
/// `serve-81-udp`). Each case is one or more steps: the policies in force, pod label
/// overrides, and the protocol and port probed from every pod to every pod. The expected
/// truth table comes from `PolicyModel`, the semantics; the observed one from probes.
public enum NetpolScenario {
    public static let name = "netpol"
    public static let namespaces = ["x", "y", "z"]
    public static let pods = ["a", "b", "c"]

    /// The real namespace name of a scenario namespace (`x` → `x-k2f9w`), so a lab's own
    /// namespaces are never touched.
    public static func namespace(_ short: String, suffix: String) -> String { "\(short)-\(suffix)" }

    /// What a case may need of the running scenario: the pods' addresses (`x/a` → 10.244.1.5)
    /// for ipBlock cases, and the real namespace names.
    public struct Context: Sendable {
        public var addresses: [String: IPv4Address]
        public var suffix: String

        public init(addresses: [String: IPv4Address], suffix: String) {
            self.addresses = addresses
            self.suffix = suffix
        }

        /// `x/a`'s address; 0.0.0.0 for a pod not known (its case then fails visibly).
        public subscript(_ pod: String) -> String { (addresses[pod] ?? IPv4Address(0, 0, 0, 0)).description }

        public func namespace(_ short: String) -> String { NetpolScenario.namespace(short, suffix: suffix) }
    }

    public struct Step: Sendable {
        /// Policies as YAML documents without `apiVersion`/`kind` (added), namespaces by short name.
        public var policies: [(namespace: String, yaml: String)]
        /// `x/a` → labels replacing the pod's own (the scenario's `pod: a` is kept).
        public var labels: [String: [String: String]]
        public var proto: PortProtocol
        public var port: UInt16

        public init(_ policies: [(namespace: String, yaml: String)], labels: [String: [String: String]] = [:], proto: PortProtocol = .tcp, port: UInt16 = 80) {
            self.policies = policies
            self.labels = labels
            self.proto = proto
            self.port = port
        }
    }

    public struct Case: Sendable {
        public var name: String
        public var steps: @Sendable (Context) -> [Step]
    }

    /// A pod of the scenario as the semantics see it (also for the CLI's probes).
    public static func labels(namespace: String, pod: String) -> [String: String] { ["pod": pod] }

    public static func namespaceLabels(_ short: String, suffix: String) -> [String: String] {
        ["ns": short, Namespace.nameLabel: namespace(short, suffix: suffix)]
    }

    /// A policy object from a step's YAML, in the real namespace.
    public static func policy(_ yaml: String, namespace: String) throws(ObjectDecodingError) -> NetworkPolicy {
        let value: JSONValue
        do { value = try YAMLReader.value(from: yaml) } catch { throw .typeMismatch(field: .root, expected: "YAML", found: "\(error)") }
        guard case .object(var fields) = value else { throw .typeMismatch(field: .root, expected: "object", found: value.typeName) }
        fields["apiVersion"] = .string(NetworkPolicy.apiVersion)
        fields["kind"] = .string(NetworkPolicy.kind)
        var policy = try NetworkPolicy(json: .object(fields))
        policy.metadata.namespace = namespace
        return policy.applyingDefaults()
    }

    // MARK: Truth tables

    /// Rows are sources, columns destinations, in `x/a, x/b, … z/c` order; `true` reachable.
    public struct TruthTable: Hashable, Sendable {
        public var names: [String]
        public var cells: [[Bool]]

        public init(names: [String], cells: [[Bool]]) {
            self.names = names
            self.cells = cells
        }

        /// As the e2e suite prints it: `.` reachable, `X` blocked, a tab between cells.
        public func render(_ symbol: (Int, Int) -> String) -> String {
            var lines = ["-\t" + names.joined(separator: "\t")]
            for (row, name) in names.enumerated() {
                lines.append(name + "\t" + names.indices.map { symbol(row, $0) }.joined(separator: "\t"))
            }
            return lines.joined(separator: "\n")
        }

        public var text: String { render { cells[$0][$1] ? "." : "X" } }

        /// `.` where both agree, `X` where they differ; a pod to itself (loopback) is ignored.
        public func comparison(with observed: TruthTable) -> (text: String, mismatches: Int) {
            var mismatches = 0
            let text = render { row, column in
                if row == column || cells[row][column] == observed.cells[row][column] { return "." }
                mismatches += 1
                return "X"
            }
            return (text, mismatches)
        }
    }

    public static var podNames: [String] { namespaces.flatMap { ns in pods.map { "\(ns)/\($0)" } } }

    /// The expected table of a step.
    public static func expected(_ world: PolicyWorld, suffix: String, proto: PortProtocol, port: UInt16) -> TruthTable {
        let byName = Dictionary(world.pods.map { ("\($0.namespace)/\($0.name)", $0) }) { a, _ in a }
        let names = podNames
        let cells = names.map { from in
            names.map { to in
                guard let source = byName[real(from, suffix: suffix)], let destination = byName[real(to, suffix: suffix)] else { return false }
                return PolicyModel.verdict(in: world, from: .pod(source), to: .pod(destination), proto: proto, port: port).isAllowed
            }
        }
        return TruthTable(names: names, cells: cells)
    }

    /// `x/a` → `x-k2f9w/a`.
    public static func real(_ name: String, suffix: String) -> String {
        let parts = name.split(separator: "/")
        return "\(namespace(String(parts[0]), suffix: suffix))/\(parts[1])"
    }

    // MARK: The cases

    static func deny(_ types: String = "[Ingress]", name: String = "deny") -> String {
        "metadata: {name: \(name)}\nspec: {podSelector: {}, policyTypes: \(types)}"
    }

    static func ingress(_ name: String, selector: String = "{matchLabels: {pod: a}}", _ rules: String, types: String = "[Ingress]") -> String {
        "metadata: {name: \(name)}\nspec:\n  podSelector: \(selector)\n  policyTypes: \(types)\n  ingress: \(rules)"
    }

    static func egress(_ name: String, selector: String = "{matchLabels: {pod: a}}", _ rules: String) -> String {
        "metadata: {name: \(name)}\nspec:\n  podSelector: \(selector)\n  policyTypes: [Egress]\n  egress: \(rules)"
    }

    static func one(_ namespace: String, _ yaml: String, proto: PortProtocol = .tcp, port: UInt16 = 80, labels: [String: [String: String]] = [:]) -> [Step] {
        [Step([(namespace, yaml)], labels: labels, proto: proto, port: port)]
    }

    public static let cases: [Case] = [
        Case(name: "should support a 'default-deny-ingress' policy") { _ in one("x", deny()) },
        Case(name: "should support a 'default-deny-ingress' policy (UDP)") { _ in one("x", deny(), proto: .udp, port: 81) },
        Case(name: "should support a 'default-deny-all' policy") { _ in one("x", deny("[Ingress, Egress]")) },
        Case(name: "should support a 'default-deny-egress' policy") { _ in one("x", deny("[Egress]")) },
        Case(name: "should support allow-all policy") { _ in one("x", ingress("allow-all", selector: "{}", "[{}]")) },
        Case(name: "should enforce policy to allow traffic from pods within server namespace based on PodSelector") { _ in
            one("x", ingress("allow-b", "[{from: [{podSelector: {matchLabels: {pod: b}}}]}]"))
        },
        Case(name: "should enforce policy to allow ingress traffic for a target") { _ in
            [Step([("x", deny()), ("x", ingress("allow-a", "[{}]"))])]
        },
        Case(name: "should enforce policy to allow ingress traffic from pods in all namespaces") { _ in
            one("x", ingress("allow-all-ns", "[{from: [{namespaceSelector: {}}]}]"))
        },
        Case(name: "should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector") { _ in
            one("x", ingress("allow-y", "[{from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}]}]"))
        },
        Case(name: "should enforce policy to allow traffic based on NamespaceSelector with MatchLabels using default ns label") { context in
            one("x", ingress("allow-y-by-name", "[{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: \(context.namespace("y"))}}}]}]"))
        },
        Case(name: "should enforce policy based on PodSelector with MatchExpressions") { _ in
            one("x", ingress("expr", "[{from: [{podSelector: {matchExpressions: [{key: pod, operator: In, values: [b]}]}}]}]"))
        },
        Case(name: "should enforce policy based on NamespaceSelector with MatchExpressions") { _ in
            one("x", ingress("ns-expr", "[{from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [\"x\", \"z\"]}]}}]}]"))
        },
        Case(name: "should enforce policy based on PodSelector or NamespaceSelector") { _ in
            one("x", ingress("or", "[{from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [\"x\"]}]}}, {podSelector: {matchLabels: {pod: b}}}]}]"))
        },
        Case(name: "should enforce policy based on PodSelector and NamespaceSelector") { _ in
            one("x", ingress("and", "[{from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [\"x\"]}]}, podSelector: {matchLabels: {pod: b}}}]}]"))
        },
        Case(name: "should enforce policy based on Multiple PodSelectors and NamespaceSelectors") { _ in
            one("x", ingress("multi", "[{from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [\"x\"]}]}, podSelector: {matchExpressions: [{key: pod, operator: In, values: [b, c]}]}}]}]"))
        },
        Case(name: "should enforce policy based on any PodSelectors") { _ in
            one("x", ingress("any-pods", "[{from: [{podSelector: {matchLabels: {pod: b}}}, {podSelector: {matchLabels: {pod: c}}}]}]"))
        },
        Case(name: "should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector") { _ in
            one("x", ingress("y-a", "[{from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}, podSelector: {matchLabels: {pod: a}}}]}]"))
        },
        Case(name: "should enforce policy based on Ports (port 81 allowed)") { _ in
            one("x", ingress("port-81", "[{from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}], ports: [{port: 81}]}]"), port: 81)
        },
        Case(name: "should enforce policy based on Ports (port 80 blocked)") { _ in
            one("x", ingress("port-81", "[{from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}], ports: [{port: 81}]}]"), port: 80)
        },
        Case(name: "should enforce multiple, stacked policies with overlapping podSelectors") { _ in
            [Step([("x", ingress("port-81-y", "[{from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}], ports: [{port: 81}]}]")),
                   ("x", ingress("port-80-z", "[{from: [{namespaceSelector: {matchLabels: {ns: \"z\"}}}], ports: [{port: 80}]}]"))], port: 80),
             Step([("x", ingress("port-81-y", "[{from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}], ports: [{port: 81}]}]")),
                   ("x", ingress("port-80-z", "[{from: [{namespaceSelector: {matchLabels: {ns: \"z\"}}}], ports: [{port: 80}]}]"))], port: 81)]
        },
        Case(name: "should allow ingress access on one named port") { _ in
            [Step([("x", ingress("named", "[{ports: [{port: serve-81-tcp}]}]"))], port: 81),
             Step([("x", ingress("named", "[{ports: [{port: serve-81-tcp}]}]"))], port: 80)]
        },
        Case(name: "should allow ingress access from namespace on one named port") { _ in
            one("x", ingress("named-ns", "[{from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}], ports: [{port: serve-80-tcp}]}]"))
        },
        Case(name: "should allow egress access on one named port") { _ in
            [Step([("x", egress("egress-named", "[{ports: [{port: serve-80-tcp}]}]"))], port: 80),
             Step([("x", egress("egress-named", "[{ports: [{port: serve-80-tcp}]}]"))], port: 81)]
        },
        Case(name: "should enforce updated policy") { _ in
            [Step([("x", ingress("update", "[{ports: [{port: 81}]}]"))], port: 80),
             Step([("x", ingress("update", "[{ports: [{port: 80}]}]"))], port: 80)]
        },
        Case(name: "should allow ingress access from updated pod") { _ in
            [Step([("x", ingress("from-updated", "[{from: [{namespaceSelector: {}, podSelector: {matchLabels: {allow: \"yes\"}}}]}]"))]),
             Step([("x", ingress("from-updated", "[{from: [{namespaceSelector: {}, podSelector: {matchLabels: {allow: \"yes\"}}}]}]"))],
                  labels: ["y/b": ["allow": "yes"]])]
        },
        Case(name: "should deny ingress access to updated pod") { _ in
            [Step([("x", ingress("target-updated", selector: "{matchLabels: {target: \"true\"}}", "[]"))]),
             Step([("x", ingress("target-updated", selector: "{matchLabels: {target: \"true\"}}", "[]"))], labels: ["x/a": ["target": "true"]])]
        },
        Case(name: "should deny ingress from pods on other namespaces") { _ in
            one("x", ingress("same-ns", selector: "{}", "[{from: [{podSelector: {}}]}]"))
        },
        Case(name: "should deny egress from pods based on PodSelector") { _ in one("x", egress("deny-a", "[]")) },
        Case(name: "should deny egress from all pods in a namespace") { _ in one("x", egress("deny-all", selector: "{}", "[]")) },
        Case(name: "should work with Ingress, Egress specified together") { _ in
            one("x", "metadata: {name: both}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Ingress, Egress]\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}]}]\n  egress: [{to: [{namespaceSelector: {matchLabels: {ns: \"z\"}}}]}]")
        },
        Case(name: "should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)") { _ in
            [Step([("x", egress("deny-egress-a", "[{to: [{namespaceSelector: {matchLabels: {ns: \"z\"}}}]}]")),
                   ("y", ingress("allow-from-x-a", selector: "{}", "[{from: [{namespaceSelector: {matchLabels: {ns: \"x\"}}, podSelector: {matchLabels: {pod: a}}}]}]"))])]
        },
        Case(name: "should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector") { _ in
            one("x", egress("egress-y-a", "[{to: [{namespaceSelector: {matchLabels: {ns: \"y\"}}, podSelector: {matchLabels: {pod: a}}}]}]"))
        },
        Case(name: "should enforce ingress policy allowing any port traffic to a server on a specific protocol (UDP allowed)") { _ in
            one("x", ingress("udp-only", "[{ports: [{protocol: UDP}]}]"), proto: .udp, port: 81)
        },
        Case(name: "should enforce ingress policy allowing any port traffic to a server on a specific protocol (TCP blocked)") { _ in
            one("x", ingress("udp-only", "[{ports: [{protocol: UDP}]}]"), proto: .tcp, port: 81)
        },
        Case(name: "should enforce multiple ingress policies with ingress allow-all policy taking precedence") { _ in
            [Step([("x", ingress("only-81", "[{ports: [{port: 81}]}]")), ("x", ingress("allow-all", selector: "{}", "[{}]"))], port: 80)]
        },
        Case(name: "should enforce multiple egress policies with egress allow-all policy taking precedence") { _ in
            [Step([("x", egress("only-81", "[{ports: [{port: 81}]}]")), ("x", egress("allow-all", selector: "{}", "[{}]"))], port: 80)]
        },
        Case(name: "should stop enforcing policies after they are deleted") { _ in
            [Step([("x", deny("[Ingress, Egress]"))]), Step([])]
        },
        Case(name: "should allow egress access to server in CIDR block") { addresses in
            one("x", egress("cidr", "[{to: [{ipBlock: {cidr: \"\(addresses["y/b"])/32\"}}]}]"))
        },
        Case(name: "should enforce except clause while egress access to server in CIDR block") { addresses in
            one("x", egress("except", "[{to: [{ipBlock: {cidr: 0.0.0.0/0, except: [\"\(addresses["y/b"])/32\"]}}]}]"))
        },
        Case(name: "should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed") { addresses in
            one("x", egress("overlap", "[{to: [{ipBlock: {cidr: 0.0.0.0/0, except: [\"\(addresses["y/b"])/32\"]}}]}, {to: [{ipBlock: {cidr: \"\(addresses["y/b"])/32\"}}]}]"))
        },
        Case(name: "should enforce policies to check ingress and egress policies can be controlled independently based on PodSelector") { _ in
            [Step([("x", egress("allow-egress-a", "[{}]")), ("x", egress("deny-egress-b", selector: "{matchLabels: {pod: b}}", "[]"))])]
        },
        Case(name: "should enforce policy based on Ports range (endPort)") { _ in
            [Step([("x", ingress("range", "[{ports: [{port: 80, endPort: 81}]}]"))], port: 81),
             Step([("x", ingress("range", "[{ports: [{port: 79, endPort: 80}]}]"))], port: 81)]
        },
        Case(name: "should allow egress to DNS only (pod traffic blocked)") { _ in
            one("x", egress("dns-only", selector: "{}", "[{ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]"))
        },
        Case(name: "should enforce ingress by a label change of the source mid-test") { _ in
            [Step([("x", ingress("tier", "[{from: [{namespaceSelector: {}, podSelector: {matchLabels: {tier: front}}}]}]"))], labels: ["z/c": ["tier": "front"]]),
             Step([("x", ingress("tier", "[{from: [{namespaceSelector: {}, podSelector: {matchLabels: {tier: front}}}]}]"))], labels: [:])]
        },
        Case(name: "should enforce egress with a podSelector in the policy's own namespace and a UDP named port") { _ in
            one("y", egress("udp-named", selector: "{}", "[{to: [{podSelector: {}}], ports: [{port: serve-81-udp, protocol: UDP}]}]"), proto: .udp, port: 81)
        },
    ]
}
