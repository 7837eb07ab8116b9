import Foundation
import PodNet

extension Controller {
    // MARK: Objects

    func deployment(_ namespace: String, _ name: String) throws -> Deployment {
        guard let deployment = deployments["\(namespace)/\(name)"] else { throw APIStatus.notFound(resource: Deployment.qualifiedResource, name: name) }
        return deployment
    }

    func replicaSet(_ namespace: String, _ name: String) throws -> ReplicaSet {
        guard let replicaSet = replicaSets["\(namespace)/\(name)"] else { throw APIStatus.notFound(resource: ReplicaSet.qualifiedResource, name: name) }
        return replicaSet
    }

    /// An apps/v1 validation failure, named as the API server names it (`Deployment.apps "web" is invalid`).
    static func appsInvalid(_ error: InvalidObjectError) -> APIStatus {
        .invalid(kind: error.kind, group: "apps", name: error.name, errors: error.errors)
    }

    /// Reads a workload from a request body for `namespace`.
    static func decodeWorkload<T: StoredObject>(_ body: Data, as type: T.Type, namespace: String) throws -> T {
        var object = try decodeObject(body, as: T.self)
        if object.metadata.namespace.isEmpty { object.metadata.namespace = namespace }
        guard object.metadata.namespace == namespace else {
            throw APIStatus.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        return object
    }

    // MARK: Deployments

    /// Creates a Deployment: validated, defaulted, stored with generation 1; its first
    /// ReplicaSet and pods follow from the sync.
    public func createDeployment(namespace: String, body: Data, dryRun: Bool) async throws -> Data {
        try requireReady()
        var deployment = try Controller.decodeWorkload(body, as: Deployment.self, namespace: namespace).applyingDefaults()
        do { try deployment.validated() } catch { throw Controller.appsInvalid(error) }
        try requireNamespace(namespace, resource: Deployment.qualifiedResource, name: deployment.metadata.name)
        guard deployments[objectKey(deployment)] == nil else {
            throw APIStatus.alreadyExists(resource: Deployment.qualifiedResource, name: deployment.metadata.name)
        }
        deployment.status = DeploymentStatus()
        deployment.metadata.generation = 1
        if dryRun { return Data(deployment.json.jsonText(indent: 0).utf8) }
        deployment = try persist(Controller.stamped(deployment), .added)
        deployments[objectKey(deployment)] = deployment
        markWorkloadsStale(namespace)
        return Data(deployment.json.jsonText(indent: 0).utf8)
    }

    /// Replaces a Deployment's spec, labels and annotations; a new spec is a new generation (and
    /// a new template a new rollout). The status stays the controller's.
    public func replaceDeployment(namespace: String, name: String, body: Data, dryRun: Bool) async throws -> Data {
        try requireReady()
        let old = try deployment(namespace, name)
        var new = try Controller.decodeWorkload(body, as: Deployment.self, namespace: namespace).applyingDefaults()
        guard new.metadata.name == name else {
            throw APIStatus.badRequest("the name of the object (\(new.metadata.name)) does not match the name on the URL (\(name))")
        }
        if !new.metadata.resourceVersion.isEmpty, new.metadata.resourceVersion != old.metadata.resourceVersion {
            throw APIStatus.conflict(resource: Deployment.qualifiedResource, name: name)
        }
        do { try new.validatedUpdate(from: old) } catch { throw Controller.appsInvalid(error) }
        new.metadata.uid = old.metadata.uid
        new.metadata.creationTimestamp = old.metadata.creationTimestamp
        new.metadata.generation = (old.metadata.generation ?? 1) + (new.spec == old.spec ? 0 : 1)
        // The revision is the controller's to keep.
        new.metadata.annotations[Deployment.revisionAnnotation] = old.metadata.annotations[Deployment.revisionAnnotation]
        new.status = old.status
        // An update that changes nothing after defaulting is not stored: no new resourceVersion, no event.
        if UnchangedWrite.isUnchanged(stored: old.json, written: new.json) { return Data(old.json.jsonText(indent: 0).utf8) }
        if dryRun {
            new.metadata.resourceVersion = old.metadata.resourceVersion
            return Data(new.json.jsonText(indent: 0).utf8)
        }
        new = try persist(new, .modified)
        deployments[objectKey(new)] = new
        markWorkloadsStale(namespace)
        return Data(new.json.jsonText(indent: 0).utf8)
    }

    /// Deletes a Deployment, and with it (as the garbage collector does in the background)
    /// its ReplicaSets and their pods.
    public func deleteDeployment(namespace: String, name: String, dryRun: Bool) async throws -> Data {
        let deployment = try deployment(namespace, name)
        if !dryRun { try removeDeployment(deployment) }
        return Data(deployment.json.jsonText(indent: 0).utf8)
    }

    func removeDeployment(_ deployment: Deployment) throws {
        try removeStored(deployment)
        deployments.removeValue(forKey: objectKey(deployment))
        for replicaSet in ownedReplicaSets(of: deployment) { try removeReplicaSet(replicaSet) }
    }

    // MARK: ReplicaSets

    public func createReplicaSet(namespace: String, body: Data, dryRun: Bool) async throws -> Data {
        try requireReady()
        var replicaSet = try Controller.decodeWorkload(body, as: ReplicaSet.self, namespace: namespace).applyingDefaults()
        do { try replicaSet.validated() } catch { throw Controller.appsInvalid(error) }
        try requireNamespace(namespace, resource: ReplicaSet.qualifiedResource, name: replicaSet.metadata.name)
        guard replicaSets[objectKey(replicaSet)] == nil else {
            throw APIStatus.alreadyExists(resource: ReplicaSet.qualifiedResource, name: replicaSet.metadata.name)
        }
        replicaSet.status = ReplicaSetStatus()
        replicaSet.metadata.generation = 1
        if dryRun { return Data(replicaSet.json.jsonText(indent: 0).utf8) }
        replicaSet = try persist(Controller.stamped(replicaSet), .added)
        replicaSets[objectKey(replicaSet)] = replicaSet
        markWorkloadsStale(namespace)
        return Data(replicaSet.json.jsonText(indent: 0).utf8)
    }

    public func replaceReplicaSet(namespace: String, name: String, body: Data, dryRun: Bool) async throws -> Data {
        try requireReady()
        let old = try replicaSet(namespace, name)
        var new = try Controller.decodeWorkload(body, as: ReplicaSet.self, namespace: namespace).applyingDefaults()
        guard new.metadata.name == name else {
            throw APIStatus.badRequest("the name of the object (\(new.metadata.name)) does not match the name on the URL (\(name))")
        }
        if !new.metadata.resourceVersion.isEmpty, new.metadata.resourceVersion != old.metadata.resourceVersion {
            throw APIStatus.conflict(resource: ReplicaSet.qualifiedResource, name: name)
        }
        do { try new.validatedUpdate(from: old) } catch { throw Controller.appsInvalid(error) }
        new.metadata.uid = old.metadata.uid
        new.metadata.creationTimestamp = old.metadata.creationTimestamp
        new.metadata.generation = (old.metadata.generation ?? 1) + (new.spec == old.spec ? 0 : 1)
        new.metadata.preservedFields["ownerReferences"] = old.metadata.preservedFields["ownerReferences"]
        new.status = old.status
        if dryRun {
            new.metadata.resourceVersion = old.metadata.resourceVersion
            return Data(new.json.jsonText(indent: 0).utf8)
        }
        new = try persist(new, .modified)
        replicaSets[objectKey(new)] = new
        markWorkloadsStale(namespace)
        return Data(new.json.jsonText(indent: 0).utf8)
    }

    public func deleteReplicaSet(namespace: String, name: String, dryRun: Bool) async throws -> Data {
        let replicaSet = try replicaSet(namespace, name)
        if !dryRun { try removeReplicaSet(replicaSet) }
        return Data(replicaSet.json.jsonText(indent: 0).utf8)
    }

    /// Removes a ReplicaSet and starts the deletion of its pods.
    func removeReplicaSet(_ replicaSet: ReplicaSet) throws {
        try removeStored(replicaSet)
        replicaSets.removeValue(forKey: objectKey(replicaSet))
        for pod in ownedPods(of: replicaSet) { beginDeletion(pod) }
        markWorkloadsStale(replicaSet.metadata.namespace)
    }

    /// Everything of the kind in a namespace being deleted.
    func removeWorkloads(in namespace: String) throws {
        for deployment in deployments.values where deployment.metadata.namespace == namespace { try removeDeployment(deployment) }
        for replicaSet in replicaSets.values where replicaSet.metadata.namespace == namespace { try removeReplicaSet(replicaSet) }
    }

    func ownedReplicaSets(of deployment: Deployment) -> [ReplicaSet] {
        replicaSets.values.filter {
            $0.metadata.namespace == deployment.metadata.namespace && ReplicaSetScaling.controllerUID(of: $0.metadata) == deployment.metadata.uid
        }.sorted { ($0.metadata.creationTimestamp?.secondsSince1970 ?? 0, $0.metadata.name) < ($1.metadata.creationTimestamp?.secondsSince1970 ?? 0, $1.metadata.name) }
    }

    func ownedPods(of replicaSet: ReplicaSet) -> [Pod] {
        pods.values.filter { $0.metadata.namespace == replicaSet.metadata.namespace && ReplicaSetScaling.isControlled($0, by: replicaSet.metadata.uid) }
    }

    // MARK: Sync

    /// Pods, ReplicaSets or Deployments of `namespace` changed: its workloads are synced soon,
    /// once for a burst of changes.
    func markWorkloadsStale(_ namespace: String) {
        staleWorkloadNamespaces.insert(namespace)
        guard !workloadSyncScheduled else { return }
        workloadSyncScheduled = true
        Task { self.syncStaleWorkloads() }
    }

    /// Syncs `namespace` again in a few seconds, as the controllers requeue a failed sync.
    func retryWorkloads(_ namespace: String) {
        guard workloadRetryNamespaces.insert(namespace).inserted else { return }
        Task {
            try? await Task.sleep(for: .seconds(5))
            self.workloadRetryNamespaces.remove(namespace)
            self.markWorkloadsStale(namespace)
        }
    }

    func syncAllWorkloads() {
        // Pods with a controller too: their ReplicaSet may be gone (deleted before a crash).
        let controlled = pods.values.map(\.metadata).filter { ReplicaSetScaling.controllerUID(of: $0) != nil }
        for object in Array(deployments.values.map(\.metadata)) + replicaSets.values.map(\.metadata) + controlled {
            staleWorkloadNamespaces.insert(object.namespace)
        }
        syncStaleWorkloads()
    }

    func syncStaleWorkloads() {
        workloadSyncScheduled = false
        let stale = staleWorkloadNamespaces
        staleWorkloadNamespaces.removeAll()
        guard phase == .ready else { return }
        for namespace in stale.sorted() {
            if syncWorkloads(in: namespace) { markWorkloadsStale(namespace) }
        }
    }

    /// One pass over a namespace: ReplicaSets first (their pods and status), then Deployments
    /// (which ReplicaSet to scale, from those statuses). Returns whether anything changed that
    /// the next pass must look at.
    func syncWorkloads(in namespace: String) -> Bool {
        var changed = false
        collectOrphans(in: namespace)
        for key in replicaSets.keys.sorted() where replicaSets[key]?.metadata.namespace == namespace {
            changed = syncReplicaSet(key) || changed
        }
        for key in deployments.keys.sorted() where deployments[key]?.metadata.namespace == namespace {
            changed = syncDeployment(key) || changed
        }
        return changed
    }

    /// The garbage collector's part: ReplicaSets whose Deployment is gone and pods whose
    /// ReplicaSet is gone (an agent stopped half-way through a cascade) are deleted.
    func collectOrphans(in namespace: String) {
        let deploymentUIDs = Set(deployments.values.map(\.metadata.uid))
        for replicaSet in replicaSets.values where replicaSet.metadata.namespace == namespace {
            guard let owner = ReplicaSetScaling.controllerUID(of: replicaSet.metadata), !deploymentUIDs.contains(owner) else { continue }
            do { try removeReplicaSet(replicaSet) } catch { logger.error("replicaset \(objectKey(replicaSet)): deletion failed: \(error)") }
        }
        let replicaSetUIDs = Set(replicaSets.values.map(\.metadata.uid))
        for pod in pods.values where pod.metadata.namespace == namespace && pod.metadata.deletionTimestamp == nil {
            let references = pod.metadata.preservedFields["ownerReferences"]?.arrayValue ?? []
            guard references.contains(where: { $0["kind"] == .string(ReplicaSet.kind) }),
                  let owner = ReplicaSetScaling.controllerUID(of: pod.metadata), !replicaSetUIDs.contains(owner) else { continue }
            beginDeletion(pod)
        }
    }

    /// Makes or deletes the ReplicaSet's pods so that `replicas` are active, and stores its
    /// status when it changed.
    func syncReplicaSet(_ key: String) -> Bool {
        guard var replicaSet = replicaSets[key] else { return false }
        let owned = ownedPods(of: replicaSet)
        var changed = false
        switch ReplicaSetScaling.action(desired: replicaSet.desiredReplicas, pods: owned) {
        case let .create(count):
            for _ in 0..<count {
                var name = ""
                repeat { name = SafeAlphabet.random() } while pods["\(replicaSet.metadata.namespace)/\(replicaSet.metadata.name)-\(name)"] != nil
                let pod = ReplicaSetScaling.pod(for: replicaSet, suffix: name).applyingDefaults()
                    .recordingWrite(by: FieldManagerName.controllerManager, over: nil, time: .now())
                do {
                    try admitPod(pod, namespace: replicaSet.metadata.namespace, controlled: true)
                    recordEvent(replicaSet, type: .normal, reason: EventReason.successfulCreate, message: "Created pod: \(pod.metadata.name)",
                                source: "replicaset-controller")
                    changed = true
                } catch {
                    logger.error("replicaset \(key): creating pod \(pod.metadata.name) failed: \(error)")
                    retryWorkloads(replicaSet.metadata.namespace)
                    break
                }
            }
        case let .delete(names):
            for name in names {
                if let pod = pods["\(replicaSet.metadata.namespace)/\(name)"] {
                    beginDeletion(pod)
                    recordEvent(replicaSet, type: .normal, reason: EventReason.successfulDelete, message: "Deleted pod: \(name)",
                                source: "replicaset-controller")
                }
            }
            changed = true
        case .none:
            break
        }
        let status = ReplicaSetScaling.status(of: replicaSet, pods: ownedPods(of: replicaSet), now: .now())
        // Ready pods become available after `minReadySeconds` without any change of their own:
        // look again then.
        if replicaSet.spec.minReadySeconds > 0, status.availableReplicas < status.readyReplicas {
            let namespace = replicaSet.metadata.namespace
            Task {
                try? await Task.sleep(for: .seconds(1))
                self.markWorkloadsStale(namespace)
            }
        }
        if status != replicaSet.status {
            replicaSet.status = status
            do {
                replicaSet = try persist(replicaSet.recordingWrite(by: FieldManagerName.controllerManager, over: replicaSets[key], time: .now()), .modified)
                replicaSets[key] = replicaSet
            } catch {
                logger.error("replicaset \(key): storing its status failed: \(error)")
            }
        }
        return changed
    }

    /// One step of the Deployment's rollout: its new ReplicaSet made (or its revision moved up,
    /// after a rollback), ReplicaSets scaled, history beyond the limit deleted, status stored.
    func syncDeployment(_ key: String) -> Bool {
        guard var deployment = deployments[key] else { return false }
        var owned = ownedReplicaSets(of: deployment)
        var changed = false
        do {
            var new = DeploymentRollout.newReplicaSet(for: deployment, among: owned)
            var old = owned.filter { $0.metadata.name != new?.metadata.name }
            let maxOldRevision = DeploymentRollout.maxRevision(old)
            func counts(_ replicaSet: ReplicaSet) -> DeploymentRollout.Counts {
                var counts = DeploymentRollout.Counts(replicaSet)
                // Recreate waits for old pods to be gone, not merely terminating.
                counts.current = ownedPods(of: replicaSet).filter { !($0.status.phase?.isTerminal ?? false) }.count
                return counts
            }
            if new == nil {
                let replicas = DeploymentRollout.initialReplicas(for: deployment, old: old.map(counts))
                var created = DeploymentRollout.makeReplicaSet(for: deployment, revision: maxOldRevision + 1, replicas: replicas)
                guard replicaSets[objectKey(created)] == nil else {
                    // A ReplicaSet of that name that is not this template's: a hash collision.
                    deployment.status.collisionCount = (deployment.status.collisionCount ?? 0) + 1
                    deployment = try persist(deployment.recordingWrite(by: FieldManagerName.controllerManager, over: deployments[key], time: .now()),
                                             .modified)
                    deployments[key] = deployment
                    return true
                }
                created.metadata.generation = 1
                created = try persist(Controller.stamped(created).recordingWrite(by: FieldManagerName.controllerManager, over: nil, time: .now()),
                                      .added)
                replicaSets[objectKey(created)] = created
                logger.info("deployment \(key): created replicaset \(created.metadata.name) with \(replicas) replica(s)")
                if replicas > 0 {
                    recordEvent(deployment, type: .normal, reason: EventReason.scalingReplicaSet,
                                message: "Scaled up replica set \(created.metadata.name) from 0 to \(replicas)", source: "deployment-controller")
                }
                new = created
                owned.append(created)
                changed = true
            } else if var current = new, DeploymentRollout.revision(of: current.metadata) <= maxOldRevision {
                // Back to an old template (a rollback): it becomes the newest revision.
                current.metadata.annotations[Deployment.revisionAnnotation] = String(maxOldRevision + 1)
                current = try persist(current.recordingWrite(by: FieldManagerName.controllerManager, over: replicaSets[objectKey(current)],
                                                             time: .now()), .modified)
                replicaSets[objectKey(current)] = current
                new = current
                changed = true
            }
            guard var newSet = new else { return changed }
            let steps = DeploymentRollout.step(strategy: deployment.spec.strategy, desired: deployment.desiredReplicas,
                                               new: counts(newSet), old: old.map(counts))
            for (name, replicas) in steps.sorted(by: { $0.key < $1.key }) {
                guard var replicaSet = replicaSets["\(deployment.metadata.namespace)/\(name)"], replicaSet.desiredReplicas != replicas else { continue }
                let before = replicaSet.desiredReplicas
                replicaSet.spec.replicas = Int32(replicas)
                replicaSet.metadata.generation = (replicaSet.metadata.generation ?? 1) + 1
                replicaSet.metadata.annotations[Deployment.desiredReplicasAnnotation] = String(deployment.desiredReplicas)
                replicaSet = try persist(replicaSet.recordingWrite(by: FieldManagerName.controllerManager, over: replicaSets[objectKey(replicaSet)],
                                                                   time: .now()), .modified)
                replicaSets[objectKey(replicaSet)] = replicaSet
                if name == newSet.metadata.name { newSet = replicaSet }
                logger.info("deployment \(key): scaled replicaset \(name) to \(replicas)")
                recordEvent(deployment, type: .normal, reason: EventReason.scalingReplicaSet,
                            message: "Scaled \(replicas > before ? "up" : "down") replica set \(name) from \(before) to \(replicas)",
                            source: "deployment-controller")
                changed = true
            }
            old = ownedReplicaSets(of: deployment).filter { $0.metadata.name != newSet.metadata.name }
            for replicaSet in DeploymentRollout.historyToDelete(old: old, limit: deployment.spec.revisionHistoryLimit) {
                try removeReplicaSet(replicaSet)
                changed = true
            }
            var updated = deployment
            updated.metadata.annotations[Deployment.revisionAnnotation] = newSet.metadata.annotations[Deployment.revisionAnnotation]
            updated.status = DeploymentRollout.status(of: deployment, new: newSet, all: ownedReplicaSets(of: deployment), now: .now())
            if updated != deployment {
                deployments[key] = try persist(updated.recordingWrite(by: FieldManagerName.controllerManager, over: deployment, time: .now()),
                                               .modified)
            }
            scheduleProgressDeadlineCheck(updated)
        } catch {
            logger.error("deployment \(key): sync failed: \(error)")
        }
        return changed
    }

    /// A rollout in progress fails when its deadline passes without progress, which nothing
    /// else would notice: the Deployment is synced again then.
    func scheduleProgressDeadlineCheck(_ deployment: Deployment) {
        let key = objectKey(deployment)
        guard let condition = deployment.status.condition("Progressing"), condition.reason == "ReplicaSetUpdated",
              let since = condition.lastUpdateTime, let deadline = deployment.spec.progressDeadlineSeconds,
              progressDeadlineChecks.insert(key).inserted else { return }
        let wait = max(1, Int64(deadline) - Timestamp.now().seconds(since: since) + 1)
        Task {
            try? await Task.sleep(for: .seconds(wait))
            self.progressDeadlineChecks.remove(key)
            self.markWorkloadsStale(deployment.metadata.namespace)
        }
    }

    // MARK: API

    public func listDeployments(namespace: String?, options: ListOptions) async throws -> Data {
        try listData(try filtered(deployments.values, namespace: namespace, selector: options.labelSelector))
    }

    public func listReplicaSets(namespace: String?, options: ListOptions) async throws -> Data {
        try listData(try filtered(replicaSets.values, namespace: namespace, selector: options.labelSelector))
    }

    func watchDeployments(namespace: String?, options: ListOptions) throws -> WatchLines {
        try watchStream(Deployment.self, namespace: namespace, options: options, current: filtered(deployments.values, namespace: namespace, selector: options.labelSelector))
    }

    func watchReplicaSets(namespace: String?, options: ListOptions) throws -> WatchLines {
        try watchStream(ReplicaSet.self, namespace: namespace, options: options, current: filtered(replicaSets.values, namespace: namespace, selector: options.labelSelector))
    }

    /// The routes of deployments and replica sets, under `/apis/apps/v1`.
    nonisolated func workloadResources() -> [(prefix: String, resource: String, namespaced: Bool, handlers: ResourceHandlers)] {
        @Sendable func data<T: StoredObject>(_ object: T) -> Data { Data(object.json.jsonText(indent: 0).utf8) }
        let deploymentHandlers = ResourceHandlers(
            list: { namespace, options in try await self.listDeployments(namespace: namespace, options: options) },
            watch: { namespace, options in try await self.watchDeployments(namespace: namespace, options: options) },
            get: { namespace, name in data(try await self.deployment(namespace ?? "default", name)) },
            create: { namespace, body, dryRun in try await self.createDeployment(namespace: namespace ?? "default", body: body, dryRun: dryRun) },
            replace: { namespace, name, body, dryRun in try await self.replaceDeployment(namespace: namespace ?? "default", name: name, body: body, dryRun: dryRun) },
            delete: { namespace, name, dryRun in try await self.deleteDeployment(namespace: namespace ?? "default", name: name, dryRun: dryRun) })
        let replicaSetHandlers = ResourceHandlers(
            list: { namespace, options in try await self.listReplicaSets(namespace: namespace, options: options) },
            watch: { namespace, options in try await self.watchReplicaSets(namespace: namespace, options: options) },
            get: { namespace, name in data(try await self.replicaSet(namespace ?? "default", name)) },
            create: { namespace, body, dryRun in try await self.createReplicaSet(namespace: namespace ?? "default", body: body, dryRun: dryRun) },
            replace: { namespace, name, body, dryRun in try await self.replaceReplicaSet(namespace: namespace ?? "default", name: name, body: body, dryRun: dryRun) },
            delete: { namespace, name, dryRun in try await self.deleteReplicaSet(namespace: namespace ?? "default", name: name, dryRun: dryRun) })
        return [
            (Deployment.apiPrefix, Deployment.resource, true, deploymentHandlers),
            (ReplicaSet.apiPrefix, ReplicaSet.resource, true, replicaSetHandlers),
        ]
    }
}
