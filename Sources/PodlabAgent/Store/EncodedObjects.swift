import PodNet

/// Each stored object's JSON, made once per change of the object rather than once per read:
/// the watch event of a change makes it, and every list, page or Table after it reuses it (a
/// list of 1 000 pods joins their texts). An entry is used only for an object equal to the
/// one it was made from, so a change that did not pass through here is encoded afresh, never
/// served stale. Owned by the `Controller` actor.
final class EncodedObjects {
    private struct Key: Hashable {
        let kind: String
        let namespace: String
        let name: String
    }

    private var entries: [Key: EncodedObject] = [:]

    /// `object`'s encoding: the kept one when it was made from an equal object, else a new one (kept).
    func encoded<T: KubernetesResource>(_ object: T) -> EncodedObject {
        let key = Key(kind: T.kind, namespace: object.metadata.namespace, name: object.metadata.name)
        if let entry = entries[key], let made = entry.object as? T, made == object { return entry }
        let entry = EncodedObject(object)
        entries[key] = entry
        return entry
    }

    /// The text a watch event of `object` carries: its kept encoding; a deleted object's entry
    /// goes with its last event.
    func eventText<T: KubernetesResource>(_ object: T, deleted: Bool) -> [UInt8] {
        guard deleted else { return encoded(object).text }
        entries.removeValue(forKey: Key(kind: T.kind, namespace: object.metadata.namespace, name: object.metadata.name))
        return Array(object.json.jsonText(indent: 0).utf8)
    }
}
