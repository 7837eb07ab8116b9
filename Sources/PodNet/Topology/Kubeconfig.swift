import Foundation
import Yams

/// A kubeconfig for a lab: one cluster, user and context, all named after the lab, and
/// merging that into an existing kubeconfig without disturbing its other entries.
public struct Kubeconfig: Sendable, Equatable {
    public var name: String
    public var server: String
    public var certificateAuthorityPEM: String
    public var token: String

    public init(name: String, server: String, certificateAuthorityPEM: String, token: String) {
        self.name = name
        self.server = server
        self.certificateAuthorityPEM = certificateAuthorityPEM
        self.token = token
    }

    var cluster: [String: Any] {
        ["name": name, "cluster": ["server": server, "certificate-authority-data": Data(certificateAuthorityPEM.utf8).base64EncodedString()]]
    }
    var user: [String: Any] { ["name": name, "user": ["token": token]] }
    var context: [String: Any] { ["name": name, "context": ["cluster": name, "user": name]] }

    /// The kubeconfig of this lab alone, with its context current.
    public var yaml: String {
        let document: [String: Any] = [
            "apiVersion": "v1", "kind": "Config", "preferences": [String: Any](),
            "clusters": [cluster], "users": [user], "contexts": [context], "current-context": name,
        ]
        return (try? Yams.dump(object: document, sortKeys: true)) ?? ""
    }

    /// Why an existing kubeconfig cannot take the lab's entries.
    public struct MergeError: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    /// `existing` (a kubeconfig's text, empty for none) with this lab's cluster, user and
    /// context added — replacing entries of the same name — and made current; every other
    /// entry and field stays.
    public func merged(into existing: String) throws -> String {
        var document: [String: Any] = ["apiVersion": "v1", "kind": "Config", "preferences": [String: Any]()]
        if !existing.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            let loaded: Any?
            do { loaded = try Yams.load(yaml: existing) } catch {
                throw MergeError(description: "the kubeconfig cannot be read as YAML: \(error)")
            }
            guard let fields = loaded as? [String: Any] else { throw MergeError(description: "the kubeconfig is not a YAML mapping") }
            document = fields
        }
        for (key, entry) in [("clusters", cluster), ("users", user), ("contexts", context)] {
            guard let list = (document[key] ?? [Any]()) as? [Any] else {
                throw MergeError(description: "the kubeconfig's \(key) is not a list")
            }
            var entries = list.filter { (($0 as? [String: Any])?["name"] as? String) != name }
            entries.append(entry)
            document[key] = entries
        }
        document["current-context"] = name
        do { return try Yams.dump(object: document, sortKeys: true) } catch {
            throw MergeError(description: "the kubeconfig cannot be written: \(error)")
        }
    }
}
