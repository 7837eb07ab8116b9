import Foundation
import KernelTestSupport
import Netns
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// kubectl's streaming verbs against a lab: `exec` (both streams, the exit code, stdin), `cp`
/// both ways, `attach`, `run -i`, `port-forward` — over WebSocket where kubectl speaks it (≥ 1.30)
/// (port-forward as SPDY tunnelled in WebSocket messages) and SPDY/3.1 (1.20) — the answer to a
/// refused upgrade, and the Python client's `stream()`.
@Suite("kubectl exec, attach, cp and port-forward against a lab", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct KubectlStreamingTests {
    static let pods = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: shell
        spec:
          containers:
          - name: shell
            image: busybox
            command: ["sleep", "3600"]
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: ticker
        spec:
          containers:
          - name: ticker
            image: busybox
            command: ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.3; done"]
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
          - name: web
            image: nginx
            ports:
            - containerPort: 80
        """

    static func start(_ lab: TestLab, _ names: [String] = ["shell", "ticker", "web"]) async throws {
        try lab.run(["apply", "-f", "-"], input: pods)
        for name in names {
            try await lab.eventually("\(name) Running") {
                (try lab.pod(name)["status"] as? [String: Any])?["phase"] as? String == "Running"
            }
        }
    }

    @Test("exec: stdout and stderr apart, the exit code, stdin; cp both ways; attach; run -i --rm",
          .enabled(if: !KubectlBinary.found.isEmpty, "no kubectl on this machine: scripts/install-deps installs Debian's kubernetes-client"),
          arguments: KubectlBinary.found)
    func execCpAttach(binary: KubectlBinary) async throws {
        try await TestLab.with { lab in
            let kubectl = try KubectlTests.kubectl(binary, for: lab)
            defer { try? FileManager.default.removeItem(atPath: kubectl.cacheDirectory) }
            try await Self.start(lab, ["shell", "ticker"])

            let failing = try kubectl.run(["exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3"], expectSuccess: false)
            #expect(failing.stdout == "out\n")
            #expect(failing.stderr.hasPrefix("err\n"), "\(failing.stderr)")
            #expect(failing.status == .exited(3), "kubectl passes the command's exit code on: \(failing.stderr)")

            #expect(try kubectl.run(["exec", "shell", "--", "hostname"]).stdout == "shell\n")
            #expect(try kubectl.run(["exec", "-i", "shell", "--", "sh", "-c", "tr a-z A-Z; echo done"], input: "piped stdin\n").stdout == "PIPED STDIN\ndone\n")
            let unknown = try kubectl.run(["exec", "shell", "--", "no-such-program"], expectSuccess: false)
            #expect(!unknown.succeeded)
            #expect(unknown.stderr.contains("no-such-program"), "\(unknown.stderr)")
            let missing = try kubectl.run(["exec", "nope", "--", "true"], expectSuccess: false)
            #expect(missing.stderr.contains(#"pods "nope" not found"#), "\(missing.stderr)")

            // cp runs tar in the container; containers share the host's file system, so the
            // files live in a directory of this test's own.
            let directory = NSTemporaryDirectory() + "podlab-cp-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: directory + "/in", withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let content = (0..<2000).map { "line \($0) of a file copied by kubectl cp\n" }.joined()
            try content.write(toFile: directory + "/local.txt", atomically: true, encoding: .utf8)
            try kubectl.run(["cp", directory + "/local.txt", "shell:\(directory)/in/copied.txt"])
            #expect(try kubectl.run(["exec", "shell", "--", "cat", "\(directory)/in/copied.txt"]).stdout == content)
            try kubectl.run(["cp", "shell:\(directory)/in/copied.txt", directory + "/back.txt"])
            #expect(try String(contentsOfFile: directory + "/back.txt", encoding: .utf8) == content)

            // attach follows the container's output from now on, until the client is ended. Waited
            // for rather than given a fixed time: kubectl's start (the 1.3x dispatcher, TLS,
            // discovery, the pod, the upgrade) takes seconds on a loaded machine.
            let attachOutput = kubectl.cacheDirectory + "/attach.out"
            let attach = try Spawner.spawn(SpawnRequest(
                executable: "/usr/bin/timeout", arguments: ["60", binary.path, "--cache-dir", kubectl.cacheDirectory, "attach", "ticker"],
                environment: ["PATH": Spawner.defaultPath, "KUBECONFIG": kubectl.kubeconfig, "HOME": kubectl.cacheDirectory],
                stdout: .file(attachOutput, append: false), stderr: .file(attachOutput + ".err", append: false), newSession: true))
            do {
                defer {
                    try? attach.signal(SIGTERM, group: true)
                    _ = try? attach.wait()
                }
                try await lab.eventually("kubectl attach printing the ticker's lines") {
                    KernelTest.readWholeFile(attachOutput).contains("tick ")
                }
            } catch {
                Issue.record("kubectl attach: \(KernelTest.readWholeFile(attachOutput + ".err"))")
                throw error
            }

            // run -i attaches to a new pod's stdin (stdinOnce): its end of file ends the command.
            let run = try kubectl.run(["run", "once", "--image", "busybox", "-i", "--rm", "--restart=Never", "--", "sh", "-c", "read line; echo got $line"],
                                      input: "hello\n")
            #expect(run.stdout.hasPrefix("got hello\n"), "\(run.stdout)\(run.stderr)")
        }
    }

    @Test("port-forward: curl on the host's loopback reaches nginx in the pod (SPDY for kubectl 1.20, the WebSocket tunnel for current kubectl)",
          .enabled(if: !KubectlBinary.found.isEmpty, "no kubectl on this machine: scripts/install-deps installs Debian's kubernetes-client"),
          arguments: KubectlBinary.found)
    func portForward(binary: KubectlBinary) async throws {
        try await TestLab.with { lab in
            let kubectl = try KubectlTests.kubectl(binary, for: lab)
            defer { try? FileManager.default.removeItem(atPath: kubectl.cacheDirectory) }
            try await Self.start(lab, ["web"])
            // Local ports the kernel picks (`:80`), read from kubectl's lines: a port chosen here
            // and freed again could be taken by another test's connection before kubectl binds it.
            let output = kubectl.cacheDirectory + "/port-forward.out"
            let child = try Spawner.spawn(SpawnRequest(
                executable: "/usr/bin/timeout", arguments: ["120", binary.path, "--cache-dir", kubectl.cacheDirectory, "port-forward", "pod/web", ":80", ":81"],
                environment: ["PATH": Spawner.defaultPath, "KUBECONFIG": kubectl.kubeconfig, "HOME": kubectl.cacheDirectory],
                stdout: .file(output, append: false), stderr: .file(output + ".err", append: false), newSession: true))
            defer {
                try? child.signal(SIGTERM, group: true)
                _ = try? child.wait()
            }
            func forwarded(_ remote: Int) -> UInt16? {
                KernelTest.readWholeFile(output).split(separator: "\n").lazy.compactMap { line -> UInt16? in
                    guard line.hasPrefix("Forwarding from 127.0.0.1:"), line.hasSuffix(" -> \(remote)") else { return nil }
                    return UInt16(line.dropFirst("Forwarding from 127.0.0.1:".count).prefix { $0 != " " })
                }.first
            }
            do {
                try await lab.eventually("kubectl port-forward listening") { forwarded(80) != nil && forwarded(81) != nil }
            } catch {
                Issue.record("kubectl port-forward: \(KernelTest.readWholeFile(output))\(KernelTest.readWholeFile(output + ".err"))")
                throw error
            }
            let port = try #require(forwarded(80))
            for _ in 0..<3 {
                let page = try Command.run("/usr/bin/curl", ["-sS", "--max-time", "20", "http://127.0.0.1:\(port)/"])
                #expect(page.stdout.contains("Welcome to nginx!"), "\(page.stderr)\n\(Self.forwarderDiagnosis(child.pid, output: output))")
            }
        }
    }

    /// Why a forwarded port may not answer: whether the forwarder (`timeout` and its child) still
    /// runs, the network namespace it and a process spawned now are in against the test's own,
    /// and what it printed.
    static func forwarderDiagnosis(_ pid: Int32, output: String) -> String {
        func namespace(_ process: String) -> String {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(process)/ns/net")) ?? "gone"
        }
        let spawned = (try? Command.run("/usr/bin/readlink", ["/proc/self/ns/net"]))?.stdout.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
        let children = KernelTest.readWholeFile("/proc/\(pid)/task/\(pid)/children")
        return "forwarder \(pid): \(kill(pid, 0) == 0 ? "running" : "gone"), children [\(children)], network namespace \(namespace("\(pid)")); "
            + "the test's \(namespace("self")), a process spawned now \(spawned)\n"
            + "its output:\n\(KernelTest.readWholeFile(output))\(KernelTest.readWholeFile(output + ".err"))"
    }

    @Test("podlab port-forward: a port the kernel picks and a given one reach nginx in the pod from the host's loopback; half-closed clients get their answer; bad ports and addresses are refused as kubectl refuses them")
    func podlabPortForward() async throws {
        try await TestLab.with { lab in
            try await Self.start(lab, ["web"])
            let output = "\(lab.stateRoot)/port-forward.out"
            // A given port: one found free here, tried again with another if a connection of
            // another test took it meanwhile.
            var port: UInt16 = 0
            var child: ChildProcess?
            for _ in 0..<5 where child == nil {
                port = try Self.freeLoopbackPort()
                let started = try Spawner.spawn(SpawnRequest(
                    executable: "/usr/bin/timeout", arguments: ["120", lab.podlab, "port-forward", "pod/web", ":80", "\(port):80"],
                    environment: lab.environment, stdout: .file(output, append: false), stderr: .file(output + ".err", append: false), newSession: true))
                let listening = port
                try await lab.eventually("podlab port-forward listening or refused") {
                    KernelTest.readWholeFile(output).contains("Forwarding from 127.0.0.1:\(listening) -> 80") || KernelTest.readWholeFile(output + ".err").contains("in use")
                }
                if KernelTest.readWholeFile(output + ".err").contains("in use") {
                    _ = try? started.wait()
                } else {
                    child = started
                }
            }
            let forwarder = try #require(child, "no free port in five tries")
            defer {
                try? forwarder.signal(SIGTERM, group: true)
                _ = try? forwarder.wait()
            }
            let text = try String(contentsOfFile: output, encoding: .utf8)
            let picked = try #require(text.split(separator: "\n").first.flatMap { line in
                line.hasPrefix("Forwarding from 127.0.0.1:") ? UInt16(line.dropFirst("Forwarding from 127.0.0.1:".count).prefix { $0 != " " }) : nil
            }, "\(text)")
            #expect(picked != port && picked > 0)
            for target in [picked, port] {
                let page = try Command.run("/usr/bin/curl", ["-sS", "--max-time", "20", "http://127.0.0.1:\(target)/"])
                #expect(page.stdout.contains("Welcome to nginx!"), "\(page.stderr)\n\(Self.forwarderDiagnosis(forwarder.pid, output: output))")
            }
            // A client that sends its request and closes its side still reads the answer.
            let client = "import socket,sys\ns=socket.create_connection(('127.0.0.1',\(port)),20)\ns.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\ns.shutdown(socket.SHUT_WR)\nd=b''\nwhile True:\n    c=s.recv(65536)\n    if not c: break\n    d+=c\nsys.stdout.write(d.decode())\n"
            let halfClosed = try Command.run("/usr/bin/python3", ["-c", client])
            #expect(halfClosed.stdout.contains("Welcome to nginx!"), "\(halfClosed.stdout)\(halfClosed.stderr)")
            try await lab.eventually("a line per connection") {
                (try String(contentsOfFile: output, encoding: .utf8)).components(separatedBy: "Handling connection for \(port)\n").count - 1 >= 2
            }

            for (arguments, message) in [
                (["web", "8080:0"], "error: remote port must be > 0\n"),
                (["web", "a:b:c"], "error: invalid port format 'a:b:c'\n"),
                (["web", "8080:80", "--address", "0.0.0.0"], "error: podlab port-forward listens only on the host's loopback: 0.0.0.0 is not localhost, 127.0.0.1 or ::1\n"),
                (["svc/web", "8080:80"], "error: podlab port-forward forwards to pods only: svc/web is a svc (name one of its pods)\n"),
                (["nope", "8080:80"], "Error from server (NotFound): pods \"nope\" not found\n"),
            ] {
                let refused = try lab.run(["port-forward"] + arguments, expectSuccess: false)
                #expect(refused.status == .exited(1) && refused.stderr == message, "\(arguments): \(refused.stderr)")
            }
        }
    }

    @Test("a refused upgrade is answered with its Status (WebSocket and SPDY): a missing pod's 404, a protocol not spoken's 400")
    func refusedUpgrades() async throws {
        try await TestLab.with { lab in
            try await Self.start(lab, ["web"])
            let status = try lab.run(["status"]).stdout
            let server = try #require(status.split(separator: "\n").first { $0.hasPrefix("API server: ") }).dropFirst("API server: ".count)
            let directory = "\(lab.stateRoot)/\(lab.name)/kube-api"
            let token = try String(contentsOfFile: directory + "/token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            func upgrade(_ headers: [String], _ path: String) throws -> String {
                try Command.run("/usr/bin/curl", ["-s", "--http1.1", "--max-time", "20", "--cacert", directory + "/ca.crt", "-w", "\n%{http_code}",
                                                  "-H", "Authorization: Bearer \(token)", "-H", "Connection: Upgrade"]
                                + headers.flatMap { ["-H", $0] } + ["\(server)\(path)"]).stdout
            }
            let webSocket = ["Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]
            let missing = try upgrade(webSocket + ["Sec-WebSocket-Protocol: v5.channel.k8s.io"], "/api/v1/namespaces/default/pods/nope/exec?command=true&stdout=true")
            #expect(missing.hasSuffix("\n404") && missing.contains(#""message":"pods \"nope\" not found""#), "\(missing)")
            let unspoken = try upgrade(webSocket + ["Sec-WebSocket-Protocol: SPDY/3.1+unknown.k8s.io"], "/api/v1/namespaces/default/pods/web/portforward?ports=80")
            #expect(unspoken.hasSuffix("\n400") && unspoken.contains("Upgrade request required"), "\(unspoken)")
            let spdy = try upgrade(["Upgrade: SPDY/3.1", "X-Stream-Protocol-Version: v9.channel.k8s.io"], "/api/v1/namespaces/default/pods/web/exec?command=true&stdout=true")
            #expect(spdy.hasSuffix("\n400") && spdy.contains("Upgrade request required"), "\(spdy)")
        }
    }

    /// A port the kernel gives out on 127.0.0.1 now (loopback: the host's own, touched only by a bind).
    static func freeLoopbackPort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw CocoaError(.fileWriteUnknown) }
        return UInt16(bigEndian: address.sin_port)
    }

    static let pythonScript = """
        import sys
        from kubernetes import client, config
        from kubernetes.stream import stream
        config.load_kube_config(config_file=sys.argv[1])
        v1 = client.CoreV1Api()
        out = stream(v1.connect_get_namespaced_pod_exec, "shell", "default", command=["hostname"],
                     stderr=True, stdin=False, stdout=True, tty=False)
        print("hostname", out.strip())
        resp = stream(v1.connect_get_namespaced_pod_exec, "shell", "default", command=["sh", "-c", "echo out; echo err >&2; exit 3"],
                      stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
        resp.run_forever(timeout=30)
        print("stdout", resp.read_stdout().strip(), "stderr", resp.read_stderr().strip(), "code", resp.returncode)
        resp = stream(v1.connect_get_namespaced_pod_exec, "shell", "default", command=["sh", "-c", "read a; echo got $a"],
                      stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False)
        resp.write_stdin("line\\n")
        resp.run_forever(timeout=30)
        print("stdin", resp.read_stdout().strip(), "code", resp.returncode)
        """

    @Test("the Python client's stream(): exec with both streams, the exit code and stdin over WebSocket",
          .enabled(if: FileManager.default.fileExists(atPath: KubectlTests.pythonClientDirectory + "/kubernetes"),
                   "the Python kubernetes client is not installed under /opt/podlab/python (scripts/install-deps installs it)"))
    func pythonStream() async throws {
        try await TestLab.with { lab in
            try await Self.start(lab, ["shell"])
            let kubeconfig = try lab.run(["kubeconfig", "--path"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let result = try Command.run("/usr/bin/timeout", ["120", "/usr/bin/env", "python3", "-c", Self.pythonScript, kubeconfig],
                                         environment: ["PATH": "/root/.pyenv/shims:" + Spawner.defaultPath, "PYTHONPATH": KubectlTests.pythonClientDirectory,
                                                       "HOME": "/root", "PYTHONDONTWRITEBYTECODE": "1"])
            #expect(result.succeeded, "\(result.stderr)")
            #expect(result.stdout == """
                hostname shell
                stdout out stderr err code 3
                stdin got line code 0

                """, "\(result.stderr)")
        }
    }
}
