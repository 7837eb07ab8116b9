import Foundation
import Hummingbird
import Logging
import NIOCore
import PodNet

/// Query options of a list, get or watch request.
public struct ListOptions: Sendable {
    public var labelSelector: String?
    public var watch: Bool
    public var resourceVersion: String?
    /// A watch may get `BOOKMARK` events.
    public var allowWatchBookmarks = false
    /// A watch starts with the current objects, then a bookmark that says they are all sent
    /// (client-go's streaming list).
    public var sendInitialEvents: Bool? = nil
    public var resourceVersionMatch: String? = nil
    /// A watch ends after this many seconds (kube-apiserver's `timeoutSeconds`).
    public var timeoutSeconds: Int? = nil
}

/// Options of a log request (`/pods/{name}/log`).
public struct LogOptions: Sendable {
    public var container: String?
    public var follow: Bool
    public var previous: Bool
    public var tailLines: Int?
    /// `sinceSeconds`/`sinceTime` and `timestamps`.
    public var times = PodLogTimeOptions()
}

/// What the HTTP layer needs from the control plane. Bodies are Kubernetes JSON.
public protocol APIBackend: Sendable {
    func listPods(namespace: String?, options: ListOptions) async throws -> Data
    func watchPods(namespace: String?, options: ListOptions) async throws -> WatchLines
    func getPod(namespace: String, name: String) async throws -> Data
    /// With `dryRun`, every check runs and the answer is what would be stored, but nothing changes.
    func createPod(namespace: String, body: Data, dryRun: Bool) async throws -> Data
    func replacePod(namespace: String, name: String, body: Data, dryRun: Bool) async throws -> Data
    func deletePod(namespace: String, name: String, gracePeriodSeconds: Int?, dryRun: Bool) async throws -> Data
    func podLog(namespace: String, name: String, options: LogOptions) async throws -> AsyncThrowingStream<Data, any Error>
    func podSandbox(namespace: String, name: String) async throws -> Data
    func listNodes(options: ListOptions) async throws -> Data
    func getNode(name: String) async throws -> Data
    func labStatus() async throws -> Data
    func deleteLab() async throws -> Data
    func metrics() async throws -> Data
    /// Events, by namespace (nil: all) and a field selector on the involved object.
    func listEvents(namespace: String?, fieldSelector: String?) async throws -> Data
    /// The service account issuer's public keys (JWKS) and its OpenID discovery document.
    func serviceAccountIssuerDocuments() async -> (jwks: Data, openIDConfiguration: Data)?
}

extension APIBackend {
    /// A backend without a service account issuer serves no keys.
    public func serviceAccountIssuerDocuments() async -> (jwks: Data, openIDConfiguration: Data)? { nil }

    /// A backend without events lists none.
    public func listEvents(namespace: String?, fieldSelector: String?) async throws -> Data {
        Data(EventList(items: []).json.jsonText(indent: 0).utf8)
    }
}

/// The agent's Kubernetes-shaped HTTP API (see design.md "Control plane and API").
public enum APIServer {
    public static let version = """
        {"major":"1","minor":"31","gitVersion":"v1.31.0-podlab","platform":"linux/amd64"}
        """

