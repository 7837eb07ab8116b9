import Foundation
import Hummingbird
import PodNet

/// `PATCH` on an object (`kubectl apply`, `edit`, `label`, `patch`): the object is read, the
/// patch applied to its JSON — strategic merge, JSON merge or JSON patch, by `Content-Type` —
/// and the result goes through the kind's own update, with all its checks. An update that
/// loses a race with another writer (409) is tried again on the newer object, as
/// kube-apiserver does for patches.
enum PatchRoutes {
    typealias Get = @Sendable (_ context: BasicRequestContext) async throws -> Data
    typealias Replace = @Sendable (_ context: BasicRequestContext, _ body: Data, _ dryRun: Bool) async throws -> Data

    static func register(on router: Router<BasicRequestContext>, item: String, get: @escaping Get, replace: @escaping Replace) {
        router.patch(RouterPath(stringLiteral: item)) { request, context in
            try await APIServer.handle {
                let dryRun = try DryRun.isRequested(request.uri.queryParameters.getAll("dryRun"), options: .update)
                let type = try patchType(request.headers[.contentType])
                let body = try await APIServer.requestBody(request)
                let patch: JSONValue
                do { patch = try JSONReader.value(from: String(buffer: body)) } catch {
                    throw APIStatus.badRequest("error decoding patch: \(error)")
                }
                var attempts = 0
                while true {
                    attempts += 1
                    let current = try JSONReader.value(from: String(decoding: try await get(context), as: UTF8.self))
                    let patched: JSONValue
                    do { patched = try type.apply(patch, to: current) } catch let error as PatchError { throw error.status }
                    do {
                        return APIServer.json(try await replace(context, Data(patched.jsonText(indent: 0).utf8), dryRun))
                    } catch let status as APIStatus where status.code == 409 && attempts < 5
                        && patched["metadata"]?["resourceVersion"] == current["metadata"]?["resourceVersion"] {
                        continue
                    }
                }
            }
        }
    }

    /// The patch type a `Content-Type` names; any other is kube-apiserver's 415.
    static func patchType(_ contentType: String?) throws -> PatchType {
        guard let contentType, let type = PatchType(contentType: contentType) else {
            throw APIStatus(message: "the body of the request was in an unknown format - accepted media types include: "
                                + "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, "
                                + "application/strategic-merge-patch+json",
                            reason: StatusReason(rawValue: "UnsupportedMediaType"), code: 415)
        }
        return type
    }
}
