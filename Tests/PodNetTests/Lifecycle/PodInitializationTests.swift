import Testing
@testable import PodNet

/// Pods with init containers for tests: `setup` and `migrate` are regular init containers,
/// `proxy` a sidecar (`restartPolicy: Always`), `app` the app container.
enum InitPods {
    static let initializing = ContainerState.waiting(reason: ContainerReason.podInitializing)
    static let pullError = ContainerState.waiting(reason: ContainerReason.errImagePull, message: "image \"nope\" is not in podlab's catalog")
    static let sidecar = Container(name: "proxy", image: "nginx", preservedFields: ["restartPolicy": "Always"])

    /// `setup` and `migrate` before `app`.
    static func sequential(_ policy: RestartPolicy = .always) -> PodSpec {
        PodSpec(containers: [Container(name: "app", image: "busybox")],
                initContainers: [Container(name: "setup", image: "busybox"), Container(name: "migrate", image: "busybox")],
                restartPolicy: policy, nodeName: "n1")
    }

    /// The sidecar `proxy`, then `setup`, before `app`.
    static func withSidecar(_ policy: RestartPolicy = .always) -> PodSpec {
        PodSpec(containers: [Container(name: "app", image: "busybox")],
                initContainers: [sidecar, Container(name: "setup", image: "busybox")],
                restartPolicy: policy, nodeName: "n1")
    }

    static func status(_ name: String, _ state: ContainerState, lastState: ContainerState = ContainerState(), restarts: Int32 = 0,
                       ready: Bool? = nil, started: Bool? = nil) -> ContainerStatus {
        ContainerStatus(name: name, state: state, lastState: lastState, ready: ready ?? (state.running != nil && name != "setup" && name != "migrate"),
                        started: started ?? (state.running != nil), restartCount: restarts)
    }

    /// Statuses as the agent keeps them: init containers and app containers by name, in spec order.
    static func podStatus(_ spec: PodSpec, _ states: [String: ContainerStatus]) -> PodStatus {
        PodStatus(initContainerStatuses: spec.initContainers.map { states[$0.name] ?? status($0.name, initializing) },
                  containerStatuses: spec.containers.map { states[$0.name] ?? status($0.name, initializing) })
    }

    static func done(_ name: String) -> ContainerStatus { status(name, States.exited(0), ready: true) }
    static func failed(_ name: String) -> ContainerStatus { status(name, States.exited(1)) }
    static func crashLooping(_ name: String, restarts: Int32 = 2) -> ContainerStatus {
        status(name, States.crashLoop, lastState: States.exited(1), restarts: restarts)
    }
    static func running(_ name: String) -> ContainerStatus { status(name, States.running) }
}

@Suite("Init containers and sidecars: what starts next, the phase, the conditions")
struct PodInitializationTests {
    struct StepCase: Sendable, CustomTestStringConvertible {
        var name: String
        var spec: PodSpec
        var states: [String: ContainerStatus]
        var expected: PodInitialization.Step
        var testDescription: String { name }
    }