    /// Builds the router for `backend`; with `credentials`, every request must carry the lab's
    /// bearer token (the HTTPS listener; the unix socket is guarded by its file mode).
    /// With `meshToken`, the router is the mesh's (`MeshAPIListener`): that token, and reads of
    /// Services and EndpointSlices only.
    public static func router(backend: any APIBackend, credentials: ClusterCredentials? = nil, meshToken: String? = nil) -> Router<BasicRequestContext> {
        let router = Router()
        if let credentials { router.add(middleware: BearerTokenAuthentication(credentials: credentials)) }
        if let meshToken { router.add(middleware: MeshReadOnly(token: meshToken)) }
        router.add(middleware: CredentialHeaders(values: .shared))
        router.add(middleware: StatusErrors())
        router.add(middleware: ListPresentation())
        DiscoveryRoutes.register(on: router)
        router.get("/version") { _, _ in json(Data(version.utf8)) }
        router.get("/healthz") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok"))) }
        router.get("/readyz") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok"))) }
        // Service account token verification, as kube-apiserver serves it (ServiceAccountIssuerDiscovery).
        router.get("/openid/v1/jwks") { _, _ in
            guard let documents = await backend.serviceAccountIssuerDocuments() else { return Response(status: .notFound) }
            return Response(status: .ok, headers: [.contentType: "application/jwk-set+json"], body: .init(byteBuffer: ByteBuffer(bytes: documents.jwks)))
        }
        router.get("/.well-known/openid-configuration") { _, _ in
            guard let documents = await backend.serviceAccountIssuerDocuments() else { return Response(status: .notFound) }
            return json(documents.openIDConfiguration)
        }

        router.get("/api/v1/pods") { request, _ in
            try await handle {
                let options = listOptions(request)
                if options.watch { return stream(try await backend.watchPods(namespace: nil, options: options)) }
                return json(try await backend.listPods(namespace: nil, options: options))
            }
        }
        router.get("/api/v1/namespaces/:namespace/pods") { request, context in
            try await handle {
                let namespace = try context.parameters.require("namespace")
                let options = listOptions(request)
                if options.watch { return stream(try await backend.watchPods(namespace: namespace, options: options)) }
                return json(try await backend.listPods(namespace: namespace, options: options))
            }
        }
        router.post("/api/v1/namespaces/:namespace/pods") { request, context in
            try await handle {
                let dryRun = try DryRun.isRequested(request.uri.queryParameters.getAll("dryRun"), options: .create)
                let body = try FieldManagers.record(body: Data(buffer: try await requestBody(request)), old: nil, request: request)
                return json(try await backend.createPod(namespace: try context.parameters.require("namespace"), body: body, dryRun: dryRun),
                            status: .created)
            }
        }
        router.get("/api/v1/namespaces/:namespace/pods/:name") { _, context in
            try await handle {
                json(try await backend.getPod(namespace: try context.parameters.require("namespace"), name: try context.parameters.require("name")))
            }
        }
        router.put("/api/v1/namespaces/:namespace/pods/:name") { request, context in
            try await handle {
                let dryRun = try DryRun.isRequested(request.uri.queryParameters.getAll("dryRun"), options: .update)
                let received = Data(buffer: try await requestBody(request))
                let namespace = try context.parameters.require("namespace"), name = try context.parameters.require("name")
                let current = try? await backend.getPod(namespace: namespace, name: name)
                let body = try FieldManagers.record(body: received, old: current, request: request)
                if let stored = FieldManagers.unchanged(body: body, current: current) { return json(stored) }
                return json(try await backend.replacePod(namespace: namespace, name: name, body: body, dryRun: dryRun))
            }
        }
        PatchRoutes.register(on: router, item: "/api/v1/namespaces/:namespace/pods/:name",
                             get: { context in try await backend.getPod(namespace: try context.parameters.require("namespace"), name: try context.parameters.require("name")) },
                             replace: { context, body, dryRun in
                                 try await backend.replacePod(namespace: try context.parameters.require("namespace"),
                                                              name: try context.parameters.require("name"), body: body, dryRun: dryRun)
                             },
                             create: { context, body, dryRun in
                                 try await backend.createPod(namespace: try context.parameters.require("namespace"), body: body, dryRun: dryRun)
                             })
        router.delete("/api/v1/namespaces/:namespace/pods/:name") { request, context in
            try await handle {
                // Options come as query parameters or as a DeleteOptions body (client-go sends one).
                let options = try await deleteOptions(request)
                let query = request.uri.queryParameters
                let grace = query["gracePeriodSeconds"].flatMap { Int(String($0)) } ?? options["gracePeriodSeconds"] as? Int
                let dryRun = try DryRun.isRequested(query.getAll("dryRun") + (options["dryRun"] as? [String] ?? []), options: .delete)
                return json(try await backend.deletePod(namespace: try context.parameters.require("namespace"),
                                                        name: try context.parameters.require("name"), gracePeriodSeconds: grace, dryRun: dryRun))
            }
        }
        router.get("/api/v1/namespaces/:namespace/pods/:name/log") { request, context in
            try await handle {
                let query = request.uri.queryParameters
                let name = try context.parameters.require("name")
                var now = timespec()
                clock_gettime(CLOCK_REALTIME, &now)
                let nanoseconds = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
                func text(_ key: String) -> String? { query[Substring(key)].map { String($0) } }
                let times = try PodLogTimeOptions.parse(name: name, sinceSeconds: text("sinceSeconds"), sinceTime: text("sinceTime"),
                                                        timestamps: text("timestamps"), tailLines: text("tailLines"), now: nanoseconds)
                var options = LogOptions(container: query["container"].map(String.init),
                                         follow: query["follow"].map { $0 == "true" || $0 == "1" } ?? false,
                                         previous: query["previous"].map { $0 == "true" || $0 == "1" } ?? false,
                                         tailLines: query["tailLines"].flatMap { Int(String($0)) })
                options.times = times
                let chunks = try await backend.podLog(namespace: try context.parameters.require("namespace"), name: name, options: options)
                return Response(status: .ok, headers: [.contentType: "text/plain"], body: ResponseBody { writer in
                    do {
                        for try await chunk in chunks { try await writer.write(ByteBuffer(bytes: chunk)) }
                    } catch {}
                    try await writer.finish(nil)
                })
            }
        }
        router.get("/podlab/v1/namespaces/:namespace/pods/:name/sandbox") { _, context in
            try await handle {
                json(try await backend.podSandbox(namespace: try context.parameters.require("namespace"), name: try context.parameters.require("name")))
            }
        }
        router.get("/api/v1/events") { request, _ in
            try await handle { json(try await backend.listEvents(namespace: nil, fieldSelector: request.uri.queryParameters.get("fieldSelector"))) }
        }
        router.get("/api/v1/namespaces/:namespace/events") { request, context in
            try await handle {
                json(try await backend.listEvents(namespace: try context.parameters.require("namespace"),
                                                  fieldSelector: request.uri.queryParameters.get("fieldSelector")))
            }
        }
        router.get("/api/v1/nodes") { request, _ in
            try await handle { json(try await backend.listNodes(options: listOptions(request))) }
        }
        router.get("/api/v1/nodes/:name") { _, context in
            try await handle { json(try await backend.getNode(name: try context.parameters.require("name"))) }
        }
        if let nodes = backend as? any NodeBackend { Controller.addNodeRoutes(to: router, backend: nodes) }
        if let attachable = backend as? any AttachBackend { AttachRoutes.register(on: router, backend: attachable) }
        if let streaming = backend as? any StreamingBackend { StreamingEndpoints.register(on: router, backend: streaming) }
        if let controller = backend as? Controller {
            for resource in controller.objectResources() {
                ObjectRoutes.register(on: router, prefix: resource.prefix, resource: resource.resource, namespaced: resource.namespaced, handlers: resource.handlers)
                ScaleRoutes.register(on: router, prefix: resource.prefix, resource: resource.resource, handlers: resource.handlers)
            }
        }
        router.get("/podlab/v1/lab") { _, _ in
            try await handle { json(try await backend.labStatus()) }
        }
        router.get("/podlab/v1/metrics") { _, _ in
            try await handle { json(try await backend.metrics()) }
        }
        router.delete("/podlab/v1/lab") { _, _ in
            try await handle { json(try await backend.deleteLab(), status: .accepted) }
        }
        InspectionRoutes.register(on: router, backend: backend)
        addProbeRoutes(to: router, backend: backend)
        return router
    }

