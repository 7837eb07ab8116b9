/// What the proxy needs to know, from its environment (the agent sets it when it starts the
/// sidecar: the pod's identity from the downward API, the API socket and a token).
public struct ProxyConfiguration: Sendable {
    public var outboundPort = 15001
    public var inboundPort = 15006
    public var metricsPort = 15090
    public var readinessPort = 15021
    public var podName = ""
    public var podNamespace = ""
    public var podIP = ""
    /// The agent's socket for the mesh (`PODLAB_API_SOCKET`); nil: no Service knowledge, every
    /// connection goes where it was going.
    public var apiSocket: String?
    /// The bearer token the mesh socket asks for (`PODLAB_API_TOKEN`).
    public var apiToken: String?
    /// The directory of the pod's workload certificate (`PODLAB_MESH_CERTS`); nil: no mTLS,
    /// every connection in plain text (and none accepted in STRICT mode).
    public var certificateDirectory: String?
    /// Whether a plain-text client is let in (`PODLAB_MTLS_MODE`, PERMISSIVE when unset).
    public var mtlsMode = MTLSMode.permissive

    public init() {}

    public init(environment: [String: String]) {
        func nonEmpty(_ key: String) -> String? { environment[key].flatMap { $0.isEmpty ? nil : $0 } }
        podName = environment["POD_NAME"] ?? ""
        podNamespace = environment["POD_NAMESPACE"] ?? ""
        podIP = environment["POD_IP"] ?? ""
        apiSocket = nonEmpty("PODLAB_API_SOCKET")
        apiToken = nonEmpty("PODLAB_API_TOKEN")
        certificateDirectory = nonEmpty("PODLAB_MESH_CERTS")
        mtlsMode = nonEmpty("PODLAB_MTLS_MODE").flatMap(MTLSMode.init(rawValue:)) ?? .permissive
    }

    /// `namespace/name`: the source of this pod's outbound requests in the metrics.
    public var podIdentity: String { podNamespace.isEmpty ? podName : "\(podNamespace)/\(podName)" }

    /// Ports a captured connection must never be forwarded to (itself: a loop).
    var ownPorts: Set<Int> { [outboundPort, inboundPort] }
}
