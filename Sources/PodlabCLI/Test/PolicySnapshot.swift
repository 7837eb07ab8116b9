import PodNet

extension PolicyExpectations {
    /// Reads the lab's NetworkPolicies and namespaces into the snapshot `podlab test` models.
    static func load(into snapshot: inout LabSnapshot, client: APIClient) async throws {
        snapshot.networkPolicies = try await client.get(ObjectList<NetworkPolicy>.self, NetworkPolicy.collectionPath(namespace: nil)).items
        let namespaces = try await client.get(ObjectList<Namespace>.self, Namespace.collectionPath(namespace: nil)).items
        snapshot.namespaceLabels = Dictionary(namespaces.map { ($0.metadata.name, $0.metadata.labels) }) { a, _ in a }
    }
}
