@testable import AgentTestSupport
import Crypto
import Foundation
@testable import PodlabAgent
import PodNet
import Netns
import Testing

/// Projected service account tokens: signed with the lab's key (verified here with the public
/// key of the JWKS the agent serves), cached and rotated as the kubelet rotates them, and the
/// periodic volume sync that puts back files changed by hand.
@Suite struct ServiceAccountTokenTests {
    static let tokenPod = """
        apiVersion: v1
        kind: Pod
        metadata: {name: api}
        spec:
          volumes:
          - name: token
            projected:
              sources:
              - serviceAccountToken: {path: token, audience: vault, expirationSeconds: 600}
              - configMap: {name: settings}
          containers:
          - {name: app, image: busybox, command: [sleep, "3600"], volumeMounts: [{name: token, mountPath: /var/run/secrets/tokens}]}
        """

    /// The public key as a verifier finds it: in the JWKS document, by the token's `kid`.
    static func verify(_ token: String, jwks: JSONValue) throws -> JSONValue {
        let parts = try #require(JSONWebToken.parts(of: token))
        #expect(parts.header.objectValue?["alg"] == "ES256")
        let keys = try #require(jwks.objectValue?["keys"]?.arrayValue)
        let key = try #require(keys.first { $0.objectValue?["kid"] == parts.header.objectValue?["kid"] }?.objectValue)
        #expect(key["kty"] == "EC" && key["crv"] == "P-256" && key["use"] == "sig")
        let x = try #require(key["x"]?.stringValue.flatMap(JSONWebToken.decodeBase64URL))
        let y = try #require(key["y"]?.stringValue.flatMap(JSONWebToken.decodeBase64URL))
        let publicKey = try P256.Signing.PublicKey(rawRepresentation: x + y)
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: parts.signature)
        let signed = token.split(separator: ".").prefix(2).joined(separator: ".")
        #expect(publicKey.isValidSignature(signature, for: Array(signed.utf8)), "the signature does not verify")
        var tampered = Array(signed.utf8)
        tampered[tampered.count - 2] ^= 1
        #expect(!publicKey.isValidSignature(signature, for: tampered))
        return parts.claims
    }

    @Test func theKeyIsMadeOncePerLabPrivateAndTokensVerifyWithItsJWKS() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("plsa-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let paths = LabPaths(lab: "sa", stateRoot: root)
        try FileManager.default.createDirectory(atPath: paths.directory, withIntermediateDirectories: true)
        let issuer = try ServiceAccountIssuer.loadOrCreate(paths, now: { 1_800_000_000 })
        let again = try ServiceAccountIssuer.loadOrCreate(paths)
        #expect(again.keyID == issuer.keyID)
        #expect(again.jwks == issuer.jwks)
        var info = stat()
        #expect(stat(ServiceAccountIssuer.keyFile(paths), &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(stat(ServiceAccountIssuer.directory(paths), &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)
        // kube-apiserver's key id: SHA-256 of the public key's PKIX DER, base64url.
        let publicKey = try P256.Signing.PublicKey(pemRepresentation: String(contentsOfFile: ServiceAccountIssuer.publicKeyFile(paths), encoding: .utf8))
        #expect(issuer.keyID == JSONWebToken.base64URL(Array(SHA256.hash(data: publicKey.derRepresentation))))

        let pod = Pod(metadata: ObjectMeta(name: "web", namespace: "team", uid: "u-1"), spec: PodSpec(containers: [Container(name: "a", image: "busybox")]))
        let token = try issuer.token(for: ServiceAccountTokenProjection(expirationSeconds: 3600, path: "token"), pod: pod)
        let claims = try Self.verify(token, jwks: issuer.jwks)
        #expect(claims.objectValue?["sub"] == "system:serviceaccount:team:default")
        #expect(claims.objectValue?["aud"] == ["https://kubernetes.default.svc.cluster.local"])
        #expect(claims.objectValue?["exp"] == .integer(1_800_003_600))
        #expect(issuer.openIDConfiguration.objectValue?["issuer"] == "https://kubernetes.default.svc.cluster.local")
        #expect(issuer.openIDConfiguration.objectValue?["id_token_signing_alg_values_supported"] == ["ES256"])
    }

    @Test func aPodsTokenIsWrittenAndRotatedAt80PercentOfItsLifetimeByTheVolumeSync() async throws {
        let now = Locked<Int64>(1_800_000_000)
        try await TestAgent.with(serveAPI: false, clock: { now.withLock { $0 } }) { agent in
            try await agent.create("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {level: info}")
            try await agent.createPod(Self.tokenPod)
            let pod = try #require(try await agent.waitForPod("api", "Running") { $0?.status.phase == .running })
            let volume = agent.paths.podDirectory(uid: pod.metadata.uid) + "/volumes/kubernetes.io~projected/token"
            func token() throws -> String { try String(contentsOfFile: volume + "/token", encoding: .utf8) }
            #expect(try String(contentsOfFile: volume + "/level", encoding: .utf8) == "info")
            let first = try token()
            guard let documents = await agent.controller.serviceAccountIssuerDocuments() else { Issue.record("no JWKS"); return }
            let jwks = try JSONReader.value(from: String(decoding: documents.jwks, as: UTF8.self))
            let claims = try Self.verify(first, jwks: jwks)
            #expect(claims.objectValue?["aud"] == ["vault"])
            #expect(claims.objectValue?["iat"] == .integer(1_800_000_000))
            #expect(claims.objectValue?["exp"] == .integer(1_800_000_600))
            #expect(claims.objectValue?["kubernetes.io"]?.objectValue?["pod"] == .object(["name": "api", "uid": .string(pod.metadata.uid)]))

            // 80 % of 600 s is 480 s: until then the sync keeps the token, after it writes a new one.
            now.withLock { $0 = 1_800_000_480 }
            await agent.controller.syncVolumes()
            #expect(try token() == first)
            now.withLock { $0 = 1_800_000_481 }
            await agent.controller.syncVolumes()
            let second = try token()
            #expect(second != first)
            let renewed = try Self.verify(second, jwks: jwks)
            #expect(renewed.objectValue?["iat"] == .integer(1_800_000_481))
            #expect(renewed.objectValue?["exp"] == .integer(1_800_001_081))
            // The set was replaced whole: `..data` names the new directory, the file is read through it.
            let link = try FileManager.default.destinationOfSymbolicLink(atPath: volume + "/token")
            #expect(link == "..data/token")
        }
    }

    @Test func thePeriodicSyncPutsBackFilesChangedOrRemovedByHand() async throws {
        try await TestAgent.with(serveAPI: false, volumeSyncSeconds: 0.05) { agent in
            try await agent.create("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {level: info, mode: fast}")
            try await agent.createPod("""
                apiVersion: v1
                kind: Pod
                metadata: {name: vol}
                spec:
                  volumes: [{name: config, configMap: {name: settings}}]
                  containers:
                  - {name: app, image: busybox, command: [sleep, "3600"], volumeMounts: [{name: config, mountPath: /etc/config}]}
                """)
            let pod = try #require(try await agent.waitForPod("vol", "Running") { $0?.status.phase == .running })
            let volume = agent.paths.podDirectory(uid: pod.metadata.uid) + "/volumes/kubernetes.io~configmap/config"
            try "debug".write(toFile: volume + "/..data/level", atomically: false, encoding: .utf8)
            try FileManager.default.removeItem(atPath: volume + "/mode")
            #expect((try? String(contentsOfFile: volume + "/level", encoding: .utf8)) == "debug")
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                if (try? String(contentsOfFile: volume + "/level", encoding: .utf8)) == "info",
                   (try? String(contentsOfFile: volume + "/mode", encoding: .utf8)) == "fast" { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect((try? String(contentsOfFile: volume + "/level", encoding: .utf8)) == "info")
            #expect((try? String(contentsOfFile: volume + "/mode", encoding: .utf8)) == "fast")
        }
    }
}
