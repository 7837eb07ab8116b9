import Testing
@testable import PodNet

@Suite("explain: kubectl's plaintext layout from the OpenAPI v2 document")
struct ExplainTests {
    static let resources = ServedResources.all.map {
        DiscoveredResource(groupVersion: $0.groupVersion, resource: $0.resource, singular: $0.singular, shortNames: $0.shortNames, kind: $0.kind)
    }

    static func explain(_ name: String, _ path: [String], recursive: Bool = false, apiVersion: String? = nil) throws -> Explain.Output {
        try Explain.explain(try Explain.resolve(name, in: resources, apiVersion: apiVersion), fieldPath: path, recursive: recursive,
                            document: OpenAPISchema.v2)
    }

    @Test("names resolve as kubectl's: plural, singular, short name, kind; --api-version picks or refuses")
    func resolution() throws {
        for name in ["pods", "pod", "po", "Pod"] { #expect(try Explain.resolve(name, in: Self.resources, apiVersion: nil).resource == "pods") }
        #expect(try Explain.resolve("deploy", in: Self.resources, apiVersion: nil).groupVersion == "apps/v1")
        #expect(try Explain.resolve("svc", in: Self.resources, apiVersion: nil).kind == "Service")
        #expect(try Explain.resolve("netpol", in: Self.resources, apiVersion: nil).kind == "NetworkPolicy")
        #expect(try Explain.resolve("ns", in: Self.resources, apiVersion: "v1").kind == "Namespace")
        #expect(throws: ExplainError("the server doesn't have a resource type \"nope\"", printedBare: true)) {
            try Explain.resolve("nope", in: Self.resources, apiVersion: nil)
        }
        #expect(throws: ExplainError("couldn't find resource for \"apps/v2, Resource=deployments\"")) {
            try Explain.resolve("deployments", in: Self.resources, apiVersion: "apps/v2")
        }
    }

    @Test("a leaf field: its line with the type, the wrapped description and no FIELDS")
    func leafField() throws {
        let output = try Self.explain("svc", ["spec", "ports", "port"])
        #expect(output.error == nil)
        #expect(output.text == """
            KIND:       Service
            VERSION:    v1

            FIELD: port <integer>


            DESCRIPTION:
                The port that will be exposed by this service.
                \("")

            """ + "\n")
    }

    @Test("a field of an object type: both descriptions, the fields sorted with <type> and -required-")
    func objectField() throws {
        let text = try Self.explain("pod", ["spec", "containers"]).text
        #expect(text.hasPrefix("KIND:       Pod\nVERSION:    v1\n\nFIELD: containers <[]Container>\n\n\nDESCRIPTION:\n"))
        // Wrapped at 80 columns with the indentation; the element type's description follows on its own line.
        #expect(text.contains("""
                List of containers belonging to the pod. Containers cannot currently be
                added or removed. There must be at least one container in a Pod. Cannot be
                updated.
                A single application container that you want to run within a pod.
                \("")
            FIELDS:
              args\t<[]string>

            """))
        #expect(text.contains("  env\t<[]EnvVar>\n"))
        #expect(text.contains("  name\t<string> -required-\n"))
        #expect(text.contains("  ports\t<[]ContainerPort>\n"))
        #expect(text.hasSuffix("  workingDir\t<string>\n    Container's working directory. If not specified, the container runtime's\n    default will be used. Cannot be updated.\n\n\n"))
        for line in text.split(separator: "\n") { #expect(line.count <= 80, "\(line)") }
    }

    @Test("a kind with a group prints GROUP first; --recursive nests the fields two spaces a level, without descriptions")
    func recursive() throws {
        let text = try Self.explain("deploy", ["spec", "template"], recursive: true).text
        #expect(text.hasPrefix("GROUP:      apps\nKIND:       Deployment\nVERSION:    v1\n\nFIELD: template <PodTemplateSpec>"))
        #expect(text.contains("\n  spec\t<PodSpec>\n    activeDeadlineSeconds\t<integer>\n"))
        #expect(text.contains("\n    containers\t<[]Container> -required-\n      args\t<[]string>\n"))
        #expect(text.contains("\n        containerPort\t<integer> -required-\n"))
        #expect(text.contains("  metadata\t<ObjectMeta>\n    annotations\t<map[string]string>\n"))
    }

    @Test("a field that does not exist: the header, then kubectl's error")
    func missingField() throws {
        let output = try Self.explain("pods", ["spec", "nope"])
        #expect(output.text == "KIND:       Pod\nVERSION:    v1\n\n")
        #expect(output.error == "field \"nope\" does not exist")
    }

    @Test("descriptions wrap greedily at 76 columns after the indentation, keeping line breaks")
    func wrapping() {
        let words = String(repeating: "abcd ", count: 20)
        let text = Explain.wrapped(words + "\nnext", indent: 4)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines == ["    " + String(repeating: "abcd ", count: 15).dropLast(), "    " + String(repeating: "abcd ", count: 5).dropLast(), "    next"])
    }
}
