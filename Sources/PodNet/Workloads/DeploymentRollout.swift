/// The deployment controller's decisions, as pure functions: which ReplicaSet is the new one,
/// how far to scale it up and the old ones down in one step of a rollout (`RollingUpdate`
/// within maxSurge and maxUnavailable given what is available, or `Recreate`), revisions,
/// history, rollback and the status it reports.
public enum DeploymentRollout {
    /// What the controller knows of one ReplicaSet when it plans a step.
    public struct Counts: Hashable, Sendable {
        public var name: String
        /// `spec.replicas`: what it was asked for.
        public var replicas: Int
        /// Its active pods (`status.replicas`).
        public var current: Int
        public var ready: Int
        public var available: Int

        public init(name: String, replicas: Int, current: Int = 0, ready: Int = 0, available: Int = 0) {
            self.name = name
            self.replicas = replicas
            self.current = current
            self.ready = ready
            self.available = available
        }

        public init(_ replicaSet: ReplicaSet) {
            self.init(name: replicaSet.metadata.name, replicas: replicaSet.desiredReplicas, current: Int(replicaSet.status.replicas),
                      ready: Int(replicaSet.status.readyReplicas), available: Int(replicaSet.status.availableReplicas))
        }
    }

    // MARK: Limits

    /// A number, or a percentage of `total` (`GetScaledValueFromIntOrPercent`): surge rounds up,
    /// unavailability down.
    public static func scaled(_ value: IntOrString?, total: Int, roundUp: Bool) -> Int {
        switch value {
        case let .int(number)?: return Int(number)
        case let .string(text)?:
            guard let percent = RollingUpdateLimits.percent(text) else { return 0 }
            let product = percent * total
            return roundUp ? (product + 99) / 100 : product / 100
        case nil: return 0
        }
    }

    /// maxSurge and maxUnavailable as pod counts (`ResolveFenceposts`): both 0 would stall a
    /// rollout, so unavailability is then 1.
    public static func limits(_ strategy: DeploymentStrategy, desired: Int) -> (maxSurge: Int, maxUnavailable: Int) {
        let surge = scaled(strategy.maxSurge, total: desired, roundUp: true)
        var unavailable = scaled(strategy.maxUnavailable, total: desired, roundUp: false)
        if surge == 0 && unavailable == 0 { unavailable = 1 }
        return (surge, min(unavailable, desired))
    }

    // MARK: One step

    /// The replicas to set on ReplicaSets (by name) in this step; ReplicaSets not named keep
    /// theirs. `old` are the Deployment's other ReplicaSets, oldest first.
    public static func step(strategy: DeploymentStrategy, desired: Int, new: Counts, old: [Counts]) -> [String: Int] {
        switch strategy.type ?? .rollingUpdate {
        case .recreate: recreateStep(desired: desired, new: new, old: old)
        default: rollingStep(desired: desired, limits: limits(strategy, desired: desired), new: new, old: old)
        }
    }

    /// `rolloutRecreate`: old ReplicaSets to 0; once their pods are gone, the new one to `desired`.
    static func recreateStep(desired: Int, new: Counts, old: [Counts]) -> [String: Int] {
        var changes: [String: Int] = [:]
        for rs in old where rs.replicas > 0 { changes[rs.name] = 0 }
        if !changes.isEmpty { return changes }
        if old.contains(where: { $0.current > 0 }) { return [:] }
        return new.replicas == desired ? [:] : [new.name: desired]
    }

