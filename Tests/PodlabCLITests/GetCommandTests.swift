@testable import AgentTestSupport
import Foundation
import PodNet
import PodlabCLI
import Testing

@Suite("get against the agent's API")
struct GetCommandTests {
    static func nginx(_ name: String = "nginx-ser", labels: [String: String]? = nil) -> Pod {
        Pod.run(name: name, image: "nginx", labels: labels)
    }

    @Test func table() async throws {
        try await TestAgent.serving { agent in
            let pod = try await agent.add(Self.nginx())
            let t = agent.context(now: pod.metadata.creationTimestamp)
            #expect(await t.run("get pods") == 0)
            #expect(t.stdout.text == """
                NAME        READY   STATUS    RESTARTS   AGE
                nginx-ser   1/1     Running   0          60m

                """)
            #expect(t.stderr.text.isEmpty)
        }
    }

    @Test func wide() async throws {
        try await TestAgent.serving { agent in
            let pod = try await agent.add(Self.nginx())
            let t = agent.context(now: pod.metadata.creationTimestamp)
            #expect(await t.run("get pods -o wide") == 0)
            let ip = pod.status.podIP.padding(toLength: max(pod.status.podIP.count, 2) + 3, withPad: " ", startingAt: 0)
            let node = pod.spec.nodeName.padding(toLength: max(pod.spec.nodeName.count, 4) + 3, withPad: " ", startingAt: 0)
            let ipHeader = "IP".padding(toLength: ip.count, withPad: " ", startingAt: 0)
            let nodeHeader = "NODE".padding(toLength: node.count, withPad: " ", startingAt: 0)
            #expect(t.stdout.text == """
                NAME        READY   STATUS    RESTARTS   AGE   \(ipHeader)\(nodeHeader)NOMINATED NODE   READINESS GATES
                nginx-ser   1/1     Running   0          60m   \(ip)\(node)<none>           <none>

                """)
        }
    }

    // (`get pods -A` always finds the cluster DNS pod in kube-system: see allNamespacesAddsTheNamespaceColumn.)
    @Test("empty namespace", arguments: [
        ("get pods", "No resources found in default namespace.\n"),
        ("get po -n team", "No resources found in team namespace.\n"),
    ])
    func empty(line: String, message: String) async throws {
        try await TestAgent.serving { agent in
            let t = agent.context()
            #expect(await t.run(line) == 0)
            #expect(t.stdout.text.isEmpty)
            #expect(t.stderr.text == message)
        }
    }

    @Test func emptyListAsJSONIsAList() async throws {
        try await TestAgent.serving { agent in
            let t = agent.context()
            #expect(await t.run("get pods -o json") == 0)
            #expect(t.stdout.text == """
                {
                    "apiVersion": "v1",
                    "items": [],
                    "kind": "List",
                    "metadata": {
                        "resourceVersion": ""
                    }
                }

                """)
        }
    }

    @Test func names() async throws {
        try await TestAgent.serving { agent in
            try await agent.add(Self.nginx("b"))
            try await agent.add(Self.nginx("a"))
            let t = agent.context()
            #expect(await t.run("get pods -oname") == 0)
            #expect(t.stdout.text == "pod/a\npod/b\n")
        }
    }

    @Test func oneAsYAML() async throws {
        try await TestAgent.serving { agent in
            let pod = try await agent.add(Self.nginx())
            let t = agent.context()
            #expect(await t.run("get pod/nginx-ser -o=yaml") == 0)
            let text = t.stdout.text
            #expect(text.hasPrefix("apiVersion: v1\nkind: Pod\nmetadata:\n  creationTimestamp: \"\(pod.metadata.creationTimestamp?.description ?? "")\"\n"))
            #expect(text.contains("  podIP: \(pod.status.podIP)\n"))
            let parsed = try Pod(json: try YAMLReader.value(from: text))
            // The stored pod carries the kubelet's status entry, which -o yaml hides.
            var stored = await agent.pod("nginx-ser")
            #expect(stored?.metadata.preservedFields["managedFields"] != nil)
            stored?.metadata.preservedFields["managedFields"] = nil
            #expect(parsed == stored)
        }
    }

    @Test("-o yaml|json hide managedFields as kubectl does; --show-managed-fields keeps them")
    func managedFieldsHidden() async throws {
        try await TestAgent.serving { agent in
            let create = agent.context()
            #expect(await create.run("run web --image nginx") == 0)
            for format in ["yaml", "json"] {
                let hidden = agent.context()
                #expect(await hidden.run("get pod web -o \(format)") == 0)
                #expect(!hidden.stdout.text.contains("managedFields") && hidden.stdout.text.contains("web"))
                let shown = agent.context()
                #expect(await shown.run("get pods -o \(format) --show-managed-fields") == 0)
                #expect(shown.stdout.text.contains("managedFields"))
            }
        }
    }

    @Test func listAsJSON() async throws {
        try await TestAgent.serving { agent in
            try await agent.add(Self.nginx("a"))
            try await agent.add(Self.nginx("b"))
            let t = agent.context()
            #expect(await t.run("get pods -o json") == 0)
            let list = try PodList(json: try JSONReader.value(from: t.stdout.text))
            #expect(list.kind == "List")
            #expect(list.items.map(\.metadata.name) == ["a", "b"])
        }
    }

    @Test func selectorIsSentToTheServer() async throws {
        try await TestAgent.serving { agent in
            try await agent.add(Self.nginx("web", labels: ["app": "web"]))
            let last = try await agent.add(Self.nginx("db", labels: ["app": "db"]))
            let t = agent.context(now: last.metadata.creationTimestamp)
            #expect(await t.run(["get", "pods", "-l", "app=web", "--show-labels"]) == 0)
            #expect(t.stdout.text == """
                NAME   READY   STATUS    RESTARTS   AGE   LABELS
                web    1/1     Running   0          60m   app=web

                """)
            #expect(agent.requests.last?.query["labelSelector"] == "app=web")
        }
    }

    @Test func badSelectorIsRefusedBeforeAnyRequest() async throws {
        try await TestAgent.serving { agent in
            let t = agent.context()
            #expect(await t.run(["get", "pods", "-l", "app in web"]) == 1)
            #expect(t.stderr.text.hasPrefix("error: unable to parse label selector \"app in web\""))
            #expect(agent.requests.isEmpty)
        }
    }

    @Test func notFound() async throws {
        try await TestAgent.serving { agent in
            try await agent.add(Self.nginx("a"))
            let t = agent.context()
            #expect(await t.run("get pods a x") == 1)
            #expect(t.stderr.text == "Error from server (NotFound): pods \"x\" not found\n")
            #expect(t.stdout.text.hasPrefix("NAME   READY"))
        }
    }

    @Test func allNamespacesAddsTheNamespaceColumn() async throws {
        try await TestAgent.serving { agent in
            try await agent.add(Self.nginx("a"))
            #expect(await agent.context().run("create namespace team") == 0)
            let last = try await agent.add(Self.nginx("b"), namespace: "team")
            let t = agent.context(now: last.metadata.creationTimestamp)
            let before = agent.requests.count
            #expect(await t.run("get pods -A") == 0)
            // The lab's cluster DNS runs in kube-system from the start, as CoreDNS does in a cluster.
            // The DNS pod is the agent's own, made when it started: its age depends on how long
            // the test took to get here, so only its row's start is compared.
            let lines = t.stdout.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.count == 5 && lines[4].isEmpty, "\(t.stdout.text)")
            #expect(lines.first == "NAMESPACE     NAME         READY   STATUS    RESTARTS   AGE")
            #expect(lines.dropFirst().first == "default       a            1/1     Running   0          60m")
            #expect(lines.dropFirst(2).first?.hasPrefix("kube-system   podlab-dns   1/1     Running   0          6") == true, "\(t.stdout.text)")
            #expect(lines.dropFirst(3).first == "team          b            1/1     Running   0          60m")
            #expect(agent.requestLines.dropFirst(before) == ["GET /api/v1/pods"])
        }
    }

    @Test func unknownResourceType() async throws {
        try await TestAgent.serving { agent in
            let t = agent.context()
            #expect(await t.run("get statefulsets") == 1)
            #expect(t.stderr.text == "error: the server doesn't have a resource type \"statefulsets\"\n")
        }
    }

    @Test func unknownOutputFormat() async throws {
        try await TestAgent.serving { agent in
            let t = agent.context()
            #expect(await t.run("get pods -o table") == 1)
            #expect(t.stderr.text == "error: unable to match a printer suitable for the output format \"table\", allowed formats are: json,name,wide,yaml\n")
        }
    }

    /// A watch that ends after one change: canned, as the real one ends only with the agent.
    @Test func watchPrintsOneRowPerChange() async throws {
        var live = Self.nginx("web")
        CannedPods.running(&live)
        live.metadata.resourceVersion = "10"
        var changed = live
        changed.metadata.resourceVersion = "99"
        changed.metadata.deletionTimestamp = Timestamp(secondsSince1970: 1_700_000_000)
        let event = #"{"type":"MODIFIED","object":"# + changed.json.jsonText(indent: 0) + "}\n"
        let list = PodList(items: [live], resourceVersion: "11")
        try await FakeAgent.with({ request in
            if request.query["watch"] == "true" { return .chunks(200, [Data(event.utf8)], pause: .milliseconds(1)) }
            return .object(list)
        }) { agent in
            let t = agent.context()
            #expect(await t.run("get pods -w") == 0)
            #expect(t.stdout.text == """
                NAME   READY   STATUS    RESTARTS   AGE
                web    1/1     Running   0          60m
                web    1/1     Terminating   0          60m

                """)
            #expect(agent.requests.last?.query["resourceVersion"] == "11")
        }
    }

    @Test func nodes() async throws {
        let node = Node(metadata: ObjectMeta(name: "podlab-n1", labels: ["node-role.kubernetes.io/control-plane": ""],
                                             creationTimestamp: Timestamp(secondsSince1970: 1_700_000_000 - 7200)),
                        status: NodeStatus(addresses: [NodeAddress(type: .internalIP, address: "192.168.200.11")],
                                           conditions: [NodeCondition(type: .ready, status: .true)]))
        try await FakeAgent.with({ request in
            request.path == "/api/v1/nodes" ? .object(NodeList(items: [node])) : .notFound("nodes", "x")
        }) { agent in
            let t = agent.context()
            #expect(await t.run("get nodes") == 0)
            #expect(t.stdout.text.hasPrefix("NAME        STATUS   ROLES           AGE    VERSION\npodlab-n1   Ready    control-plane   120m   "))
            let n = agent.context()
            #expect(await n.run("get no -o name") == 0)
            #expect(n.stdout.text == "node/podlab-n1\n")
        }
    }
}
