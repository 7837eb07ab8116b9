/// A field that holds a number or a name (`intstr.IntOrString`): a Service's `targetPort`,
/// a probe's `port`. Written back in the form it was given.
public enum IntOrString: Hashable, Sendable, CustomStringConvertible {
    case int(Int32)
    case string(String)

    public var json: JSONValue {
        switch self {
        case let .int(value): .integer(Int64(value))
        case let .string(text): .string(text)
        }
    }

    public var description: String {
        switch self {
        case let .int(value): String(value)
        case let .string(text): text
        }
    }

    /// The number, when it is one.
    public var intValue: Int32? {
        if case let .int(value) = self { return value }
        return nil
    }
}

extension ObjectReader {
    /// A number-or-name field; nil when absent or `null`.
    public func intOrString(_ key: String) throws(ObjectDecodingError) -> IntOrString? {
        switch value(key) {
        case nil, .null?: return nil
        case let .string(text)?: return .string(text)
        case let .integer(number)?:
            guard let value = Int32(exactly: number) else {
                throw .invalidValue(field: path.child(key), value: String(number), reason: "out of range for int32")
            }
            return .int(value)
        case let other?: throw .typeMismatch(field: path.child(key), expected: "int or string", found: other.typeName)
        }
    }
}
