import Foundation
import Hummingbird
import PodNet

/// The `scale` subresource of Deployments and ReplicaSets (`kubectl scale`): GET answers the
/// object's `autoscaling/v1 Scale`; PUT and PATCH change `spec.replicas` through the kind's
/// own update, with all its checks.
enum ScaleRoutes {
    /// The kinds with a `scale` subresource.
    static let resources: Set<String> = ["deployments", "replicasets"]

    static func register(on router: Router<BasicRequestContext>, prefix: String, resource: String, handlers: ResourceHandlers) {
        guard resources.contains(resource), let replace = handlers.replace else { return }
        let path = "\(prefix)/namespaces/:namespace/\(resource)/:name/scale"
        @Sendable func current(_ context: BasicRequestContext) async throws -> JSONValue {
            let data = try await handlers.get(try context.parameters.require("namespace"), try context.parameters.require("name"))
            return try JSONReader.value(from: String(decoding: data, as: UTF8.self))
        }
        @Sendable func update(_ context: BasicRequestContext, scale: JSONValue, dryRun: Bool) async throws -> Response {
            let object = try Scale.apply(scale, to: try await current(context))
            let stored = try await replace(try context.parameters.require("namespace"), try context.parameters.require("name"),
                                           Data(object.jsonText(indent: 0).utf8), dryRun)
            return APIServer.json(Data(Scale.of(try JSONReader.value(from: String(decoding: stored, as: UTF8.self))).jsonText(indent: 0).utf8))
        }
        router.get(RouterPath(stringLiteral: path)) { _, context in
            try await APIServer.handle { APIServer.json(Data(Scale.of(try await current(context)).jsonText(indent: 0).utf8)) }
        }
        router.put(RouterPath(stringLiteral: path)) { request, context in
            try await APIServer.handle {
                let dryRun = try DryRun.isRequested(request.uri.queryParameters.getAll("dryRun"), options: .update)
                let body = try await APIServer.requestBody(request)
                let scale: JSONValue
                do { scale = try JSONReader.value(from: String(buffer: body)) } catch { throw APIStatus.badRequest("\(error)") }
                return try await update(context, scale: scale, dryRun: dryRun)
            }
        }
        router.patch(RouterPath(stringLiteral: path)) { request, context in
            try await APIServer.handle {
                let dryRun = try DryRun.isRequested(request.uri.queryParameters.getAll("dryRun"), options: .update)
                let type = try PatchRoutes.patchType(request.headers[.contentType])
                let body = try await APIServer.requestBody(request)
                let patch: JSONValue
                do { patch = try JSONReader.value(from: String(buffer: body)) } catch { throw APIStatus.badRequest("error decoding patch: \(error)") }
                let scale: JSONValue
                do { scale = try type.apply(patch, to: Scale.of(try await current(context))) } catch let error as PatchError { throw error.status }
                return try await update(context, scale: scale, dryRun: dryRun)
            }
        }
    }
}
