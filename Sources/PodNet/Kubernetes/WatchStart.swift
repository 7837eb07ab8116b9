/// Where a watch starts, from its query (`resourceVersion`, `sendInitialEvents`,
/// `resourceVersionMatch`, `allowWatchBookmarks`), as kube-apiserver reads them.
public enum WatchStart: Equatable, Sendable {
    /// The current objects as ADDED events, then every change (no resourceVersion, or "0").
    case currentObjects
    /// The current objects, then a bookmark annotated `k8s.io/initial-events-end`, then every
    /// change (`sendInitialEvents=true`: client-go's streaming list).
    case currentObjectsThenBookmark
    /// Every change after this resourceVersion.
    case after(Int64)

    /// The annotation of the bookmark that ends the initial events.
    public static let initialEventsEndAnnotation = "k8s.io/initial-events-end"

    /// Reads a watch's options; throws the API server's 422 for a combination it forbids.
    public init(resourceVersion: String?, sendInitialEvents: Bool?, resourceVersionMatch: String?, allowWatchBookmarks: Bool) throws(APIStatus) {
        var errors: [FieldError] = []
        if let sendInitialEvents {
            if resourceVersionMatch != "NotOlderThan" {
                errors.append(.forbidden(FieldPath("resourceVersionMatch"), "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
            }
            if sendInitialEvents, !allowWatchBookmarks {
                errors.append(.forbidden(FieldPath("allowWatchBookmarks"), "sendInitialEvents requires setting allowWatchBookmarks to true"))
            }
        } else if let resourceVersionMatch {
            errors.append(.forbidden(FieldPath("resourceVersionMatch"),
                                     "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided (got \(resourceVersionMatch))"))
        }
        let version: Int64?
        if let text = resourceVersion, !text.isEmpty {
            guard let number = Int64(text), number >= 0 else {
                throw APIStatus.badRequest("resourceVersion: Invalid value: \"\(text)\": must be a non-negative integer")
            }
            version = number
        } else {
            version = nil
        }
        guard errors.isEmpty else { throw APIStatus.invalid(kind: "ListOptions", group: "meta.k8s.io", name: "", errors: errors) }
        if sendInitialEvents == true {
            self = .currentObjectsThenBookmark
        } else if let version, version > 0 {
            self = .after(version)
        } else {
            self = .currentObjects
        }
    }
}
