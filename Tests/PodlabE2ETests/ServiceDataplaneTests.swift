import Foundation
import KernelTestSupport
import Netns
import PodlabAgent
import PodNet
import Testing

/// The Service dataplane against the kernel: ServiceTables built by hand from real pods, synced
/// into each node's `table ip podlab-services` by `ServiceDataplane`, and real connections
/// through them.
@Suite("Service dataplane end to end", .enabled(if: KernelTest.isRoot && KernelTest.hasNft, "needs root and nft"), .rootNamespaceUnchanged)
struct ServiceDataplaneTests {
    /// The lab's nodes as the Service rules see them, from `podlab ipam` and `podlab get nodes`.
    static func serviceNodes(_ lab: TestLab) throws -> (nodes: [ServiceNode], serviceCIDR: IPv4Prefix) {
        let ipam = try JSONDecoder().decode(IPAMReport.self, from: Data(try lab.run(["ipam", "-o", "json"]).stdout.utf8))
        let list = try #require(try JSONSerialization.jsonObject(with: Data(try lab.run(["get", "nodes", "-o", "json"]).stdout.utf8)) as? [String: Any])
        var underlay: [String: IPv4Address] = [:]
        for item in list["items"] as? [[String: Any]] ?? [] {
            let name = (item["metadata"] as? [String: Any])?["name"] as? String ?? ""
            let addresses = (item["status"] as? [String: Any])?["addresses"] as? [[String: Any]] ?? []
            underlay[name] = addresses.first { $0["type"] as? String == "InternalIP" }.flatMap { ($0["address"] as? String).flatMap(IPv4Address.init) }
        }
        let nodes = try ipam.nodes.map { node in
            ServiceNode(name: node.name, underlayIP: try #require(underlay[node.name], "InternalIP of \(node.name) in \(list)"), podCIDR: node.podCIDR,
                        clusterCIDR: ipam.clusterCIDR, serviceCIDR: ipam.serviceCIDR)
        }
        return (nodes, ipam.serviceCIDR)
    }

    /// The JSON lines the echo servers answered with.
    static func answers(_ output: String) -> [[String: Any]] {
        output.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }

