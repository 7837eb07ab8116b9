import Foundation
import KernelTestSupport
import Netns
import Testing

/// HTTP/2 through the mesh with clients and servers no one here wrote: Debian's nghttp (an
/// HTTP/2 client, prior knowledge over cleartext) in a meshed pod's network namespace, and
/// Debian's nghttpd (an HTTP/2 server) in another meshed pod's. The sidecars pass HTTP/2 through
/// as TCP (its connection preface is not an HTTP/1.1 request line), between themselves over
/// mTLS.
@Suite("Mesh: HTTP/2 end to end", .enabled(if: KernelTest.isRoot && KernelTest.hasNft, "needs root and nft"), .rootNamespaceUnchanged)
struct MeshHTTP2Tests {
    static let manifests = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: server
          annotations: {podlab.dev/mesh: enabled}
        spec:
          nodeName: n2
          containers:
          - {name: app, image: busybox, command: [sleep, "3600"]}
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: client
          annotations: {podlab.dev/mesh: enabled}
        spec:
          nodeName: n1
          containers:
          - {name: app, image: busybox, command: [sleep, "3600"]}
        """

    static let nghttp = "/usr/bin/nghttp", nghttpd = "/usr/sbin/nghttpd"

    @Test("nghttp in a meshed pod gets a page from nghttpd in another meshed pod over HTTP/2, through both sidecars and their mTLS")
    func http2() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.nghttp), FileManager.default.isExecutableFile(atPath: Self.nghttpd) else {
            Issue.record("nghttp and nghttpd are missing: scripts/install-deps installs nghttp2-client and nghttp2-server")
            return
        }
        try await TestLab.with { lab in
            let file = lab.stateRoot + "/h2.yaml"
            try Self.manifests.write(toFile: file, atomically: true, encoding: .utf8)
            try lab.run(["apply", "-f", file])
            try await lab.eventually("both pods Ready", timeout: .seconds(120)) {
                try ["server", "client"].allSatisfy { try lab.isReady($0) }
            }
            let serverIP = try lab.podIP("server")

            // nghttpd in the server pod's network namespace: what reaches it came through the
            // server's sidecar (its inbound capture), from loopback.
            let root = lab.stateRoot + "/h2-root"
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            try "hello over HTTP/2\n".write(toFile: root + "/hello.txt", atomically: true, encoding: .utf8)
            let serverOutput = lab.stateRoot + "/nghttpd.out"
            let server = try Spawner.spawn(SpawnRequest(
                executable: Self.nghttpd, arguments: ["--no-tls", "--verbose", "--htdocs=\(root)", "8443"],
                environment: ["PATH": Spawner.defaultPath],
                stdout: .file(serverOutput, append: false), stderr: .file(serverOutput + ".err", append: false),
                networkNamespace: lab.podNamespace("server"), newSession: true))
            defer {
                try? server.signal(SIGTERM, group: true)
                _ = try? server.wait()
            }

            var answer: CommandResult?
            try await lab.eventually("nghttp's request answered", timeout: .seconds(60),
                                     detail: { "\(answer?.stdout.suffix(3000) ?? "")\(answer?.stderr ?? "")\nnghttpd: \(KernelTest.readWholeFile(serverOutput).suffix(2000))" }) {
                let result = try Command.run("/usr/bin/timeout", ["20", Self.nghttp, "--verbose", "--timeout=10", "http://\(serverIP):8443/hello.txt"],
                                             netns: lab.podNamespace("client"))
                answer = result
                return result.succeeded && result.stdout.contains("hello over HTTP/2")
            }
            let answered = try #require(answer)
            // HTTP/2 end to end: the server's SETTINGS and its response HEADERS frame came back.
            #expect(answered.stdout.contains("recv SETTINGS frame"), "\(answered.stdout)")
            #expect(answered.stdout.contains(":status: 200"), "\(answered.stdout)")
            #expect(KernelTest.readWholeFile(serverOutput).contains("recv HEADERS frame"), "\(KernelTest.readWholeFile(serverOutput).suffix(2000))")

            // Between the sidecars it rode mTLS: the server's sidecar names the client's identity.
            var log = ""
            try await lab.eventually("the server's sidecar logged the client's mTLS connection", detail: { log }) {
                log = try lab.run(["logs", "server", "-c", "podlab-proxy"]).stdout
                return log.contains("→ 127.0.0.1:8443: mTLS, peer spiffe://cluster.local/ns/default/sa/default")
            }
        }
    }
}
