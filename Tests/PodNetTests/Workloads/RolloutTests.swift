import Testing
@testable import PodNet

@Suite("Rollout decisions")
struct RolloutTests {
    typealias Counts = DeploymentRollout.Counts

    static let rolling = DeploymentStrategy(type: .rollingUpdate, maxSurge: .string("25%"), maxUnavailable: .string("25%"))

    @Test("percentages: surge rounds up, unavailability down; both 0 allow one unavailable",
          arguments: [(3, "25%", "25%", 1, 0), (10, "25%", "25%", 3, 2), (4, "50%", "0%", 2, 0), (5, "0%", "0%", 0, 1), (1, "100%", "100%", 1, 1)])
    func limits(_ desired: Int, _ surge: String, _ unavailable: String, _ expectedSurge: Int, _ expectedUnavailable: Int) {
        let strategy = DeploymentStrategy(type: .rollingUpdate, maxSurge: .string(surge), maxUnavailable: .string(unavailable))
        let limits = DeploymentRollout.limits(strategy, desired: desired)
        #expect(limits.maxSurge == expectedSurge)
        #expect(limits.maxUnavailable == expectedUnavailable)
    }

    @Test("a ReplicaSet creates what is missing and deletes the surplus, unready and newer pods first")
    func replicaSetActions() {
        func pod(_ name: String, ready: Bool, created: Int64, phase: PodPhase = .running, deleting: Bool = false) -> Pod {
            var pod = Pod(metadata: ObjectMeta(name: name, creationTimestamp: Timestamp(secondsSince1970: created)))
            pod.spec.nodeName = "n1"
            pod.status.phase = phase
            pod.status.conditions = [PodCondition(type: .ready, status: ready ? .true : .false, lastTransitionTime: Timestamp(secondsSince1970: created + 1))]
            if deleting { pod.metadata.deletionTimestamp = Timestamp(secondsSince1970: 100) }
            return pod
        }
        let pods = [pod("a", ready: true, created: 1), pod("b", ready: false, created: 2), pod("c", ready: true, created: 3),
                    pod("gone", ready: true, created: 4, deleting: true), pod("done", ready: false, created: 5, phase: .succeeded)]
        #expect(ReplicaSetScaling.action(desired: 3, pods: pods) == .none)
        #expect(ReplicaSetScaling.action(desired: 5, pods: pods) == .create(2))
        #expect(ReplicaSetScaling.action(desired: 1, pods: pods) == .delete(["b", "c"]))
        #expect(ReplicaSetScaling.action(desired: 0, pods: pods) == .delete(["b", "c", "a"]))
        let set = ReplicaSet(metadata: ObjectMeta(name: "web-x", generation: 2),
                             spec: ReplicaSetSpec(replicas: 3, template: PodTemplateSpec(metadata: ObjectMeta(labels: ["app": "web"]))))
        let status = ReplicaSetScaling.status(of: set, pods: pods, now: Timestamp(secondsSince1970: 10))
        #expect(status.replicas == 3)
        #expect(status.readyReplicas == 2)
        #expect(status.availableReplicas == 2)
        #expect(status.observedGeneration == 2)
    }

    @Test("a ReplicaSet's pod: name, labels, owner")
    func podOfReplicaSet() {
        var set = ReplicaSet(metadata: ObjectMeta(name: "web-5d8f", namespace: "default", uid: "u1"),
                             spec: ReplicaSetSpec(replicas: 1, template: PodTemplateSpec(metadata: ObjectMeta(labels: ["app": "web", "pod-template-hash": "5d8f"]))))
        set.spec.template.spec.containers = [Container(name: "nginx", image: "nginx")]
        let pod = ReplicaSetScaling.pod(for: set, suffix: "x2b7k")
        #expect(pod.metadata.name == "web-5d8f-x2b7k")
        #expect(pod.metadata.labels == ["app": "web", "pod-template-hash": "5d8f"])
        #expect(ReplicaSetScaling.isControlled(pod, by: "u1"))
        #expect(!ReplicaSetScaling.isControlled(pod, by: "u2"))
    }

