@testable import AgentTestSupport
import Foundation
import PodNet
import PodlabCLI
import Testing

/// `podlab test` against a fake agent whose prober answers as a healthy lab would (or as told).
///
/// Pods: a (nginx) 10.244.1.2 and c (busybox) 10.244.1.3 on podlab-n1; b (echo + httpd)
/// 10.244.2.2 on podlab-n2 — the nodes of `readyLab`.
@Suite("podlab test against a fake agent")
struct ConnectivityTestCommandTests {
    static let started = Timestamp(secondsSince1970: 1_700_000_000 - 3000)

    static func pod(_ name: String, namespace: String = "default", node: String, ip: String, _ containers: [Container],
                    labels: [String: String] = [:]) -> Pod {
        var pod = Pod(metadata: ObjectMeta(name: name, namespace: namespace, labels: labels), spec: PodSpec(containers: containers, nodeName: node))
        pod.status = PodStatus(phase: .running, podIP: ip, podIPs: [PodIP(ip: ip)])
        pod.status.containerStatuses = containers.map {
            ContainerStatus(name: $0.name, state: .running(startedAt: started), ready: true, started: true, image: $0.image)
        }
        return pod
    }

    /// The pods the canned answers hold (a prober needs root: its answers are canned too).
    static func cluster() -> [Pod] {
        [
            pod("a", node: "podlab-n1", ip: "10.244.1.2", [Container(name: "web", image: "nginx")], labels: ["app": "web"]),
            pod("b", node: "podlab-n2", ip: "10.244.2.2", [Container(name: "echo", image: "podlab/echo"), Container(name: "web", image: "httpd")]),
            pod("c", node: "podlab-n1", ip: "10.244.1.3", [Container(name: "shell", image: "busybox", command: ["sleep", "9"])]),
        ]
    }

    /// What a healthy lab answers: the answer every check expects, from the source pod's address,
    /// which the destination sees where the probe observes it.
    static func healthy(_ probe: ProbeRequest, _ cluster: [Pod]) -> ProbeResult {
        var result = healthyAnswer(probe, cluster)
        if probe.observesSource, let source = result.source { result.observedSource = source }
        return result
    }

    static func healthyAnswer(_ probe: ProbeRequest, _ cluster: [Pod]) -> ProbeResult {
        let source: String
        if probe.to.hasPrefix("127.") {
            source = "127.0.0.1"
        } else {
            let (namespace, name) = probe.sourcePod ?? ("", "")
            source = cluster.first { $0.metadata.namespace == namespace && $0.metadata.name == name }?.status.podIP ?? "?"
        }
        switch probe.kind {
        case .route: return ProbeResult(outcome: .unreachable, latencyMillis: 0.01, detail: "routing table only, no packet sent")
        case .bind: return ProbeResult(outcome: .inUse, latencyMillis: 0.01, source: "0.0.0.0:\(probe.port!)")
        case .icmp: return ProbeResult(outcome: .connected, latencyMillis: 0.2, source: source, destination: probe.to, detail: "echo reply")
        default:
            if probe.port == 9 || probe.port == 81 {
                return ProbeResult(outcome: .refused, latencyMillis: 0.3, source: "\(source):40000", destination: "\(probe.to):\(probe.port!)")
            }
            return ProbeResult(outcome: .connected, latencyMillis: 0.5, source: "\(source):40000", destination: "\(probe.to):\(probe.port!)")
        }
    }

