import Foundation
import PodNet

/// `podlab test --scenario services`: in a namespace of its own, a Deployment of 3 echo
/// servers behind a Service, a client pod asking the Service in a loop (a new connection per
/// request, by ClusterIP and by DNS name), and a rolling update to a new template while it
/// asks. Passes when not one request failed. Everything it made goes with its namespace, on
/// failure too (unless `--keep`).
struct ServicesScenarioRun {
    let client: APIClient
    let context: CommandContext
    let namespace: String
    /// Created to stop the client (containers share the host's file system).
    let stopFile: String
    var readyTimeout: Duration = .seconds(90)
    var rolloutTimeout: Duration = .seconds(180)
    /// Requests the client makes before the rollout starts, and again after it ended.
    var settleRequests = 30

    struct Report {
        var namespace: String
        var clusterIP: String
        var oldPods: [String]
        var newPods: [String]
        var rolloutSeconds: Double
        /// Requests made from the template change until the last old pod was gone.
        var duringRollout: Int
        var tally: ServicesScenario.Tally

        var passed: Bool { tally.failed.isEmpty && tally.total > 0 }
    }

    init(client: APIClient, context: CommandContext) {
        self.client = client
        self.context = context
        namespace = ServicesScenario.namespace(suffix: SafeAlphabet.random())
        stopFile = NSTemporaryDirectory() + "podlab-\(namespace).stop"
    }

    // MARK: Running

