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

/// The OpenAPI v2 document: no schemas, and for every served kind the PATCH operation of its
/// objects with its group-version-kind and a `dryRun` query parameter. kubectl validates a
/// manifest against the schema of its kind when the document has one and skips kinds it has
/// none for, and it computes `apply`'s patches from its own compiled-in types then, so no
/// schemas are needed for `kubectl apply` with validation on; kubectl 1.20 looks for the
/// `dryRun` parameter before it sends `--dry-run=server`. `kubectl explain` needs the schemas
/// and says it cannot find the resource.
enum OpenAPIDocument {
    static let json: JSONValue = ["swagger": "2.0", "info": ["title": "podlab", "version": "v1"], "paths": [:], "definitions": [:]]

    /// The object path whose PATCH operation describes a served kind.
    static func objectPath(_ resource: ServedResource) -> String {
        resource.namespaced ? "\(resource.pathPrefix)/namespaces/{namespace}/\(resource.resource)/{name}"
            : "\(resource.pathPrefix)/\(resource.resource)/{name}"
    }

    /// gnostic's `openapi_v2.Document` in protobuf's wire format (field numbers from
    /// gnostic's OpenAPIv2.proto): `swagger` 1, `info` 2 (`title` 1, `version` 2), `paths` 8.
    static let protobuf: [UInt8] = {
        var info = ProtobufWriter()
        info.field(1, "podlab")
        info.field(2, "v1")
        var paths = ProtobufWriter()
        for resource in ServedResources.all {
            // Parameter → NonBodyParameter (2) → QueryParameterSubSchema (3): in 2, name 4, type 6.
            var query = ProtobufWriter()
            query.field(2, "query")
            query.field(4, "dryRun")
            query.field(6, "string")
            var nonBody = ProtobufWriter()
            nonBody.field(3, query.bytes)
            var parameter = ProtobufWriter()
            parameter.field(2, nonBody.bytes)
            var parametersItem = ProtobufWriter()
            parametersItem.field(1, parameter.bytes)
            // NamedAny: name 1, Any 2 (yaml 2).
            var any = ProtobufWriter()
            any.field(2, "group: \"\(resource.group)\"\nkind: \(resource.kind)\nversion: \(resource.version)\n")
            var extensionEntry = ProtobufWriter()
            extensionEntry.field(1, "x-kubernetes-group-version-kind")
            extensionEntry.field(2, any.bytes)
            // Operation: parameters 8, vendor_extension 13.
            var operation = ProtobufWriter()
            operation.field(8, parametersItem.bytes)
            operation.field(13, extensionEntry.bytes)
            // PathItem: patch 8. NamedPathItem: name 1, value 2. Paths: path 2.
            var pathItem = ProtobufWriter()
            pathItem.field(8, operation.bytes)
            var named = ProtobufWriter()
            named.field(1, objectPath(resource))
            named.field(2, pathItem.bytes)
            paths.field(2, named.bytes)
        }
        var document = ProtobufWriter()
        document.field(1, "2.0")
        document.field(2, info.bytes)
        document.field(8, paths.bytes)
        return document.bytes
    }()
}

/// Length-delimited protobuf fields (strings and embedded messages), all the document needs.
struct ProtobufWriter {
    var bytes: [UInt8] = []

    mutating func field(_ number: Int, _ payload: [UInt8]) {
        varint(UInt64(number) << 3 | 2)
        varint(UInt64(payload.count))
        bytes += payload
    }

    mutating func field(_ number: Int, _ text: String) { field(number, Array(text.utf8)) }

    mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(rest & 0x7f) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }
}