    @Test("a ReplicaSet's pod may be updated with the owner it was given, not given another")
    func ownedPodUpdate() {
        var set = ReplicaSet(metadata: ObjectMeta(name: "web-5d8f", namespace: "default", uid: "u1"),
                             spec: ReplicaSetSpec(replicas: 1, template: PodTemplateSpec(metadata: ObjectMeta(labels: ["app": "web"]))))
        set.spec.template.spec.containers = [Container(name: "nginx", image: "nginx")]
        let pod = ReplicaSetScaling.pod(for: set, suffix: "x2b7k").applyingDefaults()
        var relabelled = pod
        relabelled.metadata.labels["tier"] = "front"
        #expect(relabelled.validateUpdate(from: pod).isValid)
        var stolen = pod
        stolen.metadata.preservedFields["ownerReferences"] = ReplicaSetScaling.ownerReference(apiVersion: "apps/v1", kind: "ReplicaSet", name: "x", uid: "u2")
        #expect(stolen.validateUpdate(from: pod).errors.map(\.description) == ["metadata.ownerReferences: Forbidden: not supported by podlab yet"])
    }

    @Test("a rolling update of 3 replicas, step by step, never below 3 available nor above 4 pods")
    func rollingUpdateSteps() {
        var new = Counts(name: "new", replicas: 0)
        var old = Counts(name: "old", replicas: 3, current: 3, ready: 3, available: 3)
        var steps = 0
        while steps < 20 {
            let changes = DeploymentRollout.step(strategy: Self.rolling, desired: 3, new: new, old: [old])
            if changes.isEmpty {
                // Nothing to do until pods change: the new ones become available, the old ones go.
                if new.available < new.replicas {
                    new.available += 1
                } else if old.current > old.replicas {
                    old.current = old.replicas
                } else {
                    break
                }
                continue
            }
            steps += 1
            new.replicas = changes["new"] ?? new.replicas
            new.current = new.replicas
            if let scaled = changes["old"] {
                old.replicas = scaled
                old.available = min(old.available, scaled)
            }
            #expect(new.replicas + old.replicas <= 4, "surge beyond maxSurge")
            #expect(new.available + old.available >= 3, "below maxUnavailable")
        }
        #expect(new.replicas == 3 && new.available == 3)
        #expect(old.replicas == 0)
    }

