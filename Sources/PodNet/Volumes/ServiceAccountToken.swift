import Foundation

/// The claims of a service account token bound to a pod, as kube-apiserver's `TokenRequest`
/// issues them for the kubelet (`serviceaccount.Claims`): issuer and subject, audiences, the
/// times, a token id, and the private `kubernetes.io` claim naming the namespace, the pod and
/// the service account. podlab has no ServiceAccount objects, so the account has no uid and
/// the claim carries its name only.
public struct ServiceAccountTokenClaims: Hashable, Sendable {
    /// kube-apiserver's `--service-account-issuer` as kubeadm and kind set it; also the
    /// audience of a token that names none (`--api-audiences` defaults to the issuer).
    public static let issuer = "https://kubernetes.default.svc.cluster.local"

    public var audiences: [String]
    public var namespace: String
    public var podName: String
    public var podUID: String
    public var serviceAccountName: String
    public var serviceAccountUID: String?
    /// Seconds since the epoch; `nbf` is the same time.
    public var issuedAt: Int64
    public var expiresAt: Int64
    /// `jti`: a random UUID, one per token.
    public var tokenID: String

    public init(audiences: [String], namespace: String, podName: String, podUID: String, serviceAccountName: String,
                serviceAccountUID: String? = nil, issuedAt: Int64, expiresAt: Int64, tokenID: String) {
        self.audiences = audiences
        self.namespace = namespace
        self.podName = podName
        self.podUID = podUID
        self.serviceAccountName = serviceAccountName
        self.serviceAccountUID = serviceAccountUID
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.tokenID = tokenID
    }

    /// The claims the kubelet gets for `projection` in `pod` at `now` (seconds since the epoch).
    public init(projection: ServiceAccountTokenProjection, pod: Pod, now: Int64, tokenID: String) {
        self.init(audiences: [projection.audience.isEmpty ? Self.issuer : projection.audience],
                  namespace: pod.metadata.namespace, podName: pod.metadata.name, podUID: pod.metadata.uid,
                  serviceAccountName: pod.serviceAccountName, issuedAt: now, expiresAt: now + projection.lifetime, tokenID: tokenID)
    }

    /// `system:serviceaccount:<namespace>:<name>`.
    public var subject: String { "system:serviceaccount:\(namespace):\(serviceAccountName)" }

    /// The token's payload, keys in Go's order (sorted) as go-jose writes them.
    public var json: JSONValue {
        var account: [String: JSONValue] = ["name": .string(serviceAccountName)]
        if let serviceAccountUID { account["uid"] = .string(serviceAccountUID) }
        return .object([
            "aud": .array(audiences.map(JSONValue.string)),
            "exp": .integer(expiresAt),
            "iat": .integer(issuedAt),
            "iss": .string(Self.issuer),
            "jti": .string(tokenID),
            "kubernetes.io": .object([
                "namespace": .string(namespace),
                "pod": .object(["name": .string(podName), "uid": .string(podUID)]),
                "serviceaccount": .object(account),
            ]),
            "nbf": .integer(issuedAt),
            "sub": .string(subject),
        ])
    }

    /// The kubelet's token manager (`requiresRefresh`): a token is replaced once 80 % of its
    /// lifetime has passed (`jitter` seconds earlier, up to 10 in the kubelet), or once it is a
    /// day old, whatever its lifetime.
    public static func needsRefresh(issuedAt: Int64, expiresAt: Int64, now: Int64, jitter: Int64 = 0) -> Bool {
        let lifetime = expiresAt - issuedAt
        if now > issuedAt + 86_400 - jitter { return true }
        return now > expiresAt - lifetime * 20 / 100 - jitter
    }
}

/// Compact JWS (RFC 7515) as the API server writes its tokens: base64url, no padding, header
/// `{"alg":…,"kid":…}`. The signature itself is the agent's (swift-crypto).
public enum JSONWebToken {
    /// `header.payload`, the bytes the signature covers.
    public static func signingInput(algorithm: String, keyID: String, claims: JSONValue) -> String {
        let header = JSONValue.object(["alg": .string(algorithm), "kid": .string(keyID)])
        return base64URL(Array(header.jsonText(indent: 0).utf8)) + "." + base64URL(Array(claims.jsonText(indent: 0).utf8))
    }

    /// The whole token.
    public static func token(signingInput: String, signature: [UInt8]) -> String {
        signingInput + "." + base64URL(signature)
    }

    public static func base64URL(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        text = text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    /// The bytes of a base64url text (with or without padding); nil when it is not one.
    public static func decodeBase64URL(_ text: String) -> [UInt8]? {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while standard.count % 4 != 0 { standard += "=" }
        return Data(base64Encoded: standard).map(Array.init)
    }

    /// A token's three parts decoded: header, claims, signature; nil when it is not a compact JWS.
    public static func parts(of token: String) -> (header: JSONValue, claims: JSONValue, signature: [UInt8])? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let header = decodeBase64URL(parts[0]), let claims = decodeBase64URL(parts[1]),
              let signature = decodeBase64URL(parts[2]),
              let headerValue = try? JSONReader.value(from: String(decoding: header, as: UTF8.self)),
              let claimsValue = try? JSONReader.value(from: String(decoding: claims, as: UTF8.self)) else { return nil }
        return (headerValue, claimsValue, signature)
    }
}

extension Pod {
    /// `spec.serviceAccountName`, `default` when unset (the only account podlab accepts).
    public var serviceAccountName: String {
        let name = spec.preservedFields["serviceAccountName"]?.stringValue ?? ""
        return name.isEmpty ? "default" : name
    }
}
