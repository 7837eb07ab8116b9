@testable import AgentTestSupport
import Foundation
import PodNet
@testable import PodlabCLI
import Testing

/// `--dry-run=server` sends `dryRun=All` and prints what kubectl prints; `--dry-run=client`
/// sends nothing that changes anything. The agent answers dry runs without storing.
@Suite("server and client dry runs of run, apply and delete")
struct DryRunCommandTests {
    static let manifest = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
          - name: web
            image: nginx
        """

    @Test func runServerDryRunPrintsTheServersObject() async throws {
        try await TestAgent.serving { agent in
            let t = agent.context()
            #expect(await t.run("run nginx --image nginx --restart=Never --dry-run=server -o yaml") == 0)
            #expect(agent.requestLines == ["POST /api/v1/namespaces/default/pods"])
            #expect(agent.requests.first?.query["dryRun"] == "All")
            let printed = try Pod(json: YAMLReader.value(from: t.stdout.text))
            // The namespace is the server's doing: the client sent none.
            #expect(printed.metadata.name == "nginx" && printed.metadata.namespace == "default")
            #expect(printed.spec.restartPolicy == .never)
            #expect(await agent.pod("nginx") == nil)
        }
    }

    @Test func runClientDryRunSendsNothing() async throws {
        try await TestAgent.serving { agent in
            let t = agent.context()
            #expect(await t.run("run nginx --image nginx --dry-run=client") == 0)
            #expect(t.stdout.text == "pod/nginx created (dry run)\n")
            #expect(agent.requests.isEmpty)
        }
    }

    @Test func applyServerDryRunCreatesAndConfiguresNothing() async throws {
        let file = try temporaryManifest(Self.manifest)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await TestAgent.serving { agent in
            let create = agent.context()
            #expect(await create.run("apply -f \(file) --dry-run=server") == 0)
            #expect(create.stdout.text == "pod/web created (server dry run)\n")
            #expect(await agent.pod("web") == nil)
            #expect(agent.requests.last?.method == "POST" && agent.requests.last?.query["dryRun"] == "All")

            // Now for real, then a changed image as a server dry run: the pod keeps its image.
            #expect(await agent.context().run("apply -f \(file)") == 0)
            let live = try #require(await agent.pod("web"))
            try Self.manifest.replacingOccurrences(of: "image: nginx", with: "image: httpd").write(toFile: file, atomically: true, encoding: .utf8)
            let configure = agent.context()
            #expect(await configure.run("apply -f \(file) --dry-run=server") == 0)
            #expect(configure.stdout.text == "pod/web configured (server dry run)\n")
            #expect(agent.requests.last?.method == "PUT" && agent.requests.last?.query["dryRun"] == "All")
            #expect(await agent.pod("web") == live)
        }
    }

    @Test func applyClientDryRunOnlyReads() async throws {
        let file = try temporaryManifest(Self.manifest)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await TestAgent.serving { agent in
            let t = agent.context()
            #expect(await t.run("apply -f \(file) --dry-run=client") == 0)
            #expect(t.stdout.text == "pod/web created (dry run)\n")
            #expect(agent.requests.allSatisfy { $0.method == "GET" })
            #expect(await agent.pod("web") == nil)
        }
    }

    @Test func deleteServerDryRunSaysSoAndDoesNotWait() async throws {
        try await TestAgent.serving { agent in
            let before = try await agent.add(Pod.run(name: "a", image: "nginx"))
            let t = agent.context()
            #expect(await t.run("delete pod a --dry-run=server") == 0)
            #expect(t.stdout.text == "pod \"a\" deleted (server dry run)\n")
            #expect(agent.requestLines == ["DELETE /api/v1/namespaces/default/pods/a"])
            #expect(agent.requests.first?.query["dryRun"] == "All")
            #expect(await agent.pod("a") == before)
        }
    }

    @Test func deleteClientDryRunReadsThePodOnly() async throws {
        try await TestAgent.serving { agent in
            try await agent.add(Pod.run(name: "a", image: "nginx"))
            let t = agent.context()
            #expect(await t.run("delete pod a --dry-run=client") == 0)
            #expect(t.stdout.text == "pod \"a\" deleted (dry run)\n")
            #expect(agent.requestLines == ["GET /api/v1/namespaces/default/pods/a"])
            #expect(await agent.pod("a")?.metadata.deletionTimestamp == nil)

            let missing = agent.context()
            #expect(await missing.run("delete pod nope --dry-run=client") == 1)
            #expect(missing.stderr.text == "Error from server (NotFound): pods \"nope\" not found\n")
            #expect(missing.stdout.text.isEmpty)
        }
    }

    @Test("a bare --dry-run is the client's; a bad value is refused before anything is sent", arguments: [
        ("delete pod a --dry-run", 0, "pod \"a\" deleted (dry run)\n", ""),
        ("delete pod a --dry-run=maybe", 1, "", "error: Invalid dry-run value (maybe). Must be \"none\", \"server\", or \"client\".\n"),
    ])
    func deleteFlagValues(line: String, status: Int32, stdout: String, stderr: String) async throws {
        try await TestAgent.serving { agent in
            try await agent.add(Pod.run(name: "a", image: "nginx"))
            let t = agent.context()
            #expect(await t.run(line) == status)
            #expect(t.stdout.text == stdout)
            #expect(t.stderr.text == stderr)
            #expect(agent.requests.allSatisfy { $0.method == "GET" })
        }
    }
}

@Suite("exec: only into a running container")
struct ExecContainerTests {
    /// A pod `web` of containers (name, image) whose listed containers exited (code 1) once
    /// running; an unknown image leaves its container waiting in ErrImagePull.
    static func pod(_ agent: TestAgent, _ containers: [(String, String)], exited: [String] = [], restartPolicy: RestartPolicy = .never) async throws {
        var pod = Pod.run(name: "web", image: "nginx", restartPolicy: restartPolicy)
        pod.spec.containers = containers.map { Container(name: $0.0, image: $0.1) }
        try await agent.createPod(pod)
        for (name, image) in containers where image != "nope" {
            try await agent.wait("\(name) running") { agent.runtime.isRunning("web", container: name) }
        }
        for name in exited {
            agent.runtime.exit("web", container: name, .exited(1))
            try await agent.waitForPod("web", "\(name) exited") { $0?.status[container: name]?.state.terminated != nil }
        }
        if containers.contains(where: { $0.1 == "nope" }) {
            try await agent.waitForPod("web", "ErrImagePull") { $0?.status.containerStatuses.contains { $0.state.waiting?.reason == "ErrImagePull" } == true }
        }
    }

    @Test("a container waiting for its image or exited is not found by the kubelet", arguments: [
        ("exec web -- true", [("web", "nope")], [String](), "error: unable to upgrade connection: container not found (\"web\")\n"),
        ("exec web -c side -- true", [("web", "nginx"), ("side", "nginx")], ["side"], "error: unable to upgrade connection: container not found (\"side\")\n"),
        ("exec web -q -- true", [("web", "nginx"), ("side", "nginx")], ["web"], "error: unable to upgrade connection: container not found (\"web\")\n"),
    ])
    func notRunning(line: String, containers: [(String, String)], exited: [String], message: String) async throws {
        try await TestAgent.serving { agent in
            try await Self.pod(agent, containers, exited: exited)
            let before = agent.requests.count
            let t = agent.context()
            #expect(await t.run(line) == 1)
            #expect(t.stderr.text == message)
            #expect(t.stdout.text.isEmpty)
            // Refused before the sandbox is asked for: nothing was started.
            #expect(agent.requestLines.dropFirst(before) == ["GET /api/v1/namespaces/default/pods/web"])
        }
    }

    @Test func unknownContainerIsTheServersBadRequest() async throws {
        try await TestAgent.serving { agent in
            try await Self.pod(agent, [("web", "nginx")])
            let t = agent.context()
            #expect(await t.run("exec web -c nope -- true") == 1)
            #expect(t.stderr.text == "Error from server (BadRequest): container nope is not valid for pod web\n")
        }
    }

    @Test func completedPodIsRefusedByPhase() async throws {
        try await TestAgent.serving { agent in
            try await Self.pod(agent, [("web", "nginx")], exited: ["web"])
            try await agent.waitForPod("web", "Failed") { $0?.status.phase == .failed }
            let t = agent.context()
            #expect(await t.run("exec web -- true") == 1)
            #expect(t.stderr.text == "error: cannot exec into a container in a completed pod; current phase is Failed\n")
        }
    }
}
