/// Reads the fields of one JSON object the way the Kubernetes API server decodes it: `null`
/// means "not set", a value of the wrong type is an error naming the field, and every field
/// the type does not read itself is either kept (Kubernetes knows it, podlab does not act on
/// it) or reported as unknown (strict decoding).
///
/// Types read themselves in `JSONObjectCodable.init(from:)` with the typed accessors, then call
/// `preservedFields(_:)` last.
public final class ObjectReader {
    /// Where this object sits in the document (for error messages).
    public let path: FieldPath
    private let fields: [String: JSONValue]
    private var consumed: Set<String> = []
    private let unknownFields: UnknownFieldLog

    /// Collects unknown fields across one whole document.
    final class UnknownFieldLog {
        var fields: [FieldPath] = []
    }

    init(_ value: JSONValue, path: FieldPath, unknownFields: UnknownFieldLog) throws(ObjectDecodingError) {
        switch value {
        case let .object(fields): self.fields = fields
        case .null: self.fields = [:]
        default: throw .typeMismatch(field: path, expected: "object", found: value.typeName)
        }
        self.path = path
        self.unknownFields = unknownFields
    }

    /// Reads a whole object of type `T` from `value`, with strict decoding: unknown fields
    /// anywhere inside are reported together.
    static func decode<T: JSONObjectCodable>(_ type: T.Type, from value: JSONValue, path: FieldPath = .root) throws(ObjectDecodingError) -> T {
        let log = UnknownFieldLog()
        let result = try T(from: ObjectReader(value, path: path, unknownFields: log))
        guard log.fields.isEmpty else { throw .unknownFields(log.fields) }
        return result
    }

    /// The raw value of a field (nil when absent), marking it as read.
    public func value(_ key: String) -> JSONValue? {
        consumed.insert(key)
        return fields[key]
    }

    /// True when the field is present (even as `null`).
    public func contains(_ key: String) -> Bool { fields[key] != nil }

    /// A string field; nil when absent or `null`.
    public func string(_ key: String) throws(ObjectDecodingError) -> String? {
        switch value(key) {
        case nil, .null?: return nil
        case let .string(text)?: return text
        case let other?: throw .typeMismatch(field: path.child(key), expected: "string", found: other.typeName)
        }
    }

    /// A boolean field; nil when absent or `null`.
    public func bool(_ key: String) throws(ObjectDecodingError) -> Bool? {
        switch value(key) {
        case nil, .null?: return nil
        case let .bool(flag)?: return flag
        case let other?: throw .typeMismatch(field: path.child(key), expected: "bool", found: other.typeName)
        }
    }

    /// An integer field; nil when absent or `null`.
    public func int64(_ key: String) throws(ObjectDecodingError) -> Int64? {
        try integer(key, expected: "int64")
    }

    /// An integer field, whose mismatch names the type `expected`.
    private func integer(_ key: String, expected: String) throws(ObjectDecodingError) -> Int64? {
        switch value(key) {
        case nil, .null?: return nil
        case let .integer(number)?: return number
        case let .number(number)? where number.rounded() == number && abs(number) < 9.2e18: return Int64(number)
        case let other?: throw .typeMismatch(field: path.child(key), expected: expected, found: other.typeName)
        }
    }

    /// A 32-bit integer field (ports, counts); larger values are an error.
    public func int32(_ key: String) throws(ObjectDecodingError) -> Int32? {
        guard let number = try integer(key, expected: "int32") else { return nil }
        guard let narrow = Int32(exactly: number) else {
            throw .typeMismatch(field: path.child(key), expected: "int32", found: "number \(number)")
        }
        return narrow
    }

    /// An RFC 3339 timestamp field; nil when absent or `null`.
    public func timestamp(_ key: String) throws(ObjectDecodingError) -> Timestamp? {
        guard let text = try string(key) else { return nil }
        do {
            return try Timestamp(parsing: text)
        } catch {
            throw .invalidValue(field: path.child(key), value: text, reason: error.reason)
        }
    }

