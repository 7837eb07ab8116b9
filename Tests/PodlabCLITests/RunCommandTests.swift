import ArgumentParser
@testable import AgentTestSupport
import Foundation
import PodNet
@testable import PodlabCLI
import Testing

@Suite("run: flags, the pod it builds, and the attached flow")
struct RunCommandTests {
    /// The tutorial's `kubectl run nginx-ser --image nginx --restart=Never --dry-run=client -o yaml`.
    static let tutorialGolden = """
        apiVersion: v1
        kind: Pod
        metadata:
          creationTimestamp: null
          labels:
            run: nginx-ser
          name: nginx-ser
        spec:
          containers:
          - image: nginx
            name: nginx-ser
            resources: {}
          dnsPolicy: ClusterFirst
          restartPolicy: Never
        status: {}

        """

    static func parse(_ line: String) throws -> Run {
        let words = KubectlArguments.normalize(line.split(separator: " ").map(String.init))
        let command = try Podlab.parseAsRoot(words)
        return try #require(command as? Run)
    }

    @Test("the tutorial's dry run, in every flag spelling", arguments: [
        "run nginx-ser --image nginx --restart=Never --dry-run=client -o yaml",
        "run nginx-ser --image=nginx --restart Never --dry-run=client -oyaml",
        "run --image nginx nginx-ser --restart=Never --dry-run -o=yaml",
        "run nginx-ser --restart=Never --image nginx --dry-run client --output yaml",
    ])
    func tutorialDryRun(line: String) async throws {
        let t = TestContext(root: "/nonexistent", lab: "podlab")
        #expect(await t.run(line) == 0)
        #expect(t.stdout.text == Self.tutorialGolden)
        #expect(t.stderr.text.isEmpty)
    }

    @Test func dryRunWithoutOutputFormat() async throws {
        let t = TestContext(root: "/nonexistent", lab: "podlab")
        #expect(await t.run("run nginx --image nginx --dry-run=client") == 0)
        #expect(t.stdout.text == "pod/nginx created (dry run)\n")
        let name = TestContext(root: "/nonexistent", lab: "podlab")
        #expect(await name.run("run nginx --image nginx --dry-run=client -o name") == 0)
        #expect(name.stdout.text == "pod/nginx\n")
    }

    @Test func curlWithArguments() throws {
        let run = try Self.parse("run curl --image curlimages/curl --restart=Never -it --rm -- curl -s http://10.244.1.5")
        #expect(run.stdin && run.tty && run.rm)
        let pod = try run.buildPod()
        let container = try #require(pod.spec.containers.first)
        #expect(container.name == "curl")
        #expect(container.image == "curlimages/curl")
        #expect(container.args == ["curl", "-s", "http://10.244.1.5"])
        #expect(container.command.isEmpty)
        #expect(container.preservedFields["stdin"] == .bool(true))
        #expect(container.preservedFields["stdinOnce"] == .bool(true))
        #expect(container.preservedFields["tty"] == .bool(true))
        #expect(pod.spec.restartPolicy == .never)
        #expect(pod.metadata.labels == ["run": "curl"])
    }

    @Test func commandLabelsEnvPort() throws {
        let run = try Self.parse("run web --image busybox --labels app=web,tier=front --env A=1 --env B=x=y --port 8080 --command -- sleep 3600")
        let pod = try run.buildPod()
        let container = try #require(pod.spec.containers.first)
        #expect(container.command == ["sleep", "3600"])
        #expect(container.args.isEmpty)
        #expect(container.env == [EnvVar(name: "A", value: "1"), EnvVar(name: "B", value: "x=y")])
        #expect(container.ports == [ContainerPort(containerPort: 8080)])
        #expect(pod.metadata.labels == ["app": "web", "tier": "front"])
        #expect(pod.spec.restartPolicy == .always)
        #expect(pod.spec.dnsPolicy == .clusterFirst)
    }

    @Test func wordsAfterTheNameAreArguments() throws {
        let pod = try Self.parse("run sleeper --image busybox --restart=OnFailure sleep 10").buildPod()
        #expect(pod.spec.containers.first?.args == ["sleep", "10"])
        #expect(pod.spec.restartPolicy == .onFailure)
    }

