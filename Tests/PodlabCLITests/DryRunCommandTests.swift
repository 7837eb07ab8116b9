import Foundation
import PodNet
@testable import PodlabCLI
import Testing

/// `--dry-run=server` sends `dryRun=All` and prints what kubectl prints; `--dry-run=client`
/// sends nothing that changes anything. The fake agent answers dry runs without storing.
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
        let cluster = FakeCluster()
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("run nginx --image nginx --restart=Never --dry-run=server -o yaml") == 0)
            #expect(agent.requestLines == ["POST /api/v1/namespaces/default/pods"])
            #expect(agent.requests.first?.query["dryRun"] == "All")
            let printed = try Pod(json: YAMLReader.value(from: t.stdout.text))
            // The namespace is the server's doing: the client sent none.
            #expect(printed.metadata.name == "nginx" && printed.metadata.namespace == "default")
            #expect(printed.spec.restartPolicy == .never)
            #expect(cluster.pod("default", "nginx") == nil)
        }
    }

    @Test func runClientDryRunSendsNothing() async throws {
        let cluster = FakeCluster()
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("run nginx --image nginx --dry-run=client") == 0)
            #expect(t.stdout.text == "pod/nginx created (dry run)\n")
            #expect(agent.requests.isEmpty)
        }
    }

    @Test func applyServerDryRunCreatesAndConfiguresNothing() async throws {
        let cluster = FakeCluster()
        let file = try temporaryManifest(Self.manifest)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let create = agent.context()
            #expect(await create.run("apply -f \(file) --dry-run=server") == 0)
            #expect(create.stdout.text == "pod/web created (server dry run)\n")
            #expect(cluster.pod("default", "web") == nil)
            #expect(agent.requests.last?.method == "POST" && agent.requests.last?.query["dryRun"] == "All")

            // Now for real, then a changed image as a server dry run: the pod keeps its image.
            #expect(await agent.context().run("apply -f \(file)") == 0)
            let live = try #require(cluster.pod("default", "web"))
            try Self.manifest.replacingOccurrences(of: "image: nginx", with: "image: httpd").write(toFile: file, atomically: true, encoding: .utf8)
            let configure = agent.context()
            #expect(await configure.run("apply -f \(file) --dry-run=server") == 0)
            #expect(configure.stdout.text == "pod/web configured (server dry run)\n")
            #expect(agent.requests.last?.method == "PUT" && agent.requests.last?.query["dryRun"] == "All")
            #expect(cluster.pod("default", "web") == live)
        }
    }

    @Test func applyClientDryRunOnlyReads() async throws {
        let cluster = FakeCluster()
        let file = try temporaryManifest(Self.manifest)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("apply -f \(file) --dry-run=client") == 0)
            #expect(t.stdout.text == "pod/web created (dry run)\n")
            #expect(agent.requests.allSatisfy { $0.method == "GET" })
            #expect(cluster.pod("default", "web") == nil)
        }
    }

    @Test func deleteServerDryRunSaysSoAndDoesNotWait() async throws {
        let cluster = FakeCluster(lingerReads: 3)
        cluster.add(Pod.run(name: "a", image: "nginx"))
        let before = cluster.pod("default", "a")
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("delete pod a --dry-run=server") == 0)
            #expect(t.stdout.text == "pod \"a\" deleted (server dry run)\n")
            #expect(agent.requestLines == ["DELETE /api/v1/namespaces/default/pods/a"])
            #expect(agent.requests.first?.query["dryRun"] == "All")
            #expect(cluster.pod("default", "a") == before)
        }
    }

    @Test func deleteClientDryRunReadsThePodOnly() async throws {
        let cluster = FakeCluster(lingerReads: 3)
        cluster.add(Pod.run(name: "a", image: "nginx"))
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("delete pod a --dry-run=client") == 0)
            #expect(t.stdout.text == "pod \"a\" deleted (dry run)\n")
            #expect(agent.requestLines == ["GET /api/v1/namespaces/default/pods/a"])
            #expect(cluster.pod("default", "a")?.metadata.deletionTimestamp == nil)

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
        let cluster = FakeCluster()
        cluster.add(Pod.run(name: "a", image: "nginx"))
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
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
    static func pod(_ states: [(String, ContainerState)], phase: PodPhase = .running) -> FakeCluster {
        let cluster = FakeCluster()
        var pod = Pod.run(name: "web", image: "nginx")
        pod.spec.containers = states.map { Container(name: $0.0, image: "nginx") }
        cluster.add(pod)
        cluster.state.withLock { state in
            var live = state.pods["default/web"]!
            live.status.phase = phase
            for (index, (_, containerState)) in states.enumerated() {
                live.status.containerStatuses[index].state = containerState
                live.status.containerStatuses[index].ready = containerState.running != nil
            }
            state.pods["default/web"] = live
        }
        return cluster
    }

    static let errImagePull = ContainerState.waiting(reason: "ErrImagePull", message: "Failed to pull image \"nope\"")
    static let exited = ContainerState.terminated(.init(exitCode: 1, reason: "Error", startedAt: FakeCluster.created, finishedAt: FakeCluster.created))
    static let running = ContainerState.running(startedAt: FakeCluster.created)

    @Test("a container waiting for its image or exited is not found by the kubelet", arguments: [
        ("exec web -- true", [("web", errImagePull)], "error: unable to upgrade connection: container not found (\"web\")\n"),
        ("exec web -c side -- true", [("web", running), ("side", exited)], "error: unable to upgrade connection: container not found (\"side\")\n"),
        ("exec web -q -- true", [("web", exited), ("side", running)], "error: unable to upgrade connection: container not found (\"web\")\n"),
    ])
    func notRunning(line: String, states: [(String, ContainerState)], message: String) async throws {
        let cluster = Self.pod(states)
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run(line) == 1)
            #expect(t.stderr.text == message)
            #expect(t.stdout.text.isEmpty)
            // Refused before the sandbox is asked for: nothing was started.
            #expect(agent.requestLines == ["GET /api/v1/namespaces/default/pods/web"])
        }
    }

    @Test func unknownContainerIsTheServersBadRequest() async throws {
        let cluster = Self.pod([("web", Self.running)])
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("exec web -c nope -- true") == 1)
            #expect(t.stderr.text == "Error from server (BadRequest): container nope is not valid for pod web\n")
        }
    }

    @Test func completedPodIsRefusedByPhase() async throws {
        let cluster = Self.pod([("web", Self.exited)], phase: .failed)
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("exec web -- true") == 1)
            #expect(t.stderr.text == "error: cannot exec into a container in a completed pod; current phase is Failed\n")
        }
    }
}
