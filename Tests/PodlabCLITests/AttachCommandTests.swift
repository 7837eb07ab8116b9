import Foundation
import PodNet
import Testing
@testable import PodlabCLI

@Suite("attach: the terminal kubectl settles on, and the session")
struct AttachCommandTests {
    @Test("-i/-t against the container's terminal and this process's stdin", arguments: [
        // stdin, tty, container tty, input is a terminal, quiet → raw, warnings
        (true, true, true, true, false, true, [String]()),
        (true, true, true, false, false, false, ["Unable to use a TTY - input is not a terminal or the right kind of file"]),
        // Not gated by -q, as in kubectl.
        (true, true, true, false, true, false, ["Unable to use a TTY - input is not a terminal or the right kind of file"]),
        (true, true, false, true, false, false, ["error: Unable to use a TTY - container c did not allocate one"]),
        (true, true, false, true, true, false, []),
        // A container with a terminal gets one without -t.
        (true, false, true, true, false, true, []),
        // No stdin, no raw terminal.
        (false, true, true, true, false, false, []),
        (false, false, false, false, false, false, []),
        (true, false, false, true, false, false, []),
    ])
    func terminal(stdin: Bool, tty: Bool, containerTTY: Bool, inputIsTerminal: Bool, quiet: Bool, raw: Bool, warnings: [String]) {
        let plan = AttachTerminal(stdin: stdin, tty: tty, container: "c", containerTTY: containerTTY, inputIsTerminal: inputIsTerminal, quiet: quiet)
        #expect(plan.raw == raw)
        #expect(plan.warnings == warnings)
    }

