import Testing
@testable import PodNet

@Suite("netpol scenario cases")
struct NetpolScenarioTests {
    static let suffix = "t3st1"

    /// The scenario's pods as the semantics see them, two nodes.
    static func world(_ policies: [NetworkPolicy], labels: [String: [String: String]] = [:]) -> (PolicyWorld, NetpolScenario.Context) {
        var pods: [PolicyPod] = []
        var addresses: [String: IPv4Address] = [:]
        for (n, short) in NetpolScenario.namespaces.enumerated() {
            for (p, name) in NetpolScenario.pods.enumerated() {
                let address = IPv4Address(10, 244, UInt8(1 + (n + p) % 2), UInt8(10 + n * 3 + p))
                addresses["\(short)/\(name)"] = address
                var podLabels = NetpolScenario.labels(namespace: short, pod: name)
                podLabels.merge(labels["\(short)/\(name)"] ?? [:]) { $1 }
                pods.append(PolicyPod(namespace: NetpolScenario.namespace(short, suffix: suffix), name: name, labels: podLabels, address: address,
                                      node: (n + p) % 2 == 0 ? "n1" : "n2",
                                      namedPorts: [.init("serve-80-tcp", .tcp): 80, .init("serve-80-udp", .udp): 80,
                                                   .init("serve-81-tcp", .tcp): 81, .init("serve-81-udp", .udp): 81]))
            }
        }
        let namespaceLabels = Dictionary(uniqueKeysWithValues: NetpolScenario.namespaces.map {
            (NetpolScenario.namespace($0, suffix: suffix), NetpolScenario.namespaceLabels($0, suffix: suffix))
        })
        return (PolicyWorld(pods: pods, namespaceLabels: namespaceLabels, policies: policies), NetpolScenario.Context(addresses: addresses, suffix: suffix))
    }

    @Test("at least 40 cases, every policy valid, every step with an expected table")
    func casesAreValid() throws {
        #expect(NetpolScenario.cases.count >= 40)
        #expect(Set(NetpolScenario.cases.map(\.name)).count == NetpolScenario.cases.count)
        let context = Self.world([]).1
        for scenarioCase in NetpolScenario.cases {
            let steps = scenarioCase.steps(context)
            #expect(!steps.isEmpty, "\(scenarioCase.name)")
            for step in steps {
                for (namespace, yaml) in step.policies {
                    let policy = try NetpolScenario.policy(yaml, namespace: NetpolScenario.namespace(namespace, suffix: Self.suffix))
                    #expect(throws: Never.self, "\(scenarioCase.name)") { try policy.validated() }
                }
            }
        }
    }

    @Test("default deny ingress in x: the e2e suite's truth table")
    func defaultDeny() throws {
        let step = try #require(NetpolScenario.cases.first?.steps(Self.world([]).1).first)
        let policies = try step.policies.map { try NetpolScenario.policy($0.yaml, namespace: NetpolScenario.namespace($0.namespace, suffix: Self.suffix)) }
        let table = NetpolScenario.expected(Self.world(policies).0, suffix: Self.suffix, proto: step.proto, port: step.port)
        #expect(table.text == """
            -\tx/a\tx/b\tx/c\ty/a\ty/b\ty/c\tz/a\tz/b\tz/c
            x/a\t.\tX\tX\t.\t.\t.\t.\t.\t.
            x/b\tX\t.\tX\t.\t.\t.\t.\t.\t.
            x/c\tX\tX\t.\t.\t.\t.\t.\t.\t.
            y/a\tX\tX\tX\t.\t.\t.\t.\t.\t.
            y/b\tX\tX\tX\t.\t.\t.\t.\t.\t.
            y/c\tX\tX\tX\t.\t.\t.\t.\t.\t.
            z/a\tX\tX\tX\t.\t.\t.\t.\t.\t.
            z/b\tX\tX\tX\t.\t.\t.\t.\t.\t.
            z/c\tX\tX\tX\t.\t.\t.\t.\t.\t.
            """)
        var observed = table
        observed.cells[3][0] = true
        observed.cells[1][1] = false  // a pod to itself is ignored
        let comparison = table.comparison(with: observed)
        #expect(comparison.mismatches == 1)
        #expect(comparison.text.split(separator: "\n")[4] == "y/a\tX\t.\t.\t.\t.\t.\t.\t.\t.")
    }

    @Test("the default namespace label case selects y by its real name")
    func defaultNamespaceLabel() throws {
        let scenarioCase = try #require(NetpolScenario.cases.first { $0.name.contains("default ns label") })
        let (_, context) = Self.world([])
        let step = try #require(scenarioCase.steps(context).first)
        let policies = try step.policies.map { try NetpolScenario.policy($0.yaml, namespace: context.namespace($0.namespace)) }
        let table = NetpolScenario.expected(Self.world(policies).0, suffix: Self.suffix, proto: .tcp, port: 80)
        #expect(table.cells[3][0] == true)   // y/a → x/a
        #expect(table.cells[6][0] == false)  // z/a → x/a
        #expect(table.cells[1][0] == false)  // x/b → x/a
    }
}
