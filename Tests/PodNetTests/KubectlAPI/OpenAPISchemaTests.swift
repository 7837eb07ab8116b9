import Testing
@testable import PodNet

@Suite("OpenAPI documents from one description of the schemas")
struct OpenAPISchemaTests {
    /// Every reference a schema makes, anywhere below it.
    static func references(_ value: JSONValue) -> [String] {
        switch value {
        case .object(let fields):
            return (fields["$ref"]?.stringValue.map { [$0] } ?? []) + fields.values.flatMap(references)
        case .array(let items):
            return items.flatMap(references)
        default:
            return []
        }
    }

    @Test("v2: every reference names a definition; Pod's containers carry the patch merge key and strategy")
    func v2Definitions() throws {
        let definitions = try #require(OpenAPISchema.v2["definitions"]?.objectValue)
        for reference in Self.references(OpenAPISchema.v2) {
            #expect(reference.hasPrefix("#/definitions/") && definitions[String(reference.dropFirst("#/definitions/".count))] != nil, "\(reference)")
        }
        let pod = try #require(definitions["io.k8s.api.core.v1.Pod"])
        #expect(pod["x-kubernetes-group-version-kind"] == [["group": "", "kind": "Pod", "version": "v1"]])
        #expect(pod["properties"]?["spec"]?["$ref"] == "#/definitions/io.k8s.api.core.v1.PodSpec")
        let containers = try #require(definitions["io.k8s.api.core.v1.PodSpec"]?["properties"]?["containers"])
        #expect(containers["type"] == "array")
        #expect(containers["items"]?["$ref"] == "#/definitions/io.k8s.api.core.v1.Container")
        #expect(containers["x-kubernetes-patch-merge-key"] == "name" && containers["x-kubernetes-patch-strategy"] == "merge")
        #expect(definitions["io.k8s.api.core.v1.PodSpec"]?["required"] == ["containers"])
        #expect(definitions["io.k8s.api.core.v1.ServicePort"]?["properties"]?["targetPort"] == [
            "type": "string", "format": "int-or-string", "description": "Number or name of the port to access on the pods targeted by the service.",
        ])
        for kind in ["io.k8s.api.apps.v1.Deployment", "io.k8s.api.networking.v1.NetworkPolicy", "io.k8s.api.core.v1.Service", "io.k8s.api.core.v1.Namespace"] {
            #expect(definitions[kind]?["x-kubernetes-group-version-kind"] != nil, "\(kind)")
        }
    }

    @Test("v2: the merge keys agree with the ones the server's strategic merge patch uses")
    func mergeKeysAgree() {
        for definition in OpenAPISchema.definitions {
            for field in definition.fields where field.mergeKey != nil {
                let parents = definition.name == "Container" ? ["containers"] : []
                #expect(StrategicMergePatch.mergeKey(field: field.name, path: parents) == field.mergeKey, "\(definition.name).\(field.name)")
            }
        }
    }

    @Test("v3: an index with a hashed URL per group version; each document holds its kinds' paths and all schemas by allOf references")
    func v3Documents() throws {
        let paths = try #require(OpenAPISchema.v3Index["paths"]?.objectValue)
        #expect(Set(paths.keys) == Set(ServedResources.groupVersions.map(OpenAPISchema.v3Path)))
        let core = try #require(paths["api/v1"]?["serverRelativeURL"]?.stringValue)
        #expect(core == "/openapi/v3/api/v1?hash=\(OpenAPISchema.v3Hash("v1"))")
        #expect(OpenAPISchema.v3Hash("v1") != OpenAPISchema.v3Hash("apps/v1"))

        let apps = OpenAPISchema.v3("apps/v1")
        #expect(apps["paths"]?["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]?["patch"]?["x-kubernetes-group-version-kind"]?["kind"] == "Deployment")
        let schemas = try #require(apps["components"]?["schemas"]?.objectValue)
        for reference in Self.references(apps) {
            #expect(schemas[String(reference.dropFirst("#/components/schemas/".count))] != nil, "\(reference)")
        }
        #expect(schemas["io.k8s.api.apps.v1.DeploymentSpec"]?["properties"]?["template"]?["allOf"] == [["$ref": "#/components/schemas/io.k8s.api.core.v1.PodTemplateSpec"]])
    }

    /// The length-delimited fields of a protobuf message, by number (varints skipped).
    static func fields(_ bytes: [UInt8]) -> [(Int, [UInt8])] {
        var result: [(Int, [UInt8])] = []
        var index = 0
        func varint() -> UInt64 {
            var value: UInt64 = 0, shift: UInt64 = 0
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                value |= UInt64(byte & 0x7f) << shift
                if byte < 0x80 { break }
                shift += 7
            }
            return value
        }
        while index < bytes.count {
            let key = varint()
            if key & 7 == 0 { _ = varint(); continue }
            let length = Int(varint())
            result.append((Int(key >> 3), Array(bytes[index..<index + length])))
            index += length
        }
        return result
    }

    @Test("protobuf: gnostic's Document with the definitions (9), a Schema's properties (25), type (22), $ref (1) and extensions (31)")
    func protobufDocument() throws {
        let document = Self.fields(OpenAPISchema.v2Protobuf)
        #expect(document.first?.0 == 1 && document.first?.1 == Array("2.0".utf8))
        let definitions = try #require(document.first { $0.0 == 9 }?.1)
        let named = Self.fields(definitions).map { Self.fields($0.1) }
        let names = named.compactMap { $0.first { $0.0 == 1 }.map { String(decoding: $0.1, as: UTF8.self) } }
        #expect(names.contains("io.k8s.api.core.v1.Pod") && names.contains("io.k8s.api.apps.v1.Deployment"))
        let pod = try #require(named.first { $0.first?.1 == Array("io.k8s.api.core.v1.Pod".utf8) }?.first { $0.0 == 2 }?.1)
        let podFields = Self.fields(pod)
        #expect(podFields.contains { $0.0 == 22 && Self.fields($0.1).first?.1 == Array("object".utf8) })
        let extensionEntry = try #require(podFields.first { $0.0 == 31 }.map { Self.fields($0.1) })
        #expect(extensionEntry.first?.1 == Array("x-kubernetes-group-version-kind".utf8))
        let yaml = String(decoding: Self.fields(extensionEntry[1].1).first { $0.0 == 2 }?.1 ?? [], as: UTF8.self)
        #expect(yaml.contains("kind: Pod") && yaml.contains("version: v1"))
        let properties = try #require(podFields.first { $0.0 == 25 }.map { Self.fields($0.1).map { Self.fields($0.1) } })
        let spec = try #require(properties.first { $0.first?.1 == Array("spec".utf8) }?[1].1)
        #expect(Self.fields(spec).first { $0.0 == 1 }?.1 == Array("#/definitions/io.k8s.api.core.v1.PodSpec".utf8))
    }
}
