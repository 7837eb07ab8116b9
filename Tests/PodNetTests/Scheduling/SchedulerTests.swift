import Testing
@testable import PodNet

@Suite("Scheduler")
struct SchedulerTests {
    static func pod(node: String = "") -> Pod {
        Pod(metadata: ObjectMeta(name: "web", namespace: "default"), spec: PodSpec(containers: [Container(name: "a", image: "nginx")], nodeName: node))
    }

    static let nodes = [
        SchedulingCandidate(name: "n1", podCount: 3, freeAddresses: 250),
        SchedulingCandidate(name: "n2", podCount: 1, freeAddresses: 252),
        SchedulingCandidate(name: "n3", podCount: 1, freeAddresses: 252),
    ]

    @Test("fewest pods wins, ties go to the earlier node")
    func fewestPods() throws {
        #expect(try Scheduler.selectNode(for: Self.pod(), among: Self.nodes) == "n2")
        #expect(try Scheduler.selectNode(for: Self.pod(), among: [
            SchedulingCandidate(name: "a", podCount: 0, freeAddresses: 1), SchedulingCandidate(name: "b", podCount: 0, freeAddresses: 1),
        ]) == "a")
    }

    @Test("nodes without free addresses and cordoned nodes are skipped")
    func skips() throws {
        let nodes = [
            SchedulingCandidate(name: "n1", podCount: 0, freeAddresses: 0),
            SchedulingCandidate(name: "n2", podCount: 0, freeAddresses: 10, schedulable: false),
            SchedulingCandidate(name: "n3", podCount: 9, freeAddresses: 1),
        ]
        #expect(try Scheduler.selectNode(for: Self.pod(), among: nodes) == "n3")
    }

    @Test("spec.nodeName is honoured, even on a busier or cordoned node")
    func nodeName() throws {
        #expect(try Scheduler.selectNode(for: Self.pod(node: "n1"), among: Self.nodes) == "n1")
        let cordoned = [SchedulingCandidate(name: "n1", podCount: 0, freeAddresses: 5, schedulable: false)]
        #expect(try Scheduler.selectNode(for: Self.pod(node: "n1"), among: cordoned) == "n1")
    }

    @Test("errors name the pod and the node")
    func errors() {
        #expect(throws: SchedulingError.unknownNode(pod: "default/web", node: "n9", known: ["n1", "n2", "n3"])) {
            try Scheduler.selectNode(for: Self.pod(node: "n9"), among: Self.nodes)
        }
        #expect(SchedulingError.unknownNode(pod: "default/web", node: "n9", known: ["n1", "n2"]).description
            == #"pod "default/web" asks for node "n9", which is not in the lab (nodes: n1, n2)"#)
        let full = [SchedulingCandidate(name: "n1", podCount: 253, freeAddresses: 0), SchedulingCandidate(name: "n2", podCount: 0, freeAddresses: 9, schedulable: false)]
        #expect(throws: SchedulingError.nodeFull(pod: "default/web", node: "n1")) { try Scheduler.selectNode(for: Self.pod(node: "n1"), among: full) }
        #expect(SchedulingError.nodeFull(pod: "default/web", node: "n1").description == #"pod "default/web" asks for node "n1", which has no free pod IP addresses"#)
        let error = #expect(throws: SchedulingError.self) { try Scheduler.selectNode(for: Self.pod(), among: full) }
        #expect(error?.description == "0/2 nodes are available: 1 node(s) have no free pod IP addresses, 1 node(s) were unschedulable.")
        #expect(throws: SchedulingError.self) { try Scheduler.selectNode(for: Self.pod(), among: []) }
        #expect(SchedulingError.noNodeAvailable(pod: "p", total: 0, full: 0, unschedulable: 0).conditionMessage == "no nodes available to schedule pods")
    }

    @Test("pods spread evenly when the scheduler places them one by one")
    func spreads() throws {
        var nodes = [SchedulingCandidate(name: "n1", podCount: 0, freeAddresses: 253), SchedulingCandidate(name: "n2", podCount: 0, freeAddresses: 253)]
        var placed: [String] = []
        for _ in 0..<5 {
            let chosen = try Scheduler.selectNode(for: Self.pod(), among: nodes)
            placed.append(chosen)
            if let index = nodes.firstIndex(where: { $0.name == chosen }) {
                nodes[index].podCount += 1
                nodes[index].freeAddresses -= 1
            }
        }
        #expect(placed == ["n1", "n2", "n1", "n2", "n1"])
    }

    @Test("a node's host port is one pod's: nodes holding it are skipped, a pod naming one is refused")
    func hostPorts() throws {
        var pod = Self.pod()
        pod.spec.containers[0].ports = [ContainerPort(containerPort: 80, hostPort: 8080)]
        let held: [HostPort: String] = [HostPort(protocol: .tcp, port: 8080): "default/other"]
        let nodes = [SchedulingCandidate(name: "n1", podCount: 0, freeAddresses: 10, usedHostPorts: held),
                     SchedulingCandidate(name: "n2", podCount: 5, freeAddresses: 10)]
        #expect(try Scheduler.selectNode(for: pod, among: nodes) == "n2")
        // The same number over UDP is another port.
        var udp = pod
        udp.spec.containers[0].ports[0].protocol = .udp
        #expect(try Scheduler.selectNode(for: udp, among: nodes) == "n1")
        pod.spec.nodeName = "n1"
        #expect(throws: SchedulingError.hostPortTaken(pod: "default/web", node: "n1", port: "8080/TCP", holder: "default/other")) {
            try Scheduler.selectNode(for: pod, among: nodes)
        }
        pod.spec.nodeName = ""
        let full = [nodes[0], SchedulingCandidate(name: "n2", podCount: 0, freeAddresses: 10, usedHostPorts: held)]
        do {
            _ = try Scheduler.selectNode(for: pod, among: full)
            Issue.record("placed on a node whose port is taken")
        } catch {
            #expect(error.conditionMessage == "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports.")
        }
        // A host-network pod holds its container ports.
        var host = Self.pod()
        host.spec.preservedFields["hostNetwork"] = .bool(true)
        host.spec.containers[0].ports = [ContainerPort(containerPort: 8080)]
        #expect(host.hostPorts == [HostPort(protocol: .tcp, port: 8080)])
    }
}
