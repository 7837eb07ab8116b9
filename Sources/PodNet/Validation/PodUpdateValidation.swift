extension Pod {
    /// The fields of a running pod's spec that may change, in Kubernetes' words.
    public static let updatablePodSpecFields = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"

    /// Checks an update of `old` to this pod as the API server does (`ValidatePodUpdate`):
    /// the new pod must be valid; name, namespace and uid stay; of the spec only container
    /// images, `activeDeadlineSeconds` (lowered, never removed), tolerations (added) and
    /// `terminationGracePeriodSeconds` (negative to 1) may change. Labels and annotations may
    /// change freely. Any other spec change is one `spec: Forbidden` error whose message ends
    /// with the changed fields. Defaults are applied to both pods before comparing.
    public func validateUpdate(from old: Pod) -> ValidationResult {
        let new = applyingDefaults()
        let old = old.applyingDefaults()
        var result = new.validate(creating: false)
        // A ReplicaSet's pod keeps the owner the agent gave it; only a new owner is refused.
        let owners = FieldPath("metadata").child("ownerReferences")
        if new.metadata.preservedFields["ownerReferences"] == old.metadata.preservedFields["ownerReferences"] {
            result.errors.removeAll { $0.field == owners }
        }
        result.errors += PodUpdateValidation.validateMetadata(new.metadata, old: old.metadata)
        result.errors += PodUpdateValidation.validateSpec(new.spec, old: old.spec)
        return result
    }

    /// The update's warnings if it is allowed; otherwise throws an error listing every field error.
    @discardableResult
    public func validatedUpdate(from old: Pod) throws(InvalidObjectError) -> [String] {
        let result = validateUpdate(from: old)
        guard result.isValid else { throw InvalidObjectError(kind: Pod.kind, name: metadata.name, errors: result.errors) }
        return result.warnings
    }
}

enum PodUpdateValidation {
    static func validateMetadata(_ new: ObjectMeta, old: ObjectMeta) -> [FieldError] {
        var errors: [FieldError] = []
        let path: FieldPath = "metadata"
        if new.name != old.name {
            errors.append(.invalid(path.child("name"), .string(new.name), "field is immutable"))
        }
        if new.namespace != old.namespace, !new.namespace.isEmpty {
            errors.append(.invalid(path.child("namespace"), .string(new.namespace), "field is immutable"))
        }
        if new.uid != old.uid, !new.uid.isEmpty {
            errors.append(.invalid(path.child("uid"), .string(new.uid), "field is immutable"))
        }
        return errors
    }

    static func validateSpec(_ new: PodSpec, old: PodSpec) -> [FieldError] {
        let path: FieldPath = "spec"
        var errors: [FieldError] = []
        for (name, newContainers, oldContainers) in [("containers", new.containers, old.containers), ("initContainers", new.initContainers, old.initContainers)] {
            if newContainers.count != oldContainers.count {
                // Kubernetes stops here: nothing else can be compared container by container.
                return errors + [.forbidden(path.child(name), "pod updates may not add or remove containers")]
            }
        }
        if let oldDeadline = old.activeDeadlineSeconds {
            if let newDeadline = new.activeDeadlineSeconds {
                if newDeadline > oldDeadline {
                    errors.append(.invalid(path.child("activeDeadlineSeconds"), .integer(newDeadline), "must be less than or equal to previous value"))
                }
            } else {
                errors.append(.invalid(path.child("activeDeadlineSeconds"), .string("null"), "must not update from a positive integer to nil value"))
            }
        }
        for (index, toleration) in old.tolerations.enumerated() where !new.tolerations.contains(toleration) {
            errors.append(.forbidden(path.child("tolerations").index(index), "existing toleration can not be modified except its tolerationSeconds"))
        }

        // Take over every field that may change from the new spec into the old one; whatever
        // still differs is a forbidden change.
        var munged = new
        for index in munged.containers.indices { munged.containers[index].image = old.containers[index].image }
        for index in munged.initContainers.indices { munged.initContainers[index].image = old.initContainers[index].image }
        munged.activeDeadlineSeconds = old.activeDeadlineSeconds
        munged.tolerations = old.tolerations
        if let oldGrace = old.terminationGracePeriodSeconds, oldGrace < 0, munged.terminationGracePeriodSeconds == 1 {
            munged.terminationGracePeriodSeconds = oldGrace
        }
        if munged != old {
            let changes = JSONDiff.lines(from: old.json, to: munged.json, path: path)
            let detail = "pod updates may not change fields other than " + Pod.updatablePodSpecFields
                + (changes.isEmpty ? "" : "\n" + changes.joined(separator: "\n"))
            errors.append(.forbidden(path, detail))
        }
        return errors
    }
}

/// A short, line-per-field difference between two JSON values, used to say what an update
/// changed: `  - spec.containers[0].ports[0].containerPort: 3000` / `  + ...: 3030`.
enum JSONDiff {
    static let maximumLines = 20

    static func lines(from old: JSONValue, to new: JSONValue, path: FieldPath) -> [String] {
        var lines: [String] = []
        collect(old, new, path: path, into: &lines)
        if lines.count > maximumLines {
            let hidden = lines.count - maximumLines
            lines = Array(lines.prefix(maximumLines)) + ["  ... \(hidden) more"]
        }
        return lines
    }

    private static func collect(_ old: JSONValue?, _ new: JSONValue?, path: FieldPath, into lines: inout [String]) {
        guard old != new else { return }
        switch (old, new) {
        case let (.object(a)?, .object(b)?):
            for key in Set(a.keys).union(b.keys).sorted() {
                collect(a[key], b[key], path: path.child(key), into: &lines)
            }
        case let (.array(a)?, .array(b)?):
            for index in 0..<max(a.count, b.count) {
                collect(index < a.count ? a[index] : nil, index < b.count ? b[index] : nil, path: path.index(index), into: &lines)
            }
        default:
            if let old { lines.append("  - \(path): \(old.jsonText(indent: 0))") }
            if let new { lines.append("  + \(path): \(new.jsonText(indent: 0))") }
        }
    }
}