    /// A fake agent: the lab, the pods of `cluster`, and a prober that answers with `answer`.
    static func agent(_ cluster: [Pod], lab: String = readyLab,
                      answer: @escaping @Sendable (ProbeRequest, [Pod]) -> ProbeResult = healthy) -> @Sendable (FakeRequest) async -> FakeResponse {
        { request in
            switch (request.method, request.path) {
            case ("GET", "/podlab/v1/lab"):
                return .json(200, lab)
            case ("GET", Service.collectionPath(namespace: nil)):
                return .object(ServiceList(items: []))
            case ("GET", EndpointSlice.collectionPath(namespace: nil)):
                return .object(EndpointSliceList(items: []))
            case ("GET", NetworkPolicy.collectionPath(namespace: nil)):
                return .object(ObjectList<NetworkPolicy>(items: []))
            case ("GET", Namespace.collectionPath(namespace: nil)):
                return .object(ObjectList<Namespace>(items: []))
            case ("POST", ProbeBatch.path):
                let compact = request.query["format"] == CompactProbes.format
                guard let batch = compact ? (try? CompactProbes.probes([UInt8](request.body))).map(ProbeBatch.init)
                    : try? JSONDecoder().decode(ProbeBatch.self, from: request.body) else {
                    return .status(.badRequest("not a probe batch"))
                }
                let results = batch.probes.map { probe in
                    var result = answer(probe, cluster)
                    result.id = probe.id
                    return result
                }
                guard request.query["stream"] == "true" else {
                    return .body(200, try! JSONEncoder().encode(ProbeBatchResult(results: results, elapsedMillis: 1)))
                }
                // Two lines of results, the second half first (lines carry their indices), then done.
                let entries = results.enumerated().map { ProbeStreamLine.Entry(index: $0.offset, result: $0.element) }
                let half = entries.count / 2
                let timings = ProbeTimings(prepareMillis: 2, observeMillis: 3, openMillis: 4, probeMillis: 5, rounds: 1,
                                           observedByLookup: 6, observedByWitness: 7)
                if compact {
                    // The same in the compact form, in chunks that end anywhere, mid-line included.
                    var text: [UInt8] = []
                    for entry in entries[half...] + entries[..<half] { CompactProbes.append(entry, to: &text) }
                    CompactProbes.appendDone(elapsedMillis: 1, timings: timings, to: &text)
                    let cuts = [0, text.count / 3, text.count / 3 + 1, text.count * 2 / 3, text.count]
                    return .chunks(200, zip(cuts, cuts.dropFirst()).map { Data(text[$0..<$1]) }, pause: .milliseconds(1))
                }
                let lines = [ProbeStreamLine(results: Array(entries[half...])), ProbeStreamLine(results: Array(entries[..<half])),
                             ProbeStreamLine(results: [], done: true, elapsedMillis: 1, timings: timings)]
                return .chunks(200, lines.map { try! JSONEncoder().encode($0) + Data("\n".utf8) }, pause: .milliseconds(1))
            default:
                return CannedPods.answer(request, pods: cluster) ?? .status(APIStatus.synthesized(code: 404, body: ""))
            }
        }
    }

    static func probes(_ agent: FakeAgent) -> [ProbeRequest] {
        agent.requests.filter { $0.path == ProbeBatch.path }.flatMap { (try? CompactProbes.probes([UInt8]($0.body))) ?? [] }
    }

