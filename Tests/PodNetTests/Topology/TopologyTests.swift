import Foundation
import Testing
@testable import PodNet

/// The topology files shipped in `topologies/`, as test fixtures.
enum TopologyFixtures {
    static let defaultTopology = """
        # The default podlab lab: two nodes whose pods reach each other with host-gw routing
        # (each node routes the other node's pod CIDR via its underlay address).
        #
        #   underlay ns "podlab_underlay"   bridge underlay0  192.168.200.0/24
        #   node ns "podlab_node_n1" eth0 192.168.200.11   cni0 10.244.1.1/24   pods 10.244.1.0/24
        #   node ns "podlab_node_n2" eth0 192.168.200.12   cni0 10.244.2.1/24   pods 10.244.2.0/24
        name: podlab
        routing: host-gw
        clusterCIDR: 10.244.0.0/16
        nodeCIDRLength: 24
        serviceCIDR: 10.96.0.0/16
        underlayCIDR: 192.168.200.0/24
        mtu: 1500
        nodes:
        - name: n1
        - name: n2

        """

    static let singleNode = """
        # A one-node lab: every pod on node n1, no routing between nodes needed.
        #
        #   underlay ns "single_underlay"   bridge underlay0  192.168.200.0/24
        #   node ns "single_node_n1" eth0 192.168.200.11   cni0 10.244.1.1/24   pods 10.244.1.0/24
        name: single
        routing: host-gw
        clusterCIDR: 10.244.0.0/16
        nodeCIDRLength: 24
        serviceCIDR: 10.96.0.0/16
        underlayCIDR: 192.168.200.0/24
        mtu: 1500
        nodes:
        - name: n1

        """

    /// `topologies/<name>` in the repository.
    static func repositoryFile(_ name: String) throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return try String(contentsOf: root.appendingPathComponent("topologies").appendingPathComponent(name), encoding: .utf8)
    }
}

@Suite("Topology")
struct TopologyTests {
    static func plan(_ yaml: String) throws -> LabPlan {
        try TopologySpec(yaml: yaml).plan()
    }

    static func problems(_ yaml: String) -> [String] {
        do {
            _ = try plan(yaml)
            return []
        } catch let error as TopologyError {
            switch error {
            case let .invalid(problems): return problems.map(\.description)
            default: return [error.description]
            }
        } catch {
            return ["\(error)"]
        }
    }

    @Test("the shipped topology files are the fixtures")
    func shippedFiles() throws {
        #expect(try TopologyFixtures.repositoryFile("default.yaml") == TopologyFixtures.defaultTopology)
        #expect(try TopologyFixtures.repositoryFile("single-node.yaml") == TopologyFixtures.singleNode)
    }

    @Test("the default topology plans the lab design.md draws")
    func defaultPlan() throws {
        let plan = try Self.plan(TopologyFixtures.defaultTopology)
        #expect(plan.name == "podlab")
        #expect(plan.routing == .hostGateway)
        #expect(plan.vxlanID == nil)
        #expect(plan.underlayNamespace == "podlab_underlay")
        #expect(plan.clusterCIDR.description == "10.244.0.0/16")
        #expect(plan.serviceCIDR.description == "10.96.0.0/16")
        #expect(plan.underlayCIDR.description == "192.168.200.0/24")
        #expect(plan.mtu == 1500 && plan.podMTU == 1500)
        #expect(plan.nodes.map(\.index) == [1, 2])
        #expect(plan.nodes.map(\.name) == ["n1", "n2"])
        #expect(plan.nodes.map(\.namespace) == ["podlab_node_n1", "podlab_node_n2"])
        #expect(plan.nodes.map(\.podCIDR.description) == ["10.244.1.0/24", "10.244.2.0/24"])
        #expect(plan.nodes.map(\.gateway.description) == ["10.244.1.1/24", "10.244.2.1/24"])
        #expect(plan.nodes.map(\.underlayAddress.description) == ["192.168.200.11/24", "192.168.200.12/24"])
        #expect(plan.node(named: "n2")?.index == 2)
        #expect(plan.node(owning: IPv4Address(10, 244, 2, 7))?.name == "n2")
        #expect(plan.node(owning: IPv4Address(10, 244, 3, 7)) == nil)
        #expect(plan.pods.isEmpty)
    }

    @Test("the single-node topology")
    func singleNodePlan() throws {
        let plan = try Self.plan(TopologyFixtures.singleNode)
        #expect(plan.underlayNamespace == "single_underlay")
        #expect(plan.nodes.map(\.namespace) == ["single_node_n1"])
        #expect(plan.nodes.map(\.underlayAddress.description) == ["192.168.200.11/24"])
    }

