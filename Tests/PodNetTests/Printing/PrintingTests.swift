import Testing
@testable import PodNet

@Suite("kubectl's table printing")
struct PrintingTests {
    static let minute: Int64 = 60, hour: Int64 = 3600, day: Int64 = 86_400

    static let durations: [(Int64, String)] = [
        (-5, "<invalid>"), (-2, "<invalid>"), (-1, "0s"), (0, "0s"), (59, "59s"), (119, "119s"), (120, "2m"), (123, "2m3s"),
        (599, "9m59s"), (600, "10m"), (899, "14m"), (10_799, "179m"), (10_800, "3h"), (21_899, "6h4m"),
        (28_800, "8h"), (172_799, "47h"), (172_800, "2d"), (259_200, "3d"), (277_200, "3d5h"),
        (691_200, "8d"), (62_985_600, "729d"), (63_072_000, "2y"), (63_158_400, "2y1d"), (252_288_000, "8y"), (630_720_000, "20y"),
    ]

    @Test("HumanDuration", arguments: durations)
    func humanDuration(seconds: Int64, expected: String) {
        #expect(HumanDuration.string(seconds: seconds) == expected)
    }

    @Test("tables align like Go's tabwriter with kubectl's settings")
    func tableLayout() {
        let table = TextTable(headers: ["name", "a", "last"], rows: [["x", "é", "1"], ["longer-name", "bb", "2"]])
        #expect(table.render() == """
            NAME          A     LAST
            x             é     1
            longer-name   bb    2

            """)
        #expect(table.render(showHeaders: false) == "x             é     1\nlonger-name   bb    2\n")
        #expect(TextTable(headers: []).render() == "\n")
    }

    static let now = States.t0.adding(seconds: 14 * 60)

    static func tutorialPod(age: Int64) -> Pod {
        var pod = Pod.run(name: "nginx-ser", image: "nginx").applyingDefaults()
        pod.metadata.creationTimestamp = now.adding(seconds: -age)
        pod.spec.nodeName = "k3d-private-cluster-server-0"
        pod.status = PodStatus(phase: .running, podIP: "10.42.0.12", podIPs: [PodIP(ip: "10.42.0.12")],
                               containerStatuses: [ContainerStatus(name: "nginx-ser", state: States.running, ready: true, started: true)])
        PodStatusRules.update(&pod, now: now)
        return pod
    }

    @Test("the tutorial's get pods")
    func tutorialGetPods() {
        #expect(PodTableRow.table([Self.tutorialPod(age: 14 * 60)], now: Self.now).render() == """
            NAME        READY   STATUS    RESTARTS   AGE
            nginx-ser   1/1     Running   0          14m

            """)
    }

    @Test("the tutorial's get pods -o wide")
    func tutorialGetPodsWide() {
        #expect(PodTableRow.table([Self.tutorialPod(age: 6 * 3600 + 4 * 60)], wide: true, now: Self.now).render() == """
            NAME        READY   STATUS    RESTARTS   AGE    IP           NODE                           NOMINATED NODE   READINESS GATES
            nginx-ser   1/1     Running   0          6h4m   10.42.0.12   k3d-private-cluster-server-0   <none>           <none>

            """)
    }

    struct RowCase: Sendable, CustomTestStringConvertible {
        var name: String
        var phase: PodPhase?
        var statuses: [ContainerStatus]
        var deleting = false
        var ready: String
        var status: String
        var restarts: String
        var testDescription: String { name }
    }

    static let lastExit = ContainerState.terminated(.init(exitCode: 1, reason: "Error", startedAt: States.t0, finishedAt: now.adding(seconds: -12)))

    static let rowCases: [RowCase] = [
        RowCase(name: "pending, no statuses", phase: .pending, statuses: [], ready: "0/2", status: "Pending", restarts: "0"),
        RowCase(name: "creating", phase: .pending,
                statuses: [ContainerStatus(name: "a", state: States.creating), ContainerStatus(name: "b", state: States.creating)],
                ready: "0/2", status: "ContainerCreating", restarts: "0"),
        RowCase(name: "unknown image", phase: .pending,
                statuses: [ContainerStatus(name: "a", state: .waiting(reason: "ErrImagePull", message: "image \"ngnix\" is not in podlab's catalog")),
                           ContainerStatus(name: "b", state: States.running, ready: true)],
                ready: "1/2", status: "ErrImagePull", restarts: "0"),
        RowCase(name: "second container crash-looping (EADDRINUSE)", phase: .running,
                statuses: [ContainerStatus(name: "a", state: States.running, ready: true),
                           ContainerStatus(name: "b", state: States.crashLoop, lastState: lastExit, restartCount: 3)],
                ready: "1/2", status: "CrashLoopBackOff", restarts: "3 (12s ago)"),
        RowCase(name: "exited with an error", phase: .failed,
                statuses: [ContainerStatus(name: "a", state: States.exited(2)), ContainerStatus(name: "b", state: States.exited(0))],
                ready: "0/2", status: "Error", restarts: "0"),
        RowCase(name: "the first container's reason wins", phase: .failed,
                statuses: [ContainerStatus(name: "a", state: States.exited(0)), ContainerStatus(name: "b", state: States.exited(2))],
                ready: "0/2", status: "Completed", restarts: "0"),
        RowCase(name: "completed", phase: .succeeded,
                statuses: [ContainerStatus(name: "a", state: States.exited(0)), ContainerStatus(name: "b", state: States.exited(0))],
                ready: "0/2", status: "Completed", restarts: "0"),
        RowCase(name: "one completed, one still running, not ready", phase: .running,
                statuses: [ContainerStatus(name: "a", state: States.running, ready: true), ContainerStatus(name: "b", state: States.exited(0))],
                ready: "1/2", status: "NotReady", restarts: "0"),
        RowCase(name: "killed without a reason", phase: .failed,
                statuses: [ContainerStatus(name: "a", state: .terminated(.init(exitCode: 137, signal: 9))), ContainerStatus(name: "b", state: .terminated(.init(exitCode: 3)))],
                ready: "0/2", status: "Signal:9", restarts: "0"),
        RowCase(name: "terminating", phase: .running,
                statuses: [ContainerStatus(name: "a", state: States.running, ready: true), ContainerStatus(name: "b", state: States.running, ready: true)],
                deleting: true, ready: "2/2", status: "Terminating", restarts: "0"),
        RowCase(name: "terminating but already finished", phase: .succeeded,
                statuses: [ContainerStatus(name: "a", state: States.exited(0)), ContainerStatus(name: "b", state: States.exited(0))],
                deleting: true, ready: "0/2", status: "Completed", restarts: "0"),
        RowCase(name: "restarts without a finish time", phase: .running,
                statuses: [ContainerStatus(name: "a", state: States.running, ready: true, restartCount: 2), ContainerStatus(name: "b", state: States.running, ready: true, restartCount: 1)],
                ready: "2/2", status: "Running", restarts: "3"),
    ]

    @Test("READY, STATUS and RESTARTS follow kubectl's printPod", arguments: rowCases)
    func rows(_ testCase: RowCase) {
        var pod = twoContainerPod(testCase.statuses)
        pod.status.phase = testCase.phase
        if testCase.deleting { pod.metadata.deletionTimestamp = Self.now }
        PodStatusRules.update(&pod, now: Self.now)
        let row = PodTableRow(pod: pod, now: Self.now)
        #expect(row.ready == testCase.ready)
        #expect(row.status == testCase.status)
        #expect(row.restarts == testCase.restarts)
        #expect(row.age == "14m")
    }

    @Test("wide columns show <none> where empty")
    func wideEmpty() {
        let pod = Pod(metadata: ObjectMeta(name: "x"), spec: PodSpec(containers: [Container(name: "a", image: "b")]))
        let row = PodTableRow(pod: pod, now: Self.now)
        #expect(row.cells(wide: true) == ["x", "0/1", "", "0", "<unknown>", "<none>", "<none>", "<none>", "<none>"])
    }

    @Test("get nodes and get nodes -o wide")
    func nodes() {
        func node(_ name: String, ready: ConditionStatus?, ip: String, cordoned: Bool = false) -> Node {
            Node(metadata: ObjectMeta(name: name, creationTimestamp: States.t0),
                 spec: NodeSpec(podCIDR: "10.244.1.0/24", unschedulable: cordoned),
                 status: NodeStatus(addresses: [NodeAddress(type: .internalIP, address: ip)],
                                    conditions: ready.map { [NodeCondition(type: .ready, status: $0)] } ?? [],
                                    nodeInfo: NodeSystemInfo(kernelVersion: "6.18.0", osImage: "podlab", containerRuntimeVersion: "podlab://0.1", kubeletVersion: "v1.30.0-podlab")))
        }
        let nodes = [node("n1", ready: .true, ip: "192.168.200.11"), node("n2", ready: .false, ip: "192.168.200.12", cordoned: true), node("n3", ready: nil, ip: "192.168.200.13")]
        #expect(NodeTableRow.table(nodes, now: Self.now).render() == """
            NAME   STATUS                        ROLES    AGE   VERSION
            n1     Ready                         <none>   14m   v1.30.0-podlab
            n2     NotReady,SchedulingDisabled   <none>   14m   v1.30.0-podlab
            n3     Unknown                       <none>   14m   v1.30.0-podlab

            """)
        #expect(NodeTableRow.table([nodes[0]], wide: true, now: Self.now).render() == """
            NAME   STATUS   ROLES    AGE   VERSION          INTERNAL-IP      EXTERNAL-IP   OS-IMAGE   KERNEL-VERSION   CONTAINER-RUNTIME
            n1     Ready    <none>   14m   v1.30.0-podlab   192.168.200.11   <none>        podlab     6.18.0           podlab://0.1

            """)
        #expect(NodeTableRow(node: Node(metadata: ObjectMeta(name: "bare")), now: Self.now).cells(wide: true)
            == ["bare", "Unknown", "<none>", "<unknown>", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"])
    }
}
