import Testing
@testable import PodNet

/// Container states for tests.
enum States {
    static let t0 = Timestamp(secondsSince1970: 1_616_326_937)
    static let creating = ContainerState.waiting(reason: ContainerReason.containerCreating)
    static let running = ContainerState.running(startedAt: t0)
    static let crashLoop = ContainerState.waiting(reason: ContainerReason.crashLoopBackOff, message: "back-off 10s restarting failed container")
    static func exited(_ code: Int32, reason: String? = nil, signal: Int32 = 0) -> ContainerState {
        .terminated(.init(exitCode: code, signal: signal, reason: reason ?? ContainerReason.terminated(exitCode: code), startedAt: t0, finishedAt: t0.adding(seconds: 5)))
    }
}

func twoContainerPod(restartPolicy: RestartPolicy = .always, _ statuses: [ContainerStatus]) -> Pod {
    Pod(metadata: ObjectMeta(name: "pair", creationTimestamp: States.t0),
        spec: PodSpec(containers: [Container(name: "a", image: "nginx"), Container(name: "b", image: "httpd")], restartPolicy: restartPolicy, nodeName: "n1"),
        status: PodStatus(containerStatuses: statuses))
}

@Suite("Pod phase and conditions")
struct PodStatusRulesTests {
    struct PhaseCase: Sendable, CustomTestStringConvertible {
        var name: String
        var policy: RestartPolicy
        var a: ContainerStatus?
        var b: ContainerStatus?
        var terminal = false
        var expected: PodPhase
        var testDescription: String { name }
    }

    static let waitingAfterExit = ContainerStatus(name: "b", state: States.crashLoop, lastState: States.exited(1), restartCount: 3)

    static let phaseCases: [PhaseCase] = [
        PhaseCase(name: "no statuses yet", policy: .always, a: nil, b: nil, expected: .pending),
        PhaseCase(name: "creating", policy: .always, a: ContainerStatus(name: "a", state: States.creating), b: ContainerStatus(name: "b", state: States.creating), expected: .pending),
        PhaseCase(name: "one running, one creating", policy: .always, a: ContainerStatus(name: "a", state: States.running), b: ContainerStatus(name: "b", state: States.creating), expected: .pending),
        PhaseCase(name: "both running", policy: .always, a: ContainerStatus(name: "a", state: States.running), b: ContainerStatus(name: "b", state: States.running), expected: .running),
        PhaseCase(name: "one running, one in back-off", policy: .always, a: ContainerStatus(name: "a", state: States.running), b: waitingAfterExit, expected: .running),
        PhaseCase(name: "one status missing", policy: .always, a: ContainerStatus(name: "a", state: States.running), b: nil, expected: .pending),
        PhaseCase(name: "unknown state", policy: .always, a: ContainerStatus(name: "a", state: States.running), b: ContainerStatus(name: "b"), expected: .pending),
        PhaseCase(name: "all exited 0, Never", policy: .never, a: ContainerStatus(name: "a", state: States.exited(0)), b: ContainerStatus(name: "b", state: States.exited(0)), expected: .succeeded),
        PhaseCase(name: "all exited 0, OnFailure", policy: .onFailure, a: ContainerStatus(name: "a", state: States.exited(0)), b: ContainerStatus(name: "b", state: States.exited(0)), expected: .succeeded),
        PhaseCase(name: "all exited 0, Always", policy: .always, a: ContainerStatus(name: "a", state: States.exited(0)), b: ContainerStatus(name: "b", state: States.exited(0)), expected: .running),
        PhaseCase(name: "one failed, Never", policy: .never, a: ContainerStatus(name: "a", state: States.exited(0)), b: ContainerStatus(name: "b", state: States.exited(1)), expected: .failed),
        PhaseCase(name: "one failed, OnFailure", policy: .onFailure, a: ContainerStatus(name: "a", state: States.exited(0)), b: ContainerStatus(name: "b", state: States.exited(1)), expected: .running),
        PhaseCase(name: "one failed, Always", policy: .always, a: ContainerStatus(name: "a", state: States.exited(0)), b: ContainerStatus(name: "b", state: States.exited(1)), expected: .running),
        PhaseCase(name: "one failed, Always, pod terminal", policy: .always, a: ContainerStatus(name: "a", state: States.exited(0)), b: ContainerStatus(name: "b", state: States.exited(1)), terminal: true, expected: .failed),
        PhaseCase(name: "all exited 0, Always, pod terminal", policy: .always, a: ContainerStatus(name: "a", state: States.exited(0)), b: ContainerStatus(name: "b", state: States.exited(0)), terminal: true, expected: .succeeded),
        PhaseCase(name: "both restarting after failure, OnFailure", policy: .onFailure,
                  a: ContainerStatus(name: "a", state: States.crashLoop, lastState: States.exited(2)), b: waitingAfterExit, expected: .running),
    ]

