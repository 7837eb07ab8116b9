import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import PodNet
import ServiceLifecycle

/// The lab's API over HTTPS on `127.0.0.1:<port>`, for kubectl and client libraries: the same
/// routes as the unix socket, behind the lab's bearer token. Loopback only.
enum SecureListener {
    static func application(backend: any APIBackend, credentials: ClusterCredentials, connections: APIConnectionLimits,
                            logger: Logger) throws -> some ApplicationProtocol {
        let certificate = try NIOSSLCertificate(bytes: Array(credentials.serverCertificatePEM.utf8), format: .pem)
        let key = try NIOSSLPrivateKey(bytes: Array(credentials.serverKeyPEM.utf8), format: .pem)
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(certificate)], privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        tls.applicationProtocols = ["http/1.1"]
        // kubectl's streaming verbs upgrade their connections (WebSocket, SPDY/3.1).
        let http: HTTPServerBuilder
        if let streaming = backend as? any StreamingBackend {
            let endpoints = StreamingEndpoints(backend: streaming, credentials: credentials)
            let http1 = connections.http1Configuration, idleTimeout = connections.idleTimeout
            http = HTTPServerBuilder { responder in
                StreamingHTTPChannel(responder: responder, http1: http1, endpoints: endpoints, idleTimeout: idleTimeout)
            }
        } else {
            http = .http1(configuration: connections.http1Configuration)
        }
        return Application(router: APIServer.router(backend: backend, credentials: credentials),
                           server: try .tls(http, tlsConfiguration: tls),
                           configuration: .init(address: .hostname("127.0.0.1", port: credentials.port), serverName: "podlab",
                                                availableConnectionsDelegate: MaximumAvailableConnections(connections.maximumConnections, logger: logger)),
                           logger: logger)
    }
}

extension SecureListener {
    /// The HTTPS listener as a service whose failure (its port taken meanwhile) is logged and
    /// ends only itself: the unix socket goes on serving `podlab`.
    struct NonEssential<Base: ServiceLifecycle.Service>: ServiceLifecycle.Service {
        let base: Base
        let logger: Logger

        func run() async throws {
            do { try await base.run() } catch is CancellationError {} catch {
                logger.error("the HTTPS API stopped: \(error)")
            }
        }
    }
}

/// Refuses a request without the lab's bearer token, as kube-apiserver does: 401 with an
/// `Unauthorized` Status, before any route runs.
struct BearerTokenAuthentication<Context: RequestContext>: RouterMiddleware {
    let credentials: ClusterCredentials

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard credentials.authorizes(request.headers[.authorization]) else {
            let status = APIStatus(message: "Unauthorized", reason: StatusReason(rawValue: "Unauthorized"), code: 401)
            return APIServer.json(Data(status.json.jsonText(indent: 0).utf8), status: .unauthorized)
        }
        return try await next(request, context)
    }
}