    @Test("kubectl's flag errors", arguments: [
        ("run x --restart=Never", "error: required flag(s) \"image\" not set\n"),
        ("run --image nginx", "error: NAME is required for run\n"),
        ("run x --image nginx --restart=Sometimes", "error: invalid restart policy: Sometimes\n"),
        ("run x --image nginx --rm", "error: --rm should only be used for attached containers\n"),
        ("run x --image nginx -t", "error: -i/--stdin is required for containers with -t/--tty=true\n"),
        ("run x --image nginx -i --dry-run=client", "error: --dry-run=[server|client] can't be used with attached containers options (--attach, --stdin, or --tty)\n"),
        ("run x --image nginx --dry-run=maybe", "error: Invalid dry-run value (maybe). Must be \"none\", \"server\", or \"client\".\n"),
        ("run x --image nginx --env NOVALUE --dry-run", "error: invalid env: NOVALUE\n"),
        ("run x --image nginx -l =v --dry-run", "error: invalid label spec: =v\n"),
        ("run x --image nginx --port http --dry-run", "error: invalid port \"http\": must be a number between 1 and 65535\n"),
        ("run x --image nginx -o wide --dry-run", "error: unable to match a printer suitable for the output format \"wide\", allowed formats are: json,name,yaml\n"),
    ])
    func flagErrors(line: String, message: String) async {
        let t = TestContext(root: "/nonexistent", lab: "podlab")
        #expect(await t.run(line) == 1)
        #expect(t.stderr.text == message)
        #expect(t.stdout.text.isEmpty)
    }

    @Test func createsAndSaysSo() async throws {
        try await TestAgent.serving { agent in
            let t = agent.context()
            #expect(await t.run("run nginx --image nginx") == 0)
            #expect(t.stdout.text == "pod/nginx created\n")
            #expect(await agent.pod("nginx")?.spec.containers.first?.image == "nginx")
            let again = agent.context()
            #expect(await again.run("run nginx --image nginx") == 1)
            #expect(again.stderr.text == "Error from server (AlreadyExists): pods \"nginx\" already exists\n")
        }
    }

    @Test func serverDryRunSendsDryRunAll() async throws {
        try await TestAgent.serving { agent in
            let t = agent.context()
            #expect(await t.run("run nginx --image nginx --dry-run=server") == 0)
            #expect(t.stdout.text == "pod/nginx created (server dry run)\n")
            #expect(agent.requests.first?.query["dryRun"] == "All")
            #expect(await agent.pod("nginx") == nil)
        }
    }

    /// What `run -i` says when it finds the container still running and cannot attach (the fake
    /// runtime's containers have no streams), before it reads the log instead.
    static func attachFallback(pod: String) -> [String] {
        ["Unable to use a TTY - input is not a terminal or the right kind of file",
         "If you don't see a command prompt, try pressing enter.",
         "warning: couldn't attach to pod/\(pod), falling back to streaming logs: unable to upgrade connection: container not found (\"\(pod)\")"]
    }

    @Test func attachedRunStreamsTheOutputDeletesThePodAndPassesTheExitCode() async throws {
        try await TestAgent.serving { agent in
            agent.runtime.script(pod: "curl", .init(output: "<h1>Welcome to nginx!</h1>\n", status: .exited(0)))
            let t = agent.context()
            #expect(await t.run(["run", "curl", "--image", "curlimages/curl", "--restart=Never", "-it", "--rm", "--", "curl", "http://10.244.1.5"]) == 0)
            #expect(t.stdout.text == "<h1>Welcome to nginx!</h1>\npod \"curl\" deleted\n")
            // The test's input is no terminal; a container still running when the command looks
            // is attached to (the fake runtime has no streams, so the command falls back to its
            // log, as kubectl does), one already done is only read.
            #expect(t.stderr.text.split(separator: "\n").allSatisfy { Self.attachFallback(pod: "curl").contains(String($0)) }, "\(t.stderr.text)")
            #expect(await agent.pod("curl") == nil)
            let lines = agent.requestLines
            #expect(lines.first == "POST /api/v1/namespaces/default/pods")
            #expect(lines.contains("GET /api/v1/namespaces/default/pods/curl/log"))
            #expect(lines.contains("DELETE /api/v1/namespaces/default/pods/curl"))
        }
    }

