import Foundation
import PodNet

/// Read, change, write back: the update every workload verb makes, retried when the object
/// changed in between (409), as kubectl's commands retry.
enum WorkloadUpdate {
    static func update<T: KubernetesResource>(_ type: T.Type, namespace: String, name: String, client: APIClient,
                                              _ change: (inout T) throws -> Void) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            var object = try await client.get(T.self, T.path(namespace: namespace, name: name))
            try change(&object)
            do {
                return try await client.send(.PUT, T.path(namespace: namespace, name: name), json: Data(object.json.jsonText(indent: 0).utf8), as: T.self)
            } catch let APIError.status(status) where status.reason == .conflict && attempt < 5 {
                continue
            }
        }
    }

    /// The ReplicaSets a Deployment controls.
    static func replicaSets(of deployment: Deployment, client: APIClient) async throws -> [ReplicaSet] {
        try await client.get(ReplicaSetList.self, ReplicaSet.collectionPath(namespace: deployment.metadata.namespace)).items
            .filter { ReplicaSetScaling.controllerUID(of: $0.metadata) == deployment.metadata.uid }
    }
}
