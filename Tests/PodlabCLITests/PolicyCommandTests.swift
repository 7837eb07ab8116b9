@testable import AgentTestSupport
import Foundation
@testable import PodlabAgent
import PodNet
import Testing

/// `apply`, `get`, `describe` and `delete` of NetworkPolicies against the real API.
@Suite("networkpolicy commands")
struct PolicyCommandTests {
    static let manifest = """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: test-network-policy}
        spec:
          podSelector: {matchLabels: {role: db}}
          policyTypes: [Ingress, Egress]
          ingress:
          - from:
            - ipBlock: {cidr: 172.17.0.0/16, except: [172.17.1.0/24]}
            - namespaceSelector: {matchLabels: {project: myproject}}
            - podSelector: {matchLabels: {role: frontend}}
            ports: [{protocol: TCP, port: 6379}]
          egress:
          - to: [{ipBlock: {cidr: 10.0.0.0/24}}]
            ports: [{protocol: TCP, port: 5978}]
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: default-deny-ingress}
        spec: {podSelector: {}}
        """

    @Test func applyGetDescribeDelete() async throws {
        let file = try temporaryManifest(Self.manifest)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await TestAgent.serving { agent in
            let apply = agent.context()
            #expect(await apply.run(["apply", "-f", file]) == 0)
            #expect(apply.stdout.text == "networkpolicy.networking.k8s.io/test-network-policy created\nnetworkpolicy.networking.k8s.io/default-deny-ingress created\n")

            // The later of the two creations, so both read 60m.
            let created = try #require(await agent.controller.networkPolicies.values.compactMap(\.metadata.creationTimestamp).max())
            let get = agent.context(now: created)
            #expect(await get.run("get netpol") == 0)
            #expect(get.stdout.text == """
                NAME                   POD-SELECTOR   AGE
                default-deny-ingress   <none>         60m
                test-network-policy    role=db        60m

                """)

            let describe = agent.context()
            #expect(await describe.run("describe networkpolicy test-network-policy") == 0)
            let text = describe.stdout.text
            #expect(text.hasPrefix("Name:         test-network-policy\nNamespace:    default\nCreated on:   "))
            #expect(text.hasSuffix("""
                Labels:       <none>
                Annotations:  <none>
                Spec:
                  PodSelector:     role=db
                  Allowing ingress traffic:
                    To Port: 6379/TCP
                    From:
                      IPBlock:
                        CIDR: 172.17.0.0/16
                        Except: 172.17.1.0/24
                    From:
                      NamespaceSelector: project=myproject
                    From:
                      PodSelector: role=frontend
                  Allowing egress traffic:
                    To Port: 5978/TCP
                    To:
                      IPBlock:
                        CIDR: 10.0.0.0/24
                        Except: \("")
                  Policy Types: Ingress, Egress
                  Logging: off (annotate podlab.dev/log="true" to log its drops)

                """), "\(text)")

            let bad = agent.context()
            try "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad}\nspec: {podSelector: {}, ingress: [{ports: [{protocol: SCTP, port: 80}]}]}"
                .write(toFile: file, atomically: true, encoding: .utf8)
            #expect(await bad.run(["apply", "-f", file]) != 0)
            #expect(bad.stderr.text.contains(#"The NetworkPolicy "bad" is invalid: spec.ingress[0].ports[0].protocol: Forbidden: not supported by podlab yet"#), "\(bad.stderr.text)")

            let delete = agent.context()
            #expect(await delete.run("delete netpol default-deny-ingress") == 0)
            #expect(delete.stdout.text == "networkpolicy.networking.k8s.io \"default-deny-ingress\" deleted\n")
            #expect(await agent.controller.networkPolicies.keys.sorted() == ["default/test-network-policy"])
        }
    }

    @Test("logs --policy: a logged policy's kept drops, one line each; a policy that does not log says so; a missing one is not found")
    func policyLogs() async throws {
        let file = try temporaryManifest("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: deny-web, annotations: {podlab.dev/log: "true"}}
            spec: {podSelector: {}}
            ---
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: quiet}
            spec: {podSelector: {}}
            """)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await TestAgent.serving { agent in
            #expect(await agent.context().run(["apply", "-f", file]) == 0)
            // A TCP SYN 10.244.2.7:40000 → 10.244.1.9:80 as nflog copies it, from addresses no pod holds.
            let syn: [UInt8] = [0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 244, 2, 7, 10, 244, 1, 9, 0x9c, 0x40, 0, 80] + [UInt8](repeating: 0, count: 16)
            await agent.controller.recordPolicyDrop(node: "n1", prefix: "ingress default/deny-web", payload: syn)
            await agent.controller.recordPolicyDrop(node: "n1", prefix: "ingress default/quiet", payload: syn)  // no longer logs: ignored

            let logs = agent.context()
            #expect(await logs.run(["logs", "--policy", "deny-web"]) == 0)
            let lines = logs.stdout.text.split(separator: "\n")
            #expect(lines.count == 1)
            #expect(lines.first?.hasSuffix(" n1 10.244.2.7:40000 → 10.244.1.9:80 TCP DROP (Ingress default/deny-web)") == true, "\(logs.stdout.text)")

            let quiet = agent.context()
            #expect(await quiet.run(["logs", "--policy", "quiet"]) == 0)
            #expect(quiet.stdout.text.isEmpty)
            #expect(quiet.stderr.text.contains("networkpolicy default/quiet does not log its drops"), "\(quiet.stderr.text)")

            let describe = agent.context()
            #expect(await describe.run(["describe", "networkpolicy", "deny-web"]) == 0)
            #expect(describe.stdout.text.contains("  Logging: on (drops, at most 10/second after 5: podlab logs --policy deny-web -n default)\n"))

            let missing = agent.context()
            #expect(await missing.run(["logs", "--policy", "nosuch"]) != 0)
            #expect(missing.stderr.text.contains("\"nosuch\" not found"), "\(missing.stderr.text)")
            let both = agent.context()
            #expect(await both.run(["logs", "web", "--policy", "deny-web"]) != 0)
        }
    }
}
