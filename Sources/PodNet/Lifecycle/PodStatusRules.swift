/// Kubernetes' rules for a pod's phase and conditions, computed from its spec and the states
/// of its containers (the kubelet's `getPhase` and `generate*Condition`). podlab does not run
/// init containers and has no readiness probes: a container is ready when it runs.
public enum PodStatusRules {
    /// Reasons of pod conditions.
    public enum Reason {
        public static let containersNotReady = "ContainersNotReady"
        public static let unknownContainerStatuses = "UnknownContainerStatuses"
        public static let podCompleted = "PodCompleted"
        public static let podFailed = "PodFailed"
        public static let readinessGatesNotReady = "ReadinessGatesNotReady"
        public static let unschedulable = "Unschedulable"
    }

    /// The pod phase from the containers' states and the restart policy (kubelet `getPhase`):
    /// Pending while a container waits to start for the first time; Running while at least one
    /// runs (or all are restarting under `Always`); Succeeded or Failed once all exited and none
    /// will restart. `podIsTerminal` says the pod is finished regardless of the policy (deleted).
    public static func phase(spec: PodSpec, containerStatuses: [ContainerStatus], podIsTerminal: Bool = false) -> PodPhase {
        var unknown = 0, running = 0, waiting = 0, stopped = 0, succeeded = 0
        for container in spec.containers {
            guard let status = containerStatuses.first(where: { $0.name == container.name }) else {
                unknown += 1
                continue
            }
            if status.state.running != nil {
                running += 1
            } else if let terminated = status.state.terminated {
                stopped += 1
                if terminated.exitCode == 0 { succeeded += 1 }
            } else if status.state.waiting != nil {
                if status.lastState.terminated != nil { stopped += 1 } else { waiting += 1 }
            } else {
                unknown += 1
            }
        }
        if waiting > 0 { return .pending }
        if running > 0, unknown == 0 { return .running }
        if running == 0, stopped > 0, unknown == 0 {
            if podIsTerminal { return stopped == succeeded ? .succeeded : .failed }
            switch spec.effectiveRestartPolicy {
            case .always: return .running
            case .never: return stopped == succeeded ? .succeeded : .failed
            default: return stopped == succeeded ? .succeeded : .running
            }
        }
        return .pending
    }

    /// `ContainersReady`: true when every container reports ready.
    public static func containersReadyCondition(spec: PodSpec, containerStatuses: [ContainerStatus], phase: PodPhase) -> PodCondition {
        if let terminal = terminalCondition(.containersReady, phase: phase, spec: spec, containerStatuses: containerStatuses) { return terminal }
        guard !containerStatuses.isEmpty else {
            return PodCondition(type: .containersReady, status: .false, reason: Reason.unknownContainerStatuses)
        }
        let message = unreadyMessage(spec: spec, containerStatuses: containerStatuses)
        guard message.isEmpty else { return PodCondition(type: .containersReady, status: .false, reason: Reason.containersNotReady, message: message) }
        return PodCondition(type: .containersReady, status: .true)
    }

    /// `Ready`: like `ContainersReady`, and every readiness gate's condition true.
    public static func readyCondition(spec: PodSpec, containerStatuses: [ContainerStatus], phase: PodPhase, conditions: [PodCondition]) -> PodCondition {
        if let terminal = terminalCondition(.ready, phase: phase, spec: spec, containerStatuses: containerStatuses) { return terminal }
        guard !containerStatuses.isEmpty else {
            return PodCondition(type: .ready, status: .false, reason: Reason.unknownContainerStatuses)
        }
        var messages: [String] = []
        let unready = unreadyMessage(spec: spec, containerStatuses: containerStatuses)
        if !unready.isEmpty { messages.append(unready) }
        for gate in spec.readinessGateTypes {
            if let condition = conditions.first(where: { $0.type.rawValue == gate }) {
                if condition.status != .true {
                    messages.append("the status of pod readiness gate \"\(gate)\" is not \"True\", but \(condition.status)")
                }
            } else {
                messages.append("corresponding condition of pod readiness gate \"\(gate)\" does not exist.")
            }
        }
        guard messages.isEmpty else {
            let reason = unready.isEmpty ? Reason.readinessGatesNotReady : Reason.containersNotReady
            return PodCondition(type: .ready, status: .false, reason: reason, message: messages.joined(separator: ", "))
        }
        return PodCondition(type: .ready, status: .true)
    }

