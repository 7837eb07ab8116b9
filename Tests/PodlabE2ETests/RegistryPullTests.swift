import Foundation
import KernelTestSupport
import Netns
import PodNet
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Debian's `docker-registry` (the CNCF distribution registry) serving on the host's loopback,
/// its storage in a scratch directory; ended by its pid.
struct LocalRegistry {
    let port: UInt16
    let child: ChildProcess
    static let executable = "/usr/bin/docker-registry"

    var host: String { "127.0.0.1:\(port)" }

    static func start(directory: String) async throws -> LocalRegistry {
        try FileManager.default.createDirectory(atPath: "\(directory)/storage", withIntermediateDirectories: true)
        let port = try KubectlStreamingTests.freeLoopbackPort()
        try """
            version: 0.1
            log: {level: warn}
            storage: {filesystem: {rootdirectory: \(directory)/storage}}
            http: {addr: 127.0.0.1:\(port)}
            """.write(toFile: "\(directory)/config.yml", atomically: true, encoding: .utf8)
        let child = try Spawner.spawn(SpawnRequest(
            executable: executable, arguments: ["serve", "\(directory)/config.yml"], environment: ["PATH": Spawner.defaultPath],
            stdin: .null, stdout: .file("\(directory)/registry.log", append: true), stderr: .file("\(directory)/registry.log", append: true),
            newSession: true))
        let registry = LocalRegistry(port: port, child: child)
        for _ in 0..<100 {
            if (try? Command.run("/usr/bin/curl", ["-sf", "-o", "/dev/null", "http://127.0.0.1:\(port)/v2/"]))?.succeeded == true { return registry }
            try await Task.sleep(for: .milliseconds(100))
        }
        registry.stop()
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "docker-registry did not answer on 127.0.0.1:\(port)"])
    }

    func stop() {
        try? child.signal(SIGTERM, group: true)
        _ = try? child.wait()
    }

    /// `skopeo copy` of a `docker save` archive into the registry; returns the manifest digest
    /// the registry holds.
    func push(archive: String, as name: String) throws -> String {
        let destination = "docker://\(host)/\(name)"
        try Command.check("/usr/bin/skopeo", ["--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false", "docker-archive:\(archive)", destination])
        let inspect = try Command.check("/usr/bin/skopeo", ["inspect", "--tls-verify=false", destination])
        let json = try JSONSerialization.jsonObject(with: Data(inspect.utf8)) as? [String: Any]
        return try #require(json?["Digest"] as? String)
    }
}

