import Foundation

/// A config map (`apiVersion: v1`, `kind: ConfigMap`): named text (`data`) and bytes
/// (`binaryData`) a pod reads as files of a volume or as environment variables.
public struct ConfigMap: KubernetesObject, Hashable {
    public static let kind = "ConfigMap"
    public static let apiVersion = "v1"

    public var metadata: ObjectMeta
    public var data: [String: String]
    /// Written in JSON as base64, as Kubernetes' `[]byte` fields are.
    public var binaryData: [String: [UInt8]]
    /// `true`: the data can no longer change (only deleting the map does).
    public var immutable: Bool?

    public init(metadata: ObjectMeta = ObjectMeta(), data: [String: String] = [:], binaryData: [String: [UInt8]] = [:], immutable: Bool? = nil) {
        self.metadata = metadata
        self.data = data
        self.binaryData = binaryData
        self.immutable = immutable
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        try reader.typeInformation(of: ConfigMap.self)
        metadata = try reader.object("metadata") ?? ObjectMeta()
        data = try reader.stringMap("data") ?? [:]
        binaryData = try Base64.byteMap(reader, "binaryData")
        immutable = try reader.bool("immutable")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.setTypeInformation(of: ConfigMap.self)
        writer.set("metadata", metadata.json)
        writer.set("data", omittingEmpty: data)
        if !binaryData.isEmpty { writer.set("binaryData", Base64.json(binaryData)) }
        writer.set("immutable", omittingNil: immutable)
    }

    /// Every key with its bytes: `data` as UTF-8, and `binaryData`.
    public var contents: [String: [UInt8]] {
        binaryData.merging(data.mapValues { Array($0.utf8) }) { _, text in text }
    }

    /// The keys (`DATA` counts them).
    public var keyCount: Int { data.count + binaryData.count }

    /// As the API server stores it: in `namespace` when it names none.
    public func applyingDefaults(namespace: String) -> ConfigMap {
        var map = self
        if map.metadata.namespace.isEmpty { map.metadata.namespace = namespace }
        return map
    }
}

/// A secret (`apiVersion: v1`, `kind: Secret`): like a config map, but its values are bytes
/// (base64 in JSON) and are redacted from logs; `stringData` is a write-only convenience that
/// the API server merges into `data`.
public struct Secret: KubernetesObject, Hashable {
    public static let kind = "Secret"
    public static let apiVersion = "v1"

    /// The type every secret has unless it names another.
    public static let opaque = "Opaque"

    public var metadata: ObjectMeta
    public var data: [String: [UInt8]]
    /// Plain text values, merged into `data` on write (a key in both: `stringData` wins).
    public var stringData: [String: String]
    /// `Opaque`, `kubernetes.io/tls`, `kubernetes.io/basic-auth`...: which keys must be present.
    public var type: String
    public var immutable: Bool?

    public init(metadata: ObjectMeta = ObjectMeta(), data: [String: [UInt8]] = [:], stringData: [String: String] = [:],
                type: String = "", immutable: Bool? = nil) {
        self.metadata = metadata
        self.data = data
        self.stringData = stringData
        self.type = type
        self.immutable = immutable
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        try reader.typeInformation(of: Secret.self)
        metadata = try reader.object("metadata") ?? ObjectMeta()
        data = try Base64.byteMap(reader, "data")
        stringData = try reader.stringMap("stringData") ?? [:]
        type = try reader.string("type") ?? ""
        immutable = try reader.bool("immutable")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.setTypeInformation(of: Secret.self)
        writer.set("metadata", metadata.json)
        if !data.isEmpty { writer.set("data", Base64.json(data)) }
        writer.set("stringData", omittingEmpty: stringData)
        writer.set("type", omittingEmpty: type)
        writer.set("immutable", omittingNil: immutable)
    }

    /// As the API server stores it: `stringData` merged into `data` (its values win), the type
    /// `Opaque` when none is given, in `namespace` when it names none.
    public func applyingDefaults(namespace: String) -> Secret {
        var secret = self
        if secret.metadata.namespace.isEmpty { secret.metadata.namespace = namespace }
        for (key, value) in stringData { secret.data[key] = Array(value.utf8) }
        secret.stringData = [:]
        if secret.type.isEmpty { secret.type = Secret.opaque }
        return secret
    }
}

/// Kubernetes' `[]byte` fields: standard base64 with padding, decoded strictly as Go's
/// `encoding/base64` does, with its message for bad input.
public enum Base64 {
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let values: [UInt8: UInt8] = Dictionary(uniqueKeysWithValues: alphabet.enumerated().map { ($1, UInt8($0)) })

    public static func encode(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    /// Where decoding stopped: the offset Go names in `illegal base64 data at input byte N`.
    public struct DecodingError: Error, Hashable, Sendable {
        public var offset: Int
    }

    public static func decode(_ text: String) throws(DecodingError) -> [UInt8] {
        let input = Array(text.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(input.count / 4 * 3)
        var index = 0
        while index < input.count {
            var quantum: [UInt8] = []
            var padding = 0
            for offset in 0..<4 {
                let position = index + offset
                // A quantum cut short: Go names where it began.
                guard position < input.count else { throw DecodingError(offset: index) }
                let byte = input[position]
                if byte == UInt8(ascii: "=") {
                    // Padding only in the last two places of the last quantum.
                    guard offset >= 2 else { throw DecodingError(offset: position) }
                    padding += 1
                    if offset == 2 {
                        guard position + 1 < input.count else { throw DecodingError(offset: index) }
                        guard input[position + 1] == UInt8(ascii: "=") else { throw DecodingError(offset: position + 1) }
                        padding += 1
                    }
                    guard index + 4 == input.count else { throw DecodingError(offset: index + 4) }
                    break
                }
                guard let value = values[byte] else { throw DecodingError(offset: position) }
                quantum.append(value)
            }
            let bits = quantum.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (18 - 6 * UInt32($1.offset)) }
            let bytes = [UInt8(truncatingIfNeeded: bits >> 16), UInt8(truncatingIfNeeded: bits >> 8), UInt8(truncatingIfNeeded: bits)]
            output += bytes.prefix(3 - padding)
            index += 4
        }
        return output
    }

    /// A `map[string][]byte` field.
    static func byteMap(_ reader: ObjectReader, _ key: String) throws(ObjectDecodingError) -> [String: [UInt8]] {
        var result: [String: [UInt8]] = [:]
        for (name, text) in try reader.stringMap(key) ?? [:] {
            do throws(DecodingError) {
                result[name] = try decode(text)
            } catch {
                throw .invalidBytes(field: reader.path.child(key).key(name), reason: "illegal base64 data at input byte \(error.offset)")
            }
        }
        return result
    }

    static func json(_ map: [String: [UInt8]]) -> JSONValue {
        .object(map.mapValues { .string(encode($0)) })
    }
}
