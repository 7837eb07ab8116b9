/// The `dryRun` query parameter of a create, update, patch or delete request
/// (`kubectl … --dry-run=server` sends `dryRun=All`). `All` is the only value Kubernetes
/// knows: every stage of the request runs — decoding, defaulting, validation, admission —
/// and nothing is stored.
public enum DryRun {
    public static let all = "All"

    /// The options object a request's query parameters are read into, which names the
    /// request in the API server's error for a bad `dryRun`.
    public enum Options: String, Sendable {
        case create = "CreateOptions"
        case update = "UpdateOptions"
        case patch = "PatchOptions"
        case delete = "DeleteOptions"
    }

    /// Whether the request is a dry run, from every `dryRun` value it carries (none: it is
    /// not). Any value but `All` is the API server's 422 for the request's options:
    /// `CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Some"}: supported values: "All"`.
    public static func isRequested(_ values: [String], options: Options) throws(APIStatus) -> Bool {
        guard values.allSatisfy({ $0 == all }) else {
            throw APIStatus.invalid(kind: options.rawValue, group: "meta.k8s.io", name: "", errors: [
                FieldError(type: .notSupported, field: FieldPath.root.child("dryRun"), value: .strings(values), detail: "supported values: \"\(all)\""),
            ])
        }
        return !values.isEmpty
    }
}
