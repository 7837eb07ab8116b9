/// One resource type the API serves, as discovery (`/api/v1`, `/apis/<group>/<version>`)
/// describes it and as server-side printing renders it. A new kind is served to kubectl by
/// adding one entry to `ServedResources.all`.
public struct ServedResource: Sendable {
    /// `v1` for the core group, `<group>/<version>` for the others.
    public var groupVersion: String
    /// The plural name in paths: `pods`.
    public var resource: String
    public var kind: String
    public var singular: String
    public var shortNames: [String]
    public var namespaced: Bool
    public var verbs: [String]
    /// `all` puts the kind in `kubectl get all`.
    public var categories: [String]
    /// The table kubectl prints for these objects: all columns (`-o wide`'s), and how many of
    /// them the narrow table shows; nil prints NAME and AGE only.
    public var table: (@Sendable (_ objects: [JSONValue], _ now: Timestamp) throws(ObjectDecodingError) -> (columns: TextTable, narrow: Int))?
    /// The same table from the typed objects (the agent's own, which need no decoding); nil
    /// when they are not all of this kind.
    public var typedTable: (@Sendable (_ objects: [any KubernetesResource], _ now: Timestamp) -> (columns: TextTable, narrow: Int)?)?

    public init(groupVersion: String, resource: String, kind: String, singular: String, shortNames: [String] = [], namespaced: Bool,
                verbs: [String], categories: [String] = [],
                table: (@Sendable (_ objects: [JSONValue], _ now: Timestamp) throws(ObjectDecodingError) -> (columns: TextTable, narrow: Int))? = nil) {
        self.groupVersion = groupVersion
        self.resource = resource
        self.kind = kind
        self.singular = singular
        self.shortNames = shortNames
        self.namespaced = namespaced
        self.verbs = verbs
        self.categories = categories
        self.table = table
    }

    /// The group (`apps`), empty for the core group.
    public var group: String {
        guard let slash = groupVersion.firstIndex(of: "/") else { return "" }
        return String(groupVersion[..<slash])
    }

    public var version: String {
        guard let slash = groupVersion.firstIndex(of: "/") else { return groupVersion }
        return String(groupVersion[groupVersion.index(after: slash)...])
    }

    /// `/api/v1` or `/apis/<group>/<version>`.
    public var pathPrefix: String { group.isEmpty ? "/api/\(groupVersion)" : "/apis/\(groupVersion)" }
}

extension ServedResource {
    /// Read, write and delete: what podlab serves for a kind it stores.
    public static let readWriteVerbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
    public static let readOnlyVerbs = ["get", "list", "watch"]

    /// The entry for a kind podlab models: its table from `render` with `narrow` columns when not wide.
    static func modeled<T: KubernetesResource>(_ type: T.Type, singular: String, shortNames: [String] = [], verbs: [String],
                                               categories: [String] = [],
                                               render: @escaping @Sendable ([T], _ wide: Bool, Timestamp) -> TextTable) -> ServedResource {
        // All columns, and how many the narrow table shows.
        @Sendable func table(_ typed: [T], _ now: Timestamp) -> (columns: TextTable, narrow: Int) {
            (render(typed, true, now), render([], false, now).headers.count)
        }
        var served = ServedResource(groupVersion: T.apiVersion, resource: T.resource, kind: T.kind, singular: singular, shortNames: shortNames,
                                    namespaced: T.isNamespaced, verbs: verbs, categories: categories) { (objects, now) throws(ObjectDecodingError) in
            var typed: [T] = []
            for object in objects { typed.append(try T(json: object)) }
            return table(typed, now)
        }
        served.typedTable = { objects, now in
            let typed = objects.compactMap { $0 as? T }
            return typed.count == objects.count ? table(typed, now) : nil
        }
        return served
    }
}

/// Every resource type the API serves, in discovery's order.
public enum ServedResources {
    public static let all: [ServedResource] = [
        .modeled(Pod.self, singular: "pod", shortNames: ["po"], verbs: ServedResource.readWriteVerbs, categories: ["all"]) {
            PodTableRow.table($0, wide: $1, now: $2)
        },
        .modeled(Node.self, singular: "node", shortNames: ["no"], verbs: ServedResource.readOnlyVerbs) { NodeTableRow.table($0, wide: $1, now: $2) },
        .modeled(Namespace.self, singular: "namespace", shortNames: ["ns"], verbs: ServedResource.readWriteVerbs) {
            namespaces, _, now in ServiceTables.namespaces(namespaces, now: now)
        },
        .modeled(ConfigMap.self, singular: "configmap", shortNames: ["cm"], verbs: ServedResource.readWriteVerbs) { maps, _, now in
            ConfigTables.configMaps(maps, now: now)
        },
        .modeled(Secret.self, singular: "secret", verbs: ServedResource.readWriteVerbs) { secrets, _, now in
            ConfigTables.secrets(secrets, now: now)
        },
        .modeled(Service.self, singular: "service", shortNames: ["svc"], verbs: ServedResource.readWriteVerbs, categories: ["all"]) {
            ServiceTables.services($0, wide: $1, now: $2)
        },
        .modeled(Endpoints.self, singular: "endpoints", shortNames: ["ep"], verbs: ["get", "list"]) { endpoints, _, now in
            ServiceTables.endpoints(endpoints, now: now)
        },
        .modeled(Event.self, singular: "event", shortNames: ["ev"], verbs: ["get", "list"]) { events, _, now in
            EventTable.table(events, now: now)
        },
        .modeled(Deployment.self, singular: "deployment", shortNames: ["deploy"], verbs: ServedResource.readWriteVerbs, categories: ["all"]) {
            WorkloadTables.deployments($0, wide: $1, now: $2)
        },
        .modeled(ReplicaSet.self, singular: "replicaset", shortNames: ["rs"], verbs: ServedResource.readWriteVerbs, categories: ["all"]) {
            WorkloadTables.replicaSets($0, wide: $1, now: $2)
        },
        .modeled(EndpointSlice.self, singular: "endpointslice", verbs: ServedResource.readOnlyVerbs) { slices, _, now in
            ServiceTables.endpointSlices(slices, now: now)
        },
        .modeled(NetworkPolicy.self, singular: "networkpolicy", shortNames: ["netpol"], verbs: ServedResource.readWriteVerbs) {
            policies, _, now in PolicyTables.networkPolicies(policies, now: now)
        },
        .modeled(MeshPolicy.self, singular: "meshpolicy", shortNames: ["mp"], verbs: ServedResource.readWriteVerbs) {
            MeshTables.meshPolicies($0, wide: $1, now: $2)
        },
        .modeled(MeshRoute.self, singular: "route", shortNames: ["rt"], verbs: ServedResource.readWriteVerbs) {
            MeshTables.routes($0, wide: $1, now: $2)
        },
    ]

    /// The entry for a request path's group version and resource.
    public static func find(groupVersion: String, resource: String) -> ServedResource? {
        all.first { $0.groupVersion == groupVersion && $0.resource == resource }
    }

    /// Group versions in discovery's order: `v1` first.
    public static var groupVersions: [String] {
        var seen: [String] = []
        for entry in all where !seen.contains(entry.groupVersion) { seen.append(entry.groupVersion) }
        return seen
    }
}
