import Foundation
import KernelTestSupport
import PodNet
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A pod reads its projected service account token; the test decodes it and verifies its
/// signature with Debian's `openssl` against the key the agent serves at `/openid/v1/jwks`,
/// converted here from the JWK to a PEM without podlab's code.
@Suite("Projected service account tokens", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct ServiceAccountTokenE2ETests {
    /// A P-256 public key's SubjectPublicKeyInfo before its uncompressed point (RFC 5480).
    static let p256SPKIPrefix: [UInt8] = [0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01,
                                          0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00]

    static func pem(x: [UInt8], y: [UInt8]) -> String {
        let der = p256SPKIPrefix + [0x04] + x + y
        return "-----BEGIN PUBLIC KEY-----\n" + Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed]) + "\n-----END PUBLIC KEY-----\n"
    }

    /// JWS's r ‖ s as the DER `ECDSA-Sig-Value` openssl reads.
    static func derSignature(_ raw: [UInt8]) -> [UInt8] {
        func integer(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
            var value = Array(bytes.drop { $0 == 0 })
            if value.isEmpty || value[0] & 0x80 != 0 { value.insert(0, at: 0) }
            return [0x02, UInt8(value.count)] + value
        }
        let body = integer(raw[0..<32]) + integer(raw[32..<64])
        return [0x30, UInt8(body.count)] + body
    }

    static func base64URL(_ text: String) -> [UInt8]? {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while standard.count % 4 != 0 { standard += "=" }
        return Data(base64Encoded: standard).map(Array.init)
    }

    @Test("a pod's token: kube-apiserver's claims for the pod, signed ES256, verified by openssl with the served JWKS and with sa.pub")
    func tokenVerifies() async throws {
        try #require(access("/usr/bin/openssl", X_OK) == 0 && access("/usr/bin/curl", X_OK) == 0, "openssl and curl: scripts/install-deps installs them")
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: reader}
                spec:
                  volumes:
                  - name: tokens
                    projected:
                      sources:
                      - serviceAccountToken: {path: vault-token, audience: vault, expirationSeconds: 7200}
                      - serviceAccountToken: {path: api-token}
                  containers:
                  - {name: app, image: busybox, command: [sleep, "3600"], volumeMounts: [{name: tokens, mountPath: /var/run/secrets/tokens}]}
                """, as: "reader.yaml")
            try await lab.eventually("reader Running") { (try lab.pod("reader")["status"] as? [String: Any])?["phase"] as? String == "Running" }
            let uid = try #require((try lab.pod("reader")["metadata"] as? [String: Any])?["uid"] as? String)
            let spec = try lab.pod("reader")["spec"] as? [String: Any]
            let sources = (((spec?["volumes"] as? [[String: Any]])?.first?["projected"] as? [String: Any])?["sources"] as? [[String: Any]])
            #expect((sources?[1]["serviceAccountToken"] as? [String: Any])?["expirationSeconds"] as? Int == 3600, "the default lifetime is stored")

            let described = try lab.run(["describe", "pod", "reader"]).stdout.split(separator: "\n")
            #expect(described.filter { $0.hasPrefix("    TokenExpirationSeconds:") }.map { $0.split(separator: " ").last } == ["7200", "3600"], "\(described)")
            let token = try lab.run(["exec", "reader", "--", "cat", "/var/run/secrets/tokens/vault-token"]).stdout
            let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            try #require(parts.count == 3, "not a compact JWS: \(token)")
            let headerBytes = try #require(Self.base64URL(parts[0])), claimBytes = try #require(Self.base64URL(parts[1]))
            let header = try #require(JSONSerialization.jsonObject(with: Data(headerBytes)) as? [String: Any])
            let claims = try #require(JSONSerialization.jsonObject(with: Data(claimBytes)) as? [String: Any])
            #expect(header["alg"] as? String == "ES256")
            #expect(claims["iss"] as? String == "https://kubernetes.default.svc.cluster.local")
            #expect(claims["sub"] as? String == "system:serviceaccount:default:default")
            #expect(claims["aud"] as? [String] == ["vault"])
            let iat = try #require(claims["iat"] as? Int), exp = try #require(claims["exp"] as? Int)
            #expect(exp - iat == 7200 && claims["nbf"] as? Int == iat)
            #expect(abs(iat - Int(Date().timeIntervalSince1970)) < 600)
            let kubernetes = try #require(claims["kubernetes.io"] as? [String: Any])
            #expect(kubernetes["namespace"] as? String == "default")
            #expect(kubernetes["pod"] as? [String: String] == ["name": "reader", "uid": uid])
            #expect((kubernetes["serviceaccount"] as? [String: Any])?["name"] as? String == "default")
            let apiToken = try lab.run(["exec", "reader", "--", "cat", "/var/run/secrets/tokens/api-token"]).stdout
            let apiClaimBytes = try #require(Self.base64URL(String(apiToken.split(separator: ".")[1])))
            let apiClaims = try #require(JSONSerialization.jsonObject(with: Data(apiClaimBytes)) as? [String: Any])
            #expect(apiClaims["aud"] as? [String] == ["https://kubernetes.default.svc.cluster.local"])

            // The key, as a verifier finds it: the served discovery document and JWKS.
            let socket = "\(lab.stateRoot)/\(lab.name)/agent.sock"
            let discovery = try Command.check("/usr/bin/curl", ["-sS", "--unix-socket", socket, "http://localhost/.well-known/openid-configuration"])
            let configuration = try #require(JSONSerialization.jsonObject(with: Data(discovery.utf8)) as? [String: Any])
            #expect(configuration["issuer"] as? String == "https://kubernetes.default.svc.cluster.local")
            #expect(configuration["jwks_uri"] as? String == "https://kubernetes.default.svc.cluster.local/openid/v1/jwks")
            let jwksText = try Command.check("/usr/bin/curl", ["-sS", "--unix-socket", socket, "http://localhost/openid/v1/jwks"])
            // The HTTPS API serves the same document, behind the lab's token, as kube-apiserver does.
            let api = "\(lab.stateRoot)/\(lab.name)/kube-api"
            let port = try String(contentsOfFile: "\(api)/port", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let bearer = try String(contentsOfFile: "\(api)/token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let overHTTPS = try Command.check("/usr/bin/curl", ["-sS", "--cacert", "\(api)/ca.crt", "-H", "Authorization: Bearer \(bearer)",
                                                               "https://127.0.0.1:\(port)/openid/v1/jwks"])
            #expect(overHTTPS == jwksText)
            let keys = try #require((JSONSerialization.jsonObject(with: Data(jwksText.utf8)) as? [String: Any])?["keys"] as? [[String: Any]])
            let key = try #require(keys.first { $0["kid"] as? String == header["kid"] as? String }, "no key \(header["kid"] ?? "") in \(jwksText)")
            #expect(key["kty"] as? String == "EC" && key["crv"] as? String == "P-256" && key["alg"] as? String == "ES256")
            let x = try #require((key["x"] as? String).flatMap(Self.base64URL)), y = try #require((key["y"] as? String).flatMap(Self.base64URL))
            let signature = try #require(Self.base64URL(parts[2]))
            try #require(x.count == 32 && y.count == 32 && signature.count == 64)

            let scratch = "\(lab.stateRoot)/verify"
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            try Self.pem(x: x, y: y).write(toFile: "\(scratch)/jwks.pem", atomically: true, encoding: .utf8)
            try Data(Self.derSignature(signature)).write(to: URL(fileURLWithPath: "\(scratch)/signature.der"))
            try (parts[0] + "." + parts[1]).write(toFile: "\(scratch)/signed", atomically: true, encoding: .utf8)
            let keyFiles = ["\(scratch)/jwks.pem", "\(lab.stateRoot)/\(lab.name)/service-account/sa.pub"]
            for file in keyFiles {
                let verified = try Command.run("/usr/bin/openssl", ["dgst", "-sha256", "-verify", file, "-signature", "\(scratch)/signature.der", "\(scratch)/signed"])
                #expect(verified.stdout == "Verified OK\n", "\(file): \(verified.stdout) \(verified.stderr)")
            }
            // A token changed by one byte does not verify.
            try (parts[0] + "." + parts[1].dropLast() + (parts[1].last == "A" ? "B" : "A")).write(toFile: "\(scratch)/signed", atomically: true, encoding: .utf8)
            let forged = try Command.run("/usr/bin/openssl", ["dgst", "-sha256", "-verify", keyFiles[0], "-signature", "\(scratch)/signature.der", "\(scratch)/signed"])
            #expect(forged.stdout != "Verified OK\n")

            // The signing key is root's alone.
            var info = stat()
            #expect(stat("\(lab.stateRoot)/\(lab.name)/service-account/sa.key", &info) == 0 && info.st_mode & 0o777 == 0o600)
        }
    }

    @Test("bad token projections are refused as kube-apiserver refuses them; clusterTrustBundle names its feature gate")
    func refusals() async throws {
        try await TestLab.with { lab in
            let short = try lab.run(["apply", "-f", "-"], input: """
                apiVersion: v1
                kind: Pod
                metadata: {name: short}
                spec:
                  volumes: [{name: t, projected: {sources: [{serviceAccountToken: {path: token, expirationSeconds: 60}}]}}]
                  containers: [{name: app, image: busybox, command: [sleep, "3600"]}]
                """, expectSuccess: false)
            #expect(short.status != .exited(0))
            #expect(short.stderr.contains(#"The Pod "short" is invalid: spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"#), "\(short.stderr)")
            let bundle = try lab.run(["apply", "-f", "-"], input: """
                apiVersion: v1
                kind: Pod
                metadata: {name: bundle}
                spec:
                  volumes: [{name: t, projected: {sources: [{clusterTrustBundle: {signerName: example.com/s, path: ca.crt}}]}}]
                  containers: [{name: app, image: busybox, command: [sleep, "3600"]}]
                """, expectSuccess: false)
            #expect(bundle.stderr.contains("spec.volumes[0].projected.sources[0].clusterTrustBundle: Forbidden: not supported by podlab yet: Kubernetes serves it only with the ClusterTrustBundleProjection feature gate"), "\(bundle.stderr)")
            #expect(try lab.run(["get", "pods", "-o", "name"]).stdout == "")
        }
    }
}
