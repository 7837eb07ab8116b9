/// A label selector as `kubectl get -l` takes it: comma-separated requirements, all of which
/// must hold. `app=web`, `app==web`, `tier!=db`, `env in (dev,test)`, `env notin (prod)`,
/// `app` (has the label), `!canary` (does not), `replicas>2`, `replicas<5`.
public struct LabelSelector: Hashable, Sendable, CustomStringConvertible {
    /// How a requirement compares a label.
    public enum Operator: String, Hashable, Sendable {
        case equals = "="
        case doubleEquals = "=="
        case notEquals = "!="
        case `in` = "in"
        case notIn = "notin"
        case exists
        case doesNotExist = "!"
        case greaterThan = ">"
        case lessThan = "<"
    }

    /// One condition on one label.
    public struct Requirement: Hashable, Sendable, CustomStringConvertible {
        public var key: String
        public var `operator`: Operator
        /// Sorted; one value for `=`, `==`, `!=`, `>`, `<`; none for `exists` and `!`.
        public var values: [String]

        public init(key: String, operator: Operator, values: [String] = []) {
            self.key = key
            self.operator = `operator`
            self.values = values.sorted()
        }

        /// Whether `labels` satisfy this requirement. A missing label satisfies `!=` and `notin`, as in Kubernetes.
        public func matches(_ labels: [String: String]) -> Bool {
            let value = labels[key]
            switch `operator` {
            case .equals, .doubleEquals, .in: return value.map(values.contains) ?? false
            case .notEquals, .notIn: return value.map { !values.contains($0) } ?? true
            case .exists: return value != nil
            case .doesNotExist: return value == nil
            case .greaterThan, .lessThan:
                guard let value, let actual = Int64(value), let bound = values.first.flatMap({ Int64($0) }) else { return false }
                return `operator` == .greaterThan ? actual > bound : actual < bound
            }
        }

        public var description: String {
            switch `operator` {
            case .exists: key
            case .doesNotExist: "!" + key
            case .in, .notIn: "\(key) \(`operator`.rawValue) (\(values.joined(separator: ",")))"
            default: key + `operator`.rawValue + (values.first ?? "")
            }
        }
    }

    /// Sorted by key, as Kubernetes keeps them.
    public private(set) var requirements: [Requirement]

    public init(requirements: [Requirement]) {
        self.requirements = requirements.enumerated().sorted { a, b in
            a.element.key != b.element.key ? a.element.key < b.element.key : a.offset < b.offset
        }.map(\.element)
    }

    /// The selector that matches everything (the empty string).
    public static let everything = LabelSelector(requirements: [])

    /// A selector requiring each label to have exactly the given value (`matchLabels`).
    public init(matchLabels: [String: String]) {
        self.init(requirements: matchLabels.map { Requirement(key: $0.key, operator: .equals, values: [$0.value]) })
    }

    /// Whether `labels` satisfy every requirement.
    public func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { $0.matches(labels) }
    }

    public var isEverything: Bool { requirements.isEmpty }

    public var description: String { requirements.map(\.description).joined(separator: ",") }

    /// Parses selector text. Keys must be valid label keys and values valid label values.
    public init(parsing text: String) throws(LabelSelectorError) {
        var parser = LabelSelectorParser(text)
        self.init(requirements: try parser.parse())
    }
}

/// Why selector text was rejected: what was found, what was expected, and where.
public struct LabelSelectorError: Error, Hashable, Sendable, CustomStringConvertible {
    public var selector: String
    /// Character offset of the problem, counted from 1.
    public var position: Int
    public var message: String

    public var description: String { "unable to parse label selector \"\(selector)\": \(message) (at position \(position))" }
}

private struct LabelSelectorParser {
    enum Token: Equatable {
        case identifier(String)
        case symbol(String)
        case end

        var text: String {
            switch self {
            case let .identifier(text), let .symbol(text): text
            case .end: ""
            }
        }
    }

    let source: String
    var tokens: [(token: Token, position: Int)] = []
    var index = 0

