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

    static func cluster() -> FakeCluster {
        var pod = Pod.run(name: "web", image: "nginx")
        pod.spec.containers[0].livenessProbe = ContainerProbe(httpGet: HTTPGetAction(path: "/healthz", port: .number(80)))
        pod.spec.containers[0].readinessProbe = ContainerProbe(exec: ExecAction(command: ["test", "-f", "/tmp/ready"]), initialDelaySeconds: 5)
        pod = pod.applyingDefaults()
        let cluster = FakeCluster()
        cluster.add(pod)
        cluster.add(Pod.run(name: "other", image: "nginx"))
        let web = cluster.pod("default", "web")!, other = cluster.pod("default", "other")!
        cluster.state.withLock { state in
            state.events = [
                event(web, "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 404", type: .warning, ago: 25, 5, count: 3),
                event(web, "Killing", "Container web failed liveness probe, will be restarted", type: .normal, ago: 5, 5, count: 1),
                event(other, "Unhealthy", "Readiness probe failed: ", type: .warning, ago: 60, 60, count: 1),
            ]
        }
        return cluster
    }

    @Test func describeShowsProbesAndTheOwnEvents() async throws {
        let cluster = Self.cluster()
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
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
        let cluster = Self.cluster()
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
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