    @Test func attachedRunThatFails() async throws {
        try await TestAgent.serving { agent in
            agent.runtime.script(pod: "check", .init(output: "curl: (7) Failed to connect\n", status: .exited(7)))
            let t = agent.context()
            #expect(await t.run("run check --image curlimages/curl --restart=Never -i --rm -- curl http://10.244.9.9") == 7)
            #expect(t.stdout.text == "curl: (7) Failed to connect\npod \"check\" deleted\n")
            // After the fallback to the log when it still ran as the command looked (see above).
            let lines = t.stderr.text.split(separator: "\n").map(String.init)
            #expect(lines.last == "pod default/check terminated (Error)", "\(t.stderr.text)")
            #expect(lines.dropLast().allSatisfy(Self.attachFallback(pod: "check").contains), "\(t.stderr.text)")
        }
    }

    @Test func attachedRunWithAnImageThatDoesNotExist() async throws {
        try await TestAgent.serving { agent in
            let t = agent.context()
            #expect(await t.run("run x --image nosuch --restart=Never -i --rm") == 1)
            #expect(t.stdout.text == "pod \"x\" deleted\n")
            #expect(t.stderr.text.hasPrefix("error: pod default/x: container x cannot start: ErrImagePull: Failed to pull image \"nosuch\""), "\(t.stderr.text)")
        }
    }
}

@Suite("exec: which program runs")
struct ExecProgramTests {
    static let tools = "/opt/podlab/podlab-tools"
    /// Any executable stands in for BusyBox: `program` only checks that it is there.
    static let busybox = "/bin/sh"

    static func program(_ command: [String], image: String?, busybox: String = busybox,
                        hostLookup: (String) -> String? = { _ in nil }) throws -> Exec.Program {
        let catalog = try image.map { try ImageCatalog.resolve($0).image }
        return try Exec.program(for: command, image: catalog, environment: [:], toolsPath: tools, busyboxPath: busybox, hostLookup: hostLookup)
    }

    @Test("the image's own programs run as podlab-tools TOOL", arguments: [
        (["curl", "-s", "http://localhost"], "nginx", ["curl", "-s", "http://localhost"]),
        (["/usr/sbin/nginx", "-v"], "nginx", ["nginx", "-v"]),
        (["httpd", "-v"], "httpd", ["httpd", "-v"]),
        (["probe", "tcp", "x", "80"], "podlab/probe", ["probe", "tcp", "x", "80"]),
    ])
    func builtin(command: [String], image: String, arguments: [String]) throws {
        let program = try Self.program(command, image: image)
        #expect(program == Exec.Program(executable: Self.tools, argv0: "podlab-tools", arguments: arguments))
    }

    @Test("BusyBox applets run as BusyBox with argv[0] as given, in every image", arguments: [
        (["/bin/sh", "-c", "echo hi"], "busybox"), (["sh"], "nginx"), (["hostname"], "httpd"), (["wget", "-qO-", "http://x"], "busybox"),
        (["nc", "x", "80"], "curlimages/curl"), (["ping", "-c", "1", "x"], "podlab/echo"), (["ip", "addr"], nil),
    ] as [([String], String?)])
    func applet(command: [String], image: String?) throws {
        let program = try Self.program(command, image: image) { "/usr/bin/\($0)" }
        #expect(program == Exec.Program(executable: Self.busybox, argv0: command[0], arguments: Array(command.dropFirst())))
    }

    @Test func hostProgram() throws {
        let program = try Self.program(["python3", "-V"], image: "nginx") { $0 == "python3" ? "/usr/bin/python3" : nil }
        #expect(program == Exec.Program(executable: "/usr/bin/python3", argv0: "python3", arguments: ["-V"]))
        let absolute = try Self.program(["/usr/bin/python3"], image: "busybox") { $0 }
        #expect(absolute == Exec.Program(executable: "/usr/bin/python3", argv0: "/usr/bin/python3", arguments: []))
    }

    @Test func busyboxMissingNamesThePackage() {
        #expect {
            try Self.program(["sh"], image: "busybox", busybox: "/nonexistent/busybox")
        } throws: { error in
            "\(error)".contains("\"sh\" is the host's BusyBox, and /nonexistent/busybox is missing: install the Debian package busybox-static")
        }
    }

    @Test func unknownProgram() {
        #expect(throws: CLIError.self) {
            try Exec.program(for: ["nosuchprogram"], image: nil, environment: ["PATH": "/bin"], toolsPath: Self.tools) { _ in nil }
        }
    }

    @Test func execNeedsACommand() async {
        let t = TestContext(root: "/nonexistent", lab: "podlab")
        #expect(await t.run("exec nginx") == 1)
        #expect(t.stderr.text == "error: you must specify at least one command for the container\n")
    }
}
