/// What `kubectl wait --for=…` waits for, read from kubectl's spellings: `delete`, `create`,
/// `condition=Ready` (status True), `condition=Ready=false`, `jsonpath={.status.phase}=Running`
/// and `jsonpath={.status.podIP}` (the field exists).
public enum WaitCondition: Sendable {
    case delete
    case create
    case condition(type: String, status: String)
    case jsonPath(JSONPathTemplate, expression: String, value: String?)

    public init(parsing text: String) throws(WaitConditionError) {
        let lowered = text.lowercased()
        if lowered == "delete" { self = .delete; return }
        if lowered == "create" { self = .create; return }
        if lowered.hasPrefix("condition=") {
            let rest = text.dropFirst("condition=".count)
            let parts = rest.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard !parts[0].isEmpty else { throw WaitConditionError("unrecognized condition: \"\(text)\"") }
            self = .condition(type: parts[0], status: parts.count > 1 ? parts[1] : "true")
            return
        }
        if lowered.hasPrefix("jsonpath=") {
            let rest = String(text.dropFirst("jsonpath=".count))
            let (expression, value) = Self.splitJSONPath(rest)
            guard !expression.isEmpty else { throw WaitConditionError("jsonpath expression cannot be empty") }
            do {
                self = .jsonPath(try JSONPathTemplate(expression), expression: expression, value: value)
            } catch {
                throw WaitConditionError("error parsing jsonpath \(expression), \(error.message)")
            }
            return
        }
        throw WaitConditionError("unrecognized condition: \"\(text)\"")
    }

    /// `{.a[?(@.b=="c")].d}=x` → the expression and the value: the first `=` outside braces,
    /// brackets and quotes separates them.
    static func splitJSONPath(_ text: String) -> (String, String?) {
        var depth = 0
        var quote: Character?
        for index in text.indices {
            let character = text[index]
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "{" || character == "[" || character == "(" {
                depth += 1
            } else if character == "}" || character == "]" || character == ")" {
                depth -= 1
            } else if character == "=", depth == 0 {
                return (String(text[..<index]), String(text[text.index(after: index)...]))
            }
        }
        return (text, nil)
    }

    /// True when `object` (nil: it does not exist) is what is waited for.
    public func isMet(by object: JSONValue?) -> Bool {
        switch self {
        case .delete: return object == nil
        case .create: return object != nil
        case let .condition(type, status):
            guard let object else { return false }
            let generation = object["metadata"]?["generation"]
            for condition in object["status"]?["conditions"]?.arrayValue ?? [] {
                guard condition["type"]?.stringValue?.lowercased() == type.lowercased() else { continue }
                // A condition about an older generation of the object says nothing yet.
                if case let .integer(observed)? = condition["observedGeneration"], case let .integer(current)? = generation, observed < current {
                    return false
                }
                return condition["status"]?.stringValue?.lowercased() == status.lowercased()
            }
            return false
        case let .jsonPath(template, _, value):
            guard let object else { return false }
            let found = template.values(object)
            guard let first = found.first else { return false }
            guard let value else { return true }
            return found.count == 1 && JSONPathTemplate.text(first) == value
        }
    }
}

/// A `--for` kubectl would refuse, in its words.
public struct WaitConditionError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