    /// `rolloutRolling`: first the new ReplicaSet up as far as maxSurge allows (a step of its
    /// own), else the old ones down as far as maxUnavailable allows — unavailable old pods
    /// first, then available ones, oldest ReplicaSet first.
    static func rollingStep(desired: Int, limits: (maxSurge: Int, maxUnavailable: Int), new: Counts, old: [Counts]) -> [String: Int] {
        let oldReplicas = old.reduce(0) { $0 + $1.replicas }
        if new.replicas > desired { return [new.name: desired] }
        if new.replicas < desired {
            let maxTotal = desired + limits.maxSurge
            let all = new.replicas + oldReplicas
            if all < maxTotal {
                let target = min(new.replicas + (maxTotal - all), desired)
                if target != new.replicas { return [new.name: target] }
            }
        }
        guard oldReplicas > 0 else { return [:] }
        let minAvailable = desired - limits.maxUnavailable
        let newUnavailable = max(0, new.replicas - new.available)
        let maxScaledDown = new.replicas + oldReplicas - minAvailable - newUnavailable
        guard maxScaledDown > 0 else { return [:] }
        var olds = old
        var changes: [String: Int] = [:]
        var scaled = 0
        for index in olds.indices {
            if scaled >= maxScaledDown { break }
            let unhealthy = olds[index].replicas - olds[index].available
            guard olds[index].replicas > 0, unhealthy > 0 else { continue }
            let down = min(maxScaledDown - scaled, unhealthy)
            olds[index].replicas -= down
            scaled += down
            changes[olds[index].name] = olds[index].replicas
        }
        let available = new.available + olds.reduce(0) { $0 + min($1.available, $1.replicas) }
        if available > minAvailable {
            let total = available - minAvailable
            var scaledAvailable = 0
            for index in olds.indices {
                if scaledAvailable >= total { break }
                guard olds[index].replicas > 0 else { continue }
                let down = min(olds[index].replicas, total - scaledAvailable)
                olds[index].replicas -= down
                scaledAvailable += down
                changes[olds[index].name] = olds[index].replicas
            }
        }
        return changes
    }

    // MARK: ReplicaSets and revisions

    public static func revision(of metadata: ObjectMeta) -> Int64 {
        Int64(metadata.annotations[Deployment.revisionAnnotation] ?? "") ?? 0
    }

    public static func maxRevision(_ replicaSets: [ReplicaSet]) -> Int64 {
        replicaSets.map { revision(of: $0.metadata) }.max() ?? 0
    }

    /// The ReplicaSet whose template is the Deployment's (the oldest, if several).
    public static func newReplicaSet(for deployment: Deployment, among replicaSets: [ReplicaSet]) -> ReplicaSet? {
        replicaSets.filter { PodTemplateHash.equalIgnoringHash($0.spec.template, deployment.spec.template) }
            .min { ($0.metadata.creationTimestamp?.secondsSince1970 ?? 0, $0.metadata.name) < ($1.metadata.creationTimestamp?.secondsSince1970 ?? 0, $1.metadata.name) }
    }

    /// A new ReplicaSet for the Deployment's template: named `<deployment>-<pod-template-hash>`,
    /// the hash in its selector, template labels and labels, the Deployment as its controller.
    public static func makeReplicaSet(for deployment: Deployment, revision: Int64, replicas: Int) -> ReplicaSet {
        let hash = PodTemplateHash.value(of: deployment.spec.template, collisionCount: deployment.status.collisionCount)
        var template = deployment.spec.template
        template.metadata.labels[PodTemplateHash.label] = hash
        var selector = deployment.spec.selector ?? LabelSelectorSpec()
        selector.matchLabels[PodTemplateHash.label] = hash
        var metadata = ObjectMeta(name: "\(deployment.metadata.name)-\(hash)", namespace: deployment.metadata.namespace, labels: template.metadata.labels)
        metadata.annotations[Deployment.revisionAnnotation] = String(revision)
        metadata.annotations[Deployment.desiredReplicasAnnotation] = String(deployment.desiredReplicas)
        metadata.annotations[Deployment.maxReplicasAnnotation] = String(deployment.desiredReplicas + limits(deployment.spec.strategy, desired: deployment.desiredReplicas).maxSurge)
        if let cause = deployment.metadata.annotations[Deployment.changeCauseAnnotation] { metadata.annotations[Deployment.changeCauseAnnotation] = cause }
        metadata.preservedFields["ownerReferences"] = ReplicaSetScaling.ownerReference(
            apiVersion: Deployment.apiVersion, kind: Deployment.kind, name: deployment.metadata.name, uid: deployment.metadata.uid)
        return ReplicaSet(metadata: metadata, spec: ReplicaSetSpec(replicas: Int32(replicas), selector: selector, template: template,
                                                                   minReadySeconds: deployment.spec.minReadySeconds))
    }

