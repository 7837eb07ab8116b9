import Foundation
import KernelTestSupport
import Netns
import PodNet
import PodlabImages
import Testing

/// Per-policy drop logging (`podlab.dev/log: "true"`, read back with `podlab logs --policy`) and
/// a NodePort whose only endpoint an ingress policy isolates, judged after DNAT.
@Suite("NetworkPolicy logging and NodePorts end to end", .enabled(if: KernelTest.isRoot && KernelTest.hasNft, "needs root and nft"), .rootNamespaceUnchanged)
struct NetworkPolicyLoggingTests {
    static let manifest = """
        apiVersion: v1
        kind: Pod
        metadata: {name: web, labels: {app: web}}
        spec:
          nodeName: n1
          containers: [{name: web, image: nginx, ports: [{name: http, containerPort: 80}]}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: quiet, labels: {app: quiet}}
        spec:
          nodeName: n1
          containers: [{name: web, image: nginx}]
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
        """

    static func running(_ lab: TestLab, _ pods: [String]) throws -> Bool {
        try pods.allSatisfy { (try lab.pod($0)["status"] as? [String: Any])?["phase"] as? String == "Running" }
    }

    /// Whether `pod` fetches nginx's page from `url` now.
    static func fetches(_ lab: TestLab, _ pod: String, _ url: String) throws -> Bool {
        let result = try lab.run(["exec", pod, "--", "timeout", "2", "wget", "-qO-", url], expectSuccess: false)
        return result.succeeded && result.stdout.contains("Welcome to nginx!")
    }

    @Test("a logged policy's drops are shown by podlab logs --policy; a policy without the annotation logs nothing")
    func logging() async throws {
        try await TestLab.with { lab in
            try NetworkPolicyTests.apply(lab, Self.manifest)
            try await lab.eventually("the pods running", timeout: .seconds(90)) { try Self.running(lab, ["web", "quiet", "client", "other"]) }
            let web = try lab.podIP("web"), quiet = try lab.podIP("quiet"), client = try lab.podIP("client")
            try await lab.eventually("the client reaches both servers without policies") {
                try Self.fetches(lab, "client", "http://\(web)/") && Self.fetches(lab, "client", "http://\(quiet)/")
            }
            try NetworkPolicyTests.apply(lab, """
                apiVersion: networking.k8s.io/v1
                kind: NetworkPolicy
                metadata: {name: deny-web, annotations: {podlab.dev/log: "true"}}
                spec: {podSelector: {matchLabels: {app: web}}}
                ---
                apiVersion: networking.k8s.io/v1
                kind: NetworkPolicy
                metadata: {name: deny-quiet}
                spec: {podSelector: {matchLabels: {app: quiet}}}
                """)
            try await lab.eventually("both servers blocked") {
                try !Self.fetches(lab, "client", "http://\(web)/") && !Self.fetches(lab, "client", "http://\(quiet)/")
            }
            let expected = "default/client/\(client):"
            try await lab.eventually("the blocked connection in podlab logs --policy deny-web") {
                let lines = try lab.run(["logs", "--policy", "deny-web"]).stdout.split(separator: "\n")
                return lines.contains { $0.contains(" n1 \(expected)") && $0.contains(" → default/web/\(web):80 TCP DROP (Ingress default/deny-web)") }
            }
            let logs = try lab.run(["logs", "--policy", "deny-web"]).stdout
            #expect(logs.split(separator: "\n").allSatisfy { $0.contains("(Ingress default/deny-web)") }, "\(logs)")

            let quietLogs = try lab.run(["logs", "--policy", "deny-quiet"])
            #expect(quietLogs.stdout.isEmpty, "\(quietLogs.stdout)")
            #expect(quietLogs.stderr.contains("does not log its drops"))
            #expect(try lab.run(["describe", "networkpolicy", "deny-web"]).stdout.contains("  Logging: on"))
            #expect(try lab.run(["describe", "networkpolicy", "deny-quiet"]).stdout.contains("  Logging: off"))
            let table = try Command.run("nft", ["list", "chain", "ip", "podlab-policy", "ingress-check"], netns: lab.nodeNamespace("n1")).stdout
            #expect(table.contains("log prefix \"ingress default/deny-web\" group 13"), "\(table)")
            #expect(!table.contains("deny-quiet"), "\(table)")
            // The agent's log has the same line.
            let agentLog = try String(contentsOfFile: lab.stateRoot + "/\(lab.name)/agent.log", encoding: .utf8)
            #expect(agentLog.contains("NetworkPolicy drop: ") && agentLog.contains("→ default/web/\(web):80 TCP DROP (Ingress default/deny-web)"))

            // A missing policy is a 404, as kubectl says it.
            let missing = try lab.run(["logs", "--policy", "nosuch"], expectSuccess: false)
            #expect(!missing.succeeded && missing.stderr.contains("\"nosuch\" not found"), "\(missing.stderr)")
        }
    }

