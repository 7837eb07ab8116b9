import Dispatch
import FoundationEssentials
import PodlabProxy
#if canImport(Glibc)
import Glibc
#endif

// The mesh's sidecar (`podlab/proxy` image): see PodlabProxy.
signal(SIGPIPE, SIG_IGN)
// Stopped (SIGTERM), the proxy writes the access-log lines it has gathered, then ends of the
// signal as it would have without this handler.
signal(SIGTERM, SIG_IGN)
let terminations = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .global())
terminations.setEventHandler {
    AccessLogLines.shared.flush()
    signal(SIGTERM, SIG_DFL)
    raise(SIGTERM)
}
terminations.resume()
let context = ProxyContext(configuration: ProxyConfiguration(environment: ProcessInfo.processInfo.environment))
let configuration = context.configuration

/// Loads the workload certificate when the agent replaced it; new handshakes take it.
@Sendable func reloadCertificate(_ credentials: MeshCredentials) {
    do {
        if try credentials.reloadIfChanged(), let loaded = credentials.current {
            context.log("certificate loaded: \(loaded.identity), valid until \(Date(timeIntervalSince1970: Double(loaded.notAfter)))")
        }
    } catch {
        context.log("certificate not loaded: \(error)")
    }
}

if let credentials = context.credentials { reloadCertificate(credentials) }
let server = ProxyServer(context: context)
do {
    _ = try await server.start()
} catch {
    context.log("cannot listen: \(error)")
    exit(1)
}
context.log("listening: outbound :\(configuration.outboundPort), inbound :\(configuration.inboundPort), "
            + "metrics :\(configuration.metricsPort)/metrics, readiness :\(configuration.readinessPort)/healthz/ready; pod \(configuration.podIdentity); "
            + "mTLS \(context.credentials == nil ? "off (no certificate directory)" : configuration.mtlsMode.rawValue)")
// The agent replaces the certificate at two thirds of its hour; a look at the file's inode and
// mtime every few seconds notices it well before the old one expires.
if let credentials = context.credentials {
    Task.detached {
        while true {
            try? await Task.sleep(for: .seconds(2))
            reloadCertificate(credentials)
        }
    }
}
// Serving by now (the agent's tables and the certificate read within a second or two): the
// code only the start ran leaves the resident set (see ResidentCode).
Task.detached {
    try? await Task.sleep(for: .seconds(3))
    ResidentCode.releaseStartCode()
}
if let socket = configuration.apiSocket {
    await AgentWatch(socketPath: socket, token: configuration.apiToken, endpoints: context.endpoints, peers: context.peers,
                     policies: context.authorization, routes: context.routes, group: server.eventLoops,
                     log: { context.log($0) }).run()
} else {
    context.log("no PODLAB_API_SOCKET: connections go where they were going")
    while true { try? await Task.sleep(for: .seconds(3600)) }
}
