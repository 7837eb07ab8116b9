import Foundation
import PodNet

/// Namespace updates (`PUT`, and through it `PATCH`: `kubectl label ns x team=blue`): labels
/// and annotations change; the name label, `spec.finalizers` and `status` stay the API
/// server's, as its namespace strategy keeps them. Policies with a namespaceSelector follow.
extension Controller {
    public func replaceNamespace(name: String, body: Data, dryRun: Bool) async throws -> Data {
        try requireReady()
        let old = try namespace(name)
        var new = try Controller.decodeObject(body, as: Namespace.self)
        guard new.metadata.name == name else {
            throw APIStatus.badRequest("the name of the object (\(new.metadata.name)) does not match the name on the URL (\(name))")
        }
        if !new.metadata.resourceVersion.isEmpty, new.metadata.resourceVersion != old.metadata.resourceVersion {
            throw APIStatus.conflict(resource: "namespaces", name: name)
        }
        do { try new.validated() } catch { throw error.status }
        new.metadata.uid = old.metadata.uid
        new.metadata.creationTimestamp = old.metadata.creationTimestamp
        new.metadata.deletionTimestamp = old.metadata.deletionTimestamp
        new.spec = old.spec
        new.status = old.status
        // The API server sets the name label on update too: removing or changing it does nothing.
        new = new.applyingDefaults()
        if dryRun {
            new.metadata.resourceVersion = old.metadata.resourceVersion
            return Data(new.json.jsonText(indent: 0).utf8)
        }
        // Nothing changed: the API server answers the stored object and keeps its version.
        var unchanged = new
        unchanged.metadata.resourceVersion = old.metadata.resourceVersion
        if unchanged == old { return Data(old.json.jsonText(indent: 0).utf8) }
        new = try persist(new, .modified)
        namespaces[name] = new
        namespaceChangedForPolicies(name)
        return Data(new.json.jsonText(indent: 0).utf8)
    }
}
