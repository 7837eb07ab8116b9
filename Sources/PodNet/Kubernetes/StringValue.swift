/// A string field with a known set of values (`restartPolicy`, `phase`, `protocol`...).
///
/// Kubernetes decodes any string into such fields and lets validation reject unsupported
/// ones with a message listing the supported values, so these are open structs rather than
/// Swift enums: an unsupported value survives decoding and reaches validation.
public protocol StringValue: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible
where RawValue == String {
    init(rawValue: String)
}

extension StringValue {
    public init(stringLiteral value: String) { self.init(rawValue: value) }
    public var description: String { rawValue }
}