    @Test("phase from container states and restart policy", arguments: phaseCases)
    func phase(_ testCase: PhaseCase) {
        let statuses = [testCase.a, testCase.b].compactMap { $0 }
        let spec = twoContainerPod(restartPolicy: testCase.policy, statuses).spec
        #expect(PodStatusRules.phase(spec: spec, containerStatuses: statuses, podIsTerminal: testCase.terminal) == testCase.expected)
    }

    @Test("conditions of a running, ready pod")
    func readyPod() {
        var pod = twoContainerPod([ContainerStatus(name: "a", state: States.running, ready: true), ContainerStatus(name: "b", state: States.running, ready: true)])
        PodStatusRules.update(&pod, now: States.t0)
        #expect(pod.status.phase == .running)
        #expect(pod.status.conditions.map(\.type) == [.initialized, .ready, .containersReady, .podScheduled])
        #expect(pod.status.conditions.allSatisfy { $0.status == .true && $0.lastTransitionTime == States.t0 })
    }

    @Test("an unready container makes Ready and ContainersReady false with Kubernetes' message")
    func unready() {
        var pod = twoContainerPod([ContainerStatus(name: "a", state: States.running, ready: true), Self.waitingAfterExit])
        PodStatusRules.update(&pod, now: States.t0)
        let ready = pod.status.condition(.ready)
        #expect(ready?.status == .false)
        #expect(ready?.reason == "ContainersNotReady")
        #expect(ready?.message == "containers with unready status: [b]")
        #expect(pod.status.condition(.containersReady)?.message == "containers with unready status: [b]")
        #expect(pod.status.condition(.initialized)?.status == .true)

        var missing = twoContainerPod([ContainerStatus(name: "a", state: States.creating)])
        PodStatusRules.update(&missing, now: States.t0)
        #expect(missing.status.condition(.ready)?.message == "containers with unknown status: [b], containers with unready status: [a]")

        var none = twoContainerPod([])
        PodStatusRules.update(&none, now: States.t0)
        #expect(none.status.condition(.ready)?.reason == "UnknownContainerStatuses")
    }

    @Test("finished pods: PodCompleted or PodFailed, and the phase stays")
    func terminal() {
        var done = twoContainerPod(restartPolicy: .never, [ContainerStatus(name: "a", state: States.exited(0)), ContainerStatus(name: "b", state: States.exited(0))])
        PodStatusRules.update(&done, now: States.t0)
        #expect(done.status.phase == .succeeded)
        #expect(done.status.condition(.ready)?.reason == "PodCompleted")
        #expect(done.status.condition(.containersReady)?.reason == "PodCompleted")

        var failed = twoContainerPod(restartPolicy: .never, [ContainerStatus(name: "a", state: States.exited(0)), ContainerStatus(name: "b", state: States.exited(137, reason: "Error", signal: 9))])
        PodStatusRules.update(&failed, now: States.t0)
        #expect(failed.status.phase == .failed)
        #expect(failed.status.condition(.ready)?.reason == "PodFailed")

        // A terminal phase never changes again, whatever the containers report later.
        failed.status.containerStatuses = [ContainerStatus(name: "a", state: States.running), ContainerStatus(name: "b", state: States.running)]
        PodStatusRules.update(&failed, now: States.t0.adding(seconds: 60))
        #expect(failed.status.phase == .failed)
    }

