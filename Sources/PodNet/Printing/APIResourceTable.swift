/// `kubectl api-resources`: one row per resource of the discovery documents (subresources
/// left out), ordered by group and then name, in kubectl's columns.
public struct APIResourceEntry: Hashable, Sendable {
    public var name: String
    public var shortNames: [String]
    public var groupVersion: String
    public var namespaced: Bool
    public var kind: String
    public var verbs: [String]
    public var categories: [String]

    public var group: String {
        guard let slash = groupVersion.firstIndex(of: "/") else { return "" }
        return String(groupVersion[..<slash])
    }

    /// `pods`, `deployments.apps`: as `-o name` prints them.
    public var qualifiedName: String { group.isEmpty ? name : "\(name).\(group)" }

    /// The entries of an `APIResourceList` (`/api/v1`, `/apis/<group>/<version>`).
    public static func entries(of list: JSONValue) -> [APIResourceEntry] {
        let groupVersion = list["groupVersion"]?.stringValue ?? ""
        return (list["resources"]?.arrayValue ?? []).compactMap { resource in
            guard let name = resource["name"]?.stringValue, !name.contains("/") else { return nil }
            let verbs = (resource["verbs"]?.arrayValue ?? []).compactMap(\.stringValue)
            guard !verbs.isEmpty else { return nil }
            return APIResourceEntry(name: name, shortNames: (resource["shortNames"]?.arrayValue ?? []).compactMap(\.stringValue),
                                    groupVersion: groupVersion, namespaced: resource["namespaced"] == .bool(true),
                                    kind: resource["kind"]?.stringValue ?? "", verbs: verbs,
                                    categories: (resource["categories"]?.arrayValue ?? []).compactMap(\.stringValue))
        }
    }

    /// kubectl's order: by group (the core group first), then by name; `sortBy` `name` or `kind` first.
    public static func sorted(_ entries: [APIResourceEntry], by sortBy: String? = nil) -> [APIResourceEntry] {
        func key(_ entry: APIResourceEntry) -> String {
            switch sortBy {
            case "name": entry.name
            case "kind": entry.kind
            default: entry.group
            }
        }
        return entries.enumerated().sorted { a, b in
            let (x, y) = (key(a.element), key(b.element))
            if x != y { return x < y }
            if a.element.name != b.element.name { return a.element.name < b.element.name }
            return a.offset < b.offset
        }.map(\.element)
    }

    /// The table: NAME SHORTNAMES APIVERSION NAMESPACED KIND, and VERBS CATEGORIES when wide.
    public static func table(_ entries: [APIResourceEntry], wide: Bool) -> TextTable {
        var headers = ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
        if wide { headers += ["VERBS", "CATEGORIES"] }
        return TextTable(headers: headers, rows: entries.map { entry in
            var row = [entry.name, entry.shortNames.joined(separator: ","), entry.groupVersion, entry.namespaced ? "true" : "false", entry.kind]
            if wide { row += [entry.verbs.joined(separator: ","), entry.categories.joined(separator: ",")] }
            return row
        })
    }
}
