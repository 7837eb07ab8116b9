import Foundation
import KernelTestSupport
import Netns
import Testing

/// The mesh on a real lab: injected sidecars, the capture table in each meshed pod's own
/// namespace, and real HTTP between pods through both proxies, checked with Debian's curl
/// (run inside the client pod's network namespace, so its connections are captured like the
/// pod's own) and Debian's promtool.
@Suite("Mesh end to end", .enabled(if: KernelTest.isRoot && KernelTest.hasNft, "needs root and nft"), .rootNamespaceUnchanged)
struct MeshTests {
    static let manifests = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: server
          labels: {app: server}
          annotations: {podlab.dev/mesh: enabled}
        spec:
          nodeName: n2
          containers:
          - {name: echo, image: podlab/echo, ports: [{containerPort: 8080}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: server}
        spec:
          selector: {app: server}
          ports: [{name: http, port: 80, targetPort: 8080}]
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: client
          annotations: {podlab.dev/mesh: enabled}
        spec:
          nodeName: n1
          containers:
          - {name: app, image: busybox, command: [sleep, "3600"]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: plain}
        spec:
          nodeName: n1
          containers:
          - {name: app, image: busybox, command: [sleep, "3600"]}
        """

    /// promtool from the PATH or where `scripts/install-deps` unpacks Debian's prometheus.
    static var promtool: String? {
        ["/opt/podlab/prometheus/usr/bin/promtool", "/usr/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Debian's curl in a pod's network namespace: `-i` prints the response head.
    func curl(_ lab: TestLab, from pod: String, _ arguments: [String]) throws -> CommandResult {
        try Command.run("curl", ["-sS", "--max-time", "10"] + arguments, netns: lab.podNamespace(pod))
    }

    @Test("a meshed client reaches a meshed server's Service through both proxies; unmeshed to meshed works; metrics count it")
    func meshedTraffic() async throws {
        try await TestLab.with { lab in
            let file = lab.stateRoot + "/mesh.yaml"
            try Self.manifests.write(toFile: file, atomically: true, encoding: .utf8)
            try lab.run(["apply", "-f", file])
            try await lab.eventually("every pod Ready", timeout: .seconds(120)) {
                try ["server", "client", "plain"].allSatisfy { try lab.isReady($0) }
            }
            // READY 2/2 for the meshed pods, 1/1 for the other.
            let table = try lab.run(["get", "pods"]).stdout
            for (name, ready) in [("server", "2/2"), ("client", "2/2"), ("plain", "1/1")] {
                #expect(table.split(separator: "\n").contains { $0.hasPrefix(name + " ") && $0.contains(" \(ready) ") }, "\(table)")
            }
            // The capture lives in the meshed pods' own namespaces only.
            let capture = try Command.nftJSON(lab.podNamespace("client"), ["list", "table", "ip", "podlab-mesh"])
            let rules = capture.compactMap { $0["rule"] as? [String: Any] }
            #expect(rules.count == 8, "\(capture)")
            #expect(try Command.run("nft", ["list", "table", "ip", "podlab-mesh"], netns: lab.podNamespace("plain")).succeeded == false)
            #expect(try Command.run("nft", ["list", "table", "ip", "podlab-mesh"], netns: lab.nodeNamespace("n1")).succeeded == false)

            let service = try JSONSerialization.jsonObject(with: Data(try lab.run(["get", "svc", "server", "-o", "json"]).stdout.utf8)) as? [String: Any]
            let clusterIP = try #require((service?["spec"] as? [String: Any])?["clusterIP"] as? String)
            let serverIP = try lab.podIP("server")

            // Meshed → meshed, through the Service: the answer names its upstream, the request
            // carries an id, and the echo server saw the connection come from its own proxy.
            try await lab.eventually("the client's proxy knows the Service's endpoint") {
                let result = try curl(lab, from: "client", ["-i", "http://\(clusterIP)/hello"])
                return result.succeeded && result.stdout.lowercased().contains("x-podlab-upstream: \(serverIP):8080")
            }
            for _ in 0..<3 {
                let result = try curl(lab, from: "client", ["-i", "http://\(clusterIP)/hello"])
                #expect(result.succeeded, "\(result.stderr)")
                let lower = result.stdout.lowercased()
                #expect(lower.contains("x-podlab-upstream: \(serverIP):8080"), "\(result.stdout)")
                let body = try #require(result.stdout.components(separatedBy: "\r\n\r\n").last)
                let echo = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], "\(result.stdout)")
                #expect((echo["client"] as? String)?.hasPrefix("127.0.0.1:") == true, "\(echo)")
                let headers = echo["headers"] as? [String: Any] ?? [:]
                #expect(headers.keys.contains { $0.lowercased() == "x-request-id" }, "\(echo)")
            }
            // Keep-alive: two requests on one connection, both answered through the proxies.
            let twice = try curl(lab, from: "client", ["-o", "/dev/null", "-o", "/dev/null", "-w", "%{num_connects} ",
                                                       "http://\(clusterIP)/a", "http://\(clusterIP)/b"])
            #expect(twice.stdout == "1 0 ", "\(twice.stdout) \(twice.stderr)")

            // Bytes that are not HTTP pass through both proxies as they are (the echo server
            // sends them back); the server's proxy counts the connection.
            let raw = try Command.run("bash", ["-c", "exec 3<>/dev/tcp/\(clusterIP)/80; printf 'hello mesh\\n' >&3; timeout 5 head -c 11 <&3"],
                                      netns: lab.podNamespace("client"))
            #expect(raw.stdout == "hello mesh\n", "\(raw.stdout) \(raw.stderr)")

            // Unmeshed → meshed: the inbound capture still hands it to the application.
            let plain = try curl(lab, from: "plain", ["-i", "http://\(serverIP):8080/plain"])
            #expect(plain.succeeded && plain.stdout.lowercased().contains("x-podlab-upstream: 127.0.0.1:8080"), "\(plain.stdout) \(plain.stderr)")

            // A request the proxy cannot parse: 400, the connection closed, the proxy still serving.
            let garbage = try Command.run("bash", ["-c", "exec 3<>/dev/tcp/\(serverIP)/8080; printf 'GET / HTTP/1.1\\r\\nno colon here\\r\\n\\r\\n' >&3; timeout 5 cat <&3"],
                                          netns: lab.podNamespace("plain"))
            #expect(garbage.stdout.hasPrefix("HTTP/1.1 400"), "\(garbage.stdout) \(garbage.stderr)")
            let after = try curl(lab, from: "plain", ["-i", "http://\(serverIP):8080/after"])
            #expect(after.succeeded && after.stdout.hasPrefix("HTTP/1.1 200"), "\(after.stdout) \(after.stderr)")

            // Metrics: the server's proxy counted inbound requests, the client's outbound ones.
            let serverMetrics = try curl(lab, from: "plain", ["http://\(serverIP):15090/metrics"]).stdout
            #expect(serverMetrics.contains("podlab_proxy_requests_total{direction=\"inbound\""), "\(serverMetrics)")
            let clientMetrics = try curl(lab, from: "plain", ["http://\(try lab.podIP("client")):15090/metrics"]).stdout
            #expect(clientMetrics.contains("podlab_proxy_requests_total{direction=\"outbound\",source=\"default/client\",destination=\"\(clusterIP):80\",code=\"200\"}"),
                    "\(clientMetrics)")
            if let promtool = Self.promtool {
                let checked = try Command.run(promtool, ["check", "metrics"], input: serverMetrics)
                #expect(checked.succeeded, "promtool: \(checked.stdout)\(checked.stderr)")
            } else {
                Issue.record("promtool is missing: scripts/install-deps unpacks Debian's prometheus into /opt/podlab/prometheus")
            }
            // One access-log line per request in the sidecar's log (written within 100 ms of
            // the answer, with the lines around it).
            var log = ""
            try await lab.eventually("the client's sidecar logged the request", detail: { log }) {
                log = try lab.run(["logs", "client", "-c", "podlab-proxy"]).stdout
                return log.contains("outbound default/client \"GET /hello\" 200")
            }
            #expect(log.contains("outbound default/client \"GET /hello\" 200"), "\(log)")
        }
    }

    @Test("a pod recreated without the annotation has neither sidecar nor capture")
    func removingTheAnnotation() async throws {
        try await TestLab.with { lab in
            let file = lab.stateRoot + "/pod.yaml"
            func pod(annotated: Bool) -> String {
                """
                apiVersion: v1
                kind: Pod
                metadata:
                  name: web
                \(annotated ? "  annotations: {podlab.dev/mesh: enabled}" : "")
                spec:
                  containers:
                  - {name: echo, image: podlab/echo}
                """
            }
            try pod(annotated: true).write(toFile: file, atomically: true, encoding: .utf8)
            try lab.run(["apply", "-f", file])
            try await lab.eventually("web Running") { (try lab.pod("web")["status"] as? [String: Any])?["phase"] as? String == "Running" }
            #expect(try Command.run("nft", ["list", "table", "ip", "podlab-mesh"], netns: lab.podNamespace("web")).succeeded)
            try lab.run(["delete", "pod", "web", "--grace-period=0"])
            try pod(annotated: false).write(toFile: file, atomically: true, encoding: .utf8)
            try lab.run(["apply", "-f", file])
            try await lab.eventually("web Running again") { (try lab.pod("web")["status"] as? [String: Any])?["phase"] as? String == "Running" }
            let containers = ((try lab.pod("web"))["spec"] as? [String: Any])?["containers"] as? [[String: Any]] ?? []
            #expect(containers.map { $0["name"] as? String } == ["echo"])
            #expect(try Command.run("nft", ["list", "table", "ip", "podlab-mesh"], netns: lab.podNamespace("web")).succeeded == false)
        }
    }
}
