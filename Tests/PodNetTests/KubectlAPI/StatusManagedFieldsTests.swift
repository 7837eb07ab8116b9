import Testing
@testable import PodNet

/// The agent's own writes in `managedFields`: the kubelet's pod status writes and the
/// controllers' objects and status, each under the name and subresource Kubernetes records.
@Suite("managedFields of status writes")
struct StatusManagedFieldsTests {
    static let t0 = Timestamp(secondsSince1970: 1_700_000_000)
    static let t1 = Timestamp(secondsSince1970: 1_700_000_005)

    /// A pod's status as the agent stores it at creation.
    static var created: PodStatus {
        var status = PodStatus(phase: .pending, conditions: [
            PodCondition(type: .podScheduled, status: .true, lastTransitionTime: t0),
            PodCondition(type: .initialized, status: .true, lastTransitionTime: t0),
            PodCondition(type: .ready, status: .false, lastTransitionTime: t0, reason: "ContainersNotReady"),
        ], hostIP: "192.168.200.11", hostIPs: [PodIP(ip: "192.168.200.11")], podIP: "10.244.1.2", podIPs: [PodIP(ip: "10.244.1.2")],
        startTime: t0, containerStatuses: [ContainerStatus(name: "web", state: .waiting(reason: "ContainerCreating"), ready: false)])
        status.qosClass = .bestEffort
        return status
    }

    /// The client's entry of a pod made with `kubectl run`.
    static let clientEntry: JSONValue = .array([
        ManagedFieldsEntry(manager: "kubectl-run", operation: .update, apiVersion: "v1", time: t0,
                           fields: ManagedFieldSet(of: ["metadata": ["labels": ["run": "web"]], "spec": ["containers": [["name": "web", "image": "nginx"]]]])).json,
    ])

    static func printed(_ entry: ManagedFieldsEntry) -> Set<String> { Set(entry.fields.paths.map(\.printed)) }

