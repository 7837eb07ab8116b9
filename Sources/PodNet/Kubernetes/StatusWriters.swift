/// Who writes what the agent writes itself, under the names Kubernetes' components use in
/// `metadata.managedFields` (their clients' user agents, which kube-apiserver takes as the
/// manager when a write names none).
public enum FieldManagerName {
    /// A pod's status: the node's kubelet (`subresource: status`).
    public static let kubelet = "kubelet"
    /// Every controller of kube-controller-manager shares its client: the Deployment,
    /// ReplicaSet and EndpointSlice controllers' objects and status writes.
    public static let controllerManager = "kube-controller-manager"
    /// What the API server makes itself: the built-in namespaces, the `kubernetes` Service.
    public static let apiServer = "kube-apiserver"
}

/// The kubelet's share of a pod's status.
public enum PodStatusOwnership {
    /// The status a pod has before its kubelet first writes it: the API server sets `phase:
    /// Pending` and `qosClass` at creation, and the scheduler's binding adds the `PodScheduled`
    /// condition without recording a manager. The kubelet's first write is measured against
    /// it, so, as on a cluster, it does not own those fields until it changes them.
    public static func beforeKubelet(_ status: PodStatus) -> PodStatus {
        var before = PodStatus()
        before.phase = .pending
        before.qosClass = status.qosClass
        before.conditions = status.conditions.filter { $0.type == .podScheduled }
        return before
    }

    /// `managedFields` after the kubelet wrote `new` over `old` (nil: the pod's first status
    /// write, measured against `beforeKubelet`); the same value, unread, when the status did
    /// not change.
    public static func recordKubeletWrite(from old: PodStatus?, to new: PodStatus, managedFields: JSONValue?, time: Timestamp) -> JSONValue? {
        let before = old ?? beforeKubelet(new)
        guard before != new else { return managedFields }
        return ManagedFields.recordStatusUpdate(from: before.json, to: new.json, managedFields: managedFields,
                                                manager: FieldManagerName.kubelet, apiVersion: "v1", time: time)
    }
}

extension KubernetesResource {
    /// The object with the `managedFields` a write by `manager` — one of the agent's own
    /// controllers — leaves over `old` (nil: the controller creates it): what it changed in the
    /// object is its `Update` entry, what it changed in `status` its `Update` entry of the
    /// `status` subresource, as a controller's update and its status update are two writes.
    /// The status of an object it creates is no one's until it writes it.
    public func recordingWrite(by manager: String, over old: Self?, time: Timestamp) -> Self {
        let new = json
        let previous = old?.json
        var managedFields = ManagedFields.recordUpdate(from: previous, to: new, manager: manager, apiVersion: Self.apiVersion, time: time)["metadata"]?["managedFields"]
        // A create's status is the API server's (it resets what the creator sent): a status
        // is written only over an existing object.
        if let previous {
            managedFields = ManagedFields.recordStatusUpdate(from: previous["status"], to: new["status"], managedFields: managedFields,
                                                             manager: manager, apiVersion: Self.apiVersion, time: time)
        }
        var result = self
        result.metadata.preservedFields["managedFields"] = managedFields
        return result
    }
}
