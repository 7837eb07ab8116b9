import Foundation
import PodNet

/// `podlab test --scenario netpol`: namespaces x, y, z (with a random suffix, labelled
/// `ns: x`…) with pods a, b, c serving TCP and UDP on 80 and 81, then every case of
/// `NetpolScenario`: its policies and labels applied through the API, every ordered pair probed,
/// expected (from the semantics) against observed, retried once on a mismatch, as the
/// Kubernetes e2e suite does. Everything it made goes with its namespaces unless `--keep`.
struct NetpolScenarioRun {
    let client: APIClient
    let context: CommandContext
    let suffix = SafeAlphabet.random()
    var probeTimeoutMillis = 1_000

    struct StepResult {
        var proto: PortProtocol
        var port: UInt16
        var expected: NetpolScenario.TruthTable
        var observed: NetpolScenario.TruthTable
        var mismatches: Int
        var retried: Bool
    }

    struct CaseResult {
        var name: String
        var steps: [StepResult]
        var error: String?
        var seconds: Double
        var passed: Bool { error == nil && steps.allSatisfy { $0.mismatches == 0 } }
    }

    static func execute(client: APIClient, context: CommandContext, info: LabInfo, format: String?, keep: Bool) async throws -> Int32 {
        let run = NetpolScenarioRun(client: client, context: context)
        var progress = ProgressLine(context.stderr)
        var results: [CaseResult] = []
        let started = ContinuousClock.now
        do {
            let nodeAddresses = try ConnectivityTest.snapshotPlan(info).nodes.reduce(into: [String: [IPv4Address]]()) {
                $0[$1.name] = [$1.gateway] + ($1.underlayAddress.map { [$0] } ?? [])
            }
            try await run.setUp(progress: &progress)
            for (index, scenarioCase) in NetpolScenario.cases.enumerated() {
                progress.update("netpol: case \(index + 1)/\(NetpolScenario.cases.count): \(scenarioCase.name)")
                results.append(await run.run(scenarioCase, nodeAddresses: nodeAddresses))
            }
        } catch {
            progress.finish()
            if !keep { await run.remove() }
            throw error
        }
        progress.finish()
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        run.print(results, format: format, seconds: seconds)
        if keep {
            context.stderr.line("kept namespaces " + NetpolScenario.namespaces.map { run.namespace($0) }.joined(separator: ", "))
        } else {
            await run.remove()
        }
        return results.allSatisfy(\.passed) ? 0 : 1
    }

    func namespace(_ short: String) -> String { NetpolScenario.namespace(short, suffix: suffix) }

    // MARK: Setting up

    static func pod(_ name: String, namespace: String) -> JSONValue {
        func container(_ port: Int64) -> JSONValue {
            .object(["name": .string("serve-\(port)"), "image": "podlab/echo",
                     "env": .array([.object(["name": "PORT", "value": .string(String(port))])]),
                     "ports": .array([
                        .object(["name": .string("serve-\(port)-tcp"), "containerPort": .integer(port), "protocol": "TCP"]),
                        .object(["name": .string("serve-\(port)-udp"), "containerPort": .integer(port), "protocol": "UDP"]),
                     ])])
        }
        return .object(["apiVersion": "v1", "kind": "Pod",
                        "metadata": .object(["name": .string(name), "namespace": .string(namespace),
                                             "labels": .object(["pod": .string(name)])]),
                        "spec": .object(["containers": .array([container(80), container(81)])])])
    }

    func setUp(progress: inout ProgressLine) async throws {
        for short in NetpolScenario.namespaces {
            progress.update("netpol: creating namespace \(namespace(short))")
            let labels = NetpolScenario.namespaceLabels(short, suffix: suffix).mapValues(JSONValue.string)
            try await post(Namespace.collectionPath(namespace: nil),
                           .object(["apiVersion": "v1", "kind": "Namespace", "metadata": .object(["name": .string(namespace(short)), "labels": .object(labels)])]))
            for pod in NetpolScenario.pods { try await post(APIPath.pods(namespace(short)), Self.pod(pod, namespace: namespace(short))) }
        }
        let deadline = ContinuousClock.now + .seconds(120)
        while true {
            let pods = try await scenarioPods()
            let ready = pods.filter { $0.status.condition(.ready)?.status == .true && !$0.status.podIP.isEmpty }
            if ready.count == NetpolScenario.namespaces.count * NetpolScenario.pods.count { break }
            guard ContinuousClock.now < deadline else { throw CLIError("netpol scenario: only \(ready.count) of 9 pods became ready in 120s") }
            progress.update("netpol: waiting for the pods: \(ready.count)/9 ready")
            try await context.pause()
        }
        // Servers that just started: a moment to listen.
        try await Task.sleep(for: .milliseconds(300))
    }

