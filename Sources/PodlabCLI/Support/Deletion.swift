import PodNet

/// Waiting for deleted pods to disappear, as `kubectl delete --wait` does.
enum Deletion {
    /// A pod being deleted: its namespace, name, and uid (a new pod of the same name is another pod).
    typealias Target = (namespace: String, name: String, uid: String?)

    /// Polls until every target is gone (404, or replaced by a pod with another uid).
    /// `timeout` nil waits as long as it takes.
    static func waitUntilGone(_ targets: [Target], client: APIClient, context: CommandContext, timeout: Double?) async throws {
        try await waitUntilGone(Pod.self, targets, client: client, context: context, timeout: timeout)
    }

    /// The same for objects of any kind (a namespace stays until what it held is gone).
    static func waitUntilGone<T: KubernetesResource>(_ type: T.Type, _ targets: [Target], client: APIClient, context: CommandContext, timeout: Double?) async throws {
        var pending = targets
        let deadline = timeout.map { ContinuousClock.now + .seconds($0) }
        while !pending.isEmpty {
            var still: [Target] = []
            for target in pending {
                do {
                    let object = try await client.get(T.self, T.path(namespace: target.namespace, name: target.name))
                    if let uid = target.uid, !uid.isEmpty, object.metadata.uid != uid { continue }
                    still.append(target)
                } catch let error as APIError where error.isNotFound {
                    continue
                }
            }
            pending = still
            guard !pending.isEmpty else { return }
            if let deadline, ContinuousClock.now >= deadline {
                throw CLIError("timed out waiting for the condition on \(T.resource)/\(pending[0].name)")
            }
            try await context.pause()
        }
    }
}
