/// Why a JSON value could not be read as a Kubernetes object, in the API server's words
/// where it has them.
public enum ObjectDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A field holds a JSON value of the wrong type (`containerPort: "80"`).
    case typeMismatch(field: FieldPath, expected: String, found: String)
    /// A field has the right JSON type but an unusable value (a malformed timestamp).
    case invalidValue(field: FieldPath, value: String, reason: String)
    /// A resource quantity that does not parse (`cpu: lots`). Kubernetes' message does not
    /// name the field; `field` is kept for callers.
    case malformedQuantity(field: FieldPath, reason: String)
    /// A `[]byte` field that is not base64, in Go's words (`illegal base64 data at input byte 4`).
    case invalidBytes(field: FieldPath, reason: String)
    /// Fields this kind does not define: Kubernetes' strict decoding error.
    case unknownFields([FieldPath])
    /// `apiVersion` or `kind` missing from a manifest.
    case missingTypeInformation([String])
    /// A kind or version podlab does not serve.
    case unsupportedKind(kind: String, apiVersion: String)
    /// An error inside an object of a known kind:
    /// `Pod in version "v1" cannot be handled as a Pod: ...`.
    indirect case inObject(kind: String, apiVersion: String, ObjectDecodingError)

    /// The kinds a manifest may hold, as `unsupportedKind` lists them.
    public static let servedKinds = "Pod (v1), Service (v1), Namespace (v1), Deployment (apps/v1), ReplicaSet (apps/v1), ConfigMap (v1), Secret (v1), MeshPolicy (podlab.dev/v1), Route (podlab.dev/v1)"

    public var description: String {
        switch self {
        case let .typeMismatch(field, expected, found):
            "json: cannot unmarshal \(found) into field \(field.isRoot ? "(root)" : field.description) of type \(expected)"
        case let .invalidValue(field, value, reason):
            "\(field.isRoot ? "(root)" : field.description): invalid value \"\(value)\": \(reason)"
        case let .malformedQuantity(_, reason), let .invalidBytes(_, reason):
            reason
        case let .unknownFields(fields):
            "strict decoding error: " + fields.map { "unknown field \"\($0)\"" }.joined(separator: ", ")
        case let .missingTypeInformation(missing):
            missing.map { "\($0) not set" }.joined(separator: ", ")
        case let .unsupportedKind(kind, apiVersion):
            "no matches for kind \"\(kind)\" in version \"\(apiVersion)\" (podlab serves: \(ObjectDecodingError.servedKinds))"
        case let .inObject(kind, apiVersion, inner):
            "\(kind) in version \"\(apiVersion)\" cannot be handled as a \(kind): \(inner)"
        }
    }
}
