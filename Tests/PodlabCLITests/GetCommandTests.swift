import Foundation
import PodNet
import PodlabCLI
import Testing

@Suite("get against a fake agent")
struct GetCommandTests {
    static func nginx(_ name: String = "nginx-ser", labels: [String: String]? = nil) -> Pod {
        Pod.run(name: name, image: "nginx", labels: labels)
    }

    @Test func table() async throws {
        let cluster = FakeCluster()
        cluster.add(Self.nginx())
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("get pods") == 0)
            #expect(t.stdout.text == """
                NAME        READY   STATUS    RESTARTS   AGE
                nginx-ser   1/1     Running   0          60m

                """)
            #expect(t.stderr.text.isEmpty)
        }
    }

    @Test func wide() async throws {
        let cluster = FakeCluster()
        cluster.add(Self.nginx())
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("get pods -o wide") == 0)
            #expect(t.stdout.text == """
                NAME        READY   STATUS    RESTARTS   AGE   IP           NODE        NOMINATED NODE   READINESS GATES
                nginx-ser   1/1     Running   0          60m   10.244.1.5   podlab-n1   <none>           <none>

                """)
        }
    }

    @Test("empty namespace", arguments: [
        ("get pods", "No resources found in default namespace.\n"),
        ("get po -n team", "No resources found in team namespace.\n"),
        ("get pods -A", "No resources found\n"),
    ])
    func empty(line: String, message: String) async throws {
        try await FakeAgent.with({ FakeCluster().handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run(line) == 0)
            #expect(t.stdout.text.isEmpty)
            #expect(t.stderr.text == message)
        }
    }

    @Test func emptyListAsJSONIsAList() async throws {
        try await FakeAgent.with({ FakeCluster().handle($0) }) { agent in
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
        let cluster = FakeCluster()
        cluster.add(Self.nginx("b"))
        cluster.add(Self.nginx("a"))
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("get pods -oname") == 0)
            #expect(t.stdout.text == "pod/a\npod/b\n")
        }
    }

    @Test func oneAsYAML() async throws {
        let cluster = FakeCluster()
        cluster.add(Self.nginx())
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("get pod/nginx-ser -o=yaml") == 0)
            let text = t.stdout.text
            #expect(text.hasPrefix("apiVersion: v1\nkind: Pod\nmetadata:\n  creationTimestamp: \"2023-11-14T21:13:20Z\"\n"))
            #expect(text.contains("  podIP: 10.244.1.5\n"))
            let parsed = try Pod(json: try YAMLReader.value(from: text))
            #expect(parsed == cluster.pod("default", "nginx-ser"))
        }
    }

    @Test func listAsJSON() async throws {
        let cluster = FakeCluster()
        cluster.add(Self.nginx("a"))
        cluster.add(Self.nginx("b"))
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("get pods -o json") == 0)
            let list = try PodList(json: try JSONReader.value(from: t.stdout.text))
            #expect(list.kind == "List")
            #expect(list.items.map(\.metadata.name) == ["a", "b"])
        }
    }

    @Test func selectorIsSentToTheServer() async throws {
        let cluster = FakeCluster()
        cluster.add(Self.nginx("web", labels: ["app": "web"]))
        cluster.add(Self.nginx("db", labels: ["app": "db"]))
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run(["get", "pods", "-l", "app=web", "--show-labels"]) == 0)
            #expect(t.stdout.text == """
                NAME   READY   STATUS    RESTARTS   AGE   LABELS
                web    1/1     Running   0          60m   app=web

                """)
            #expect(agent.requests.last?.query["labelSelector"] == "app=web")
        }
    }

    @Test func badSelectorIsRefusedBeforeAnyRequest() async throws {
        try await FakeAgent.with({ FakeCluster().handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run(["get", "pods", "-l", "app in web"]) == 1)
            #expect(t.stderr.text.hasPrefix("error: unable to parse label selector \"app in web\""))
            #expect(agent.requests.isEmpty)
        }
    }

    @Test func notFound() async throws {
        let cluster = FakeCluster()
        cluster.add(Self.nginx("a"))
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("get pods a x") == 1)
            #expect(t.stderr.text == "Error from server (NotFound): pods \"x\" not found\n")
            #expect(t.stdout.text.hasPrefix("NAME   READY"))
        }
    }

    @Test func allNamespacesAddsTheNamespaceColumn() async throws {
        let cluster = FakeCluster()
        cluster.add(Self.nginx("a"))
        var other = Self.nginx("b")
        other.metadata.namespace = "team"
        cluster.add(other)
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("get pods -A") == 0)
            #expect(t.stdout.text == """
                NAMESPACE   NAME   READY   STATUS    RESTARTS   AGE
                default     a      1/1     Running   0          60m
                team        b      1/1     Running   0          60m

                """)
            #expect(agent.requestLines == ["GET /api/v1/pods"])
        }
    }

    @Test func unknownResourceType() async throws {
        try await FakeAgent.with({ FakeCluster().handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("get statefulsets") == 1)
            #expect(t.stderr.text == "error: the server doesn't have a resource type \"statefulsets\"\n")
        }
    }

    @Test func unknownOutputFormat() async throws {
        try await FakeAgent.with({ FakeCluster().handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("get pods -o table") == 1)
            #expect(t.stderr.text == "error: unable to match a printer suitable for the output format \"table\", allowed formats are: json,name,wide,yaml\n")
        }
    }

    @Test func watchPrintsOneRowPerChange() async throws {
        let cluster = FakeCluster()
        cluster.add(Self.nginx("web"))
        var changed = Self.nginx("web")
        FakeCluster.running(&changed)
        changed.metadata.creationTimestamp = FakeCluster.created
        changed.metadata.resourceVersion = "99"
        changed.metadata.namespace = "default"
        changed.metadata.deletionTimestamp = Timestamp(secondsSince1970: 1_700_000_000)
        let event = #"{"type":"MODIFIED","object":"# + changed.json.jsonText(indent: 0) + "}\n"
        try await FakeAgent.with({ request in
            if request.query["watch"] == "true" { return .chunks(200, [Data(event.utf8)], pause: .milliseconds(1)) }
            return cluster.handle(request)
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
