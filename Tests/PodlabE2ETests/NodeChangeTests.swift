import Foundation
import KernelTestSupport
import Netns
import Testing

/// `podlab node add/delete` on a running lab: every other node is reprogrammed.
@Suite("Adding and removing nodes end to end", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct NodeChangeTests {
    @Test("a node added to a running lab is reachable from the others; removing it removes its routes and pods")
    func addAndRemove() async throws {
        try await TestLab.with { lab in
            try lab.run(["run", "a", "--image", "nginx"])
            #expect(try lab.run(["node", "add", "n3"]).stdout.contains("node/n3 created (pod CIDR 10.244.3.0/24, underlay 192.168.200.13)"))
            #expect(NetworkNamespace.exists("\(lab.name)_node_n3"))
            let manifest = lab.stateRoot + "/c.yaml"
            try "apiVersion: v1\nkind: Pod\nmetadata:\n  name: c\nspec:\n  nodeName: n3\n  containers:\n  - name: web\n    image: httpd\n"
                .write(toFile: manifest, atomically: true, encoding: .utf8)
            try lab.run(["apply", "-f", manifest])
            try await lab.eventually("both Running") { try lab.run(["get", "pods"]).stdout.components(separatedBy: "Running").count == 3 }
            #expect(try lab.podIP("c") == "10.244.3.2")
            #expect(try lab.run(["exec", "a", "--", "curl", "-s", "http://10.244.3.2/"]).stdout.contains("It works!"))
            for node in ["n1", "n2"] {
                #expect(try Command.check("ip", ["-n", "\(lab.name)_node_\(node)", "route"]).contains("10.244.3.0/24 via 192.168.200.13 dev eth0"))
            }

            #expect(try lab.run(["node", "delete", "n3"]).stdout == "pod \"c\" deleted from default namespace\nnode \"n3\" deleted\n")
            #expect(!NetworkNamespace.exists("\(lab.name)_node_n3"))
            #expect(!NetworkNamespace.exists("\(lab.name)_pod_default_c"), "the node's pods go with it")
            for node in ["n1", "n2"] {
                #expect(!(try Command.check("ip", ["-n", "\(lab.name)_node_\(node)", "route"]).contains("10.244.3.0/24")))
            }
            #expect(!(try lab.run(["get", "nodes"]).stdout.contains("n3")))
            let again = try lab.run(["node", "add", "n1"], expectSuccess: false)
            #expect(!again.succeeded && again.stderr.contains("already exists"))
        }
    }
}