    static let stepCases: [StepCase] = [
        StepCase(name: "nothing ran: the first init container", spec: InitPods.sequential(), states: [:], expected: .start("setup")),
        StepCase(name: "the first runs: wait for its exit", spec: InitPods.sequential(), states: ["setup": InitPods.running("setup")], expected: .wait),
        StepCase(name: "the first succeeded: the second", spec: InitPods.sequential(), states: ["setup": InitPods.done("setup")], expected: .start("migrate")),
        StepCase(name: "the second restarts after a failure (OnFailure)", spec: InitPods.sequential(.onFailure),
                 states: ["setup": InitPods.done("setup"), "migrate": InitPods.crashLooping("migrate")], expected: .wait),
        StepCase(name: "the second failed, about to restart at once (Always)", spec: InitPods.sequential(.always),
                 states: ["setup": InitPods.done("setup"), "migrate": InitPods.failed("migrate")], expected: .wait),
        StepCase(name: "the second failed under Never: the pod fails", spec: InitPods.sequential(.never),
                 states: ["setup": InitPods.done("setup"), "migrate": InitPods.failed("migrate")], expected: .failed("migrate")),
        StepCase(name: "the first waits for its image", spec: InitPods.sequential(),
                 states: ["setup": InitPods.status("setup", InitPods.pullError)], expected: .wait),
        StepCase(name: "all succeeded: the app containers", spec: InitPods.sequential(),
                 states: ["setup": InitPods.done("setup"), "migrate": InitPods.done("migrate")], expected: .startContainers(["app"])),
        StepCase(name: "initialized and the app runs: nothing more", spec: InitPods.sequential(),
                 states: ["setup": InitPods.done("setup"), "migrate": InitPods.done("migrate"), "app": InitPods.running("app")], expected: .startContainers([])),
        StepCase(name: "a sidecar first", spec: InitPods.withSidecar(), states: [:], expected: .start("proxy")),
        StepCase(name: "the sidecar runs: the next init container starts beside it", spec: InitPods.withSidecar(),
                 states: ["proxy": InitPods.running("proxy")], expected: .start("setup")),
        StepCase(name: "the sidecar runs but its startup probe has not succeeded: the next one waits", spec: InitPods.withSidecar(),
                 states: ["proxy": InitPods.status("proxy", States.running, started: false)], expected: .wait),
        StepCase(name: "the sidecar waits for its image: nothing after it starts", spec: InitPods.withSidecar(),
                 states: ["proxy": InitPods.status("proxy", InitPods.pullError)], expected: .wait),
        StepCase(name: "a sidecar that ran and restarts does not hold the next one back", spec: InitPods.withSidecar(),
                 states: ["proxy": InitPods.crashLooping("proxy")], expected: .start("setup")),
        StepCase(name: "the sidecar runs and setup succeeded: the app", spec: InitPods.withSidecar(),
                 states: ["proxy": InitPods.running("proxy"), "setup": InitPods.done("setup")], expected: .startContainers(["app"])),
        StepCase(name: "initialized: a restarting sidecar starts nothing", spec: InitPods.withSidecar(),
                 states: ["proxy": InitPods.crashLooping("proxy"), "setup": InitPods.done("setup"), "app": InitPods.running("app")],
                 expected: .startContainers([])),
        StepCase(name: "no init containers: every app container at once",
                 spec: PodSpec(containers: [Container(name: "a", image: "nginx"), Container(name: "b", image: "nope")], nodeName: "n1"),
                 states: ["a": InitPods.status("a", States.creating), "b": InitPods.status("b", States.creating)], expected: .startContainers(["a", "b"])),
        StepCase(name: "an app container that failed to pull is retried by its own timer, not started again",
                 spec: PodSpec(containers: [Container(name: "a", image: "nginx"), Container(name: "b", image: "nope")], nodeName: "n1"),
                 states: ["a": InitPods.running("a"), "b": InitPods.status("b", InitPods.pullError)], expected: .startContainers([])),
    ]

    @Test("the next step of initialization", arguments: stepCases)
    func nextStep(_ testCase: StepCase) {
        let status = InitPods.podStatus(testCase.spec, testCase.states)
        #expect(PodInitialization.nextStep(spec: testCase.spec, status: status) == testCase.expected)
    }

    @Test("who restarts after an exit", arguments: [
        (ContainerRole.app, RestartPolicy.always, Int32(0), true), (.app, .always, 1, true),
        (.app, .onFailure, 0, false), (.app, .onFailure, 1, true), (.app, .never, 0, false), (.app, .never, 1, false),
        (.initContainer, .always, 0, false), (.initContainer, .always, 1, true), (.initContainer, .onFailure, 0, false),
        (.initContainer, .onFailure, 1, true), (.initContainer, .never, 1, false),
        (.sidecar, .always, 0, true), (.sidecar, .onFailure, 0, true), (.sidecar, .never, 0, true), (.sidecar, .never, 1, true),
    ])
    func restarts(role: ContainerRole, policy: RestartPolicy, exitCode: Int32, expected: Bool) {
        #expect(PodInitialization.restarts(role, podPolicy: policy, exitCode: exitCode) == expected)
    }

    @Test("app containers are finished when every one exited and none restarts", arguments: [
        (RestartPolicy.never, [InitPods.done("app")], true),
        (.never, [InitPods.failed("app")], true),
        (.onFailure, [InitPods.done("app")], true),
        (.onFailure, [InitPods.failed("app")], false),
        (.always, [InitPods.done("app")], false),
        (.never, [InitPods.running("app")], false),
        (.never, [InitPods.status("app", InitPods.initializing)], false),
    ])
    func appContainersFinished(policy: RestartPolicy, app: [ContainerStatus], expected: Bool) {
        let spec = InitPods.withSidecar(policy)
        let status = InitPods.podStatus(spec, ["proxy": InitPods.running("proxy"), "setup": InitPods.done("setup"), "app": app[0]])
        #expect(PodInitialization.appContainersFinished(spec: spec, status: status) == expected)
    }

