import Foundation
import Hummingbird
import PodNet

/// What the API needs for one resource type besides pods: list (and watch), get, and where
/// the type allows them create, replace and delete. Namespaced handlers get the namespace
/// (nil when listing across all); cluster-scoped ones get nil.
public struct ResourceHandlers: Sendable {
    public var list: @Sendable (_ namespace: String?, ListOptions) async throws -> Data
    public var watch: @Sendable (_ namespace: String?, ListOptions) async throws -> WatchLines
    public var get: @Sendable (_ namespace: String?, _ name: String) async throws -> Data
    public var create: (@Sendable (_ namespace: String?, Data, _ dryRun: Bool) async throws -> Data)?
    public var replace: (@Sendable (_ namespace: String?, _ name: String, Data, _ dryRun: Bool) async throws -> Data)?
    public var delete: (@Sendable (_ namespace: String?, _ name: String, _ dryRun: Bool) async throws -> Data)?
}

/// The REST routes of a resource, as the API server lays them out:
/// `/api/v1/services`, `/api/v1/namespaces/{ns}/services[/{name}]`, and
/// `/apis/{group}/{version}/...` for grouped types; cluster-scoped types have no namespace part.
enum ObjectRoutes {
    static func register(on router: Router<BasicRequestContext>, prefix: String, resource: String, namespaced: Bool, handlers: ResourceHandlers) {
        let collection = namespaced ? "\(prefix)/namespaces/:namespace/\(resource)" : "\(prefix)/\(resource)"
        // Cluster-scoped objects are addressed as `/api/v1/namespaces/{name}`: the same
        // parameter name as the namespaced routes below it, so the router sees one tree.
        let item = namespaced ? "\(collection)/:name" : "\(prefix)/\(resource)/:namespace"
        @Sendable func name(_ context: BasicRequestContext) throws -> String {
            try context.parameters.require(namespaced ? "name" : "namespace")
        }
        @Sendable func namespace(_ context: BasicRequestContext) throws -> String? {
            namespaced ? try context.parameters.require("namespace") : nil
        }
        @Sendable func list(_ request: Request, _ namespace: String?) async throws -> Response {
            let options = APIServer.listOptions(request)
            if options.watch { return APIServer.stream(try await handlers.watch(namespace, options)) }
            return APIServer.json(try await handlers.list(namespace, options))
        }
        if namespaced {
            router.get("\(prefix)/\(resource)") { request, _ in try await APIServer.handle { try await list(request, nil) } }
        }
        router.get(RouterPath(stringLiteral: collection)) { request, context in
            try await APIServer.handle { try await list(request, try namespace(context)) }
        }
        router.get(RouterPath(stringLiteral: item)) { _, context in
            try await APIServer.handle { APIServer.json(try await handlers.get(try namespace(context), try name(context))) }
        }
        if let create = handlers.create {
            router.post(RouterPath(stringLiteral: collection)) { request, context in
                try await APIServer.handle {
                    let dryRun = try DryRun.isRequested(request.uri.queryParameters.getAll("dryRun"), options: .create)
                    let body = try FieldManagers.record(body: Data(buffer: try await APIServer.requestBody(request)), old: nil, request: request)
                    return APIServer.json(try await create(try namespace(context), body, dryRun), status: .created)
                }
            }
        }
        if let replace = handlers.replace {
            router.put(RouterPath(stringLiteral: item)) { request, context in
                try await APIServer.handle {
                    let dryRun = try DryRun.isRequested(request.uri.queryParameters.getAll("dryRun"), options: .update)
                    let received = Data(buffer: try await APIServer.requestBody(request))
                    let current = try? await handlers.get(try namespace(context), try name(context))
                    let body = try FieldManagers.record(body: received, old: current, request: request)
                    if let stored = FieldManagers.unchanged(body: body, current: current) { return APIServer.json(stored) }
                    return APIServer.json(try await replace(try namespace(context), try name(context), body, dryRun))
                }
            }
            var applyCreates: PatchRoutes.Create? = nil
            if let create = handlers.create {
                applyCreates = { context, body, dryRun in try await create(try namespace(context), body, dryRun) }
            }
            PatchRoutes.register(on: router, item: item, get: { context in try await handlers.get(try namespace(context), try name(context)) },
                                 replace: { context, body, dryRun in try await replace(try namespace(context), try name(context), body, dryRun) },
                                 create: applyCreates)
        }
        if let delete = handlers.delete {
            router.delete(RouterPath(stringLiteral: item)) { request, context in
                try await APIServer.handle {
                    let options = try await APIServer.deleteOptions(request)
                    let dryRun = try DryRun.isRequested(request.uri.queryParameters.getAll("dryRun") + (options["dryRun"] as? [String] ?? []), options: .delete)
                    return APIServer.json(try await delete(try namespace(context), try name(context), dryRun))
                }
            }
        }
    }
}