    @Test("the kubelet's first write: its status fields under subresource status; phase, qosClass and PodScheduled stay no one's")
    func firstKubeletWrite() throws {
        let managed = PodStatusOwnership.recordKubeletWrite(from: nil, to: Self.created, managedFields: Self.clientEntry, time: Self.t0)
        let entries = try #require(managed?.arrayValue).compactMap(ManagedFieldsEntry.init)
        #expect(entries.map(\.manager) == ["kubectl-run", "kubelet"])
        let kubelet = entries[1]
        #expect(kubelet.operation == .update && kubelet.apiVersion == "v1" && kubelet.subresource == "status" && kubelet.time == Self.t0)
        #expect(Self.printed(kubelet) == [
            ".status.conditions[type=\"Initialized\"]", ".status.conditions[type=\"Initialized\"].type",
            ".status.conditions[type=\"Initialized\"].status", ".status.conditions[type=\"Initialized\"].lastTransitionTime",
            ".status.conditions[type=\"Initialized\"].lastProbeTime",
            ".status.conditions[type=\"Ready\"]", ".status.conditions[type=\"Ready\"].type", ".status.conditions[type=\"Ready\"].status",
            ".status.conditions[type=\"Ready\"].lastTransitionTime", ".status.conditions[type=\"Ready\"].lastProbeTime",
            ".status.conditions[type=\"Ready\"].reason",
            ".status.containerStatuses", ".status.hostIP", ".status.hostIPs", ".status.podIP",
            ".status.podIPs", ".status.podIPs[ip=\"10.244.1.2\"]", ".status.podIPs[ip=\"10.244.1.2\"].ip", ".status.startTime",
        ])
        // Written as kube-apiserver writes it: the added list owned itself (`.`), atomic lists whole.
        let json = try #require(managed?.arrayValue?[1])
        #expect(json["subresource"] == "status" && json["fieldsType"] == "FieldsV1" && json["manager"] == "kubelet")
        let status = try #require(json["fieldsV1"]?["f:status"])
        #expect(status["f:podIPs"] == [".": [:], #"k:{"ip":"10.244.1.2"}"#: [".": [:], "f:ip": [:]]])
        #expect(status["f:containerStatuses"] == [:] && status["f:hostIPs"] == [:])
        #expect(status["f:conditions"]?["."] == nil, "the list existed before (PodScheduled): not the kubelet's")
        #expect(status["f:conditions"]?[#"k:{"type":"Ready"}"#]?["."] == [:])
        #expect(status["f:phase"] == nil && status["f:qosClass"] == nil && status["f:conditions"]?[#"k:{"type":"PodScheduled"}"#] == nil)
        // The client's entry is untouched.
        #expect(entries[0] == ManagedFieldsEntry(Self.clientEntry.arrayValue![0]))
    }

    @Test("a later write: the kubelet takes what changed (phase, a condition's status), one entry, a new time")
    func laterKubeletWrite() throws {
        let first = PodStatusOwnership.recordKubeletWrite(from: nil, to: Self.created, managedFields: Self.clientEntry, time: Self.t0)
        var running = Self.created
        running.phase = .running
        running.conditions[2].status = .true
        running.conditions[2].reason = ""
        running.containerStatuses[0].state = .running(startedAt: Self.t1)
        let second = PodStatusOwnership.recordKubeletWrite(from: Self.created, to: running, managedFields: first, time: Self.t1)
        let entries = try #require(second?.arrayValue).compactMap(ManagedFieldsEntry.init)
        #expect(entries.map(\.manager) == ["kubectl-run", "kubelet"])
        #expect(entries[1].time == Self.t1)
        let owned = Self.printed(entries[1])
        #expect(owned.contains(".status.phase"))
        // The reason it removed is no one's any more.
        #expect(!owned.contains(".status.conditions[type=\"Ready\"].reason"))
        #expect(owned.contains(".status.conditions[type=\"Ready\"].status") && owned.contains(".status.podIPs"))
        #expect(!owned.contains(".status.conditions"), "a keyed list present before and after is not taken by changing an element")
    }

    @Test("a write that leaves the status as it was changes nothing, and does not read the entries")
    func unchangedStatus() {
        let unreadable: JSONValue = "not entries"
        #expect(PodStatusOwnership.recordKubeletWrite(from: Self.created, to: Self.created, managedFields: unreadable, time: Self.t1) == unreadable)
        let same = ManagedFields.recordStatusUpdate(from: Self.created.json, to: Self.created.json, managedFields: unreadable,
                                                    manager: "kubelet", apiVersion: "v1", time: Self.t1)
        #expect(same == unreadable)
    }

    @Test("a user's server-side apply after the kubelet's writes: no conflict, the kubelet's entry stays")
    func applyAfterStatusWrites() throws {
        var pod: JSONValue = [
            "apiVersion": "v1", "kind": "Pod", "metadata": ["name": "web", "namespace": "default", "labels": ["run": "web"]],
            "spec": ["containers": [["name": "web", "image": "nginx"]]],
        ]
        pod = try ManagedFields.apply(pod, to: nil, manager: "kubectl", force: false, time: Self.t0)
        guard case .object(var fields) = pod, case .object(var metadata)? = fields["metadata"] else { Issue.record("not an object"); return }
        fields["status"] = Self.created.json
        metadata["managedFields"] = PodStatusOwnership.recordKubeletWrite(from: nil, to: Self.created, managedFields: metadata["managedFields"], time: Self.t0)
        fields["metadata"] = .object(metadata)
        let live = JSONValue.object(fields)

        let configuration: JSONValue = [
            "apiVersion": "v1", "kind": "Pod", "metadata": ["name": "web", "labels": ["run": "web", "tier": "front"]],
            "spec": ["containers": [["name": "web", "image": "nginx"]]],
        ]
        let applied = try ManagedFields.apply(configuration, to: live, manager: "kubectl", force: false, time: Self.t1)
        let entries = ManagedFields.entries(of: applied)
        #expect(entries.map { "\($0.manager)/\($0.operation.rawValue)/\($0.subresource ?? "")" } == ["kubectl/Apply/", "kubelet/Update/status"])
        #expect(entries[1].fields == ManagedFields.entries(of: live)[1].fields)
        #expect(applied["status"] == live["status"])
        // A client's update of the object leaves the kubelet's entry alone too.
        var labelled = applied
        labelled = try PatchType.merge.apply([ "metadata": ["labels": ["checked": "yes"]]], to: labelled)
        let updated = ManagedFields.recordUpdate(from: applied, to: labelled, manager: "kubectl-label", apiVersion: "v1", time: Self.t1)
        let after = ManagedFields.entries(of: updated)
        // Updates by time: the kubelet's (t0) before the label's (t1).
        #expect(after.map(\.manager) == ["kubectl", "kubelet", "kubectl-label"])
        #expect(after[1].fields == entries[1].fields)
    }

    @Test("a controller's write: the object's fields and its status are two Update entries of one manager")
    func controllerWrite() throws {
        var replicaSet = ReplicaSet()
        replicaSet.metadata = ObjectMeta(name: "web-abc", namespace: "default", labels: ["app": "web"])
        replicaSet.spec.replicas = 2
        let created = replicaSet.recordingWrite(by: FieldManagerName.controllerManager, over: nil, time: Self.t0)
        var createdEntries = ManagedFields.entries(of: created.json)
        #expect(createdEntries.count == 1)
        #expect(createdEntries[0].manager == "kube-controller-manager" && createdEntries[0].subresource == nil && createdEntries[0].apiVersion == "apps/v1")
        #expect(Self.printed(createdEntries[0]).contains(".spec.replicas"))

        var counted = created
        counted.status.replicas = 2
        counted.status.observedGeneration = 1
        let written = counted.recordingWrite(by: FieldManagerName.controllerManager, over: created, time: Self.t1)
        createdEntries = ManagedFields.entries(of: written.json)
        #expect(createdEntries.map { "\($0.manager)/\($0.subresource ?? "")" } == ["kube-controller-manager/", "kube-controller-manager/status"])
        #expect(Self.printed(createdEntries[1]) == [".status.replicas", ".status.observedGeneration"])
        #expect(createdEntries[0].time == Self.t0, "the object itself did not change")
    }

    @Test("entries in kube-apiserver's order: Apply first, then by time, manager, API version, subresource")
    func order() {
        func entry(_ manager: String, _ operation: ManagedFieldsEntry.Operation, _ time: Timestamp, _ subresource: String? = nil) -> ManagedFieldsEntry {
            ManagedFieldsEntry(manager: manager, operation: operation, apiVersion: "v1", time: time, fields: ManagedFieldSet([[.field("x")]]), subresource: subresource)
        }
        let sorted = ManagedFields.sorted([
            entry("kubelet", .update, Self.t0, "status"), entry("zz", .apply, Self.t1), entry("kubectl-run", .update, Self.t1),
            entry("kubectl-run", .update, Self.t0), entry("aa", .apply, Self.t1),
        ])
        #expect(sorted.map { "\($0.manager) \($0.time!.secondsSince1970 - Self.t0.secondsSince1970)" } == [
            "aa 5", "zz 5", "kubectl-run 0", "kubelet 0", "kubectl-run 5",
        ])
    }
    @Test("a node: the kubelet's registration owns its labels, kube-controller-manager its pod CIDR, the kubelet's status entry is the heartbeat's")
    func node() throws {
        let node = Node(
            metadata: ObjectMeta(name: "n1", labels: ["kubernetes.io/hostname": "n1", "kubernetes.io/os": "linux"], uid: "u", resourceVersion: "1",
                                 creationTimestamp: Self.t0),
            spec: NodeSpec(podCIDR: "10.244.1.0/24", podCIDRs: ["10.244.1.0/24"]),
            status: NodeStatus(addresses: [NodeAddress(type: .internalIP, address: "192.168.200.11")],
                               conditions: [NodeCondition(type: .ready, status: .true, lastHeartbeatTime: Self.t1, lastTransitionTime: Self.t0,
                                                          reason: "KubeletReady", message: "ready")]))
        let entries = ManagedFields.entries(of: NodeOwnership.recording(node, heartbeat: Self.t1).json)
        #expect(entries.map { "\($0.manager)/\($0.subresource ?? "")" } == ["kube-controller-manager/", "kubelet/", "kubelet/status"])
        let controller = entries[0], kubelet = entries[1], status = entries[2]
        #expect(Self.printed(controller) == [".spec.podCIDR", ".spec.podCIDRs"] && controller.time == Self.t0)
        #expect(Self.printed(kubelet) == [".metadata.labels.kubernetes.io/hostname", ".metadata.labels.kubernetes.io/os"] && kubelet.time == Self.t0,
                "\(Self.printed(kubelet))")
        #expect(status.time == Self.t1 && status.operation == .update && status.apiVersion == "v1")
        #expect(Self.printed(status).contains(".status.addresses[type=\"InternalIP\"].address"), "addresses are keyed by type: \(Self.printed(status))")
        #expect(Self.printed(status).contains(".status.conditions[type=\"Ready\"].lastHeartbeatTime"), "\(Self.printed(status))")
        #expect(!Self.printed(status).contains { $0.hasPrefix(".spec") || $0.hasPrefix(".metadata") })
    }

    @Test("an event is its reporter's: the kubelet's, the scheduler's, kube-controller-manager's; a repeat moves the entry's time")
    func events() throws {
        func event(_ source: String, count: Int32 = 1, last: Timestamp = Self.t0) -> Event {
            Event(metadata: ObjectMeta(name: "web.1", namespace: "default", uid: "u", resourceVersion: "1", creationTimestamp: Self.t0),
                  involvedObject: ObjectReference(kind: "Pod", namespace: "default", name: "web", uid: "p", apiVersion: "v1"),
                  reason: "Started", message: "Started container web", type: .normal, sourceComponent: source,
                  firstTimestamp: Self.t0, lastTimestamp: last, count: count)
        }
        let managers = ["kubelet", "default-scheduler", "replicaset-controller"].map { source in
            ManagedFields.entries(of: EventOwnership.recording(event(source), over: nil, time: Self.t0).json).map(\.manager)
        }
        #expect(managers == [["kubelet"], ["kube-scheduler"], ["kube-controller-manager"]])
        let first = EventOwnership.recording(event("kubelet"), over: nil, time: Self.t0)
        let fields = Self.printed(try #require(ManagedFields.entries(of: first.json).first))
        #expect(fields == [".count", ".reason", ".message", ".type", ".source.component", ".involvedObject",
                           ".firstTimestamp", ".lastTimestamp", ".reportingComponent", ".reportingInstance"], "\(fields)")
        var repeated = event("kubelet", count: 2, last: Self.t1)
        repeated.metadata.preservedFields["managedFields"] = first.metadata.preservedFields["managedFields"]
        let entries = ManagedFields.entries(of: EventOwnership.recording(repeated, over: first, time: Self.t1).json)
        #expect(entries.count == 1 && entries[0].manager == "kubelet" && entries[0].time == Self.t1)
    }
}
