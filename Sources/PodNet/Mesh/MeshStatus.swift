/// `podlab mesh status`: each meshed pod with its identity, its sidecar's mTLS mode, when its
/// workload certificate expires and whether it is ready. The agent answers it (it knows the
/// modes it started the sidecars with and the certificates it issued); the CLI prints it.
public struct MeshStatusReport: Codable, Hashable, Sendable {
    public var pods: [MeshPodStatus]

    public init(pods: [MeshPodStatus]) { self.pods = pods }
}

public struct MeshPodStatus: Codable, Hashable, Sendable {
    public var namespace: String
    public var name: String
    public var node: String
    /// `spiffe://cluster.local/ns/NS/sa/SA`.
    public var identity: String
    /// `PERMISSIVE`, `STRICT` or `DISABLE`: the one the sidecar runs with.
    public var mode: String
    /// The current workload certificate's notAfter; nil when none was issued (DISABLE, or the
    /// sidecar has not started).
    public var certificateNotAfter: Timestamp?
    /// `2/2`: ready containers of all, as `get pods` prints it.
    public var ready: String
    /// Whether the sidecar itself is ready (its listeners bound and its MeshPolicies known).
    public var proxyReady: Bool

    public init(namespace: String, name: String, node: String, identity: String, mode: String, certificateNotAfter: Timestamp?, ready: String,
                proxyReady: Bool) {
        self.namespace = namespace
        self.name = name
        self.node = node
        self.identity = identity
        self.mode = mode
        self.certificateNotAfter = certificateNotAfter
        self.ready = ready
        self.proxyReady = proxyReady
    }

    /// A meshed pod's row (nil for a pod without the sidecar).
    public init?(_ pod: Pod, mode: MeshTLSMode, certificateNotAfter: Timestamp?, now: Timestamp) {
        guard MeshCaptureRules.forPod(pod) != nil else { return nil }
        let row = PodTableRow(pod: pod, now: now)
        self.init(namespace: pod.metadata.namespace, name: pod.metadata.name, node: row.node, identity: MeshIdentity(pod).uri, mode: mode.rawValue,
                  certificateNotAfter: mode == .disable ? nil : certificateNotAfter, ready: row.ready,
                  proxyReady: pod.status.containerStatuses.contains { $0.name == MeshProxy.containerName && $0.ready })
    }
}

public enum MeshStatusTable {
    /// `NAMESPACE NAME NODE IDENTITY MODE CERT EXPIRES READY`; CERT EXPIRES is the time left, as
    /// kubectl prints ages (`41m`), `expired` once past, `<none>` without a certificate.
    public static func table(_ pods: [MeshPodStatus], now: Timestamp) -> TextTable {
        TextTable(headers: ["NAMESPACE", "NAME", "NODE", "IDENTITY", "MODE", "CERT EXPIRES", "READY"], rows: pods.map { pod in
            [pod.namespace, pod.name, pod.node, pod.identity, pod.mode, expiry(pod.certificateNotAfter, now: now), pod.ready]
        })
    }

    static func expiry(_ notAfter: Timestamp?, now: Timestamp) -> String {
        guard let notAfter else { return "<none>" }
        let left = notAfter.seconds(since: now)
        return left <= 0 ? "expired" : HumanDuration.string(seconds: left)
    }
}