    /// The replicas a new ReplicaSet starts with: as far as the strategy allows at once.
    public static func initialReplicas(for deployment: Deployment, old: [Counts]) -> Int {
        let desired = deployment.desiredReplicas
        let new = Counts(name: "", replicas: 0)
        return step(strategy: deployment.spec.strategy, desired: desired, new: new, old: old)[""] ?? 0
    }

    /// Old ReplicaSets beyond `revisionHistoryLimit`, lowest revision first: only those scaled
    /// to 0 with no pods left are history (`cleanupDeployment`).
    public static func historyToDelete(old: [ReplicaSet], limit: Int32?) -> [ReplicaSet] {
        let history = old.filter { $0.desiredReplicas == 0 && $0.status.replicas == 0 }
            .sorted { revision(of: $0.metadata) < revision(of: $1.metadata) }
        let excess = history.count - Int(limit ?? 10)
        return excess > 0 ? Array(history.prefix(excess)) : []
    }

    /// `rollout history`: revision and change cause of each ReplicaSet, by revision.
    public static func history(_ replicaSets: [ReplicaSet]) -> [(revision: Int64, changeCause: String)] {
        replicaSets.map { (revision(of: $0.metadata), $0.metadata.annotations[Deployment.changeCauseAnnotation] ?? "") }
            .filter { $0.0 > 0 }.sorted { $0.0 < $1.0 }
    }

    /// Why a rollback cannot be made, in kubectl's words.
    public struct RollbackError: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The template to roll back to: revision `to` (0: the one before the current).
    public static func rollbackTemplate(_ deployment: Deployment, among replicaSets: [ReplicaSet], to target: Int64) throws(RollbackError) -> PodTemplateSpec {
        let byRevision = replicaSets.filter { revision(of: $0.metadata) > 0 }.sorted { revision(of: $0.metadata) < revision(of: $1.metadata) }
        let chosen: ReplicaSet?
        if target == 0 {
            let current = revision(of: deployment.metadata)
            chosen = byRevision.last { revision(of: $0.metadata) < current }
            guard chosen != nil else { throw RollbackError(description: "no rollout history found for deployment \"\(deployment.metadata.name)\"") }
        } else {
            chosen = byRevision.first { revision(of: $0.metadata) == target }
            guard chosen != nil else { throw RollbackError(description: "unable to find specified revision \(target) in history") }
        }
        return PodTemplateHash.withoutHash(chosen!.spec.template)
    }

    // MARK: Status

