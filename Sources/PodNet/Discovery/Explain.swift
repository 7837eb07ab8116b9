/// `kubectl explain` over the agent's OpenAPI v2 document: the resource a name stands for
/// (found in discovery, as kubectl's REST mapper finds it), the field a path leads to, and
/// the text kubectl 1.32's plaintext template prints for it.

/// One resource as discovery lists it (`/api/v1`, `/apis/<group>/<version>`).
public struct DiscoveredResource: Sendable, Hashable {
    public var groupVersion: String
    /// The plural name: `pods`.
    public var resource: String
    public var singular: String
    public var shortNames: [String]
    public var kind: String

    public init(groupVersion: String, resource: String, singular: String, shortNames: [String], kind: String) {
        self.groupVersion = groupVersion
        self.resource = resource
        self.singular = singular
        self.shortNames = shortNames
        self.kind = kind
    }

    public var group: String { groupVersion.contains("/") ? String(groupVersion.prefix { $0 != "/" }) : "" }
    public var version: String { groupVersion.contains("/") ? String(groupVersion.drop { $0 != "/" }.dropFirst()) : groupVersion }

    /// The resources of a discovery document (`APIResourceList`); subresources (`pods/log`) are not kinds.
    public static func list(_ document: JSONValue) -> [DiscoveredResource] {
        guard let groupVersion = document["groupVersion"]?.stringValue else { return [] }
        return (document["resources"]?.arrayValue ?? []).compactMap { entry in
            guard let name = entry["name"]?.stringValue, !name.contains("/"), let kind = entry["kind"]?.stringValue else { return nil }
            return DiscoveredResource(groupVersion: groupVersion, resource: name, singular: entry["singularName"]?.stringValue ?? "",
                                      shortNames: (entry["shortNames"]?.arrayValue ?? []).compactMap(\.stringValue), kind: kind)
        }
    }
}

public enum Explain {
    /// What `explain` prints: the text for stdout, and kubectl's error (for stderr, exit code 1)
    /// when the request fails after the header was printed.
    public struct Output: Sendable, Equatable {
        public var text: String
        public var error: String?
    }

    /// The width kubectl wraps descriptions to, after their four spaces of indentation.
    static let wrapWidth = 76

    /// The resource `name` (plural, singular, short name or kind, in any case) stands for, in
    /// discovery order; `apiVersion` (`v1`, `apps/v1`) picks the group version. The errors are kubectl's.
    public static func resolve(_ name: String, in resources: [DiscoveredResource], apiVersion: String?) throws(ExplainError) -> DiscoveredResource {
        let wanted = name.lowercased()
        let matches = resources.filter {
            $0.resource == wanted || $0.singular == wanted || $0.shortNames.contains(wanted) || $0.kind.lowercased() == wanted
        }
        guard let first = matches.first else {
            throw ExplainError("the server doesn't have a resource type \"\(name)\"", printedBare: true)
        }
        guard let apiVersion else { return first }
        if let match = matches.first(where: { $0.groupVersion == apiVersion }) { return match }
        let group = apiVersion.contains("/") ? String(apiVersion.prefix { $0 != "/" }) : ""
        let version = apiVersion.contains("/") ? String(apiVersion.drop { $0 != "/" }.dropFirst()) : apiVersion
        throw ExplainError("couldn't find resource for \"\(group)/\(version), Resource=\(first.resource)\"")
    }

    /// The explanation of `fieldPath` (empty: the kind itself) of `resource`'s kind in `document`,
    /// an OpenAPI v2 document.
    public static func explain(_ resource: DiscoveredResource, fieldPath: [String], recursive: Bool, document: JSONValue) throws(ExplainError) -> Output {
        let definitions = document["definitions"]?.objectValue ?? [:]
        guard let kindSchema = definitions.values.first(where: { definition in
            (definition["x-kubernetes-group-version-kind"]?.arrayValue ?? []).contains {
                $0["group"]?.stringValue == resource.group && $0["version"]?.stringValue == resource.version && $0["kind"]?.stringValue == resource.kind
            }
        }) else {
            throw ExplainError("GVR (\(resource.group)/\(resource.version), Resource=\(resource.resource)) not found in OpenAPI schema")
        }
        var text = resource.group.isEmpty ? "" : "GROUP:      \(resource.group)\n"
        text += "KIND:       \(resource.kind)\nVERSION:    \(resource.version)\n\n"

        var descriptions = [kindSchema["description"]?.stringValue ?? ""]
        var target = kindSchema
        for name in fieldPath {
            guard let field = element(of: target, definitions)["properties"]?[name] else {
                return Output(text: text, error: "field \"\(name)\" does not exist")
            }
            target = field
        }
        if let name = fieldPath.last {
            text += "FIELD: \(name) <\(typeName(target))>\n\n\n"
            descriptions = [target["description"]?.stringValue ?? ""]
            let referenced = element(of: target, definitions)
            if referenced != target, let description = referenced["description"]?.stringValue { descriptions.append(description) }
        }
        text += "DESCRIPTION:\n"
        for description in descriptions where !description.isEmpty { text += wrapped(description, indent: 4) }
        text += "    \n"
        let properties = element(of: target, definitions)
        if let fields = properties["properties"]?.objectValue, !fields.isEmpty {
            text += "FIELDS:\n"
            text += recursive ? fieldTree(properties, definitions, depth: 1, seen: []) : fieldList(properties)
        }
        return Output(text: text + "\n", error: nil)
    }

