/// A JSON value of any shape.
///
/// Kubernetes objects carry many fields podlab stores but does not interpret (`resources`,
/// `volumes`, `tolerations`, ...). They are kept as `JSONValue` so that a manifest survives a
/// round trip through podlab unchanged. YAML input is converted to this form first, as
/// Kubernetes does (sigs.k8s.io/yaml), so JSON and YAML manifests follow one decoding path.
public enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    /// A number written without fraction or exponent that fits in 64 bits.
    case integer(Int64)
    /// Any other number.
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The JSON type name, as Go's encoding/json names it in errors (`string`, `number`, `object`...).
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "bool"
        case .integer, .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// The fields when this is an object.
    public var objectValue: [String: JSONValue]? {
        if case let .object(fields) = self { fields } else { nil }
    }

    /// The elements when this is an array.
    public var arrayValue: [JSONValue]? {
        if case let .array(elements) = self { elements } else { nil }
    }

    /// The text when this is a string.
    public var stringValue: String? {
        if case let .string(text) = self { text } else { nil }
    }

    /// The field `key` when this is an object.
    public subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }

    /// True for `null`, `{}`, `[]` and `""`: what Go's `omitempty` leaves out.
    public var isEmpty: Bool {
        switch self {
        case .null: true
        case let .string(text): text.isEmpty
        case let .array(elements): elements.isEmpty
        case let .object(fields): fields.isEmpty
        case .bool, .integer, .number: false
        }
    }
}

/// Not `ExpressibleByNilLiteral`: with it, `nil` in `cond ? value : nil` typed `JSONValue?` was
/// JSON null, not an absent value. Write `.null` for JSON null.
extension JSONValue: ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case let .bool(value): try container.encode(value)
        case let .integer(value): try container.encode(value)
        case let .number(value): try container.encode(value)
        case let .string(value): try container.encode(value)
        case let .array(value): try container.encode(value)
        case let .object(value): try container.encode(value)
        }
    }
}