    /// A resource quantity (`"500m"`, `1`); nil when absent or `null`. A malformed one fails
    /// the whole decoding with Kubernetes' message, as the API server's does.
    public func quantity(_ key: String) throws(ObjectDecodingError) -> Quantity? {
        switch value(key) {
        case nil, .null?: return nil
        case let field?:
            do { return try Quantity(json: field) } catch { throw .malformedQuantity(field: path.child(key), reason: error.description) }
        }
    }

    /// A list of strings; nil when absent or `null`.
    public func stringArray(_ key: String) throws(ObjectDecodingError) -> [String]? {
        guard let elements = try array(key) else { return nil }
        var result: [String] = []
        for (index, element) in elements.enumerated() {
            switch element {
            case let .string(text): result.append(text)
            case .null: result.append("")
            default: throw .typeMismatch(field: path.child(key).index(index), expected: "string", found: element.typeName)
            }
        }
        return result
    }

    /// A map of strings (labels, annotations); nil when absent or `null`.
    public func stringMap(_ key: String) throws(ObjectDecodingError) -> [String: String]? {
        switch value(key) {
        case nil, .null?: return nil
        case let .object(entries)?:
            var result: [String: String] = [:]
            for (name, entry) in entries {
                switch entry {
                case let .string(text): result[name] = text
                case .null: result[name] = ""
                default: throw .typeMismatch(field: path.child(key).key(name), expected: "string", found: entry.typeName)
                }
            }
            return result
        case let other?: throw .typeMismatch(field: path.child(key), expected: "map[string]string", found: other.typeName)
        }
    }

    /// A list field as raw values; nil when absent or `null`.
    public func array(_ key: String) throws(ObjectDecodingError) -> [JSONValue]? {
        switch value(key) {
        case nil, .null?: return nil
        case let .array(elements)?: return elements
        case let other?: throw .typeMismatch(field: path.child(key), expected: "array", found: other.typeName)
        }
    }

    /// A nested object field; nil when absent or `null`.
    public func object<T: JSONObjectCodable>(_ key: String, as type: T.Type = T.self) throws(ObjectDecodingError) -> T? {
        switch value(key) {
        case nil, .null?: return nil
        case let field?: return try T(from: ObjectReader(field, path: path.child(key), unknownFields: unknownFields))
        }
    }

    /// A list of nested objects; empty when absent or `null`.
    public func objects<T: JSONObjectCodable>(_ key: String, as type: T.Type = T.self) throws(ObjectDecodingError) -> [T] {
        guard let elements = try array(key) else { return [] }
        var result: [T] = []
        result.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            result.append(try T(from: ObjectReader(element, path: path.child(key).index(index), unknownFields: unknownFields)))
        }
        return result
    }

    /// A string field holding one of a set of values (`restartPolicy`); any string is accepted
    /// here, validation checks the value. An empty string means unset, as in Go.
    public func enumeration<T: RawRepresentable>(_ key: String, as type: T.Type = T.self) throws(ObjectDecodingError) -> T? where T.RawValue == String {
        guard let text = try string(key), !text.isEmpty else { return nil }
        return T(rawValue: text)
    }

    /// Finishes reading: fields not read so far are returned if Kubernetes defines them for this
    /// type (`known`), and recorded as unknown otherwise. `null` fields are dropped.
    public func preservedFields(_ known: Set<String>) -> [String: JSONValue] {
        var preserved: [String: JSONValue] = [:]
        for key in fields.keys.sorted() where !consumed.contains(key) {
            guard let value = fields[key] else { continue }
            if known.contains(key) {
                if value != .null { preserved[key] = value }
            } else {
                unknownFields.fields.append(path.child(key))
            }
        }
        return preserved
    }

    /// Like `preservedFields(_:)` for fields with a known shape: unknown fields inside them are
    /// recorded as unknown too, as strict decoding of the full Kubernetes type would.
    public func preservedFields(_ known: [String: FieldSchema]) -> [String: JSONValue] {
        let preserved = preservedFields(Set(known.keys))
        for key in preserved.keys.sorted() {
            if let schema = known[key], let value = preserved[key] { recordUnknownFields(in: value, at: path.child(key), schema: schema) }
        }
        return preserved
    }

    /// Records the fields inside `value` (at `path`) that `schema` does not know as unknown.
    public func recordUnknownFields(in value: JSONValue, at path: FieldPath, schema: FieldSchema) {
        switch (schema, value) {
        case let (.object(fields), .object(entries)):
            for key in entries.keys.sorted() {
                guard let entry = entries[key] else { continue }
                if let inner = fields[key] {
                    recordUnknownFields(in: entry, at: path.child(key), schema: inner)
                } else {
                    unknownFields.fields.append(path.child(key))
                }
            }
        case let (.list(element), .array(elements)):
            for (index, entry) in elements.enumerated() { recordUnknownFields(in: entry, at: path.index(index), schema: element) }
        case let (.map(element), .object(entries)):
            for key in entries.keys.sorted() { recordUnknownFields(in: entries[key]!, at: path.key(key), schema: element) }
        default:
            break
        }
    }

    /// Records all fields not read so far as unknown.
    public func rejectUnreadFields() {
        _ = preservedFields([])
    }
}

