import Testing
@testable import PodNet

/// Pods with `hostNetwork` and `hostAliases`: their defaults, names, hosts file, and how the
/// lab's inspection and connectivity model see them.
@Suite("Host network and host aliases")
struct HostNetworkTests {
    static func pod(_ yaml: String) throws -> Pod {
        try Pod(json: YAMLReader.value(from: yaml)).applyingDefaults()
    }

    static let hostNetworkPod = """
        apiVersion: v1
        kind: Pod
        metadata: {name: agent}
        spec:
          hostNetwork: true
          nodeName: n1
          hostname: ignored
          subdomain: ignored
          hostAliases:
          - {ip: 10.0.0.5, hostnames: [db, db.example.com]}
          - {ip: 'fd00::5', hostnames: [v6]}
          containers:
          - name: web
            image: nginx
            ports: [{containerPort: 8080}, {containerPort: 53, protocol: UDP}]
          initContainers:
          - name: init
            image: busybox
            ports: [{containerPort: 9000}]
        """

    @Test("with hostNetwork every port's hostPort defaults to its containerPort, as the API server sets it")
    func hostPortDefaults() throws {
        let pod = try Self.pod(Self.hostNetworkPod)
        #expect(pod.spec.hostNetwork)
        #expect(pod.spec.containers[0].ports.map(\.hostPort) == [8080, 53])
        #expect(pod.spec.initContainers[0].ports.map(\.hostPort) == [9000])
        #expect(pod.validate().errors.isEmpty)
        #expect(pod.applyingDefaults() == pod)
        // Without hostNetwork nothing is defaulted.
        let plain = try Self.pod(Self.hostNetworkPod.replacingOccurrences(of: "hostNetwork: true", with: "hostNetwork: false"))
        #expect(plain.spec.containers[0].ports.map(\.hostPort) == [0, 0])
    }

    @Test("spec.hostAliases reads in order, with every hostname")
    func aliases() throws {
        let pod = try Self.pod(Self.hostNetworkPod)
        #expect(pod.spec.hostAliases == [HostAlias(ip: "10.0.0.5", hostnames: ["db", "db.example.com"]), HostAlias(ip: "fd00::5", hostnames: ["v6"])])
    }

    @Test("a host-network pod's hostname is its node's; spec.hostname and subdomain do not apply")
    func hostname() throws {
        let names = PodHostname(pod: try Self.pod(Self.hostNetworkPod))
        #expect(names.kernelHostname == "n1")
        #expect(names.hostnameFile == "n1\n")
        #expect(names.fqdn == nil)
    }

    @Test("the kubelet's host-network hosts file: its own header, the node's hosts file, then the aliases")
    func hostNetworkHostsFile() throws {
        let pod = try Self.pod(Self.hostNetworkPod)
        let text = PodHostname.hostNetworkHostsFile(nodeHosts: PodHostname.nodeHostsFile(nodeName: "n1", nodeIP: "192.168.200.11"),
                                                    hostAliases: pod.spec.hostAliases)
        #expect(text == """
            # Kubernetes-managed hosts file (host network).
            127.0.0.1\tlocalhost
            192.168.200.11\tn1

            # Entries added by HostAliases.
            10.0.0.5\tdb\tdb.example.com
            fd00::5\tv6

            """)
        #expect(PodHostname.hostNetworkHostsFile(nodeHosts: "127.0.0.1\tlocalhost\n") == "# Kubernetes-managed hosts file (host network).\n127.0.0.1\tlocalhost\n")
    }

    @Test("a pod's own hosts file ends with the aliases block, and has none without aliases")
    func podHostsFile() {
        let names = PodHostname(hostname: "web")
        let plain = names.hostsFile(podIPs: ["10.244.1.5"])
        #expect(plain.hasSuffix("10.244.1.5\tweb\n"))
        #expect(!plain.contains("HostAliases"))
        let aliased = names.hostsFile(podIPs: ["10.244.1.5"], hostAliases: [HostAlias(ip: "127.0.0.1", hostnames: ["foo.local", "bar.local"])])
        #expect(aliased == plain + "\n# Entries added by HostAliases.\n127.0.0.1\tfoo.local\tbar.local\n")
    }

    @Test("only pod namespace names are pod namespaces: never a node's or the underlay's, of any lab", arguments: [
        ("demo_pod_default_web", true), ("demo_pod_default_web_0123456789abcdef", true), ("demo_node_n1", false),
        ("demo_node_pod", false), ("demo_underlay", false), ("pod_node_n1", false), ("_pod_x_y", false), ("demo-pod-web", false),
    ])
    func podNamespaceNames(name: String, isPod: Bool) {
        #expect(LabNamespaceNames.isPod(name) == isPod)
    }

    @Test("every node namespace name the lab makes is not a pod's, long ones included")
    func nodeNamesAreNotPods() {
        for node in ["n1", "pod", String(repeating: "p", count: 63)] {
            #expect(!LabNamespaceNames.isPod(LabNamespaceNames.node(lab: "demo", node: node)))
        }
        #expect(LabNamespaceNames.isPod(LabNamespaceNames.pod(lab: "demo", namespace: "default", name: String(repeating: "w", count: 200))))
    }

    @Test("a host-network pod takes no part in the pod matrix: it has no address of its own")
    func notInMatrix() throws {
        var agent = try Self.pod(Self.hostNetworkPod)
        agent.status.phase = .running
        agent.status.podIP = "192.168.200.11"
        var web = Pod(metadata: ObjectMeta(name: "web", namespace: "default"), spec: PodSpec(containers: [Container(name: "c", image: "nginx")]))
        web.spec.nodeName = "n1"
        web.status.phase = .running
        web.status.podIP = "10.244.1.2"
        let snapshot = LabSnapshot(plan: InspectionFixture.plan, pods: [agent, web])
        #expect(snapshot.activePods.map(\.name) == ["web"])
    }

    @Test("whois: the node's address names its host-network pods; they hold no address of their own")
    func whois() throws {
        var inventory = InspectionFixture.inventory
        inventory.pods.append(PodFacts(namespace: "default", name: "agent", uid: "uid-h", ip: IPv4Address("192.168.200.11"), node: "n1",
                                       netns: "demo_node_n1", containers: ["web"], hostNetwork: true))
        #expect(inventory.pod(holding: IPv4Address(192, 168, 200, 11)) == nil)
        let owner = AddressOwner.find(try #require(IPAddress("192.168.200.11")), inventory: inventory, network: InspectionFixture.network)
        #expect(owner.kind == .nodeUnderlay)
        #expect(owner.description == "node n1 underlay address (eth0 in demo_node_n1); the address of its host-network pods: default/agent")
        let other = AddressOwner.find(try #require(IPAddress("192.168.200.12")), inventory: inventory, network: InspectionFixture.network)
        #expect(other.description == "node n2 underlay address (eth0 in demo_node_n2)")
    }
}
