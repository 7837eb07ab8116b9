import Foundation
import KernelTestSupport
import Netns
import Testing

/// `podlab ip`, `whois` and `ipam` on a real two-node lab, checked against what `ip -j` and
/// `nft -j` read from the same namespaces, and against real traffic.
@Suite("IP inspection end to end", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct InspectTests {
    /// Pods a and b on node n1, c on node n2.
    static func startPods(_ lab: TestLab) async throws {
        try await lab.start([
            PinnedPod("a", on: "n1", "web", image: "nginx"),
            PinnedPod("b", on: "n1", [.init(name: "app", image: "httpd"), .init(name: "sidecar", image: "podlab/echo")]),
            PinnedPod("c", on: "n2", "web", image: "httpd"),
        ])
    }

    static func object(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test("ip -o json and -br say what ip -j addr, route and neigh say, in every namespace of the lab")
    func ipMatchesTheKernel() async throws {
        try await TestLab.with { lab in
            try await Self.startPods(lab)
            let inspection = try Self.object(try lab.run(["ip", "-o", "json"]).stdout)
            let namespaces = try #require(inspection["namespaces"] as? [[String: Any]])
            let names = namespaces.compactMap { $0["namespace"] as? String }
            let expected = try NetworkNamespace.list().filter { $0.hasPrefix("\(lab.name)_") }
            #expect(names.sorted() == expected.sorted(), "one entry per namespace of the lab")
            #expect(names.first == "\(lab.name)_underlay")
            #expect(namespaces.map { $0["kind"] as? String ?? "" } == ["underlay", "node", "node", "pod", "pod", "pod"])

            for namespace in namespaces {
                let name = try #require(namespace["namespace"] as? String)
                // Interfaces and addresses.
                let ours = try #require(namespace["interfaces"] as? [[String: Any]])
                let theirs = try Command.ipJSON(name, ["addr"])
                #expect(ours.count == theirs.count, "interfaces of \(name)")
                for (mine, kernel) in zip(ours, theirs) {
                    for key in ["ifindex", "ifname", "mtu", "operstate", "link_type", "address", "master", "link_index", "link_netnsid"] {
                        #expect("\(mine[key] ?? "-")" == "\(kernel[key] ?? "-")", "\(key) of \(kernel["ifname"] ?? "?") in \(name)")
                    }
                    #expect(mine["flags"] as? [String] == kernel["flags"] as? [String], "flags of \(kernel["ifname"] ?? "?") in \(name)")
                    let addresses = { (list: Any?) in
                        ((list as? [[String: Any]]) ?? []).map { "\($0["family"] ?? "") \($0["local"] ?? "")/\($0["prefixlen"] ?? "") \($0["scope"] ?? "")" }
                    }
                    #expect(addresses(mine["addr_info"]) == addresses(kernel["addr_info"]), "addresses of \(kernel["ifname"] ?? "?") in \(name)")
                }
                // Routes of the main table.
                let routeKeys = ["dst", "gateway", "dev", "protocol", "scope", "prefsrc", "metric", "flags"]
                let route = { (entry: [String: Any]) in routeKeys.map { "\(entry[$0] ?? "-")" }.joined(separator: " ") }
                let ourRoutes = try #require(namespace["routes"] as? [[String: Any]]).map(route)
                let kernelRoutes = try Command.ipJSON(name, ["route"]).map(route)
                #expect(ourRoutes.sorted() == kernelRoutes.sorted(), "routes of \(name)")
                // Permanent IPv4 neighbour entries.
                let permanent = { (entries: [[String: Any]]) in
                    entries.filter { ($0["state"] as? [String])?.contains("PERMANENT") == true && ($0["dst"] as? String ?? "").contains(".") }
                        .map { "\($0["dst"] ?? "") \($0["dev"] ?? "") \($0["lladdr"] ?? "")" }.sorted()
                }
                let ourNeighbours = permanent(try #require(namespace["neighbours"] as? [[String: Any]]))
                #expect(ourNeighbours == permanent(try Command.ipJSON(name, ["neigh"])), "neighbours of \(name)")
                if namespace["kind"] as? String == "pod" { #expect(ourNeighbours.count == 1, "a pod's one gateway entry") }
                // podlab's table in the nodes.
                if namespace["kind"] as? String == "node", KernelTest.hasNft {
                    let chains = try #require(namespace["firewall"] as? [[String: Any]]).compactMap { $0["name"] as? String }
                    let kernelChains = try Command.nftJSON(name, ["list", "table", "ip", "podlab"])
                        .compactMap { ($0["chain"] as? [String: Any])?["name"] as? String }
                    #expect(chains.sorted() == kernelChains.sorted(), "chains of table ip podlab in \(name)")
                }
            }

            // -br: exactly ip -br addr, namespace by namespace.
            let brief = try lab.run(["ip", "-br"]).stdout
            let blocks = brief.components(separatedBy: "\n\n")
            #expect(blocks.count == namespaces.count)
            for block in blocks {
                var lines = block.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                let heading = lines.removeFirst()
                let name = try #require(heading.split(separator: "(").last?.split(separator: ")").first.map(String.init), "heading \(heading)")
                let kernel = try Command.check("ip", ["-n", name, "-br", "addr"])
                #expect(lines.filter { !$0.isEmpty }.joined(separator: "\n") + "\n" == kernel, "ip -br addr of \(name)")
            }

            // One pod and one node, by name.
            let pod = try lab.run(["ip", "pod", "a", "-br"]).stdout
            #expect(pod.hasPrefix("== pod default/a (\(lab.name)_pod_default_a) ==\nlo "))
            #expect(pod.contains(try lab.podIP("a") + "/32 "))
            let node = try lab.run(["ip", "node/n2"]).stdout
            #expect(node.hasPrefix("== node n2 (\(lab.name)_node_n2) ==\n"))
            #expect(node.contains("    inet 192.168.200.12/24 scope global eth0\n"))
            #expect(node.contains("    10.244.1.0/24 via 192.168.200.11 dev eth0\n"))

            // Bad input.
            let ghost = try lab.run(["ip", "pod", "ghost"], expectSuccess: false)
            #expect(ghost.status == .exited(1) && ghost.stderr == "Error from server (NotFound): pods \"ghost\" not found\n")
            let unknown = try lab.run(["ip", "n9"], expectSuccess: false)
            #expect(unknown.status == .exited(1))
            #expect(unknown.stderr == "error: no pod \"n9\" in namespace \"default\" and no node \"n9\" in lab \"\(lab.name)\"\n")
        }
    }

    @Test("whois names owners, traces same-node and cross-node paths that real traffic takes, ipam counts the pods")
    func whoisAndIPAM() async throws {
        try await TestLab.with { lab in
            try await Self.startPods(lab)
            let a = try lab.podIP("a"), b = try lab.podIP("b"), c = try lab.podIP("c")

            // Owners.
            for (address, answer) in [
                (a, "\(a): pod default/a (node n1, containers: web)"),
                (b, "\(b): pod default/b (node n1, containers: app, sidecar)"),
                ("10.244.1.1", "10.244.1.1: gateway of node n1 (cni0)"),
                ("10.244.2.1", "10.244.2.1: gateway of node n2 (cni0)"),
                ("192.168.200.12", "192.168.200.12: node n2 underlay address (eth0 in \(lab.name)_node_n2)"),
                ("10.244.1.200", "10.244.1.200: inside the cluster CIDR but not allocated (pod CIDR 10.244.1.0/24 of node n1)"),
                ("10.96.0.99", "10.96.0.99: in the service CIDR 10.96.0.0/16, but no service holds it"),
            ] {
                let result = try lab.run(["whois", address])
                #expect(result.stdout == answer + "\n", "stderr: \(result.stderr)")
            }
            let outside = try lab.run(["whois", "8.8.8.8"], expectSuccess: false)
            #expect(outside.status == .exited(1))
            #expect(outside.stdout == "8.8.8.8: not in the lab: podlab never sends traffic outside its namespaces\n", "stderr: \(outside.stderr)")
            let invalid = try lab.run(["whois", "10.244.1"], expectSuccess: false)
            #expect(invalid.status == .exited(1) && invalid.stderr == "error: \"10.244.1\" is not an IP address\n")
            let ghost = try lab.run(["whois", a, "--from", "ghost"], expectSuccess: false)
            #expect(ghost.status == .exited(1) && ghost.stderr == "Error from server (NotFound): pods \"ghost\" not found\n")

            // The node-side veth of each pod, read independently.
            func hostVeth(of pod: String, node: String) throws -> String {
                let eth0 = try #require(try Command.ipJSON("\(lab.name)_pod_default_\(pod)", ["link", "show", "eth0"]).first)
                let peer = try #require(eth0["link_index"] as? Int)
                let links = try Command.ipJSON("\(lab.name)_node_\(node)", ["link"])
                let veth = try #require(links.first { $0["ifindex"] as? Int == peer && $0["master"] as? String == "cni0" })
                return try #require(veth["ifname"] as? String)
            }

            // Same node: pod a → node n1 → pod b.
            let same = try Self.object(try lab.run(["whois", b, "--from", "a", "-o", "json"]).stdout)
            let samePath = try #require(same["path"] as? [String: Any])
            let sameHops = try #require(samePath["hops"] as? [[String: Any]])
            #expect(sameHops.compactMap { $0["namespace"] as? String } == ["\(lab.name)_pod_default_a", "\(lab.name)_node_n1", "\(lab.name)_pod_default_b"])
            #expect(sameHops[0]["route"] as? String == "default via 10.244.1.1 dev eth0 onlink")
            #expect(sameHops[0]["link"] as? String == "veth eth0 ↔ \(try hostVeth(of: "a", node: "n1")) (\(lab.name)_node_n1), a port of bridge cni0")
            #expect(sameHops[1]["route"] as? String == "10.244.1.0/24 dev cni0 proto kernel scope link src 10.244.1.1")
            #expect(sameHops[1]["neighbour"] as? String == "\(b) dev cni0 lladdr \(try Self.mac(of: "b", lab)) PERMANENT")
            #expect(sameHops[1]["link"] as? String == "bridge cni0, port \(try hostVeth(of: "b", node: "n1")) ↔ veth eth0 (\(lab.name)_pod_default_b)")
            #expect((samePath["outcome"] as? [String: Any])?["delivered"] as? Bool == true)

            // Cross node: pod a → node n1 → underlay → node n2 → pod c.
            let cross = try lab.run(["whois", c, "--from", "pod/a"]).stdout
            #expect(cross.hasPrefix("\(c): pod default/c (node n2, containers: web)\n\nPath from pod default/a (\(a)) to \(c):\n"))
            for line in [
                "  1. pod default/a (\(lab.name)_pod_default_a)\n",
                "  2. node n1 (\(lab.name)_node_n1)\n       in:     cni0 (port \(try hostVeth(of: "a", node: "n1")))\n       route:  10.244.2.0/24 via 192.168.200.12 dev eth0\n       nft:    table ip podlab chain forward (hook forward)\n",
                "  3. underlay (\(lab.name)_underlay)\n       in:     veth-n1\n       bridge: underlay0: veth-n1 → veth-n2\n",
                "  4. node n2 (\(lab.name)_node_n2)\n       in:     eth0\n       route:  10.244.2.0/24 dev cni0 proto kernel scope link src 10.244.2.1\n",
                "       link:   bridge cni0, port \(try hostVeth(of: "c", node: "n2")) ↔ veth eth0 (\(lab.name)_pod_default_c)\n",
                "  5. pod default/c (\(lab.name)_pod_default_c)\n       in:     eth0\n       route:  local \(c) dev eth0\n",
                "Result: delivered to pod default/c (eth0 in \(lab.name)_pod_default_c)\n",
            ] {
                #expect(cross.contains(line), "the cross-node path lacks:\n\(line)\nin:\n\(cross)")
            }
            #expect(!cross.contains("nat-postrouting"), "pod-to-pod traffic stays in the cluster CIDR: no masquerade")

            // Real traffic takes that path: the forward chains of both nodes count it.
            if KernelTest.hasNft {
                let before = try ["n1", "n2"].map { try Self.forwardPackets(lab, $0) }
                #expect(try lab.run(["exec", "a", "--", "curl", "-s", "http://\(c)/"]).stdout.contains("It works!"))
                let after = try ["n1", "n2"].map { try Self.forwardPackets(lab, $0) }
                #expect(after[0] > before[0] && after[1] > before[1], "forward counters \(before) → \(after)")
            }

            // Leaving the cluster CIDR: masquerade on the way to a node's underlay address.
            let toNode = try lab.run(["whois", "192.168.200.12", "--from", "a"]).stdout
            #expect(toNode.contains("nft:    table ip podlab chain nat-postrouting (hook postrouting): masquerade by rule "
                + "«ip saddr 10.244.0.0/16 ip daddr != 10.244.0.0/16 counter masquerade»: source \(a) becomes 192.168.200.11 (eth0)\n"), "\(toNode)")
            #expect(toNode.hasSuffix("Result: delivered to node n2 (eth0 in \(lab.name)_node_n2), from 192.168.200.11 (masqueraded in node n1)\n"))
            let away = try lab.run(["whois", "8.8.8.8", "--from", "a"], expectSuccess: false)
            #expect(away.stdout.hasSuffix("Result: dropped in node n1: no route to 8.8.8.8 (network unreachable; the lab has no way out of its namespaces)\n"), "stderr: \(away.stderr)")

            // IPAM: one allocation per pod, on the pod's node.
            let report = try Self.object(try lab.run(["ipam", "-o", "json"]).stdout)
            let allocations = try #require(report["allocations"] as? [[String: Any]])
            let pods = try #require(try Self.object(try lab.run(["get", "pods", "-o", "json"]).stdout)["items"] as? [[String: Any]])
            #expect(allocations.count == pods.count)
            for pod in pods {
                let name = (pod["metadata"] as? [String: Any])?["name"] as? String ?? ""
                let status = pod["status"] as? [String: Any], spec = pod["spec"] as? [String: Any]
                let allocation = allocations.first { $0["ip"] as? String == status?["podIP"] as? String }
                #expect(allocation?["node"] as? String == spec?["nodeName"] as? String, "allocation of \(name)")
                #expect(allocation?["pod"] as? String == "default/\(name)")
            }
            let nodes = try #require(report["nodes"] as? [[String: Any]])
            #expect(nodes.map { "\($0["name"] ?? "") \($0["allocated"] ?? "") \($0["free"] ?? "")" } == ["n1 2 251", "n2 1 252"])
            let table = try lab.run(["ipam"]).stdout
            #expect(table.hasPrefix("Cluster CIDR:   10.244.0.0/16  (2 nodes, 506 pod addresses: 3 allocated, 503 free)\n"))
            #expect(table.contains("\(c)   n2     default/c\n"))
        }
    }

    @Test("whois explains the path from the rules the node holds: the masquerade rule deleted, or taking pod traffic")
    func whoisReadsTheInstalledRules() async throws {
        try await TestLab.with { lab in
            try await Self.startPods(lab)
            let a = try lab.podIP("a"), c = try lab.podIP("c")
            let n1 = lab.nodeNamespace("n1"), n2 = lab.nodeNamespace("n2")
            let masquerade = "nft:    table ip podlab chain nat-postrouting (hook postrouting): masquerade by rule "
                + "«ip saddr 10.244.0.0/16 ip daddr != 10.244.0.0/16 counter masquerade»: source \(a) becomes 192.168.200.11 (eth0)\n"
            let toNode = try lab.run(["whois", "192.168.200.12", "--from", "a"]).stdout
            #expect(toNode.contains(masquerade), "\(toNode)")
            #expect(toNode.hasSuffix("Result: delivered to node n2 (eth0 in \(n2)), from 192.168.200.11 (masqueraded in node n1)\n"), "\(toNode)")

            // The rule deleted (by its handle, as nft -a lists it): nothing masquerades any more.
            let chain = try Command.nftJSON(n1, ["-a", "list", "chain", "ip", "podlab", "nat-postrouting"])
            let handles = chain.compactMap { ($0["rule"] as? [String: Any])?["handle"] as? Int }
            let handle = try #require(handles.first, "\(chain)")
            _ = try Command.check("nft", ["delete", "rule", "ip", "podlab", "nat-postrouting", "handle", String(handle)], netns: n1)
            let withoutRule = try lab.run(["whois", "192.168.200.12", "--from", "a"]).stdout
            #expect(!withoutRule.contains("nat-postrouting") && !withoutRule.contains("masquerade"), "\(withoutRule)")
            #expect(withoutRule.hasSuffix("Result: delivered to node n2 (eth0 in \(n2))\n"), "\(withoutRule)")

            // A rule that masquerades everything from the cluster CIDR: pod-to-pod traffic is translated.
            _ = try Command.check("nft", ["add", "rule", "ip", "podlab", "nat-postrouting", "ip", "saddr", "10.244.0.0/16", "counter", "masquerade"], netns: n1)
            let toPod = try lab.run(["whois", c, "--from", "a"]).stdout
            #expect(toPod.contains("nft:    table ip podlab chain nat-postrouting (hook postrouting): masquerade by rule "
                + "«ip saddr 10.244.0.0/16 counter masquerade»: source \(a) becomes 192.168.200.11 (eth0)\n"), "\(toPod)")
            #expect(toPod.hasSuffix("from 192.168.200.11 (masqueraded in node n1)\n"), "\(toPod)")
            let path = try #require(try Self.object(try lab.run(["whois", c, "--from", "a", "-o", "json"]).stdout)["path"] as? [String: Any])
            #expect((path["outcome"] as? [String: Any])?["source"] as? String == "192.168.200.11")
            #expect(try lab.run(["test", "--from", "a", "--to", "c"], expectSuccess: false).status == .exited(1),
                    "podlab test agrees: c sees a through NAT")
        }
    }

    @Test("over a VXLAN overlay: the path shows the encapsulation, and ip shows the overlay device")
    func overlay() async throws {
        let topology = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("topologies/vxlan-3node.yaml").path
        try await TestLab.with(topology: topology) { lab in
            let manifest = lab.stateRoot + "/pods.yaml"
            try ["n1", "n3"].map { node in """
                apiVersion: v1
                kind: Pod
                metadata:
                  name: on-\(node)
                spec:
                  nodeName: \(node)
                  containers:
                  - name: web
                    image: httpd
                """ }.joined(separator: "\n---\n").write(toFile: manifest, atomically: true, encoding: .utf8)
            try lab.run(["apply", "-f", manifest])
            try await lab.eventually("both Running") { try lab.run(["get", "pods"]).stdout.components(separatedBy: "Running").count == 3 }
            let target = try lab.podIP("on-n3")
            #expect(try lab.run(["exec", "on-n1", "--", "curl", "-s", "http://\(target)/"]).stdout.contains("It works!"))

            let path = try lab.run(["whois", target, "--from", "on-n1"])
            for line in [
                "  2. node n1 (\(lab.name)_node_n1)\n",
                "       route:  10.244.3.0/24 via 10.244.3.0 dev vxlan0 onlink\n",
                "       link:   VXLAN vxlan0 → vxlan0 (\(lab.name)_node_n3), encapsulated in UDP to 192.168.200.13 out of eth0: veth eth0 ↔ veth-n1 (\(lab.name)_underlay), a port of bridge underlay0\n",
                "       bridge: underlay0: veth-n1 → veth-n3\n",
                "  4. node n3 (\(lab.name)_node_n3)\n       in:     vxlan0 (decapsulated, arrived on eth0)\n",
                "Result: delivered to pod default/on-n3 (eth0 in \(lab.name)_pod_default_on-n3)\n",
            ] {
                #expect(path.stdout.contains(line), "the overlay path lacks:\n\(line)\nin:\n\(path.stdout)\(path.stderr)")
            }
            let owner = try lab.run(["whois", "10.244.1.0"])
            #expect(owner.stdout == "10.244.1.0: address of vxlan0 in node n1 (\(lab.name)_node_n1)\n", "stderr: \(owner.stderr)")
            let brief = try lab.run(["ip", "node", "n3", "-br"]).stdout
            #expect(brief.hasPrefix("== node n3 (\(lab.name)_node_n3) ==\n"))
            #expect(brief.dropFirst(brief.prefix { $0 != "\n" }.count + 1) == Substring(try Command.check("ip", ["-n", "\(lab.name)_node_n3", "-br", "addr"])))
        }
    }

    /// The packets counted by the rule in `table ip podlab` chain `forward` of a node.
    static func forwardPackets(_ lab: TestLab, _ node: String) throws -> Int {
        let entries = try Command.nftJSON("\(lab.name)_node_\(node)", ["list", "chain", "ip", "podlab", "forward"])
        for entry in entries {
            guard let rule = entry["rule"] as? [String: Any], let expressions = rule["expr"] as? [[String: Any]] else { continue }
            for expression in expressions {
                if let counter = expression["counter"] as? [String: Any], let packets = counter["packets"] as? Int { return packets }
            }
        }
        Issue.record("no counter in chain forward of \(node)")
        return 0
    }

    /// The MAC of a pod's eth0, read with `ip`.
    static func mac(of pod: String, _ lab: TestLab) throws -> String {
        let eth0 = try #require(try Command.ipJSON("\(lab.name)_pod_default_\(pod)", ["link", "show", "eth0"]).first)
        return try #require(eth0["address"] as? String)
    }
}
