import Foundation
import KernelTestSupport
import Netns
import PodNet
import Testing

/// MeshPolicy on a real lab: a policy admitting namespace `alpha` only to the `web` pod — a
/// meshed pod in `alpha` gets 200, one in `beta` 403 from web's sidecar (logged `rbac=denied`,
/// counted), a non-HTTP connection from `beta` is reset; deleting the policy lets `beta` in
/// again, with no restart (the sidecar's watch). `podlab mesh status` lists the meshed pods.
@Suite("MeshPolicy end to end", .enabled(if: KernelTest.isRoot && KernelTest.hasNft, "needs root and nft"), .rootNamespaceUnchanged)
struct MeshPolicyTests {
    static let manifests = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
          labels: {app: web}
          annotations: {podlab.dev/mesh: enabled}
        spec:
          nodeName: n2
          containers:
          - {name: echo, image: podlab/echo, ports: [{containerPort: 8080}]}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: alpha}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: beta}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: client, namespace: alpha, annotations: {podlab.dev/mesh: enabled}}
        spec:
          nodeName: n1
          containers:
          - {name: app, image: busybox, command: [sleep, "3600"]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: client, namespace: beta, annotations: {podlab.dev/mesh: enabled}}
        spec:
          nodeName: n1
          containers:
          - {name: app, image: busybox, command: [sleep, "3600"]}
        """

    static let policy = """
        apiVersion: podlab.dev/v1
        kind: MeshPolicy
        metadata: {name: web-from-alpha}
        spec:
          selector: {matchLabels: {app: web}}
          rules:
          - from: [{namespaces: [alpha]}]
            to: [{ports: [8080]}]
        """

    /// Debian's curl in the client pod of `namespace`: the HTTP status, or curl's error.
    func curl(_ lab: TestLab, from namespace: String, _ arguments: [String], input: String? = nil) throws -> CommandResult {
        try Command.run("curl", ["-sS", "--max-time", "10"] + arguments, netns: lab.podNamespace("client", in: namespace), input: input)
    }

    func status(_ lab: TestLab, from namespace: String, _ url: String) throws -> String {
        try curl(lab, from: namespace, ["-o", "/dev/null", "-w", "%{http_code}", url]).stdout
    }

    @Test("a policy admitting one namespace: 200 from it, 403 and a TCP reset from another; deleted, the other is let in")
    func allowNamespace() async throws {
        try await TestLab.with { lab in
            let file = lab.stateRoot + "/mesh.yaml"
            try Self.manifests.write(toFile: file, atomically: true, encoding: .utf8)
            try lab.run(["apply", "-f", file])
            try await lab.eventually("every pod Ready", timeout: .seconds(120)) {
                try [("web", "default"), ("client", "alpha"), ("client", "beta")].allSatisfy { try lab.isReady($0, namespace: $1) }
            }
            let web = "http://\(try lab.podIP("web")):8080"
            // Before any policy both namespaces get through (once the clients' sidecars know web is meshed).
            try await lab.eventually("both clients reach web") {
                try status(lab, from: "alpha", web + "/") == "200" && status(lab, from: "beta", web + "/") == "200"
            }

            let policyFile = lab.stateRoot + "/policy.yaml"
            try Self.policy.write(toFile: policyFile, atomically: true, encoding: .utf8)
            #expect(try lab.run(["apply", "-f", policyFile]).stdout == "meshpolicy.podlab.dev/web-from-alpha created\n")
            let listed = try lab.run(["get", "mp"]).stdout
            #expect(listed.hasPrefix("NAME") && listed.contains("web-from-alpha") && listed.contains("app=web"), "\(listed)")
            let wide = try lab.run(["get", "meshpolicy", "-o", "wide"]).stdout
            #expect(wide.contains("ns=alpha") && wide.contains("8080:*:*"), "\(wide)")
            let described = try lab.run(["describe", "mp", "web-from-alpha"]).stdout
            #expect(described.contains("Selector:     app=web") && described.contains("From: Namespaces: alpha") && described.contains("To: Ports: 8080"),
                    "\(described)")

            try await lab.eventually("web's sidecar refuses beta") { try status(lab, from: "beta", web + "/denied") == "403" }
            #expect(try status(lab, from: "alpha", web + "/allowed") == "200")
            let body = try curl(lab, from: "beta", [web + "/body"]).stdout
            #expect(body == "RBAC: access denied\n", "\(body)")
            // Not HTTP: reset by web's sidecar, and through beta's own sidecar to the client.
            let raw = try curl(lab, from: "beta", ["telnet://\(try lab.podIP("web")):8080"], input: "hello, not HTTP\n")
            #expect(raw.stderr.contains("reset"), "\(raw.status) \(raw.stdout) \(raw.stderr)")

            // A request's line is written just after its answer: the log is read until it holds them.
            var log = ""
            try await lab.eventually("web's sidecar logged the denials", detail: { log }) {
                log = try lab.run(["logs", "web", "-c", "podlab-proxy"]).stdout
                return log.contains("\"GET /denied\" 403") && log.contains("reset: rbac=denied")
            }
            #expect(log.contains("\"GET /denied\" 403") && log.contains("rbac=denied"), "\(log)")
            #expect(!log.contains("\"GET /allowed\" 403"), "\(log)")
            #expect(log.contains("reset: rbac=denied"), "\(log)")
            let metrics = try curl(lab, from: "alpha", ["http://\(try lab.podIP("web")):15090/metrics"]).stdout
            #expect(metrics.contains("podlab_proxy_requests_denied_total{protocol=\"tcp\"} 1"), "\(metrics)")
            #expect(!metrics.contains("podlab_proxy_requests_denied_total{protocol=\"http\"} 0"), "\(metrics)")

            // The mesh's view: three meshed pods, their identities and certificates.
            let meshStatus = try lab.run(["mesh", "status"]).stdout
            let rows = meshStatus.split(separator: "\n").map(String.init)
            #expect(rows.first?.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                    == "NAMESPACE NAME NODE IDENTITY MODE CERT EXPIRES READY", "\(meshStatus)")
            #expect(rows.count == 4, "\(meshStatus)")
            #expect(rows.contains { $0.hasPrefix("default") && $0.contains("spiffe://cluster.local/ns/default/sa/default")
                && $0.contains("PERMISSIVE") && $0.contains("2/2") && $0.range(of: #" 5\dm "#, options: .regularExpression) != nil }, "\(meshStatus)")

            let json = try lab.run(["mesh", "status", "-n", "alpha", "-o", "json"]).stdout
            let report = try JSONDecoder().decode(MeshStatusReport.self, from: Data(json.utf8))
            #expect(report.pods.map(\.name) == ["client"] && report.pods.first?.identity == "spiffe://cluster.local/ns/alpha/sa/default", "\(json)")
            #expect(report.pods.first?.proxyReady == true && report.pods.first?.certificateNotAfter != nil, "\(json)")

            try lab.run(["delete", "meshpolicy", "web-from-alpha"])
            try await lab.eventually("beta is let in again, no restart") { try status(lab, from: "beta", web + "/again") == "200" }
            #expect(try lab.containerStatus("web", "podlab-proxy")["restartCount"] as? Int == 0)
        }
    }

    @Test("bad input is refused with the field and the reason; nothing is stored")
    func badInput() async throws {
        try await TestLab.with { lab in
            let file = lab.stateRoot + "/bad.yaml"
            try """
                apiVersion: podlab.dev/v1
                kind: MeshPolicy
                metadata: {name: bad}
                spec:
                  rules:
                  - to: [{ports: [70000], methods: [FETCH]}]
                """.write(toFile: file, atomically: true, encoding: .utf8)
            let result = try lab.run(["apply", "-f", file], expectSuccess: false)
            #expect(!result.succeeded)
            #expect(result.stderr.contains("The MeshPolicy \"bad\" is invalid"), "\(result.stderr)")
            #expect(result.stderr.contains("spec.rules[0].to[0].ports[0]: Invalid value: 70000: must be between 1 and 65535"), "\(result.stderr)")
            #expect(result.stderr.contains("spec.rules[0].to[0].methods[0]: Unsupported value: \"FETCH\""), "\(result.stderr)")
            let listed = try lab.run(["get", "meshpolicies"], expectSuccess: false)
            #expect(listed.stderr.contains("No resources found"), "\(listed.stdout) \(listed.stderr)")
        }
    }

    @Test("real kubectl: apply, get by short name, -o yaml, apply again unchanged, delete", arguments: KubectlBinary.found)
    func kubectl(binary: KubectlBinary) async throws {
        try await TestLab.with { lab in
            let kubectl = try KubectlTests.kubectl(binary, for: lab)
            let file = lab.stateRoot + "/policy.yaml"
            try Self.policy.write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try kubectl.run(["apply", "-f", file]).stdout == "meshpolicy.podlab.dev/web-from-alpha created\n")
            let table = try kubectl.run(["get", "mp"]).stdout
            #expect(table.hasPrefix("NAME") && table.contains("SELECTOR") && table.contains("web-from-alpha") && table.contains("app=web"), "\(table)")
            let yaml = try kubectl.run(["get", "meshpolicies", "web-from-alpha", "-o", "yaml"]).stdout
            #expect(yaml.contains("kind: MeshPolicy") && yaml.contains("- alpha"), "\(yaml)")
            #expect(try kubectl.run(["apply", "-f", file]).stdout == "meshpolicy.podlab.dev/web-from-alpha unchanged\n")
            #expect(try kubectl.run(["delete", "mp", "web-from-alpha"]).stdout == "meshpolicy.podlab.dev \"web-from-alpha\" deleted\n")
        }
    }
}
