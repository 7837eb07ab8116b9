import Foundation
import PodNet

/// Route objects (`podlab.dev/v1`, `MeshRoute` in Swift): stored and served like MeshPolicies,
/// to the API's clients and, read-only, to the sidecars on the mesh socket. The agent decides
/// nothing with them: each client's sidecar follows them by watch and shapes its own requests.
extension Controller {
    func loadMeshRoutes() throws {
        meshRoutes = Dictionary(uniqueKeysWithValues: try loadStored(MeshRoute.self).map { (objectKey($0), $0) })
    }

    func meshRoute(_ namespace: String, _ name: String) throws -> MeshRoute {
        guard let route = meshRoutes["\(namespace)/\(name)"] else {
            throw APIStatus.notFound(resource: MeshRoute.qualifiedResource, name: name)
        }
        return route
    }

    /// Creates a route: decoded strictly and validated; a dry run answers it as it would be
    /// stored and changes nothing.
    func createMeshRoute(namespace: String, body: Data, dryRun: Bool) throws -> Data {
        try requireReady()
        var route = try Controller.decodeObject(body, as: MeshRoute.self)
        if route.metadata.namespace.isEmpty { route.metadata.namespace = namespace }
        guard route.metadata.namespace == namespace else {
            throw APIStatus.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        route = route.applyingDefaults(namespace: namespace)
        do { try route.validated() } catch { throw Controller.invalidMeshRoute(error) }
        try requireNamespace(namespace, resource: MeshRoute.qualifiedResource, name: route.metadata.name)
        guard meshRoutes[objectKey(route)] == nil else {
            throw APIStatus.alreadyExists(resource: MeshRoute.qualifiedResource, name: route.metadata.name)
        }
        var stamped = Controller.stamped(route)
        stamped.metadata.generation = 1
        if dryRun { return Data(stamped.json.jsonText(indent: 0).utf8) }
        route = try persist(stamped, .added)
        meshRoutes[objectKey(route)] = route
        return Data(route.json.jsonText(indent: 0).utf8)
    }

    /// Replaces a route; a changed spec is a new generation.
    func replaceMeshRoute(namespace: String, name: String, body: Data, dryRun: Bool) throws -> Data {
        try requireReady()
        let old = try meshRoute(namespace, name)
        var new = try Controller.decodeObject(body, as: MeshRoute.self)
        if new.metadata.namespace.isEmpty { new.metadata.namespace = namespace }
        guard new.metadata.name == name, new.metadata.namespace == namespace else {
            throw APIStatus.badRequest("the name of the object (\(new.metadata.name)) does not match the name on the URL (\(name))")
        }
        if !new.metadata.resourceVersion.isEmpty, new.metadata.resourceVersion != old.metadata.resourceVersion {
            throw APIStatus.conflict(resource: MeshRoute.qualifiedResource, name: name)
        }
        new.metadata.uid = old.metadata.uid
        new.metadata.creationTimestamp = old.metadata.creationTimestamp
        new = new.applyingDefaults(namespace: namespace)
        new.metadata.generation = (old.metadata.generation ?? 1) + (new.spec == old.spec ? 0 : 1)
        do { try new.validated() } catch { throw Controller.invalidMeshRoute(error) }
        if dryRun {
            new.metadata.resourceVersion = old.metadata.resourceVersion
            return Data(new.json.jsonText(indent: 0).utf8)
        }
        new = try persist(new, .modified)
        meshRoutes[objectKey(new)] = new
        return Data(new.json.jsonText(indent: 0).utf8)
    }

    func deleteMeshRoute(namespace: String, name: String, dryRun: Bool) throws -> Data {
        let route = try meshRoute(namespace, name)
        if !dryRun {
            try removeStored(route)
            meshRoutes.removeValue(forKey: objectKey(route))
        }
        return Data(route.json.jsonText(indent: 0).utf8)
    }

    /// The routes of a namespace being deleted go with it.
    func removeMeshRoutes(in namespace: String) throws {
        for route in meshRoutes.values where route.metadata.namespace == namespace {
            _ = try deleteMeshRoute(namespace: namespace, name: route.metadata.name, dryRun: false)
        }
    }

    /// `Route.podlab.dev "x" is invalid: …`, as the API server names a grouped kind.
    static func invalidMeshRoute(_ error: InvalidObjectError) -> APIStatus {
        APIStatus.invalid(kind: error.kind, group: "podlab.dev", name: error.name, errors: error.errors)
    }

    /// The routes of `/apis/podlab.dev/v1/.../meshroutes`.
    nonisolated func meshRouteResources() -> [(prefix: String, resource: String, namespaced: Bool, handlers: ResourceHandlers)] {
        let handlers = ResourceHandlers(
            list: { namespace, options in try await self.listMeshRoutes(namespace: namespace, options: options) },
            watch: { namespace, options in try await self.watchMeshRoutes(namespace: namespace, options: options) },
            get: { namespace, name in Data(try await self.meshRoute(namespace ?? "default", name).json.jsonText(indent: 0).utf8) },
            create: { namespace, body, dryRun in try await self.createMeshRoute(namespace: namespace ?? "default", body: body, dryRun: dryRun) },
            replace: { namespace, name, body, dryRun in
                try await self.replaceMeshRoute(namespace: namespace ?? "default", name: name, body: body, dryRun: dryRun)
            },
            delete: { namespace, name, dryRun in try await self.deleteMeshRoute(namespace: namespace ?? "default", name: name, dryRun: dryRun) })
        return [(MeshRoute.apiPrefix, MeshRoute.resource, true, handlers)]
    }

    func listMeshRoutes(namespace: String?, options: ListOptions) throws -> Data {
        try listData(try filtered(meshRoutes.values, namespace: namespace, selector: options.labelSelector))
    }

    func watchMeshRoutes(namespace: String?, options: ListOptions) throws -> WatchLines {
        try watchStream(MeshRoute.self, namespace: namespace, options: options,
                        current: filtered(meshRoutes.values, namespace: namespace, selector: options.labelSelector))
    }
}