    @Test("defaults fill everything but the nodes")
    func defaults() throws {
        let plan = try Self.plan("nodeCount: 3\n")
        #expect(plan.name == "podlab")
        #expect(plan.routing == .hostGateway)
        #expect(plan.nodes.map(\.name) == ["n1", "n2", "n3"])
        #expect(plan.nodes.map(\.podCIDR.description) == ["10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"])
        #expect(plan.nodes.last?.underlayAddress.description == "192.168.200.13/24")
        #expect(plan.nodeCIDRLength == 24)
        #expect(plan.mtu == 1500)
    }

    @Test("vxlan routing, explicit CIDRs and lengths")
    func custom() throws {
        let plan = try Self.plan("""
            name: lab-2
            routing: vxlan
            clusterCIDR: 10.100.0.0/16
            nodeCIDRLength: 26
            serviceCIDR: 10.200.0.0/20
            underlayCIDR: 172.30.0.0/24
            mtu: 9000
            nodes:
            - name: a
              podCIDR: 10.100.0.64/26
            - name: b
            - name: c
            """)
        #expect(plan.vxlanID == 1)
        #expect(plan.podMTU == 8950)
        // b and c take subnets from index 1 on, skipping a's given one.
        #expect(plan.nodes.map(\.podCIDR.description) == ["10.100.0.64/26", "10.100.0.128/26", "10.100.0.192/26"])
        #expect(plan.nodes.map(\.gateway.description) == ["10.100.0.65/26", "10.100.0.129/26", "10.100.0.193/26"])
        #expect(plan.nodes.map(\.underlayAddress.description) == ["172.30.0.11/24", "172.30.0.12/24", "172.30.0.13/24"])
        #expect(try Self.plan("routing: vxlan\nvxlanID: 42\nnodeCount: 1\n").vxlanID == 42)
    }

    @Test("pods to create at up are read and validated")
    func pods() throws {
        let plan = try Self.plan("""
            nodeCount: 2
            pods:
            - apiVersion: v1
              kind: Pod
              metadata:
                name: web
                labels:
                  app: web
              spec:
                nodeName: n2
                containers:
                - name: nginx
                  image: nginx
            - metadata:
                name: client
              spec:
                containers:
                - name: curl
                  image: curlimages/curl
                  command: [sleep, infinity]
            """)
        #expect(plan.pods.map(\.metadata.name) == ["web", "client"])
        #expect(plan.pods[0].spec.nodeName == "n2")
    }