    /// Recomputes `status.phase` and `status.conditions` from `status.containerStatuses`, as
    /// the kubelet does on every sync. A terminal phase never changes again. Conditions that
    /// keep their status keep their `lastTransitionTime`; others get `now`. A pod without a node
    /// keeps only the scheduler's `PodScheduled` condition.
    public static func update(_ pod: inout Pod, now: Timestamp, podIsTerminal: Bool = false) {
        let previous = pod.status.conditions
        guard !pod.spec.nodeName.isEmpty else {
            pod.status.phase = pod.status.phase ?? .pending
            pod.status.conditions = previous.filter { $0.type == .podScheduled }
            return
        }
        let phase: PodPhase
        if let current = pod.status.phase, current.isTerminal {
            phase = current
        } else {
            phase = self.phase(spec: pod.spec, containerStatuses: pod.status.containerStatuses, podIsTerminal: podIsTerminal)
        }
        pod.status.phase = phase
        let statuses = pod.status.containerStatuses
        var conditions = [
            PodCondition(type: .initialized, status: .true),
            readyCondition(spec: pod.spec, containerStatuses: statuses, phase: phase, conditions: previous),
            containersReadyCondition(spec: pod.spec, containerStatuses: statuses, phase: phase),
            PodCondition(type: .podScheduled, status: .true),
        ]
        // Conditions owned by others (readiness gates) are kept.
        let generated: Set<PodConditionType> = [.initialized, .ready, .containersReady, .podScheduled]
        conditions += previous.filter { !generated.contains($0.type) }
        for index in conditions.indices {
            let old = previous.first { $0.type == conditions[index].type }
            if let old, old.status == conditions[index].status {
                conditions[index].lastTransitionTime = old.lastTransitionTime ?? now
                conditions[index].lastProbeTime = old.lastProbeTime
            } else if conditions[index].lastTransitionTime == nil {
                conditions[index].lastTransitionTime = now
            }
        }
        pod.status.conditions = conditions
    }

    /// The `PodScheduled` condition the scheduler sets when no node can take the pod.
    public static func unschedulableCondition(message: String, now: Timestamp) -> PodCondition {
        PodCondition(type: .podScheduled, status: .false, lastTransitionTime: now, reason: Reason.unschedulable, message: message)
    }

    private static func terminalCondition(_ type: PodConditionType, phase: PodPhase, spec: PodSpec, containerStatuses: [ContainerStatus]) -> PodCondition? {
        switch phase {
        case .failed:
            return PodCondition(type: type, status: .false, reason: Reason.podFailed)
        case .succeeded where spec.containers.allSatisfy({ container in containerStatuses.contains { $0.name == container.name } }):
            return PodCondition(type: type, status: .false, reason: Reason.podCompleted)
        default:
            return nil
        }
    }

    /// `containers with unknown status: [a], containers with unready status: [b c]` (Go's `%s` of a slice).
    private static func unreadyMessage(spec: PodSpec, containerStatuses: [ContainerStatus]) -> String {
        var unknown: [String] = [], unready: [String] = []
        for container in spec.containers {
            if let status = containerStatuses.first(where: { $0.name == container.name }) {
                if !status.ready { unready.append(container.name) }
            } else {
                unknown.append(container.name)
            }
        }
        var messages: [String] = []
        if !unknown.isEmpty { messages.append("containers with unknown status: [\(unknown.joined(separator: " "))]") }
        if !unready.isEmpty { messages.append("containers with unready status: [\(unready.joined(separator: " "))]") }
        return messages.joined(separator: ", ")
    }
}

extension PodStatusRules {
    /// Seconds left of a deleted pod's grace period at `now`: its `deletionGracePeriodSeconds`
    /// (30 by default) less the time since `deletionTimestamp`, never below 0. An agent that
    /// comes back in the middle of a deletion waits out the rest of it, not the whole period again.
    public static func remainingGracePeriod(of pod: Pod, now: Timestamp) -> Int64 {
        let total = pod.metadata.deletionGracePeriodSeconds ?? 30
        guard let since = pod.metadata.deletionTimestamp else { return max(0, total) }
        return max(0, total - max(0, now.seconds(since: since)))
    }
}