    @Test("roles and lookups by name across both lists")
    func roles() {
        let spec = InitPods.withSidecar()
        #expect(spec.role(of: "proxy") == .sidecar && spec.role(of: "setup") == .initContainer && spec.role(of: "app") == .app)
        #expect(spec.role(of: "other") == nil)
        #expect(spec.allContainers.map(\.name) == ["proxy", "setup", "app"])
        #expect(spec.kubectlContainerNames == "app, proxy (init), setup (init)")
        var status = InitPods.podStatus(spec, [:])
        status[container: "setup"] = InitPods.done("setup")
        status[container: "app"] = InitPods.running("app")
        #expect(status.initContainerStatuses[1] == InitPods.done("setup"))
        #expect(status.containerStatuses[0] == InitPods.running("app"))
        #expect(status[container: "proxy"]?.state == InitPods.initializing)
        #expect(PodInitialization.initialWaitingReason(for: spec) == "PodInitializing")
        #expect(PodInitialization.initialWaitingReason(for: PodSpec(containers: spec.containers)) == "ContainerCreating")
    }

    struct PhaseCase: Sendable, CustomTestStringConvertible {
        var name: String
        var spec: PodSpec
        var states: [String: ContainerStatus]
        var expected: PodPhase
        var testDescription: String { name }
    }

    static let phaseCases: [PhaseCase] = [
        PhaseCase(name: "nothing ran", spec: InitPods.sequential(), states: [:], expected: .pending),
        PhaseCase(name: "an init container runs", spec: InitPods.sequential(), states: ["setup": InitPods.running("setup")], expected: .pending),
        PhaseCase(name: "an init container crash-loops (OnFailure)", spec: InitPods.sequential(.onFailure),
                  states: ["setup": InitPods.crashLooping("setup")], expected: .pending),
        PhaseCase(name: "an init container failed under Never", spec: InitPods.sequential(.never),
                  states: ["setup": InitPods.failed("setup")], expected: .failed),
        PhaseCase(name: "an init container failed under Never, its last run", spec: InitPods.sequential(.never),
                  states: ["setup": InitPods.done("setup"), "migrate": InitPods.status("migrate", InitPods.initializing, lastState: States.exited(2))],
                  expected: .failed),
        PhaseCase(name: "initialized, the app not started yet", spec: InitPods.sequential(),
                  states: ["setup": InitPods.done("setup"), "migrate": InitPods.done("migrate")], expected: .pending),
        PhaseCase(name: "initialized, the app runs", spec: InitPods.sequential(),
                  states: ["setup": InitPods.done("setup"), "migrate": InitPods.done("migrate"), "app": InitPods.running("app")], expected: .running),
        PhaseCase(name: "sidecar runs, setup runs", spec: InitPods.withSidecar(),
                  states: ["proxy": InitPods.running("proxy"), "setup": InitPods.running("setup")], expected: .pending),
        PhaseCase(name: "sidecar waits for its image", spec: InitPods.withSidecar(),
                  states: ["proxy": InitPods.status("proxy", InitPods.pullError)], expected: .pending),
        PhaseCase(name: "sidecar and app run", spec: InitPods.withSidecar(),
                  states: ["proxy": InitPods.running("proxy"), "setup": InitPods.done("setup"), "app": InitPods.running("app")], expected: .running),
        PhaseCase(name: "app done, sidecar still runs (Never)", spec: InitPods.withSidecar(.never),
                  states: ["proxy": InitPods.running("proxy"), "setup": InitPods.done("setup"), "app": InitPods.done("app")], expected: .running),
        PhaseCase(name: "app done, sidecar stopped (Never)", spec: InitPods.withSidecar(.never),
                  states: ["proxy": InitPods.status("proxy", States.exited(143)), "setup": InitPods.done("setup"), "app": InitPods.done("app")],
                  expected: .succeeded),
        PhaseCase(name: "app failed, sidecar stopped (Never)", spec: InitPods.withSidecar(.never),
                  states: ["proxy": InitPods.status("proxy", States.exited(0)), "setup": InitPods.done("setup"), "app": InitPods.failed("app")],
                  expected: .failed),
        PhaseCase(name: "app done, sidecar crash-looping (OnFailure)", spec: InitPods.withSidecar(.onFailure),
                  states: ["proxy": InitPods.crashLooping("proxy"), "setup": InitPods.done("setup"), "app": InitPods.done("app")], expected: .succeeded),
        PhaseCase(name: "initialized: a restarting sidecar does not make the pod Pending again", spec: InitPods.withSidecar(),
                  states: ["proxy": InitPods.crashLooping("proxy"), "setup": InitPods.done("setup"), "app": InitPods.running("app")], expected: .running),
    ]

