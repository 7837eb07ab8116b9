import Foundation
import KernelTestSupport
import Netns
import PodNet
import Testing

/// NetworkPolicy enforced by the nodes' nftables in a real lab: default deny, allow by pod and
/// namespace selector on a named port, a label change, egress deny and an ipBlock, the trace.
@Suite("NetworkPolicy end to end", .enabled(if: KernelTest.isRoot && KernelTest.hasNft, "needs root and nft"), .rootNamespaceUnchanged)
struct NetworkPolicyTests {
    static let manifest = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: outside}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: web, labels: {app: web}}
        spec:
          nodeName: n1
          containers: [{name: web, image: nginx, ports: [{name: http, containerPort: 80}]}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: client, labels: {role: client}}
        spec:
          nodeName: n2
          containers: [{name: shell, image: busybox, command: [sleep, "3600"]}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: other}
        spec:
          nodeName: n1
          containers: [{name: shell, image: busybox, command: [sleep, "3600"]}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: outsider, namespace: outside, labels: {role: client}}
        spec:
          nodeName: n2
          containers: [{name: shell, image: busybox, command: [sleep, "3600"]}]
        """

    static let denyIngress = """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: deny-ingress}
        spec: {podSelector: {}}
        """

    static let allowClients = """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: allow-clients}
        spec:
          podSelector: {matchLabels: {app: web}}
          ingress:
          - from: [{podSelector: {matchLabels: {role: client}}}]
            ports: [{port: http}]
        """

    static let allowOutside = """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: allow-outside}
        spec:
          podSelector: {matchLabels: {app: web}}
          ingress:
          - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: outside}}}]
        """

    static func denyEgress(_ webIP: String, allowed: Bool) -> String {
        """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: egress, namespace: outside}
        spec:
          podSelector: {}
          policyTypes: [Egress]
        """ + (allowed ? "\n  egress: [{to: [{ipBlock: {cidr: 10.244.0.0/16, except: [10.244.3.0/24]}}, {ipBlock: {cidr: \(webIP)/32}}]}]" : "")
    }

    /// Whether `pod` (in `namespace`) fetches the web page now.
    static func reaches(_ lab: TestLab, _ pod: String, namespace: String = "default", _ webIP: String) throws -> Bool {
        let result = try lab.run(["exec", "-n", namespace, pod, "--", "timeout", "2", "wget", "-qO-", "http://\(webIP)/"], expectSuccess: false)
        return result.succeeded && result.stdout.contains("Welcome to nginx!")
    }

    static func apply(_ lab: TestLab, _ yaml: String) throws {
        let file = lab.stateRoot + "/policy-\(UUID().uuidString).yaml"
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        try lab.run(["apply", "-f", file])
    }

    @Test("policies take effect on new connections, and the trace names the rule")
    func enforcement() async throws {
        try await TestLab.with { lab in
            try Self.apply(lab, Self.manifest)
            try await lab.eventually("the pods running", timeout: .seconds(90)) {
                try ["web", "client", "other"].allSatisfy { (try lab.pod($0)["status"] as? [String: Any])?["phase"] as? String == "Running" }
                    && lab.run(["get", "pods", "-n", "outside"]).stdout.contains("Running")
            }
            let web = try lab.podIP("web")
            try await lab.eventually("everyone reaches web without policies") {
                try Self.reaches(lab, "client", web) && Self.reaches(lab, "other", web) && Self.reaches(lab, "outsider", namespace: "outside", web)
            }

            try Self.apply(lab, Self.denyIngress)
            try await lab.eventually("default deny blocks every client") {
                try !Self.reaches(lab, "client", web) && !Self.reaches(lab, "other", web) && !Self.reaches(lab, "outsider", namespace: "outside", web)
            }
            let table = try Command.run("nft", ["list", "table", "ip", "podlab-policy"], netns: lab.nodeNamespace("n1"))
            #expect(table.stdout.contains("chain ingress-check"))
            #expect(table.stdout.contains(web), "the web pod is in ingress-pods:\n\(table.stdout)")

            try Self.apply(lab, Self.allowClients)
            try await lab.eventually("a pod labelled role=client reaches web on its named port; others do not") {
                try Self.reaches(lab, "client", web) && !Self.reaches(lab, "other", web)
            }
            #expect(try !Self.reaches(lab, "outsider", namespace: "outside", web), "a podSelector alone selects the policy's own namespace")
            let trace = try lab.run(["trace", "client", "\(web):80"]).stdout
            #expect(trace.contains("allowed by default/allow-clients ingress rule 0"), "\(trace)")
            let denied = try lab.run(["trace", "other", "\(web):80"]).stdout
            #expect(denied.contains("isolated by default/allow-clients, default/deny-ingress"), "\(denied)")

            // The same pod with one label more: apply replaces it, as kubectl's would.
            try Self.apply(lab, """
                apiVersion: v1
                kind: Pod
                metadata: {name: other, labels: {role: client}}
                spec:
                  nodeName: n1
                  containers: [{name: shell, image: busybox, command: [sleep, "3600"]}]
                """)
            try await lab.eventually("the label change lets the next connection through") { try Self.reaches(lab, "other", web) }

            try Self.apply(lab, Self.allowOutside)
            try await lab.eventually("a namespaceSelector lets the other namespace in") { try Self.reaches(lab, "outsider", namespace: "outside", web) }

            try Self.apply(lab, Self.denyEgress(web, allowed: false))
            try await lab.eventually("egress deny stops the outsider's connections") { try !Self.reaches(lab, "outsider", namespace: "outside", web) }
            try Self.apply(lab, Self.denyEgress(web, allowed: true))
            try await lab.eventually("an ipBlock egress rule lets them out again") { try Self.reaches(lab, "outsider", namespace: "outside", web) }

            let listed = try lab.run(["get", "netpol"]).stdout
            #expect(listed.hasPrefix("NAME"))
            #expect(listed.contains("allow-clients   app=web"))
            #expect(listed.contains("deny-ingress    <none>"))
            let described = try lab.run(["describe", "networkpolicy", "allow-clients"]).stdout
            #expect(described.contains("PodSelector:     app=web"))
            #expect(described.contains("To Port: http/TCP"))

            try lab.run(["delete", "netpol", "deny-ingress", "allow-clients", "allow-outside"])
            try lab.run(["delete", "netpol", "egress", "-n", "outside"])
            try await lab.eventually("without policies the table has no isolated pod") {
                let after = try Command.run("nft", ["list", "set", "ip", "podlab-policy", "ingress-pods"], netns: lab.nodeNamespace("n1"))
                return !after.stdout.contains(web)
            }
            #expect(try Self.reaches(lab, "other", web))
        }
    }

    /// The dropped packets counted by a node's ingress check (a rebuilt table starts again at 0).
    static func drops(_ lab: TestLab, node: String) throws -> Int {
        let chain = try Command.run("nft", ["list", "chain", "ip", "podlab-policy", "ingress-check"], netns: lab.nodeNamespace(node)).stdout
        guard let range = chain.range(of: #"counter packets (\d+)"#, options: .regularExpression) else { return -1 }
        return Int(chain[range].split(separator: " ")[2]) ?? -1
    }

    @Test("rules stay in force while the agent is down, and a restarted agent keeps the installed table")
    func restart() async throws {
        try await TestLab.with { lab in
            try Self.apply(lab, Self.manifest)
            try await lab.eventually("web and client running", timeout: .seconds(90)) {
                try ["web", "client"].allSatisfy { (try lab.pod($0)["status"] as? [String: Any])?["phase"] as? String == "Running" }
            }
            let web = try lab.podIP("web")
            try Self.apply(lab, Self.denyIngress)
            try await lab.eventually("default deny blocks the client") { try !Self.reaches(lab, "client", web) }
            let before = try Self.drops(lab, node: "n1")
            #expect(before > 0)

            _ = try await lab.killAgent()
            #expect(try !Self.reaches(lab, "client", web), "the kernel keeps the rules without an agent")
            try lab.run(["up"])
            try await lab.eventually("the restarted agent answers") { try lab.run(["get", "netpol"], expectSuccess: false).stdout.contains("deny-ingress") }
            #expect(try !Self.reaches(lab, "client", web))
            // Read back and found matching: not rebuilt, so the counter kept counting.
            #expect(try Self.drops(lab, node: "n1") > before)

            try lab.run(["delete", "netpol", "deny-ingress"])
            try await lab.eventually("deleting the policy opens the way again") { try Self.reaches(lab, "client", web) }
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

    @Test("kubectl label ns: a namespaceSelector follows the namespace's labels on the next connection, the name label stays")
    func namespaceLabels() async throws {
        let binary = try #require(KubectlBinary.found.first, "no kubectl on this machine (scripts/install-deps installs one)")
        try await TestLab.with { lab in
            try Self.apply(lab, Self.manifest)
            try await lab.eventually("web and outsider running", timeout: .seconds(90)) {
                try (try lab.pod("web")["status"] as? [String: Any])?["phase"] as? String == "Running"
                    && lab.run(["get", "pods", "-n", "outside"]).stdout.contains("Running")
            }
            let web = try lab.podIP("web")
            try Self.apply(lab, Self.allowTeam)
            try await lab.eventually("the outside namespace is not on the team yet") { try !Self.reaches(lab, "outsider", namespace: "outside", web) }

            let kubectl = try KubectlTests.kubectl(binary, for: lab)
            try kubectl.run(["label", "ns", "outside", "team=blue"])
            try await lab.eventually("labelling the namespace lets its pods in") { try Self.reaches(lab, "outsider", namespace: "outside", web) }
            // The API server keeps the name label whatever an update says.
            try kubectl.run(["label", "ns", "outside", "kubernetes.io/metadata.name-"])
            let object = try JSONSerialization.jsonObject(with: Data(kubectl.run(["get", "ns", "outside", "-o", "json"]).stdout.utf8)) as? [String: Any]
            let labels = (object?["metadata"] as? [String: Any])?["labels"] as? [String: String]
            #expect(labels == ["kubernetes.io/metadata.name": "outside", "team": "blue"])

            try kubectl.run(["label", "ns", "outside", "team-"])
            try await lab.eventually("taking the label away shuts them out again") { try !Self.reaches(lab, "outsider", namespace: "outside", web) }
        }
    }
}
