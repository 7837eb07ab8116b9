import Foundation

/// The data of `create configmap` and `create secret generic` from their sources, with
/// kubectl's rules and messages: `--from-literal=key=value`, `--from-file=[key=]path` (the
/// file's bytes), `--from-env-file` (`KEY=value` lines). Reading the files is the caller's.
public struct ConfigDataSources: Sendable {
    /// `ConfigMap` or `Secret`, for messages.
    public let kind: String
    public let name: String
    /// Every key with its bytes, in the order added.
    public private(set) var entries: [(key: String, value: [UInt8])] = []

    public init(kind: String, name: String) {
        self.kind = kind
        self.name = name
    }

    public struct SourceError: Error, CustomStringConvertible, Hashable, Sendable {
        public var description: String
    }

    /// Adds one key, which must be a valid key and new.
    public mutating func add(key: String, value: [UInt8]) throws(SourceError) {
        let errors = ConfigValidation.keyErrors(key)
        guard errors.isEmpty else {
            throw SourceError(description: "\(FieldError.goQuoted(key)) is not a valid key name for a \(kind): \(errors.joined(separator: ";"))")
        }
        guard !entries.contains(where: { $0.key == key }) else {
            throw SourceError(description: "cannot add key \(FieldError.goQuoted(key)), another key by that name already exists in Data for \(kind) \(FieldError.goQuoted(name))")
        }
        entries.append((key, value))
    }

    /// `--from-literal=key=value` (the value may hold `=`).
    public mutating func addLiteral(_ source: String) throws(SourceError) {
        guard let equals = source.firstIndex(of: "="), equals != source.startIndex else {
            throw SourceError(description: "invalid literal source \(source), expected key=value")
        }
        try add(key: String(source[..<equals]), value: Array(source[source.index(after: equals)...].utf8))
    }

    /// `--from-file=[key=]path`: the key (nil: the file's base name) and the path.
    public static func fileSource(_ source: String) throws(SourceError) -> (key: String?, path: String) {
        let separators = source.filter { $0 == "=" }.count
        switch separators {
        case 0:
            return (nil, source)
        case 1 where source.hasPrefix("="):
            throw SourceError(description: "key name for file path \(source.dropFirst()) missing")
        case 1 where source.hasSuffix("="):
            throw SourceError(description: "file path for key name \(source.dropLast()) missing")
        case 1:
            let parts = source.split(separator: "=", omittingEmptySubsequences: false)
            return (String(parts[0]), String(parts[1]))
        default:
            throw SourceError(description: "key names or file paths cannot contain '='")
        }
    }

    /// The key a file gets without one given: its base name.
    public static func baseName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    /// `--from-env-file`: each `KEY=value` line (leading blanks ignored, `#` comments and blank
    /// lines skipped, the value kept as written); a line without `=` takes its value from
    /// `environment`, as kubectl does.
    public mutating func addEnvFile(_ bytes: [UInt8], path: String, environment: [String: String]) throws(SourceError) {
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if let first = lines.first, first.starts(with: [0xEF, 0xBB, 0xBF]) { lines[0] = first.dropFirst(3) }
        for (number, rawLine) in lines.enumerated() {
            guard let decoded = String(validating: Array(rawLine), as: UTF8.self) else {
                throw SourceError(description: "env file \(path) contains invalid utf8 bytes at line \(number + 1)")
            }
            let line = decoded.drop { $0.isWhitespace }
            if line.isEmpty || line.hasPrefix("#") { continue }
            let key: String, value: String
            if let equals = line.firstIndex(of: "=") {
                key = String(line[..<equals])
                value = String(line[line.index(after: equals)...])
            } else {
                key = String(line)
                value = environment[key] ?? ""
            }
            let errors = KubernetesNames.envVarNameErrors(key)
            guard errors.isEmpty else {
                throw SourceError(description: "\(FieldError.goQuoted(key)) is not a valid key name: \(errors.joined(separator: ";"))")
            }
            try add(key: key, value: Array(value.utf8))
        }
    }

    /// The ConfigMap: values that are UTF-8 text in `data`, others in `binaryData`, as kubectl splits them.
    public func configMap(namespace: String) -> ConfigMap {
        var map = ConfigMap(metadata: ObjectMeta(name: name, namespace: namespace))
        for (key, value) in entries {
            if let text = String(validating: value, as: UTF8.self) { map.data[key] = text } else { map.binaryData[key] = value }
        }
        return map
    }

    /// The Secret, of `type` (empty: the server's default, `Opaque`).
    public func secret(namespace: String, type: String) -> Secret {
        Secret(metadata: ObjectMeta(name: name, namespace: namespace), data: Dictionary(entries.map { ($0.key, $0.value) }) { $1 }, type: type)
    }
}