    init(_ source: String) {
        self.source = source
        let characters = Array(source)
        var offset = 0
        while offset < characters.count {
            let character = characters[offset]
            if character.isWhitespace {
                offset += 1
            } else if "=!(),<>".contains(character) {
                if (character == "=" || character == "!"), offset + 1 < characters.count, characters[offset + 1] == "=" {
                    tokens.append((.symbol(String(character) + "="), offset + 1))
                    offset += 2
                } else {
                    tokens.append((.symbol(String(character)), offset + 1))
                    offset += 1
                }
            } else {
                let start = offset
                while offset < characters.count, !characters[offset].isWhitespace, !"=!(),<>".contains(characters[offset]) { offset += 1 }
                tokens.append((.identifier(String(characters[start..<offset])), start + 1))
            }
        }
        tokens.append((.end, characters.count + 1))
    }

    var current: Token { tokens[index].token }

    mutating func next() -> Token {
        let token = tokens[index].token
        if index < tokens.count - 1 { index += 1 }
        return token
    }

    func error(_ message: String, at tokenIndex: Int? = nil) -> LabelSelectorError {
        LabelSelectorError(selector: source, position: tokens[tokenIndex ?? index].position, message: message)
    }

    func foundExpected(_ expected: String) -> LabelSelectorError {
        error("found '\(current.text)', expected: \(expected)")
    }

    mutating func parse() throws(LabelSelectorError) -> [LabelSelector.Requirement] {
        var requirements: [LabelSelector.Requirement] = []
        if current == .end { return [] }
        while true {
            requirements.append(try parseRequirement())
            switch next() {
            case .end: return requirements
            case .symbol(","):
                if current == .end { throw foundExpected("identifier after ','") }
            default:
                index -= 1
                throw foundExpected("',' or end of selector")
            }
        }
    }

    mutating func parseRequirement() throws(LabelSelectorError) -> LabelSelector.Requirement {
        var negated = false
        if current == .symbol("!") {
            negated = true
            _ = next()
        }
        let keyIndex = index
        guard case let .identifier(key) = current else { throw foundExpected("identifier") }
        _ = next()
        try validateKey(key, at: keyIndex)
        if negated { return .init(key: key, operator: .doesNotExist) }
        if current == .end || current == .symbol(",") { return .init(key: key, operator: .exists) }

        let op: LabelSelector.Operator
        switch current {
        case .identifier("in"): op = .in
        case .identifier("notin"): op = .notIn
        case .symbol("="): op = .equals
        case .symbol("=="): op = .doubleEquals
        case .symbol("!="): op = .notEquals
        case .symbol(">"): op = .greaterThan
        case .symbol("<"): op = .lessThan
        default: throw foundExpected("one of in, notin, =, ==, !=, >, <")
        }
        let operatorIndex = index
        _ = next()

        switch op {
        case .in, .notIn:
            guard current == .symbol("(") else { throw foundExpected("'(' after '\(op.rawValue)'") }
            _ = next()
            var values: [String] = []
            var expectValue = true
            while true {
                let valueIndex = index
                switch current {
                case .symbol(")") where !values.isEmpty || !expectValue:
                    _ = next()
                    return .init(key: key, operator: op, values: values)
                case .symbol(")"):
                    throw error("for '\(op.rawValue)' the set of values can't be empty", at: operatorIndex)
                case let .identifier(value) where expectValue:
                    try validateValue(value, at: valueIndex)
                    values.append(value)
                    expectValue = false
                    _ = next()
                case .symbol(",") where !expectValue:
                    expectValue = true
                    _ = next()
                default:
                    throw foundExpected(expectValue ? "a value or ')'" : "',' or ')'")
                }
            }
        default:
            let valueIndex = index
            var value = ""
            switch current {
            case .end, .symbol(","): break
            case let .identifier(text):
                value = text
                _ = next()
            default: throw foundExpected("a value")
            }
            if op == .greaterThan || op == .lessThan {
                guard Int64(value) != nil else {
                    throw error("for '\(op.rawValue)' the value must be an integer, found '\(value)'", at: valueIndex)
                }
            } else {
                try validateValue(value, at: valueIndex)
            }
            return .init(key: key, operator: op, values: [value])
        }
    }

    func validateKey(_ key: String, at tokenIndex: Int) throws(LabelSelectorError) {
        if let problem = KubernetesNames.qualifiedNameErrors(key).first {
            throw error("invalid label key \"\(key)\": \(problem)", at: tokenIndex)
        }
    }

    func validateValue(_ value: String, at tokenIndex: Int) throws(LabelSelectorError) {
        if let problem = KubernetesNames.labelValueErrors(value).first {
            throw error("invalid label value \"\(value)\": \(problem)", at: tokenIndex)
        }
    }
}