/// Builds the JSON object of a Kubernetes type. Setters follow Go's `omitempty` rules where
/// Kubernetes uses them, so output matches what the API server and kubectl print.
public struct ObjectWriter {
    public private(set) var fields: [String: JSONValue] = [:]

    public init() {}

    /// Sets a field unconditionally (`nil` writes `null`).
    public mutating func set(_ key: String, _ value: JSONValue?) { fields[key] = value ?? .null }

    /// Sets a string field unless it is empty.
    public mutating func set(_ key: String, omittingEmpty value: String) {
        if !value.isEmpty { fields[key] = .string(value) }
    }

    /// Sets a string field unless it is nil.
    public mutating func set(_ key: String, omittingNil value: String?) {
        if let value { fields[key] = .string(value) }
    }

    /// Sets an enumeration field unless it is nil.
    public mutating func set<T: RawRepresentable>(_ key: String, omittingNil value: T?) where T.RawValue == String {
        if let value { fields[key] = .string(value.rawValue) }
    }

    public mutating func set(_ key: String, omittingNil value: Int64?) {
        if let value { fields[key] = .integer(value) }
    }

    public mutating func set(_ key: String, omittingNil value: Bool?) {
        if let value { fields[key] = .bool(value) }
    }

    /// Sets an integer field unless it is zero.
    public mutating func set(_ key: String, omittingZero value: Int64) {
        if value != 0 { fields[key] = .integer(value) }
    }

    public mutating func set(_ key: String, omittingEmpty values: [String]) {
        if !values.isEmpty { fields[key] = .array(values.map(JSONValue.string)) }
    }

    public mutating func set(_ key: String, omittingEmpty map: [String: String]) {
        if !map.isEmpty { fields[key] = .object(map.mapValues(JSONValue.string)) }
    }

    public mutating func set<T: JSONObjectCodable>(_ key: String, omittingEmpty objects: [T]) {
        if !objects.isEmpty { fields[key] = .array(objects.map(\.json)) }
    }

    public mutating func set<T: JSONObjectCodable>(_ key: String, omittingNil object: T?) {
        if let object { fields[key] = object.json }
    }

    /// A timestamp that Kubernetes stores by value (`metav1.Time`): written as `null` when unset.
    public mutating func set(_ key: String, nullable timestamp: Timestamp?) {
        fields[key] = timestamp.map { .string($0.description) } ?? .null
    }

    /// A timestamp that Kubernetes stores by pointer: left out when unset.
    public mutating func set(_ key: String, omittingNil timestamp: Timestamp?) {
        if let timestamp { fields[key] = .string(timestamp.description) }
    }

    /// Adds kept fields (see `ObjectReader.preservedFields(_:)`); fields already set win.
    public mutating func merge(_ preserved: [String: JSONValue]) {
        fields.merge(preserved) { written, _ in written }
    }

    public var json: JSONValue { .object(fields) }
}
