import Foundation
import Hummingbird
import NIOCore
import PodNet

/// API discovery as kubectl reads it before any request: `/api/v1` and `/apis/<group>/<version>`
/// (`APIResourceList`), `/apis` (`APIGroupList`), and an OpenAPI document at `/openapi/v2`.
/// Everything comes from `ServedResources.all`.
enum DiscoveryRoutes {
    static func register(on router: Router<BasicRequestContext>) {
        router.get("/apis") { _, _ in APIServer.json(Data(groupList().jsonText(indent: 0).utf8)) }
        for groupVersion in ServedResources.groupVersions {
            let prefix = groupVersion.contains("/") ? "/apis/\(groupVersion)" : "/api/\(groupVersion)"
            let document = Data(resourceList(groupVersion).jsonText(indent: 0).utf8)
            router.get(RouterPath(stringLiteral: prefix)) { _, _ in APIServer.json(document) }
        }
        for group in Set(ServedResources.all.map(\.group)) where !group.isEmpty {
            let document = Data(apiGroup(group).jsonText(indent: 0).utf8)
            router.get(RouterPath(stringLiteral: "/apis/\(group)")) { _, _ in APIServer.json(document) }
        }
        router.get("/openapi/v2") { request, _ in
            let accept = request.headers[.accept] ?? ""
            if accept.contains("protobuf") {
                // kube-apiserver's type for it too: Go's MIME parser refuses the `@` of the media type asked for.
                return Response(status: .ok, headers: [.contentType: "application/octet-stream"],
                                body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.protobuf)))
            }
            return APIServer.json(Data(OpenAPIDocument.json.jsonText(indent: 0).utf8))
        }
    }

    /// `/api/v1` or `/apis/<group>/<version>`: the kinds served there, with their verbs, short
    /// names and categories, and the subresources podlab serves.
    static func resourceList(_ groupVersion: String) -> JSONValue {
        var resources: [JSONValue] = []
        for entry in ServedResources.all where entry.groupVersion == groupVersion {
            var fields: [String: JSONValue] = [
                "name": .string(entry.resource), "singularName": .string(entry.singular), "namespaced": .bool(entry.namespaced),
                "kind": .string(entry.kind), "verbs": .array(entry.verbs.map { .string($0) }),
            ]
            if !entry.shortNames.isEmpty { fields["shortNames"] = .array(entry.shortNames.map { .string($0) }) }
            if !entry.categories.isEmpty { fields["categories"] = .array(entry.categories.map { .string($0) }) }
            resources.append(.object(fields))
            if entry.resource == "pods" {
                resources.append(.object(["name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"]]))
            }
        }
        return .object(["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(groupVersion), "resources": .array(resources)])
    }

    static func apiGroup(_ group: String) -> JSONValue {
        let versions: [JSONValue] = ServedResources.groupVersions.filter { $0.hasPrefix(group + "/") }.map { groupVersion in
            .object(["groupVersion": .string(groupVersion), "version": .string(String(groupVersion.dropFirst(group.count + 1)))])
        }
        return .object(["kind": "APIGroup", "apiVersion": "v1", "name": .string(group), "versions": .array(versions),
                        "preferredVersion": versions.first ?? .null])
    }

    /// `/apis`: every group but the core one.
    static func groupList() -> JSONValue {
        var groups: [String] = []
        for entry in ServedResources.all where !entry.group.isEmpty && !groups.contains(entry.group) { groups.append(entry.group) }
        return .object(["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(groups.map { group in
            guard case .object(var fields) = apiGroup(group) else { return .null }
            fields["kind"] = nil
            fields["apiVersion"] = nil
            return .object(fields)
        })])
    }
}

/// The OpenAPI v2 document: no schemas. kubectl validates a manifest against the schema of its
/// kind when the document has one and skips kinds it has none for, and it computes `apply`'s
/// patches from its own compiled-in types then, so an empty document is enough for `kubectl
/// apply` with validation on. `kubectl explain` needs the schemas and says it cannot find the
/// resource.
enum OpenAPIDocument {
    static let json: JSONValue = ["swagger": "2.0", "info": ["title": "podlab", "version": "v1"], "paths": [:], "definitions": [:]]

    /// gnostic's `openapi_v2.Document` with `swagger` (field 1) and `info` (field 2: `title` 1,
    /// `version` 2) set, in protobuf's wire format.
    static let protobuf: [UInt8] = {
        func field(_ number: UInt8, _ bytes: [UInt8]) -> [UInt8] { [number << 3 | 2, UInt8(bytes.count)] + bytes }
        let info = field(1, Array("podlab".utf8)) + field(2, Array("v1".utf8))
        return field(1, Array("2.0".utf8)) + field(2, info)
    }()
}