    @Test("transition times change only when the status changes")
    func transitionTimes() {
        let t1 = States.t0.adding(seconds: 30), t2 = States.t0.adding(seconds: 90)
        var pod = twoContainerPod([ContainerStatus(name: "a", state: States.creating), ContainerStatus(name: "b", state: States.creating)])
        PodStatusRules.update(&pod, now: States.t0)
        pod.status.containerStatuses = [ContainerStatus(name: "a", state: States.running, ready: true), ContainerStatus(name: "b", state: States.running, ready: true)]
        PodStatusRules.update(&pod, now: t1)
        #expect(pod.status.condition(.ready)?.lastTransitionTime == t1)
        #expect(pod.status.condition(.initialized)?.lastTransitionTime == States.t0)
        PodStatusRules.update(&pod, now: t2)
        #expect(pod.status.condition(.ready)?.lastTransitionTime == t1)
    }

    @Test("an unscheduled pod is Pending with only the scheduler's condition")
    func unscheduled() {
        var pod = twoContainerPod([])
        pod.spec.nodeName = ""
        pod.status.conditions = [PodStatusRules.unschedulableCondition(message: "0/2 nodes are available: 2 node(s) have no free pod IP addresses.", now: States.t0)]
        PodStatusRules.update(&pod, now: States.t0.adding(seconds: 5))
        #expect(pod.status.phase == .pending)
        #expect(pod.status.conditions.count == 1)
        #expect(pod.status.condition(.podScheduled)?.reason == "Unschedulable")
    }

    @Test("readiness gates hold Ready back until their conditions are true")
    func readinessGates() {
        var pod = twoContainerPod([ContainerStatus(name: "a", state: States.running, ready: true), ContainerStatus(name: "b", state: States.running, ready: true)])
        pod.spec.preservedFields["readinessGates"] = [["conditionType": "example.com/lb"]]
        PodStatusRules.update(&pod, now: States.t0)
        #expect(pod.status.condition(.ready)?.status == .false)
        #expect(pod.status.condition(.ready)?.reason == "ReadinessGatesNotReady")
        #expect(pod.status.condition(.ready)?.message == #"corresponding condition of pod readiness gate "example.com/lb" does not exist."#)
        #expect(pod.status.condition(.containersReady)?.status == .true)
        pod.status.conditions.append(PodCondition(type: "example.com/lb", status: .true))
        PodStatusRules.update(&pod, now: States.t0)
        #expect(pod.status.condition(.ready)?.status == .true)
        #expect(pod.status.conditions.contains { $0.type.rawValue == "example.com/lb" })
    }

    @Test("a deleted pod's grace period counts from its deletion: what is left, never below 0", arguments: [
        (Int64?.some(30), Int64(0), Int64(30)), (30, 12, 18), (30, 45, 0), (nil, 5, 25), (0, 0, 0), (10, -3, 10),
    ])
    func remainingGrace(period: Int64?, elapsed: Int64, expected: Int64) {
        var pod = Pod()
        pod.metadata.deletionGracePeriodSeconds = period
        pod.metadata.deletionTimestamp = States.t0
        #expect(PodStatusRules.remainingGracePeriod(of: pod, now: States.t0.adding(seconds: elapsed)) == expected)
        pod.metadata.deletionTimestamp = nil
        #expect(PodStatusRules.remainingGracePeriod(of: pod, now: States.t0) == (period ?? 30))
    }
}
