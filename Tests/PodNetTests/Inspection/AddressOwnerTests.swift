import PodNet
import Testing

@Suite("whois: who owns an address")
struct AddressOwnerTests {
    @Test("answers in words", arguments: [
        ("10.244.1.2", AddressOwner.Kind.pod, "pod default/a (node n1, containers: web)"),
        ("10.244.1.3", .pod, "pod default/b (node n1, containers: app, sidecar)"),
        ("10.244.2.2", .pod, "pod team/c (node n2, containers: db)"),
        ("10.244.1.1", .gateway, "gateway of node n1 (cni0)"),
        ("10.244.2.1", .gateway, "gateway of node n2 (cni0)"),
        ("192.168.200.12", .nodeUnderlay, "node n2 underlay address (eth0 in demo_node_n2)"),
        ("192.168.200.11", .nodeUnderlay, "node n1 underlay address (eth0 in demo_node_n1)"),
        ("10.244.1.77", .unallocated, "inside the cluster CIDR but not allocated (pod CIDR 10.244.1.0/24 of node n1)"),
        ("10.244.9.1", .unallocated, "inside the cluster CIDR but not allocated (in no node's pod CIDR)"),
        ("10.244.2.3", .allocated, "allocated on node n2 to uid-gone, but no pod holds it"),
        ("10.244.1.0", .reserved, "network address of 10.244.1.0/24 (pod CIDR of node n1)"),
        ("10.244.2.255", .reserved, "broadcast address of 10.244.2.0/24 (pod CIDR of node n2)"),
        ("10.96.0.10", .service, "in the service CIDR 10.96.0.0/16, but no service holds it"),
        ("192.168.200.50", .underlay, "in the underlay network 192.168.200.0/24, but no node holds it"),
        ("192.168.200.255", .reserved, "broadcast address of 192.168.200.0/24 (the underlay)"),
        ("127.0.0.1", .loopback, "loopback: every pod and node has its own on lo"),
        ("8.8.8.8", .outside, "not in the lab: podlab never sends traffic outside its namespaces"),
        ("2001:db8::1", .outside, "not in the lab: podlab never sends traffic outside its namespaces"),
        ("fe80::858:aff:fef4:102", .interface, "address of eth0 in pod default/a (demo_pod_default_a)"),
        ("::1", .loopback, "loopback: every pod and node has its own on lo"),
    ])
    func owner(address: String, kind: AddressOwner.Kind, text: String) throws {
        let owner = AddressOwner.find(try #require(IPAddress(address)), inventory: InspectionFixture.inventory, network: InspectionFixture.network)
        #expect(owner.kind == kind)
        #expect(owner.description == text)
        #expect(owner.isInLab == (kind != .outside))
    }

    @Test("a finished pod keeps its podIP in its status but no longer holds the address; a new pod on it does")
    func finishedPodsHoldNoAddress() throws {
        var inventory = InspectionFixture.inventory
        let index = try #require(inventory.pods.firstIndex { $0.name == "c" })
        inventory.pods[index].phase = "Succeeded"
        #expect(inventory.pod(holding: IPv4Address(10, 244, 2, 2)) == nil)
        var successor = inventory.pods[index]
        successor.name = "d"
        successor.uid = "uid-d"
        successor.phase = "Running"
        inventory.pods.append(successor)
        let owner = AddressOwner.find(.v4(IPv4Address(10, 244, 2, 2)), inventory: inventory, network: InspectionFixture.network)
        #expect(owner.pod == "team/d")
    }

    @Test func podOwnerNamesItsNamespaceAndInterface() throws {
        let owner = AddressOwner.find(.v4(IPv4Address(10, 244, 2, 2)), inventory: InspectionFixture.inventory, network: InspectionFixture.network)
        #expect(owner.namespace == "demo_pod_team_c")
        #expect(owner.interface == "eth0")
        #expect(owner.containers == ["db"])
    }

    @Test("an address only the kernel knows is found on its interface")
    func kernelOnlyAddress() throws {
        var network = InspectionFixture.network
        network.namespaces[0].interfaces[1].addrInfo = [InspectionFixture.inet("192.168.200.1/24", label: "underlay0")]
        let owner = AddressOwner.find(try #require(IPAddress("192.168.200.1")), inventory: InspectionFixture.inventory, network: network)
        #expect(owner.description == "address of underlay0 in underlay (demo_underlay)")
    }

    @Test func answerCarriesTheSummary() throws {
        let owner = AddressOwner(kind: .gateway, node: "n1", interface: "cni0")
        let answer = WhoisAnswer(lab: "demo", address: .v4(IPv4Address(10, 244, 1, 1)), owner: owner)
        #expect(answer.summary == "gateway of node n1 (cni0)")
    }
}
