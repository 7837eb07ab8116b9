import Testing
@testable import PodNet

@Suite("PATCH: strategic merge, JSON merge and JSON patch")
struct PatchTests {
    static let pod: JSONValue = [
        "apiVersion": "v1", "kind": "Pod",
        "metadata": ["name": "web", "labels": ["run": "web", "tier": "front"], "finalizers": ["a"]],
        "spec": [
            "containers": [
                ["name": "web", "image": "nginx", "ports": [["containerPort": 80, "protocol": "TCP"], ["containerPort": 443]],
                 "env": [["name": "A", "value": "1"], ["name": "B", "value": "2"]], "args": ["-x", "-y"]],
                ["name": "sidecar", "image": "busybox"],
            ],
            "volumes": [["name": "data", "emptyDir": [:]]],
        ],
    ]

    static func value(_ text: String) throws -> JSONValue { try JSONReader.value(from: text) }

    @Test("strategic: containers merge by name, ports by containerPort, env by name; scalar lists are replaced")
    func strategicMergeKeys() throws {
        let patch = try Self.value("""
            {"spec":{"containers":[{"name":"web","image":"httpd","ports":[{"containerPort":80,"name":"http"}],
              "env":[{"name":"B","value":"3"},{"name":"C","value":"4"}],"args":["-z"]}]}}
            """)
        let result = try StrategicMergePatch.apply(patch, to: Self.pod)
        let containers = try #require(result["spec"]?["containers"]?.arrayValue)
        #expect(containers.count == 2)
        #expect(containers[0]["image"] == "httpd")
        #expect(containers[1] == Self.pod["spec"]?["containers"]?.arrayValue?[1])
        #expect(containers[0]["ports"] == [["containerPort": 80, "protocol": "TCP", "name": "http"], ["containerPort": 443]])
        #expect(containers[0]["env"] == [["name": "A", "value": "1"], ["name": "B", "value": "3"], ["name": "C", "value": "4"]])
        #expect(containers[0]["args"] == ["-z"])
    }

    @Test("strategic: $patch delete removes an element, null a field, $setElementOrder orders the list")
    func strategicDirectives() throws {
        let patch = try Self.value("""
            {"metadata":{"labels":{"tier":null,"new":"yes"}},
             "spec":{"$setElementOrder/containers":[{"name":"sidecar"},{"name":"web"}],
                     "containers":[{"name":"web","$setElementOrder/env":[{"name":"B"}],"env":[{"name":"A","$patch":"delete"}]}],
                     "volumes":[{"name":"data","$patch":"delete"}]}}
            """)
        let result = try StrategicMergePatch.apply(patch, to: Self.pod)
        #expect(result["metadata"]?["labels"] == ["run": "web", "new": "yes"])
        #expect(result["spec"]?["containers"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["sidecar", "web"])
        #expect(result["spec"]?["containers"]?.arrayValue?[1]["env"] == [["name": "B", "value": "2"]])
        #expect(result["spec"]?["volumes"] == [])
    }

