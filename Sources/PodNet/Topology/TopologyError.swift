/// Why a topology file cannot be used. Every problem names the field it is about:
/// `nodes[1].name: duplicate node name "n1"`.
public enum TopologyError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The file is not valid YAML.
    case syntax(DocumentSyntaxError)
    /// A field has the wrong type, or a field is unknown.
    case decoding(ObjectDecodingError)
    /// The values do not make a lab; all problems found.
    case invalid([TopologyProblem])

    public var description: String {
        switch self {
        case let .syntax(error): "invalid topology: \(error)"
        case let .decoding(error): "invalid topology: \(error)"
        case let .invalid(problems) where problems.count == 1: "invalid topology: \(problems[0])"
        case let .invalid(problems): "invalid topology:\n" + problems.map { "  \($0)" }.joined(separator: "\n")
        }
    }

    /// The problems of an `.invalid` error (empty for the other cases).
    public var problems: [TopologyProblem] {
        if case let .invalid(problems) = self { problems } else { [] }
    }
}

/// One thing wrong in a topology, with the field it is about.
public struct TopologyProblem: Hashable, Sendable, CustomStringConvertible {
    public var field: FieldPath
    public var message: String

    public init(field: FieldPath, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { field.isRoot ? message : "\(field): \(message)" }
}