    @Test("the first step surges, then old pods go only as new ones are available")
    func rollingUpdateFirstSteps() {
        let old = Counts(name: "old", replicas: 3, current: 3, ready: 3, available: 3)
        #expect(DeploymentRollout.step(strategy: Self.rolling, desired: 3, new: Counts(name: "new", replicas: 0), old: [old]) == ["new": 1])
        // 25% of 3 is no pod unavailable: an old pod goes only once the new one is available.
        #expect(DeploymentRollout.step(strategy: Self.rolling, desired: 3, new: Counts(name: "new", replicas: 1, current: 1), old: [old]).isEmpty)
        #expect(DeploymentRollout.step(strategy: Self.rolling, desired: 3, new: Counts(name: "new", replicas: 1, current: 1, ready: 1, available: 1),
                                       old: [old]) == ["old": 2])
        // With 10 replicas, 2 may be unavailable: old pods go before new ones are available.
        let ten = Counts(name: "old", replicas: 10, current: 10, ready: 10, available: 10)
        #expect(DeploymentRollout.step(strategy: Self.rolling, desired: 10, new: Counts(name: "new", replicas: 3, current: 3), old: [ten]) == ["old": 8])
        // Unavailable old pods go first, whatever their ReplicaSet.
        let broken = Counts(name: "broken", replicas: 2, current: 2)
        #expect(DeploymentRollout.step(strategy: Self.rolling, desired: 3, new: Counts(name: "new", replicas: 1, current: 1, ready: 1, available: 1),
                                       old: [old, broken]) == ["broken": 0, "old": 2])
    }

    @Test("scaling without a rollout sets the new ReplicaSet's replicas")
    func scaling() {
        let new = Counts(name: "new", replicas: 3, current: 3, ready: 3, available: 3)
        #expect(DeploymentRollout.step(strategy: Self.rolling, desired: 1, new: new, old: []) == ["new": 1])
        #expect(DeploymentRollout.step(strategy: Self.rolling, desired: 4, new: new, old: []) == ["new": 4])
        #expect(DeploymentRollout.step(strategy: Self.rolling, desired: 3, new: new, old: []).isEmpty)
    }

    @Test("Recreate: old to 0, wait for its pods to go, then the new one up")
    func recreate() {
        let strategy = DeploymentStrategy(type: .recreate)
        let new = Counts(name: "new", replicas: 0)
        #expect(DeploymentRollout.step(strategy: strategy, desired: 3, new: new, old: [Counts(name: "old", replicas: 3, current: 3)]) == ["old": 0])
        #expect(DeploymentRollout.step(strategy: strategy, desired: 3, new: new, old: [Counts(name: "old", replicas: 0, current: 2)]).isEmpty)
        #expect(DeploymentRollout.step(strategy: strategy, desired: 3, new: new, old: [Counts(name: "old", replicas: 0, current: 0)]) == ["new": 3])
    }

    static func deployment(image: String = "nginx") -> Deployment {
        var deployment = Deployment(metadata: ObjectMeta(name: "web", namespace: "default", uid: "d1", generation: 1),
                                    spec: DeploymentSpec(replicas: 3, selector: LabelSelectorSpec(matchLabels: ["app": "web"]),
                                                         template: PodTemplateSpec(metadata: ObjectMeta(labels: ["app": "web"]))))
        deployment.spec.template.spec.containers = [Container(name: "nginx", image: image)]
        return deployment.applyingDefaults()
    }

    @Test("the new ReplicaSet: hash in its name, selector and template; revision; the Deployment as owner")
    func newReplicaSet() {
        let deployment = Self.deployment()
        let set = DeploymentRollout.makeReplicaSet(for: deployment, revision: 1, replicas: 3)
        let hash = PodTemplateHash.value(of: deployment.spec.template)
        #expect(hash.count >= 8 && hash.count <= 10)
        #expect(hash.allSatisfy { "bcdfghjklmnpqrstvwxz2456789".contains($0) })
        #expect(set.metadata.name == "web-\(hash)")
        #expect(set.spec.selector?.matchLabels == ["app": "web", "pod-template-hash": hash])
        #expect(set.spec.template.metadata.labels["pod-template-hash"] == hash)
        #expect(set.metadata.annotations[Deployment.revisionAnnotation] == "1")
        #expect(ReplicaSetScaling.controllerUID(of: set.metadata) == "d1")
        #expect(DeploymentRollout.newReplicaSet(for: deployment, among: [set]) == set)
        #expect(DeploymentRollout.newReplicaSet(for: Self.deployment(image: "httpd"), among: [set]) == nil)
        #expect(PodTemplateHash.value(of: Self.deployment(image: "httpd").spec.template) != hash)
        #expect(PodTemplateHash.value(of: deployment.spec.template, collisionCount: 1) != hash)
    }

    @Test("history, the limit on it, and rollback to a revision")
    func historyAndRollback() throws {
        var deployment = Self.deployment(image: "httpd")
        deployment.metadata.annotations[Deployment.revisionAnnotation] = "3"
        var sets: [ReplicaSet] = []
        for (revision, image) in [(1, "nginx"), (2, "busybox"), (3, "httpd")] {
            var set = DeploymentRollout.makeReplicaSet(for: Self.deployment(image: image), revision: Int64(revision), replicas: revision == 3 ? 3 : 0)
            set.metadata.annotations[Deployment.changeCauseAnnotation] = revision == 2 ? "set image" : nil
            sets.append(set)
        }
        #expect(DeploymentRollout.history(sets).map(\.revision) == [1, 2, 3])
        #expect(DeploymentRollout.history(sets).map(\.changeCause) == ["", "set image", ""])
        #expect(DeploymentRollout.historyToDelete(old: Array(sets.prefix(2)), limit: 1).map { $0.metadata.name } == [sets[0].metadata.name])
        #expect(DeploymentRollout.historyToDelete(old: Array(sets.prefix(2)), limit: 10).isEmpty)
        #expect(try DeploymentRollout.rollbackTemplate(deployment, among: sets, to: 0).spec.containers[0].image == "busybox")
        #expect(try DeploymentRollout.rollbackTemplate(deployment, among: sets, to: 1).spec.containers[0].image == "nginx")
        #expect(try DeploymentRollout.rollbackTemplate(deployment, among: sets, to: 1).metadata.labels == ["app": "web"])
        #expect(throws: DeploymentRollout.RollbackError(description: "unable to find specified revision 7 in history")) {
            try DeploymentRollout.rollbackTemplate(deployment, among: sets, to: 7)
        }
        #expect(throws: DeploymentRollout.RollbackError(description: "no rollout history found for deployment \"web\"")) {
            try DeploymentRollout.rollbackTemplate(deployment, among: [sets[2]], to: 0)
        }
    }

    @Test("status and kubectl's rollout status lines")
    func status() {
        var deployment = Self.deployment()
        var new = DeploymentRollout.makeReplicaSet(for: deployment, revision: 2, replicas: 2)
        new.status = ReplicaSetStatus(replicas: 2, readyReplicas: 1, availableReplicas: 1)
        var old = DeploymentRollout.makeReplicaSet(for: Self.deployment(image: "httpd"), revision: 1, replicas: 2)
        old.status = ReplicaSetStatus(replicas: 2, readyReplicas: 2, availableReplicas: 2)
        deployment.status = DeploymentRollout.status(of: deployment, new: new, all: [new, old], now: Timestamp(secondsSince1970: 5))
        #expect(deployment.status.replicas == 4)
        #expect(deployment.status.updatedReplicas == 2)
        #expect(deployment.status.readyReplicas == 3)
        #expect(deployment.status.availableReplicas == 3)
        #expect(deployment.status.observedGeneration == 1)
        #expect(deployment.status.condition("Available")?.status == .true)
        #expect(deployment.status.condition("Progressing")?.reason == "ReplicaSetUpdated")
        #expect(DeploymentRollout.rolloutStatus(deployment).message
            == "Waiting for deployment \"web\" rollout to finish: 2 out of 3 new replicas have been updated...")
        new.spec.replicas = 3
        new.status = ReplicaSetStatus(replicas: 3, readyReplicas: 3, availableReplicas: 3)
        old.status = ReplicaSetStatus(replicas: 1, readyReplicas: 1, availableReplicas: 1)
        deployment.status = DeploymentRollout.status(of: deployment, new: new, all: [new, old], now: Timestamp(secondsSince1970: 6))
        #expect(DeploymentRollout.rolloutStatus(deployment).message
            == "Waiting for deployment \"web\" rollout to finish: 1 old replicas are pending termination...")
        old.status = ReplicaSetStatus()
        deployment.status = DeploymentRollout.status(of: deployment, new: new, all: [new, old], now: Timestamp(secondsSince1970: 7))
        #expect(DeploymentRollout.rolloutStatus(deployment) == ("deployment \"web\" successfully rolled out", true, false))
        #expect(deployment.status.condition("Progressing")?.reason == "NewReplicaSetAvailable")
        deployment.metadata.generation = 2
        #expect(DeploymentRollout.rolloutStatus(deployment).message == "Waiting for deployment spec update to be observed...")
    }

    @Test("a rollout without progress for progressDeadlineSeconds is failed; progress restarts the clock")
    func progressDeadline() {
        var deployment = Self.deployment()
        deployment.spec.progressDeadlineSeconds = 10
        var new = DeploymentRollout.makeReplicaSet(for: deployment, revision: 2, replicas: 1)
        new.status = ReplicaSetStatus(replicas: 1)
        var old = DeploymentRollout.makeReplicaSet(for: Self.deployment(image: "httpd"), revision: 1, replicas: 3)
        old.status = ReplicaSetStatus(replicas: 3, readyReplicas: 3, availableReplicas: 3)
        func sync(at seconds: Int64) {
            deployment.status = DeploymentRollout.status(of: deployment, new: new, all: [new, old], now: Timestamp(secondsSince1970: seconds))
        }
        sync(at: 100)
        #expect(deployment.status.condition("Progressing")?.reason == "ReplicaSetUpdated")
        sync(at: 109)
        #expect(deployment.status.condition("Progressing")?.reason == "ReplicaSetUpdated")
        // A new pod ready at 109 s: the deadline counts from there.
        new.status = ReplicaSetStatus(replicas: 1, readyReplicas: 1, availableReplicas: 1)
        sync(at: 109)
        sync(at: 118)
        #expect(deployment.status.condition("Progressing")?.status == .true)
        sync(at: 119)
        #expect(deployment.status.condition("Progressing")?.status == .false)
        #expect(deployment.status.condition("Progressing")?.reason == "ProgressDeadlineExceeded")
        #expect(DeploymentRollout.rolloutStatus(deployment) == ("deployment \"web\" exceeded its progress deadline", true, true))
        sync(at: 130)
        #expect(deployment.status.condition("Progressing")?.lastUpdateTime == Timestamp(secondsSince1970: 119))
    }

    @Test("kubectl's tables for deployments and replica sets")
    func tables() {
        var deployment = Self.deployment()
        deployment.status.readyReplicas = 2
        deployment.status.updatedReplicas = 3
        deployment.status.availableReplicas = 2
        let table = WorkloadTables.deployments([deployment], wide: true, now: Timestamp(secondsSince1970: 0))
        #expect(table.headers == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"])
        #expect(Array(table.rows[0].prefix(4)) == ["web", "2/3", "3", "2"])
        #expect(Array(table.rows[0].suffix(3)) == ["nginx", "nginx", "app=web"])
        let set = DeploymentRollout.makeReplicaSet(for: deployment, revision: 1, replicas: 3)
        let rsTable = WorkloadTables.replicaSets([set], now: Timestamp(secondsSince1970: 0))
        #expect(rsTable.headers == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"])
        #expect(Array(rsTable.rows[0].prefix(4)) == [set.metadata.name, "3", "0", "0"])
    }
}
