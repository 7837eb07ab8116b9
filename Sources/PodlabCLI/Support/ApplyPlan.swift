import PodNet

/// `apply`'s decision for pods.
public typealias ApplyPlan = ObjectApplyPlan<Pod>

/// What `apply` does with one object: create it, update it, or leave it alone — decided the
/// way kubectl's client-side apply decides, with a three-way merge of the configuration
/// applied last time (kept in the `kubectl.kubernetes.io/last-applied-configuration`
/// annotation), the new configuration, and the live object.
public enum ObjectApplyPlan<Object: KubernetesResource>: Equatable, Sendable {
    /// The object does not exist: create it (with the annotation).
    case create(Object)
    /// The merge changes the live object: send it as an update.
    case configure(Object)
    /// The merge changes nothing.
    case unchanged

    /// The annotation that holds the configuration applied last.
    public static var lastAppliedAnnotation: String { ApplyRules.lastAppliedAnnotation }

    static var serverOwnedMetadata: Set<String> { ApplyRules.serverOwnedMetadata }

    /// List fields merged element by element, by key: a service's ports by `port`, a pod's by `containerPort`.
    static var mergeKeys: [String: String] {
        var keys = ApplyRules.mergeKeys
        if Object.kind == Service.kind { keys["ports"] = "port" }
        return keys
    }

    /// Decides what to do.
    /// - Parameters:
    ///   - manifest: the object as written in the file (its JSON); `namespace` is set into it.
    ///   - namespace: the namespace the object goes to (ignored for cluster-scoped kinds).
    ///   - live: the object as the agent has it, nil if it does not exist.
    public static func decide(manifest: JSONValue, namespace: String, live: Object?) throws -> ObjectApplyPlan {
        // Recorded without status and server-set metadata, so that a manifest saved with
        // `get -o yaml` applies as `unchanged` when nothing else changed.
        let applied = stripServerFields(lastApplied(manifest, namespace: namespace))
        let annotation = applied.jsonText(indent: 0) + "\n"
        guard let live else {
            var created = try Object(json: applied)
            created.metadata.annotations[lastAppliedAnnotation] = annotation
            return .create(created)
        }
        let current = live.json
        var original: JSONValue?
        if let text = live.metadata.annotations[lastAppliedAnnotation] {
            original = try? JSONReader.value(from: text)
        }
        var merged = merge(original: original.map(stripServerFields), modified: applied, current: current)
        merged = setAnnotation(merged, annotation)
        let object = try Object(json: merged)
        return object == live ? .unchanged : .configure(object)
    }

    /// The configuration as kubectl records it: the manifest with its namespace set and
    /// without the annotation itself (`annotations: {}` stays, as kubectl leaves it).
    static func lastApplied(_ manifest: JSONValue, namespace: String) -> JSONValue {
        guard case var .object(fields) = manifest else { return manifest }
        var metadata = fields["metadata"]?.objectValue ?? [:]
        var annotations = metadata["annotations"]?.objectValue ?? [:]
        annotations[lastAppliedAnnotation] = nil
        metadata["annotations"] = .object(annotations)
        if Object.isNamespaced { metadata["namespace"] = .string(namespace) }
        fields["metadata"] = .object(metadata)
        return .object(fields)
    }

    /// Without `status` and the metadata the server sets: a manifest saved from
    /// `get -o yaml` must not try to change them.
    static func stripServerFields(_ value: JSONValue) -> JSONValue {
        guard case var .object(fields) = value else { return value }
        fields["status"] = nil
        if case var .object(metadata)? = fields["metadata"] {
            for key in serverOwnedMetadata { metadata[key] = nil }
            fields["metadata"] = .object(metadata)
        }
        return .object(fields)
    }

    /// The three-way merge: fields of `modified` are set on `current`; fields that were in
    /// `original` but are no longer in `modified` are removed; fields nobody applied (server
    /// defaults, status) stay. Lists with a merge key merge by element; other lists are replaced.
    static func merge(original: JSONValue?, modified: JSONValue, current: JSONValue, key: String? = nil) -> JSONValue {
        switch (modified, current) {
        case let (.object(wanted), .object(live)):
            var result = live
            let before = original?.objectValue ?? [:]
            for (name, value) in wanted {
                if value == .null {
                    result[name] = nil
                } else if let existing = live[name] {
                    result[name] = merge(original: before[name], modified: value, current: existing, key: name)
                } else {
                    result[name] = value
                }
            }
            for name in before.keys where wanted[name] == nil {
                result[name] = nil
            }
            return .object(result)
        case let (.array(wanted), .array(live)):
            guard let key, let mergeKey = mergeKeys[key] else { return modified }
            let before = original?.arrayValue ?? []
            func identity(_ element: JSONValue) -> JSONValue? { element[mergeKey] }
            var result: [JSONValue] = []
            for element in wanted {
                if let id = identity(element), let existing = live.first(where: { identity($0) == id }) {
                    let previous = before.first { identity($0) == id }
                    result.append(merge(original: previous, modified: element, current: existing))
                } else {
                    result.append(element)
                }
            }
            // Elements someone else added stay; elements applied before and now dropped go.
            for element in live {
                guard let id = identity(element), !wanted.contains(where: { identity($0) == id }) else { continue }
                if before.contains(where: { identity($0) == id }) { continue }
                result.append(element)
            }
            return .array(result)
        default:
            return modified
        }
    }

    private static func setAnnotation(_ object: JSONValue, _ annotation: String) -> JSONValue {
        guard case var .object(fields) = object else { return object }
        var metadata = fields["metadata"]?.objectValue ?? [:]
        var annotations = metadata["annotations"]?.objectValue ?? [:]
        annotations[lastAppliedAnnotation] = .string(annotation)
        metadata["annotations"] = .object(annotations)
        fields["metadata"] = .object(metadata)
        return .object(fields)
    }
}

/// What `apply` knows of Kubernetes' merge rules, for every kind.
enum ApplyRules {
    /// The annotation that holds the configuration applied last.
    static let lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

    /// Fields the server owns: never taken from a manifest, never removed by one.
    static let serverOwnedMetadata: Set<String> = [
        "creationTimestamp", "uid", "resourceVersion", "generation", "deletionTimestamp",
        "deletionGracePeriodSeconds", "managedFields", "selfLink",
    ]

    /// List fields merged element by element, by key (Kubernetes' strategic merge keys).
    static let mergeKeys: [String: String] = [
        "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
        "ports": "containerPort", "volumes": "name", "volumeMounts": "mountPath", "imagePullSecrets": "name",
        "hostAliases": "ip", "readinessGates": "conditionType",
    ]
}
