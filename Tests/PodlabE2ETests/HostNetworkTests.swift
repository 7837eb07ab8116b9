import Foundation
import KernelTestSupport
import Netns
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Pods with `hostNetwork`: their containers run in their node's network namespace with the
/// node's address, and nothing done to such a pod — deletion, a failed pod's release, adoption
/// after `kill -9` of the agent — changes or removes the node's namespace.
@Suite("Host-network pods", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct HostNetworkTests {
    /// The node's underlay address, from `get nodes -o json`.
    static func nodeIP(_ lab: TestLab, _ node: String) throws -> String {
        let result = try lab.run(["get", "node", node, "-o", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
        let addresses = (object["status"] as? [String: Any])?["addresses"] as? [[String: Any]] ?? []
        return addresses.first { $0["type"] as? String == "InternalIP" }?["address"] as? String ?? ""
    }

    /// The node namespace's identity: the inode of the namespace bound at /run/netns/NAME.
    static func inode(_ namespace: String) -> UInt64? {
        var info = stat()
        guard stat("\(NetworkNamespace.runDirectory)/\(namespace)", &info) == 0 else { return nil }
        return UInt64(info.st_ino)
    }

    /// The node's own interfaces and their addresses (`ip -n NODE -j addr`), without the pods'
    /// veths and the spare pod network, which come and go with other pods.
    static func nodeAddresses(_ namespace: String) throws -> [String] {
        try Command.ipJSON(namespace, ["addr"]).compactMap { link -> String? in
            let name = link["ifname"] as? String ?? ""
            guard !name.hasPrefix("veth"), !name.hasPrefix("vsp") else { return nil }
            let addresses = (link["addr_info"] as? [[String: Any]] ?? []).map { "\($0["local"] ?? "?")/\($0["prefixlen"] ?? "?")" }
            return "\(name) \(link["operstate"] ?? "?") \(addresses.joined(separator: " "))"
        }
    }

    static func status(_ pod: [String: Any]) -> [String: Any] { pod["status"] as? [String: Any] ?? [:] }

    @Test("a host-network pod has its node's address and name, a peer sees the node's address, aliases are in its /etc/hosts; deleting it leaves the node's namespace as it was")
    func nodeAddressAndDeletion() async throws {
        try await TestLab.with { lab in
            let node = lab.nodeNamespace("n1")
            let inode = try #require(Self.inode(node))
            let addresses = try Self.nodeAddresses(node)
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: agent}
                spec:
                  hostNetwork: true
                  nodeName: n1
                  hostAliases:
                  - {ip: 10.1.2.3, hostnames: [db, db.example.com]}
                  containers:
                  - name: echo
                    image: podlab/echo
                    ports: [{containerPort: 8080}]
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: peer}
                spec:
                  nodeName: n2
                  hostAliases:
                  - {ip: 127.0.0.1, hostnames: [foo.local, bar.local]}
                  - {ip: 10.1.2.3, hostnames: [db]}
                  containers:
                  - name: echo
                    image: podlab/echo
                """, as: "pods.yaml")
            try await lab.eventually("both running") {
                try ["agent", "peer"].allSatisfy { Self.status(try lab.pod($0))["phase"] as? String == "Running" }
            }
            let nodeIP = try Self.nodeIP(lab, "n1")
            #expect(nodeIP.hasPrefix("192.168."))
            let status = Self.status(try lab.pod("agent"))
            #expect(status["podIP"] as? String == nodeIP && status["hostIP"] as? String == nodeIP)
            #expect((status["podIPs"] as? [[String: Any]])?.compactMap { $0["ip"] as? String } == [nodeIP])
            // The defaulted hostPort is stored, as the API server stores it.
            let ports = ((try lab.pod("agent")["spec"] as? [String: Any])?["containers"] as? [[String: Any]])?.first?["ports"] as? [[String: Any]]
            #expect(ports?.first?["hostPort"] as? Int == 8080)
            let wide = try lab.run(["get", "pod", "agent", "-o", "wide"]).stdout
            #expect(wide.contains(" \(nodeIP) ") && wide.contains(" n1 "))
            let describe = try lab.run(["describe", "pod", "agent"]).stdout.split(separator: "\n")
            #expect(describe.contains { $0.hasPrefix("IP:") && $0.hasSuffix(" \(nodeIP)") }, "\(describe)")

            // Its containers are in the node's network namespace, with its own UTS namespace named after the node.
            #expect(try lab.run(["exec", "agent", "--", "hostname"]).stdout == "n1\n")
            #expect(try lab.run(["exec", "agent", "--", "hostname", "-i"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == nodeIP)
            let eth0 = try lab.run(["exec", "agent", "--", "ip", "-4", "addr", "show", "dev", "eth0"]).stdout
            #expect(eth0.contains("inet \(nodeIP)/"))
            #expect(try lab.run(["exec", "agent", "--", "cat", "/etc/hosts"]).stdout == """
                # Kubernetes-managed hosts file (host network).
                127.0.0.1\tlocalhost
                \(nodeIP)\tn1

                # Entries added by HostAliases.
                10.1.2.3\tdb\tdb.example.com

                """)

            // A pod of its own network gets the aliases after the kubelet's managed entries.
            let peerHosts = try lab.run(["exec", "peer", "--", "cat", "/etc/hosts"]).stdout
            #expect(peerHosts.hasPrefix("# Kubernetes-managed hosts file.\n"))
            #expect(peerHosts.hasSuffix("\n\(try lab.podIP("peer"))\tpeer\n\n# Entries added by HostAliases.\n127.0.0.1\tfoo.local\tbar.local\n10.1.2.3\tdb\n"), "\(peerHosts)")
            #expect(try lab.run(["exec", "peer", "--", "ping", "-c", "1", "-W", "2", "foo.local"]).stdout.contains("PING foo.local (127.0.0.1)"))

            // A peer pod reaches it at the node's address; it answers from the node (hostname n1).
            let fromPeer = try lab.run(["exec", "peer", "--", "curl", "-s", "http://\(nodeIP):8080/"]).stdout
            #expect(fromPeer.contains("\"hostname\":\"n1\"") && fromPeer.contains("\"podIP\":\"\(nodeIP)\""), "\(fromPeer)")
            // And the peer sees the node's address as the source of its connections.
            let peerIP = try lab.podIP("peer")
            let atPeer = try lab.run(["exec", "agent", "--", "curl", "-s", "http://\(peerIP):8080/"]).stdout
            #expect(atPeer.contains("\"client\":\"\(nodeIP):"), "\(atPeer)")

            // No IPAM allocation, no network namespace, no veth of its own.
            #expect(!(try lab.run(["ipam"]).stdout.contains("default/agent")))
            #expect(!NetworkNamespace.exists(lab.podNamespace("agent")))
            #expect(try lab.run(["whois", nodeIP]).stdout.contains("default/agent"))
            // podlab test leaves it out of the pod matrix and still passes.
            let test = try lab.run(["test"], expectSuccess: false)
            #expect(test.succeeded, "\(test.stdout)\(test.stderr)")

            try lab.run(["delete", "pod", "agent"])
            try await lab.eventually("agent gone") { !(try lab.run(["get", "pods"]).stdout.contains("agent")) }
            #expect(Self.inode(node) == inode, "the node's network namespace was replaced or removed")
            #expect(try Self.nodeAddresses(node) == addresses)
            // The node still routes: the peer on n2 reaches the node's address (nothing listens: refused, not unreachable).
            let after = try lab.run(["exec", "peer", "--", "curl", "-s", "-m", "5", "http://\(nodeIP):8080/"], expectSuccess: false)
            #expect(after.status == .exited(7), "curl: couldn't connect (refused), not a timeout: \(after.status) \(after.stdout)\(after.stderr)")
        }
    }

    @Test("two host-network pods on one node listening on one port: the second fails with EADDRINUSE (restarted: CrashLoopBackOff); its release keeps the node's namespace")
    func portClash() async throws {
        try await TestLab.with(backoff: 1) { lab in
            let node = lab.nodeNamespace("n1")
            let inode = try #require(Self.inode(node))
            func pod(_ name: String, restartPolicy: String = "Never") -> String {
                """
                apiVersion: v1
                kind: Pod
                metadata: {name: \(name)}
                spec:
                  hostNetwork: true
                  nodeName: n1
                  restartPolicy: \(restartPolicy)
                  containers:
                  - name: web
                    image: nginx
                """
            }
            try lab.apply(pod("first"), as: "first.yaml")
            try await lab.eventually("first running") { (try lab.containerStatus("first", "web"))["ready"] as? Bool == true }
            try lab.apply(pod("second"), as: "second.yaml")
            try await lab.eventually("second failed") { Self.status(try lab.pod("second"))["phase"] as? String == "Failed" }
            #expect(try lab.run(["get", "pod", "second"]).stdout.contains("second   0/1     Error"))
            #expect(try lab.run(["logs", "second"]).stdout.contains("Address already in use"))
            let terminated = ((try lab.containerStatus("second", "web"))["state"] as? [String: Any])?["terminated"] as? [String: Any]
            #expect(terminated?["exitCode"] as? Int == 1)
            // The failed pod's sandbox is released; the node's namespace stays, and the first still serves.
            try await Task.sleep(for: .milliseconds(500))
            #expect(Self.inode(node) == inode)
            #expect(try lab.run(["exec", "first", "--", "curl", "-s", "http://127.0.0.1/"]).stdout.contains("Welcome to nginx!"))
            // Restarted in the node's namespace, it fails again and backs off, as a container of a pod does.
            try lab.apply(pod("third", restartPolicy: "Always"), as: "third.yaml")
            try await lab.eventually("third restarted") { (try lab.containerStatus("third", "web"))["restartCount"] as? Int ?? 0 >= 2 }
            try await lab.eventually("third in CrashLoopBackOff") { try lab.run(["get", "pod", "third"]).stdout.contains("CrashLoopBackOff") }
            #expect(try lab.run(["logs", "third"]).stdout.contains("Address already in use"))
            try lab.run(["delete", "pod", "third"])
            try lab.run(["delete", "pod", "second"])
            try lab.run(["delete", "pod", "first"])
            try await lab.eventually("all gone") { !(try lab.run(["get", "pods"]).stdout.contains("first")) }
            #expect(Self.inode(node) == inode)
        }
    }

    @Test("kill -9 of the agent: the host-network pod is adopted (same process), then deleted; the node's namespace stays")
    func adoption() async throws {
        try await TestLab.with { lab in
            let node = lab.nodeNamespace("n2")
            let inode = try #require(Self.inode(node))
            let addresses = try Self.nodeAddresses(node)
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: daemon}
                spec:
                  hostNetwork: true
                  nodeName: n2
                  containers:
                  - name: web
                    image: httpd
                """, as: "daemon.yaml")
            try await lab.eventually("daemon running") { (try lab.containerStatus("daemon", "web"))["ready"] as? Bool == true }
            let before = try lab.containerStatus("daemon", "web")
            try await lab.killAgent()
            try lab.run(["up"])
            try await lab.eventually("daemon running again") { (try lab.containerStatus("daemon", "web"))["ready"] as? Bool == true }
            let after = try lab.containerStatus("daemon", "web")
            #expect(after["containerID"] as? String == before["containerID"] as? String, "the container was replaced, not adopted")
            #expect(after["restartCount"] as? Int == 0)
            #expect(Self.inode(node) == inode)
            #expect(try lab.run(["exec", "daemon", "--", "curl", "-s", "http://127.0.0.1/"]).stdout.contains("It works!"))

            try lab.run(["delete", "pod", "daemon"])
            try await lab.eventually("daemon gone") { !(try lab.run(["get", "pods"]).stdout.contains("daemon")) }
            #expect(Self.inode(node) == inode, "the node's network namespace was replaced or removed")
            #expect(try Self.nodeAddresses(node) == addresses)
            // The lab goes down cleanly: its node namespaces go then, and only then.
            try lab.run(["down"])
            #expect(Self.inode(node) == nil)
        }
    }
}
