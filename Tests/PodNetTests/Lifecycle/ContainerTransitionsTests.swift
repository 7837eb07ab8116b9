import PodNet
import Testing

@Suite struct ContainerTransitionsTests {
    let started = Timestamp(secondsSince1970: 1_700_000_000)
    let reaped = Timestamp(secondsSince1970: 1_700_000_042)
    let now = Timestamp(secondsSince1970: 1_700_000_100)

    func container(_ yaml: String = "") throws -> Container {
        try Pod(json: YAMLReader.value(from: """
            apiVersion: v1
            kind: Pod
            metadata: {name: p}
            spec:
              containers:
              - name: app
                image: nginx
            \(yaml)
            """)).spec.containers[0]
    }

    @Test func containerIDsNameThePodTheContainerAndTheRun() {
        #expect(ContainerTransitions.containerID(podUID: "0123456789abcdef", container: "app", restartCount: 3) == "podlab://01234567-app-3")
    }

    @Test func aRunningAppContainerWithoutProbesIsStartedAndReady() throws {
        var status = ContainerStatus(name: "app", state: .waiting(reason: "ContainerCreating"), ready: false, started: false, restartCount: 2, image: "nginx", imageID: "")
        ContainerTransitions.markRunning(&status, role: .app, imageID: "docker.io/library/nginx@sha256:ab", podUID: "fedcba9876543210",
                                         container: try container(), now: now)
        #expect(status.state == .running(startedAt: now))
        #expect(status.ready && status.started == true)
        #expect(status.imageID == "docker.io/library/nginx@sha256:ab")
        #expect(status.containerID == "podlab://fedcba98-app-2")
    }

    @Test func aRunningInitContainerIsNotReadyAndAProbedContainerWaitsForItsProbes() throws {
        var status = ContainerStatus(name: "app", state: .waiting(reason: "PodInitializing"), ready: false, started: false, restartCount: 0, image: "nginx", imageID: "")
        ContainerTransitions.markRunning(&status, role: .initContainer, imageID: "", podUID: "u", container: try container(), now: now)
        #expect(!status.ready)
        #expect(status.started == true)
        let probed = try container("""
                readinessProbe: {tcpSocket: {port: 80}}
                startupProbe: {tcpSocket: {port: 80}}
            """)
        ContainerTransitions.markRunning(&status, role: .app, imageID: "", podUID: "u", container: probed, now: now)
        #expect(!status.ready)
        #expect(status.started == false)
    }

    @Test func exitsBecomeTerminatedStatesWithTheKubeletsReasons() {
        func terminated(_ end: ProcessEnd, oom: Bool = false, finishedAt: Timestamp? = nil) -> ContainerState.Terminated {
            ContainerTransitions.terminated(end, oomKilled: oom, startedAt: started, finishedAt: finishedAt, containerID: "podlab://x", now: now)
        }
        #expect(terminated(.exited(0), finishedAt: reaped) == .init(exitCode: 0, reason: "Completed", startedAt: started, finishedAt: reaped, containerID: "podlab://x"))
        #expect(terminated(.exited(3)) == .init(exitCode: 3, reason: "Error", startedAt: started, finishedAt: now, containerID: "podlab://x"))
        #expect(terminated(.signaled(15)) == .init(exitCode: 143, signal: 15, reason: "Error", startedAt: started, finishedAt: now, containerID: "podlab://x"))
        #expect(terminated(.signaled(9), oom: true).reason == "OOMKilled")
        #expect(terminated(.exited(1), oom: true) == .init(exitCode: 1, reason: "OOMKilled", startedAt: started, finishedAt: now, containerID: "podlab://x"))
        // Nobody recorded it: 255 and why, unless the OOM killer is known to have ended it.
        #expect(terminated(.unknown("the keeper was gone")) == .init(exitCode: 255, reason: "Error", message: "the keeper was gone",
                                                                     startedAt: started, finishedAt: now, containerID: "podlab://x"))
        #expect(terminated(.unknown("?"), oom: true) == .init(exitCode: 137, signal: 9, reason: "OOMKilled", startedAt: started, finishedAt: now, containerID: "podlab://x"))
    }

    @Test(arguments: [
        (ContainerRole.app, RestartPolicy.always, Int32(0), false, true),
        (.app, .onFailure, 0, false, false),
        (.app, .onFailure, 1, false, true),
        (.app, .never, 1, false, false),
        // Killed by its probe: restarted unless Never, whatever the code.
        (.app, .onFailure, 0, true, true),
        (.app, .never, 137, true, false),
        (.initContainer, .always, 0, false, false),
        (.initContainer, .always, 1, false, true),
        (.initContainer, .never, 1, false, false),
        (.initContainer, .onFailure, 0, true, false),
        (.sidecar, .never, 0, false, true),
    ])
    func restartsFollowTheRoleThePolicyAndTheProbes(role: ContainerRole, policy: RestartPolicy, exitCode: Int32, killedByProbe: Bool, restarts: Bool) {
        #expect(ContainerTransitions.restarts(role, podPolicy: policy, exitCode: exitCode, killedByProbe: killedByProbe) == restarts)
    }

    @Test func crashLoopBackOffSaysHowLongInTheKubeletsWords() {
        let state = ContainerTransitions.crashLoopBackOff(delay: .seconds(20), container: "app", pod: "web", namespace: "default", uid: "u-1")
        #expect(state == .waiting(reason: "CrashLoopBackOff", message: "back-off 20s restarting failed container=app pod=web_default(u-1)"))
        let short = ContainerTransitions.crashLoopBackOff(delay: .milliseconds(40), container: "app", pod: "web", namespace: "ns", uid: "u-1")
        #expect(short.waiting?.message == "back-off 40ms restarting failed container=app pod=web_ns(u-1)")
        #expect(ContainerTransitions.backOffEventMessage(container: "app", pod: "web", namespace: "default", uid: "u-1")
            == "Back-off restarting failed container app in pod web_default(u-1)")
    }

    @Test func sandboxRetriesDoubleFromOneSecondUpToThirty() {
        #expect((0...7).map(SandboxRetry.delay(attempt:)) == [1, 2, 4, 8, 16, 30, 30, 30].map { Duration.seconds($0) })
    }
}
