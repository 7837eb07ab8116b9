import FoundationEssentials
import PodlabProxy
#if canImport(Glibc)
import Glibc
#endif

// The mesh's sidecar (`podlab/proxy` image): see PodlabProxy.
signal(SIGPIPE, SIG_IGN)
let context = ProxyContext(configuration: ProxyConfiguration(environment: ProcessInfo.processInfo.environment))
let server = ProxyServer(context: context)
do {
    _ = try await server.start()
} catch {
    context.log("cannot listen: \(error)")
    exit(1)
}
let configuration = context.configuration
context.log("listening: outbound :\(configuration.outboundPort), inbound :\(configuration.inboundPort), "
            + "metrics :\(configuration.metricsPort)/metrics, readiness :\(configuration.readinessPort)/healthz/ready; pod \(configuration.podIdentity)")
if let socket = configuration.apiSocket {
    await AgentWatch(socketPath: socket, token: configuration.apiToken, endpoints: context.endpoints, group: server.eventLoops,
                     log: { context.log($0) }).run()
} else {
    context.log("no PODLAB_API_SOCKET: connections go where they were going")
    while true { try? await Task.sleep(for: .seconds(3600)) }
}