    @Test("a pod reaches a ClusterIP with its own address; load spreads; no endpoints refuses; hairpin; NodePort from another node; ClientIP sticks")
    func services() async throws {
        try await TestLab.with { lab in
            try await lab.start([
                PinnedPod("echo-a", on: "n1", [.init(name: "echo", image: "podlab/echo"), .init(name: "curl", image: "curl", command: ["sleep", "3600"])]),
                PinnedPod("echo-b", on: "n2", "echo", image: "podlab/echo"),
                PinnedPod("client", on: "n1", [.init(name: "curl", image: "curl", command: ["sleep", "3600"])]),
            ])
            let (nodes, serviceCIDR) = try Self.serviceNodes(lab)
            #expect(nodes.map(\.name) == ["n1", "n2"])
            let a = try #require(IPv4Address(try lab.podIP("echo-a"))), b = try #require(IPv4Address(try lab.podIP("echo-b")))
            let client = try #require(IPv4Address(try lab.podIP("client")))
            func vip(_ n: UInt64) throws -> IPv4Address { try #require(serviceCIDR.host(n)) }
            let gateway = try #require(nodes[0].podCIDR.host(1), "n1's gateway")
            let endpoints = [ServiceEndpoint(ip: a, port: 8080, nodeName: "n1"), ServiceEndpoint(ip: b, port: 8080, nodeName: "n2")]
            let table = ServiceTable([
                ServiceEntry(name: "echo", clusterIP: try vip(100), type: .nodePort,
                             ports: [ServicePortEntry(name: "http", port: 80, nodePort: 30080, endpoints: endpoints)]),
                ServiceEntry(name: "empty", clusterIP: try vip(101), ports: [ServicePortEntry(port: 80, endpoints: [
                    ServiceEndpoint(ip: b, port: 8080, nodeName: "n2", ready: false),
                ])]),
                ServiceEntry(name: "only-a", clusterIP: try vip(102), ports: [ServicePortEntry(port: 80, endpoints: [endpoints[0]])]),
                ServiceEntry(name: "sticky", clusterIP: try vip(103), ports: [ServicePortEntry(port: 80, endpoints: endpoints)],
                             sessionAffinity: .clientIP(timeoutSeconds: 10800)),
            ])
            // The lab's agent already holds the table (with no Service of the API in it); this
            // dataplane, as a restarted agent would, reads it and adds what the table asks for.
            let dataplane = ServiceDataplane()
            for node in nodes {
                let report = try await dataplane.sync(node: node, namespace: try NetworkNamespace.open(lab.nodeNamespace(node.name)), table: table)
                #expect(!report.diff.isEmpty && !report.diff.createsTable, "\(report)")
            }

            // Read back, by podlab and by nft: what is installed is what was meant.
            for node in nodes {
                let namespace = lab.nodeNamespace(node.name)
                let installed = try ServiceDataplane.installed(in: try NetworkNamespace.open(namespace))
                let desired = ServiceRules.generate(for: table, node: node)
                #expect(ServiceRulesetDiff.between(installed: installed, desired: desired).isEmpty, "node \(node.name): \(installed.map(\.description) ?? "no table")")
                let listed = try Command.nftJSON(namespace, ["list", "map", "ip", ServiceRules.table, ServiceRules.serviceIPs])
                let elements = listed.compactMap { $0["map"] as? [String: Any] }.first?["elem"] as? [Any] ?? []
                #expect(elements.count == 4, "nft -j: \(listed)")
            }

            // ClusterIP from a pod: the echo server sees the client's own address; both endpoints answer.
            let loop = "for i in $(seq 20); do curl -s -m 5 http://\(try vip(100))/; echo; done"
            let spread = Self.answers(try lab.run(["exec", "client", "--", "sh", "-c", loop]).stdout)
            #expect(spread.count == 20)
            #expect(Set(spread.compactMap { $0["hostname"] as? String }) == ["echo-a", "echo-b"])
            #expect(spread.allSatisfy { ($0["client"] as? String)?.hasPrefix("\(client):") == true }, "\(spread.map { $0["client"] ?? "?" })")

            // No ready endpoint: refused at once, not a hang.
            // (curl's exit code 7 is "couldn't connect": refused; a timeout would be 28.)
            let refused = try lab.run(["exec", "client", "--", "curl", "-sS", "-m", "10", "http://\(try vip(101))/"], expectSuccess: false)
            #expect(refused.status == .exited(7), "\(refused.status): \(refused.stderr)")
            #expect(refused.stderr.contains("Couldn't connect to server"), "\(refused.stderr)")

            // Hairpin: echo-a reaches itself through only-a's ClusterIP, masqueraded to its node's gateway.
            let hairpin = Self.answers(try lab.run(["exec", "echo-a", "-c", "curl", "--", "curl", "-s", "-m", "5", "http://\(try vip(102))/"]).stdout)
            #expect(hairpin.first?["hostname"] as? String == "echo-a", "\(hairpin)")
            #expect((hairpin.first?["client"] as? String)?.hasPrefix("\(gateway):") == true, "\(hairpin)")

            // NodePort on n1's underlay address, from n2's namespace: both endpoints, the source masqueraded.
            let tools = try BuiltExecutable.path("podlab-tools")
            var nodePortHosts = Set<String>()
            for _ in 0..<16 {
                let result = try Command.run(tools, ["curl", "-s", "-m", "5", "http://\(nodes[0].underlayIP):30080/"], netns: lab.nodeNamespace("n2"))
                #expect(result.succeeded, "\(result.stderr)")
                for answer in Self.answers(result.stdout) {
                    nodePortHosts.insert(answer["hostname"] as? String ?? "?")
                    // Masqueraded to n1's address on the way out: its underlay address towards n2, its gateway towards its own pods.
                    let source = (answer["client"] as? String)?.split(separator: ":").first.map(String.init) ?? "?"
                    #expect(source == "\(nodes[0].underlayIP)" && answer["hostname"] as? String == "echo-b"
                            || source == "\(gateway)" && answer["hostname"] as? String == "echo-a", "\(answer)")
                }
            }
            #expect(nodePortHosts == ["echo-a", "echo-b"])

            // ClientIP affinity: every connection of the client goes to the same endpoint.
            let sticky = Self.answers(try lab.run(["exec", "client", "--", "sh", "-c",
                                                   "for i in $(seq 12); do curl -s -m 5 http://\(try vip(103))/; echo; done"]).stdout)
            #expect(sticky.count == 12)
            #expect(Set(sticky.compactMap { $0["hostname"] as? String }).count == 1, "\(sticky.map { $0["hostname"] ?? "?" })")

            // Synced again, by the same dataplane and by a new one (an agent restarted): nothing sent,
            // the table is the same object (not deleted and made again).
            let handle = { (namespace: String) throws -> Int? in
                try Command.nftJSON(namespace, ["list", "tables"]).compactMap { $0["table"] as? [String: Any] }
                    .first { $0["name"] as? String == ServiceRules.table }?["handle"] as? Int
            }
            let before = try handle(lab.nodeNamespace("n1"))
            for plane in [dataplane, ServiceDataplane()] {
                let report = try await plane.sync(node: nodes[0], namespace: try NetworkNamespace.open(lab.nodeNamespace("n1")), table: table)
                #expect(report.diff.isEmpty, "\(report.diff)")
            }
            #expect(try handle(lab.nodeNamespace("n1")) == before)

            // ClientIP affinity while endpoints come: a client recorded with echo-b keeps it when
            // echo-a, whose address sorts first, joins (in address order echo-b would move to
            // the second place, and its clients with it), and again when echo-a goes.
            var growing = table
            growing.services.append(ServiceEntry(name: "sticky-grow", clusterIP: try vip(104), ports: [ServicePortEntry(port: 80, endpoints: [endpoints[1]])],
                                                 sessionAffinity: .clientIP(timeoutSeconds: 10800)))
            let stickyLoop = "for i in $(seq 8); do curl -s -m 5 http://\(try vip(104))/; echo; done"
            // Last, echo-b goes while echo-a stays in slot 1: slot 0 is free, the client recorded
            // there chooses again and can only find echo-a.
            let steps = [([endpoints[1]], "echo-b"), (endpoints, "echo-b"), ([endpoints[1]], "echo-b"), (endpoints, "echo-b"), ([endpoints[0]], "echo-a")]
            for (step, (members, expected)) in steps.enumerated() {
                growing.services[growing.services.count - 1].ports[0].endpoints = members
                for node in nodes {
                    try await dataplane.sync(node: node, namespace: try NetworkNamespace.open(lab.nodeNamespace(node.name)), table: growing)
                }
                let hosts = Self.answers(try lab.run(["exec", "client", "--", "sh", "-c", stickyLoop]).stdout).compactMap { $0["hostname"] as? String }
                #expect(hosts.count == 8 && Set(hosts) == [expected], "step \(step): \(hosts)")
            }
            let installedGrowing = try #require(try ServiceDataplane.installed(in: try NetworkNamespace.open(lab.nodeNamespace("n1"))))
            let growingIP = try vip(104)
            #expect(installedGrowing.set(ServiceRules.backends)?.elements.filter { "\($0)".hasPrefix("\(growingIP) ") }.map(\.description)
                    == ["\(growingIP) . tcp . 80 . 1 : \(a) . 8080"])
            #expect(installedGrowing.chain("affinity-10800s-1-slots-2") != nil, "\(installedGrowing.chains.map(\.name))")
        }
    }

    /// A table with one Service for a namespace standing in for a node.
    static let node = ServiceNode(name: "n1", underlayIP: IPv4Address("192.168.200.11")!, podCIDR: IPv4Prefix("10.244.1.0/24")!,
                                  clusterCIDR: IPv4Prefix("10.244.0.0/16")!, serviceCIDR: IPv4Prefix("10.96.0.0/16")!)

    static func web(_ endpoints: [String]) -> ServiceEntry {
        ServiceEntry(name: "web", clusterIP: IPv4Address("10.96.0.10")!, ports: [ServicePortEntry(port: 80, endpoints: endpoints.map {
            ServiceEndpoint(ip: IPv4Address($0)!, port: 8080, nodeName: "n1")
        })])
    }

    static let other = ServiceEntry(name: "other", clusterIP: IPv4Address("10.96.0.11")!, ports: [ServicePortEntry(port: 80, endpoints: [])])

    @Test("a failed transaction leaves the previous rules in force; the retry reads the kernel and succeeds")
    func failureLeavesRulesAndIsRetried() async throws {
        try await KernelTest.withNamespaces(1, prefix: "plsvc") { namespaces in
            let namespace = namespaces[0]
            let once = ServiceDataplane(maximumAttempts: 1)
            let first = ServiceTable([Self.web(["10.244.1.2", "10.244.1.3"])])
            try await once.sync(node: Self.node, namespace: namespace, table: first)
            // Behind the dataplane's back, an element it believes installed disappears.
            _ = try Command.check("nft", ["delete", "element", "ip", ServiceRules.table, ServiceRules.backends, "{ 10.96.0.10 . tcp . 80 . 1 }"], netns: namespace.name)
            let afterTamper = try #require(try ServiceDataplane.installed(in: namespace))

            // The next change deletes that element: the kernel refuses the whole batch.
            let second = ServiceTable([Self.web(["10.244.1.2", "10.244.1.4"]), Self.other])
            await #expect(throws: KernelError.self) { try await once.sync(node: Self.node, namespace: namespace, table: second) }
            let afterFailure = try #require(try ServiceDataplane.installed(in: namespace))
            #expect(ServiceRulesetDiff.between(installed: afterTamper, desired: afterFailure).isEmpty, "the failed batch changed something")
            #expect(afterFailure.set(ServiceRules.serviceIPs)?.elements.count == 1)

            // Tried again, it reads what the kernel holds and sends what is missing.
            let retried = try await once.sync(node: Self.node, namespace: namespace, table: second)
            #expect(retried.diff.addedElementCount > 0)
            let desired = ServiceRules.generate(for: second, node: Self.node)
            #expect(ServiceRulesetDiff.between(installed: try ServiceDataplane.installed(in: namespace), desired: desired).isEmpty)

            // With retries allowed, one sync recovers by itself.
            let patient = ServiceDataplane(maximumAttempts: 3)
            try await patient.sync(node: Self.node, namespace: namespace, table: second)
            _ = try Command.check("nft", ["delete", "element", "ip", ServiceRules.table, ServiceRules.backends, "{ 10.96.0.10 . tcp . 80 . 1 }"], netns: namespace.name)
            let report = try await patient.sync(node: Self.node, namespace: namespace, table: ServiceTable([Self.web(["10.244.1.2", "10.244.1.5"])]))
            #expect(report.attempts == 2, "\(report)")
            #expect(ServiceRulesetDiff.between(installed: try ServiceDataplane.installed(in: namespace),
                                               desired: ServiceRules.generate(for: ServiceTable([Self.web(["10.244.1.2", "10.244.1.5"])]), node: Self.node)).isEmpty)
        }
    }

    @Test("a rule changed by hand is put back; an unknown rule is replaced, never kept")
    func driftIsRepaired() async throws {
        try await KernelTest.withNamespaces(1, prefix: "plsvc") { namespaces in
            let namespace = namespaces[0]
            let table = ServiceTable([Self.web(["10.244.1.2"])])
            try await ServiceDataplane().sync(node: Self.node, namespace: namespace, table: table)
            _ = try Command.check("nft", ["add", "rule", "ip", ServiceRules.table, ServiceRules.postroutingChain, "ct", "state", "new", "accept"], netns: namespace.name)
            let report = try await ServiceDataplane().sync(node: Self.node, namespace: namespace, table: table)
            #expect(report.diff.replacedChains.map(\.name) == [ServiceRules.postroutingChain])
            #expect(ServiceRulesetDiff.between(installed: try ServiceDataplane.installed(in: namespace), desired: ServiceRules.generate(for: table, node: Self.node)).isEmpty)
        }
    }
}