    @Test("strategic: $patch replace on a list, finalizers merge as a set, $deleteFromPrimitiveList")
    func strategicLists() throws {
        let replaced = try StrategicMergePatch.apply(try Self.value(#"{"spec":{"containers":[{"$patch":"replace"},{"name":"only","image":"x"}]}}"#), to: Self.pod)
        #expect(replaced["spec"]?["containers"] == [["name": "only", "image": "x"]])
        let finalizers = try StrategicMergePatch.apply(try Self.value(#"{"metadata":{"finalizers":["b","a"]}}"#), to: Self.pod)
        #expect(finalizers["metadata"]?["finalizers"] == ["a", "b"])
        let removed = try StrategicMergePatch.apply(try Self.value(#"{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}"#), to: Self.pod)
        #expect(removed["metadata"]?["finalizers"] == [])
    }

    @Test("strategic: a keyed element without its merge key is refused")
    func strategicMissingKey() throws {
        #expect(throws: PatchError.self) {
            _ = try StrategicMergePatch.apply(try Self.value(#"{"spec":{"containers":[{"image":"x"}]}}"#), to: Self.pod)
        }
    }

    @Test("a Service's ports merge by port, not containerPort")
    func servicePorts() throws {
        let service: JSONValue = ["spec": ["ports": [["port": 80, "targetPort": 8080], ["port": 443]]]]
        let result = try StrategicMergePatch.apply(try Self.value(#"{"spec":{"ports":[{"port":80,"targetPort":9090}]}}"#), to: service)
        #expect(result["spec"]?["ports"] == [["port": 80, "targetPort": 9090], ["port": 443]])
    }

    @Test("JSON merge patch: lists are replaced whole, null removes")
    func mergePatch() throws {
        let result = try PatchType.merge.apply(try Self.value(#"{"metadata":{"labels":{"run":null}},"spec":{"containers":[{"name":"x"}]}}"#), to: Self.pod)
        #expect(result["metadata"]?["labels"] == ["tier": "front"])
        #expect(result["spec"]?["containers"] == [["name": "x"]])
        #expect(throws: PatchError.self) { _ = try PatchType.merge.apply(["not", "an", "object"], to: Self.pod) }
    }

    @Test("JSON patch: add, replace, remove, move, copy, test, with ~1 escapes")
    func jsonPatch() throws {
        let patch = try Self.value("""
            [{"op":"add","path":"/metadata/labels/app.kubernetes.io~1name","value":"web"},
             {"op":"replace","path":"/spec/containers/0/image","value":"httpd"},
             {"op":"remove","path":"/spec/containers/1"},
             {"op":"add","path":"/spec/containers/0/args/-","value":"-z"},
             {"op":"copy","from":"/metadata/name","path":"/metadata/labels/copied"},
             {"op":"move","from":"/metadata/labels/tier","path":"/metadata/labels/moved"},
             {"op":"test","path":"/spec/containers/0/image","value":"httpd"}]
            """)
        let result = try PatchType.json.apply(patch, to: Self.pod)
        #expect(result["metadata"]?["labels"] == ["run": "web", "app.kubernetes.io/name": "web", "copied": "web", "moved": "front"])
        #expect(result["spec"]?["containers"]?.arrayValue?.count == 1)
        #expect(result["spec"]?["containers"]?.arrayValue?[0]["image"] == "httpd")
        #expect(result["spec"]?["containers"]?.arrayValue?[0]["args"] == ["-x", "-y", "-z"])
    }

    @Test("JSON patch: a failing test, a missing path, an unknown op are 422; a body that is no list is 400")
    func jsonPatchErrors() throws {
        let cases: [(String, Int32)] = [
            (#"[{"op":"test","path":"/metadata/name","value":"other"}]"#, 422),
            (#"[{"op":"remove","path":"/spec/nothing"}]"#, 422),
            (#"[{"op":"replace","path":"/spec/containers/9/image","value":"x"}]"#, 422),
            (#"[{"op":"frobnicate","path":"/spec"}]"#, 422),
            (#"{"op":"add"}"#, 400),
        ]
        for (text, code) in cases {
            do {
                _ = try PatchType.json.apply(try Self.value(text), to: Self.pod)
                Issue.record("\(text) applied")
            } catch let error as PatchError {
                #expect(error.status.code == code, "\(text): \(error)")
            } catch {
                Issue.record("\(text): \(error)")
            }
        }
    }

    @Test("Content-Type names the patch type; an apply is not a patch (it merges by field ownership)")
    func contentTypes() throws {
        #expect(PatchType(contentType: "application/strategic-merge-patch+json") == .strategicMerge)
        #expect(PatchType(contentType: "application/merge-patch+json; charset=utf-8") == .merge)
        #expect(PatchType(contentType: "application/json-patch+json") == .json)
        #expect(PatchType(contentType: "application/json") == nil)
        #expect(PatchType(contentType: "application/apply-patch+yaml") == .apply)
        #expect(throws: PatchError.self) { _ = try PatchType.apply.apply([:], to: Self.pod) }
    }
}

@Suite("fieldSelector and limit/continue")
struct SelectorAndPagingTests {
    static let pods: [JSONValue] = (1...5).map { index in
        ["metadata": ["name": .string("p\(index)"), "namespace": index == 5 ? "kube-system" : "default"],
         "spec": ["nodeName": index % 2 == 0 ? "n2" : "n1"],
         "status": ["phase": index == 3 ? "Pending" : "Running"]]
    }

    @Test("the fields kubectl selects pods by", arguments: [
        ("metadata.name=p2", ["p2"]), ("metadata.name==p2", ["p2"]), ("metadata.name!=p2", ["p1", "p3", "p4", "p5"]),
        ("spec.nodeName=n1,status.phase=Running", ["p1", "p5"]), ("metadata.namespace=kube-system", ["p5"]),
        ("status.phase!=Running", ["p3"]), ("", ["p1", "p2", "p3", "p4", "p5"]),
    ])
    func podFields(selector: String, names: [String]) throws {
        let parsed = try FieldSelector(parsing: selector)
        try parsed.check(kind: "Pod")
        #expect(Self.pods.filter(parsed.matches).compactMap { $0["metadata"]?["name"]?.stringValue } == names)
    }

    @Test("an unsupported field or a term without an operator is a 400")
    func badSelectors() throws {
        #expect(throws: APIStatus.badRequest("field label not supported: spec.image")) {
            try FieldSelector(parsing: "spec.image=nginx").check(kind: "Pod")
        }
        #expect(throws: APIStatus.self) { try FieldSelector(parsing: "spec.nodeName=n1").check(kind: "Service") }
        #expect(throws: APIStatus.self) { _ = try FieldSelector(parsing: "metadata.name") }
    }

    @Test("limit pages the list; continue resumes it; the last page has no token")
    func paging() throws {
        let list: JSONValue = ["kind": "PodList", "metadata": ["resourceVersion": "12"], "items": .array(Self.pods)]
        let first = try ListPaging.page(list, limit: 2, continueToken: nil)
        #expect(first["items"]?.arrayValue?.count == 2)
        #expect(first["metadata"]?["remainingItemCount"] == 3)
        #expect(first["metadata"]?["resourceVersion"] == "12")
        let token = try #require(first["metadata"]?["continue"]?.stringValue)
        let second = try ListPaging.page(list, limit: 2, continueToken: token)
        #expect(second["items"]?.arrayValue?.compactMap { $0["metadata"]?["name"]?.stringValue } == ["p3", "p4"])
        let last = try ListPaging.page(list, limit: 2, continueToken: try #require(second["metadata"]?["continue"]?.stringValue))
        #expect(last["items"]?.arrayValue?.compactMap { $0["metadata"]?["name"]?.stringValue } == ["p5"])
        #expect(last["metadata"]?["continue"] == nil)
        #expect(try ListPaging.page(list, limit: nil, continueToken: nil) == list)
        #expect(throws: APIStatus.self) { _ = try ListPaging.page(list, limit: 2, continueToken: "garbage") }
    }
}

@Suite("kubeconfig for a lab")
struct KubeconfigTests {
    static let config = Kubeconfig(name: "lab1", server: "https://127.0.0.1:40001", certificateAuthorityPEM: "-----BEGIN CERTIFICATE-----\nAA\n-----END CERTIFICATE-----\n",
                                   token: "t0k3n")

    @Test("alone: cluster, user and context named after the lab, current")
    func alone() throws {
        let yaml = Self.config.yaml
        let value = try #require(try YAMLReader.documents(in: yaml).first?.value)
        #expect(value["current-context"] == "lab1")
        #expect(value["clusters"]?.arrayValue?.first?["cluster"]?["server"] == "https://127.0.0.1:40001")
        #expect(value["users"]?.arrayValue?.first?["user"]?["token"] == "t0k3n")
        #expect(value["contexts"]?.arrayValue?.first?["context"] == ["cluster": "lab1", "user": "lab1"])
    }

    @Test("merged: other entries and fields stay, an older entry of the lab is replaced")
    func merged() throws {
        let existing = """
            apiVersion: v1
            kind: Config
            clusters:
            - name: prod
              cluster: {server: "https://prod.example:6443"}
            - name: lab1
              cluster: {server: "https://127.0.0.1:1"}
            users:
            - name: admin
              user: {token: secret}
            contexts:
            - name: prod
              context: {cluster: prod, user: admin, namespace: shop}
            current-context: prod
            preferences: {colors: true}
            """
        let text = try Self.config.merged(into: existing)
        let value = try #require(try YAMLReader.documents(in: text).first?.value)
        #expect(value["clusters"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["prod", "lab1"])
        #expect(value["clusters"]?.arrayValue?[1]["cluster"]?["server"] == "https://127.0.0.1:40001")
        #expect(value["users"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["admin", "lab1"])
        #expect(value["contexts"]?.arrayValue?[0]["context"]?["namespace"] == "shop")
        #expect(value["current-context"] == "lab1")
        #expect(value["preferences"] == ["colors": true])
        #expect(throws: Kubeconfig.MergeError.self) { _ = try Self.config.merged(into: "clusters: 3\n") }
        #expect(try Self.config.merged(into: "") .contains("name: lab1"))
    }
}

@Suite("the scale subresource")
struct ScaleTests {
    static let deployment: JSONValue = [
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": ["name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "12", "labels": ["app": "web"]],
        "spec": ["replicas": 3, "selector": ["matchLabels": ["app": "web", "tier": "front"],
                                             "matchExpressions": [["key": "env", "operator": "In", "values": ["b", "a"]]]]],
        "status": ["replicas": 2],
    ]

    @Test("a Deployment's Scale: identity, desired and current replicas, the selector as a string")
    func scaleOf() {
        let scale = Scale.of(Self.deployment)
        #expect(scale["kind"] == "Scale" && scale["apiVersion"] == "autoscaling/v1")
        #expect(scale["metadata"] == ["name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "12"])
        #expect(scale["spec"] == ["replicas": 3])
        #expect(scale["status"] == ["replicas": 2, "selector": "app=web,tier=front,env in (a,b)"])
    }

    @Test("a Scale sets spec.replicas and carries its resourceVersion; without replicas it is invalid")
    func apply() throws {
        let scaled = try Scale.apply(["metadata": ["resourceVersion": "11"], "spec": ["replicas": 1]], to: Self.deployment)
        #expect(scaled["spec"]?["replicas"] == 1)
        #expect(scaled["metadata"]?["resourceVersion"] == "11")
        #expect(scaled["spec"]?["selector"] == Self.deployment["spec"]?["selector"])
        #expect(throws: APIStatus.self) { _ = try Scale.apply(["spec": [:]], to: Self.deployment) }
    }
}