    func scenarioPods() async throws -> [Pod] {
        var pods: [Pod] = []
        for short in NetpolScenario.namespaces { pods += try await client.get(PodList.self, APIPath.pods(namespace(short))).items }
        return pods
    }

    private func post(_ path: String, _ object: JSONValue) async throws {
        _ = try await client.send(.POST, path, body: Data(object.jsonText(indent: 0).utf8))
    }

    // MARK: A case

    func run(_ scenarioCase: NetpolScenario.Case, nodeAddresses: [String: [IPv4Address]]) async -> CaseResult {
        let started = ContinuousClock.now
        var result = CaseResult(name: scenarioCase.name, steps: [], error: nil, seconds: 0)
        var applied: [(namespace: String, name: String)] = []
        do {
            let pods = try await scenarioPods()
            var addresses: [String: IPv4Address] = [:]
            for pod in pods {
                let short = String(pod.metadata.namespace.prefix { $0 != "-" })
                addresses["\(short)/\(pod.metadata.name)"] = IPv4Address(pod.status.podIP)
            }
            for step in scenarioCase.steps(NetpolScenario.Context(addresses: addresses, suffix: suffix)) {
                let policies = try step.policies.map { try NetpolScenario.policy($0.yaml, namespace: namespace($0.namespace)) }
                applied = try await apply(policies, replacing: applied)
                try await relabel(step.labels)
                let current = try await scenarioPods()
                let namespaceLabels = Dictionary(uniqueKeysWithValues: NetpolScenario.namespaces.map {
                    (namespace($0), NetpolScenario.namespaceLabels($0, suffix: suffix))
                })
                let world = PolicyWorld(pods: current.compactMap { PolicyPod($0) }, namespaceLabels: namespaceLabels, policies: policies, nodeAddresses: nodeAddresses)
                let expected = NetpolScenario.expected(world, suffix: suffix, proto: step.proto, port: step.port)
                var observed = try await probe(current, proto: step.proto, port: step.port)
                var comparison = expected.comparison(with: observed)
                var retried = false
                if comparison.mismatches > 0 {
                    // The rules may still be on their way: once more, a second later.
                    retried = true
                    try await Task.sleep(for: .seconds(1))
                    observed = try await probe(current, proto: step.proto, port: step.port)
                    comparison = expected.comparison(with: observed)
                }
                result.steps.append(StepResult(proto: step.proto, port: step.port, expected: expected, observed: observed,
                                               mismatches: comparison.mismatches, retried: retried))
            }
        } catch {
            result.error = "\(error)"
        }
        do {
            _ = try await apply([], replacing: applied)
            try await relabel([:])
        } catch {
            result.error = (result.error.map { $0 + "; " } ?? "") + "cleaning up: \(error)"
        }
        let elapsed = ContinuousClock.now - started
        result.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return result
    }

    /// Makes `policies` the ones in force: created or replaced, and those of the step before
    /// that are not among them deleted.
    func apply(_ policies: [NetworkPolicy], replacing previous: [(namespace: String, name: String)]) async throws -> [(namespace: String, name: String)] {
        let wanted = policies.map { ($0.metadata.namespace, $0.metadata.name) }
        for old in previous where !wanted.contains(where: { $0 == old }) {
            _ = try await client.send(.DELETE, NetworkPolicy.path(namespace: old.namespace, name: old.name))
        }
        for policy in policies {
            let body = Data(policy.json.jsonText(indent: 0).utf8)
            if previous.contains(where: { $0 == (policy.metadata.namespace, policy.metadata.name) }) {
                _ = try await client.send(.PUT, NetworkPolicy.path(namespace: policy.metadata.namespace, name: policy.metadata.name), body: body)
            } else {
                _ = try await client.send(.POST, NetworkPolicy.collectionPath(namespace: policy.metadata.namespace), body: body)
            }
        }
        return wanted
    }

    /// Gives each pod its own `pod` label plus the step's extra labels (none: back to its own).
    func relabel(_ labels: [String: [String: String]]) async throws {
        for var pod in try await scenarioPods() {
            let short = String(pod.metadata.namespace.prefix { $0 != "-" })
            var wanted = NetpolScenario.labels(namespace: short, pod: pod.metadata.name)
            wanted.merge(labels["\(short)/\(pod.metadata.name)"] ?? [:]) { $1 }
            guard pod.metadata.labels != wanted else { continue }
            pod.metadata.labels = wanted
            _ = try await client.send(.PUT, APIPath.pod(pod.metadata.namespace, pod.metadata.name), body: Data(pod.json.jsonText(indent: 0).utf8))
        }
    }

