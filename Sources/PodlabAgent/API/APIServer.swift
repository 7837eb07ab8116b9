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
}

/// Options of a log request (`/pods/{name}/log`).
public struct LogOptions: Sendable {
    public var container: String?
    public var follow: Bool
    public var previous: Bool
    public var tailLines: Int?
}

/// What the HTTP layer needs from the control plane. Bodies are Kubernetes JSON.
public protocol APIBackend: Sendable {
    func listPods(namespace: String?, options: ListOptions) async throws -> Data
    func watchPods(namespace: String?, options: ListOptions) async throws -> AsyncStream<Data>
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
}

extension APIBackend {
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

    /// Builds the router for `backend`.
    public static func router(backend: any APIBackend) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/version") { _, _ in json(Data(version.utf8)) }
        router.get("/healthz") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok"))) }
        router.get("/readyz") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok"))) }
        router.get("/api") { _, _ in
            json(Data(#"{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]}"#.utf8))
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
                var request = request
                let body = try await request.collectBody(upTo: 4 << 20)
                return json(try await backend.createPod(namespace: try context.parameters.require("namespace"), body: Data(buffer: body), dryRun: dryRun),
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
                var request = request
                let body = try await request.collectBody(upTo: 4 << 20)
                return json(try await backend.replacePod(namespace: try context.parameters.require("namespace"),
                                                         name: try context.parameters.require("name"), body: Data(buffer: body), dryRun: dryRun))
            }
        }
        router.delete("/api/v1/namespaces/:namespace/pods/:name") { request, context in
            try await handle {
                // Options come as query parameters or as a DeleteOptions body (client-go sends one).
                var request = request
                var options: [String: Any] = [:]
                if let body = try? await request.collectBody(upTo: 1 << 20), body.readableBytes > 0,
                   let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] {
                    options = object
                }
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
                let options = LogOptions(container: query["container"].map(String.init),
                                         follow: query["follow"].map { $0 == "true" || $0 == "1" } ?? false,
                                         previous: query["previous"].map { $0 == "true" || $0 == "1" } ?? false,
                                         tailLines: query["tailLines"].flatMap { Int(String($0)) })
                let chunks = try await backend.podLog(namespace: try context.parameters.require("namespace"),
                                                      name: try context.parameters.require("name"), options: options)
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
        if let controller = backend as? Controller {
            for resource in controller.objectResources() {
                ObjectRoutes.register(on: router, prefix: resource.prefix, resource: resource.resource, namespaced: resource.namespaced, handlers: resource.handlers)
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

    static func listOptions(_ request: Request) -> ListOptions {
        let query = request.uri.queryParameters
        return ListOptions(labelSelector: query["labelSelector"].map(String.init).flatMap { $0.isEmpty ? nil : $0 },
                           watch: query["watch"].map { $0 == "true" || $0 == "1" } ?? false,
                           resourceVersion: query["resourceVersion"].map(String.init))
    }

    static func json(_ data: Data, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Newline-delimited JSON watch events, flushed one by one.
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
        } catch let status as APIStatus {
            return json(Data(status.json.jsonText(indent: 0).utf8), status: HTTPResponse.Status(code: Int(status.code)))
        } catch {
            let failure = APIStatus.internalError("\(error)")
            return json(Data(failure.json.jsonText(indent: 0).utf8), status: .internalServerError)
        }
    }
}
