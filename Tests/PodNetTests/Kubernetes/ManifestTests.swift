import Foundation
import Testing
@testable import PodNet

@Suite("Manifests (apply -f)")
struct ManifestTests {
    static func names(_ items: [ManifestItem]) -> [String] {
        items.map { item in
            switch item.result {
            case let .success(object): "\(object.kind)/\(object.metadata.name)"
            case let .failure(error): "error: \(error)"
            }
        }
    }

    @Test("several YAML documents, each with its document number and line")
    func multiDocument() throws {
        let text = """
            apiVersion: v1
            kind: Pod
            metadata:
              name: a
            spec:
              containers:
              - name: a
                image: nginx
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              name: b
            spec:
              containers:
              - name: b
                imagee: httpd
            ---
            apiVersion: v1
            kind: Node
            metadata:
              name: n1
            """
        let items = try Manifest.objects(in: text)
        #expect(Self.names(items) == [
            "Pod/a",
            #"error: Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].imagee""#,
            "Node/n1",
        ])
        #expect(items.map(\.document) == [1, 2, 3])
        #expect(items.map(\.line) == [1, 10, 19])
    }

    @Test("kind: List and typed lists expand into their items")
    func lists() throws {
        let text = """
            apiVersion: v1
            kind: List
            metadata:
              resourceVersion: ""
            items:
            - apiVersion: v1
              kind: Pod
              metadata:
                name: a
            - apiVersion: v1
              kind: Node
              metadata:
                name: n1
            - kind: StatefulSet
              apiVersion: apps/v1
              metadata:
                name: d
            ---
            apiVersion: v1
            kind: PodList
            items:
            - metadata:
                name: c
            """
        let items = try Manifest.objects(in: text)
        #expect(Self.names(items) == ["Pod/a", "Node/n1", #"error: no matches for kind "StatefulSet" in version "apps/v1" (podlab serves: Pod (v1), Service (v1), Namespace (v1), Deployment (apps/v1), ReplicaSet (apps/v1), ConfigMap (v1), Secret (v1), MeshPolicy (podlab.dev/v1), Route (podlab.dev/v1))"#, "Pod/c"])
        #expect(items.map(\.document) == [1, 1, 1, 2])
    }

    @Test("a JSON manifest, and a stream of JSON objects")
    func json() throws {
        let text = #"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}} {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b"}}"#
        #expect(Self.names(try Manifest.objects(in: text)) == ["Pod/a", "Pod/b"])
    }

    @Test("missing or wrong type information", arguments: [
        ("metadata:\n  name: a\n", "error: apiVersion not set, kind not set"),
        ("kind: Pod\n", "error: apiVersion not set"),
        ("apiVersion: v1\nkind: \"\"\n", "error: kind not set"),
        ("apiVersion: v2\nkind: Pod\n", #"error: no matches for kind "Pod" in version "v2" (podlab serves: Pod (v1), Service (v1), Namespace (v1), Deployment (apps/v1), ReplicaSet (apps/v1), ConfigMap (v1), Secret (v1), MeshPolicy (podlab.dev/v1), Route (podlab.dev/v1))"#),
        ("apiVersion: apps/v1\nkind: StatefulSet\n", #"error: no matches for kind "StatefulSet" in version "apps/v1" (podlab serves: Pod (v1), Service (v1), Namespace (v1), Deployment (apps/v1), ReplicaSet (apps/v1), ConfigMap (v1), Secret (v1), MeshPolicy (podlab.dev/v1), Route (podlab.dev/v1))"#),
        ("apiVersion: v1\nkind: 5\n", "error: json: cannot unmarshal number into field kind of type string"),
        ("- a\n- b\n", "error: json: cannot unmarshal array into field (root) of type object"),
        ("apiVersion: v1\nkind: List\nitems: {}\n", "error: json: cannot unmarshal object into field items of type array"),
        ("apiVersion: v1\nkind: List\nextra: 1\n", #"error: List in version "v1" cannot be handled as a List: strict decoding error: unknown field "extra""#),
    ])
    func typeInformation(text: String, expected: String) throws {
        #expect(Self.names(try Manifest.objects(in: text)) == [expected])
    }

    @Test("a syntax error fails the whole text with its position")
    func syntax() {
        let text = "apiVersion: v1\nkind: Pod\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: [a\n"
        let error = #expect(throws: DocumentSyntaxError.self) { try Manifest.objects(in: text) }
        #expect(error?.format == .yaml)
        #expect(error?.line == 8)
    }

    @Test("empty input has no objects")
    func empty() throws {
        #expect(try Manifest.objects(in: "").isEmpty)
        #expect(try Manifest.objects(in: "---\n# nothing\n---\n").isEmpty)
    }
}

@Suite("Node, lists and Status")
struct OtherObjectTests {
    @Test("a node round trips and answers its addresses and roles")
    func node() throws {
        let text = """
            apiVersion: v1
            kind: Node
            metadata:
              name: n1
              labels:
                node-role.kubernetes.io/control-plane: ""
                kubernetes.io/role: worker
            spec:
              podCIDR: 10.244.1.0/24
              podCIDRs:
              - 10.244.1.0/24
              taints:
              - key: k
                effect: NoSchedule
            status:
              capacity:
                pods: "110"
              addresses:
              - type: InternalIP
                address: 192.168.200.11
              - type: Hostname
                address: n1
              conditions:
              - type: Ready
                status: "True"
                lastHeartbeatTime: "2021-03-21T11:42:17Z"
                lastTransitionTime: "2021-03-21T11:42:17Z"
                reason: KubeletReady
              nodeInfo:
                kernelVersion: 6.18.0
                osImage: podlab
                containerRuntimeVersion: podlab://0.1
                kubeletVersion: v1.30.0-podlab
            """
        let value = try YAMLReader.value(from: text)
        let node = try Node(json: value)
        #expect(node.spec.podCIDR == "10.244.1.0/24")
        #expect(node.internalIP == "192.168.200.11")
        #expect(node.externalIP == nil)
        #expect(node.roles == ["control-plane", "worker"])
        #expect(node.status.condition(.ready)?.status == .true)
        #expect(node.spec.preservedFields["taints"] != nil)
        #expect(node.status.preservedFields["capacity"] == ["pods": "110"])
        // nodeInfo is always written in full, as Kubernetes does.
        #expect(node.json["status"]?["nodeInfo"]?["machineID"] == "")
        #expect(try Node(json: node.json) == node)
    }

    @Test("lists print as kubectl prints them")
    func lists() throws {
        let pod = Pod(metadata: ObjectMeta(name: "a"), spec: PodSpec(containers: [Container(name: "a", image: "nginx")]))
        let list = PodList.kubectlList([pod])
        #expect(list.yamlText == """
            apiVersion: v1
            items:
            - apiVersion: v1
              kind: Pod
              metadata:
                creationTimestamp: null
                name: a
              spec:
                containers:
                - image: nginx
                  name: a
                  resources: {}
              status: {}
            kind: List
            metadata:
              resourceVersion: ""

            """)
        let typed = PodList(items: [pod], resourceVersion: "17")
        #expect(typed.json["kind"] == "PodList")
        #expect(try PodList(json: typed.json) == typed)
        #expect(try PodList(json: list.json) == list)
        #expect(throws: ObjectDecodingError.self) { try PodList(json: ["apiVersion": "v1", "kind": "NodeList", "items": []]) }
    }

    @Test("Status objects for the API's errors", arguments: [
        (APIStatus.notFound(resource: "pods", name: "web"), #"pods "web" not found"#, StatusReason.notFound, Int32(404)),
        (.alreadyExists(resource: "pods", name: "web"), #"pods "web" already exists"#, .alreadyExists, 409),
        (.conflict(resource: "pods", name: "web"),
         #"Operation cannot be fulfilled on pods "web": the object has been modified; please apply your changes to the latest version and try again"#,
         .conflict, 409),
        (.badRequest("bad"), "bad", .badRequest, 400),
    ])
    func statuses(status: APIStatus, message: String, reason: StatusReason, code: Int32) throws {
        #expect(status.message == message)
        #expect(status.reason == reason)
        #expect(status.code == code)
        #expect(status.status == "Failure")
        #expect(status.json["kind"] == "Status")
        #expect(status.json["metadata"] == [:])
        #expect(try APIStatus(json: status.json) == status)
    }

    @Test("NotFound status JSON matches the API server's")
    func notFoundJSON() {
        #expect(APIStatus.notFound(resource: "pods", name: "web").json.jsonText(indent: 0)
            == #"{"apiVersion":"v1","code":404,"details":{"kind":"pods","name":"web"},"kind":"Status","message":"pods \"web\" not found","metadata":{},"reason":"NotFound","status":"Failure"}"#)
    }
}

@Suite("Timestamp")
struct TimestampTests {
    @Test("parses RFC 3339 and prints UTC seconds", arguments: [
        ("1970-01-01T00:00:00Z", Int64(0), "1970-01-01T00:00:00Z"),
        ("2021-03-21T11:42:17Z", 1_616_326_937, "2021-03-21T11:42:17Z"),
        ("2021-03-21T12:42:17+01:00", 1_616_326_937, "2021-03-21T11:42:17Z"),
        ("2021-03-21T11:42:17.999999Z", 1_616_326_937, "2021-03-21T11:42:17Z"),
        ("2021-03-21t11:42:17z", 1_616_326_937, "2021-03-21T11:42:17Z"),
        ("2000-02-29T23:59:59-00:30", 951_870_599, "2000-03-01T00:29:59Z"),
        ("1969-12-31T23:59:59Z", -1, "1969-12-31T23:59:59Z"),
        ("2400-02-29T00:00:00Z", 13_574_563_200, "2400-02-29T00:00:00Z"),
    ])
    func parses(text: String, seconds: Int64, printed: String) throws {
        let timestamp = try Timestamp(parsing: text)
        #expect(timestamp.secondsSince1970 == seconds)
        #expect(timestamp.description == printed)
    }

    @Test("rejects malformed text", arguments: [
        "", "2021-03-21", "2021-03-21 11:42:17Z", "2021-03-21T11:42:17", "2021-13-01T00:00:00Z", "2021-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z", "2021-03-21T24:00:00Z", "2021-03-21T11:60:00Z", "2021-03-21T11:42:17+0100", "2021-03-21T11:42:17Zx",
        "2021-03-21T11:42:17.Z", "21-03-21T11:42:17Z",
    ])
    func rejects(text: String) {
        #expect(throws: Timestamp.ParseError.self) { try Timestamp(parsing: text) }
    }

    @Test("dates drop fractions; arithmetic in seconds")
    func dates() {
        let timestamp = Timestamp(Date(timeIntervalSince1970: 100.9))
        #expect(timestamp.secondsSince1970 == 100)
        #expect(timestamp.adding(seconds: 20).seconds(since: timestamp) == 20)
        #expect(Timestamp(Date(timeIntervalSince1970: -0.5)).secondsSince1970 == -1)
        #expect(timestamp.date.timeIntervalSince1970 == 100)
    }
}
