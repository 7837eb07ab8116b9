import PodNet

/// What a REST path addresses: a served resource's collection (in a namespace or across all),
/// one object, or one object's subresource (`pods/web/log`).
struct ResourcePath: Equatable {
    var resource: String
    var groupVersion: String
    var namespace: String?
    var name: String?
    var subresource: String?

    /// The served resource, when podlab serves it.
    var served: ServedResource? { ServedResources.find(groupVersion: groupVersion, resource: resource) }

    /// Parses `/api/v1/...` and `/apis/<group>/<version>/...`; nil for any other path.
    init?(_ path: String) {
        let parts = path.split(separator: "/").map(String.init)
        var rest: ArraySlice<String>
        if parts.first == "api", parts.count >= 3 {
            groupVersion = parts[1]
            rest = parts[2...]
        } else if parts.first == "apis", parts.count >= 4 {
            groupVersion = "\(parts[1])/\(parts[2])"
            rest = parts[3...]
        } else {
            return nil
        }
        // `namespaces/{ns}/{resource}...` is namespaced; `namespaces/{name}` is the namespace itself.
        if rest.first == "namespaces", rest.count >= 3 {
            namespace = rest[rest.startIndex + 1]
            rest = rest.dropFirst(2)
        }
        guard let resource = rest.first, rest.count <= 3 else { return nil }
        self.resource = resource
        name = rest.count >= 2 ? rest[rest.startIndex + 1] : nil
        subresource = rest.count == 3 ? rest[rest.startIndex + 2] : nil
    }
}
