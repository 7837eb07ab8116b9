/// `-o custom-columns=NAME:.metadata.name,IP:.status.podIP`: one column per `HEADER:PATH`,
/// headers as written, a cell `<none>` where the path selects nothing and several values
/// joined by commas, laid out like kubectl's other tables.
public struct CustomColumns: Hashable, Sendable {
    public var headers: [String]
    var templates: [JSONPathTemplate]

    public init(_ spec: String) throws(JSONPathError) {
        headers = []
        templates = []
        for column in spec.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = column.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw JSONPathError("unexpected custom-columns spec: \(column), expected <header>:<json-path-expr>")
            }
            headers.append(String(parts[0]))
            templates.append(try JSONPathTemplate(String(parts[1])))
        }
    }

    /// The table of `items`, with or without the header line.
    public func render(_ items: [JSONValue], showHeaders: Bool = true) -> String {
        var rows = items.map { item in
            templates.map { template in
                let values = template.values(item)
                return values.isEmpty ? "<none>" : values.map(JSONPathTemplate.text).joined(separator: ",")
            }
        }
        if showHeaders { rows.insert(headers, at: 0) }
        return TextTable(headers: [], rows: rows).render(showHeaders: false)
    }
}

/// `--sort-by=JSONPATH`: items ordered by the value the path selects, as kubectl orders them
/// (numbers by value, strings by bytes, items without the field first; ties keep their order).
public enum JSONPathSort {
    public static func sorted(_ items: [JSONValue], by path: String) throws(JSONPathError) -> [JSONValue] {
        let template = try JSONPathTemplate(path)
        let keyed = items.enumerated().map { ($0.offset, $0.element, template.values($0.element).first) }
        return keyed.sorted { a, b in
            if less(a.2, b.2) { return true }
            if less(b.2, a.2) { return false }
            return a.0 < b.0
        }.map(\.1)
    }

    static func less(_ a: JSONValue?, _ b: JSONValue?) -> Bool {
        guard let a else { return b != nil }
        guard let b else { return false }
        switch (a, b) {
        case let (.integer(x), .integer(y)): return x < y
        case let (.number(x), .number(y)): return x < y
        case let (.integer(x), .number(y)): return Double(x) < y
        case let (.number(x), .integer(y)): return x < Double(y)
        case let (.string(x), .string(y)): return Array(x.utf8).lexicographicallyPrecedes(Array(y.utf8))
        case let (.bool(x), .bool(y)): return !x && y
        default: return JSONPathTemplate.text(a) < JSONPathTemplate.text(b)
        }
    }
}
