import Foundation

/// A stored object with its JSON already made: the value (for field selectors and printing)
/// and its one-line text (`json.jsonText(indent: 0)`). The agent keeps one per stored object
/// and makes it again only when the object changed, so a list of a thousand pods joins their
/// texts instead of writing every pod again.
public struct EncodedObject: Sendable {
    /// The typed object the JSON was made from (for a Table printed without decoding it again).
    public let object: any KubernetesResource
    public let json: JSONValue
    public let text: [UInt8]
    /// The text of its `metadata` alone: what a Table's row carries by default.
    public let metadataText: [UInt8]

    public init<T: KubernetesResource>(_ object: T) {
        self.object = object
        json = object.json
        text = Array(json.jsonText(indent: 0).utf8)
        metadataText = Array((json["metadata"] ?? .object([:])).jsonText(indent: 0).utf8)
    }
}

/// A list of one kind (`PodList`) as encoded objects: the whole list or a page of it is written
/// as `ObjectList(items:resourceVersion:)` writes it with `jsonText(indent: 0)`, byte for byte,
/// with the items' texts joined as they are.
public struct EncodedList: Sendable {
    /// `PodList`; `apiVersion` is the items' (`v1`, `apps/v1`).
    public let kind: String
    public let apiVersion: String
    public let resourceVersion: String
    public let items: [EncodedObject]

    public init<T: KubernetesResource>(_ type: T.Type, items: [EncodedObject], resourceVersion: String) {
        kind = T.kind + "List"
        apiVersion = T.apiVersion
        self.resourceVersion = resourceVersion
        self.items = items
    }

    /// The list's metadata as a list answer carries it: `continue` and `remainingItemCount`
    /// only when items are left (`ListPaging`).
    public func metadata(continue token: String? = nil, remainingItemCount: Int? = nil) -> JSONValue {
        var fields: [String: JSONValue] = ["resourceVersion": .string(resourceVersion)]
        if let token { fields["continue"] = .string(token) }
        if let remainingItemCount { fields["remainingItemCount"] = .integer(Int64(remainingItemCount)) }
        return .object(fields)
    }

    /// The one-line JSON of the list of `items` (all of them by default, or a page), with
    /// `metadata` (`metadata()`'s by default).
    public func jsonData(items: [EncodedObject]? = nil, metadata: JSONValue? = nil) -> Data {
        let items = items ?? self.items
        var joined: [UInt8] = []
        joined.reserveCapacity(items.reduce(2) { $0 + $1.text.count + 1 })
        joined.append(UInt8(ascii: "["))
        for (index, item) in items.enumerated() {
            if index > 0 { joined.append(UInt8(ascii: ",")) }
            joined.append(contentsOf: item.text)
        }
        joined.append(UInt8(ascii: "]"))
        let envelope: JSONValue = .object(["apiVersion": .string(apiVersion), "kind": .string(kind), "metadata": metadata ?? self.metadata()])
        return envelope.compactJSON(setting: "items", toWritten: joined)
    }
}
