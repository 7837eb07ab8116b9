import Testing
@testable import PodNet

/// The claims of a projected service account token, the JWS shape around them, and when the
/// kubelet's token manager asks for a new one.
@Suite("Service account tokens")
struct ServiceAccountTokenTests {
    static let pod = Pod(metadata: ObjectMeta(name: "web", namespace: "team", uid: "0b9f6c3e-1111-2222-3333-444455556666"),
                         spec: PodSpec(containers: [Container(name: "app", image: "busybox")]))

    @Test("the claims kube-apiserver issues for a pod-bound token: issuer, subject, audience, times, the kubernetes.io claim")
    func claims() throws {
        let projection = ServiceAccountTokenProjection(path: "token")
        let claims = ServiceAccountTokenClaims(projection: projection, pod: Self.pod, now: 1_800_000_000, tokenID: "jti-1")
        #expect(claims.json == .object([
            "aud": ["https://kubernetes.default.svc.cluster.local"],
            "exp": .integer(1_800_003_600),
            "iat": .integer(1_800_000_000),
            "iss": "https://kubernetes.default.svc.cluster.local",
            "jti": "jti-1",
            "kubernetes.io": ["namespace": "team",
                              "pod": ["name": "web", "uid": "0b9f6c3e-1111-2222-3333-444455556666"],
                              "serviceaccount": ["name": "default"]],
            "nbf": .integer(1_800_000_000),
            "sub": "system:serviceaccount:team:default",
        ]))
    }

    @Test("an audience and a lifetime of its own; a service account uid when there is one")
    func audienceAndLifetime() {
        var claims = ServiceAccountTokenClaims(projection: ServiceAccountTokenProjection(audience: "vault", expirationSeconds: 600, path: "t"),
                                               pod: Self.pod, now: 100, tokenID: "j")
        #expect(claims.audiences == ["vault"])
        #expect(claims.expiresAt == 700)
        claims.serviceAccountUID = "sa-uid"
        #expect(claims.json.objectValue?["kubernetes.io"]?.objectValue?["serviceaccount"] == ["name": "default", "uid": "sa-uid"])
    }

    @Test("the pod's service account: spec.serviceAccountName, default when unset")
    func serviceAccountName() throws {
        var pod = Self.pod
        #expect(pod.serviceAccountName == "default")
        pod.spec.preservedFields["serviceAccountName"] = "builder"
        let claims = ServiceAccountTokenClaims(projection: ServiceAccountTokenProjection(path: "t"), pod: pod, now: 0, tokenID: "j")
        #expect(claims.subject == "system:serviceaccount:team:builder")
    }

    @Test("compact JWS: base64url without padding, header with alg and kid; the parts decode back")
    func compactJWS() throws {
        let claims = ServiceAccountTokenClaims(projection: ServiceAccountTokenProjection(path: "t"), pod: Self.pod, now: 5, tokenID: "j")
        let input = JSONWebToken.signingInput(algorithm: "ES256", keyID: "k1", claims: claims.json)
        let token = JSONWebToken.token(signingInput: input, signature: [0xfb, 0xff, 0x01])
        #expect(!token.contains("=") && !token.contains("+") && !token.contains("/"))
        #expect(token.hasPrefix(JSONWebToken.base64URL(Array(#"{"alg":"ES256","kid":"k1"}"#.utf8)) + "."))
        let parts = try #require(JSONWebToken.parts(of: token))
        #expect(parts.header == ["alg": "ES256", "kid": "k1"])
        #expect(parts.claims == claims.json)
        #expect(parts.signature == [0xfb, 0xff, 0x01])
        #expect(JSONWebToken.parts(of: "a.b") == nil)
        #expect(JSONWebToken.base64URL([0xfb, 0xff]) == "-_8")
        #expect(JSONWebToken.decodeBase64URL("-_8") == [0xfb, 0xff])
    }

    @Test("refresh after 80 % of the lifetime (earlier by the jitter), or after a day",
          arguments: [
              (issued: Int64(0), expires: Int64(3600), now: Int64(2880), jitter: Int64(0), refresh: false),
              (0, 3600, 2881, 0, true),
              (0, 3600, 2875, 10, true),
              (0, 600, 480, 0, false),
              (0, 600, 481, 0, true),
              (0, 172_800, 86_400, 0, false),
              (0, 172_800, 86_401, 0, true),
          ])
    func refresh(_ row: (issued: Int64, expires: Int64, now: Int64, jitter: Int64, refresh: Bool)) {
        #expect(ServiceAccountTokenClaims.needsRefresh(issuedAt: row.issued, expiresAt: row.expires, now: row.now, jitter: row.jitter) == row.refresh)
    }

    @Test("a projected volume with a token: the issuer's token at the path, with the volume's mode; no issuer is the pod's error")
    func payload() throws {
        let pod = Pod(metadata: Self.pod.metadata, spec: PodSpec(containers: Self.pod.spec.containers, volumes: [
            Volume(name: "api", projected: ProjectedVolumeSource(sources: [
                VolumeProjection(serviceAccountToken: ServiceAccountTokenProjection(audience: "vault", path: "token")),
                VolumeProjection(downwardAPI: DownwardAPIProjection(items: [DownwardAPIVolumeFile(path: "namespace", fieldRef: ObjectFieldSelector(fieldPath: "metadata.namespace"))])),
            ], defaultMode: 0o440)),
        ])).applyingDefaults()
        let issuer: ServiceAccountTokenIssuer = { projection, pod in "token-for-\(projection.audience)-\(pod.metadata.name)-\(projection.lifetime)" }
        let files = try VolumeFiles.payload(for: pod.spec.volumes[0], pod: pod, objects: ConfigObjects(), nodeAllocatable: [:], tokens: issuer)
        #expect(files == ["token": ProjectedFile("token-for-vault-web-3600", mode: 0o440), "namespace": ProjectedFile("team", mode: 0o440)])
        #expect(VolumeFiles.holdsServiceAccountToken(pod.spec.volumes[0]))
        #expect(throws: VolumeSourceError(["no service account token issuer on this node"])) {
            try VolumeFiles.payload(for: pod.spec.volumes[0], pod: pod, objects: ConfigObjects(), nodeAllocatable: [:])
        }
    }
}
