/// kubectl's JSONPath templates (`-o jsonpath=…`, `--sort-by`, `custom-columns`, `wait
/// --for=jsonpath=…`): text with `{…}` actions — field paths (`{.metadata.name}`), `[n]`,
/// `[*]`, `[a:b]`, `..`, filters `[?(@.x=="y")]`, `{range …}…{end}`, and quoted literals
/// (`{"\n"}`). Results print as kubectl prints them: strings bare, several results of one
/// action separated by spaces, objects and lists as compact JSON.
public struct JSONPathTemplate: Hashable, Sendable {
    indirect enum Node: Hashable, Sendable {
        case text(String)
        case path([Step])
        case range([Step], [Node])
    }

    enum Step: Hashable, Sendable {
        case field(String)
        case recursive(String?)
        case wildcard
        case index(Int)
        case slice(Int?, Int?)
        case filter(Filter)
    }

    struct Filter: Hashable, Sendable {
        var path: [Step]
        var comparison: (operator: String, value: JSONValue)?

        static func == (a: Filter, b: Filter) -> Bool {
            a.path == b.path && a.comparison?.operator == b.comparison?.operator && a.comparison?.value == b.comparison?.value
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(path)
            hasher.combine(comparison?.operator)
            hasher.combine(comparison?.value)
        }
    }

    let nodes: [Node]

    /// Parses `template`; kubectl's `{.a.b}`, and a bare `.a.b` (as `--sort-by` and
    /// custom-columns write them) is taken as `{.a.b}`.
    public init(_ template: String) throws(JSONPathError) {
        var source = template
        if !source.contains("{") { source = "{" + source + "}" }
        var parser = TemplateParser(text: Array(source))
        nodes = try parser.parseNodes(untilEnd: false)
    }

    /// The template's output for `value`.
    public func render(_ value: JSONValue) throws(JSONPathError) -> String {
        var out = ""
        try Self.render(nodes, value, root: value, into: &out)
        return out
    }

    /// What the template's (first) path selects: for `--sort-by`, custom columns and `wait`.
    public func values(_ value: JSONValue) -> [JSONValue] {
        for node in nodes {
            if case let .path(steps) = node { return Self.select(steps, from: [value], root: value) }
        }
        return []
    }

    private static func render(_ nodes: [Node], _ value: JSONValue, root: JSONValue, into out: inout String) throws(JSONPathError) {
        for node in nodes {
            switch node {
            case let .text(text): out += text
            case let .path(steps):
                out += select(steps, from: [value], root: root).map(Self.text).joined(separator: " ")
            case let .range(steps, body):
                // The body runs once for each value the path selects (`{range .items[*]}`), as in Go.
                for element in select(steps, from: [value], root: root) {
                    try render(body, element, root: root, into: &out)
                }
            }
        }
    }

    /// A result as kubectl prints it.
    public static func text(_ value: JSONValue) -> String {
        switch value {
        case let .string(text): text
        case .null: "null"
        case let .bool(flag): flag ? "true" : "false"
        case let .integer(number): String(number)
        case .number, .array, .object: value.jsonText(indent: 0)
        }
    }

    static func select(_ steps: [Step], from start: [JSONValue], root: JSONValue) -> [JSONValue] {
        var current = start
        for step in steps {
            var next: [JSONValue] = []
            for value in current {
                switch step {
                case let .field(name):
                    if name == "$" { next.append(root) } else if let field = value[name] { next.append(field) }
                case .wildcard:
                    if case let .array(elements) = value { next += elements }
                    if case let .object(fields) = value { next += fields.keys.sorted().map { fields[$0]! } }
                case let .index(index):
                    guard let elements = value.arrayValue else { continue }
                    let resolved = index < 0 ? elements.count + index : index
                    if elements.indices.contains(resolved) { next.append(elements[resolved]) }
                case let .slice(from, to):
                    guard let elements = value.arrayValue else { continue }
                    let count = elements.count
                    let start = max(0, min(count, from.map { $0 < 0 ? count + $0 : $0 } ?? 0))
                    let end = max(start, min(count, to.map { $0 < 0 ? count + $0 : $0 } ?? count))
                    next += elements[start..<end]
                case let .recursive(name):
                    next += descendants(value).compactMap { name == nil ? $0 : $0[name!] }
                case let .filter(filter):
                    let candidates = value.arrayValue ?? [value]
                    next += candidates.filter { matches(filter, $0, root: root) }
                }
            }
            current = next
        }
        return current
    }

