/// A JSON or YAML text that cannot be parsed, with the position of the problem.
///
/// `description` reads like `yaml: line 7, column 10: mapping values are not allowed in this context`.
public struct DocumentSyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Which syntax the text was read as.
    public enum Format: String, Sendable {
        case json
        case yaml
    }

    public var format: Format
    /// Line of the problem, counted from 1.
    public var line: Int
    /// Column of the problem, counted from 1 in Unicode scalars.
    public var column: Int
    /// What is wrong, in the parser's words.
    public var problem: String

    public init(format: Format, line: Int, column: Int, problem: String) {
        self.format = format
        self.line = line
        self.column = column
        self.problem = problem
    }

    public var description: String { "\(format.rawValue): line \(line), column \(column): \(problem)" }
}

/// One document read from a JSON or YAML text.
public struct TextDocument: Equatable, Sendable {
    /// The document's content.
    public var value: JSONValue
    /// The line where the document's content starts, counted from 1.
    public var line: Int

    public init(value: JSONValue, line: Int) {
        self.value = value
        self.line = line
    }
}

/// Reads manifest text in either syntax, as `kubectl apply -f` does: text whose first
/// non-blank character is `{` is a stream of JSON objects, anything else is YAML (one or
/// more documents separated by `---`). Empty documents are skipped.
public enum ManifestText {
    public static func documents(in text: String) throws(DocumentSyntaxError) -> [TextDocument] {
        let firstSignificant = text.unicodeScalars.first { !$0.properties.isWhitespace && $0 != "\u{FEFF}" }
        if firstSignificant == "{" {
            return try JSONReader.documents(in: text)
        }
        return try YAMLReader.documents(in: text)
    }
}