    @Test("a NodePort whose endpoint is isolated is judged after DNAT, by the client as it arrives; its own node always reaches it")
    func nodePortToIsolatedPod() async throws {
        try await TestLab.with { lab in
            try NetworkPolicyTests.apply(lab, Self.manifest + """

                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: near, labels: {role: client}}
                spec:
                  nodeName: n1
                  containers: [{name: shell, image: busybox, command: [sleep, "3600"]}]
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: web}
                spec: {type: NodePort, selector: {app: web}, ports: [{port: 80, nodePort: 30080}]}
                """)
            try await lab.eventually("the pods running", timeout: .seconds(90)) { try Self.running(lab, ["web", "client", "near", "other"]) }
            let web = try lab.podIP("web")
            // n1 holds the endpoint; n2 DNATs to it too and masquerades with its own address.
            let n1 = "http://192.168.200.11:30080/", n2 = "http://192.168.200.12:30080/"
            try await lab.eventually("every pod reaches the NodePort without policies") {
                try Self.fetches(lab, "near", n1) && Self.fetches(lab, "other", n1) && Self.fetches(lab, "client", n1) && Self.fetches(lab, "client", n2)
            }
            try NetworkPolicyTests.apply(lab, """
                apiVersion: networking.k8s.io/v1
                kind: NetworkPolicy
                metadata: {name: deny-all}
                spec: {podSelector: {}}
                ---
                apiVersion: networking.k8s.io/v1
                kind: NetworkPolicy
                metadata: {name: allow-clients}
                spec:
                  podSelector: {matchLabels: {app: web}}
                  ingress: [{from: [{podSelector: {matchLabels: {role: client}}}]}]
                """)
            // On the endpoint's node the NodePort's DNAT comes before the forward hook: the policy
            // sees the real client, allowed or not.
            try await lab.eventually("through n1's NodePort: the allowed pod gets through, the other pod does not") {
                try Self.fetches(lab, "near", n1) && !Self.fetches(lab, "other", n1)
            }
            #expect(try Self.fetches(lab, "client", "http://\(web)/"), "the client on n2 reaches the pod directly")
            #expect(try !Self.fetches(lab, "other", "http://\(web)/"))
            // From n2 a node address is outside the pod network: n2 masquerades the client as itself
            // (as flannel and kube-proxy's NodePort SNAT do), so the policy judges node n2, which it
            // does not admit, until an ipBlock admits n2's address.
            #expect(try !Self.fetches(lab, "client", n1))
            #expect(try !Self.fetches(lab, "client", n2))
            try NetworkPolicyTests.apply(lab, """
                apiVersion: networking.k8s.io/v1
                kind: NetworkPolicy
                metadata: {name: allow-n2}
                spec:
                  podSelector: {matchLabels: {app: web}}
                  ingress: [{from: [{ipBlock: {cidr: 192.168.200.12/32}}]}]
                """)
            try await lab.eventually("with n2's address admitted, the client gets through both NodePorts; the other pod still not") {
                try Self.fetches(lab, "client", n1) && Self.fetches(lab, "client", n2) && !Self.fetches(lab, "other", n1)
            }
            // Its own node reaches it whatever the policies (kubelet probes): node n1 → web.
            let fromNode = try Command.run(ImageCatalog.busyboxPath, ["nc", "-w", "3", web, "80"], netns: lab.nodeNamespace("n1"),
                                           input: "GET / HTTP/1.0\r\n\r\n")
            #expect(fromNode.stdout.contains("Welcome to nginx!"), "\(fromNode.stderr)")
            // The tracer says the same: through n1's NodePort allowed from near, dropped from other.
            let traceNear = try lab.run(["trace", "near", "192.168.200.11:30080"]).stdout
            #expect(traceNear.contains("ingress: allowed by default/allow-clients ingress rule 0"), "\(traceNear)")
            let traceOther = try lab.run(["trace", "other", "192.168.200.11:30080"]).stdout
            #expect(traceOther.contains("dropped (ingress: denied"), "\(traceOther)")
        }
    }
}
