@testable import AgentTestSupport
import Foundation
import Netns
@testable import PodlabAgent
import PodNet
import Testing

/// NetworkPolicies through the real controller, with the kernel faked: stored, refused with
/// Kubernetes' messages, and every node's rules following policies and pod labels.
@Suite struct PolicyControllerTests {
    static let allowClients = """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: allow-clients}
        spec:
          podSelector: {matchLabels: {app: web}}
          ingress:
          - from: [{podSelector: {matchLabels: {role: client}}}]
        """

    @Test func aPolicyIsStoredDefaultedAndProgrammedAndALabelChangeMovesOnlyElements() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            let web = try await agent.createPod("apiVersion: v1\nkind: Pod\nmetadata: {name: web, labels: {app: web}}\nspec: {containers: [{name: web, image: nginx}]}")
            _ = try await agent.createPod("apiVersion: v1\nkind: Pod\nmetadata: {name: other}\nspec: {containers: [{name: s, image: busybox, command: [sleep, '60']}]}")
            try await agent.waitForPod("web", "running") { $0?.status.phase == .running }
            try await agent.waitForPod("other", "running") { $0?.status.phase == .running }
            try await agent.create(Self.allowClients)
            let stored = try #require(await agent.controller.networkPolicies["default/allow-clients"])
            #expect(stored.spec.policyTypes == [.ingress])
            #expect(stored.metadata.generation == 1)
            let webIP = try #require(IPv4Address(await agent.pod("web")?.status.podIP ?? ""))
            let node = try #require(await agent.pod("web")?.spec.nodeName)
            try await agent.wait("the web pod isolated on its node") {
                agent.runtime.policiesSynced[node]?.set("ingress-pods")?.elements == [.init(.address(webIP))]
            }
            let before = try #require(agent.runtime.policiesSynced[node])
            #expect(before.set("ingress-any")?.elements.isEmpty == true, "no pod is labelled role=client yet")

            // `other` gets the client label: its identity changes, the web pod admits it.
            var other = try #require(await agent.pod("other"))
            other.metadata.labels["role"] = "client"
            _ = try await agent.controller.replacePod(namespace: "default", name: "other", body: Data(other.json.jsonText(indent: 0).utf8), dryRun: false)
            try await agent.wait("the rules follow the label") { agent.runtime.policiesSynced[node] != before }
            let after = try #require(agent.runtime.policiesSynced[node])
            #expect(after.chains == before.chains)
            let otherIP = try #require(IPv4Address(await agent.pod("other")?.status.podIP ?? ""))
            let identity = try #require(after.set("identities")?.elements.first { $0.key == .address(otherIP) }?.data)
            #expect(after.set("ingress-any")?.elements == [.init(.concat([.address(webIP), identity]), .verdict(.return))])
            // Sent as one small delta: the client's identity element and the web pod's new allowance.
            let delta = try #require(agent.runtime.policyDeltas[node]?.last)
            #expect(Set(delta.added.keys).union(delta.removed.keys).isSubset(of: ["identities", "ingress-any"]), "\(delta)")
            #expect(delta.count <= 3, "\(delta)")
            #expect(web.metadata.labels["app"] == "web")
        }
    }

    @Test func badPoliciesAreRefusedAndNothingIsStored() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            let body = Data(#"{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"bad"},"spec":{"podSelector":{},"ingress":[{"ports":[{"port":81,"endPort":80}]}]}}"#.utf8)
            do {
                _ = try await agent.controller.createNetworkPolicy(namespace: "default", body: body, dryRun: false)
                Issue.record("an endPort below its port was accepted")
            } catch let status as APIStatus {
                #expect(status.message == #"NetworkPolicy.networking.k8s.io "bad" is invalid: spec.ingress[0].ports[0].endPort: Invalid value: 81: must be greater than or equal to `port`"#)
                #expect(status.code == 422)
            }
            #expect(await agent.controller.networkPolicies.isEmpty)
            _ = try await agent.controller.createNetworkPolicy(namespace: "default", body: Data(#"{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"dry"},"spec":{"podSelector":{}}}"#.utf8), dryRun: true)
            #expect(await agent.controller.networkPolicies.isEmpty)
        }
    }

    static let allowTeam = """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: allow-team}
        spec:
          podSelector: {matchLabels: {app: web}}
          ingress:
          - from: [{namespaceSelector: {matchLabels: {team: blue}}}]
        """

    @Test func aNamespaceUpdateChangesItsLabelsKeepsTheNameLabelAndThePoliciesFollow() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            _ = try await agent.controller.createNamespace(body: Data(#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team"}}"#.utf8), dryRun: false)
            _ = try await agent.createPod("apiVersion: v1\nkind: Pod\nmetadata: {name: web, labels: {app: web}}\nspec: {containers: [{name: web, image: nginx}]}")
            _ = try await agent.createPod("apiVersion: v1\nkind: Pod\nmetadata: {name: member}\nspec: {containers: [{name: s, image: busybox, command: [sleep, '60']}]}",
                                          namespace: "team")
            try await agent.waitForPod("web", "running") { $0?.status.phase == .running }
            try await agent.waitForPod("member", namespace: "team", "running") { $0?.status.phase == .running }
            try await agent.create(Self.allowTeam)
            let webIP = try #require(IPv4Address(await agent.pod("web")?.status.podIP ?? ""))
            let node = try #require(await agent.pod("web")?.spec.nodeName)
            try await agent.wait("the web pod isolated, admitting nobody") {
                agent.runtime.policiesSynced[node]?.set("ingress-pods")?.elements == [.init(.address(webIP))]
                    && agent.runtime.policiesSynced[node]?.set("ingress-any")?.elements.isEmpty == true
            }

            // A PUT that drops the name label and adds team=blue: the name label comes back.
            var namespace = try #require(await agent.controller.namespaces["team"])
            namespace.metadata.labels = ["team": "blue"]
            namespace.status.phase = "Elsewhere"
            let answer = try await agent.controller.replaceNamespace(name: "team", body: Data(namespace.json.jsonText(indent: 0).utf8), dryRun: false)
            let stored = try Namespace(json: JSONReader.value(from: String(decoding: answer, as: UTF8.self)))
            #expect(stored.metadata.labels == ["team": "blue", Namespace.nameLabel: "team"])
            #expect(stored.status.phase == NamespaceStatus.active, "status is not the update's to change")
            #expect(stored.metadata.resourceVersion != namespace.metadata.resourceVersion)

            let memberIP = try #require(IPv4Address(await agent.pod("member", namespace: "team")?.status.podIP ?? ""))
            try await agent.wait("the namespaceSelector admits the team's pod") {
                guard let rules = agent.runtime.policiesSynced[node],
                      let identity = rules.set("identities")?.elements.first(where: { $0.key == .address(memberIP) })?.data else { return false }
                return rules.set("ingress-any")?.elements == [.init(.concat([.address(webIP), identity]), .verdict(.return))]
            }

            // A stale resourceVersion is a conflict, and a wrong name a bad request; neither changes anything.
            do {
                _ = try await agent.controller.replaceNamespace(name: "team", body: Data(namespace.json.jsonText(indent: 0).utf8), dryRun: false)
                Issue.record("a stale resourceVersion was accepted")
            } catch let status as APIStatus {
                #expect(status.code == 409)
            }
            var renamed = stored
            renamed.metadata.name = "other"
            await #expect(throws: APIStatus.self) {
                _ = try await agent.controller.replaceNamespace(name: "team", body: Data(renamed.json.jsonText(indent: 0).utf8), dryRun: false)
            }
            #expect(await agent.controller.namespaces["team"] == stored)
        }
    }
}
