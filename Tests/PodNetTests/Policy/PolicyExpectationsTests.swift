import Testing
@testable import PodNet

@Suite("podlab test with NetworkPolicies")
struct PolicyExpectationsTests {
    @Test("a default-deny ingress policy turns the checks into a (web) into time-outs, and leaves the rest")
    func denyIngress() throws {
        var snapshot = Lab.snapshot()
        let without = ReachabilityModel.checks(for: snapshot)
        snapshot.networkPolicies = [PolicyFixture.policy("default", "deny-web", "{podSelector: {matchLabels: {app: web}}}")]
        snapshot.namespaceLabels = ["default": ["kubernetes.io/metadata.name": "default"]]
        let with = ReachabilityModel.checks(for: snapshot)
        #expect(with.count == without.count)
        let intoA = with.filter { $0.probe?.to == "10.244.1.2" && $0.probe?.fromPod != "default/a" && $0.probe?.kind == .tcp }
        #expect(!intoA.isEmpty)
        #expect(intoA.allSatisfy { $0.expected == .timeout && $0.reason.contains("isolated by default/deny-web") })
        let fromA = with.filter { $0.probe?.fromPod == "default/a" && $0.probe?.to == "10.244.2.2" }
        #expect(!fromA.isEmpty)
        #expect(fromA.map(\.expected) == without.filter { $0.probe?.fromPod == "default/a" && $0.probe?.to == "10.244.2.2" }.map(\.expected))
        // Loopback inside a stays as it was.
        let inside = with.filter { $0.probe?.fromPod == "default/a" && $0.probe?.to == "127.0.0.1" }
        #expect(inside.allSatisfy { $0.expected != .timeout })
    }
}
