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
    /// The scheduler's client: its `Scheduled` events.
    public static let scheduler = "kube-scheduler"

    /// The client that writes events reported by `component` (`source.component`): the
    /// kubelet's own, the scheduler's (`default-scheduler`), and kube-controller-manager's for
    /// its controllers (`deployment-controller`, `replicaset-controller`, …).
    public static func ofEventSource(_ component: String) -> String {
        switch component {
        case "kubelet": kubelet
        case "default-scheduler": scheduler
        default: controllerManager
        }
    }
}

/// Who owns what of a node, as a cluster records it: the kubelet registers the node (its
/// labels), kube-controller-manager's node IPAM sets `spec.podCIDR(s)`, and the kubelet's
/// status writes own the status, refreshed at every heartbeat.
public enum NodeOwnership {
    /// `node` with its `metadata.managedFields`: the kubelet's registration and
    /// kube-controller-manager's pod CIDR at the node's creation, the kubelet's status entry at
    /// `heartbeat`.
    public static func recording(_ node: Node, heartbeat: Timestamp) -> Node {
        let created = node.metadata.creationTimestamp ?? heartbeat
        var registered = node
        registered.spec = NodeSpec()
        registered.status = NodeStatus()
        registered.metadata.preservedFields["managedFields"] = nil
        let byKubelet = ManagedFields.recordUpdate(from: nil, to: registered.json, manager: FieldManagerName.kubelet, apiVersion: Node.apiVersion, time: created)
        var withCIDR = node
        withCIDR.status = NodeStatus()
        withCIDR.metadata.preservedFields["managedFields"] = byKubelet["metadata"]?["managedFields"]
        let byController = ManagedFields.recordUpdate(from: byKubelet, to: withCIDR.json, manager: FieldManagerName.controllerManager,
                                                      apiVersion: Node.apiVersion, time: created)
        let managed = ManagedFields.recordStatusUpdate(from: nil, to: node.status.json, managedFields: byController["metadata"]?["managedFields"],
                                                       manager: FieldManagerName.kubelet, apiVersion: Node.apiVersion, time: heartbeat)
        var result = node
        result.metadata.preservedFields["managedFields"] = managed
        return result
    }
}

/// Who owns an event: the client of the component that reported it, whose every report (the
/// first, and each repeat counted up) is an update of the whole event.
public enum EventOwnership {
    /// `event` with the `managedFields` its reporter's write leaves over `old` (nil: the first report).
    /// The fields a write sets are those it sends: an unset `eventTime`, written `null`, is not one.
    public static func recording(_ event: Event, over old: Event?, time: Timestamp) -> Event {
        func sent(_ event: Event) -> JSONValue {
            guard case .object(var fields) = event.json else { return event.json }
            fields = fields.filter { $0.value != .null }
            return .object(fields)
        }
        let written = ManagedFields.recordUpdate(from: old.map(sent), to: sent(event), manager: FieldManagerName.ofEventSource(event.sourceComponent),
                                                 apiVersion: Event.apiVersion, time: time)
        var result = event
        result.metadata.preservedFields["managedFields"] = written["metadata"]?["managedFields"]
        return result
    }
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
