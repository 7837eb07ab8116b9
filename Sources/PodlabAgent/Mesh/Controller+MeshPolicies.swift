import Foundation
import PodNet

/// MeshPolicy objects (`podlab.dev/v1`): stored and served like NetworkPolicies, to the API's
/// clients and, read-only, to the sidecars on the mesh socket. The agent decides nothing with
/// them: each sidecar follows them by watch and decides for the requests it receives.
extension Controller {
    func loadMeshPolicies() throws {
        meshPolicies = Dictionary(uniqueKeysWithValues: try loadStored(MeshPolicy.self).map { (objectKey($0), $0) })
    }

    func meshPolicy(_ namespace: String, _ name: String) throws -> MeshPolicy {
        guard let policy = meshPolicies["\(namespace)/\(name)"] else {
            throw APIStatus.notFound(resource: MeshPolicy.qualifiedResource, name: name)
        }
        return policy
    }

    /// Creates a policy: decoded strictly and validated; a dry run answers it as it would be
    /// stored and changes nothing.
    func createMeshPolicy(namespace: String, body: Data, dryRun: Bool) throws -> Data {
        try requireReady()
        var policy = try Controller.decodeObject(body, as: MeshPolicy.self)
        if policy.metadata.namespace.isEmpty { policy.metadata.namespace = namespace }
        guard policy.metadata.namespace == namespace else {
            throw APIStatus.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        policy = policy.applyingDefaults(namespace: namespace)
        do { try policy.validated() } catch { throw Controller.invalidMeshPolicy(error) }
        try requireNamespace(namespace, resource: MeshPolicy.qualifiedResource, name: policy.metadata.name)
        guard meshPolicies[objectKey(policy)] == nil else {
            throw APIStatus.alreadyExists(resource: MeshPolicy.qualifiedResource, name: policy.metadata.name)
        }
        var stamped = Controller.stamped(policy)
        stamped.metadata.generation = 1
        if dryRun { return Data(stamped.json.jsonText(indent: 0).utf8) }
        policy = try persist(stamped, .added)
        meshPolicies[objectKey(policy)] = policy
        return Data(policy.json.jsonText(indent: 0).utf8)
    }

    /// Replaces a policy; a changed spec is a new generation.
    func replaceMeshPolicy(namespace: String, name: String, body: Data, dryRun: Bool) throws -> Data {
        try requireReady()
        let old = try meshPolicy(namespace, name)
        var new = try Controller.decodeObject(body, as: MeshPolicy.self)
        if new.metadata.namespace.isEmpty { new.metadata.namespace = namespace }
        guard new.metadata.name == name, new.metadata.namespace == namespace else {
            throw APIStatus.badRequest("the name of the object (\(new.metadata.name)) does not match the name on the URL (\(name))")
        }
        if !new.metadata.resourceVersion.isEmpty, new.metadata.resourceVersion != old.metadata.resourceVersion {
            throw APIStatus.conflict(resource: MeshPolicy.qualifiedResource, name: name)
        }
        new.metadata.uid = old.metadata.uid
        new.metadata.creationTimestamp = old.metadata.creationTimestamp
        new = new.applyingDefaults(namespace: namespace)
        new.metadata.generation = (old.metadata.generation ?? 1) + (new.spec == old.spec ? 0 : 1)
        do { try new.validated() } catch { throw Controller.invalidMeshPolicy(error) }
        if dryRun {
            new.metadata.resourceVersion = old.metadata.resourceVersion
            return Data(new.json.jsonText(indent: 0).utf8)
        }
        new = try persist(new, .modified)
        meshPolicies[objectKey(new)] = new
        return Data(new.json.jsonText(indent: 0).utf8)
    }

    func deleteMeshPolicy(namespace: String, name: String, dryRun: Bool) throws -> Data {
        let policy = try meshPolicy(namespace, name)
        if !dryRun {
            try removeStored(policy)
            meshPolicies.removeValue(forKey: objectKey(policy))
        }
        return Data(policy.json.jsonText(indent: 0).utf8)
    }

    /// The policies of a namespace being deleted go with it.
    func removeMeshPolicies(in namespace: String) throws {
        for policy in meshPolicies.values where policy.metadata.namespace == namespace {
            _ = try deleteMeshPolicy(namespace: namespace, name: policy.metadata.name, dryRun: false)
        }
    }

    /// `MeshPolicy.podlab.dev "x" is invalid: …`, as the API server names a grouped kind.
    static func invalidMeshPolicy(_ error: InvalidObjectError) -> APIStatus {
        APIStatus.invalid(kind: error.kind, group: "podlab.dev", name: error.name, errors: error.errors)
    }

    /// The routes of `/apis/podlab.dev/v1/.../meshpolicies`.
    nonisolated func meshPolicyResources() -> [(prefix: String, resource: String, namespaced: Bool, handlers: ResourceHandlers)] {
        let handlers = ResourceHandlers(
            list: { namespace, options in try await self.listMeshPolicies(namespace: namespace, options: options) },
            watch: { namespace, options in try await self.watchMeshPolicies(namespace: namespace, options: options) },
            get: { namespace, name in Data(try await self.meshPolicy(namespace ?? "default", name).json.jsonText(indent: 0).utf8) },
            create: { namespace, body, dryRun in try await self.createMeshPolicy(namespace: namespace ?? "default", body: body, dryRun: dryRun) },
            replace: { namespace, name, body, dryRun in
                try await self.replaceMeshPolicy(namespace: namespace ?? "default", name: name, body: body, dryRun: dryRun)
            },
            delete: { namespace, name, dryRun in try await self.deleteMeshPolicy(namespace: namespace ?? "default", name: name, dryRun: dryRun) })
        return [(MeshPolicy.apiPrefix, MeshPolicy.resource, true, handlers)]
    }

    func listMeshPolicies(namespace: String?, options: ListOptions) throws -> Data {
        try listData(try filtered(meshPolicies.values, namespace: namespace, selector: options.labelSelector))
    }

    func watchMeshPolicies(namespace: String?, options: ListOptions) throws -> WatchLines {
        try watchStream(MeshPolicy.self, namespace: namespace, options: options,
                        current: filtered(meshPolicies.values, namespace: namespace, selector: options.labelSelector))
    }
}
