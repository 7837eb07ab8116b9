import Testing
@testable import PodNet

@Suite("Mesh: podlab test --scenario mesh")
struct MeshScenarioTests {
    typealias Answer = MeshScenario.Answer

    static func echo(_ hostname: String, client: String = "127.0.0.1:40000", headers: String = #""x-request-id":"abc""#) -> String {
        #"{"hostname":"\#(hostname)","podIP":"127.0.0.1","client":"\#(client)","method":"GET","path":"/","headers":{\#(headers)},"body":""}"# + "\n"
    }

    @Test("curl's output for several URLs is cut at the write-out marks: each body with its status, no answer as 000")
    func answers() {
        let output = Self.echo("v1") + "=#200#=" + "=#000#=" + "RBAC: access denied\n=#403#=" + Self.echo("v2") + "=#503#="
        let answers = MeshScenario.answers(output)
        #expect(answers.map(\.status) == ["200", "000", "403", "503"])
        #expect(answers.map(\.hostname) == ["v1", nil, nil, "v2"])
        #expect(answers[2].body == "RBAC: access denied\n")
        #expect(MeshScenario.answers("").isEmpty)
        #expect(MeshScenario.answers("half a body =#20").isEmpty)
    }

    @Test("captured traffic passes when the backend saw a loopback peer (its sidecar) and an x-request-id")
    func captured() {
        let xfcc = #""x-request-id":"7f3a","x-forwarded-client-cert":"By=spiffe://cluster.local/ns/m/sa/default;URI=spiffe://cluster.local/ns/m/sa/default""#
        let good = MeshScenario.captured(Answer(status: "200", body: Self.echo("web", client: "127.0.0.1:41234", headers: xfcc)),
                                         clientIP: "10.244.1.5", service: "web (10.96.0.9:80)")
        #expect(good.passed)
        #expect(good.detail == "client (10.244.1.5) → Service web (10.96.0.9:80): the backend saw 127.0.0.1:41234 (its sidecar), "
            + "x-request-id 7f3a, mTLS peer spiffe://cluster.local/ns/m/sa/default")
        // Not captured: the application saw the client itself, and nobody added an id.
        let direct = MeshScenario.captured(Answer(status: "200", body: Self.echo("web", client: "10.244.1.5:5555", headers: "")),
                                           clientIP: "10.244.1.5", service: "web")
        #expect(!direct.passed)
        #expect(direct.detail.contains("10.244.1.5:5555 (not its sidecar), x-request-id missing"))
        #expect(!MeshScenario.captured(Answer(status: "200", body: Self.echo("web", headers: "")), clientIP: "10.244.1.5", service: "web").passed)
        #expect(!MeshScenario.captured(Answer(status: "000", body: ""), clientIP: "10.244.1.5", service: "web").passed)
        #expect(!MeshScenario.captured(nil, clientIP: "10.244.1.5", service: "web").passed)
    }

    @Test("STRICT passes when the plain client got nothing from the STRICT pod and an answer from the PERMISSIVE one")
    func strict() {
        let ok = Answer(status: "200", body: Self.echo("v1"))
        let refused = MeshScenario.strict(refused: Answer(status: "000", body: ""), curlStatus: 56, control: ok, target: "10.244.1.7:8080",
                                          controlTarget: "v1 10.244.2.3:8080")
        #expect(refused.passed)
        #expect(refused.detail == "unmeshed plain → web (STRICT, 10.244.1.7:8080): refused (curl exit 56: connection reset); → v1 10.244.2.3:8080 (PERMISSIVE): 200")
        #expect(!MeshScenario.strict(refused: ok, curlStatus: 0, control: ok, target: "t", controlTarget: "c").passed)
        // Refused, but so is everything: the refusal proves nothing.
        #expect(!MeshScenario.strict(refused: Answer(status: "000", body: ""), curlStatus: 7, control: Answer(status: "000", body: ""),
                                     target: "t", controlTarget: "c").passed)
    }

    @Test("authorization passes on the outsider's 403 with Envoy's body and the own namespace's 200")
    func authorization() {
        let denied = Answer(status: "403", body: "RBAC: access denied\n"), ok = Answer(status: "200", body: Self.echo("web"))
        #expect(MeshScenario.authorization(outsider: denied, outsiderNamespace: "o", allowed: ok, namespace: "m").passed)
        #expect(MeshScenario.authorization(outsider: denied, outsiderNamespace: "o", allowed: ok, namespace: "m").detail
            == "MeshPolicy admits namespace m to web: client of o → 403; client of m → 200")
        #expect(!MeshScenario.authorization(outsider: ok, outsiderNamespace: "o", allowed: ok, namespace: "m").passed)
        #expect(!MeshScenario.authorization(outsider: Answer(status: "403", body: "forbidden by the app"), outsiderNamespace: "o", allowed: ok, namespace: "m").passed)
        #expect(!MeshScenario.authorization(outsider: denied, outsiderNamespace: "o", allowed: denied, namespace: "m").passed)
    }

    static func answers(ok: Int, failed: Int) -> [Answer] {
        Array(repeating: Answer(status: "200", body: echo("flaky")), count: ok) + Array(repeating: Answer(status: "503", body: echo("flaky")), count: failed)
    }

    @Test("retries pass at ≥ 99 % with the Route, and only when the backend alone failed enough", arguments: [
        (100, 100, 495, 5, true), (100, 100, 494, 6, false), (100, 100, 500, 0, true), (180, 20, 500, 0, false), (160, 40, 500, 0, true),
        (100, 100, 0, 0, false),
    ])
    func retries(plainOK: Int, plainFailed: Int, retriedOK: Int, retriedFailed: Int, passed: Bool) {
        let verdict = MeshScenario.retries(without: Self.answers(ok: plainOK, failed: plainFailed), with: Self.answers(ok: retriedOK, failed: retriedFailed),
                                           attempts: 10, retries: 97)
        #expect(verdict.passed == passed, "\(verdict.detail)")
    }

    @Test("the retries line gives both rates and the retries the sidecar counted")
    func retriesLine() {
        var verdict = MeshScenario.retries(without: Self.answers(ok: 97, failed: 103), with: Self.answers(ok: 499, failed: 1), attempts: 10, retries: 512)
        verdict.seconds = 3.14
        #expect(verdict.line == "PASS  retries hide a backend failing 50%: without retries 97/200 succeeded (48.5%); "
            + "Route with 10 retries: 499/500 (99.8%, needs ≥ 99%), 512 retries made (3.1s)")
    }

    static func split(v1: Int, v2: Int, failed: Int = 0) -> [Answer] {
        Array(repeating: Answer(status: "200", body: echo("v1")), count: v1) + Array(repeating: Answer(status: "200", body: echo("v2")), count: v2)
            + Array(repeating: Answer(status: "503", body: "no healthy upstream"), count: failed)
    }

    @Test("the split passes when v2's share is within 5 points of 10 and every request was answered", arguments: [
        (900, 100, 0, true), (850, 150, 0, true), (950, 50, 0, true), (849, 151, 0, false), (951, 49, 0, false), (1000, 0, 0, false),
        (899, 100, 1, false), (0, 0, 0, false),
    ])
    func split(v1: Int, v2: Int, failed: Int, passed: Bool) {
        let verdict = MeshScenario.split(Self.split(v1: v1, v2: v2, failed: failed))
        #expect(verdict.passed == passed, "\(verdict.detail)")
    }

    @Test("the split's line, and times under a second in milliseconds")
    func splitLine() {
        #expect(MeshScenario.Verdict.seconds(0.0421) == "42ms")
        #expect(MeshScenario.Verdict.seconds(0.9999) == "1.0s")
        #expect(MeshScenario.split(Self.split(v1: 897, v2: 103)).line == "PASS  90/10 split: 1000 requests: v1 897, v2 103 (10.3%, needs 10 ± 5) (0ms)")
    }

    @Test("the retries the client's sidecar counted, read from its metrics")
    func retriesMade() {
        let metrics = """
            # TYPE podlab_proxy_retries_total counter
            podlab_proxy_retries_total{route="m/other"} 3
            podlab_proxy_retries_total{route="m/flaky-retried"} 512
            """
        #expect(MeshScenario.retriesMade(metrics: metrics, route: "m/flaky-retried") == 512)
        #expect(MeshScenario.retriesMade(metrics: metrics, route: "m/none") == nil)
    }

    @Test("the objects: Services, Routes and the policy before the backends; clients in and out of the mesh")
    func objects() throws {
        let objects = MeshScenario.backendObjects(namespace: "podlab-mesh-x", retryAttempts: 10)
        let kinds = objects.compactMap { $0["kind"]?.stringValue }
        #expect(kinds == ["Service", "Service", "Service", "Service", "Service", "Service", "MeshPolicy", "Route", "Route", "Pod", "Pod", "Pod", "Pod"])
        // Each decodes as the API would take it, and the Routes and the policy are valid.
        for object in objects {
            switch object["kind"]?.stringValue {
            case "Route": try MeshRoute(json: object).validated()
            case "MeshPolicy": try MeshPolicy(json: object).validated()
            case "Service": _ = try Service(json: object)
            default: _ = try Pod(json: object)
            }
        }
        let flaky = try Pod(json: MeshScenario.echoPod("flaky", namespace: "n", labels: ["app": "flaky"], failPercent: 50))
        #expect(flaky.spec.containers[0].env.map { "\($0.name)=\($0.value)" } == ["ECHO_FAIL_PERCENT=50"])
        let web = try Pod(json: MeshScenario.echoPod("web", namespace: "n", labels: ["app": "web"], strict: true))
        #expect(web.metadata.annotations["podlab.dev/mtls"] == "STRICT")
        let plain = try Pod(json: MeshScenario.clientPod("plain", namespace: "n", meshed: false))
        #expect(plain.metadata.annotations["podlab.dev/mesh"] == "disabled")
        #expect(MeshScenario.namespaceObject("n")["metadata"]?["labels"]?["podlab.dev/mesh"]?.stringValue == "enabled")
        #expect(MeshScenario.pods(namespace: "m", outsider: "o") == ["m/web", "m/flaky", "m/v1", "m/v2", "m/client", "m/plain", "o/client"])
    }
}
