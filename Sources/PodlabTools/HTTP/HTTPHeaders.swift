/// One header field as it appeared on the wire.
struct HTTPField: Hashable, Sendable {
    var name: String
    var value: String

    init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// Header fields in wire order; lookups ignore case, as HTTP field names do.
struct HTTPHeaders: Hashable, Sendable, Sequence, ExpressibleByArrayLiteral {
    var fields: [HTTPField]

    init(_ fields: [HTTPField] = []) { self.fields = fields }
    init(arrayLiteral elements: (String, String)...) { fields = elements.map { HTTPField($0.0, $0.1) } }

    func makeIterator() -> IndexingIterator<[HTTPField]> { fields.makeIterator() }

    /// The first value of `name`, or nil.
    subscript(name: String) -> String? {
        fields.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Every value of `name`, in order.
    func values(_ name: String) -> [String] {
        fields.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    func contains(_ name: String) -> Bool { self[name] != nil }

    mutating func append(_ name: String, _ value: String) { fields.append(HTTPField(name, value)) }

    /// Replaces every `name` field with one holding `value`, at the position of the first.
    mutating func set(_ name: String, _ value: String) {
        if let index = fields.firstIndex(where: { $0.name.lowercased() == name.lowercased() }) {
            fields[index].value = value
            fields.removeAll { $0.name.lowercased() == name.lowercased() && $0.value != value }
        } else {
            append(name, value)
        }
    }

    /// True when a comma-separated header (`Connection`, `Transfer-Encoding`) lists `token`.
    func hasToken(_ name: String, _ token: String) -> Bool {
        values(name).contains { value in
            value.split(separator: ",").contains { $0.trimmingSpaces().lowercased() == token.lowercased() }
        }
    }

    /// `Name: value\r\n` lines.
    var wireText: String { fields.map { "\($0.name): \($0.value)\r\n" }.joined() }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    func trimmingSpaces() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