    private static func descendants(_ value: JSONValue) -> [JSONValue] {
        var result = [value]
        switch value {
        case let .array(elements): for element in elements { result += descendants(element) }
        case let .object(fields): for key in fields.keys.sorted() { result += descendants(fields[key]!) }
        default: break
        }
        return result
    }

    private static func matches(_ filter: Filter, _ value: JSONValue, root: JSONValue) -> Bool {
        let found = select(filter.path, from: [value], root: root)
        guard let comparison = filter.comparison else { return !found.isEmpty }
        guard let left = found.first else { return false }
        switch comparison.operator {
        case "==": return equal(left, comparison.value)
        case "!=": return !equal(left, comparison.value)
        default:
            guard let a = number(left), let b = number(comparison.value) else { return false }
            switch comparison.operator {
            case "<": return a < b
            case "<=": return a <= b
            case ">": return a > b
            default: return a >= b
            }
        }
    }

    private static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if let x = number(a), let y = number(b) { return x == y }
        return a == b
    }

    private static func number(_ value: JSONValue) -> Double? {
        switch value {
        case let .integer(number): Double(number)
        case let .number(number): number
        default: nil
        }
    }
}

/// A template kubectl would refuse, in its words.
public struct JSONPathError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Reads a template: text outside braces, actions inside.
private struct TemplateParser {
    var text: [Character]
    var position = 0

    mutating func parseNodes(untilEnd: Bool) throws(JSONPathError) -> [JSONPathTemplate.Node] {
        var nodes: [JSONPathTemplate.Node] = []
        var literal = ""
        while position < text.count {
            let character = text[position]
            guard character == "{" else {
                literal.append(character)
                position += 1
                continue
            }
            if !literal.isEmpty { nodes.append(.text(literal)); literal = "" }
            guard let close = closingBrace(from: position + 1) else {
                throw JSONPathError("unclosed action")
            }
            let action = String(text[(position + 1)..<close]).trimmingSpaces
            position = close + 1
            if action == "end" {
                guard untilEnd else { throw JSONPathError("not in range, nothing to end") }
                return nodes
            }
            if action.hasPrefix("range ") || action == "range" {
                let steps = try Self.path(String(action.dropFirst("range".count)).trimmingSpaces)
                let body = try parseNodes(untilEnd: true)
                nodes.append(.range(steps, body))
                continue
            }
            if let quoted = Self.quoted(action) {
                nodes.append(.text(quoted))
                continue
            }
            nodes.append(.path(try Self.path(action)))
        }
        // A range left open runs to the end of the template, as in Go.
        if !literal.isEmpty { nodes.append(.text(literal)) }
        return nodes
    }

