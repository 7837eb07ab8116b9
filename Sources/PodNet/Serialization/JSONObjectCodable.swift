/// A Kubernetes API type that reads itself from JSON with the API server's strict rules and
/// writes itself back in Kubernetes' field names and omit-empty conventions.
///
/// Conforming types get `init(json:)`, `json`, and `Codable` (through `JSONValue`), so the
/// same rules apply whether an object comes from a manifest, the HTTP API or the store.
public protocol JSONObjectCodable: Codable, Sendable {
    /// Reads the object's fields; must end with `reader.preservedFields(_:)` (or
    /// `rejectUnreadFields()`) so that unknown fields are reported.
    init(from reader: ObjectReader) throws(ObjectDecodingError)

    /// Writes the object's fields.
    func write(to writer: inout ObjectWriter)
}

/// A top-level Kubernetes object: it has a kind and an API version, and decoding errors inside
/// it read `Pod in version "v1" cannot be handled as a Pod: ...`.
public protocol KubernetesObject: JSONObjectCodable {
    /// The `kind` field (`Pod`).
    static var kind: String { get }
    /// The `apiVersion` field (`v1`).
    static var apiVersion: String { get }
}

extension JSONObjectCodable {
    /// Decodes strictly from a JSON value: fields this type (or a nested one) does not define
    /// are rejected together in one `.unknownFields` error. For a `KubernetesObject` the error
    /// is wrapped in `.inObject`, and `apiVersion`/`kind`, when present, must match the type.
    public init(json: JSONValue) throws(ObjectDecodingError) {
        guard let objectType = Self.self as? any KubernetesObject.Type else {
            self = try ObjectReader.decode(Self.self, from: json)
            return
        }
        do {
            self = try ObjectReader.decode(Self.self, from: json)
        } catch let error {
            throw .inObject(kind: objectType.kind, apiVersion: objectType.apiVersion, error)
        }
    }

    /// The object as JSON, with Kubernetes' field names.
    public var json: JSONValue {
        var writer = ObjectWriter()
        write(to: &writer)
        return writer.json
    }

    /// The object as YAML, as `kubectl get -o yaml` prints it.
    public var yamlText: String { json.yamlText() }

    /// The object as JSON text, as `kubectl get -o json` prints it (no trailing newline).
    public var jsonText: String { json.jsonText() }

    public init(from decoder: any Decoder) throws {
        let value = try JSONValue(from: decoder)
        do {
            try self.init(json: value)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description, underlyingError: error))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        try json.encode(to: encoder)
    }
}

extension ObjectReader {
    /// Reads `apiVersion` and `kind` of a top-level object: they may be absent (the API path
    /// says what the object is), but when present they must name `T`.
    public func typeInformation<T: KubernetesObject>(of type: T.Type) throws(ObjectDecodingError) {
        if let apiVersion = try string("apiVersion"), !apiVersion.isEmpty, apiVersion != T.apiVersion {
            throw .invalidValue(field: path.child("apiVersion"), value: apiVersion, reason: "expected \"\(T.apiVersion)\"")
        }
        if let kind = try string("kind"), !kind.isEmpty, kind != T.kind {
            throw .invalidValue(field: path.child("kind"), value: kind, reason: "expected \"\(T.kind)\"")
        }
    }
}

extension ObjectWriter {
    /// Writes `apiVersion` and `kind` of a top-level object.
    public mutating func setTypeInformation<T: KubernetesObject>(of type: T.Type) {
        set("apiVersion", .string(T.apiVersion))
        set("kind", .string(T.kind))
    }
}
