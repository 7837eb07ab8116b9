import Foundation
import KernelTestSupport
import Netns
import Testing

/// `podlab test` on real labs: a healthy lab passes, the seed scenario shows every claim of the
/// tutorial, a lab broken by hand fails with the broken path listed first, and a probe to an
/// address outside the lab is refused without a packet leaving the pod.
@Suite("Connectivity test end to end", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct ConnectivityTests {
    /// a: nginx on n1; b: echo (8080) + httpd (80) on n2; c: a shell on n1 with no listener.
    static let pods = [
        PinnedPod("a", on: "n1", "web", image: "nginx"),
        PinnedPod("b", on: "n2", [.init(name: "echo", image: "podlab/echo"), .init(name: "web", image: "httpd")]),
        PinnedPod("c", on: "n1", [.init(name: "shell", image: "busybox", command: ["sleep", "3600"])]),
    ]

    static func json(_ text: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
    }

    @Test("a healthy lab passes, and the probes were real traffic between the pods")
    func healthyLab() async throws {
        try await TestLab.with { lab in
            try await lab.start(Self.pods)
            let (a, b, c) = (try lab.podIP("a"), try lab.podIP("b"), try lab.podIP("c"))

            let table = try lab.run(["test", "--timeout", "3s"])
            #expect(table.status == .exited(0))
            #expect(!table.stdout.contains("MISMATCH"))
            for claim in ["cross-node", "pod-to-pod", "localhost", "shared-ip", "one-ip-per-pod", "port-conflict", "closed-port", "gateway", "host-isolation"] {
                #expect(table.stdout.contains("✓ \(claim)"), "no passing check for \(claim)")
            }
            #expect(table.stdout.contains("PASS: "))

            let report = try Self.json(try lab.run(["test", "--timeout", "3s", "-o", "json"]).stdout)
            #expect(report["passed"] as? Bool == true)
            let results = report["results"] as? [[String: Any]] ?? []
            #expect(results.count == (report["summary"] as? [String: Any])?["checks"] as? Int)
            // The source address actually used is the pod's own, across nodes.
            let crossNode = results.filter { $0["claim"] as? String == "cross-node" && $0["from"] as? String == "a" }
            #expect(!crossNode.isEmpty)
            for result in crossNode {
                let actual = result["actual"] as? [String: Any] ?? [:]
                #expect((actual["source"] as? String)?.hasPrefix(a + ":") == true, "\(actual)")
                #expect((actual["destination"] as? String)?.hasPrefix(b + ":") == true, "\(actual)")
            }
            // The host's check reads the routing table only.
            let host = results.filter { $0["claim"] as? String == "host-isolation" }
            #expect(host.count == 3)
            #expect(host.allSatisfy { (($0["actual"] as? [String: Any])?["detail"] as? String)?.hasPrefix("routing table only, no packet sent") == true })

            let junit = try lab.run(["test", "--timeout", "3s", "-o", "junit"])
            #expect(junit.stdout.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"podlab test \(lab.name) (matrix)\""))
            #expect(junit.stdout.contains("failures=\"0\" errors=\"0\""))

            // Independent evidence: the servers saw the probes, from the pods' own addresses.
            let echoLog = try lab.run(["logs", "b", "-c", "echo"]).stdout
            #expect(echoLog.contains("udp \(a):") && echoLog.contains("udp \(c):"), "echo saw UDP from a and c:\n\(echoLog)")
            let nginxLog = try lab.run(["logs", "a"]).stdout
            #expect(nginxLog.contains("\"GET / HTTP/1.1\" 200") && (nginxLog.contains(b) || nginxLog.contains(c)), "\(nginxLog)")

            // Every probe connection was reset by the end of the run: none stays established in
            // the pods (TIME_WAIT entries are the servers' own closes of HTTP answers).
            for pod in ["a", "b", "c"] {
                let sockets = try Command.check("ss", ["-Htan", "state", "established"], netns: "\(lab.name)_pod_default_\(pod)")
                #expect(sockets.isEmpty, "pod \(pod) still holds: \(sockets)")
            }
        }
    }

    @Test("the seed scenario reproduces every claim of the tutorial and cleans up after itself")
    func seedScenario() async throws {
        try await TestLab.with { lab in
            let result = try lab.run(["test", "--timeout", "3s", "--scenario", "seed"])
            #expect(result.status == .exited(0))
            for claim in ["one-ip-per-pod", "shared-ip", "localhost", "port-conflict", "cross-node", "host-isolation"] {
                #expect(result.stdout.contains("✓ \(claim)"), "\(claim) not shown:\n\(result.stdout)")
            }
            #expect(!result.stdout.contains("not shown"))
            #expect(result.stdout.contains("PASS: "))
            // The conflicting pod: one container holds 80, the kernel refuses a second bind.
            #expect(result.stdout.contains("bind :80") && result.stdout.contains("Address already in use (EADDRINUSE)"))
            let left = try lab.run(["get", "pods", "-n", "podlab-seed"], expectSuccess: false)
            #expect(left.stdout.isEmpty, "the scenario's pods are gone: \(left.stdout)")
            #expect(!((try? NetworkNamespace.list()) ?? []).contains { $0.hasPrefix("\(lab.name)_pod_podlab-seed_") })
        }
    }

    @Test("a pod without its default route: exit 1, the broken paths listed first")
    func brokenLab() async throws {
        try await TestLab.with { lab in
            try await lab.start(Self.pods)
            _ = try Command.check("ip", ["-n", "\(lab.name)_pod_default_a", "route", "del", "default"])

            let result = try lab.run(["test", "--timeout", "3s"], expectSuccess: false)
            #expect(result.status == .exited(1))
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first?.hasPrefix("RESULT") == true)
            let firstRow = lines.dropFirst().first ?? ""
            #expect(firstRow.hasPrefix("MISMATCH"), "first row: \(firstRow)")
            let mismatches = lines.filter { $0.hasPrefix("MISMATCH") }
            #expect(lines.firstIndex { $0.hasPrefix("ok") } ?? 0 > mismatches.count, "all mismatches come before the matches")
            #expect(mismatches.contains { $0.contains("gateway 10.244.1.1") && $0.contains("unreachable") }, "a cannot reach its gateway")
            #expect(mismatches.allSatisfy { row in
                let cells = row.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
                return cells.count > 3 && (cells[2] == "a" || cells[3] == "a")
            }, "every mismatch starts or ends at a:\n\(mismatches.joined(separator: "\n"))")
            #expect(result.stdout.contains("FAIL: "))

            let report = try Self.json(try lab.run(["test", "--timeout", "3s", "-o", "json"], expectSuccess: false).stdout)
            #expect(report["passed"] as? Bool == false)
            #expect(((report["results"] as? [[String: Any]])?.first?["matched"]) as? Bool == false)
        }
    }

    @Test("a node that masquerades pod-to-pod traffic: exit 1, the address the servers saw named as NAT")
    func natBetweenPods() async throws {
        try await TestLab.with { lab in
            try await lab.start(Self.pods)
            let (a, b) = (try lab.podIP("a"), try lab.podIP("b"))
            let clean = try Self.json(try lab.run(["test", "--timeout", "3s", "-o", "json"]).stdout)
            #expect(clean["passed"] as? Bool == true)
            let observed = (clean["results"] as? [[String: Any]] ?? []).compactMap { ($0["actual"] as? [String: Any])?["observedSource"] as? String }
            #expect(observed.contains { $0.hasPrefix(a + ":") }, "the servers' view of a's probes was observed: \(observed)")

            // Node n1 loses the masquerade rule's `ip daddr != cluster` condition: everything its
            // pods send is masqueraded, to the node's underlay address towards n2.
            let n1 = lab.nodeNamespace("n1")
            let underlay = try Self.underlayAddress(lab, "n1")
            _ = try Command.check("nft", ["flush", "chain", "ip", "podlab", "nat-postrouting"], netns: n1)
            _ = try Command.check("nft", ["add", "rule", "ip", "podlab", "nat-postrouting", "ip", "saddr", "10.244.0.0/16", "counter", "masquerade"], netns: n1)

            let table = try lab.run(["test", "--timeout", "3s", "--mismatches-only"], expectSuccess: false)
            #expect(table.status == .exited(1), "podlab test must fail when pods see each other through NAT:\n\(table.stdout)\(table.stderr)")
            let mismatches = table.stdout.split(separator: "\n").filter { $0.hasPrefix("MISMATCH") }
            #expect(mismatches.contains { $0.contains("\(a) → \(b): server saw \(underlay) (NAT)") }, "\(table.stdout)")
            #expect(table.stdout.contains("FAIL: "))

            let report = try Self.json(try lab.run(["test", "--timeout", "3s", "-o", "json"], expectSuccess: false).stdout)
            #expect(report["passed"] as? Bool == false)
            let failed = (report["results"] as? [[String: Any]] ?? []).filter { $0["matched"] as? Bool == false }
            let crossNode = failed.filter { $0["claim"] as? String == "cross-node" && $0["from"] as? String == "a" }
            #expect(!crossNode.isEmpty)
            for result in crossNode {
                let actual = result["actual"] as? [String: Any] ?? [:]
                #expect((actual["source"] as? String)?.hasPrefix(a + ":") == true, "the client's own socket still says a: \(actual)")
                #expect((actual["observedSource"] as? String)?.hasPrefix(underlay + ":") == true, "\(actual)")
                #expect((result["problem"] as? String)?.hasSuffix("server saw \(underlay) (NAT)") == true, "\(result)")
            }
            let junit = try lab.run(["test", "--timeout", "3s", "-o", "junit"], expectSuccess: false)
            #expect(junit.status == .exited(1))
            #expect(junit.stdout.contains("<failure message=\"\(a) → \(b): server saw \(underlay) (NAT)\""))
        }
    }

    /// A node's underlay address (`podlab get nodes -o json`: InternalIP).
    static func underlayAddress(_ lab: TestLab, _ node: String) throws -> String {
        let list = try Self.json(try lab.run(["get", "nodes", "-o", "json"]).stdout)
        let item = (list["items"] as? [[String: Any]] ?? []).first { ($0["metadata"] as? [String: Any])?["name"] as? String == node }
        let addresses = (item?["status"] as? [String: Any])?["addresses"] as? [[String: Any]] ?? []
        return try #require(addresses.first { $0["type"] as? String == "InternalIP" }?["address"] as? String, "node \(node): \(item ?? [:])")
    }

    @Test("a probe to an address outside the lab is refused with the reason; nothing leaves the pod")
    func outsideAddress() async throws {
        try await TestLab.with { lab in
            try await lab.start(Self.pods)
            // IPv4 packets sent and TCP connections opened by the pod's network stack (the pod's
            // IPv6 link-local chatter does not count here).
            func sent() throws -> [String] {
                let snmp = try Command.check("ip", ["netns", "exec", "\(lab.name)_pod_default_a", "cat", "/proc/net/snmp"])
                let lines = snmp.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
                func value(_ table: String, _ field: String) -> String {
                    let rows = lines.filter { $0.first == table + ":" }
                    guard rows.count == 2, let column = rows[0].firstIndex(of: field) else { return "?" }
                    return rows[1][column]
                }
                return [value("Ip", "OutRequests"), value("Tcp", "ActiveOpens"), value("Udp", "OutDatagrams")]
            }
            let before = try sent()
            let result = try lab.run(["test", "--from", "a", "--to", "8.8.8.8:53"], expectSuccess: false)
            #expect(result.status == .exited(1))
            #expect(result.stderr.contains("Error from server (Forbidden): probe refused: "))
            #expect(result.stderr.contains("8.8.8.8 is outside lab \"\(lab.name)\": podlab never sends traffic outside its own namespaces"))
            #expect(!before.contains("?"))
            #expect(try sent() == before, "the pod sent nothing")
        }
    }
}