    /// Every ordered pair but a pod to itself, in one batch.
    func probe(_ pods: [Pod], proto: PortProtocol, port: UInt16) async throws -> NetpolScenario.TruthTable {
        let names = NetpolScenario.podNames
        let byName = Dictionary(pods.map { (String($0.metadata.namespace.prefix { $0 != "-" }) + "/" + $0.metadata.name, $0) }) { a, _ in a }
        var probes: [ProbeRequest] = []
        var cells: [[Bool]] = names.map { _ in names.map { _ in true } }
        var index: [(Int, Int)] = []
        for (row, from) in names.enumerated() {
            for (column, to) in names.enumerated() where row != column {
                guard let source = byName[from], let destination = byName[to] else { cells[row][column] = false; continue }
                probes.append(ProbeRequest(id: "\(row).\(column)", fromPod: "\(source.metadata.namespace)/\(source.metadata.name)",
                                           to: destination.status.podIP, port: Int(port), kind: proto == .udp ? .udp : .tcp,
                                           timeoutMillis: probeTimeoutMillis))
                index.append((row, column))
            }
        }
        let answer = try await client.send(.POST, ProbeBatch.path, json: try JSONEncoder().encode(ProbeBatch(probes: probes)), as: ProbeBatchResult.self)
        for (position, result) in answer.results.enumerated() where position < index.count {
            let (row, column) = index[position]
            cells[row][column] = result.outcome == .connected
        }
        return NetpolScenario.TruthTable(names: names, cells: cells)
    }

    // MARK: Output

    func print(_ results: [CaseResult], format: String?, seconds: Double) {
        let passed = results.filter(\.passed).count
        switch format {
        case "json":
            let cases: [JSONValue] = results.map { result in
                let steps: [JSONValue] = result.steps.map { step in
                    let fields: [String: JSONValue] = [
                        "protocol": .string(step.proto.rawValue), "port": .integer(Int64(step.port)),
                        "expected": .string(step.expected.text), "observed": .string(step.observed.text),
                        "mismatches": .integer(Int64(step.mismatches)), "retried": .bool(step.retried),
                    ]
                    return .object(fields)
                }
                let fields: [String: JSONValue] = [
                    "name": .string(result.name), "passed": .bool(result.passed), "seconds": .number(result.seconds),
                    "error": result.error.map(JSONValue.string) ?? .null, "steps": .array(steps),
                ]
                return .object(fields)
            }
            context.stdout.write(JSONValue.object(["scenario": .string(NetpolScenario.name), "passed": .integer(Int64(passed)),
                                                   "cases": .integer(Int64(results.count)), "seconds": .number(seconds),
                                                   "results": .array(cases)]).jsonText() + "\n")
        case "junit":
            var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            xml += "<testsuite name=\"podlab netpol\" tests=\"\(results.count)\" failures=\"\(results.count - passed)\" time=\"\(String(format: "%.3f", seconds))\">\n"
            for result in results {
                xml += "  <testcase classname=\"netpol\" name=\"\(Self.escaped(result.name))\" time=\"\(String(format: "%.3f", result.seconds))\""
                if result.passed {
                    xml += "/>\n"
                } else {
                    xml += ">\n    <failure message=\"\(Self.escaped(result.error ?? "truth tables differ"))\">\(Self.escaped(Self.tables(result)))</failure>\n  </testcase>\n"
                }
            }
            xml += "</testsuite>\n"
            context.stdout.write(xml)
        default:
            for (index, result) in results.enumerated() {
                context.stdout.line("[\(result.passed ? "PASS" : "FAIL")] case \(index + 1): \(result.name)")
                context.stdout.write(Self.tables(result))
            }
            context.stdout.line("netpol: \(passed) of \(results.count) cases passed in \(String(format: "%.1f", seconds))s")
        }
    }

    static func tables(_ result: CaseResult) -> String {
        var text = ""
        if let error = result.error { text += "error: \(error)\n" }
        for step in result.steps {
            text += "\(step.proto.rawValue)/\(step.port)" + (step.retried ? " (retried once)" : "") + "\n"
            text += "Expected:\n\(step.expected.text)\n\nObserved:\n\(step.observed.text)\n\nComparison:\n\(step.expected.comparison(with: step.observed).text)\n\n"
        }
        return text
    }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// Deletes the scenario's namespaces (and so everything in them). Failures are reported, not thrown.
    func remove() async {
        for short in NetpolScenario.namespaces {
            do { _ = try await client.send(.DELETE, Namespace.path(namespace: "", name: namespace(short))) } catch {
                context.stderr.line("warning: removing namespace \(namespace(short)) of the netpol scenario: \(error)")
            }
        }
    }
}