    /// The brace that closes the action opened before `start`, skipping quoted text.
    func closingBrace(from start: Int) -> Int? {
        var index = start
        var quote: Character?
        while index < text.count {
            let character = text[index]
            if let open = quote {
                if character == "\\" { index += 2; continue }
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "}" {
                return index
            }
            index += 1
        }
        return nil
    }

    /// `"text"` with Go's escapes (`\n`, `\t`, `\"`, `\\`).
    static func quoted(_ action: String) -> String? {
        guard action.count >= 2, action.first == "\"", action.last == "\"" else { return nil }
        var out = ""
        var escaping = false
        for character in action.dropFirst().dropLast() {
            if escaping {
                switch character {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                default: out.append(character)
                }
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else {
                out.append(character)
            }
        }
        return out
    }

    /// A path: `.a.b`, `$.a`, `.items[*].metadata.name`, `..name`, `['a.b']`, `[?(@.x=="y")]`.
    static func path(_ source: String) throws(JSONPathError) -> [JSONPathTemplate.Step] {
        let characters = Array(source)
        var steps: [JSONPathTemplate.Step] = []
        var index = 0
        if characters.first == "$" { index = 1 }
        if characters.first == "@" { index = 1 }
        func identifier() -> String {
            var name = ""
            while index < characters.count, characters[index] != ".", characters[index] != "[" {
                name.append(characters[index])
                index += 1
            }
            return name
        }
        while index < characters.count {
            let character = characters[index]
            if character == "." {
                if index + 1 < characters.count, characters[index + 1] == "." {
                    index += 2
                    let name = identifier()
                    steps.append(.recursive(name.isEmpty || name == "*" ? nil : name))
                    continue
                }
                index += 1
                let name = identifier()
                if name == "*" { steps.append(.wildcard) } else if !name.isEmpty { steps.append(.field(name)) }
                continue
            }
            if character == "[" {
                guard let close = matchingBracket(characters, from: index) else {
                    throw JSONPathError("unterminated array")
                }
                let inside = String(characters[(index + 1)..<close]).trimmingSpaces
                index = close + 1
                steps.append(try bracket(inside))
                continue
            }
            // A path that starts without a dot: `metadata.name`.
            let name = identifier()
            if name.isEmpty { throw JSONPathError("unrecognized character in action: \(character)") }
            steps.append(name == "*" ? .wildcard : .field(name))
        }
        return steps
    }

    static func matchingBracket(_ characters: [Character], from start: Int) -> Int? {
        var depth = 0
        var quote: Character?
        var index = start
        while index < characters.count {
            let character = characters[index]
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "[" {
                depth += 1
            } else if character == "]" {
                depth -= 1
                if depth == 0 { return index }
            }
            index += 1
        }
        return nil
    }

    static func bracket(_ inside: String) throws(JSONPathError) -> JSONPathTemplate.Step {
        if inside == "*" { return .wildcard }
        if inside.hasPrefix("?(") && inside.hasSuffix(")") {
            return .filter(try filter(String(inside.dropFirst(2).dropLast())))
        }
        if let first = inside.first, first == "'" || first == "\"", inside.count >= 2, inside.last == first {
            return .field(String(inside.dropFirst().dropLast()))
        }
        if inside.contains(":") {
            let parts = inside.split(separator: ":", omittingEmptySubsequences: false).map { $0.trimmingSpaces }
            func bound(_ text: String) throws(JSONPathError) -> Int? {
                if text.isEmpty { return nil }
                guard let number = Int(text) else { throw JSONPathError("invalid array index \(text)") }
                return number
            }
            return .slice(try bound(parts[0]), try bound(parts.count > 1 ? parts[1] : ""))
        }
        guard let number = Int(inside) else { throw JSONPathError("invalid array index \(inside)") }
        return .index(number)
    }

    /// `@.x=="y"`, `@.x`, `@.n>2`.
    static func filter(_ source: String) throws(JSONPathError) -> JSONPathTemplate.Filter {
        for op in ["==", "!=", "<=", ">=", "<", ">"] {
            guard let range = source.range(of: op) else { continue }
            let left = String(source[..<range.lowerBound]).trimmingSpaces
            let right = String(source[range.upperBound...]).trimmingSpaces
            return JSONPathTemplate.Filter(path: try path(left), comparison: (op, literal(right)))
        }
        return JSONPathTemplate.Filter(path: try path(source.trimmingSpaces), comparison: nil)
    }

    static func literal(_ text: String) -> JSONValue {
        if let first = text.first, first == "'" || first == "\"", text.count >= 2, text.last == first {
            return .string(String(text.dropFirst().dropLast()))
        }
        if let integer = Int64(text) { return .integer(integer) }
        if let number = Double(text) { return .number(number) }
        if text == "true" || text == "false" { return .bool(text == "true") }
        return .string(text)
    }
}

private extension StringProtocol {
    var trimmingSpaces: String {
        var scalars = Substring(self)
        while scalars.first == " " { scalars = scalars.dropFirst() }
        while scalars.last == " " { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
