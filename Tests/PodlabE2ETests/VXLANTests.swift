import Foundation
import KernelTestSupport
import Testing

/// `routing: vxlan`: pods on three nodes reach each other over the overlay, and the kernel
/// holds exactly the statically programmed overlay (no learning, one FDB entry per peer).
@Suite("VXLAN routing end to end", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct VXLANTests {
    static var topology: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("topologies/vxlan-3node.yaml").path
    }

    @Test("three nodes over VXLAN: every pod reaches every other; overlay state is static")
    func threeNodes() async throws {
        try await TestLab.with(topology: Self.topology) { lab in
            let manifest = lab.stateRoot + "/pods.yaml"
            try (1...3).map { """
                apiVersion: v1
                kind: Pod
                metadata:
                  name: p\($0)
                spec:
                  nodeName: n\($0)
                  containers:
                  - name: web
                    image: nginx
                """ }.joined(separator: "\n---\n").write(toFile: manifest, atomically: true, encoding: .utf8)
            try lab.run(["apply", "-f", manifest])
            try await lab.eventually("three pods Running") { try lab.run(["get", "pods"]).stdout.components(separatedBy: "Running").count == 4 }
            let ips = try (1...3).map { try lab.podIP("p\($0)") }
            #expect(ips == ["10.244.1.2", "10.244.2.2", "10.244.3.2"])
            for from in 1...3 {
                for to in 1...3 where to != from {
                    let result = try lab.run(["exec", "p\(from)", "--", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://\(ips[to - 1])/"])
                    #expect(result.stdout == "200", "p\(from) → p\(to) over the overlay")
                }
            }
            let node = "\(lab.name)_node_n1"
            let link = try Command.ipJSON(node, ["-d", "link", "show", "vxlan0"]).first ?? [:]
            let info = (link["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any] ?? [:]
            #expect(info["id"] as? Int == 42)
            #expect(info["learning"] as? Bool == false)
            #expect(link["mtu"] as? Int == 1450, "the overlay costs 50 bytes of MTU")
            let fdb = try Command.check("bridge", ["-n", node, "fdb", "show", "dev", "vxlan0"])
            #expect(fdb.contains("dst 192.168.200.12") && fdb.contains("dst 192.168.200.13"))
            let routes = try Command.check("ip", ["-n", node, "route"])
            #expect(routes.contains("10.244.2.0/24 via 10.244.2.0 dev vxlan0 onlink"))
            #expect(try Command.ipJSON("\(lab.name)_pod_default_p1", ["link", "show", "eth0"]).first?["mtu"] as? Int == 1450)
            // The same connectivity matrix as host-gw passes over the overlay.
            let matrix = try lab.run(["test", "--timeout", "3s"])
            #expect(matrix.stdout.contains("PASS:") && matrix.stdout.contains("0 mismatched"))
        }
    }
}
