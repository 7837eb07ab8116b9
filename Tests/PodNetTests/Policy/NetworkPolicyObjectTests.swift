import Testing
@testable import PodNet

@Suite("NetworkPolicy objects")
struct NetworkPolicyObjectTests {
    static func policy(_ yaml: String) throws -> NetworkPolicy {
        try NetworkPolicy(json: YAMLReader.value(from: yaml))
    }

    static func errors(_ yaml: String) throws -> [String] {
        NetworkPolicyValidation.validate(try policy(yaml).applyingDefaults()).map(\.description)
    }

    static let header = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: default}\n"

    @Test("the Kubernetes docs' test-network-policy decodes, defaults and writes back")
    func roundTrip() throws {
        let policy = try Self.policy(Self.header + """
            spec:
              podSelector: {matchLabels: {role: db}}
              policyTypes: [Ingress, Egress]
              ingress:
              - from:
                - ipBlock: {cidr: 172.17.0.0/16, except: [172.17.1.0/24]}
                - namespaceSelector: {matchLabels: {project: myproject}}
                - podSelector: {matchLabels: {role: frontend}}
                ports:
                - {protocol: TCP, port: 6379}
              egress:
              - to:
                - ipBlock: {cidr: 10.0.0.0/24}
                ports:
                - {protocol: TCP, port: 5978}
            """).applyingDefaults()
        #expect(policy.spec.ingress[0].from.count == 3)
        #expect(policy.spec.ingress[0].from[1].podSelector == nil)
        #expect(policy.spec.ingress[0].from[2].podSelector?.matchLabels == ["role": "frontend"])
        #expect(try NetworkPolicy(json: policy.json) == policy)
        #expect(NetworkPolicyValidation.validate(policy).isEmpty)
    }

    @Test("policyTypes default as the API server sets them, and ports to TCP")
    func defaults() throws {
        let ingressOnly = try Self.policy(Self.header + "spec: {podSelector: {}}").applyingDefaults()
        #expect(ingressOnly.spec.policyTypes == [.ingress])
        let withEgress = try Self.policy(Self.header + "spec: {podSelector: {}, egress: [{ports: [{port: 53}]}]}").applyingDefaults()
        #expect(withEgress.spec.policyTypes == [.ingress, .egress])
        #expect(withEgress.spec.egress[0].ports[0].protocol == .tcp)
        let explicit = try Self.policy(Self.header + "spec: {podSelector: {}, policyTypes: [Egress]}").applyingDefaults()
        #expect(explicit.spec.policyTypes == [.egress])
        // An empty pod selector is written as `{}`, as the API server does.
        #expect(ingressOnly.json["spec"]?["podSelector"] == .object([:]))
    }

    @Test("a missing peer list and an empty one are kept apart from an empty selector")
    func emptyAndMissing() throws {
        let policy = try Self.policy(Self.header + "spec: {podSelector: {}, ingress: [{}, {from: [{podSelector: {}}]}]}")
        #expect(policy.spec.ingress[0].from.isEmpty)
        #expect(policy.spec.ingress[1].from[0].podSelector == LabelSelectorSpec())
        #expect(policy.spec.ingress[1].from[0].namespaceSelector == nil)
    }

    @Test("unknown fields are refused")
    func strict() {
        #expect(throws: ObjectDecodingError.self) { try Self.policy(Self.header + "spec: {podSelector: {}, ingres: []}") }
        #expect(throws: ObjectDecodingError.self) { try Self.policy(Self.header + "spec: {ingress: [{from: [{podselector: {}}]}]}") }
    }

    static let validationCases: [(String, String, [String])] = [
        ("unknown operator", "spec: {podSelector: {matchExpressions: [{key: a, operator: Is, values: [b]}]}}",
         [#"spec.podSelector.matchExpressions[0].operator: Invalid value: "Is": not a valid selector operator"#]),
        ("values with Exists", "spec: {podSelector: {}, ingress: [{from: [{podSelector: {matchExpressions: [{key: a, operator: Exists, values: [b]}]}}]}]}",
         ["spec.ingress[0].from[0].podSelector.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"]),
        ("In without values", "spec: {podSelector: {matchExpressions: [{key: a, operator: In}]}}",
         ["spec.podSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"]),
        ("a peer without anything", "spec: {podSelector: {}, ingress: [{from: [{}]}]}",
         ["spec.ingress[0].from[0]: Required value: must specify a peer"]),
        ("ipBlock with another peer", "spec: {podSelector: {}, egress: [{to: [{podSelector: {}, ipBlock: {cidr: 10.0.0.0/8}}]}]}",
         ["spec.egress[0].to[0]: Forbidden: may not specify both ipBlock and another peer"]),
        ("ipBlock not a CIDR", "spec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0}}]}]}",
         [#"spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "10.0.0.0": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"#]),
        ("ipBlock without cidr", "spec: {podSelector: {}, ingress: [{from: [{ipBlock: {except: [10.0.0.0/8]}}]}]}",
         ["spec.ingress[0].from[0].ipBlock.cidr: Required value"]),
        ("except outside the cidr", "spec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24, 10.0.0.0/16]}}]}]}",
         [#"spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.1.0.0/24": must be a strict subset of `cidr`"#,
          #"spec.ingress[0].from[0].ipBlock.except[1]: Invalid value: "10.0.0.0/16": must be a strict subset of `cidr`"#]),
        ("endPort below port", "spec: {podSelector: {}, ingress: [{ports: [{port: 81, endPort: 80}]}]}",
         ["spec.ingress[0].ports[0].endPort: Invalid value: 81: must be greater than or equal to `port`"]),
        ("endPort without port", "spec: {podSelector: {}, ingress: [{ports: [{endPort: 80}]}]}",
         ["spec.ingress[0].ports[0].endPort: Invalid value: 80: may not be specified when `port` is not specified"]),
        ("endPort with a named port", "spec: {podSelector: {}, ingress: [{ports: [{port: http, endPort: 80}]}]}",
         ["spec.ingress[0].ports[0].endPort: Invalid value: 80: may not be specified when `port` is non-numeric"]),
        ("port 0", "spec: {podSelector: {}, egress: [{ports: [{port: 0}]}]}",
         ["spec.egress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"]),
        ("a bad port name", "spec: {podSelector: {}, ingress: [{ports: [{port: Web_1}]}]}",
         [#"spec.ingress[0].ports[0].port: Invalid value: "Web_1": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"#]),
        ("SCTP", "spec: {podSelector: {}, ingress: [{ports: [{protocol: SCTP, port: 80}]}]}",
         ["spec.ingress[0].ports[0].protocol: Forbidden: not supported by podlab yet: the lab's policies carry TCP and UDP"]),
        ("an unknown protocol", "spec: {podSelector: {}, ingress: [{ports: [{protocol: ICMP}]}]}",
         [#"spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP""#]),
        ("an unknown policy type", "spec: {podSelector: {}, policyTypes: [Ingress, Outgress]}",
         [#"spec.policyTypes[1]: Unsupported value: "Outgress": supported values: "Ingress", "Egress""#]),
        ("three policy types", "spec: {podSelector: {}, policyTypes: [Ingress, Egress, Ingress]}",
         [#"spec.policyTypes: Invalid value: []string{"Ingress", "Egress", "Ingress"}: may not specify more than two policyTypes"#]),
    ]

    @Test("bad input gets Kubernetes' message and field path", arguments: validationCases.indices)
    func validation(_ index: Int) throws {
        let (_, body, expected) = Self.validationCases[index]
        #expect(try Self.errors(Self.header + body) == expected)
    }

    @Test("a port name no pod defines is valid: it matches nothing")
    func unknownPortNameIsValid() throws {
        #expect(try Self.errors(Self.header + "spec: {podSelector: {}, ingress: [{ports: [{port: nosuchport}]}]}").isEmpty)
    }

    @Test("get prints NAME POD-SELECTOR AGE, <none> for an empty selector")
    func table() throws {
        var a = try Self.policy(Self.header + "spec: {podSelector: {}}")
        a.metadata.creationTimestamp = Timestamp(secondsSince1970: 1_000)
        var b = try Self.policy(Self.header + "spec: {podSelector: {matchLabels: {app: web}, matchExpressions: [{key: tier, operator: In, values: [db, cache]}]}}")
        b.metadata.name = "web"
        b.metadata.creationTimestamp = Timestamp(secondsSince1970: 1_000)
        let text = PolicyTables.networkPolicies([a, b], now: Timestamp(secondsSince1970: 1_300)).render()
        #expect(text == """
            NAME   POD-SELECTOR                 AGE
            p      <none>                       5m
            web    app=web,tier in (cache,db)   5m

            """)
    }
}
