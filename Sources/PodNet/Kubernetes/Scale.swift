/// The `autoscaling/v1 Scale` of a Deployment or ReplicaSet (their `scale` subresource, what
/// `kubectl scale` reads and writes): the object's identity, its desired and current replica
/// counts, and its selector as a string.
public enum Scale {
    /// The Scale of `object` (a Deployment's or ReplicaSet's JSON).
    public static func of(_ object: JSONValue) -> JSONValue {
        let metadata = object["metadata"]?.objectValue ?? [:]
        var identity: [String: JSONValue] = [:]
        for key in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] { identity[key] = metadata[key] }
        return .object([
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": .object(identity),
            "spec": .object(["replicas": object["spec"]?["replicas"] ?? .integer(1)]),
            "status": .object(["replicas": object["status"]?["replicas"] ?? .integer(0),
                               "selector": .string(selectorText(object["spec"]?["selector"]))]),
        ])
    }

    /// `object` with the replica count `scale` asks for; a stale resourceVersion in `scale`
    /// is kept, so the update is refused as a conflict.
    public static func apply(_ scale: JSONValue, to object: JSONValue) throws(APIStatus) -> JSONValue {
        guard case .integer(let replicas)? = scale["spec"]?["replicas"] else {
            throw APIStatus.invalid(kind: "Scale", group: "autoscaling", name: scale["metadata"]?["name"]?.stringValue ?? "",
                                    errors: [FieldError(type: .required, field: "spec.replicas")])
        }
        guard case .object(var fields) = object, case .object(var spec)? = fields["spec"] else { return object }
        spec["replicas"] = .integer(replicas)
        fields["spec"] = .object(spec)
        if let version = scale["metadata"]?["resourceVersion"]?.stringValue, !version.isEmpty, case .object(var metadata)? = fields["metadata"] {
            metadata["resourceVersion"] = .string(version)
            fields["metadata"] = .object(metadata)
        }
        return .object(fields)
    }

    /// A label selector's JSON as a string: `app=web,tier in (a,b)`.
    static func selectorText(_ selector: JSONValue?) -> String {
        var terms: [String] = []
        if case .object(let labels)? = selector?["matchLabels"] {
            for key in labels.keys.sorted() { terms.append("\(key)=\(labels[key]?.stringValue ?? "")") }
        }
        for expression in selector?["matchExpressions"]?.arrayValue ?? [] {
            let key = expression["key"]?.stringValue ?? ""
            let values = (expression["values"]?.arrayValue ?? []).compactMap(\.stringValue).sorted().joined(separator: ",")
            switch expression["operator"]?.stringValue ?? "" {
            case "In": terms.append("\(key) in (\(values))")
            case "NotIn": terms.append("\(key) notin (\(values))")
            case "Exists": terms.append(key)
            case "DoesNotExist": terms.append("!\(key)")
            default: break
            }
        }
        return terms.joined(separator: ",")
    }
}
