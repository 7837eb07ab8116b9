import Foundation
import KernelTestSupport
import Netns
import PodNet
import Testing

/// Route on a real lab: two Deployments behind two Services and a third Service over both, a
/// Route splitting 90/10 between them, seen by Debian's curl from a meshed pod (one kept-alive
/// connection, curl's URL globbing); a Service over an echo pod and a pod that listens on
/// nothing, where half the requests fail until a Route's retry rule sends them again to the
/// other endpoint; get/describe/-o wide; bad input refused.
@Suite("Route end to end", .enabled(if: KernelTest.isRoot && KernelTest.hasNft, "needs root and nft"), .rootNamespaceUnchanged)
struct RouteTests {
    static func deployment(_ name: String, labels: String, image: String, command: String = "") -> String {
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: \(name)}
        spec:
          replicas: 1
          selector: {matchLabels: {\(labels)}}
          template:
            metadata: {labels: {\(labels)}}
            spec:
              containers:
              - {name: app, image: \(image)\(command), ports: [{containerPort: 8080}]}
        """
    }

    static func service(_ name: String, selector: String) -> String {
        """
        apiVersion: v1
        kind: Service
        metadata: {name: \(name)}
        spec:
          selector: {\(selector)}
          ports: [{name: http, port: 80, targetPort: 8080}]
        """
    }

    static let manifests = [
        deployment("web-v1", labels: "app: web, version: v1", image: "podlab/echo"),
        deployment("web-v2", labels: "app: web, version: v2", image: "podlab/echo"),
        service("web", selector: "app: web"),
        service("web-v1", selector: "version: v1"),
        service("web-v2", selector: "version: v2"),
        deployment("flaky-ok", labels: "app: flaky, role: ok", image: "podlab/echo"),
        // Ready (no probe) but listening on nothing: its connections are refused.
        deployment("flaky-dead", labels: "app: flaky, role: dead", image: "busybox", command: ", command: [sleep, \"3600\"]"),
        service("flaky", selector: "app: flaky"),
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: client, annotations: {podlab.dev/mesh: enabled}}
        spec:
          containers:
          - {name: app, image: busybox, command: [sleep, "3600"]}
        """,
    ].joined(separator: "\n---\n")

    static let canary = """
        apiVersion: podlab.dev/v1
        kind: Route
        metadata: {name: web-canary}
        spec:
          service: web
          rules:
          - backends: [{service: web-v1, weight: 90}, {service: web-v2, weight: 10}]
            timeout: 5s
        """

    static let retrying = """
        apiVersion: podlab.dev/v1
        kind: Route
        metadata: {name: flaky-retries}
        spec:
          service: flaky
          rules:
          - retries: {attempts: 2, retryOn: [connect-failure, reset, 5xx]}
        """

    func curl(_ lab: TestLab, _ arguments: [String]) throws -> CommandResult {
        try Command.run("curl", ["-sS", "--max-time", "60"] + arguments, netns: lab.podNamespace("client"))
    }

    func clusterIP(_ lab: TestLab, _ service: String) throws -> String {
        let json = try lab.run(["get", "svc", service, "-o", "json"]).stdout
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        return try #require((object?["spec"] as? [String: Any])?["clusterIP"] as? String)
    }

    /// `count` GETs (curl's globbing) on one kept-alive connection, or (`close`) each on its own
    /// (without a Route the sidecar picks an endpoint per connection): each response's status
    /// and the pod that answered (the echo's `hostname`, "-" for none).
    func requests(_ lab: TestLab, _ ip: String, count: Int, close: Bool = false) throws -> [(status: String, hostname: String)] {
        // body=#code#=body=#code#=…: the echo's bodies end in a newline, so the records are cut at
        // the marks (a write-out format must not begin with `@`, which names a file to read it from).
        let output = try curl(lab, (close ? ["-H", "Connection: close"] : []) + ["-w", "=#%{http_code}#=", "http://\(ip)/r[1-\(count)]"]).stdout
        var records: [(status: String, hostname: String)] = []
        var body = ""
        for (index, part) in output.components(separatedBy: "=#").enumerated() {
            if index > 0, let end = part.range(of: "#=") {
                let hostname = body.range(of: #""hostname":"[^"]*""#, options: .regularExpression)
                    .map { String(body[$0].dropFirst("\"hostname\":\"".count).dropLast()) } ?? "-"
                records.append((String(part[..<end.lowerBound]), hostname))
                body = String(part[end.upperBound...])
            } else {
                body = part
            }
        }
        return records
    }

    @Test("a 90/10 Route splits a meshed client's requests between two Deployments; a retry rule hides an endpoint that refuses")
    func splitAndRetries() async throws {
        try await TestLab.with { lab in
            let file = lab.stateRoot + "/route-lab.yaml"
            try Self.manifests.write(toFile: file, atomically: true, encoding: .utf8)
            try lab.run(["apply", "-f", file])
            try await lab.eventually("the client is Ready", timeout: .seconds(120)) { try lab.isReady("client") }
            let web = try clusterIP(lab, "web"), flaky = try clusterIP(lab, "flaky")
            var last: [(status: String, hostname: String)] = []
            do {
                try await lab.eventually("both web pods answer through the client's sidecar", timeout: .seconds(120)) {
                    last = try requests(lab, web, count: 10, close: true)
                    return Set(last.map(\.hostname).filter { $0 != "-" }.map { $0.hasPrefix("web-v1") ? "v1" : "v2" }).count == 2
                }
            } catch {
                let raw = try? curl(lab, ["-H", "Connection: close", "-w", "=#%{http_code}#=", "http://\(web)/r[1-3]"])
                Issue.record("last answers: \(last); curl: \(String(describing: raw?.status)) \(raw?.stdout ?? "") \(raw?.stderr ?? "")")
                throw error
            }
            try await lab.eventually("both flaky endpoints are known", timeout: .seconds(120)) {
                try requests(lab, flaky, count: 10, close: true).contains { $0.status != "200" }
            }

            let routeFile = lab.stateRoot + "/canary.yaml"
            try Self.canary.write(toFile: routeFile, atomically: true, encoding: .utf8)
            #expect(try lab.run(["apply", "-f", routeFile]).stdout == "route.podlab.dev/web-canary created\n")
            let listed = try lab.run(["get", "rt"]).stdout
            #expect(listed.hasPrefix("NAME") && listed.contains("web-canary") && listed.contains("web "), "\(listed)")
            let wide = try lab.run(["get", "routes", "-o", "wide"]).stdout
            #expect(wide.contains("web-v1=90,web-v2=10"), "\(wide)")
            let described = try lab.run(["describe", "route", "web-canary"]).stdout
            #expect(described.contains("Backends:  web-v1 90%, web-v2 10%") && described.contains("Timeout:   5s"), "\(described)")

            // The sidecar's watch picks the Route up: only v2 answers sometimes now, not half the time.
            var v2 = 0
            try await lab.eventually("the split is in force") {
                let results = try requests(lab, web, count: 400)
                v2 = results.filter { $0.hostname.hasPrefix("web-v2") }.count
                return results.allSatisfy { $0.status == "200" } && (10...80).contains(v2)
            }
            #expect((10...80).contains(v2), "\(v2) of 400 to web-v2")
            var log = ""
            try await lab.eventually("the client's sidecar logged a request routed to web-v2", detail: { String(log.suffix(2000)) }) {
                log = try lab.run(["logs", "client", "-c", "podlab-proxy"]).stdout
                return log.contains("route=default/web-canary rule=0 backend=web-v2")
            }
            #expect(log.contains("route=default/web-canary rule=0 backend=web-v2"), "\(log.suffix(2000))")

            // Without a retry rule about half the flaky Service's requests fail; with it, none.
            let before = try requests(lab, flaky, count: 40, close: true)
            #expect(before.contains { $0.status != "200" }, "\(before)")
            let retryFile = lab.stateRoot + "/retries.yaml"
            try Self.retrying.write(toFile: retryFile, atomically: true, encoding: .utf8)
            try lab.run(["apply", "-f", retryFile])
            // Kept alive: the client's sidecar routes each request, in turn to the endpoint that
            // refuses and the one that answers, and the rule retries the refused ones.
            try await lab.eventually("the retry rule is in force") {
                try requests(lab, flaky, count: 20).allSatisfy { $0.status == "200" }
            }
            let after = try requests(lab, flaky, count: 200)
            #expect(after.allSatisfy { $0.status == "200" && $0.hostname.hasPrefix("flaky-ok") }, "\(after.filter { $0.status != "200" })")
            let metrics = try curl(lab, ["http://127.0.0.1:15090/metrics"]).stdout
            let proxyLog = try lab.run(["logs", "client", "-c", "podlab-proxy"]).stdout
            #expect(metrics.contains("podlab_proxy_retries_total{route=\"default/flaky-retries\"}"),
                    "\(metrics.split(separator: "\n").filter { $0.contains("requests_total") || $0.contains("retries") }) \(proxyLog.suffix(3000))")

            try lab.run(["delete", "route", "web-canary"])
            #expect(try lab.run(["get", "routes"]).stdout.contains("flaky-retries"))
        }
    }

    @Test("real kubectl: apply, get by short name, -o yaml, apply again unchanged, delete", arguments: KubectlBinary.found)
    func kubectl(binary: KubectlBinary) async throws {
        try await TestLab.with { lab in
            let kubectl = try KubectlTests.kubectl(binary, for: lab)
            let file = lab.stateRoot + "/canary.yaml"
            try Self.canary.write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try kubectl.run(["apply", "-f", file]).stdout == "route.podlab.dev/web-canary created\n")
            let table = try kubectl.run(["get", "rt"]).stdout
            #expect(table.hasPrefix("NAME") && table.contains("SERVICE") && table.contains("web-canary"), "\(table)")
            let yaml = try kubectl.run(["get", "routes", "web-canary", "-o", "yaml"]).stdout
            #expect(yaml.contains("kind: Route") && yaml.contains("service: web-v2") && yaml.contains("weight: 10"), "\(yaml)")
            #expect(try kubectl.run(["apply", "-f", file]).stdout == "route.podlab.dev/web-canary unchanged\n")
            #expect(try kubectl.run(["delete", "rt", "web-canary"]).stdout == "route.podlab.dev \"web-canary\" deleted\n")
        }
    }

    @Test("bad input is refused with the field and the reason; nothing is stored")
    func badInput() async throws {
        try await TestLab.with { lab in
            let file = lab.stateRoot + "/bad.yaml"
            try """
                apiVersion: podlab.dev/v1
                kind: Route
                metadata: {name: bad}
                spec:
                  service: web
                  rules:
                  - backends: [{service: a, weight: 90}, {service: b, weight: 20}]
                    fault: {delay: {fixed: -100ms}}
                """.write(toFile: file, atomically: true, encoding: .utf8)
            let result = try lab.run(["apply", "-f", file], expectSuccess: false)
            #expect(!result.succeeded)
            #expect(result.stderr.contains("The Route \"bad\" is invalid"), "\(result.stderr)")
            #expect(result.stderr.contains("spec.rules[0].backends: Invalid value: 110: the weights must sum to 100"), "\(result.stderr)")
            #expect(result.stderr.contains("spec.rules[0].fault.delay.fixed: Invalid value: \"-100ms\": must not be negative"), "\(result.stderr)")
            let listed = try lab.run(["get", "routes"], expectSuccess: false)
            #expect(listed.stderr.contains("No resources found"), "\(listed.stdout) \(listed.stderr)")
        }
    }
}
