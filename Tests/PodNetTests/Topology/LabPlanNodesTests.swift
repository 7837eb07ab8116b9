import PodNet
import Testing

@Suite("Adding and removing nodes of a lab plan")
struct LabPlanNodesTests {
    static func plan(_ yaml: String) throws -> LabPlan { try TopologySpec(yaml: yaml).plan() }

    @Test("a new node takes the next index, the first free pod CIDR and underlay host 10+index; others keep theirs")
    func add() throws {
        let plan = try Self.plan("name: lab\nnodeCount: 2\n")
        let added = try plan.addingNode(named: "n3")
        #expect(added.nodes.prefix(2) == plan.nodes[...])
        let node = try #require(added.node(named: "n3"))
        #expect(node.index == 3)
        #expect(node.namespace == "lab_node_n3")
        #expect(node.podCIDR.description == "10.244.3.0/24")
        #expect(node.gateway.description == "10.244.3.1/24")
        #expect(node.underlayAddress.description == "192.168.200.13/24")
    }

    @Test("after a removal the freed pod CIDR is reused but indices never go back")
    func reuse() throws {
        let plan = try Self.plan("name: lab\nnodeCount: 3\n").removingNode(named: "n2").addingNode(named: "x")
        let node = try #require(plan.node(named: "x"))
        #expect(node.index == 4 && node.namespace == "lab_node_x", "a node lives in a namespace named after it")
        #expect(node.podCIDR.description == "10.244.2.0/24")
        #expect(Set(plan.nodes.map(\.podCIDR)).count == plan.nodes.count)
    }

    @Test("bad requests are refused with the reason", arguments: [
        ("n1", "already exists"), ("Bad_Name", "invalid node name"),
    ])
    func badAdd(name: String, reason: String) throws {
        let plan = try Self.plan("name: lab\nnodeCount: 2\n")
        #expect { try plan.addingNode(named: name) } throws: { "\($0)".contains(reason) }
    }

    @Test("a full cluster CIDR, a missing node and the last node are refused")
    func limits() throws {
        let small = try Self.plan("name: lab\nclusterCIDR: 10.244.0.0/23\nnodeCIDRLength: 24\nnodeCount: 1\n")
        #expect { try small.addingNode(named: "n2") } throws: { "\($0)".contains("no free /24") }
        #expect { try small.removingNode(named: "n9") } throws: { "\($0)".contains("no node \"n9\"") }
        #expect { try small.removingNode(named: "n1") } throws: { "\($0)".contains("last node") }
    }
}
