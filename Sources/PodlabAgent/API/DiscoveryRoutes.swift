import Foundation
import Hummingbird
import NIOCore
import PodNet

/// API discovery as kubectl reads it before any request: `/api/v1` and `/apis/<group>/<version>`
/// (`APIResourceList`), `/apis` (`APIGroupList`), and an OpenAPI document at `/openapi/v2`.
/// Everything comes from `ServedResources.all`.
enum DiscoveryRoutes {
    static func register(on router: Router<BasicRequestContext>) {
        let aggregatedCore = Data(aggregatedList(core: true).jsonText(indent: 0).utf8)
        let aggregatedGroups = Data(aggregatedList(core: false).jsonText(indent: 0).utf8)
        router.get("/api") { request, _ in
            if let version = aggregatedVersion(request.headers[.accept] ?? "") { return aggregated(aggregatedCore, version: version) }
            return APIServer.json(Data(#"{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]}"#.utf8))
        }
        router.get("/apis") { request, _ in
            if let version = aggregatedVersion(request.headers[.accept] ?? "") { return aggregated(aggregatedGroups, version: version) }
            return APIServer.json(Data(groupList().jsonText(indent: 0).utf8))
        }
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

    /// The aggregated discovery version a client asks for on `/api` or `/apis` (kubectl ≥ 1.26:
    /// `application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`, v2beta1 before),
    /// the first of its Accept list that podlab serves; nil for the classic documents.
    static func aggregatedVersion(_ accept: String) -> String? {
        for entry in accept.split(separator: ",") {
            let parameters = Set(entry.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) })
            guard parameters.contains("g=apidiscovery.k8s.io"), parameters.contains("as=APIGroupDiscoveryList") else { continue }
            if parameters.contains("v=v2") { return "v2" }
            if parameters.contains("v=v2beta1") { return "v2beta1" }
        }
        return nil
    }

    /// The list in the version asked for (v2 and v2beta1 have the same shape here), with the
    /// content type that tells the client it got the aggregated form.
    static func aggregated(_ v2: Data, version: String) -> Response {
        var body = v2
        if version != "v2" {
            body = Data(String(decoding: v2, as: UTF8.self)
                .replacingOccurrences(of: #""apiVersion":"apidiscovery.k8s.io/v2""#, with: #""apiVersion":"apidiscovery.k8s.io/\#(version)""#).utf8)
        }
        return Response(status: .ok, headers: [.contentType: "application/json;g=apidiscovery.k8s.io;v=\(version);as=APIGroupDiscoveryList"],
                        body: .init(byteBuffer: ByteBuffer(data: body)))
    }

    /// `APIGroupDiscoveryList`: the core group (`/api`) or the named groups (`/apis`), each
    /// version's resources with their kind, scope, verbs, short names, categories and
    /// subresources — one request instead of one per group version.
    static func aggregatedList(core: Bool) -> JSONValue {
        var groups: [String] = []
        for entry in ServedResources.all where entry.group.isEmpty == core && !groups.contains(entry.group) { groups.append(entry.group) }
        let items: [JSONValue] = groups.map { group in
            let versions = ServedResources.groupVersions.filter { core ? !$0.contains("/") : $0.hasPrefix(group + "/") }
            return .object([
                "metadata": .object(["name": .string(group), "creationTimestamp": .null]),
                "versions": .array(versions.map { groupVersion in
                    let version = core ? groupVersion : String(groupVersion.dropFirst(group.count + 1))
                    return .object(["version": .string(version), "freshness": "Current",
                                    "resources": .array(ServedResources.all.filter { $0.groupVersion == groupVersion }.map { aggregatedResource($0, version: version) })])
                }),
            ])
        }
        return .object(["kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": .object([:]), "items": .array(items)])
    }

    static func aggregatedResource(_ entry: ServedResource, version: String) -> JSONValue {
        let kind: JSONValue = .object(["group": .string(entry.group), "version": .string(version), "kind": .string(entry.kind)])
        var fields: [String: JSONValue] = [
            "resource": .string(entry.resource), "responseKind": kind, "scope": entry.namespaced ? "Namespaced" : "Cluster",
            "singularResource": .string(entry.singular), "verbs": .array(entry.verbs.map { .string($0) }),
        ]
        if !entry.shortNames.isEmpty { fields["shortNames"] = .array(entry.shortNames.map { .string($0) }) }
        if !entry.categories.isEmpty { fields["categories"] = .array(entry.categories.map { .string($0) }) }
        var subresources: [JSONValue] = []
        if entry.resource == "pods" {
            subresources.append(.object(["subresource": "log", "responseKind": kind, "verbs": ["get"]]))
        }
        if ScaleRoutes.resources.contains(entry.resource) {
            subresources.append(.object(["subresource": "scale", "responseKind": .object(["group": "autoscaling", "version": "v1", "kind": "Scale"]),
                                         "verbs": ["get", "patch", "update"]]))
        }
        if !subresources.isEmpty { fields["subresources"] = .array(subresources) }
        return .object(fields)
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
