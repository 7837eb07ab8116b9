import Testing
@testable import PodNet

@Suite("The seed scenario: the pods tutorial's claims")
struct SeedScenarioTests {
    /// The scenario's pods as the agent would report them once settled: everything running on
    /// its node, and in `clash` the second container restarting after losing port 80.
    static func settled(nodes: [String] = ["n1", "n2"]) -> [Pod] {
        var address = 10
        return SeedScenario.pods(nodes: nodes).map { template in
            address += 1
            let subnet = template.spec.nodeName == "n1" ? 1 : 2
            var pod = Lab.pod(template.metadata.name, namespace: SeedScenario.namespace, node: template.spec.nodeName,
                              ip: "10.244.\(subnet).\(address)", template.spec.containers, labels: template.metadata.labels)
            if pod.metadata.name == "clash" {
                pod.status.containerStatuses[1].state = .waiting(reason: "CrashLoopBackOff")
                pod.status.containerStatuses[1].restartCount = 2
            }
            return pod
        }
    }

    @Test("the pods: tutorial names, first and last node, one namespace and label")
    func pods() {
        let pods = SeedScenario.pods(nodes: ["n1", "n2", "n3"])
        #expect(pods.map(\.metadata.name) == ["nginx-ser", "httpd", "shared", "clash"])
        #expect(pods.map(\.spec.nodeName) == ["n1", "n3", "n1", "n3"])
        #expect(pods.allSatisfy { $0.metadata.namespace == SeedScenario.namespace && $0.metadata.labels["podlab.dev/scenario"] == "seed" })
        #expect(pods.allSatisfy { $0.validate().errors.isEmpty }, "the agent accepts them")
    }

    @Test("what the scenario waits for")
    func waiting() {
        #expect(SeedScenario.waitingFor(Self.settled()).isEmpty)
        #expect(SeedScenario.waitingFor([]).count == 4)
        var pods = Self.settled()
        pods[3].status.containerStatuses[1].restartCount = 0
        pods[3].status.containerStatuses[1].state = .running(startedAt: Lab.t0)
        #expect(SeedScenario.waitingFor(pods) == ["clash: waiting for the second listener to fail"])
        pods = Self.settled()
        pods[2].status.containerStatuses[0].state = .waiting(reason: "ContainerCreating")
        #expect(SeedScenario.waitingFor(pods) == ["shared: 2/3 containers running"])
    }

    @Test("on two nodes the checks show every claim of the tutorial")
    func everyClaim() {
        let snapshot = LabSnapshot(lab: "lab", clusterCIDR: IPv4Prefix("10.244.0.0/16")!, nodes: [Lab.n1, Lab.n2],
                                   pods: Self.settled() + [Lab.a])
        let checks = SeedScenario.checks(for: snapshot, timeoutMillis: 500)
        for claim in ConnectivityClaim.tutorial {
            #expect(checks.contains { $0.claim == claim }, "no check for \(claim)")
        }
        #expect(SeedScenario.notShown(by: checks, nodes: 2).isEmpty)
        #expect(checks.allSatisfy { $0.from == "host" || $0.from.hasPrefix("podlab-seed/") }, "only the scenario's pods take part")
        let pairs = checks.filter { $0.claim == .crossNode || $0.claim == .podToPod }
        #expect(pairs.filter { $0.probe?.kind == .tcp }.allSatisfy { $0.expected == .refused } , "between pods: HTTP where a server answers")
        let conflict = checks.filter { $0.claim == .portConflict && $0.probe?.kind == .http }
        #expect(conflict.map(\.to) == ["podlab-seed/clash 10.244.2.14:80 (first)"])
        #expect(conflict.first?.probe?.expectBody == "Welcome to nginx!")
    }

    @Test("on one node, cross-node reach cannot be shown, and says why")
    func oneNode() {
        let snapshot = LabSnapshot(lab: "lab", clusterCIDR: IPv4Prefix("10.244.0.0/16")!, nodes: [Lab.n1], pods: Self.settled(nodes: ["n1"]))
        let checks = SeedScenario.checks(for: snapshot)
        #expect(SeedScenario.notShown(by: checks, nodes: 1) == [.crossNode: "the lab has one node"])
    }
}