    /// The largest request body kube-apiserver reads for an object (`MaxRequestBodyBytes`,
    /// 3 MiB; etcd's own limit on a stored object is 1.5 MiB); a larger one is refused with 413
    /// before it is read in full.
    public static let maxRequestBodyBytes = 3 << 20

    /// The request's body, at most `limit` bytes: more (announced by Content-Length or found
    /// while reading) is kube-apiserver's 413 `Request entity too large: limit is 3145728`.
    static func requestBody(_ request: Request, limit: Int = maxRequestBodyBytes) async throws -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw APIStatus.requestEntityTooLarge(limit: limit)
        }
        var request = request
        do {
            return try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIStatus.requestEntityTooLarge(limit: limit)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            // A body cut short or garbled on the wire (a truncated or malformed chunk): the
            // client's fault, and nothing was read to act on.
            throw APIStatus.badRequest("the request body could not be read: \(error)")
        }
    }

    /// A DELETE's options: query parameters, or a `DeleteOptions` body (client-go sends one); a
    /// body that is not JSON is ignored, one over the limit refused.
    static func deleteOptions(_ request: Request) async throws -> [String: Any] {
        let body = try await requestBody(request)
        guard body.readableBytes > 0, let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] else { return [:] }
        return object
    }

    static func listOptions(_ request: Request) -> ListOptions {
        let query = request.uri.queryParameters
        return ListOptions(labelSelector: query["labelSelector"].map(String.init).flatMap { $0.isEmpty ? nil : $0 },
                           watch: query["watch"].map { $0 == "true" || $0 == "1" } ?? false,
                           resourceVersion: query["resourceVersion"].map(String.init),
                           allowWatchBookmarks: query["allowWatchBookmarks"].map { $0 == "true" || $0 == "1" } ?? false,
                           sendInitialEvents: query["sendInitialEvents"].map { $0 == "true" || $0 == "1" },
                           resourceVersionMatch: query["resourceVersionMatch"].map(String.init).flatMap { $0.isEmpty ? nil : $0 },
                           timeoutSeconds: query["timeoutSeconds"].flatMap { Int(String($0)) }.flatMap { $0 > 0 ? $0 : nil })
    }

    static func json(_ data: Data, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// A watch: newline-delimited JSON events, each batch that gathered while the last was being
    /// written sent with one write. The watch is cancelled when its client goes.
    static func stream(_ lines: WatchLines) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json", .transferEncoding: "chunked"], body: ResponseBody { writer in
            defer { lines.queue.cancel() }
            for await batch in lines {
                try await writer.write(batch)
            }
            try await writer.finish(nil)
        })
    }

    /// Newline-delimited JSON events, flushed one by one.
    static func stream(_ events: AsyncStream<Data>) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json", .transferEncoding: "chunked"], body: ResponseBody { writer in
            for await event in events {
                var line = ByteBuffer(bytes: event)
                line.writeString("\n")
                try await writer.write(line)
            }
            try await writer.finish(nil)
        })
    }

    /// Maps thrown errors to Status responses.
    static func handle(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch var status as APIStatus {
            status.message = SensitiveValues.shared.redact(status.message)
            return json(Data(status.json.jsonText(indent: 0).utf8), status: HTTPResponse.Status(code: Int(status.code)))
        } catch let error as NIOTooManyBytesError {
            let failure = APIStatus.requestEntityTooLarge(limit: error.maxBytes ?? maxRequestBodyBytes)
            return json(Data(failure.json.jsonText(indent: 0).utf8), status: .contentTooLarge)
        } catch {
            // An unexpected error's words may quote what it failed on: known secrets are hidden.
            let failure = APIStatus.internalError(SensitiveValues.shared.redact("\(error)"))
            return json(Data(failure.json.jsonText(indent: 0).utf8), status: .internalServerError)
        }
    }
}

/// Every refusal is a Kubernetes `Status`, the router's own too: kube-apiserver's 404 for a path
/// it does not serve, 405 for a method a path does not take, 400 for what cannot be read.
struct StatusErrors<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let status = switch error.status.code {
            case 404: APIStatus(message: "the server could not find the requested resource", reason: .notFound, code: 404)
            case 405: APIStatus(message: "the server does not allow this method on the requested resource", reason: StatusReason(rawValue: "MethodNotAllowed"), code: 405)
            case 413: APIStatus.requestEntityTooLarge(limit: APIServer.maxRequestBodyBytes)
            case 400..<500: APIStatus(message: error.body ?? error.status.reasonPhrase, reason: .badRequest, code: Int32(error.status.code))
            default: APIStatus.internalError(error.body ?? error.status.reasonPhrase)
            }
            return APIServer.json(Data(status.json.jsonText(indent: 0).utf8), status: HTTPResponse.Status(code: Int(status.code)))
        }
    }
}
