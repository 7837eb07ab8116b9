import Foundation
import KernelTestSupport
import Netns
import PodNet
import Testing

/// `podlab test` on a lab with Services: it checks ClusterIPs, NodePorts, hostPorts, names
/// through the cluster DNS, spread, affinity and a Service without endpoints, passes when the
/// dataplane is whole, and fails — naming the broken checks — when one node's Service table
/// loses an element behind the agent's back.
@Suite("Service connectivity test end to end", .enabled(if: KernelTest.isRoot && KernelTest.hasNft, "needs root and nft"), .rootNamespaceUnchanged)
struct ServiceConnectivityTests {
    static let manifest = """
        apiVersion: v1
        kind: Pod
        metadata: {name: echo-a, labels: {app: echo}}
        spec:
          nodeName: n1
          containers:
          - name: echo
            image: podlab/echo
            ports: [{containerPort: 8080, hostPort: 9080}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: echo-b, labels: {app: echo}}
        spec:
          nodeName: n2
          containers: [{name: echo, image: podlab/echo}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: echo-c, labels: {app: echo}}
        spec:
          nodeName: n2
          containers: [{name: echo, image: podlab/echo}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: client}
        spec:
          nodeName: n1
          containers: [{name: shell, image: busybox, command: [sleep, "3600"]}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec: {selector: {app: echo}, ports: [{name: http, port: 80, targetPort: 8080}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: np}
        spec: {type: NodePort, selector: {app: echo}, ports: [{port: 80, targetPort: 8080}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: sticky}
        spec: {sessionAffinity: ClientIP, selector: {app: echo}, ports: [{port: 80, targetPort: 8080}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: nobody}
        spec: {selector: {app: nobody}, ports: [{port: 80, targetPort: 8080}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: hl}
        spec: {clusterIP: None, selector: {app: echo}, ports: [{port: 8080}]}
        """

    static func json(_ text: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
    }

    /// The ready addresses of a Service's EndpointSlices.
    static func readyAddresses(_ lab: TestLab, _ service: String, namespace: String = "default") throws -> Set<String> {
        let list = try json(try lab.run(["get", "endpointslices", "-n", namespace, "-o", "json"]).stdout)
        var addresses = Set<String>()
        for slice in list["items"] as? [[String: Any]] ?? []
            where ((slice["metadata"] as? [String: Any])?["labels"] as? [String: String])?["kubernetes.io/service-name"] == service {
            for endpoint in slice["endpoints"] as? [[String: Any]] ?? [] where (endpoint["conditions"] as? [String: Any])?["ready"] as? Bool ?? true {
                addresses.formUnion(endpoint["addresses"] as? [String] ?? [])
            }
        }
        return addresses
    }

    @Test("podlab test checks the Services and passes; with one node's ClusterIP element deleted it fails on that node's pods")
    func servicesPassThenFail() async throws {
        try await TestLab.with { lab in
            let file = lab.stateRoot + "/services.yaml"
            try Self.manifest.write(toFile: file, atomically: true, encoding: .utf8)
            try lab.run(["apply", "-f", file])
            try await lab.eventually("three echo endpoints ready and the cluster DNS ready", timeout: .seconds(90)) {
                try Self.readyAddresses(lab, "web").count == 3 && !(try Self.readyAddresses(lab, "kube-dns", namespace: "kube-system")).isEmpty
                    && (try? lab.podIP("client")).map { !$0.isEmpty } == true
            }

            let passing = try lab.run(["test", "--timeout", "3s", "-o", "json"], expectSuccess: false)
            let report = try Self.json(passing.stdout)
            let results = report["results"] as? [[String: Any]] ?? []
            let mismatches = results.filter { $0["matched"] as? Bool == false }
            #expect(passing.status == .exited(0), "mismatches: \(mismatches.map { "\($0["claim"] ?? "") \($0["from"] ?? "") → \($0["to"] ?? ""): \($0["problem"] ?? "")" })")
            #expect(report["passed"] as? Bool == true)
            let claims = Set(results.compactMap { $0["claim"] as? String })
            for claim in ["service-ip", "service-dns", "node-port", "host-port", "service-spread", "session-affinity", "service-no-endpoints"] {
                #expect(claims.contains(claim), "no \(claim) check in \(claims.sorted())")
            }
            // The spread check saw each of the three echo pods; the affinity check one of them, every time.
            let spread = results.filter { $0["claim"] as? String == "service-spread" && ($0["to"] as? String)?.hasPrefix("default/web ") == true }
            #expect(spread.count == 1)
            let answeredBy = (spread.first?["actual"] as? [String: Any])?["answeredBy"] as? [String: Int] ?? [:]
            #expect(Set(answeredBy.keys) == ["echo-a", "echo-b", "echo-c"], "\(answeredBy)")
            #expect(answeredBy.values.reduce(0, +) == ReachabilityModel.spreadTries(endpoints: 3))
            let sticky = results.first { $0["claim"] as? String == "session-affinity" }
            #expect(((sticky?["actual"] as? [String: Any])?["answeredBy"] as? [String: Int])?.count == 1, "\(sticky ?? [:])")
            // A headless name answers with each ready endpoint, from the cluster DNS the pod's resolv.conf names.
            let headless = results.filter { $0["claim"] as? String == "service-dns" && ($0["to"] as? String)?.hasSuffix("(default/hl)") == true }
            #expect(!headless.isEmpty)
            for check in headless {
                #expect(Set((check["actual"] as? [String: Any])?["answers"] as? [String] ?? []) == (try Self.readyAddresses(lab, "hl")), "\(check)")
                #expect((check["actual"] as? [String: Any])?["destination"] as? String == "10.96.0.10:53", "\(check)")
            }
            // The table report says so too, with an exit status of 0.
            let table = try lab.run(["test", "--timeout", "3s", "--from", "client"])
            #expect(table.status == .exited(0))
            #expect(table.stdout.contains("✓ service-spread") && table.stdout.contains("✓ service-no-endpoints"), "\(table.stdout)")

            // Break n1's dataplane for web: its ClusterIP element goes, behind the agent's back.
            let web = try Self.json(try lab.run(["get", "svc", "web", "-o", "json"]).stdout)
            let clusterIP = try #require((web["spec"] as? [String: Any])?["clusterIP"] as? String)
            _ = try Command.check("nft", ["delete", "element", "ip", ServiceRules.table, ServiceRules.serviceIPs, "{ \(clusterIP) . tcp . 80 }"],
                                  netns: lab.nodeNamespace("n1"))
            let failing = try lab.run(["test", "-o", "json", "--timeout", "3s"], expectSuccess: false)
            #expect(failing.status == .exited(1))
            let broken = try Self.json(failing.stdout)
            #expect(broken["passed"] as? Bool == false)
            let failed = (broken["results"] as? [[String: Any]] ?? []).filter { $0["matched"] as? Bool == false }
            #expect(!failed.isEmpty)
            // Only checks of web's ClusterIP, and only from pods on n1 (client, echo-a), fail.
            for check in failed {
                #expect((check["to"] as? String)?.hasPrefix("default/web \(clusterIP):80") == true, "\(check)")
                #expect(["client", "echo-a"].contains(check["from"] as? String ?? ""), "\(check)")
            }
            #expect(failed.contains { $0["claim"] as? String == "service-ip" && $0["from"] as? String == "client" }, "\(failed)")
        }
    }
}
