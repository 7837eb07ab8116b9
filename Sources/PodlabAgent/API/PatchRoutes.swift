import Foundation
import Hummingbird
import PodNet

/// `PATCH` on an object (`kubectl apply`, `edit`, `label`, `patch`): the object is read, the
/// patch applied to its JSON — strategic merge, JSON merge or JSON patch, by `Content-Type` —
/// and the result goes through the kind's own update, with all its checks. An update that
/// loses a race with another writer (409) is tried again on the newer object, as
/// kube-apiserver does for patches. Server-side apply (`application/apply-patch+yaml`) merges
/// the applied configuration by field ownership (`ManagedFields.apply`) and creates the
/// object when there is none.
enum PatchRoutes {
    typealias Get = @Sendable (_ context: BasicRequestContext) async throws -> Data
    typealias Replace = @Sendable (_ context: BasicRequestContext, _ body: Data, _ dryRun: Bool) async throws -> Data
    typealias Create = @Sendable (_ context: BasicRequestContext, _ body: Data, _ dryRun: Bool) async throws -> Data

    static func register(on router: Router<BasicRequestContext>, item: String, get: @escaping Get, replace: @escaping Replace, create: Create? = nil) {
        router.patch(RouterPath(stringLiteral: item)) { request, context in
            try await APIServer.handle {
                let dryRun = try DryRun.isRequested(request.uri.queryParameters.getAll("dryRun"), options: .update)
                let type = try patchType(request.headers[.contentType])
                let body = try await APIServer.requestBody(request)
                if type == .apply {
                    return try await serverSideApply(request: request, body: String(buffer: body), dryRun: dryRun, context: context,
                                                     get: get, replace: replace, create: create)
                }
                if request.uri.queryParameters["force"] != nil {
                    throw APIStatus(message: "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch",
                                    reason: .invalid,
                                    details: APIStatus.Details(group: "meta.k8s.io", kind: "PatchOptions", causes: [
                                        APIStatus.Cause(reason: "FieldValueForbidden", message: "Forbidden: may not be specified for non-apply patch", field: "force"),
                                    ]), code: 422)
                }
                let manager = try FieldManagers.manager(of: request)
                let patch: JSONValue
                do { patch = try JSONReader.value(from: String(buffer: body)) } catch {
                    throw APIStatus.badRequest("error decoding patch: \(error)")
                }
                var attempts = 0
                while true {
                    attempts += 1
                    let stored = try await get(context)
                    let current = try JSONReader.value(from: String(decoding: stored, as: UTF8.self))
                    var patched: JSONValue
                    do { patched = try type.apply(patch, to: current) } catch let error as PatchError { throw error.status }
                    patched = FieldManagers.recordUpdate(from: current, to: patched, manager: manager)
                    // A patch that changes nothing is not written: the object and its resourceVersion stay.
                    if UnchangedWrite.isUnchanged(stored: current, written: patched) { return APIServer.json(stored) }
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

    /// `kubectl apply --server-side`: `fieldManager` is required, `force=true` takes over
    /// conflicting fields; a missing object is created from the configuration.
    static func serverSideApply(request: Request, body: String, dryRun: Bool, context: BasicRequestContext,
                                get: Get, replace: Replace, create: Create?) async throws -> Response {
        let query = request.uri.queryParameters
        guard let manager = query["fieldManager"].map(String.init), !manager.isEmpty else {
            throw APIStatus(message: "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                            reason: .invalid,
                            details: APIStatus.Details(group: "meta.k8s.io", kind: "PatchOptions", causes: [
                                APIStatus.Cause(reason: "FieldValueRequired", message: "Required value: is required for apply patch", field: "fieldManager"),
                            ]), code: 422)
        }
        try FieldManagers.validate(manager)
        let force = query["force"].map { $0 == "true" || $0 == "1" } ?? false
        let configuration: JSONValue
        do { configuration = try YAMLReader.value(from: body) } catch {
            throw APIStatus.badRequest("error decoding YAML: \(error)")
        }
        guard case .object = configuration else { throw APIStatus.badRequest("error decoding YAML: the applied configuration must be an object") }
        if configuration["metadata"]?["managedFields"] != nil {
            throw APIStatus(message: "metadata.managedFields must be nil", reason: .badRequest, code: 400)
        }
        var attempts = 0
        while true {
            attempts += 1
            let live: JSONValue?
            do {
                live = try JSONReader.value(from: String(decoding: try await get(context), as: UTF8.self))
            } catch let status as APIStatus where status.code == 404 && create != nil {
                live = nil
            }
            let applied: JSONValue
            do {
                applied = try ManagedFields.apply(configuration, to: live, manager: manager, force: force, time: .now())
            } catch {
                throw error.status
            }
            if let live, UnchangedWrite.isUnchanged(stored: live, written: applied) {
                return APIServer.json(Data(live.jsonText(indent: 0).utf8))
            }
            let data = Data(applied.jsonText(indent: 0).utf8)
            do {
                if live == nil, let create { return APIServer.json(try await create(context, data, dryRun), status: .created) }
                return APIServer.json(try await replace(context, data, dryRun))
            } catch let status as APIStatus where (status.code == 409 || status.code == 404) && attempts < 5 {
                continue
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

/// Who writes: the `fieldManager` query parameter, or the client's `User-Agent`; and the
/// `managedFields` each create, update and patch leaves on the object it stores.
enum FieldManagers {
    static func manager(of request: Request) throws -> String {
        if let given = request.uri.queryParameters["fieldManager"].map(String.init), !given.isEmpty {
            try validate(given)
            return given
        }
        return ManagedFields.defaultManager(userAgent: request.headers[.userAgent])
    }

    /// kube-apiserver's limit on a manager's name.
    static func validate(_ manager: String) throws {
        guard manager.count <= 128 else {
            throw APIStatus(message: "fieldManager: Invalid value: \"\(manager)\": must be no more than 128 characters",
                            reason: .invalid, code: 422)
        }
    }

    /// `new` with its `managedFields` after `manager` wrote it over `old` (nil: created).
    static func recordUpdate(from old: JSONValue?, to new: JSONValue, manager: String) -> JSONValue {
        guard case .object = new else { return new }
        let apiVersion = new["apiVersion"]?.stringValue ?? old?["apiVersion"]?.stringValue ?? ""
        return ManagedFields.recordUpdate(from: old, to: new, manager: manager, apiVersion: apiVersion, time: .now())
    }

    /// The stored object when a PUT body (its managed fields recorded) changes nothing in it:
    /// such an update is not written.
    static func unchanged(body: Data, current: Data?) -> Data? {
        guard let current, let stored = try? JSONReader.value(from: String(decoding: current, as: UTF8.self)),
              let written = try? JSONReader.value(from: String(decoding: body, as: UTF8.self)),
              UnchangedWrite.isUnchanged(stored: stored, written: written) else { return nil }
        return current
    }

    /// A create or PUT body with its `managedFields`; a body that is not a JSON object is
    /// passed on as it is, for the kind's own decoding to refuse.
    static func record(body: Data, old: Data?, request: Request) throws -> Data {
        let manager = try manager(of: request)
        guard let new = try? JSONReader.value(from: String(decoding: body, as: UTF8.self)), case .object = new else { return body }
        let previous = old.flatMap { try? JSONReader.value(from: String(decoding: $0, as: UTF8.self)) }
        return Data(recordUpdate(from: previous, to: new, manager: manager).jsonText(indent: 0).utf8)
    }
}
