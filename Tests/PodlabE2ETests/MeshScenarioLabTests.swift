import Foundation
import KernelTestSupport
import Netns
import Testing

/// `podlab test --scenario mesh` and `podlab mesh top` on real labs: the scenario passes every
/// case with its figure and cleans up; with a Route whose retries are too few its retries case
/// fails and the run exits 1; `mesh top --once` shows each route's requests and success rate
/// while Debian's curl sends traffic through a meshed client's sidecar.
@Suite("Mesh scenario and mesh top end to end", .enabled(if: KernelTest.isRoot && KernelTest.hasNft, "needs root and nft"), .rootNamespaceUnchanged)
struct MeshScenarioLabTests {
    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    func scenarioNamespacesLeft(_ lab: TestLab) throws -> [String] {
        try lab.run(["get", "namespaces", "-o", "name"]).stdout.split(separator: "\n").map(String.init).filter { $0.contains("podlab-mesh-") }
    }

    @Test("the mesh scenario passes every case with its figure and removes its namespaces")
    func passes() async throws {
        try await TestLab.with { lab in
            let started = ContinuousClock.now
            let result = try lab.run(["test", "--scenario", "mesh"])
            let elapsed = Self.seconds(ContinuousClock.now - started)
            #expect(result.status == .exited(0), "\(result.stdout)\n\(result.stderr)")
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 6, "\(result.stdout)")
            #expect(lines.filter { $0.hasPrefix("PASS  ") }.count == 5, "\(result.stdout)")
            #expect(lines.contains { $0.hasPrefix("PASS  captured traffic: client (") && $0.contains("the backend saw 127.0.0.1:")
                && $0.contains("(its sidecar), x-request-id ") && $0.contains("mTLS peer spiffe://cluster.local/ns/podlab-mesh-") }, "\(result.stdout)")
            #expect(lines.contains { $0.hasPrefix("PASS  STRICT refuses plain text: unmeshed plain → web (STRICT, ") && $0.contains("refused (curl exit ")
                && $0.contains("(PERMISSIVE): 200") }, "\(result.stdout)")
            #expect(lines.contains { $0.hasPrefix("PASS  unauthorised identity gets 403: ") && $0.contains("-outsider → 403; client of ")
                && $0.hasSuffix("s)") }, "\(result.stdout)")
            #expect(lines.contains { $0.hasPrefix("PASS  retries hide a backend failing 50%: without retries ") && $0.contains("Route with 10 retries: ")
                && $0.contains(" retries made") }, "\(result.stdout)")
            #expect(lines.contains { $0.hasPrefix("PASS  90/10 split: 1000 requests: v1 ") }, "\(result.stdout)")
            #expect(lines.last?.hasPrefix("mesh: 5 of 5 cases passed in ") == true, "\(result.stdout)")
            // The figure is printed, not asserted (a loaded machine is slow); the bound catches a hang.
            print("mesh scenario: \(elapsed) s")
            #expect(elapsed < 300, "the scenario took \(elapsed)s")
            #expect(try scenarioNamespacesLeft(lab).isEmpty)
        }
    }

    @Test("with too few retries on its Route the retries case fails, the others pass, and the run exits 1")
    func failsWithoutRetries() async throws {
        try await TestLab.with { lab in
            let result = try lab.run(["test", "--scenario", "mesh", "--mesh-retry-attempts", "0", "-o", "json"], expectSuccess: false)
            #expect(result.status == .exited(1), "\(result.stdout)\n\(result.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
            #expect(report["passed"] as? Int == 4 && report["cases"] as? Int == 5, "\(result.stdout)")
            let cases = report["results"] as? [[String: Any]] ?? []
            let retries = try #require(cases.first { ($0["name"] as? String)?.hasPrefix("retries") == true })
            #expect(retries["passed"] as? Bool == false)
            #expect((retries["detail"] as? String)?.contains("Route with 0 retries: ") == true, "\(retries)")
            #expect(try scenarioNamespacesLeft(lab).isEmpty)
        }
    }

    static let topManifests = """
        apiVersion: v1
        kind: Pod
        metadata: {name: web, labels: {app: web}, annotations: {podlab.dev/mesh: enabled}}
        spec:
          containers:
          - {name: echo, image: podlab/echo, ports: [{containerPort: 8080}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: flaky, labels: {app: flaky}, annotations: {podlab.dev/mesh: enabled}}
        spec:
          containers:
          - {name: echo, image: podlab/echo, env: [{name: ECHO_FAIL_PERCENT, value: "50"}], ports: [{containerPort: 8080}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: flaky}
        spec: {selector: {app: flaky}, ports: [{name: http, port: 80, targetPort: 8080}]}
        ---
        apiVersion: podlab.dev/v1
        kind: Route
        metadata: {name: web-route}
        spec:
          service: web
          rules:
          - timeout: 5s
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: client, annotations: {podlab.dev/mesh: enabled}}
        spec:
          containers:
          - {name: app, image: busybox, command: [sleep, "3600"]}
        """

    @Test("mesh top --once shows each route's requests, rate and success rate while a meshed client sends traffic")
    func top() async throws {
        try await TestLab.with { lab in
            let file = lab.stateRoot + "/top.yaml"
            try Self.topManifests.write(toFile: file, atomically: true, encoding: .utf8)
            try lab.run(["apply", "-f", file])
            try await lab.eventually("every pod Ready", timeout: .seconds(120)) {
                try ["web", "flaky", "client"].allSatisfy { try lab.isReady($0) }
            }
            func clusterIP(_ service: String) throws -> String {
                let object = try JSONSerialization.jsonObject(with: Data(try lab.run(["get", "svc", service, "-o", "json"]).stdout.utf8)) as? [String: Any]
                return try #require((object?["spec"] as? [String: Any])?["clusterIP"] as? String)
            }
            let web = try clusterIP("web"), flaky = try clusterIP("flaky")
            @Sendable func traffic(web webCount: Int, flaky flakyCount: Int) throws -> [Substring] {
                // Debian's curl in the client pod's network namespace: captured like the pod's own.
                // The two Services' requests alternate, so that any window sees both however slow
                // they are; one -o per URL.
                let urls = (0..<max(webCount, flakyCount)).flatMap { index in
                    (index < webCount ? ["-o", "/dev/null", "http://\(web)/w\(index)"] : [])
                        + (index < flakyCount ? ["-o", "/dev/null", "http://\(flaky)/f\(index)"] : [])
                }
                return try Command.run("curl", ["-s", "-w", "%{http_code}\n", "--max-time", "20"] + urls,
                                       netns: lab.podNamespace("client")).stdout.split(separator: "\n")
            }
            try await lab.eventually("the client's sidecar routes web") {
                let codes = try traffic(web: 50, flaky: 0)
                return codes.count == 50 && codes.allSatisfy { $0 == "200" }
            }
            // Traffic throughout mesh top's window, however late the command starts its first
            // scrape. (One sender: blocking tasks hold the cooperative pool's threads, as many as
            // the machine's CPUs, and mesh top needs one too.)
            // A window counts what the machine managed to send in it: on a slow one, windows are
            // taken until one holds enough requests of both Services to judge.
            let sender = Task.detached { while !Task.isCancelled { _ = try? traffic(web: 50, flaky: 50) } }
            func requests(_ lines: [[String]], _ service: String) -> Int {
                lines.first { $0.first == service }.flatMap { $0.count > 7 ? Int($0[7]) : nil } ?? 0
            }
            let topTask = Task.detached { () throws -> (CommandResult, [[String]], Int) in
                var result: CommandResult?, lines: [[String]] = [], windows = 0
                try await lab.eventually("a window of mesh top with 10 requests to web and 30 to flaky", timeout: .seconds(120),
                                         detail: { "last window:\n\(result?.stdout ?? "")\(result?.stderr ?? "")" }) {
                    windows += 1
                    let top = try lab.run(["mesh", "top", "--once", "--interval", "5s"])
                    result = top
                    lines = top.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
                    return requests(lines, "web") >= 10 && requests(lines, "flaky") >= 30
                }
                return (try #require(result), lines, windows)
            }
            let outcome: (CommandResult, [[String]], Int)
            do { outcome = try await topTask.value } catch {
                sender.cancel()
                _ = await sender.value
                throw error
            }
            sender.cancel()
            _ = await sender.value
            let (result, lines, windows) = outcome
            print("mesh top: \(windows) window(s) of 5 s taken")
            #expect(result.succeeded, "\(result.stderr)")
            #expect(lines.first == ["SERVICE", "ROUTE", "RULE", "SUCCESS", "RPS", "P50", "P99", "REQUESTS"], "\(result.stdout)")
            let webRow = try #require(lines.first { $0.first == "web" }, "\(result.stdout)")
            let flakyRow = try #require(lines.first { $0.first == "flaky" }, "\(result.stdout)")
            #expect(webRow[1] == "web-route" && webRow[2] == "0" && webRow[3] == "100.00%", "\(result.stdout)")
            // REQUESTS and RPS are the window's (5 s between the scrapes, more when a scrape is slow):
            // traffic was seen, and the rate is the count over a window at least the interval.
            let webRequests = Double(webRow[7]) ?? 0, webRate = Double(webRow[4]) ?? 0
            #expect(webRequests >= 10 && webRate > 0, "\(result.stdout)")
            #expect(webRate > 0 && (4.9...50).contains(webRequests / webRate), "\(result.stdout)")
            #expect(webRow[5].hasSuffix("ms") && webRow[6].hasSuffix("ms"), "\(result.stdout)")
            #expect(flakyRow[1] == "-" && flakyRow[2] == "-", "\(result.stdout)")
            // flaky fails half of its requests at random: over 30 or more, the success rate is
            // outside 20–80 % with a chance below 1 in 3000.
            let flakyRequests = Int(flakyRow[7]) ?? 0
            let flakySuccess = Double(flakyRow[3].dropLast()) ?? -1
            #expect(flakyRequests >= 30, "\(result.stdout)")
            #expect((20...80).contains(flakySuccess), "\(result.stdout)")

            // -A adds the namespace; another namespace has no traffic.
            let all = try lab.run(["mesh", "top", "-A", "--once", "--interval", "200ms"]).stdout
            #expect(all.hasPrefix("NAMESPACE   SERVICE") || all.hasPrefix("No mesh traffic."), "\(all)")
            let other = try lab.run(["mesh", "top", "-n", "kube-system", "--once", "--interval", "200ms"]).stdout
            #expect(other == "No mesh traffic to Services in kube-system namespace.\n", "\(other)")
        }
    }
}
