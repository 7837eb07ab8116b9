import Foundation
import PodNet

/// The pods of `podlab test --scenario seed`: created fresh for the run (leftovers of an
/// earlier run are replaced), waited for until they show what the scenario needs, and
/// removed afterwards.
struct SeedRun {
    let client: APIClient
    let context: CommandContext
    /// How long the pods may take to get ready.
    var readyTimeout: Duration = .seconds(60)

    /// Creates the scenario's pods on `nodes` and waits until they are ready to be probed.
    func prepare(nodes: [String], progress: inout ProgressLine) async throws {
        let namespace = SeedScenario.namespace
        let leftovers = try await scenarioPods()
        if !leftovers.isEmpty {
            progress.update("seed: removing \(leftovers.count) pod(s) of an earlier run")
            try await delete(leftovers)
        }
        // The scenario's namespace, as any other, exists before its pods.
        do {
            let namespaceObject = Namespace(metadata: ObjectMeta(name: namespace))
            _ = try await client.send(.POST, Namespace.collectionPath(namespace: nil), body: Data(namespaceObject.json.jsonText(indent: 0).utf8))
        } catch let APIError.status(status) where status.reason == .alreadyExists {}
        for pod in SeedScenario.pods(nodes: nodes) {
            progress.update("seed: creating pod \(namespace)/\(pod.metadata.name)")
            _ = try await client.send(.POST, APIPath.pods(namespace), body: Data(pod.jsonText.utf8))
        }
        let deadline = ContinuousClock.now + readyTimeout
        while true {
            let missing = SeedScenario.waitingFor(try await scenarioPods())
            if missing.isEmpty { return }
            guard ContinuousClock.now < deadline else {
                throw CLIError("the seed scenario's pods did not get ready in \(readyTimeout.components.seconds)s: \(missing.joined(separator: "; "))")
            }
            progress.update("seed: waiting for \(missing.joined(separator: "; "))")
            try await context.pause()
        }
    }

    /// Removes the scenario's pods (at once: no grace period) and waits until they are gone.
    /// Failures are reported, not thrown: the result of the run stands.
    func remove() async {
        do {
            try await delete(try await scenarioPods())
        } catch {
            context.stderr.line("warning: removing the seed scenario's pods: \(error)")
        }
    }

    private func scenarioPods() async throws -> [Pod] {
        let names = Set(SeedScenario.podNames)
        return try await client.get(PodList.self, APIPath.pods(SeedScenario.namespace),
                                    query: [("labelSelector", "\(SeedScenario.label.0)=\(SeedScenario.label.1)")])
            .items.filter { names.contains($0.metadata.name) }
    }

    private func delete(_ pods: [Pod]) async throws {
        var targets: [Deletion.Target] = []
        for pod in pods {
            do {
                _ = try await client.send(.DELETE, APIPath.pod(SeedScenario.namespace, pod.metadata.name), query: [("gracePeriodSeconds", "0")])
                targets.append((SeedScenario.namespace, pod.metadata.name, pod.metadata.uid))
            } catch let error as APIError where error.isNotFound {
                continue
            }
        }
        try await Deletion.waitUntilGone(targets, client: client, context: context, timeout: 30)
    }
}
