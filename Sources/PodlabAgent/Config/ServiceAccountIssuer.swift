import Crypto
import Foundation
import Netns
import PodNet
#if canImport(Glibc)
import Glibc
#endif

/// The lab's service account token issuer: kube-apiserver's `TokenRequest` and the kubelet's
/// token manager in one. Tokens are JWTs signed ES256 with the lab's P-256 key
/// (`<state>/<lab>/service-account/sa.key`, 0600 in a 0700 directory; `sa.pub` beside it), made
/// once per lab so tokens stay verifiable across agent restarts. The public key is served as
/// kube-apiserver serves it: `/openid/v1/jwks` and `/.well-known/openid-configuration`.
///
/// Like the kubelet, the issuer keeps the last token per pod, account, audience and lifetime
/// and hands it out again until 80 % of its lifetime has passed (`ServiceAccountTokenClaims.needsRefresh`);
/// the agent's periodic volume sync then writes the new one.
public final class ServiceAccountIssuer: Sendable {
    public static let algorithm = "ES256"

    /// The private key's scalar (swift-crypto's key type is not `Sendable`: a key is made from
    /// it for each signature).
    let keyBytes: Data
    /// The public key's point (x ‖ y) and PEM.
    let publicPoint: [UInt8]
    public let publicKeyPEM: String
    /// kube-apiserver's key id: base64url (unpadded) of the SHA-256 of the public key's PKIX DER.
    public let keyID: String
    /// Seconds since the epoch (a test's clock moves on its own).
    let now: @Sendable () -> Int64
    private let cache = Locked<[CacheKey: Issued]>([:])

    struct CacheKey: Hashable {
        var podUID: String
        var serviceAccount: String
        var audience: String
        var lifetime: Int64
    }

    struct Issued {
        var token: String
        var issuedAt: Int64
        var expiresAt: Int64
    }

    public init(key: P256.Signing.PrivateKey, now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) {
        keyBytes = key.rawRepresentation
        publicPoint = Array(key.publicKey.rawRepresentation)
        publicKeyPEM = key.publicKey.pemRepresentation + "\n"
        keyID = JSONWebToken.base64URL(Array(SHA256.hash(data: key.publicKey.derRepresentation)))
        self.now = now
    }

    public static func directory(_ paths: LabPaths) -> String { paths.directory + "/service-account" }
    public static func keyFile(_ paths: LabPaths) -> String { directory(paths) + "/sa.key" }
    public static func publicKeyFile(_ paths: LabPaths) -> String { directory(paths) + "/sa.pub" }

    /// The lab's issuer with its stored key, made first when there is none.
    public static func loadOrCreate(_ paths: LabPaths, now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) throws -> ServiceAccountIssuer {
        try LabStateModes.makePrivateDirectory(directory(paths))
        if let pem = readSmallFile(keyFile(paths)) {
            return ServiceAccountIssuer(key: try P256.Signing.PrivateKey(pemRepresentation: pem), now: now)
        }
        let key = P256.Signing.PrivateKey()
        try ClusterCredentials.write(key.pemRepresentation + "\n", to: keyFile(paths))
        try ClusterCredentials.write(key.publicKey.pemRepresentation + "\n", to: publicKeyFile(paths))
        return ServiceAccountIssuer(key: key, now: now)
    }

    /// The token for `projection` in `pod`: the cached one while it is fresh, else a new one.
    public func token(for projection: ServiceAccountTokenProjection, pod: Pod) throws(VolumeSourceError) -> String {
        let cacheKey = CacheKey(podUID: pod.metadata.uid, serviceAccount: pod.serviceAccountName,
                                audience: projection.audience, lifetime: projection.lifetime)
        let time = now()
        if let cached = cache.withLock({ $0[cacheKey] }),
           !ServiceAccountTokenClaims.needsRefresh(issuedAt: cached.issuedAt, expiresAt: cached.expiresAt, now: time) {
            return cached.token
        }
        let claims = ServiceAccountTokenClaims(projection: projection, pod: pod, now: time, tokenID: UUID().uuidString.lowercased())
        let token: String
        do {
            token = try sign(claims)
        } catch {
            throw VolumeSourceError(["failed to fetch token: \(error)"])
        }
        cache.withLock { $0[cacheKey] = Issued(token: token, issuedAt: claims.issuedAt, expiresAt: claims.expiresAt) }
        return token
    }

    /// The compact JWS of `claims`.
    public func sign(_ claims: ServiceAccountTokenClaims) throws -> String {
        let input = JSONWebToken.signingInput(algorithm: Self.algorithm, keyID: keyID, claims: claims.json)
        let key = try P256.Signing.PrivateKey(rawRepresentation: keyBytes)
        let signature = try key.signature(for: Array(input.utf8))
        // JWS's ES256 signature is r ‖ s, 32 bytes each (RFC 7518 §3.4), not DER.
        return JSONWebToken.token(signingInput: input, signature: Array(signature.rawRepresentation))
    }

    /// The issuer as the volume writer calls it.
    public var issue: ServiceAccountTokenIssuer {
        { [self] projection, pod throws(VolumeSourceError) in try token(for: projection, pod: pod) }
    }

    /// Drops the tokens of a pod that is gone.
    public func forget(podUID: String) {
        cache.withLock { cache in
            for key in cache.keys where key.podUID == podUID { cache.removeValue(forKey: key) }
        }
    }

    /// `/openid/v1/jwks`: the public key as a JSON Web Key Set (RFC 7517), as kube-apiserver writes it.
    public var jwks: JSONValue {
        let point = publicPoint
        return .object(["keys": .array([.object([
            "use": .string("sig"), "kty": .string("EC"), "kid": .string(keyID), "crv": .string("P-256"), "alg": .string(Self.algorithm),
            "x": .string(JSONWebToken.base64URL(Array(point[0..<32]))), "y": .string(JSONWebToken.base64URL(Array(point[32..<64]))),
        ])])])
    }

    /// `/.well-known/openid-configuration`, kube-apiserver's discovery document.
    public var openIDConfiguration: JSONValue {
        .object([
            "issuer": .string(ServiceAccountTokenClaims.issuer),
            "jwks_uri": .string(ServiceAccountTokenClaims.issuer + "/openid/v1/jwks"),
            "response_types_supported": .array([.string("id_token")]),
            "subject_types_supported": .array([.string("public")]),
            "id_token_signing_alg_values_supported": .array([.string(Self.algorithm)]),
        ])
    }
}