@Suite("Images pulled from a registry on the loopback", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct RegistryPullTests {
    static var toolsPresent: Bool { access(LocalRegistry.executable, X_OK) == 0 && access("/usr/bin/skopeo", X_OK) == 0 }

    @Test("skopeo pushes an image; a pod pulls it by tag and serves its page; podlab image pull takes it by digest; a wrong digest, a missing tag and a registry that is down are ErrImagePull with the reason",
          .enabled(if: toolsPresent, "docker-registry and skopeo are missing: scripts/install-deps installs them"))
    func pullByTagAndDigest() async throws {
        try await TestLab.with(backoff: 0.5) { lab in
            let registry = try await LocalRegistry.start(directory: "\(lab.stateRoot)/registry")
            defer { registry.stop() }
            let page = "<h1>pulled</h1>\n"
            let image = try BusyboxWebImage(page: page)
            try image.writeDockerArchive("\(lab.stateRoot)/web.tar", tag: "web:1")
            let digest = try registry.push(archive: "\(lab.stateRoot)/web.tar", as: "team/web:1")

            try lab.run(["apply", "-f", "-"], input: """
                apiVersion: v1
                kind: Pod
                metadata: {name: web}
                spec: {containers: [{name: web, image: \(registry.host)/team/web:1}]}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: client}
                spec: {containers: [{name: curl, image: curlimages/curl, command: [sleep, "3600"]}]}
                """)
            for pod in ["web", "client"] {
                try await lab.eventually("pod \(pod) Running") { (try lab.pod(pod)["status"] as? [String: Any])?["phase"] as? String == "Running" }
            }
            let web = try lab.podIP("web")
            try await lab.eventually("the page") { try lab.run(["exec", "client", "--", "curl", "-s", "http://\(web)/"], expectSuccess: false).stdout == page }
            let events = try lab.run(["get", "events"]).stdout
            #expect(events.contains("Pulling image \"\(registry.host)/team/web:1\""))
            #expect(events.contains("Successfully pulled image \"\(registry.host)/team/web:1\""))
            #expect(try lab.containerStatus("web", "web")["imageID"] as? String == "\(registry.host)/team/web@\(digest)")

            // By digest, with podlab's CLI: the layers are there already.
            let pulled = try lab.run(["image", "pull", "\(registry.host)/team/web@\(digest)"])
            #expect(pulled.stderr.contains("skipped: already exists"))
            #expect(try lab.run(["image", "ls", "--digests"]).stdout.contains("\(registry.host)/team/web"))

            // A missing tag, a digest the registry does not hold, a registry that is down.
            let closed = try KubectlStreamingTests.freeLoopbackPort()
            let wrong = "sha256:" + String(repeating: "0", count: 64)
            let cases = [
                ("missing-tag", "\(registry.host)/team/web:2", "manifest unknown"),
                ("wrong-digest", "\(registry.host)/team/web@\(wrong)", "manifest unknown"),
                ("registry-down", "127.0.0.1:\(closed)/team/web:1", "connect: Connection refused"),
            ]
            for (name, reference, _) in cases {
                try lab.run(["run", name, "--image", reference, "--restart=Never"])
            }
            for (name, reference, reason) in cases {
                try await lab.eventually("\(name) in ErrImagePull or ImagePullBackOff") {
                    let waiting = (try lab.containerStatus(name, name)["state"] as? [String: Any])?["waiting"] as? [String: Any]
                    return ["ErrImagePull", "ImagePullBackOff"].contains(waiting?["reason"] as? String ?? "")
                }
                let failures = try lab.run(["describe", "pod", name]).stdout
                #expect(failures.contains("Failed to pull image \"\(reference)\"") && failures.contains(reason), "\(name): \(failures)")
            }
            let failed = try lab.run(["image", "pull", "\(registry.host)/team/web:2"], expectSuccess: false)
            #expect(failed.status == .exited(1) && failed.stderr.contains("manifest unknown"))
        }
    }

    @Test("three pods that want one image at once share one pull: each blob is fetched once, each pod gets its Pulled event (or finds the image present)",
          .enabled(if: toolsPresent, "docker-registry and skopeo are missing: scripts/install-deps installs them"))
    func sharedPull() async throws {
        try await TestLab.with(backoff: 0.5) { lab in
            let registry = try await LocalRegistry.start(directory: "\(lab.stateRoot)/registry")
            defer { registry.stop() }
            let image = try BusyboxWebImage(page: "shared\n")
            try image.writeDockerArchive("\(lab.stateRoot)/web.tar", tag: "web:1")
            _ = try registry.push(archive: "\(lab.stateRoot)/web.tar", as: "team/shared:1")
            let log = "\(lab.stateRoot)/registry/registry.log"
            func blobGets() -> Int {
                KernelTest.readWholeFile(log).split(separator: "\n").filter { $0.contains("\"GET /v2/team/shared/blobs/") }.count
            }
            let before = blobGets()  // skopeo's inspect read the config

            try lab.run(["apply", "-f", "-"], input: ["a", "b", "c"].map { """
                apiVersion: v1
                kind: Pod
                metadata: {name: web-\($0)}
                spec: {containers: [{name: web, image: \(registry.host)/team/shared:1}]}
                """ }.joined(separator: "\n---\n"))
            var pulled = 0
            for name in ["web-a", "web-b", "web-c"] {
                try await lab.eventually("pod \(name) Running") { (try lab.pod(name)["status"] as? [String: Any])?["phase"] as? String == "Running" }
                // A pod that asked once the pull had ended finds the image present, as the kubelet's would.
                let described = try lab.run(["describe", "pod", name]).stdout
                let waited = described.contains("Successfully pulled image \"\(registry.host)/team/shared:1\"")
                #expect(waited || described.contains("already present on machine"), "\(described)")
                if waited { pulled += 1 }
            }
            #expect(pulled >= 1)
            // The config and the one layer, once each, for the three pods.
            #expect(blobGets() - before == 2, "\(KernelTest.readWholeFile(log).split(separator: "\n").filter { $0.contains("\"GET /v2/") }.joined(separator: "\n"))")
        }
    }

    /// An HTTP proxy in front of the registry that cuts the first transfer of every large blob
    /// in the middle (headers and half the body, then the connection closed) and passes
    /// everything else on, `Range` included; it logs each GET with its `Range` header.
    static let breakingProxy = #"""
        import http.server, socketserver, sys, urllib.request, urllib.error
        upstream, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        cut = set()
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *args): pass
            def do_GET(self):
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("accept", "range", "authorization")}
                with open(log, "a") as f: f.write(f"GET {self.path} range={self.headers.get('Range', '-')}\n")
                try:
                    answer = urllib.request.urlopen(urllib.request.Request(upstream + self.path, headers=headers))
                    status, body, reply = answer.status, answer.read(), answer.headers
                except urllib.error.HTTPError as e:
                    status, body, reply = e.code, e.read(), e.headers
                self.send_response(status)
                for k, v in reply.items():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding", "date", "server"): self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if "/blobs/" in self.path and len(body) > 100000 and self.path not in cut:
                    cut.add(self.path)
                    self.wfile.write(body[: len(body) // 2]); self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)
        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
        Server(("127.0.0.1", port), Handler).serve_forever()
        """#

    @Test("a blob transfer that breaks goes on from where it stopped (Range), and the pod runs",
          .enabled(if: toolsPresent, "docker-registry and skopeo are missing: scripts/install-deps installs them"))
    func resumedPull() async throws {
        try await TestLab.with(backoff: 0.5) { lab in
            let registry = try await LocalRegistry.start(directory: "\(lab.stateRoot)/registry")
            defer { registry.stop() }
            let page = "resumed\n"
            let image = try BusyboxWebImage(page: page)
            try image.writeDockerArchive("\(lab.stateRoot)/web.tar", tag: "web:1")
            _ = try registry.push(archive: "\(lab.stateRoot)/web.tar", as: "team/resumed:1")

            let script = "\(lab.stateRoot)/proxy.py", log = "\(lab.stateRoot)/proxy.log"
            try Self.breakingProxy.write(toFile: script, atomically: true, encoding: .utf8)
            let port = try KubectlStreamingTests.freeLoopbackPort()
            let proxy = try Spawner.spawn(SpawnRequest(
                executable: "/usr/bin/python3", arguments: [script, "http://\(registry.host)", "\(port)", log], environment: ["PATH": Spawner.defaultPath],
                stdin: .null, stdout: .file(log + ".out", append: true), stderr: .file(log + ".out", append: true), newSession: true))
            defer {
                try? proxy.signal(SIGTERM, group: true)
                _ = try? proxy.wait()
            }
            try await lab.eventually("the proxy answering") {
                (try? Command.run("/usr/bin/curl", ["-sf", "-o", "/dev/null", "http://127.0.0.1:\(port)/v2/"]))?.succeeded == true
            }

            let reference = "127.0.0.1:\(port)/team/resumed:1"
            try lab.run(["run", "web", "--image", reference, "--restart=Never"])
            try await lab.eventually("web Running") { (try lab.pod("web")["status"] as? [String: Any])?["phase"] as? String == "Running" }
            let requests = KernelTest.readWholeFile(log).split(separator: "\n").filter { $0.contains("/blobs/") }
            // The layer: asked for whole, cut, then asked for from the byte it stopped at.
            let layer = try #require(requests.first { line in requests.filter { $0.split(separator: " ")[1] == line.split(separator: " ")[1] }.count == 2 },
                                     "\(requests)")
            let path = layer.split(separator: " ")[1]
            let ranges = requests.filter { $0.split(separator: " ")[1] == path }.map { $0.split(separator: " ")[2] }
            #expect(ranges.first == "range=-", "\(requests)")
            let resumedFrom = ranges.last.flatMap { Int($0.dropFirst("range=bytes=".count).dropLast()) }
            #expect((resumedFrom ?? 0) > 100_000, "the second GET goes on from the first's half: \(requests)")
            let ip = try lab.podIP("web")
            try await lab.eventually("the page") {
                try lab.run(["exec", "web", "--", "/bin/busybox", "wget", "-q", "-O", "-", "http://\(ip)/"], expectSuccess: false).stdout == page
            }
        }
    }

    /// An HTTP proxy in front of the registry that sends large blobs slowly (`rate` bytes a
    /// second), `Range` passed on both ways; it logs each GET with its `Range` header, and how many
    /// bytes of the body it sent (`SENT`) or had sent when the client went away (`BROKEN`).
    static let slowProxy = #"""
        import http.server, socketserver, sys, time, urllib.request, urllib.error
        upstream, port, log, rate = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
        def note(line):
            with open(log, "a") as f: f.write(line + "\n")
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *args): pass
            def do_GET(self):
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("accept", "range", "authorization")}
                note(f"GET {self.path} range={self.headers.get('Range', '-')}")
                try:
                    answer = urllib.request.urlopen(urllib.request.Request(upstream + self.path, headers=headers))
                except urllib.error.HTTPError as e:
                    answer = e
                self.send_response(answer.status)
                for k, v in answer.headers.items():
                    if k.lower() not in ("connection", "transfer-encoding", "date", "server"): self.send_header(k, v)
                self.end_headers()
                slow = "/blobs/" in self.path and int(answer.headers.get("Content-Length", "0")) > 1000000
                sent = 0
                try:
                    while True:
                        chunk = answer.read(65536)
                        if not chunk: break
                        self.wfile.write(chunk)
                        sent += len(chunk)
                        if slow: time.sleep(len(chunk) / rate)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    note(f"BROKEN {self.path} sent={sent}")
                    self.close_connection = True
                    return
                note(f"SENT {self.path} status={answer.status} sent={sent}")
        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
        Server(("127.0.0.1", port), Handler).serve_forever()
        """#

    @Test("a pull killed with -9 — the agent's, then podlab image pull's — keeps what arrived in the store's ingest; the next pull asks only for the rest (Range), and the image runs",
          .enabled(if: toolsPresent, "docker-registry and skopeo are missing: scripts/install-deps installs them"))
    func resumedAfterKill() async throws {
        try await TestLab.with(backoff: 0.5) { lab in
            let registry = try await LocalRegistry.start(directory: "\(lab.stateRoot)/registry")
            defer { registry.stop() }
            let page = "resumed after a kill\n"
            // 40 MB that no compression shrinks: the layer stays that large in the registry.
            let random = try #require(FileHandle(forReadingAtPath: "/dev/urandom")?.readData(ofLength: 40 << 20))
            let image = try BusyboxWebImage(page: page, extra: [("random", Array(random))])
            try image.writeDockerArchive("\(lab.stateRoot)/big.tar", tag: "big:1")
            _ = try registry.push(archive: "\(lab.stateRoot)/big.tar", as: "team/big:1")

            let script = "\(lab.stateRoot)/proxy.py", log = "\(lab.stateRoot)/proxy.log"
            try Self.slowProxy.write(toFile: script, atomically: true, encoding: .utf8)
            let port = try KubectlStreamingTests.freeLoopbackPort()
            let proxy = try Spawner.spawn(SpawnRequest(
                executable: "/usr/bin/python3", arguments: [script, "http://\(registry.host)", "\(port)", log, "\(6 << 20)"],
                environment: ["PATH": Spawner.defaultPath],
                stdin: .null, stdout: .file(log + ".out", append: true), stderr: .file(log + ".out", append: true), newSession: true))
            defer {
                try? proxy.signal(SIGTERM, group: true)
                _ = try? proxy.wait()
            }
            try await lab.eventually("the proxy answering") {
                (try? Command.run("/usr/bin/curl", ["-sf", "-o", "/dev/null", "http://127.0.0.1:\(port)/v2/"]))?.succeeded == true
            }

            let store = "\(lab.stateRoot)/\(lab.name)/image-store"
            /// The largest ingest: the layer's hex digest, the bytes it holds, the size it records.
            @Sendable func ingest() -> (hex: String, held: Int64, total: Int64?)? {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: "\(store)/ingest")) ?? []
                return names.compactMap { name -> (hex: String, held: Int64, total: Int64?)? in
                    var status = stat()
                    guard stat("\(store)/ingest/\(name)/data", &status) == 0 else { return nil }
                    let total = Int64(KernelTest.readWholeFile("\(store)/ingest/\(name)/total").trimmingCharacters(in: .whitespacesAndNewlines))
                    return (name, Int64(status.st_size), total)
                }.max { $0.held < $1.held }
            }
            func proxyLog(_ hex: String) -> [String] {
                KernelTest.readWholeFile(log).split(separator: "\n").map(String.init).filter { $0.contains("/blobs/sha256:\(hex) ") }
            }
            func rangeStart(_ line: String) -> Int64? {
                line.split(separator: " ").last.flatMap { $0.hasPrefix("range=bytes=") ? Int64($0.dropFirst("range=bytes=".count).dropLast()) : nil }
            }
            let reference = "127.0.0.1:\(port)/team/big:1"

            // The agent's pull, killed once the ingest holds some MB.
            try lab.run(["run", "big", "--image", reference, "--restart=Never"])
            let agent = try #require(lab.agentPID)
            #expect(await Self.kill(agent, when: { (ingest()?.held ?? 0) >= 4 << 20 }, timeout: 120), "the layer's ingest never held 4 MB")
            try await lab.eventually("agent \(agent) gone") { !processIsAlive(agent) }
            let kept = try #require(ingest())
            let size = try #require(kept.total, "the ingest records the blob's size")
            #expect(kept.held >= 4 << 20 && kept.held < size)
            #expect(access("\(store)/blobs/sha256/\(kept.hex)", F_OK) != 0, "bytes are a blob only once their digest is checked")
            #expect(!(try lab.run(["image", "ls"]).stdout.contains("team/big")), "the store names nothing half pulled")

            try lab.run(["up"])
            try await lab.eventually("big Running", timeout: .seconds(120)) { (try lab.pod("big")["status"] as? [String: Any])?["phase"] as? String == "Running" }
            var lines = proxyLog(kept.hex)
            var gets = lines.filter { $0.hasPrefix("GET ") }
            #expect(gets.count == 2 && gets.first?.hasSuffix(" range=-") == true, "\(lines)")
            let resumedFrom = try #require(gets.last.flatMap(rangeStart), "the restarted agent asked for the rest: \(lines)")
            #expect(resumedFrom >= kept.held, "from at least what the ingest held at the kill: \(resumedFrom) < \(kept.held)")
            #expect(lines.contains { $0.hasPrefix("SENT ") && $0.hasSuffix(" status=206 sent=\(size - resumedFrom)") }, "only the rest was sent: \(lines)")
            #expect(access("\(store)/blobs/sha256/\(kept.hex)", F_OK) == 0)
            #expect(access("\(store)/ingest/\(kept.hex)", F_OK) != 0, "the ingest goes once its blob is stored")
            let ip = try lab.podIP("big")
            try await lab.eventually("the page") {
                try lab.run(["exec", "big", "--", "/bin/busybox", "wget", "-q", "-O", "-", "http://\(ip)/"], expectSuccess: false).stdout == page
            }

            // The same across `podlab image pull` runs: the image removed, a pull killed, pulled again.
            try lab.run(["delete", "pod", "big"])
            try await lab.eventually("big gone") { try lab.run(["get", "pods", "-o", "name"]).stdout.isEmpty }
            try lab.run(["image", "rm", reference])
            try lab.run(["image", "prune"])
            #expect(access("\(store)/blobs/sha256/\(kept.hex)", F_OK) != 0)
            let pullLog = "\(lab.stateRoot)/pull.log"
            let pull = try Spawner.spawn(SpawnRequest(
                executable: lab.podlab, arguments: ["image", "pull", reference], environment: lab.environment,
                stdin: .null, stdout: .file(pullLog, append: true), stderr: .file(pullLog, append: true), newSession: true))
            #expect(await Self.kill(-pull.pid, when: { (ingest()?.held ?? 0) >= 4 << 20 }, timeout: 120), "the ingest never held 4 MB again")
            _ = try pull.wait()
            let left = try #require(ingest())
            #expect(left.hex == kept.hex)
            let again = try lab.run(["image", "pull", reference])
            #expect(again.stderr.contains("Copying blob \(kept.hex.prefix(12)): resuming at "), "\(again.stderr)")
            lines = proxyLog(kept.hex)
            gets = lines.filter { $0.hasPrefix("GET ") }
            #expect(gets.count == 4 && gets[2].hasSuffix(" range=-"), "\(lines)")
            let cliResumedFrom = try #require(gets.last.flatMap(rangeStart), "\(lines)")
            #expect(cliResumedFrom >= left.held)
            #expect(lines.contains { $0.hasPrefix("SENT ") && $0.hasSuffix(" status=206 sent=\(size - cliResumedFrom)") }, "\(lines)")
            #expect(try lab.run(["image", "ls"]).stdout.contains("team/big"))
            #expect(access("\(store)/ingest/\(kept.hex)", F_OK) != 0)
        }
    }

    /// SIGKILL to `pid` (a negative one: its process group) as soon as `condition` holds, looked
    /// at every 2 ms on a thread of its own: on a loaded machine the test's own tasks can be
    /// held back for seconds, longer than the window the condition holds in. False if it never
    /// held within `timeout` seconds.
    static func kill(_ pid: pid_t, when condition: @escaping @Sendable () -> Bool, timeout: Double) async -> Bool {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let deadline = Date().addingTimeInterval(timeout)
                while Date() < deadline {
                    if condition() {
                        continuation.resume(returning: Glibc.kill(pid, SIGKILL) == 0)
                        return
                    }
                    usleep(2000)
                }
                continuation.resume(returning: false)
            }
        }
    }

    @Test("a lab limited to the loopback refuses other registries before any traffic")
    func loopbackOnly() async throws {
        try await TestLab.with { lab in
            let refused = try lab.run(["image", "pull", "registry.example/app:1"], expectSuccess: false)
            #expect(refused.status == .exited(1))
            #expect(refused.stderr == "error: pulls from registries other than the loopback are off (PODLAB_REGISTRIES=loopback): registry.example\n")
        }
    }
}