    func run(progress: inout ProgressLine) async throws -> Report {
        let name = ServicesScenario.serviceName
        progress.update("services: creating namespace \(namespace), Deployment and Service \(name)")
        try await post(Namespace.collectionPath(namespace: nil), ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(namespace)]])
        try await post(Service.collectionPath(namespace: namespace), ServicesScenario.service(namespace: namespace))
        try await post(Deployment.collectionPath(namespace: namespace), ServicesScenario.deployment(namespace: namespace, version: 1))
        let oldPods = try await waitForPods(excluding: [], what: "\(ServicesScenario.replicas) ready pods", timeout: readyTimeout, progress: &progress)
        let service = try await client.get(Service.self, Service.path(namespace: namespace, name: name))
        let clusterIP = service.spec.clusterIP
        guard !clusterIP.isEmpty else { throw CLIError("service \(namespace)/\(name) has no ClusterIP") }

        progress.update("services: starting the client")
        try await post(APIPath.pods(namespace), ServicesScenario.client(namespace: namespace, clusterIP: clusterIP, stopFile: stopFile))
        let before = try await waitForRequests(atLeast: settleRequests, progress: &progress, what: "before the rollout")

        progress.update("services: rolling \(name) out to a new template")
        let started = ContinuousClock.now
        _ = try await WorkloadUpdate.update(Deployment.self, namespace: namespace, name: name, client: client) { deployment in
            guard !deployment.spec.template.spec.containers.isEmpty else { return }
            deployment.spec.template.spec.containers[0].env = [EnvVar(name: ServicesScenario.versionVariable, value: "2")]
        }
        let newPods = try await waitForPods(excluding: Set(oldPods), what: "the rollout", timeout: rolloutTimeout, progress: &progress)
        let elapsed = ContinuousClock.now - started
        let during = try await tally()

        _ = try await waitForRequests(atLeast: during.total + settleRequests, progress: &progress, what: "after the rollout")
        let tally = try await stopClient(progress: &progress)
        return Report(namespace: namespace, clusterIP: clusterIP, oldPods: oldPods, newPods: newPods,
                      rolloutSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                      duringRollout: during.total - before.total, tally: tally)
    }

    private func post(_ path: String, _ object: JSONValue) async throws {
        _ = try await client.send(.POST, path, body: Data(object.jsonText(indent: 0).utf8))
    }

    /// Waits until the Deployment has exactly its replicas, all ready and none of them in
    /// `excluding`, and no pod of it is terminating any more; returns their names.
    private func waitForPods(excluding: Set<String>, what: String, timeout: Duration, progress: inout ProgressLine) async throws -> [String] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let pods = try await client.get(PodList.self, APIPath.pods(namespace), query: [("labelSelector", "app=\(ServicesScenario.serviceName)")]).items
            let active = pods.filter { $0.metadata.deletionTimestamp == nil }
            let ready = active.filter { $0.status.condition(.ready)?.status == .true && !excluding.contains($0.metadata.name) }
            if pods.count == ServicesScenario.replicas, ready.count == ServicesScenario.replicas {
                return ready.map(\.metadata.name).sorted()
            }
            guard ContinuousClock.now < deadline else {
                throw CLIError("services scenario: \(what) did not finish in \(timeout.components.seconds)s "
                    + "(\(ready.count) new pod(s) ready, \(pods.count - active.count) terminating)")
            }
            progress.update("services: waiting for \(what): \(ready.count)/\(ServicesScenario.replicas) ready, \(pods.count - active.count) terminating")
            try await context.pause()
        }
    }

    /// The client's requests so far, from its log.
    private func tally() async throws -> ServicesScenario.Tally {
        let log = try await client.send(.GET, APIPath.log(namespace, ServicesScenario.clientName)).body
        return ServicesScenario.Tally(log: String(decoding: log, as: UTF8.self))
    }

    private func waitForRequests(atLeast count: Int, progress: inout ProgressLine, what: String) async throws -> ServicesScenario.Tally {
        let deadline = ContinuousClock.now + readyTimeout
        while true {
            let current = try await tally()
            if current.total >= count { return current }
            guard ContinuousClock.now < deadline, !current.finished else {
                throw CLIError("services scenario: the client made \(current.total) of \(count) requests \(what) in \(readyTimeout.components.seconds)s")
            }
            progress.update("services: \(current.total) requests \(what)" + (current.failed.isEmpty ? "" : ", \(current.failed.count) failed"))
            try await context.pause()
        }
    }

    /// Tells the client to stop and waits for its last line.
    private func stopClient(progress: inout ProgressLine) async throws -> ServicesScenario.Tally {
        _ = FileManager.default.createFile(atPath: stopFile, contents: nil)
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let current = try await tally()
            if current.finished { return current }
            guard ContinuousClock.now < deadline else { throw CLIError("services scenario: the client did not stop in 30s") }
            progress.update("services: stopping the client")
            try await context.pause()
        }
    }

    /// Deletes the scenario's namespace (and so everything in it) and waits until it is gone.
    /// Failures are reported, not thrown: the result of the run stands.
    func remove() async {
        _ = FileManager.default.createFile(atPath: stopFile, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: stopFile) }
        do {
            _ = try await client.send(.DELETE, Namespace.path(namespace: "", name: namespace))
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                do { _ = try await client.send(.GET, Namespace.path(namespace: "", name: namespace)) } catch let error as APIError where error.isNotFound {
                    return
                }
                try await context.pause()
            }
            context.stderr.line("warning: namespace \(namespace) of the services scenario is still being deleted")
        } catch let error as APIError where error.isNotFound {
            return
        } catch {
            context.stderr.line("warning: removing the services scenario's namespace \(namespace): \(error)")
        }
    }

    // MARK: Printing

    static func print(_ report: Report, json: Bool, context: CommandContext) {
        let spread = report.tally.answers.sorted { $0.key < $1.key }
        if json {
            let value: JSONValue = [
                "scenario": .string(ServicesScenario.name), "namespace": .string(report.namespace), "clusterIP": .string(report.clusterIP),
                "passed": .bool(report.passed), "requests": .integer(Int64(report.tally.total)),
                "failed": .integer(Int64(report.tally.failed.count)), "duringRollout": .integer(Int64(report.duringRollout)),
                "rolloutSeconds": .number((report.rolloutSeconds * 1000).rounded() / 1000),
                "oldPods": .array(report.oldPods.map { .string($0) }), "newPods": .array(report.newPods.map { .string($0) }),
                "answers": .object(Dictionary(uniqueKeysWithValues: spread.map { ($0.key, JSONValue.integer(Int64($0.value))) })),
                "failures": .array(report.tally.failed.prefix(20).map { .string($0) }),
            ]
            context.stdout.line(value.jsonText(indent: 2))
            return
        }
        let name = ServicesScenario.serviceName
        context.stdout.line("Deployment \(name) (\(ServicesScenario.replicas) × podlab/echo) behind Service \(name) (\(report.clusterIP):80) in namespace \(report.namespace)")
        context.stdout.line("rolling update: \(report.oldPods.joined(separator: ", ")) → \(report.newPods.joined(separator: ", ")) in "
            + String(format: "%.1f", report.rolloutSeconds) + "s")
        context.stdout.line("requests: \(report.tally.total) made (a new connection each, by ClusterIP and by DNS name), "
            + "\(report.duringRollout) during the rollout, \(report.tally.failed.count) failed")
        context.stdout.line("answers per pod:")
        let width = spread.map(\.key.count).max() ?? 0
        for (pod, count) in spread {
            let generation = report.oldPods.contains(pod) ? "old" : report.newPods.contains(pod) ? "new" : "other"
            context.stdout.line("  \(pod.padding(toLength: width, withPad: " ", startingAt: 0))  \(generation)  \(count)")
        }
        for line in report.tally.failed.prefix(20) { context.stdout.line("failed: \(line)") }
        context.stdout.line(report.passed ? "PASS: no request failed during the rolling update" : "FAIL: \(report.tally.failed.count) request(s) failed")
    }

    /// Runs the scenario, prints its report, removes what it made (unless `keep`).
    static func execute(client: APIClient, context: CommandContext, json: Bool, keep: Bool) async throws -> Int32 {
        let run = ServicesScenarioRun(client: client, context: context)
        var progress = ProgressLine(context.stderr)
        let report: Report
        do {
            report = try await run.run(progress: &progress)
        } catch {
            progress.finish()
            if keep {
                context.stderr.line("kept namespace \(run.namespace); its client, if it runs, asks until \(run.stopFile) exists")
            } else {
                await run.remove()
            }
            throw error
        }
        progress.finish()
        print(report, json: json, context: context)
        if keep {
            // The client has stopped: its stop file has done its work.
            try? FileManager.default.removeItem(atPath: run.stopFile)
            context.stderr.line("kept namespace \(run.namespace)")
        } else {
            await run.remove()
        }
        return report.passed ? 0 : 1
    }
}