    @Test("problems name their field", arguments: [
        ("nodes:\n- name: n1\n- name: n1\n", [#"nodes[1].name: duplicate node name "n1""#]),
        ("nodes:\n- name: N1\n- {}\n", [#"nodes[0].name: invalid node name "N1": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"#,
                                         "nodes[1].name: node name is required"]),
        ("name: my_lab\nnodeCount: 1\n", [#"name: invalid lab name "my_lab": use 1-12 characters of a-z, 0-9 and '-', starting and ending with a letter or digit (namespace names are built from it)"#]),
        ("name: averyverylongname\nnodeCount: 1\n", [#"name: invalid lab name "averyverylongname": use 1-12 characters of a-z, 0-9 and '-', starting and ending with a letter or digit (namespace names are built from it)"#]),
        ("name: twelve-chars\nnodeCount: 1\n", []),
        ("{}\n", ["nodes: list the nodes, or set nodeCount"]),
        ("nodes: []\n", ["nodes: a lab needs at least one node"]),
        ("nodeCount: 0\n", ["nodeCount: 0 is not a node count: a lab needs at least one node"]),
        ("nodeCount: 3\nnodes:\n- name: n1\n", ["nodeCount: 3 does not match the 1 nodes listed; give one or the other"]),
        ("routing: bgp\nnodeCount: 1\n", [#"routing: unsupported routing "bgp": use "host-gw" or "vxlan""#]),
        ("vxlanID: 5\nnodeCount: 1\n", ["vxlanID: only used with routing: vxlan"]),
        ("routing: vxlan\nvxlanID: 16777216\nnodeCount: 1\n", ["vxlanID: 16777216 is not a VXLAN network identifier (1-16777215)"]),
        ("mtu: 100\nnodeCount: 1\n", ["mtu: 100 is outside 576-9216"]),
        ("clusterCIDR: 10.244.0.0/33\nnodeCount: 1\n", [#"clusterCIDR: invalid CIDR "10.244.0.0/33": prefix length '33' must be a number 0-32"#]),
        ("clusterCIDR: 10.244.0.1/16\nnodeCount: 1\n", [#"clusterCIDR: invalid CIDR "10.244.0.1/16": host bits are set; did you mean 10.244.0.0/16?"#]),
        ("serviceCIDR: 10.244.128.0/20\nnodeCount: 1\n", ["serviceCIDR: 10.244.128.0/20 overlaps clusterCIDR 10.244.0.0/16"]),
        ("underlayCIDR: 10.0.0.0/8\nclusterCIDR: 10.244.0.0/16\nnodeCount: 1\n", ["underlayCIDR: 10.0.0.0/8 overlaps clusterCIDR 10.244.0.0/16",
                                                                                     "underlayCIDR: 10.0.0.0/8 overlaps serviceCIDR 10.96.0.0/16"]),
        ("nodeCIDRLength: 16\nnodeCount: 1\n", ["nodeCIDRLength: 16 must be longer than clusterCIDR's /16 and at most 30"]),
        ("nodeCIDRLength: 31\nnodeCount: 1\n", ["nodeCIDRLength: 31 must be longer than clusterCIDR's /16 and at most 30"]),
        ("nodes:\n- name: a\n  podCIDR: 10.245.1.0/24\n", ["nodes[0].podCIDR: 10.245.1.0/24 is not inside clusterCIDR 10.244.0.0/16"]),
        ("nodes:\n- name: a\n  podCIDR: 10.244.1.0/24\n- name: b\n  podCIDR: 10.244.0.0/23\n",
         ["nodes[1].podCIDR: 10.244.0.0/23 overlaps nodes[0].podCIDR 10.244.1.0/24"]),
        ("nodes:\n- name: a\n  podCIDR: 10.244.1.4/31\n", ["nodes[0].podCIDR: 10.244.1.4/31 is too small: a node CIDR needs room for the gateway and pods (at most /30)"]),
        ("nodes:\n- name: a\n  podCIDR: 10.244.1.1/24\n", [#"nodes[0].podCIDR: invalid CIDR "10.244.1.1/24": host bits are set; did you mean 10.244.1.0/24?"#]),
        ("clusterCIDR: 10.244.0.0/22\nnodeCount: 4\n",
         ["nodes: clusterCIDR 10.244.0.0/22 has room for 3 node CIDRs of /24 (the first, 10.244.0.0/24, is left unused); 4 nodes need one each"]),
        ("clusterCIDR: 10.244.0.0/22\nnodeCount: 3\n", []),
        ("underlayCIDR: 192.168.200.0/28\nnodeCount: 5\n", ["underlayCIDR: 192.168.200.0/28 has no room for 5 nodes (node addresses start at host 11)"]),
        ("underlayCIDR: 192.168.200.0/28\nnodeCount: 4\n", []),
        ("nodeCount: 1\npods:\n- metadata:\n    name: Web\n  spec:\n    nodeName: n9\n    containers:\n    - name: a\n",
         [#"pods[0].metadata.name: Invalid value: "Web": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#,
          "pods[0].spec.containers[0].image: Required value",
          #"pods[0].spec.nodeName: no node "n9" in this topology (nodes: n1)"#]),
        ("nodeCount: 1\npods:\n- metadata: {name: a}\n  spec: {containers: [{name: a, image: b}]}\n- metadata: {name: a, namespace: default}\n  spec: {containers: [{name: a, image: b}]}\n",
         [#"pods[1].metadata.name: duplicate pod "default/a""#]),
    ])
    func problemsNameFields(yaml: String, expected: [String]) {
        #expect(Self.problems(yaml) == expected)
    }

    @Test("unknown fields and wrong types are rejected with their path")
    func decodingErrors() {
        #expect(Self.problems("nodes:\n- nmae: n1\n") == [#"invalid topology: strict decoding error: unknown field "nodes[0].nmae""#])
        #expect(Self.problems("nodeCount: 1\nrouting: vxlan\nvxlanId: 3\n") == [#"invalid topology: strict decoding error: unknown field "vxlanId""#])
        #expect(Self.problems("nodeCount: 1\npods:\n- spec:\n    containers:\n    - name: a\n      imagee: x\n")
            == [#"invalid topology: strict decoding error: unknown field "pods[0].spec.containers[0].imagee""#])
        #expect(Self.problems("nodeCount: two\n") == ["invalid topology: json: cannot unmarshal string into field nodeCount of type int64"])
        #expect(Self.problems("nodes: [\n") == ["invalid topology: yaml: line 2, column 1: did not find expected node content (while parsing a flow node at line 2, column 1)"])
    }

    @Test("several problems are reported together")
    func together() {
        let error = #expect(throws: TopologyError.self) { try Self.plan("name: X\nrouting: ospf\nnodes:\n- name: a\n- name: a\n") }
        #expect(error?.problems.count == 3)
        #expect(error?.description == """
            invalid topology:
              name: invalid lab name "X": use 1-12 characters of a-z, 0-9 and '-', starting and ending with a letter or digit (namespace names are built from it)
              routing: unsupported routing "ospf": use "host-gw" or "vxlan"
              nodes[1].name: duplicate node name "a"
            """)
    }

    @Test("a plan is Codable, for the agent's store")
    func codable() throws {
        let plan = try Self.plan(TopologyFixtures.defaultTopology)
        let data = try JSONEncoder().encode(plan)
        #expect(try JSONDecoder().decode(LabPlan.self, from: data) == plan)
    }
}