    /// Each field with its type and description, as the non-recursive explanation lists them.
    static func fieldList(_ schema: JSONValue) -> String {
        let required = Set((schema["required"]?.arrayValue ?? []).compactMap(\.stringValue))
        var text = ""
        for (name, field) in (schema["properties"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            text += "  \(name)\t<\(typeName(field))>\(required.contains(name) ? " -required-" : "")\n"
            text += wrapped(field["description"]?.stringValue ?? "", indent: 4) + "\n"
        }
        return text
    }

    /// Every field under `schema`, two spaces deeper per level, without descriptions. `seen`
    /// holds the definitions on the way down, so a recursive definition is not followed again.
    static func fieldTree(_ schema: JSONValue, _ definitions: [String: JSONValue], depth: Int, seen: Set<String>) -> String {
        let required = Set((schema["required"]?.arrayValue ?? []).compactMap(\.stringValue))
        let indent = String(repeating: "  ", count: depth)
        var text = ""
        for (name, field) in (schema["properties"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            text += "\(indent)\(name)\t<\(typeName(field))>\(required.contains(name) ? " -required-" : "")\n"
            let reference = referenceName(field)
            if let reference, seen.contains(reference) { continue }
            let nested = element(of: field, definitions)
            if nested["properties"]?.objectValue?.isEmpty == false {
                text += fieldTree(nested, definitions, depth: depth + 1, seen: seen.union(reference.map { [$0] } ?? []))
            }
        }
        return text
    }

    /// The definition a field's values are described by: through arrays' items, maps' values and `$ref`s.
    static func element(of schema: JSONValue, _ definitions: [String: JSONValue]) -> JSONValue {
        if let reference = schema["$ref"]?.stringValue {
            let name = reference.hasPrefix("#/definitions/") ? String(reference.dropFirst("#/definitions/".count)) : reference
            return definitions[name] ?? [:]
        }
        if schema["type"]?.stringValue == "array", let items = schema["items"] { return element(of: items, definitions) }
        if schema["type"]?.stringValue == "object", let values = schema["additionalProperties"] { return element(of: values, definitions) }
        return schema
    }

    /// The full name of the definition a field's values refer to, if any.
    static func referenceName(_ schema: JSONValue) -> String? {
        if let reference = schema["$ref"]?.stringValue { return reference }
        if let items = schema["items"] { return referenceName(items) }
        if let values = schema["additionalProperties"] { return referenceName(values) }
        return nil
    }

    /// The type as kubectl prints it: `string`, `[]Container`, `map[string]string`, `Object`.
    static func typeName(_ schema: JSONValue) -> String {
        if let reference = schema["$ref"]?.stringValue { return String(reference.split(separator: ".").last ?? "") }
        switch schema["type"]?.stringValue {
        case "array": return "[]" + typeName(schema["items"] ?? [:])
        case "object"?, nil:
            if let values = schema["additionalProperties"] { return "map[string]" + typeName(values) }
            return "Object"
        case let type?: return type
        }
    }

    /// `text` word-wrapped to `wrapWidth` columns, each line indented; line breaks in the text are kept.
    static func wrapped(_ text: String, indent: Int) -> String {
        if text.isEmpty { return "" }
        let prefix = String(repeating: " ", count: indent)
        var result = ""
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = ""
            for word in paragraph.split(separator: " ") {
                if line.isEmpty {
                    line = String(word)
                } else if line.count + 1 + word.count <= wrapWidth {
                    line += " " + word
                } else {
                    result += prefix + line + "\n"
                    line = String(word)
                }
            }
            result += prefix + line + "\n"
        }
        return result
    }
}

/// An `explain` request kubectl refuses, with kubectl's message.
public struct ExplainError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// kubectl prints this one without its `error: ` prefix.
    public var printedBare: Bool
    public init(_ message: String, printedBare: Bool = false) {
        self.message = message
        self.printedBare = printedBare
    }
    public var description: String { message }
}
