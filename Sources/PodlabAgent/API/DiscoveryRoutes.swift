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
        let openAPIv2 = Data(OpenAPISchema.v2.jsonText(indent: 0).utf8)
        router.get("/openapi/v2") { request, _ in
            let accept = request.headers[.accept] ?? ""
            if accept.contains("protobuf") {
                // kube-apiserver's type for it too: Go's MIME parser refuses the `@` of the media type asked for.
                return Response(status: .ok, headers: [.contentType: "application/octet-stream"],
                                body: .init(byteBuffer: ByteBuffer(bytes: OpenAPISchema.v2Protobuf)))
            }
            return APIServer.json(openAPIv2)
        }
        let index = Data(OpenAPISchema.v3Index.jsonText(indent: 0).utf8)
        router.get("/openapi/v3") { _, _ in APIServer.json(index) }
        for groupVersion in ServedResources.groupVersions {
            let document = Data(OpenAPISchema.v3(groupVersion).jsonText(indent: 0).utf8)
            router.get(RouterPath(stringLiteral: "/openapi/v3/\(OpenAPISchema.v3Path(groupVersion))")) { _, _ in APIServer.json(document) }
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
            if ScaleRoutes.resources.contains(entry.resource) {
                resources.append(.object(["name": .string("\(entry.resource)/scale"), "singularName": "", "namespaced": true, "group": "autoscaling",
                                          "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]]))
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
