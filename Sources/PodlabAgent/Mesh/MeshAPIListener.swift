import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import PodNet
#if canImport(Glibc)
import Glibc
#endif

/// The API as the mesh's sidecars see it: `<state>/<lab>/mesh.sock`, open to every user (a
/// sidecar runs as uid 1337, and the agent's own socket is root's alone), behind a token of
/// the mesh's own, and only for what a proxy reads: Services and EndpointSlices, listed and
/// watched (and Pods, MeshPolicies and Routes, below). The lab's admin token is never handed to a pod.
enum MeshAPIListener {
    /// The paths a sidecar may GET (their `?watch=true` included), in every namespace. Pods:
    /// which peers are meshed, under which service account (the identity mTLS expects).
    /// MeshPolicies: who may reach the pods, decided by each receiving sidecar. Routes: how each
    /// client's sidecar shapes its requests to a Service.
    static let readablePaths = ["/api/v1/services", "/apis/discovery.k8s.io/v1/endpointslices", "/api/v1/pods", "/apis/podlab.dev/v1/meshpolicies",
                                 "/apis/podlab.dev/v1/routes"]
    /// Who may connect to the socket: any user, as the token decides.
    static let socketMode: mode_t = 0o666

    /// The mesh's token, `<state>/<lab>/kube-api/mesh-token` (root's alone), made once per lab so
    /// the sidecars of pods that outlive an agent restart keep reading.
    static func loadOrCreateToken(_ paths: LabPaths) throws -> String {
        let files = ClusterCredentials.Files(paths)
        let path = files.directory + "/mesh-token"
        if let stored = readSmallFile(path)?.trimmingCharacters(in: .whitespacesAndNewlines), !stored.isEmpty { return stored }
        try LabStateModes.makePrivateDirectory(files.directory)
        var generator = SystemRandomNumberGenerator()
        let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        try ClusterCredentials.write(token + "\n", to: path)
        return token
    }

    static func application(backend: any APIBackend, paths: LabPaths, token: String, connections: APIConnectionLimits,
                            logger: Logger) -> some ApplicationProtocol {
        let router = APIServer.router(backend: backend, meshToken: token)
        unlink(paths.meshSocket)
        return Application(router: router,
                           server: .http1(configuration: connections.http1Configuration),
                           configuration: .init(address: .unixDomainSocket(path: paths.meshSocket), serverName: "podlab",
                                                availableConnectionsDelegate: MaximumAvailableConnections(connections.maximumConnections, logger: logger)),
                           onServerRunning: { _ in chmod(paths.meshSocket, socketMode) },
                           logger: logger)
    }
}

/// 401 without the mesh's token, 403 for anything but a GET of the `readablePaths`.
struct MeshReadOnly<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard ClusterCredentials.tokenMatches(request.headers[.authorization], token: token) else {
            let status = APIStatus(message: "Unauthorized", reason: StatusReason(rawValue: "Unauthorized"), code: 401)
            return APIServer.json(Data(status.json.jsonText(indent: 0).utf8), status: .unauthorized)
        }
        let path = request.uri.path
        guard request.method == .get, MeshAPIListener.readablePaths.contains(where: { path == $0 }) else {
            let status = APIStatus(message: "the mesh's socket serves only GET \(MeshAPIListener.readablePaths.joined(separator: ", "))",
                                   reason: StatusReason(rawValue: "Forbidden"), code: 403)
            return APIServer.json(Data(status.json.jsonText(indent: 0).utf8), status: .forbidden)
        }
        return try await next(request, context)
    }
}
