import Testing
@testable import PodNet

/// `get pods` for pods with init containers and sidecars, as kubectl's `printPod` prints them.
@Suite("kubectl's get pods with init containers")
struct InitContainerPrintingTests {
    static let now = States.t0.adding(seconds: 14 * 60)
    static let lastExit = ContainerState.terminated(.init(exitCode: 1, reason: "Error", startedAt: States.t0, finishedAt: now.adding(seconds: -12)))

    struct RowCase: Sendable, CustomTestStringConvertible {
        var name: String
        var spec: PodSpec
        var states: [String: ContainerStatus]
        var ready: String
        var status: String
        var restarts: String
        var testDescription: String { name }
    }

    static func crashLooping(_ name: String, restarts: Int32) -> ContainerStatus {
        ContainerStatus(name: name, state: States.crashLoop, lastState: lastExit, restartCount: restarts)
    }

    static let rowCases: [RowCase] = [
        RowCase(name: "nothing ran yet", spec: InitPods.sequential(), states: [:], ready: "0/1", status: "Init:0/2", restarts: "0"),
        RowCase(name: "the first init container runs", spec: InitPods.sequential(), states: ["setup": InitPods.running("setup")],
                ready: "0/1", status: "Init:0/2", restarts: "0"),
        RowCase(name: "the second init container runs", spec: InitPods.sequential(),
                states: ["setup": InitPods.done("setup"), "migrate": InitPods.running("migrate")], ready: "0/1", status: "Init:1/2", restarts: "0"),
        RowCase(name: "an init container crash-loops", spec: InitPods.sequential(.onFailure),
                states: ["setup": crashLooping("setup", restarts: 2)], ready: "0/1", status: "Init:CrashLoopBackOff", restarts: "2 (12s ago)"),
        RowCase(name: "an init container failed under Never", spec: InitPods.sequential(.never),
                states: ["setup": InitPods.failed("setup")], ready: "0/1", status: "Init:Error", restarts: "0"),
        RowCase(name: "an init container killed by a signal, no reason", spec: InitPods.sequential(.never),
                states: ["setup": InitPods.status("setup", .terminated(.init(exitCode: 137, signal: 9)))], ready: "0/1", status: "Init:Signal:9", restarts: "0"),
        RowCase(name: "an init container with an unknown image", spec: InitPods.sequential(),
                states: ["setup": InitPods.status("setup", InitPods.pullError)], ready: "0/1", status: "Init:ErrImagePull", restarts: "0"),
        RowCase(name: "initialized, the app not started", spec: InitPods.sequential(),
                states: ["setup": InitPods.done("setup"), "migrate": InitPods.done("migrate")], ready: "0/1", status: "PodInitializing", restarts: "0"),
        RowCase(name: "initialized after restarts, the app runs: init restarts no longer count", spec: InitPods.sequential(),
                states: ["setup": InitPods.status("setup", States.exited(0), lastState: lastExit, restarts: 3, ready: true),
                         "migrate": InitPods.done("migrate"), "app": InitPods.running("app")],
                ready: "1/1", status: "Running", restarts: "0"),
        RowCase(name: "the sidecar runs, setup runs: the sidecar counts in READY", spec: InitPods.withSidecar(),
                states: ["proxy": InitPods.running("proxy"), "setup": InitPods.running("setup")], ready: "1/2", status: "Init:1/2", restarts: "0"),
        RowCase(name: "sidecar and app run", spec: InitPods.withSidecar(),
                states: ["proxy": InitPods.running("proxy"), "setup": InitPods.done("setup"), "app": InitPods.running("app")],
                ready: "2/2", status: "Running", restarts: "0"),
        RowCase(name: "the sidecar crash-loops after initialization: kubectl still says so, and counts its restarts", spec: InitPods.withSidecar(),
                states: ["proxy": crashLooping("proxy", restarts: 4), "setup": InitPods.done("setup"), "app": InitPods.running("app")],
                ready: "1/2", status: "Init:CrashLoopBackOff", restarts: "4 (12s ago)"),
        RowCase(name: "app done, sidecar stopped: Completed", spec: InitPods.withSidecar(.never),
                states: ["proxy": InitPods.status("proxy", States.exited(143)), "setup": InitPods.done("setup"), "app": InitPods.done("app")],
                ready: "0/2", status: "Completed", restarts: "0"),
        RowCase(name: "app done, sidecar not stopped yet", spec: InitPods.withSidecar(.never),
                states: ["proxy": InitPods.running("proxy"), "setup": InitPods.done("setup"), "app": InitPods.done("app")],
                ready: "1/2", status: "Completed", restarts: "0"),
    ]

    @Test("READY, STATUS and RESTARTS", arguments: rowCases)
    func rows(_ testCase: RowCase) {
        var pod = Pod(metadata: ObjectMeta(name: "p", creationTimestamp: States.t0), spec: testCase.spec,
                      status: InitPods.podStatus(testCase.spec, testCase.states))
        PodStatusRules.update(&pod, now: Self.now)
        let row = PodTableRow(pod: pod, now: Self.now)
        #expect(row.ready == testCase.ready)
        #expect(row.status == testCase.status)
        #expect(row.restarts == testCase.restarts)
    }
}
