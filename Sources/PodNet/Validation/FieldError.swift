/// One validation failure of one field, printed as the API server prints it:
/// `spec.containers[0].name: Required value`,
/// `spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`.
public struct FieldError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure, with Kubernetes' machine-readable names.
    public struct ErrorType: StringValue {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let notFound: ErrorType = "FieldValueNotFound"
        public static let required: ErrorType = "FieldValueRequired"
        public static let duplicate: ErrorType = "FieldValueDuplicate"
        public static let invalid: ErrorType = "FieldValueInvalid"
        public static let notSupported: ErrorType = "FieldValueNotSupported"
        public static let forbidden: ErrorType = "FieldValueForbidden"
        public static let tooLong: ErrorType = "FieldValueTooLong"
        public static let tooMany: ErrorType = "FieldValueTooMany"
        public static let `internal`: ErrorType = "InternalError"

        /// The human-readable label (`Required value`, `Invalid value`...).
        public var label: String {
            switch self {
            case .notFound: "Not found"
            case .required: "Required value"
            case .duplicate: "Duplicate value"
            case .invalid: "Invalid value"
            case .notSupported: "Unsupported value"
            case .forbidden: "Forbidden"
            case .tooLong: "Too long"
            case .tooMany: "Too many"
            case .internal: "Internal error"
            default: rawValue
            }
        }
    }

    /// The offending value, printed after the label (strings quoted, numbers bare).
    public enum BadValue: Hashable, Sendable {
        case omitted
        case string(String)
        case integer(Int64)
        case bool(Bool)
        /// A list of strings, printed as Go's `%#v` prints a `[]string`: `[]string{"a", "b"}`.
        case strings([String])
        /// A value Kubernetes prints with Go's `%#v` that is not a string or number (a struct), verbatim.
        case goValue(String)
    }

    public var type: ErrorType
    public var field: FieldPath
    public var value: BadValue
    public var detail: String

    public init(type: ErrorType, field: FieldPath, value: BadValue = .omitted, detail: String = "") {
        self.type = type
        self.field = field
        self.value = value
        self.detail = detail
    }

    public static func required(_ field: FieldPath, _ detail: String = "") -> FieldError {
        FieldError(type: .required, field: field, detail: detail)
    }

    public static func invalid(_ field: FieldPath, _ value: BadValue, _ detail: String) -> FieldError {
        FieldError(type: .invalid, field: field, value: value, detail: detail)
    }

    public static func duplicate(_ field: FieldPath, _ value: BadValue) -> FieldError {
        FieldError(type: .duplicate, field: field, value: value)
    }

    public static func notFound(_ field: FieldPath, _ value: BadValue) -> FieldError {
        FieldError(type: .notFound, field: field, value: value)
    }

    /// `Unsupported value: "x": supported values: "a", "b"` (values listed in the given order).
    public static func notSupported(_ field: FieldPath, _ value: String, supported: [String]) -> FieldError {
        let detail = supported.isEmpty ? "" : "supported values: " + supported.map { "\"\($0)\"" }.joined(separator: ", ")
        return FieldError(type: .notSupported, field: field, value: .string(value), detail: detail)
    }

    public static func forbidden(_ field: FieldPath, _ detail: String) -> FieldError {
        FieldError(type: .forbidden, field: field, detail: detail)
    }

    public static func tooLong(_ field: FieldPath, maximumBytes: Int) -> FieldError {
        FieldError(type: .tooLong, field: field, detail: "must have at most \(maximumBytes) bytes")
    }

    /// The message without the field: `Invalid value: "Foo": a lowercase RFC 1123 ...`.
    public var body: String {
        var text = type.label
        switch (type, value) {
        case (.required, _), (.forbidden, _), (.tooLong, _), (.internal, _), (_, .omitted): break
        case let (_, .string(string)): text += ": " + FieldError.goQuoted(string)
        case let (_, .integer(number)): text += ": \(number)"
        case let (_, .bool(flag)): text += ": \(flag)"
        case let (_, .strings(list)): text += ": []string{" + list.map(FieldError.goQuoted).joined(separator: ", ") + "}"
        case let (_, .goValue(printed)): text += ": " + printed
        }
        if !detail.isEmpty { text += ": " + detail }
        return text
    }

    public var description: String { "\(field): \(body)" }

    /// Several errors as one message, as Kubernetes aggregates them: one error as is, more as
    /// `[a, b]`; identical messages once.
    public static func aggregateMessage(_ errors: [FieldError]) -> String {
        var seen: Set<String> = []
        let messages = errors.map(\.description).filter { seen.insert($0).inserted }
        if messages.count == 1 { return messages[0] }
        return messages.isEmpty ? "" : "[" + messages.joined(separator: ", ") + "]"
    }

    /// A string quoted the way Go's `%q` quotes it.
    public static func goQuoted(_ text: String) -> String {
        var output = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    output += "\\x" + (hex.count < 2 ? "0" : "") + hex
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        return output + "\""
    }
}

/// An object rejected by validation: all its field errors, and the `Status` the API returns.
/// `description` is what kubectl prints:
/// `The Pod "Foo" is invalid: metadata.name: Invalid value: "Foo": a lowercase RFC 1123 subdomain ...`.
public struct InvalidObjectError: Error, Hashable, Sendable, CustomStringConvertible {
    public var kind: String
    public var name: String
    public var errors: [FieldError]

    public init(kind: String, name: String, errors: [FieldError]) {
        self.kind = kind
        self.name = name
        self.errors = errors
    }

    /// The `Status` object (422 Invalid) the API returns for this error.
    public var status: APIStatus { .invalid(kind: kind, name: name, errors: errors) }

    public var description: String { status.kubectlMessage }
}

/// The outcome of validating an object: errors reject it, warnings are shown but do not.
public struct ValidationResult: Hashable, Sendable {
    public var errors: [FieldError]
    /// Like the API server's warnings (`spec.containers[1].ports[0]: duplicate port definition with spec.containers[0].ports[0]`).
    public var warnings: [String]

    public init(errors: [FieldError] = [], warnings: [String] = []) {
        self.errors = errors
        self.warnings = warnings
    }

    public var isValid: Bool { errors.isEmpty }
}
