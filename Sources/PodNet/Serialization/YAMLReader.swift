import Yams

/// Reads YAML into JSON values the way Kubernetes converts YAML to JSON before decoding
/// (sigs.k8s.io/yaml): plain scalars resolve with go-yaml v2's YAML 1.1 rules (see
/// `YAMLScalar`), timestamps stay strings, `<<` merge keys are applied, mapping keys are
/// taken as text. Errors carry the line and column.
public enum YAMLReader {
    /// A document expanding (through aliases) to more values than this is rejected: a
    /// "billion laughs" text must not exhaust memory. Real manifests stay far below it.
    public static let maximumValues = 1_000_000

    /// Parses every document of a YAML stream (`---` separated); empty documents are skipped.
    public static func documents(in text: String) throws(DocumentSyntaxError) -> [TextDocument] {
        try documents(in: text, maximumValues: maximumValues)
    }

    static func documents(in text: String, maximumValues: Int) throws(DocumentSyntaxError) -> [TextDocument] {
        var documents: [TextDocument] = []
        do {
            // The basic resolver tags nothing: scalars are resolved by `YAMLScalar`, with go-yaml's rules.
            let parser = try Parser(yaml: text, resolver: .basic, constructor: .default, encoding: .utf8)
            while let root = try parser.nextRoot() {
                var budget = maximumValues
                let value = try convert(root, budget: &budget, limit: maximumValues)
                if value == .null { continue }
                documents.append(TextDocument(value: value, line: root.mark?.line ?? 1))
            }
        } catch let error as DocumentSyntaxError {
            throw error
        } catch let error as YamlError {
            throw syntaxError(from: error, in: text)
        } catch {
            throw DocumentSyntaxError(format: .yaml, line: 1, column: 1, problem: "\(error)")
        }
        return documents
    }

    /// Parses a YAML text that must hold exactly one document (an empty text is `null`).
    public static func value(from text: String) throws(DocumentSyntaxError) -> JSONValue {
        let documents = try documents(in: text)
        guard documents.count <= 1 else {
            throw DocumentSyntaxError(format: .yaml, line: documents[1].line, column: 1, problem: "expected a single document, found \(documents.count)")
        }
        return documents.first?.value ?? .null
    }

    private static func error(_ problem: String, at mark: Mark?) -> DocumentSyntaxError {
        DocumentSyntaxError(format: .yaml, line: mark?.line ?? 1, column: mark?.column ?? 1, problem: problem)
    }

    private static func convert(_ node: Yams.Node, budget: inout Int, limit: Int) throws(DocumentSyntaxError) -> JSONValue {
        budget -= 1
        guard budget >= 0 else {
            throw error("document expands to more than \(limit) values (too many aliases)", at: node.mark)
        }
        switch node {
        case let .scalar(scalar):
            return try convert(scalar)
        case let .sequence(sequence):
            var elements: [JSONValue] = []
            elements.reserveCapacity(sequence.count)
            for element in sequence {
                elements.append(try convert(element, budget: &budget, limit: limit))
            }
            return .array(elements)
        case let .mapping(mapping):
            var fields: [String: JSONValue] = [:]
            var merged: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard case let .scalar(keyScalar) = key else {
                    throw error("mapping keys must be scalars", at: key.mark)
                }
                // Yams' duplicate-key check has already resolved key tags, so only text and style tell a merge key.
                if keyScalar.string == "<<", keyScalar.style == .plain {
                    try merge(value, into: &merged, budget: &budget, limit: limit)
                    continue
                }
                fields[keyScalar.string] = try convert(value, budget: &budget, limit: limit)
            }
            // Explicit keys win over merged ones, as in go-yaml.
            return .object(fields.merging(merged) { explicit, _ in explicit })
        case let .alias(alias):
            throw error("unresolved alias \(alias)", at: node.mark)
        }
    }

    private static func merge(_ node: Yams.Node, into merged: inout [String: JSONValue], budget: inout Int, limit: Int) throws(DocumentSyntaxError) {
        switch node {
        case .mapping:
            guard case let .object(fields) = try convert(node, budget: &budget, limit: limit) else { return }
            merged.merge(fields) { existing, _ in existing }
        case let .sequence(sequence):
            for element in sequence {
                guard case .mapping = element else {
                    throw error("map merge requires a map or a sequence of maps as the value", at: element.mark)
                }
                try merge(element, into: &merged, budget: &budget, limit: limit)
            }
        default:
            throw error("map merge requires a map or a sequence of maps as the value", at: node.mark)
        }
    }

    private static func convert(_ scalar: Yams.Node.Scalar) throws(DocumentSyntaxError) -> JSONValue {
        let text = scalar.string
        guard scalar.style == .plain || scalar.style == .any else { return .string(text) }
        let tag = scalar.tag.rawValue
        let resolved: YAMLScalar.Resolved
        switch tag {
        case "", Tag.Name.int.rawValue, Tag.Name.float.rawValue, Tag.Name.bool.rawValue, Tag.Name.null.rawValue:
            resolved = YAMLScalar.resolve(text)
        default:
            // `!`, `!!str`, `!!timestamp`, `!!binary` and custom tags keep the text.
            return .string(text)
        }
        let value: JSONValue
        switch resolved {
        case .null: value = .null
        case let .bool(flag): value = .bool(flag)
        case let .integer(number): value = .integer(number)
        case let .unsignedInteger(number): value = .number(Double(number))
        case let .float(number):
            guard number.isFinite else {
                throw error("\(text) cannot be represented in JSON", at: scalar.mark)
            }
            value = .number(number)
        case .timestamp, .string: value = .string(text)
        }
        if !tag.isEmpty {
            let matches = switch (tag, value) {
            case (Tag.Name.int.rawValue, .integer): true
            case (Tag.Name.float.rawValue, .number), (Tag.Name.float.rawValue, .integer): true
            case (Tag.Name.bool.rawValue, .bool): true
            case (Tag.Name.null.rawValue, .null): true
            default: false
            }
            guard matches else {
                throw error("cannot decode \"\(text)\" as \(tag.replacingPrefix("tag:yaml.org,2002:", with: "!!"))", at: scalar.mark)
            }
        }
        return value
    }

    private static func syntaxError(from error: YamlError, in text: String) -> DocumentSyntaxError {
        func withContext(_ problem: String, _ context: YamlError.Context?) -> String {
            guard let context else { return problem }
            return "\(problem) (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
        }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            return DocumentSyntaxError(format: .yaml, line: mark.line, column: mark.column, problem: withContext(problem, context))
        case let .duplicatedKeysInMapping(duplicates, context):
            let keys = duplicates.map { "\"\($0)\"" }.joined(separator: ", ")
            return DocumentSyntaxError(format: .yaml, line: context.mark.line, column: context.mark.column,
                                       problem: duplicates.count == 1 ? "key \(keys) already set in map" : "keys \(keys) already set in map")
        case let .reader(problem, offset, _, _):
            var line = 1, column = 1
            if let offset {
                for character in text.prefix(offset) {
                    if character == "\n" { line += 1; column = 1 } else { column += character.unicodeScalars.count }
                }
            }
            return DocumentSyntaxError(format: .yaml, line: line, column: column, problem: problem)
        default:
            return DocumentSyntaxError(format: .yaml, line: 1, column: 1, problem: error.description)
        }
    }
}

private extension String {
    func replacingPrefix(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }
}
