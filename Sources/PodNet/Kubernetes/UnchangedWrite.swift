/// Whether an update or patch changes nothing: kube-apiserver then stores nothing, keeps the
/// `resourceVersion`, and returns the stored object — kubectl prints `pod/web patched (no change)`.
public enum UnchangedWrite {
    /// True when `written` (the object an update would store, managed fields recorded) equals
    /// `stored` apart from the managed fields' timestamps. What the writer leaves out that the
    /// server keeps regardless — `resourceVersion` (an unconditional update) and `status`
    /// (ignored by an update of the object) — is taken from `stored`.
    public static func isUnchanged(stored: JSONValue, written: JSONValue) -> Bool {
        guard case .object(var object) = written, case .object(let storedObject) = stored else { return false }
        if object["status"] == nil, let status = storedObject["status"] { object["status"] = status }
        if case .object(var metadata) = object["metadata"] ?? .null, metadata["resourceVersion"] == nil,
           let version = stored["metadata"]?["resourceVersion"] {
            metadata["resourceVersion"] = version
            object["metadata"] = .object(metadata)
        }
        return withoutManagedFieldTimes(.object(object)) == withoutManagedFieldTimes(stored)
    }

    static func withoutManagedFieldTimes(_ object: JSONValue) -> JSONValue {
        guard case .object(var fields) = object, case .object(var metadata) = fields["metadata"] ?? .null,
              let entries = metadata["managedFields"]?.arrayValue else { return object }
        metadata["managedFields"] = .array(entries.map { entry in
            guard case .object(var entryFields) = entry else { return entry }
            entryFields["time"] = nil
            return .object(entryFields)
        })
        fields["metadata"] = .object(metadata)
        return .object(fields)
    }
}
