@testable import AgentTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import PodNet
import PodlabCLI
import Testing

/// What kubectl asks of the agent's API beyond podlab's own requests, against the real API
/// server and controller: PATCH of each type, fieldSelector, limit/continue, discovery.
@Suite("the API as kubectl uses it")
struct KubectlAPITests {
    static func nginx(_ name: String, labels: [String: String] = [:]) -> Pod {
        Pod.run(name: name, image: "nginx", labels: ["run": name].merging(labels) { $1 })
    }

    /// PATCH with a Content-Type, through the agent's socket; the answer's status and body.
    static func patch(_ agent: TestAgent, _ path: String, type: String, _ body: String) async throws -> (status: Int, body: JSONValue) {
        let client = APIClient(paths: agent.paths)
        let input = AsyncStream<ByteBuffer> { continuation in
            continuation.yield(ByteBuffer(string: body))
            continuation.finish()
        }
        do {
            var collected = ""
            for try await chunk in try await client.exchange(.PATCH, path, contentType: type, input: input) {
                collected += String(buffer: chunk)
            }
            return (200, try JSONReader.value(from: collected))
        } catch let error as APIError {
            return (Int(error.serverStatus?.code ?? 0), error.serverStatus?.json ?? .null)
        }
    }

    static func get(_ agent: TestAgent, _ path: String, query: [(String, String)] = []) async throws -> JSONValue {
        let response = try await APIClient(paths: agent.paths).send(.GET, path, query: query)
        return try JSONReader.value(from: String(decoding: response.body, as: UTF8.self))
    }

