import Foundation

/// How a meshed pod's inbound proxy treats plain-text clients: `podlab.dev/mtls` on the pod, else
/// on its namespace, else PERMISSIVE (Istio's PeerAuthentication modes, as an annotation).
public enum MeshTLSMode: String, Hashable, Sendable, CaseIterable {
    /// Mutual TLS from meshed peers, plain text from everyone else: the first byte decides.
    case permissive = "PERMISSIVE"
    /// Mutual TLS only: a plain-text client's connection is closed.
    case strict = "STRICT"
    /// No mTLS to or from the pod: its sidecar gets no certificate, and the other sidecars,
    /// which read it off the pod (their pod watch), talk to it in plain text. A pod's
    /// annotation only: the sidecars do not see namespaces.
    case disable = "DISABLE"

    public static let annotation = "podlab.dev/mtls"
    /// The proxy's environment variable that carries the mode.
    public static let environmentVariable = "PODLAB_MTLS_MODE"

    /// The mode a pod's annotations and its namespace's ask for; a malformed value on the pod is
    /// refused at admission (`MeshInjection.inject`), one on the namespace leaves the default.
    public static func of(podAnnotations: [String: String], namespaceAnnotations: [String: String]) -> MeshTLSMode {
        if let text = podAnnotations[annotation], let mode = MeshTLSMode(rawValue: text) { return mode }
        if let text = namespaceAnnotations[annotation], let mode = MeshTLSMode(rawValue: text), mode != .disable { return mode }
        return .permissive
    }

    /// The error of a value that is neither mode, or nil.
    static func annotationError(_ annotations: [String: String], path: FieldPath) -> FieldError? {
        guard let text = annotations[annotation], MeshTLSMode(rawValue: text) == nil else { return nil }
        return .notSupported(path, text, supported: allCases.map(\.rawValue))
    }
}

/// A workload's identity in the mesh: SPIFFE's `spiffe://TRUST-DOMAIN/ns/NAMESPACE/sa/ACCOUNT`,
/// as Istio names it, carried in the URI SAN of the pod's certificate.
public struct MeshIdentity: Hashable, Sendable, CustomStringConvertible {
    public static let trustDomain = "cluster.local"

    public var namespace: String
    public var serviceAccount: String

    public init(namespace: String, serviceAccount: String) {
        self.namespace = namespace
        self.serviceAccount = serviceAccount
    }

    /// A pod's: its namespace and `spec.serviceAccountName`, `default` when unset.
    public init(_ pod: Pod) {
        let account = pod.spec.preservedFields["serviceAccountName"]?.stringValue ?? ""
        self.init(namespace: pod.metadata.namespace, serviceAccount: account.isEmpty ? "default" : account)
    }

    /// `spiffe://cluster.local/ns/shop/sa/web`, or nil for anything else.
    public init?(uri: String) {
        let prefix = "spiffe://\(Self.trustDomain)/"
        guard uri.hasPrefix(prefix) else { return nil }
        let parts = uri.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "ns", parts[2] == "sa", !parts[1].isEmpty, !parts[3].isEmpty else { return nil }
        self.init(namespace: String(parts[1]), serviceAccount: String(parts[3]))
    }

    public var uri: String { "spiffe://\(Self.trustDomain)/ns/\(namespace)/sa/\(serviceAccount)" }
    public var description: String { uri }
}

/// Workload certificates' lifetime and when the agent replaces one: at two thirds of its life,
/// as Istio's agent does, so a late renewal still leaves a third (20 min) of validity.
public struct MeshCertificateSchedule: Hashable, Sendable {
    public static let standard = MeshCertificateSchedule(lifetime: 3600)

    /// Seconds from issue to expiry.
    public var lifetime: Double
    /// A certificate is made valid from this many seconds before its issue: a peer whose clock
    /// is a little behind still accepts it.
    public var backdate: Double = 60

    public init(lifetime: Double) { self.lifetime = lifetime }

    /// Seconds after issue when the next certificate is made.
    public var renewalAfter: Double { lifetime * 2 / 3 }

    /// notBefore and notAfter of a certificate issued at `issued`.
    public func validity(issued: Date) -> (notBefore: Date, notAfter: Date) {
        (issued.addingTimeInterval(-backdate), issued.addingTimeInterval(lifetime))
    }

    /// When a certificate valid until `notAfter` is renewed.
    public func renewal(notAfter: Date) -> Date { notAfter.addingTimeInterval(-lifetime + renewalAfter) }
}