    @Test func onlyARawSessionTellsHowToComeBack() {
        let raw = AttachTerminal(stdin: true, tty: true, container: "shell", containerTTY: true, inputIsTerminal: true, quiet: false)
        #expect(raw.reattachMessage(pod: "t", namespace: "default")
            == "Session ended, resume using 'podlab attach t -c shell -i -t' command when the pod is running")
        #expect(raw.reattachMessage(pod: "t", namespace: "team")
            == "Session ended, resume using 'podlab attach t -c shell -n team -i -t' command when the pod is running")
        let quiet = AttachTerminal(stdin: true, tty: true, container: "shell", containerTTY: true, inputIsTerminal: true, quiet: true)
        #expect(quiet.reattachMessage(pod: "t", namespace: "default") == nil)
        let piped = AttachTerminal(stdin: true, tty: true, container: "shell", containerTTY: true, inputIsTerminal: false, quiet: false)
        #expect(piped.reattachMessage(pod: "t", namespace: "default") == nil)
    }

    // MARK: Against a fake agent

    /// Canned pods, with the attach endpoint answering `frames` (or `refusal`): a container's
    /// streams need a process, which a lab without root has not.
    static func agent(frames: [StreamFrame] = [], refusal: APIStatus? = nil, pods: [Pod]) -> @Sendable (FakeRequest) async -> FakeResponse {
        { request in
            guard request.path.hasSuffix("/attach") else {
                return CannedPods.answer(request, pods: pods) ?? .status(APIStatus.synthesized(code: 404, body: ""))
            }
            if let refusal { return .status(refusal) }
            return .body(200, Data(frames.flatMap(\.encoded)))
        }
    }

    static func pod(_ name: String, containers: [String] = ["web"], phase: PodPhase = .running) -> Pod {
        var pod = Pod(metadata: ObjectMeta(name: name, namespace: "default"),
                      spec: PodSpec(containers: containers.map { Container(name: $0, image: "nginx") }))
        CannedPods.running(&pod)
        pod.status.phase = phase
        return pod
    }

    @Test func outputComesBackOnItsOwnStreamsAndTheRequestSaysWhatItWants() async throws {
        let frames = [StreamFrame(.stdout, Array("GET / 200\n".utf8)), StreamFrame(.stderr, Array("warn\n".utf8)),
                      StreamFrame.end(StreamFrame.success)]
        let pods = [Self.pod("web")]
        try await FakeAgent.with(Self.agent(frames: frames, pods: pods)) { agent in
            let t = agent.context()
            #expect(await t.run("attach web") == 0)
            #expect(t.stdout.text == "GET / 200\n")
            #expect(t.stderr.text == "If you don't see a command prompt, try pressing enter.\nwarn\n")
            let attach = try #require(agent.requests.first { $0.path.hasSuffix("/attach") })
            #expect(attach.method == "POST" && attach.path == "/api/v1/namespaces/default/pods/web/attach")
            #expect(attach.query == ["container": "web", "stdin": "false", "stdout": "true", "stderr": "true", "tty": "false"])
            #expect(attach.body.isEmpty, "without -i nothing is sent")
        }
    }

    @Test func aFailedSessionIsAnError() async throws {
        let frames = [StreamFrame.end(APIStatus(message: "the agent is shutting down", reason: "ServiceUnavailable", code: 503))]
        let pods = [Self.pod("web")]
        try await FakeAgent.with(Self.agent(frames: frames, pods: pods)) { agent in
            let t = agent.context()
            #expect(await t.run("attach web -q") == 1)
            #expect(t.stderr.text == "error: the agent is shutting down\n")
        }
    }

    @Test func aSessionCutShortIsAnError() async throws {
        let pods = [Self.pod("web")]
        try await FakeAgent.with(Self.agent(frames: [StreamFrame(.stdout, Array("partial".utf8))], pods: pods)) { agent in
            let t = agent.context()
            #expect(await t.run("attach web -q") == 1)
            #expect(t.stdout.text == "partial")
            #expect(t.stderr.text.contains("the attach session ended without its status"))
        }
    }

    @Test func theAgentsRefusalIsAnUpgradeFailure() async throws {
        let refusal = APIStatus(message: "container not found (\"web\")", reason: .notFound, code: 404)
        let pods = [Self.pod("web")]
        try await FakeAgent.with(Self.agent(refusal: refusal, pods: pods)) { agent in
            let t = agent.context()
            #expect(await t.run("attach web -q") == 1)
            #expect(t.stderr.text == "error: unable to upgrade connection: container not found (\"web\")\n")
        }
    }

    @Test("refused before connecting, as kubectl refuses", arguments: [
        ("attach done", "error: cannot attach a container in a completed pod; current phase is Succeeded\n"),
        ("attach two -c nope", "error: cannot attach to the container: container nope not found\n"),
        ("attach missing", "Error from server (NotFound): pods \"missing\" not found\n"),
    ])
    func refusals(line: String, stderr: String) async throws {
        let pods = [Self.pod("done", phase: .succeeded), Self.pod("two", containers: ["a", "b"])]
        try await FakeAgent.with(Self.agent(frames: [StreamFrame.end(StreamFrame.success)], pods: pods)) { agent in
            let t = agent.context()
            #expect(await t.run(line) == 1)
            #expect(t.stderr.text == stderr)
            #expect(!agent.requestLines.contains { $0.hasSuffix("/attach") })
        }
    }

    @Test func theFirstOfSeveralContainersIsNamedUnlessAnnotated() async throws {
        var annotated = Self.pod("picked", containers: ["a", "b"])
        annotated.metadata.annotations["kubectl.kubernetes.io/default-container"] = "b"
        let pods = [Self.pod("two", containers: ["a", "b"]), annotated]
        try await FakeAgent.with(Self.agent(frames: [StreamFrame.end(StreamFrame.success)], pods: pods)) { agent in
            let t = agent.context()
            #expect(await t.run("attach two") == 0)
            #expect(t.stderr.text.hasPrefix("Defaulted container \"a\" out of: a, b\n"))
            #expect(await t.run("attach picked -q") == 0)
            let containers = agent.requests.filter { $0.path.hasSuffix("/attach") }.map { $0.query["container"] }
            #expect(containers == ["a", "b"])
        }
    }
}
