/// What `kubectl label` and `kubectl annotate` change on an object: keys to set, keys to
/// remove, read from `KEY=VALUE` and `KEY-` words, with kubectl's checks and messages.
public struct MetadataChanges: Hashable, Sendable {
    /// Labels or annotations: the word kubectl uses in its messages, and the metadata field.
    public enum Field: String, Sendable {
        case labels, annotations

        /// "label" / "annotation", as in "at least one label update is required".
        public var noun: String { self == .labels ? "label" : "annotation" }
    }

    public var field: Field
    public var set: [String: String]
    /// Keys to remove, in the order given.
    public var remove: [String]

    public init(field: Field, set: [String: String] = [:], remove: [String] = []) {
        self.field = field
        self.set = set
        self.remove = remove
    }

    /// A word that changes metadata rather than names an object (kubectl's GetResourcesAndPairs).
    public static func isChange(_ word: String) -> Bool {
        (word.contains("=") && !word.hasPrefix("=")) || (word.hasSuffix("-") && word != "-")
    }

    /// Splits a command line's words into the objects and the changes; every object must come
    /// before the first change.
    public static func split(_ words: [String], field: Field) throws(MetadataChangeError) -> (resources: [String], changes: [String]) {
        var resources: [String] = []
        var changes: [String] = []
        for word in words {
            if isChange(word) {
                changes.append(word)
            } else if !changes.isEmpty {
                throw MetadataChangeError("all resources must be specified before \(field.noun) changes: \(word)")
            } else {
                resources.append(word)
            }
        }
        return (resources, changes)
    }

    /// Reads `KEY=VALUE` and `KEY-` words. Label values are checked as kubectl checks them;
    /// keys are the API server's to judge.
    public init(parsing words: [String], field: Field) throws(MetadataChangeError) {
        self.init(field: field)
        var invalid: [String] = []
        for word in words {
            if word.contains("="), !word.hasPrefix("=") {
                let parts = word.split(separator: "=", maxSplits: field == .labels ? Int.max : 1, omittingEmptySubsequences: false).map(String.init)
                if field == .labels {
                    guard parts.count == 2 else { throw MetadataChangeError("invalid label spec: \(word)") }
                    let errors = KubernetesNames.labelValueErrors(parts[1])
                    if !errors.isEmpty { throw MetadataChangeError("invalid label value: \"\(word)\": \(errors.joined(separator: "; "))") }
                }
                set[parts[0]] = parts[1]
            } else if word.hasSuffix("-"), word != "-" {
                remove.append(String(word.dropLast()))
            } else if field == .labels {
                throw MetadataChangeError("unknown label spec: \(word)")
            } else {
                invalid.append(word)
            }
        }
        if !invalid.isEmpty { throw MetadataChangeError("invalid annotation format: \(invalid.joined(separator: ", "))") }
        if remove.contains(where: { set[$0] != nil }) {
            throw MetadataChangeError("can not both modify and remove \(field == .labels ? "a label" : "an annotation") in the same command")
        }
    }

    public var isEmpty: Bool { self.set.isEmpty && remove.isEmpty }

    /// The keys whose value would change without `--overwrite`, as kubectl words the refusal:
    /// nil when nothing would be overwritten. Several labels are one message a line (kubectl
    /// prints such a list of errors without its `error: ` prefix).
    public func overwriteRefusal(current: [String: String]) -> String? {
        let clashes = set.keys.sorted().compactMap { key -> String? in
            guard let value = current[key], value != set[key] else { return nil }
            // kubectl lets the change-cause annotation be written over at any time.
            if field == .annotations, key == "kubernetes.io/change-cause" { return nil }
            return field == .labels ? "'\(key)' already has a value (\(value)), and --overwrite is false"
                : "'\(key)' already has a value (\(value))"
        }
        guard !clashes.isEmpty else { return nil }
        switch field {
        case .labels: return clashes.joined(separator: "\n")
        case .annotations: return "--overwrite is false but found the following declared annotation(s): " + clashes.joined(separator: "; ")
        }
    }

    /// The map after the changes.
    public func applied(to current: [String: String]) -> [String: String] {
        var result = current
        for key in remove { result[key] = nil }
        for (key, value) in set { result[key] = value }
        return result
    }

    /// The JSON merge patch that takes `current` to `applied(to: current)`: only what changes,
    /// removals as null. Nil when nothing changes.
    public func mergePatch(current: [String: String]) -> JSONValue? {
        var fields: [String: JSONValue] = [:]
        for key in remove where current[key] != nil { fields[key] = .null }
        for (key, value) in set where current[key] != value { fields[key] = .string(value) }
        guard !fields.isEmpty else { return nil }
        return .object(["metadata": .object([field.rawValue: .object(fields)])])
    }
}

/// A label or annotation change kubectl refuses before asking the server.
public struct MetadataChangeError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