    @Test("a healthy lab: every check matches, exit 0")
    func healthyLab() async throws {
        let cluster = Self.cluster()
        try await FakeAgent.with(Self.agent(cluster)) { agent in
            let t = agent.context()
            #expect(await t.run("test") == 0)
            let lines = t.stdout.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines[0].hasPrefix("RESULT   CLAIM            FROM   TO   "))
            #expect(!t.stdout.text.contains("MISMATCH"))
            #expect(t.stdout.text.contains("ok       cross-node       a      b 10.244.2.2:8080 (echo)"))
            #expect(t.stdout.text.contains("✓ localhost        containers of a pod reach each other on localhost: 3 checks"))
            #expect(t.stdout.text.hasSuffix("PASS: 29 checks, 29 matched, 0 mismatched; 29 probes in " + (t.stdout.text.components(separatedBy: "probes in ").last ?? "")))
            #expect(t.stderr.text.contains("probing: 29/29"))
            #expect(Self.probes(agent).count == 29)
            #expect(agent.requestLines.prefix(2) == ["GET /podlab/v1/lab", "GET /api/v1/pods"])
        }
    }

    @Test("--timings says on stderr where the time went, the agent's phases included; without it, nothing is said")
    func timings() async throws {
        let cluster = Self.cluster()
        try await FakeAgent.with(Self.agent(cluster)) { agent in
            let t = agent.context()
            #expect(await t.run("test --timings -o json") == 0)
            let line = try #require(t.stderr.text.split(separator: "\n").first { $0.hasPrefix("timings: ") })
            #expect(line.hasPrefix("timings: lab "))
            #expect(line.contains(" ms, objects ") && line.contains(" ms (3 pods, 0 services, 0 slices), model "))
            #expect(line.contains(" ms (29 checks), probing "))
            #expect(line.contains(" ms (29 results; agent: prepare 2 ms, observe 3 ms (6 by connection lookup, 7 by witness), sockets 4 ms, probes 5 ms in 1 round), report "))
            #expect(line.contains(" ms, total "))
            #expect(!t.stdout.text.contains("timings"), "stdout keeps only the report")
            let quiet = agent.context()
            #expect(await quiet.run("test -o json") == 0)
            #expect(!quiet.stderr.text.contains("timings:"))
        }
    }

    @Test("a compact result line the CLI cannot read is an error naming the line and the field")
    func malformedCompactLine() async throws {
        let cluster = Self.cluster()
        try await FakeAgent.with({ request in
            guard request.path == ProbeBatch.path else { return await Self.agent(cluster)(request) }
            return .body(200, Data("r\t0\tconnected\t0.5\t\t\t\t\t\t\t\t\nr\t1\tfine\t0\t\t\t\t\t\t\t\t\n".utf8))
        }) { agent in
            let t = agent.context()
            #expect(await t.run("test") == 1)
            #expect(t.stderr.text.contains("line 2 of the probe results, outcome: \"fine\" is not a probe outcome"))
            #expect(t.stdout.text.isEmpty)
        }
    }

    @Test("a mismatch: exit 1, listed first, with why it was expected")
    func mismatch() async throws {
        let cluster = Self.cluster()
        let broken: @Sendable (ProbeRequest, [Pod]) -> ProbeResult = { probe, cluster in
            guard probe.fromPod == "default/a", probe.kind == .icmp else { return Self.healthy(probe, cluster) }
            return ProbeResult(outcome: .unreachable, detail: "connect: Network is unreachable (ENETUNREACH)")
        }
        try await FakeAgent.with(Self.agent(cluster, answer: broken)) { agent in
            let t = agent.context()
            #expect(await t.run("test") == 1)
            let lines = t.stdout.text.split(separator: "\n").map(String.init)
            #expect(lines[1].hasPrefix("MISMATCH   gateway          a      gateway 10.244.1.1 (node podlab-n1)   icmp echo"))
            #expect(lines[1].contains("connected     unreachable"))
            #expect(lines[1].hasSuffix("connect: Network is unreachable (ENETUNREACH); expected because the pod's default route goes via 10.244.1.1 on node podlab-n1"))
            #expect(lines.filter { $0.hasPrefix("MISMATCH") }.count == 1)
            #expect(t.stdout.text.contains("✗ gateway"))
            #expect(t.stdout.text.contains("FAIL: 29 checks, 28 matched, 1 mismatched"))
            #expect(t.stderr.text.contains("1 mismatched so far"))
        }
    }

    @Test("a server that saw another source than the pod's is a mismatch, named in the table, JSON and JUnit")
    func natSeenByTheServer() async throws {
        let cluster = Self.cluster()
        // The lab's node n1 masquerades what its pods send to n2: the client's socket still says 10.244.1.x.
        let masqueraded: @Sendable (ProbeRequest, [Pod]) -> ProbeResult = { probe, cluster in
            var result = Self.healthy(probe, cluster)
            if probe.observesSource, probe.to == "10.244.2.2", result.observedSource != nil { result.observedSource = "192.168.200.11:40000" }
            return result
        }
        try await FakeAgent.with(Self.agent(cluster, answer: masqueraded)) { agent in
            let t = agent.context()
            #expect(await t.run("test --mismatches-only") == 1)
            let mismatches = t.stdout.text.split(separator: "\n").map(String.init).filter { $0.hasPrefix("MISMATCH") }
            #expect(!mismatches.isEmpty && mismatches.allSatisfy { $0.contains(" → 10.244.2.2: server saw 192.168.200.11 (NAT)") }, "\(t.stdout.text)")
            #expect(mismatches.contains { $0.contains("10.244.1.2 → 10.244.2.2: server saw 192.168.200.11 (NAT)") })
            let toListeners = Self.probes(agent).filter { $0.to == "10.244.2.2" && [80, 8080].contains($0.port ?? 0) && $0.kind != .bind }
            #expect(!toListeners.isEmpty && toListeners.allSatisfy(\.observesSource), "every probe of b's servers observes the source")

            let json = agent.context()
            #expect(await json.run("test -o json") == 1)
            let report = try JSONReader.value(from: json.stdout.text)
            let failed = (report["results"]?.arrayValue ?? []).filter { $0["matched"] == .bool(false) }
            #expect(failed.count == mismatches.count)
            #expect(failed.allSatisfy { $0["actual"]?["observedSource"] == .string("192.168.200.11:40000") })
            #expect(failed.contains { $0["problem"] == .string("10.244.1.2 → 10.244.2.2: server saw 192.168.200.11 (NAT)") })

            let junit = agent.context()
            #expect(await junit.run("test -o junit") == 1)
            #expect(junit.stdout.text.contains("<failure message=\"10.244.1.2 → 10.244.2.2: server saw 192.168.200.11 (NAT)\" type=\"mismatch\">"))
        }
    }

    @Test("an answer from the wrong source address is a mismatch (no NAT between pods)")
    func natIsAMismatch() async throws {
        let cluster = Self.cluster()
        let natted: @Sendable (ProbeRequest, [Pod]) -> ProbeResult = { probe, cluster in
            var result = Self.healthy(probe, cluster)
            if probe.fromPod == "default/c", probe.kind == .tcp, result.outcome == .connected { result.source = "10.244.1.1:40000" }
            return result
        }
        try await FakeAgent.with(Self.agent(cluster, answer: natted)) { agent in
            let t = agent.context()
            #expect(await t.run("test --mismatches-only") == 1)
            let lines = t.stdout.text.split(separator: "\n").map(String.init)
            #expect(lines.filter { $0.hasPrefix("MISMATCH") }.count == 3, "c→a:80, c→b:80, c→b:8080")
            #expect(lines[1].contains("the answer went to 10.244.1.1, not the pod's own address 10.244.1.3 (address translation between pods)"))
            #expect(!lines.contains { $0.hasPrefix("ok ") }, "--mismatches-only")
        }
    }

    @Test("-o json and -o junit")
    func formats() async throws {
        let cluster = Self.cluster()
        try await FakeAgent.with(Self.agent(cluster)) { agent in
            let t = agent.context()
            #expect(await t.run("test -o json") == 0)
            let json = try JSONReader.value(from: t.stdout.text)
            #expect(json["passed"] == .bool(true) && json["lab"] == .string("podlab") && json["scenario"] == .string("matrix"))
            #expect(json["summary"]?["checks"] == .integer(29))
            #expect(json["results"]?.arrayValue?.count == 29)

            let x = agent.context()
            #expect(await x.run("test -o junit") == 0)
            #expect(x.stdout.text.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"podlab test podlab (matrix)\" tests=\"29\" failures=\"0\""))
            #expect(x.stdout.text.contains("<testsuite name=\"host-isolation\" tests=\"3\" failures=\"0\""))
            #expect(x.stderr.text.contains("PASS: 29 checks"), "the summary goes to stderr, the file stays XML")
        }
    }

    @Test("--from and --to narrow the matrix; --kinds filters probes")
    func selectors() async throws {
        let cluster = Self.cluster()
        try await FakeAgent.with(Self.agent(cluster)) { agent in
            let t = agent.context()
            #expect(await t.run("test --from a --to b") == 0)
            let sent = Self.probes(agent)
            #expect(!sent.isEmpty && sent.allSatisfy { $0.fromPod == "default/a" && $0.to == "10.244.2.2" })

            let i = agent.context()
            #expect(await i.run("test --kinds icmp,route") == 0)
            let icmp = Self.probes(agent).dropFirst(sent.count)
            #expect(icmp.map(\.kind.rawValue).sorted() == ["icmp", "icmp", "icmp", "route", "route", "route"])

            let l = agent.context()
            #expect(await l.run(["test", "--from", "app=web", "--to", "10.244.2.2:81"]) == 0)
            #expect(l.stdout.text.contains("ok       closed-port   a      b 10.244.2.2:81   tcp connect   refused    refused"))
        }
    }

    @Test("--sample takes N checks at random; --random-seed repeats a sample")
    func sampling() async throws {
        let cluster = Self.cluster()
        try await FakeAgent.with(Self.agent(cluster)) { agent in
            var chosen: [[String]] = []
            for _ in 0..<2 {
                let t = agent.context()
                #expect(await t.run("test --sample 5 --random-seed 42 -o json") == 0)
                let json = try JSONReader.value(from: t.stdout.text)
                #expect(json["summary"]?["checks"] == .integer(5))
                chosen.append((json["results"]?.arrayValue ?? []).map { "\($0["from"]?.stringValue ?? "") \($0["to"]?.stringValue ?? "") \($0["method"]?.stringValue ?? "")" })
            }
            #expect(chosen[0] == chosen[1])
        }
    }

    @Test("a probe outside the lab: the agent's refusal is printed, exit 1")
    func outsideAddress() async throws {
        let cluster = Self.cluster()
        let refusal = APIStatus(message: "probe refused: probe 0: 8.8.8.8 is outside lab \"podlab\": podlab never sends traffic outside its own namespaces",
                                reason: "Forbidden", code: 403)
        try await FakeAgent.with({ request in
            request.path == ProbeBatch.path ? .status(refusal) : await Self.agent(cluster)(request)
        }) { agent in
            let t = agent.context()
            #expect(await t.run("test --from a --to 8.8.8.8:53") == 1)
            #expect(t.stderr.text.contains("Error from server (Forbidden): probe refused: probe 0: 8.8.8.8 is outside lab \"podlab\": podlab never sends traffic outside its own namespaces\n"))
            #expect(t.stdout.text.isEmpty)
        }
    }

    @Test("containers that started a moment ago get time to listen before the probes")
    func startupWait() async throws {
        let cluster = Self.cluster()
        // The fake's clock says now = 1_700_000_000; c's container started a second ago.
        var fresh = Self.pod("c", node: "podlab-n1", ip: "10.244.1.3", [Container(name: "shell", image: "busybox", command: ["sleep", "9"])])
        fresh.status.containerStatuses[0].state = .running(startedAt: Timestamp(secondsSince1970: 1_700_000_000 - 1))
        try await FakeAgent.with(Self.agent(cluster.filter { $0.metadata.name != "c" } + [fresh])) { agent in
            let t = agent.context()
            #expect(await t.run("test") == 0)
            #expect(t.stderr.text.hasPrefix("waiting 1s for containers that just started to listen\n"))
            #expect(agent.requestLines.filter { $0 == "GET /api/v1/pods" }.count == 2, "the pods are read again after the wait")
        }
    }

    @Test("an answer that stops before every probe finished is an error, not a pass")
    func truncatedStream() async throws {
        let cluster = Self.cluster()
        try await FakeAgent.with({ request in
            guard request.path == ProbeBatch.path else { return await Self.agent(cluster)(request) }
            var line: [UInt8] = []
            CompactProbes.append(ProbeStreamLine.Entry(index: 0, result: ProbeResult(outcome: .connected)), to: &line)
            return .body(200, Data(line))
        }) { agent in
            let t = agent.context()
            #expect(await t.run("test") == 1)
            #expect(t.stderr.text.contains("error: the connection to the agent of lab \"podlab\" broke: the agent ended the answer before every probe had finished"))
            #expect(t.stdout.text.isEmpty)
        }
    }

    @Test("bad input is refused before anything is sent", arguments: [
        ("test --from zz", "error: no running pod \"zz\"\n", Int32(1)),
        ("test --to a,,b", "error: --to: invalid selector \"a,,b\": has an empty item\n", 1),
        ("test --timeout 2m", "error: --timeout 2m is outside 1ms-60s\n", 1),
        ("test --kinds tcp,smtp", "error: --kinds: unknown probe kind \"smtp\" (known: tcp, udp, http, icmp, bind, route, dns)\n", 1),
    ])
    func badInput(line: String, message: String, code: Int32) async throws {
        let cluster = Self.cluster()
        try await FakeAgent.with(Self.agent(cluster)) { agent in
            let t = agent.context()
            #expect(await t.run(line) == code)
            #expect(t.stderr.text == message)
            #expect(Self.probes(agent).isEmpty)
        }
    }

    @Test("flag combinations ArgumentParser rejects", arguments: [
        ("test --scenario nope", "unknown scenario \"nope\" (known: seed, services, netpol, mesh)"),
        ("test --scenario mesh -o junit", "--scenario mesh runs its own requests: --sample, --kinds, --mismatches-only and -o junit do not apply"),
        ("test --scenario mesh --sample 3", "--scenario mesh runs its own requests"),
        ("test --scenario seed --mesh-retry-attempts 0", "--mesh-retry-attempts applies to --scenario mesh only"),
        ("test --scenario mesh --mesh-retry-attempts 11", "--mesh-retry-attempts must be between 0 and 10"),
        ("test --scenario services -o junit", "--scenario services runs its own requests: --sample, --kinds, --mismatches-only and -o junit do not apply"),
        ("test --scenario seed --from a", "--scenario runs its own pods: --from, --to and --namespace do not apply"),
        ("test -o xml", "unknown output format \"xml\" (known: table, json, junit)"),
        ("test --sample 0", "--sample must be at least 1"),
    ])
    func validation(line: String, message: String) async throws {
        try await FakeAgent.with(Self.agent(Self.cluster())) { agent in
            let t = agent.context()
            #expect(await t.run(line) != 0)
            #expect(t.stderr.text.contains(message))
            #expect(agent.requests.isEmpty)
        }
    }

    @Test("a lab that is not ready, and a lab without pods")
    func notReadyOrEmpty() async throws {
        let creating = readyLab.replacingOccurrences(of: "\"phase\":\"Ready\",\"message\":\"\"", with: "\"phase\":\"Creating\",\"message\":\"building\"")
        try await FakeAgent.with(Self.agent(Self.cluster(), lab: creating)) { agent in
            let t = agent.context()
            #expect(await t.run("test") == 1)
            #expect(t.stderr.text == "error: lab \"podlab\" is not ready (Creating: building)\n")
        }
        try await FakeAgent.with(Self.agent([])) { agent in
            let t = agent.context()
            #expect(await t.run("test") == 0)
            #expect(t.stderr.text == "No running pods: nothing to check.\n")
        }
    }

    @Test("--scenario seed creates its pods, waits, probes, and removes them")
    func seedScenario() async throws {
        // The pods run in the real controller (their containers faked); the prober's answers are canned.
        try await TestAgent.serving { agent in
            try await agent.add(Pod.run(name: "a", image: "nginx"))
            // In "clash", the second server cannot have port 80, which the first holds.
            let clashing = try #require(SeedScenario.pods(nodes: ["n1", "n2"]).first { $0.metadata.name == "clash" })
            agent.runtime.script(pod: "clash", container: clashing.spec.containers[1].name,
                                 .init(output: "bind() to 0.0.0.0:80 failed (98: Address in use)\n", status: .exited(1)))
            agent.intercept { request, body in
                guard request.path == ProbeBatch.path else { return nil }
                let fake = FakeRequest(method: request.method, path: request.path, query: request.query, body: body)
                switch await Self.agent(await agent.allPods())(fake) {
                case let .body(code, data): return (code, data)
                case let .chunks(code, pieces, _): return (code, pieces.reduce(Data(), +))
                }
            }
            let t = agent.context()
            #expect(await t.run("test --scenario seed") == 0, "\(t.stderr.text)")
            let created = agent.requests.filter { $0.method == "POST" && $0.path == "/api/v1/namespaces/podlab-seed/pods" }
            #expect(created.count == 4)
            #expect(created.map { (try? Pod(json: JSONReader.value(from: String(decoding: $0.body, as: UTF8.self))))?.spec.nodeName ?? "" }
                == ["n1", "n2", "n1", "n2"])  // the default topology's nodes
            let nodes = await agent.allPods().filter { $0.metadata.namespace == "podlab-seed" }.map(\.spec.nodeName)
            #expect(nodes.isEmpty, "the scenario's pods are gone: \(nodes)")
            for claim in ConnectivityClaim.tutorial {
                #expect(t.stdout.text.contains("✓ \(claim.rawValue)"), "\(claim) shown")
            }
            let sent = agent.requests.filter { $0.path == ProbeBatch.path }.flatMap { (try? CompactProbes.probes([UInt8]($0.body))) ?? [] }
            #expect(!sent.isEmpty)
            #expect(sent.allSatisfy { $0.fromPod == nil || $0.fromPod!.hasPrefix("podlab-seed/") }, "the user's pod a takes no part")
            let deleted = agent.requests.filter { $0.method == "DELETE" }
            #expect(deleted.count == 4 && deleted.allSatisfy { $0.query["gracePeriodSeconds"] == "0" })
            let (clash, user) = (await agent.pod("clash", namespace: "podlab-seed"), await agent.pod("a"))
            #expect(clash == nil && user != nil)
        }
    }
}
