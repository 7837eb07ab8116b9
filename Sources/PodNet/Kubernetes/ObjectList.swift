/// A list of objects of one kind, as the API returns it (`kind: PodList`) or kubectl prints
/// it (`kind: List`).
public struct ObjectList<Item: KubernetesObject & Hashable>: JSONObjectCodable, Hashable {
    /// The list's `apiVersion`: its items' group (`discovery.k8s.io/v1`), or `v1` for kubectl's `List`.
    public var apiVersion: String { kind == "List" ? "v1" : Item.apiVersion }

    /// `PodList` (the API's name) or `List` (what `kubectl get -o yaml` prints).
    public var kind: String
    public var metadata: ListMeta
    public var items: [Item]

    /// A typed list: `kind` is the item kind plus `List`.
    public init(items: [Item], resourceVersion: String = "") {
        self.kind = Item.kind + "List"
        self.metadata = ListMeta(resourceVersion: resourceVersion)
        self.items = items
    }

    /// The generic `kind: List` that kubectl prints for `get -o yaml|json`.
    public static func kubectlList(_ items: [Item]) -> ObjectList {
        var list = ObjectList(items: items)
        list.kind = "List"
        return list
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        let kind = try reader.string("kind") ?? ""
        guard kind == Item.kind + "List" || kind == "List" else {
            throw .invalidValue(field: reader.path.child("kind"), value: kind, reason: "expected \"\(Item.kind)List\" or \"List\"")
        }
        let expected = kind == "List" ? "v1" : Item.apiVersion
        if let apiVersion = try reader.string("apiVersion"), apiVersion != expected {
            throw .invalidValue(field: reader.path.child("apiVersion"), value: apiVersion, reason: "expected \"\(expected)\"")
        }
        self.kind = kind
        metadata = try reader.object("metadata") ?? ListMeta()
        items = try reader.objects("items")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("apiVersion", .string(apiVersion))
        writer.set("kind", .string(kind))
        var meta = metadata.json
        // kubectl prints `resourceVersion: ""` for its lists.
        if case var .object(fields) = meta, fields["resourceVersion"] == nil {
            fields["resourceVersion"] = .string("")
            meta = .object(fields)
        }
        writer.set("metadata", meta)
        writer.set("items", .array(items.map(\.json)))
    }
}

public typealias PodList = ObjectList<Pod>
public typealias NodeList = ObjectList<Node>
public typealias NamespaceList = ObjectList<Namespace>
public typealias ServiceList = ObjectList<Service>
public typealias EndpointSliceList = ObjectList<EndpointSlice>
public typealias EndpointsList = ObjectList<Endpoints>
