import Foundation
import KernelTestSupport
import Netns
@testable import PodlabAgent
import PodNet
import Testing

/// mTLS between sidecars on a real lab: meshed pods talk through mTLS (the application sees the
/// client's identity in `x-forwarded-client-cert`, the server's proxy logs the handshake), a
/// STRICT pod refuses plain text, an unmeshed client still reaches a PERMISSIVE pod, and Debian's
/// `openssl s_client`, holding a certificate from the lab's mesh CA, completes a handshake with a
/// sidecar's inbound listener and is shown its chain and SPIFFE URI SAN.
@Suite("Mesh mTLS end to end", .enabled(if: KernelTest.isRoot && KernelTest.hasNft, "needs root and nft"), .rootNamespaceUnchanged)
struct MeshTLSTests {
    static let manifests = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: cart
          labels: {app: cart}
          annotations: {podlab.dev/mesh: enabled}
        spec:
          nodeName: n2
          containers:
          - {name: echo, image: podlab/echo, ports: [{containerPort: 8080}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: cart}
        spec:
          selector: {app: cart}
          ports: [{name: http, port: 80, targetPort: 8080}]
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: vault
          annotations: {podlab.dev/mesh: enabled, podlab.dev/mtls: STRICT}
        spec:
          nodeName: n2
          containers:
          - {name: echo, image: podlab/echo, ports: [{containerPort: 8080}]}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: front}
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: frontend
          namespace: front
          annotations: {podlab.dev/mesh: enabled}
        spec:
          nodeName: n1
          containers:
          - {name: app, image: busybox, command: [sleep, "3600"]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: plain}
        spec:
          nodeName: n1
          containers:
          - {name: app, image: busybox, command: [sleep, "3600"]}
        """

    /// Debian's curl in a pod's network namespace (`frontend` is in namespace `front`).
    func curl(_ lab: TestLab, from pod: String, _ arguments: [String]) throws -> CommandResult {
        try Command.run("curl", ["-sS", "--max-time", "10"] + arguments, netns: lab.podNamespace(pod, in: pod == "frontend" ? "front" : "default"))
    }

    /// The headers the echo server received, lower-cased names.
    func echoedHeaders(_ result: CommandResult) throws -> [String: String] {
        let echo = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout) \(result.stderr)")
        var headers: [String: String] = [:]
        for (name, value) in echo["headers"] as? [String: Any] ?? [:] {
            headers[name.lowercased()] = (value as? String) ?? (value as? [String])?.joined(separator: ",")
        }
        return headers
    }

    @Test("meshed pods talk mTLS; STRICT refuses plain text; an unmeshed client reaches a PERMISSIVE pod; openssl s_client completes a handshake")
    func mutualTLS() async throws {
        try await TestLab.with { lab in
            let file = lab.stateRoot + "/mtls.yaml"
            try Self.manifests.write(toFile: file, atomically: true, encoding: .utf8)
            try lab.run(["apply", "-f", file])
            try await lab.eventually("every pod Ready", timeout: .seconds(120)) {
                try ["cart", "vault", "frontend", "plain"].allSatisfy { try lab.isReady($0, namespace: $0 == "frontend" ? "front" : "default") }
            }
            let service = try JSONSerialization.jsonObject(with: Data(try lab.run(["get", "svc", "cart", "-o", "json"]).stdout.utf8)) as? [String: Any]
            let clusterIP = try #require((service?["spec"] as? [String: Any])?["clusterIP"] as? String)
            let cartIP = try lab.podIP("cart")
            let vaultIP = try lab.podIP("vault")
            // Podlab has no ServiceAccount objects (only `default`): identities differ by namespace.
            let expected = "By=spiffe://cluster.local/ns/default/sa/default;URI=spiffe://cluster.local/ns/front/sa/default"

            // Meshed → meshed through the Service: the echo server got the client's identity,
            // which only the server's sidecar writes, and only after an mTLS handshake.
            try await lab.eventually("the frontend's proxy knows cart is meshed and where the Service goes") {
                let result = try curl(lab, from: "frontend", ["http://\(clusterIP)/hello"])
                return result.succeeded && (try? echoedHeaders(result))?["x-forwarded-client-cert"] == expected
            }
            // A request's line is written just after its answer: the logs are read until they hold it.
            var serverLog = ""
            try await lab.eventually("cart's sidecar logged the request", detail: { serverLog }) {
                serverLog = try lab.run(["logs", "cart", "-c", "podlab-proxy"]).stdout
                return serverLog.contains("\"GET /hello\" 200") && serverLog.contains("mtls=spiffe://cluster.local/ns/front/sa/default")
            }
            #expect(serverLog.contains("mTLS, peer spiffe://cluster.local/ns/front/sa/default"), "\(serverLog)")
            #expect(serverLog.contains("\"GET /hello\" 200") && serverLog.contains("mtls=spiffe://cluster.local/ns/front/sa/default"), "\(serverLog)")
            var clientLog = ""
            try await lab.eventually("frontend's sidecar logged the request", detail: { clientLog }) {
                clientLog = try lab.run(["logs", "frontend", "-n", "front", "-c", "podlab-proxy"]).stdout
                return clientLog.contains("mtls=spiffe://cluster.local/ns/default/sa/default")
            }
            #expect(clientLog.contains("mtls=spiffe://cluster.local/ns/default/sa/default"), "\(clientLog)")
            let serverMetrics = try curl(lab, from: "plain", ["http://\(cartIP):15090/metrics"]).stdout
            #expect(serverMetrics.contains("podlab_proxy_tls_handshakes_total{direction=\"inbound\",result=\"succeeded\"}"), "\(serverMetrics)")
            #expect(!serverMetrics.contains("podlab_proxy_tls_handshakes_total{direction=\"inbound\",result=\"succeeded\"} 0"), "\(serverMetrics)")

            // Unmeshed → PERMISSIVE: plain text is let in, with no client identity (a forged one dropped).
            let plain = try curl(lab, from: "plain", ["-H", "x-forwarded-client-cert: URI=spiffe://cluster.local/ns/kube-system/sa/admin", "http://\(cartIP):8080/plain"])
            #expect(plain.succeeded, "\(plain.stderr)")
            #expect(try echoedHeaders(plain)["x-forwarded-client-cert"] == nil, "\(plain.stdout)")

            // Unmeshed → STRICT: the connection is closed without an answer; meshed → STRICT works.
            let refused = try curl(lab, from: "plain", ["http://\(vaultIP):8080/refused"])
            #expect(!refused.succeeded && refused.stdout.isEmpty, "\(refused.stdout) \(refused.stderr)")
            var vaultLog = ""
            try await lab.eventually("vault's sidecar logged the refusal", detail: { vaultLog }) {
                vaultLog = try lab.run(["logs", "vault", "-c", "podlab-proxy"]).stdout
                return vaultLog.contains("plain text refused (STRICT mode)")
            }
            #expect(vaultLog.contains("plain text refused (STRICT mode)"), "\(vaultLog)")
            #expect(!vaultLog.contains("/refused"), "\(vaultLog)")
            let admitted = try curl(lab, from: "frontend", ["http://\(vaultIP):8080/admitted"])
            #expect(admitted.succeeded, "\(admitted.stderr)")
            #expect(try echoedHeaders(admitted)["x-forwarded-client-cert"] == expected)

            // Debian's openssl with a certificate from the lab's mesh CA, from the unmeshed pod's
            // namespace, against the STRICT pod's inbound listener (its capture takes port 8080 there).
            let paths = LabPaths(lab: lab.name, stateRoot: lab.stateRoot)
            let authority = try MeshCertificates.loadOrCreateAuthority(paths)
            let identity = MeshIdentity(namespace: "tools", serviceAccount: "openssl")
            let (certificate, key) = try MeshCertificates.issue(identity, authority: authority)
            let directory = lab.stateRoot + "/openssl"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try (try certificate.serializeAsPEM().pemString + "\n").write(toFile: directory + "/client.crt", atomically: true, encoding: .utf8)
            try (key.pemRepresentation + "\n").write(toFile: directory + "/client.key", atomically: true, encoding: .utf8)
            try (try authority.certificatePEM).write(toFile: directory + "/ca.crt", atomically: true, encoding: .utf8)
            let sClient = ["s_client", "-connect", "\(vaultIP):8080", "-cert", directory + "/client.crt", "-key", directory + "/client.key",
                           "-CAfile", directory + "/ca.crt", "-verify_return_error", "-alpn", "podlab-mesh", "-servername", "podlab-mesh",
                           "-showcerts", "-ign_eof"]
            let handshake = try Command.run("openssl", sClient, netns: lab.podNamespace("plain"),
                                            input: "GET /openssl HTTP/1.1\r\nHost: vault\r\nConnection: close\r\n\r\n")
            #expect(handshake.stdout.contains("Verify return code: 0 (ok)"), "\(handshake.stdout) \(handshake.stderr)")
            #expect(handshake.stdout.contains("ALPN protocol: podlab-mesh"), "\(handshake.stdout)")
            #expect(handshake.stdout.contains("i:O = podlab, CN = podlab-mesh-ca-\(lab.name)"), "\(handshake.stdout)")
            #expect(handshake.stdout.contains("HTTP/1.1 200"), "\(handshake.stdout)")
            #expect(handshake.stdout.contains("URI=spiffe://cluster.local/ns/tools/sa/openssl"), "\(handshake.stdout)")
            // The sidecar's own certificate: its SPIFFE identity as the URI SAN.
            let leaf = try #require(handshake.stdout.components(separatedBy: "-----BEGIN CERTIFICATE-----").dropFirst().first
                .flatMap { $0.components(separatedBy: "-----END CERTIFICATE-----").first }
                .map { "-----BEGIN CERTIFICATE-----" + $0 + "-----END CERTIFICATE-----\n" })
            let san = try Command.run("openssl", ["x509", "-noout", "-ext", "subjectAltName"], input: leaf)
            #expect(san.stdout.contains("URI:spiffe://cluster.local/ns/default/sa/default"), "\(san.stdout) \(san.stderr)")
            // Without a client certificate the sidecar ends the handshake.
            let anonymous = try Command.run("openssl", ["s_client", "-connect", "\(vaultIP):8080", "-CAfile", directory + "/ca.crt", "-ign_eof"],
                                            netns: lab.podNamespace("plain"), input: "GET / HTTP/1.1\r\nHost: vault\r\n\r\n")
            #expect(!anonymous.stdout.contains("HTTP/1.1 200"), "\(anonymous.stdout) \(anonymous.stderr)")
        }
    }
}