    @Test("phase with init containers and sidecars", arguments: phaseCases)
    func phase(_ testCase: PhaseCase) {
        let status = InitPods.podStatus(testCase.spec, testCase.states)
        #expect(PodStatusRules.phase(spec: testCase.spec, containerStatuses: status.containerStatuses,
                                     initContainerStatuses: status.initContainerStatuses) == testCase.expected)
    }

    static func conditions(_ spec: PodSpec, _ states: [String: ContainerStatus]) -> Pod {
        var pod = Pod(metadata: ObjectMeta(name: "p"), spec: spec, status: InitPods.podStatus(spec, states))
        PodStatusRules.update(&pod, now: States.t0)
        return pod
    }

    @Test("Initialized is false with the kubelet's message while init containers have not finished")
    func notInitialized() {
        let pod = Self.conditions(InitPods.sequential(), ["setup": InitPods.running("setup")])
        #expect(pod.status.phase == .pending)
        let initialized = pod.status.condition(.initialized)
        #expect(initialized?.status == .false && initialized?.reason == "ContainersNotInitialized")
        #expect(initialized?.message == "containers with incomplete status: [setup migrate]")
        #expect(pod.status.condition(.ready)?.message == "containers with unready status: [app]")
        #expect(pod.status.condition(.containersReady)?.reason == "ContainersNotReady")
    }

    @Test("a started sidecar counts as initialized; the sidecar must be ready for the pod to be")
    func sidecarConditions() {
        let running = Self.conditions(InitPods.withSidecar(), ["proxy": InitPods.running("proxy"), "setup": InitPods.done("setup"), "app": InitPods.running("app")])
        #expect(running.status.conditions.map(\.status) == [.true, .true, .true, .true])
        let waitingForSetup = Self.conditions(InitPods.withSidecar(), ["proxy": InitPods.running("proxy"), "setup": InitPods.running("setup")])
        #expect(waitingForSetup.status.condition(.initialized)?.message == "containers with incomplete status: [setup]")
        #expect(waitingForSetup.status.condition(.ready)?.message == "containers with unready status: [app]")
        let crashing = Self.conditions(InitPods.withSidecar(), ["proxy": InitPods.crashLooping("proxy"), "setup": InitPods.done("setup"), "app": InitPods.running("app")])
        #expect(crashing.status.condition(.initialized)?.status == .true, "an app container ran: initialized for good")
        #expect(crashing.status.condition(.ready)?.status == .false)
        #expect(crashing.status.condition(.ready)?.message == "containers with unready status: [proxy]")
    }

    @Test("a Succeeded pod is Initialized with reason PodCompleted; a Failed one's ContainersReady says PodFailed")
    func finished() {
        let done = Self.conditions(InitPods.withSidecar(.never), ["proxy": InitPods.status("proxy", States.exited(143)), "setup": InitPods.done("setup"),
                                                                  "app": InitPods.done("app")])
        #expect(done.status.phase == .succeeded)
        #expect(done.status.condition(.initialized)?.status == .true && done.status.condition(.initialized)?.reason == "PodCompleted")
        #expect(done.status.condition(.ready)?.reason == "PodCompleted")
        let failed = Self.conditions(InitPods.sequential(.never), ["setup": InitPods.failed("setup")])
        #expect(failed.status.phase == .failed)
        #expect(failed.status.condition(.initialized)?.status == .false)
        #expect(failed.status.condition(.containersReady)?.reason == "PodFailed")
    }

    @Test("a running init container listens; one that is done or not started does not; a sidecar that is not running still claims its port")
    func listeners() {
        let spec = PodSpec(containers: [Container(name: "app", image: "nginx")],
                           initContainers: [Container(name: "warmup", image: "podlab/echo"),
                                            Container(name: "proxy", image: "podlab/echo", env: [EnvVar(name: "PORT", value: "15001")],
                                                      preservedFields: ["restartPolicy": "Always"])],
                           nodeName: "n1")
        func listeners(_ states: [String: ContainerStatus]) -> PodListeners {
            ListenerModel.listeners(of: Pod(metadata: ObjectMeta(name: "p"), spec: spec, status: InitPods.podStatus(spec, states)))
        }
        let warming = listeners(["warmup": InitPods.running("warmup")])
        #expect(warming.listeners.map(\.container) == ["warmup", "warmup"] && warming.listeners.map(\.port) == [8080, 8080])
        let ready = listeners(["warmup": InitPods.done("warmup"), "proxy": InitPods.running("proxy"), "app": InitPods.running("app")])
        #expect(ready.listeners.map { "\($0.container):\($0.port)/\($0.transport.rawValue)" } == ["app:80/TCP", "proxy:15001/TCP", "proxy:15001/UDP"])
        #expect(ready.conflicts.isEmpty)
        let restarting = listeners(["warmup": InitPods.done("warmup"), "proxy": InitPods.crashLooping("proxy"), "app": InitPods.running("app")])
        #expect(restarting.listeners.map(\.container) == ["app"])
    }
}