    /// The Deployment's status from its ReplicaSets (whose status is current).
    public static func status(of deployment: Deployment, new: ReplicaSet?, all: [ReplicaSet], now: Timestamp) -> DeploymentStatus {
        var status = deployment.status
        let desired = deployment.desiredReplicas
        status.observedGeneration = deployment.metadata.generation
        status.replicas = all.reduce(0) { $0 + $1.status.replicas }
        status.updatedReplicas = new?.status.replicas ?? 0
        status.readyReplicas = all.reduce(0) { $0 + $1.status.readyReplicas }
        status.availableReplicas = all.reduce(0) { $0 + $1.status.availableReplicas }
        status.unavailableReplicas = Int32(max(0, desired - Int(status.availableReplicas)))
        let minAvailable = desired - limits(deployment.spec.strategy, desired: desired).maxUnavailable
        if Int(status.availableReplicas) >= minAvailable {
            WorkloadCondition.set(WorkloadCondition(type: "Available", status: .true, reason: "MinimumReplicasAvailable",
                                                    message: "Deployment has minimum availability."), in: &status.conditions, now: now)
        } else {
            WorkloadCondition.set(WorkloadCondition(type: "Available", status: .false, reason: "MinimumReplicasUnavailable",
                                                    message: "Deployment does not have minimum availability."), in: &status.conditions, now: now)
        }
        if let new {
            let complete = Int(status.updatedReplicas) == desired && Int(status.replicas) == desired && Int(status.availableReplicas) == desired
            let old = deployment.status
            // Progress (`DeploymentProgressing`): more updated, ready or available pods, fewer old ones.
            let progressed = status.updatedReplicas > old.updatedReplicas || status.readyReplicas > old.readyReplicas
                || status.availableReplicas > old.availableReplicas || status.replicas - status.updatedReplicas < old.replicas - old.updatedReplicas
                || status.observedGeneration != old.observedGeneration
            var progressing: WorkloadCondition
            if complete {
                progressing = WorkloadCondition(type: "Progressing", status: .true, reason: "NewReplicaSetAvailable",
                                                message: "ReplicaSet \"\(new.metadata.name)\" has successfully progressed.")
            } else if !progressed, let current = status.condition("Progressing"), current.reason != "NewReplicaSetAvailable",
                      let since = current.lastUpdateTime, let deadline = deployment.spec.progressDeadlineSeconds,
                      now.seconds(since: since) >= Int64(deadline) {
                progressing = WorkloadCondition(type: "Progressing", status: .false, reason: "ProgressDeadlineExceeded",
                                                message: "ReplicaSet \"\(new.metadata.name)\" has timed out progressing.")
                if current.reason == "ProgressDeadlineExceeded" { progressing.lastUpdateTime = current.lastUpdateTime }
            } else {
                progressing = WorkloadCondition(type: "Progressing", status: .true, reason: "ReplicaSetUpdated",
                                                message: "ReplicaSet \"\(new.metadata.name)\" is progressing.")
                // Time since the last progress is what the deadline measures.
                if progressed || status.condition("Progressing")?.reason != "ReplicaSetUpdated" { progressing.lastUpdateTime = now }
            }
            WorkloadCondition.set(progressing, in: &status.conditions, now: now)
        }
        // Conditions in the API server's order.
        status.conditions.sort { ($0.type == "Available" ? 0 : 1) < ($1.type == "Available" ? 0 : 1) }
        return status
    }

    /// `kubectl rollout status`: the line to print, whether the rollout is over, and whether it
    /// failed (its progress deadline passed: kubectl prints the line as an error).
    public static func rolloutStatus(_ deployment: Deployment) -> (message: String, done: Bool, failed: Bool) {
        let name = deployment.metadata.name
        let status = deployment.status
        guard (status.observedGeneration ?? 0) >= (deployment.metadata.generation ?? 0) else {
            return ("Waiting for deployment spec update to be observed...", false, false)
        }
        if status.condition("Progressing")?.reason == "ProgressDeadlineExceeded" {
            return ("deployment \"\(name)\" exceeded its progress deadline", true, true)
        }
        let desired = Int32(deployment.desiredReplicas)
        if status.updatedReplicas < desired {
            return ("Waiting for deployment \"\(name)\" rollout to finish: \(status.updatedReplicas) out of \(desired) new replicas have been updated...", false, false)
        }
        if status.replicas > status.updatedReplicas {
            return ("Waiting for deployment \"\(name)\" rollout to finish: \(status.replicas - status.updatedReplicas) old replicas are pending termination...", false, false)
        }
        if status.availableReplicas < status.updatedReplicas {
            return ("Waiting for deployment \"\(name)\" rollout to finish: \(status.availableReplicas) of \(status.updatedReplicas) updated replicas are available...", false, false)
        }
        return ("deployment \"\(name)\" successfully rolled out", true, false)
    }
}

/// maxSurge and maxUnavailable as given.
enum RollingUpdateLimits {
    /// `25%` → 25; nil for anything but digits followed by `%`.
    static func percent(_ text: String) -> Int? {
        guard text.hasSuffix("%") else { return nil }
        let digits = text.dropLast()
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits)
    }

    /// The number or percentage itself, for the both-zero check.
    static func rawValue(_ value: IntOrString?) -> Int {
        switch value {
        case let .int(number)?: Int(number)
        case let .string(text)?: percent(text) ?? 1
        case nil: 0
        }
    }
}
