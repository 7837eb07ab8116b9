import Foundation

/// What must never be written where people read: the agent's log, `describe`, events, error
/// messages.
///
/// Two rules. Credentials sent to the API (the `Authorization` header's bearer token, cookies)
/// and the values of sensitive fields (`isSensitive(field:kind:)`: a Secret's `data` and
/// `stringData`, any field named like a credential) are known to be secret: they are added
/// to a `SensitiveValues` set, and every log line and error message passes through it, each
/// occurrence replaced by `placeholder`. Request bodies are never logged at all, so a secret
/// in a body that is refused (400, 413, 422) has no way into the log.
public enum Redaction {
    public static let placeholder = "[redacted]"

    /// Request headers that carry credentials (lowercase).
    public static let sensitiveHeaders: Set<String> = ["authorization", "proxy-authorization", "cookie", "x-auth-token"]

    /// The secret part of a credential header's value: the token after the scheme
    /// (`Bearer abc` → `abc`), or the whole value.
    public static func credential(inHeaderValue value: String) -> String {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        guard let space = trimmed.firstIndex(of: " ") else { return trimmed }
        let scheme = trimmed[..<space].lowercased()
        guard ["bearer", "basic", "token", "digest"].contains(scheme) else { return trimmed }
        return trimmed[trimmed.index(after: space)...].trimmingCharacters(in: .whitespaces)
    }

    /// Last components of a field path whose value is a credential, whatever the kind.
    static let credentialFieldNames: Set<String> = [
        "token", "password", "privatekey", "private-key", "client-key-data", "client-key", "bearertoken", "secret",
    ]

    /// True when the value at `field` (a field path such as `data.tls.key` or
    /// `spec.containers[0].env[1].value`) of an object of `kind` is secret: every value under a
    /// Secret's `data` or `stringData`, and any field named like a credential. Env values of a
    /// pod are not secret in Kubernetes (their secret form is `valueFrom.secretKeyRef`, whose
    /// value the API never sees), so they are not.
    public static func isSensitive(field: String, kind: String) -> Bool {
        if kind == "Secret", field == "data" || field == "stringData" || field.hasPrefix("data.") || field.hasPrefix("stringData.")
            || field.hasPrefix("data[") || field.hasPrefix("stringData[") {
            return true
        }
        let last = field.split(whereSeparator: { $0 == "." || $0 == "[" }).last.map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "]")) } ?? ""
        return credentialFieldNames.contains(last.lowercased())
    }
}

/// The secret values the process knows of, and the one function that hides them in text.
///
/// Bounded: the most recent `capacity` values are kept (a credential that stops being sent
/// stops being looked for after that many others). Values shorter than `minimumLength` are not
/// kept: hiding every "a" would hide everything and protect nothing.
public final class SensitiveValues: @unchecked Sendable {
    public static let shared = SensitiveValues()

    public let capacity: Int
    public let minimumLength: Int
    private let lock = NSLock()
    private var values: [String] = []

    public init(capacity: Int = 1024, minimumLength: Int = 6) {
        self.capacity = capacity
        self.minimumLength = minimumLength
    }

    /// Adds `value` (ignored when too short or already known).
    public func add(_ value: String) {
        guard value.count >= minimumLength else { return }
        lock.lock()
        defer { lock.unlock() }
        if let known = values.firstIndex(of: value) { values.remove(at: known) }
        values.append(value)
        if values.count > capacity { values.removeFirst(values.count - capacity) }
    }

    public var isEmpty: Bool {
        lock.lock()
        defer { lock.unlock() }
        return values.isEmpty
    }

    /// `text` with every known value replaced by `Redaction.placeholder`, longest first (so a
    /// value containing another is hidden whole).
    public func redact(_ text: String) -> String {
        let known: [String] = {
            lock.lock()
            defer { lock.unlock() }
            return values
        }()
        guard !known.isEmpty else { return text }
        var result = text
        for value in known.sorted(by: { $0.count > $1.count }) where result.contains(value) {
            result = result.replacingOccurrences(of: value, with: Redaction.placeholder)
        }
        return result
    }
}