    @Test("PATCH: strategic merge, JSON merge and JSON patch change the pod through its update")
    func patchTypes() async throws {
        try await TestAgent.serving { agent in
            try await agent.add(Self.nginx("web"))
            let path = "/api/v1/namespaces/default/pods/web"
            let strategic = try await Self.patch(agent, path, type: "application/strategic-merge-patch+json",
                                                 #"{"metadata":{"labels":{"tier":"front"}},"spec":{"containers":[{"name":"web","image":"httpd"}]}}"#)
            #expect(strategic.status == 200)
            #expect(strategic.body["metadata"]?["labels"] == ["run": "web", "tier": "front"])
            #expect(strategic.body["spec"]?["containers"]?.arrayValue?.count == 1)
            #expect(strategic.body["spec"]?["containers"]?.arrayValue?.first?["image"] == "httpd")
            let merge = try await Self.patch(agent, path, type: "application/merge-patch+json", #"{"metadata":{"labels":{"tier":null}}}"#)
            #expect(merge.body["metadata"]?["labels"] == ["run": "web"])
            let json = try await Self.patch(agent, path, type: "application/json-patch+json",
                                            #"[{"op":"add","path":"/metadata/annotations","value":{"note":"json"}}]"#)
            #expect(json.body["metadata"]?["annotations"] == ["note": "json"])
            let stored = await agent.pod("web")
            #expect(stored?.metadata.labels == ["run": "web"])
            #expect(stored?.metadata.annotations["note"] == "json")
            #expect(stored?.spec.containers.first?.image == "httpd")
        }
    }

    @Test("PATCH refused: unknown type 415, a failing JSON patch 422, an invalid result 422, a missing pod 404; nothing changes")
    func patchRefusals() async throws {
        try await TestAgent.serving { agent in
            let before = try await agent.add(Self.nginx("web"))
            let path = "/api/v1/namespaces/default/pods/web"
            #expect(try await Self.patch(agent, path, type: "application/json", "{}").status == 415)
            let failing = try await Self.patch(agent, path, type: "application/json-patch+json",
                                               #"[{"op":"test","path":"/metadata/name","value":"other"},{"op":"remove","path":"/metadata/labels"}]"#)
            #expect(failing.status == 422)
            #expect(failing.body["message"] == "testing value /metadata/name failed")
            let invalid = try await Self.patch(agent, path, type: "application/merge-patch+json", #"{"metadata":{"labels":{"bad key!":"x"}}}"#)
            #expect(invalid.status == 422)
            #expect(invalid.body["reason"] == "Invalid")
            #expect(try await Self.patch(agent, path, type: "application/merge-patch+json", "not json").status == 400)
            #expect(try await Self.patch(agent, "/api/v1/namespaces/default/pods/nope", type: "application/merge-patch+json", "{}").status == 404)
            let after = await agent.pod("web")
            #expect(after?.metadata.resourceVersion == before.metadata.resourceVersion)
            #expect(after?.metadata.labels == ["run": "web"])
        }
    }

    @Test("fieldSelector filters a list and refuses an unsupported field; limit and continue page it")
    func selectorsAndPaging() async throws {
        try await TestAgent.serving { agent in
            for name in ["a", "b", "c"] { try await agent.add(Self.nginx(name)) }
            let selected = try await Self.get(agent, "/api/v1/namespaces/default/pods", query: [("fieldSelector", "metadata.name!=b,status.phase=Running")])
            #expect(selected["items"]?.arrayValue?.compactMap { $0["metadata"]?["name"]?.stringValue } == ["a", "c"])
            await #expect(throws: APIError.self) {
                _ = try await Self.get(agent, "/api/v1/pods", query: [("fieldSelector", "spec.containers=x")])
            }
            let first = try await Self.get(agent, "/api/v1/namespaces/default/pods", query: [("limit", "2")])
            #expect(first["items"]?.arrayValue?.count == 2)
            let token = try #require(first["metadata"]?["continue"]?.stringValue)
            let rest = try await Self.get(agent, "/api/v1/namespaces/default/pods", query: [("limit", "2"), ("continue", token)])
            #expect(rest["items"]?.arrayValue?.compactMap { $0["metadata"]?["name"]?.stringValue } == ["c"])
            #expect(rest["metadata"]?["continue"] == nil)
            let all = try await Self.get(agent, "/api/v1/namespaces/default/pods", query: [("limit", "500")])
            #expect(all["items"]?.arrayValue?.count == 3)
        }
    }

    @Test("discovery lists every served kind with its verbs and short names; OpenAPI v2 answers")
    func discovery() async throws {
        try await TestAgent.serving { agent in
            let core = try await Self.get(agent, "/api/v1")
            let pods = core["resources"]?.arrayValue?.first { $0["name"] == "pods" }
            #expect(pods?["shortNames"] == ["po"])
            #expect(pods?["categories"] == ["all"])
            #expect(pods?["verbs"]?.arrayValue?.contains("patch") == true)
            let apps = try await Self.get(agent, "/apis/apps/v1")
            #expect(apps["resources"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["deployments", "deployments/scale", "replicasets", "replicasets/scale"])
            let groups = try await Self.get(agent, "/apis")
            #expect(groups["groups"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["apps", "discovery.k8s.io", "networking.k8s.io", "podlab.dev"])
            let networking = try await Self.get(agent, "/apis/networking.k8s.io/v1")
            let policies = networking["resources"]?.arrayValue?.first { $0["name"] == "networkpolicies" }
            #expect(policies?["shortNames"] == ["netpol"])
            #expect(policies?["namespaced"] == true)
            let podlab = try await Self.get(agent, "/apis/podlab.dev/v1")
            let meshPolicies = podlab["resources"]?.arrayValue?.first { $0["name"] == "meshpolicies" }
            #expect(meshPolicies?["kind"] == "MeshPolicy")
            #expect(meshPolicies?["shortNames"] == ["mp"])
            #expect(meshPolicies?["namespaced"] == true)
            let routes = podlab["resources"]?.arrayValue?.first { $0["name"] == "routes" }
            #expect(routes?["kind"] == "Route")
            #expect(routes?["shortNames"] == ["rt"])
            #expect(routes?["namespaced"] == true)
            #expect(try await Self.get(agent, "/openapi/v2")["swagger"] == "2.0")
        }
    }
}
