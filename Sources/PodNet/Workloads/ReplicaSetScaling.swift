/// What a ReplicaSet's controller decides from its pods: how many to make, which to delete,
/// and the counts its status reports.
public enum ReplicaSetScaling {
    /// What to do about a ReplicaSet's pods now.
    public enum Action: Hashable, Sendable {
        case create(Int)
        /// Names of the pods to delete, the ones to lose first.
        case delete([String])
        case none
    }

    /// Pods that count toward `replicas`: not finished and not being deleted (`FilterActivePods`),
    /// so a pod being deleted is replaced at once.
    public static func isActive(_ pod: Pod) -> Bool {
        pod.metadata.deletionTimestamp == nil && !(pod.status.phase?.isTerminal ?? false)
    }

    public static func isReady(_ pod: Pod) -> Bool {
        pod.status.conditions.contains { $0.type == .ready && $0.status == .true }
    }

    /// Ready for at least `minReadySeconds` (`IsPodAvailable`).
    public static func isAvailable(_ pod: Pod, minReadySeconds: Int32, now: Timestamp) -> Bool {
        guard let ready = pod.status.conditions.first(where: { $0.type == .ready && $0.status == .true }) else { return false }
        guard minReadySeconds > 0 else { return true }
        guard let since = ready.lastTransitionTime else { return false }
        return now.seconds(since: since) >= Int64(minReadySeconds)
    }

    /// Whether `pod` is controlled by the object with `uid` (its controller `ownerReference`).
    public static func isControlled(_ pod: Pod, by uid: String) -> Bool {
        controllerUID(of: pod.metadata) == uid
    }

    public static func controllerUID(of metadata: ObjectMeta) -> String? {
        for reference in metadata.preservedFields["ownerReferences"]?.arrayValue ?? [] where reference["controller"] == .bool(true) {
            return reference["uid"]?.stringValue
        }
        return nil
    }

    /// The `ownerReferences` value naming `owner` as controller, as the controllers write it.
    public static func ownerReference(apiVersion: String, kind: String, name: String, uid: String) -> JSONValue {
        .array([.object([
            "apiVersion": .string(apiVersion), "kind": .string(kind), "name": .string(name), "uid": .string(uid),
            "controller": .bool(true), "blockOwnerDeletion": .bool(true),
        ])])
    }

    /// Pods to create or delete so that `desired` active pods remain (`manageReplicas`).
    public static func action(desired: Int, pods: [Pod]) -> Action {
        let active = pods.filter(isActive)
        if active.count < desired { return .create(desired - active.count) }
        if active.count > desired {
            return .delete(deletionOrder(active).prefix(active.count - desired).map(\.metadata.name))
        }
        return .none
    }

    /// Pods in the order the controller loses them (`ActivePods` ranking): not yet on a node,
    /// then pending, unknown, running; not ready before ready; ready more recently first; more
    /// restarts first; newer first.
    public static func deletionOrder(_ pods: [Pod]) -> [Pod] {
        func phaseRank(_ pod: Pod) -> Int {
            switch pod.status.phase {
            case .pending?, nil: 0
            case .unknown?: 1
            default: 2
            }
        }
        func readySince(_ pod: Pod) -> Int64 {
            pod.status.conditions.first { $0.type == .ready && $0.status == .true }?.lastTransitionTime?.secondsSince1970 ?? 0
        }
        func restarts(_ pod: Pod) -> Int32 { pod.status.containerStatuses.map(\.restartCount).max() ?? 0 }
        return pods.sorted { a, b in
            if a.spec.nodeName.isEmpty != b.spec.nodeName.isEmpty { return a.spec.nodeName.isEmpty }
            if phaseRank(a) != phaseRank(b) { return phaseRank(a) < phaseRank(b) }
            if isReady(a) != isReady(b) { return !isReady(a) }
            if isReady(a), readySince(a) != readySince(b) { return readySince(a) > readySince(b) }
            if restarts(a) != restarts(b) { return restarts(a) > restarts(b) }
            let createdA = a.metadata.creationTimestamp?.secondsSince1970 ?? 0
            let createdB = b.metadata.creationTimestamp?.secondsSince1970 ?? 0
            if createdA != createdB { return createdA > createdB }
            return a.metadata.name > b.metadata.name
        }
    }

    /// The status the ReplicaSet reports for its `pods`.
    public static func status(of replicaSet: ReplicaSet, pods: [Pod], now: Timestamp) -> ReplicaSetStatus {
        let active = pods.filter(isActive)
        let templateLabels = LabelSelector(matchLabels: replicaSet.spec.template.metadata.labels)
        var status = replicaSet.status
        status.replicas = Int32(active.count)
        status.fullyLabeledReplicas = Int32(active.filter { templateLabels.matches($0.metadata.labels) }.count)
        status.readyReplicas = Int32(active.filter(isReady).count)
        status.availableReplicas = Int32(active.filter { isAvailable($0, minReadySeconds: replicaSet.spec.minReadySeconds, now: now) }.count)
        status.observedGeneration = replicaSet.metadata.generation
        return status
    }

    /// A pod of `replicaSet`, named `<rs>-<suffix>`: the template's labels, annotations and spec,
    /// the ReplicaSet as its controller.
    public static func pod(for replicaSet: ReplicaSet, suffix: String) -> Pod {
        let template = replicaSet.spec.template
        var metadata = ObjectMeta(name: "\(replicaSet.metadata.name)-\(suffix)", namespace: replicaSet.metadata.namespace,
                                  labels: template.metadata.labels, annotations: template.metadata.annotations)
        metadata.preservedFields["generateName"] = .string(replicaSet.metadata.name + "-")
        metadata.preservedFields["ownerReferences"] = ownerReference(
            apiVersion: ReplicaSet.apiVersion, kind: ReplicaSet.kind, name: replicaSet.metadata.name, uid: replicaSet.metadata.uid)
        return Pod(metadata: metadata, spec: template.spec)
    }
}
