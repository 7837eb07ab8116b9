import Foundation
import KernelTestSupport
import Testing

/// Namespaces, Services and their endpoints as objects of a real lab: what the API stores
/// and answers (the dataplane that carries traffic to them is tested on its own).
@Suite("Services, endpoints and namespaces", .serialized, .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct ServiceObjectTests {
    static func json(_ lab: TestLab, _ arguments: [String]) throws -> [String: Any] {
        let result = try lab.run(arguments + ["-o", "json"])
        return (try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    /// `ready` addresses and `notReady` ones of the service's endpoints, sorted.
    static func endpoints(_ lab: TestLab, _ service: String, namespace: String) throws -> (ready: [String], notReady: [String]) {
        let object = try json(lab, ["get", "endpoints", service, "-n", namespace])
        var ready: [String] = []
        var notReady: [String] = []
        for subset in object["subsets"] as? [[String: Any]] ?? [] {
            ready += (subset["addresses"] as? [[String: Any]] ?? []).compactMap { $0["ip"] as? String }
            notReady += (subset["notReadyAddresses"] as? [[String: Any]] ?? []).compactMap { $0["ip"] as? String }
        }
        return (ready.sorted(), notReady.sorted())
    }

    @Test("endpoints follow the selected pods: running ones ready, crashing ones not, deleted ones gone")
    func endpointsFollowPods() async throws {
        try await TestLab.with { lab in
            try lab.run(["create", "namespace", "shop"])
            try lab.run(["run", "a", "-n", "shop", "--image", "nginx", "--labels", "app=web"])
            try lab.run(["run", "b", "-n", "shop", "--image", "nginx", "--labels", "app=web"])
            try lab.run(["run", "crash", "-n", "shop", "--image", "busybox", "--labels", "app=web", "--", "false"])
            try lab.run(["run", "other", "-n", "shop", "--image", "nginx", "--labels", "app=db"])
            let exposed = try lab.run(["expose", "pod", "a", "-n", "shop", "--port", "8080", "--target-port", "80", "--name", "web"])
            #expect(exposed.stdout == "service/web exposed\n")
            func ip(_ pod: String) throws -> String {
                ((try Self.json(lab, ["get", "pod", pod, "-n", "shop"]))["status"] as? [String: Any])?["podIP"] as? String ?? ""
            }
            try await lab.eventually("a and b ready, crash not ready") {
                let (ready, notReady) = try Self.endpoints(lab, "web", namespace: "shop")
                let expected = [try ip("a"), try ip("b")].sorted()
                return try ready == expected && notReady == [ip("crash")]
            }
            let service = try Self.json(lab, ["get", "svc", "web", "-n", "shop"])
            let spec = service["spec"] as? [String: Any] ?? [:]
            let clusterIP = spec["clusterIP"] as? String ?? ""
            #expect(clusterIP.hasPrefix("10.96."))
            #expect(spec["selector"] as? [String: String] == ["app": "web"])
            let table = try lab.run(["get", "svc", "-n", "shop"]).stdout
            #expect(table.contains("web    ClusterIP   \(clusterIP)"), "\(table)")
            let slices = try Self.json(lab, ["get", "endpointslices", "-n", "shop", "-l", "kubernetes.io/service-name=web"])
            let items = slices["items"] as? [[String: Any]] ?? []
            #expect(items.count == 1)
            #expect((items.first?["ports"] as? [[String: Any]])?.first?["port"] as? Int == 80)
            let described = try lab.run(["describe", "svc", "web", "-n", "shop"]).stdout
            #expect(described.contains("TargetPort:               80/TCP"), "\(described)")

            try lab.run(["delete", "pod", "b", "-n", "shop", "--grace-period", "1"])
            try await lab.eventually("b gone from the endpoints") {
                try Self.endpoints(lab, "web", namespace: "shop").ready == [try ip("a")]
            }

            // The agent, killed and started again, serves the same objects.
            let pid = try #require(lab.agentPID)
            kill(pid, SIGKILL)
            try await lab.eventually("the old agent is gone") { kill(pid, 0) != 0 }
            try lab.run(["up"])
            let again = try Self.json(lab, ["get", "svc", "web", "-n", "shop"])
            #expect((again["spec"] as? [String: Any])?["clusterIP"] as? String == clusterIP)
            #expect(try Self.endpoints(lab, "web", namespace: "shop").ready == [try ip("a")])

            // Deleting the namespace takes its pods and services with it.
            try lab.run(["delete", "namespace", "shop"])
            #expect(try lab.run(["get", "ns"]).stdout.contains("shop") == false)
            let gone = try lab.run(["get", "svc", "-n", "shop"], expectSuccess: false)
            #expect(gone.stderr == "No resources found in shop namespace.\n")
            #expect(try lab.run(["get", "pods", "-A"], expectSuccess: false).stdout.contains("shop") == false)
        }
    }

    @Test("bad services and missing namespaces are refused with the API server's messages, and change nothing")
    func badInput() async throws {
        try await TestLab.with { lab in
            let missing = try lab.run(["run", "x", "-n", "nowhere", "--image", "nginx"], expectSuccess: false)
            #expect(missing.status == .exited(1))
            #expect(missing.stderr == "Error from server (NotFound): namespaces \"nowhere\" not found\n")
            let file = lab.stateRoot + "/svc.yaml"
            func apply(_ yaml: String) throws -> CommandResult {
                try yaml.write(toFile: file, atomically: true, encoding: .utf8)
                return try lab.run(["apply", "-f", file], expectSuccess: false)
            }
            let first = try apply("""
                apiVersion: v1
                kind: Service
                metadata: {name: one}
                spec: {type: NodePort, clusterIP: 10.96.0.50, selector: {app: one}, ports: [{port: 80, nodePort: 30080}]}
                """)
            #expect(first.succeeded, "\(first.stderr)")
            let takenPort = try apply("""
                apiVersion: v1
                kind: Service
                metadata: {name: two}
                spec: {type: NodePort, selector: {app: two}, ports: [{port: 80, nodePort: 30080}]}
                """)
            #expect(takenPort.stderr.contains(#"The Service "two" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"#), "\(takenPort.stderr)")
            let takenIP = try apply("""
                apiVersion: v1
                kind: Service
                metadata: {name: three}
                spec: {clusterIP: 10.96.0.50, selector: {app: three}, ports: [{port: 80}]}
                """)
            #expect(takenIP.stderr.contains(#"spec.clusterIPs: Invalid value: []string{"10.96.0.50"}: failed to allocate IP 10.96.0.50: provided IP is already allocated"#), "\(takenIP.stderr)")
            let badPort = try apply("""
                apiVersion: v1
                kind: Service
                metadata: {name: four}
                spec: {selector: {app: four}, ports: [{port: 0, protocol: ICMP}]}
                """)
            #expect(badPort.stderr.contains("spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"), "\(badPort.stderr)")
            #expect(badPort.stderr.contains(#"spec.ports[0].protocol: Unsupported value: "ICMP""#), "\(badPort.stderr)")
            let dryRun = try lab.run(["expose", "pod", "nothing", "--port", "80"], expectSuccess: false)
            #expect(dryRun.stderr == "Error from server (NotFound): pods \"nothing\" not found\n")
            let table = try lab.run(["get", "svc"]).stdout
            // The first service and the API's, which every lab has.
            #expect(table.split(separator: "\n").count == 3, "only the first service exists:\n\(table)")
            #expect(table.split(separator: "\n").contains { $0.hasPrefix("kubernetes ") && $0.contains(" ClusterIP ") && $0.contains(" 10.96.0.1 ") && $0.contains(" 443/TCP ") },
                    "\(table)")
            #expect(table.contains("80:30080/TCP"))
            let refused = try lab.run(["delete", "namespace", "default"], expectSuccess: false)
            #expect(refused.stderr == "Error from server (Forbidden): namespaces \"default\" is forbidden: this namespace may not be deleted\n")
            let server = try lab.run(["create", "namespace", "later", "--dry-run=server"])
            #expect(server.stdout == "namespace/later created (server dry run)\n")
            #expect(try lab.run(["get", "ns", "later"], expectSuccess: false).status == .exited(1))
        }
    }

    @Test("a Service made through the API carries traffic: ClusterIP to every endpoint, NodePort on every node, refused without endpoints")
    func serviceCarriesTraffic() async throws {
        try await TestLab.with { lab in
            let file = lab.stateRoot + "/objects.yaml"
            try """
                apiVersion: v1
                kind: Pod
                metadata: {name: a, labels: {app: echo}}
                spec: {nodeName: n1, containers: [{name: echo, image: podlab/echo, ports: [{name: http, containerPort: 8080}]}]}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: b, labels: {app: echo}}
                spec: {nodeName: n2, containers: [{name: echo, image: podlab/echo, ports: [{name: http, containerPort: 8080}]}]}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: client}
                spec: {nodeName: n2, containers: [{name: c, image: busybox, command: [sleep, "1000"]}]}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: echo}
                spec:
                  type: NodePort
                  selector: {app: echo}
                  ports: [{name: web, port: 80, targetPort: http, nodePort: 30090}]
                """.write(toFile: file, atomically: true, encoding: .utf8)
            try lab.run(["apply", "-f", file])
            let clusterIP = ((try Self.json(lab, ["get", "svc", "echo"]))["spec"] as? [String: Any])?["clusterIP"] as? String ?? ""
            func fetch(_ url: String) throws -> [String: Any]? {
                let result = try lab.run(["exec", "client", "--", "wget", "-qO-", url], expectSuccess: false)
                guard result.succeeded else { return nil }
                return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            }
            var seen: [String: Int] = [:]
            var failures: [String] = []
            try await lab.eventually("both endpoints answer through the ClusterIP", detail: {
                let slices = (try? lab.run(["get", "endpointslices", "-o", "yaml"], expectSuccess: false).stdout) ?? ""
                let rules = ["n1", "n2"].map { node in
                    "rules of \(node):\n" + ((try? Command.run("nft", ["list", "table", "ip", "podlab-services"], netns: lab.nodeNamespace(node)).stdout) ?? "")
                }.joined(separator: "\n")
                return "ClusterIP \(clusterIP); answers by endpoint: \(seen); last failures: \(failures.suffix(5))\nendpoint slices:\n\(slices)\n\(rules)"
            }) {
                // A few requests a look: under load the looks themselves are few.
                for _ in 0..<4 where seen["a"] == nil || seen["b"] == nil {
                    let result = try lab.run(["exec", "client", "--", "wget", "-qO-", "http://\(clusterIP)/"], expectSuccess: false)
                    guard result.succeeded else {
                        failures.append("\(result.status): \(result.stderr)")
                        return false
                    }
                    let answer = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
                    if let name = answer?["hostname"] as? String { seen[name, default: 0] += 1 }
                }
                return seen["a"] != nil && seen["b"] != nil
            }
            // No NAT between pods: the endpoint sees the client's own address.
            let clientIP = try lab.podIP("client")
            let answer = try #require(try fetch("http://\(clusterIP)/"))
            #expect((answer["client"] as? String)?.hasPrefix(clientIP + ":") == true, "\(answer)")
            // The NodePort on either node's underlay address.
            for nodeIP in ["192.168.200.11", "192.168.200.12"] {
                #expect(try fetch("http://\(nodeIP):30090/")?["hostname"] != nil, "NodePort on \(nodeIP)")
            }
            // The tracer walks the same rules: both endpoints from the ClusterIP, and a NodePort
            // of the other node followed to where it arrives.
            let trace = try lab.run(["trace", "client", "\(clusterIP):80"]).stdout
            #expect(trace.contains("service default/echo port web 80/tcp") && trace.contains("verdict: DNAT to one of"), "\(trace)")
            let nodePortTrace = try lab.run(["trace", "client", "192.168.200.11:30090"]).stdout
            #expect(nodePortTrace.contains("then, arriving at node n1:") && nodePortTrace.contains("(source masqueraded)"), "\(nodePortTrace)")
            let whois = try lab.run(["whois", clusterIP, "--from", "client"]).stdout
            #expect(whois.hasPrefix("\(clusterIP): ClusterIP of service default/echo (80:30090/TCP)"), "\(whois)")
            // Without endpoints the service refuses at once.
            try lab.run(["delete", "pod", "a", "b", "--grace-period", "1"])
            try await lab.eventually("the service refuses") {
                let result = try lab.run(["exec", "client", "--", "wget", "-qO-", "http://\(clusterIP)/"], expectSuccess: false)
                return result.stderr.contains("Connection refused")
            }
            // Deleted, the service's address leads nowhere in any node's rules.
            try lab.run(["delete", "svc", "echo"])
            try await lab.eventually("the rules forget the address") {
                try ["n1", "n2"].allSatisfy { node in
                    !(try Command.check("nft", ["-j", "list", "table", "ip", "podlab-services"], netns: lab.nodeNamespace(node))).contains(clusterIP)
                }
            }
        }
    }

    @Test("a hostPort leads the node's address to the pod, keeps the client's address, and is one pod's per node")
    func hostPorts() async throws {
        try await TestLab.with { lab in
            let file = lab.stateRoot + "/pods.yaml"
            try """
                apiVersion: v1
                kind: Pod
                metadata: {name: hp}
                spec: {nodeName: n1, containers: [{name: echo, image: podlab/echo, ports: [{containerPort: 8080, hostPort: 9090}]}]}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: client}
                spec: {nodeName: n2, containers: [{name: c, image: busybox, command: [sleep, "1000"]}]}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: neighbour}
                spec: {nodeName: n1, containers: [{name: c, image: busybox, command: [sleep, "1000"]}]}
                """.write(toFile: file, atomically: true, encoding: .utf8)
            try lab.run(["apply", "-f", file])
            func ask(_ pod: String) async throws -> [String: Any] {
                var answer: [String: Any]?
                try await lab.eventually("the hostPort answers \(pod)") {
                    let result = try lab.run(["exec", pod, "--", "wget", "-qO-", "http://192.168.200.11:9090/"], expectSuccess: false)
                    answer = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
                    return answer != nil
                }
                return answer ?? [:]
            }
            // From the same node the pod sees the client's own address (the DNAT alone); from
            // another node, the address of the client's node, whose egress rule masquerades
            // what leaves for an address outside the cluster CIDR.
            let near = try await ask("neighbour")
            #expect(near["hostname"] as? String == "hp")
            #expect((near["client"] as? String)?.hasPrefix(try lab.podIP("neighbour") + ":") == true, "\(near)")
            let far = try await ask("client")
            #expect(far["hostname"] as? String == "hp")
            #expect((far["client"] as? String)?.hasPrefix("192.168.200.12:") == true, "\(far)")
            // The node's port is taken: a second pod asking for it on n1 is refused, and with
            // no node named it goes to the node where the port is free.
            try """
                apiVersion: v1
                kind: Pod
                metadata: {name: hp2}
                spec: {nodeName: n1, containers: [{name: echo, image: podlab/echo, ports: [{containerPort: 8080, hostPort: 9090}]}]}
                """.write(toFile: file, atomically: true, encoding: .utf8)
            let clash = try lab.run(["apply", "-f", file], expectSuccess: false)
            #expect(clash.stderr.contains("pod \"default/hp2\" asks for node \"n1\", where host port 9090/TCP is taken by pod default/hp"), "\(clash.stderr)")
            try """
                apiVersion: v1
                kind: Pod
                metadata: {name: hp3}
                spec: {containers: [{name: echo, image: podlab/echo, ports: [{containerPort: 8080, hostPort: 9090}]}]}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: hp4}
                spec: {containers: [{name: echo, image: podlab/echo, ports: [{containerPort: 8080, hostPort: 9090}]}]}
                """.write(toFile: file, atomically: true, encoding: .utf8)
            let more = try lab.run(["apply", "-f", file], expectSuccess: false)
            #expect(more.stdout == "pod/hp3 created\n")
            #expect(more.stderr.contains("0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports."), "\(more.stderr)")
            #expect((try lab.pod("hp3")["spec"] as? [String: Any])?["nodeName"] as? String == "n2")
            // Deleted, the pod's port leads nowhere.
            try lab.run(["delete", "pod", "hp", "--grace-period", "1"])
            try await lab.eventually("n1's rules forget the port") {
                !(try Command.check("nft", ["-j", "list", "map", "ip", "podlab-services", "hostports"], netns: lab.nodeNamespace("n1"))).contains("9090")
            }
        }
    }
}
