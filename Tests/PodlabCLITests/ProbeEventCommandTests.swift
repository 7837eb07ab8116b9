import Foundation
import PodNet
import PodlabCLI
import Testing

/// `describe` shows a container's probes as kubectl's `DescribeProbe` does and the pod's events
/// (only its own); `get events` lists them all.
@Suite("probes and events in describe and get events")
struct ProbeEventCommandTests {
    static let now = Timestamp(secondsSince1970: 1_700_000_000)

    static func event(_ pod: Pod, _ reason: String, _ message: String, type: EventType, ago first: Int64, _ last: Int64, count: Int32) -> Event {
        Event(metadata: ObjectMeta(name: "\(pod.metadata.name).\(reason)", namespace: "default"),
              involvedObject: ObjectReference(kind: "Pod", namespace: "default", name: pod.metadata.name, uid: pod.metadata.uid,
                                              apiVersion: "v1", fieldPath: "spec.containers{web}"),
              reason: reason, message: message, type: type,
              firstTimestamp: Timestamp(secondsSince1970: now.secondsSince1970 - first),
              lastTimestamp: Timestamp(secondsSince1970: now.secondsSince1970 - last), count: count)
    }

    /// Canned pods and the events a failing liveness probe leaves (a lab without root runs no
    /// probes); the events of one object are those `involvedObject.name` names.
    static func agent() -> @Sendable (FakeRequest) async -> FakeResponse {
        var web = Pod.run(name: "web", image: "nginx")
        web.spec.containers[0].livenessProbe = ContainerProbe(httpGet: HTTPGetAction(path: "/healthz", port: .number(80)))
        web.spec.containers[0].readinessProbe = ContainerProbe(exec: ExecAction(command: ["test", "-f", "/tmp/ready"]), initialDelaySeconds: 5)
        web = web.applyingDefaults()
        web.metadata.uid = "uid-1"
        CannedPods.running(&web)
        var other = Pod.run(name: "other", image: "nginx")
        other.metadata.uid = "uid-2"
        CannedPods.running(&other)
        let pods = [web, other]
        let events = [
            event(web, "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 404", type: .warning, ago: 25, 5, count: 3),
            event(web, "Killing", "Container web failed liveness probe, will be restarted", type: .normal, ago: 5, 5, count: 1),
            event(other, "Unhealthy", "Readiness probe failed: ", type: .warning, ago: 60, 60, count: 1),
        ]
        return { request in
            if request.method == "GET", request.path.hasSuffix("/events") {
                let name = (request.query["fieldSelector"] ?? "").split(separator: ",")
                    .first { $0.hasPrefix("involvedObject.name=") }.map { String($0.dropFirst("involvedObject.name=".count)) }
                return .object(EventList(items: events.filter { name == nil || $0.involvedObject.name == name }))
            }
            return CannedPods.answer(request, pods: pods) ?? .status(APIStatus.synthesized(code: 404, body: ""))
        }
    }

    @Test func describeShowsProbesAndTheOwnEvents() async throws {
        try await FakeAgent.with(Self.agent()) { agent in
            let t = agent.context()
            #expect(await t.run("describe pod web") == 0)
            let text = t.stdout.text
            #expect(text.contains("    Liveness:       http-get http://:80/healthz delay=0s timeout=1s period=10s #success=1 #failure=3\n"), "\(text)")
            #expect(text.contains("    Readiness:      exec [test -f /tmp/ready] delay=5s timeout=1s period=10s #success=1 #failure=3\n"), "\(text)")
            #expect(text.hasSuffix("""
                Events:
                  Type     Reason     Age               From     Message
                  ----     ------     ----              ----     -------
                  Warning  Unhealthy  5s (x3 over 25s)  kubelet  Liveness probe failed: HTTP probe failed with statuscode: 404
                  Normal   Killing    5s                kubelet  Container web failed liveness probe, will be restarted

                """), "\(text)")
            #expect(!text.contains("Readiness probe failed"), "another pod's event shown: \(text)")
        }
    }

    @Test func getEventsListsThemAll() async throws {
        try await FakeAgent.with(Self.agent()) { agent in
            let t = agent.context()
            #expect(await t.run("get events") == 0)
            #expect(t.stdout.text == """
                LAST SEEN   TYPE      REASON      OBJECT      MESSAGE
                60s         Warning   Unhealthy   pod/other   Readiness probe failed:
                5s          Warning   Unhealthy   pod/web     Liveness probe failed: HTTP probe failed with statuscode: 404
                5s          Normal    Killing     pod/web     Container web failed liveness probe, will be restarted

                """)
        }
    }
}
