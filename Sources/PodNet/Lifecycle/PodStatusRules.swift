/// Kubernetes' rules for a pod's phase and conditions, computed from its spec and the states
/// of its containers (the kubelet's `getPhase` and `Generate*Condition`). An app container or a
/// sidecar is ready when it runs and its probes say so (`ContainerProbes`), a regular init
/// container once it exited with 0.
public enum PodStatusRules {
    /// Reasons of pod conditions.
    public enum Reason {
        public static let containersNotReady = "ContainersNotReady"
        public static let containersNotInitialized = "ContainersNotInitialized"
        public static let unknownContainerStatuses = "UnknownContainerStatuses"
        public static let podCompleted = "PodCompleted"
        public static let podFailed = "PodFailed"
        public static let readinessGatesNotReady = "ReadinessGatesNotReady"
        public static let unschedulable = "Unschedulable"
    }

    /// The pod phase from the containers' states and the restart policy (kubelet `getPhase`):
    /// Failed as soon as a regular init container failed under `Never`; Pending while a
    /// regular init container has not succeeded, a sidecar has not started (before any app
    /// container ran), or an app container waits to start for the first time; Running while
    /// at least one app container or sidecar runs (or all are restarting under `Always`);
    /// Succeeded or Failed once all app containers exited and none will restart (exited
    /// sidecars do not count). `podIsTerminal` says the pod is finished regardless of the
    /// policy (deleted).
    public static func phase(spec: PodSpec, containerStatuses: [ContainerStatus], initContainerStatuses: [ContainerStatus] = [],
                             podIsTerminal: Bool = false) -> PodPhase {
        var pendingRegularInit = 0, pendingSidecars = 0, failedInitialization = 0
        var unknown = 0, running = 0, waiting = 0, stopped = 0, succeeded = 0
        for container in spec.initContainers {
            let status = initContainerStatuses.first { $0.name == container.name }
            if container.isSidecar {
                guard let status else {
                    unknown += 1
                    continue
                }
                if status.state.running != nil {
                    if status.started != true { pendingSidecars += 1 }
                    running += 1
                } else if status.state.terminated != nil {
                    // An exited sidecar does not count for the phase.
                } else if status.state.waiting != nil {
                    if status.lastState.terminated == nil {
                        pendingSidecars += 1
                        waiting += 1
                    }
                } else {
                    pendingSidecars += 1
                    unknown += 1
                }
                continue
            }
            guard let status else {
                pendingRegularInit += 1
                continue
            }
            if status.state.running != nil {
                pendingRegularInit += 1
            } else if let terminated = status.state.terminated {
                if terminated.exitCode != 0 { failedInitialization += 1 }
            } else if status.state.waiting != nil {
                if let last = status.lastState.terminated {
                    if last.exitCode != 0 { failedInitialization += 1 }
                } else {
                    pendingRegularInit += 1
                }
            } else {
                pendingRegularInit += 1
            }
        }
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
        if failedInitialization > 0, spec.effectiveRestartPolicy == .never { return .failed }
        let initialized = hasAnyAppContainerRun(spec: spec, containerStatuses: containerStatuses)
        if pendingRegularInit > 0 || (pendingSidecars > 0 && !initialized) || waiting > 0 { return .pending }
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

    /// True once an app container ran (the kubelet's `HasAnyRegularContainerStarted`): the
    /// pod was initialized, even if a sidecar is restarting now.
    static func hasAnyAppContainerRun(spec: PodSpec, containerStatuses: [ContainerStatus]) -> Bool {
        spec.containers.contains { container in
            guard let status = containerStatuses.first(where: { $0.name == container.name }) else { return false }
            return status.state.running != nil || status.state.terminated != nil
        }
    }

    /// `Initialized`: true when every regular init container succeeded and every sidecar
    /// started (or once an app container ran); `PodCompleted` on a Succeeded pod.
    public static func initializedCondition(spec: PodSpec, initContainerStatuses: [ContainerStatus], containerStatuses: [ContainerStatus],
                                            phase: PodPhase) -> PodCondition {
        var unknown: [String] = [], incomplete: [String] = []
        for container in spec.initContainers {
            guard let status = initContainerStatuses.first(where: { $0.name == container.name }) else {
                unknown.append(container.name)
                continue
            }
            let done = container.isSidecar ? status.started == true : status.ready
            if !done { incomplete.append(container.name) }
        }
        if phase == .succeeded, unknown.isEmpty {
            return PodCondition(type: .initialized, status: .true, reason: Reason.podCompleted)
        }
        if hasAnyAppContainerRun(spec: spec, containerStatuses: containerStatuses) {
            return PodCondition(type: .initialized, status: .true)
        }
        var messages: [String] = []
        if !unknown.isEmpty { messages.append("containers with unknown status: [\(unknown.joined(separator: " "))]") }
        if !incomplete.isEmpty { messages.append("containers with incomplete status: [\(incomplete.joined(separator: " "))]") }
        guard messages.isEmpty else {
            return PodCondition(type: .initialized, status: .false, reason: Reason.containersNotInitialized, message: messages.joined(separator: ", "))
        }
        return PodCondition(type: .initialized, status: .true)
    }

    /// `ContainersReady`: true when every app container and every sidecar reports ready.
    public static func containersReadyCondition(spec: PodSpec, containerStatuses: [ContainerStatus], initContainerStatuses: [ContainerStatus] = [],
                                                phase: PodPhase) -> PodCondition {
        guard !containerStatuses.isEmpty || !initContainerStatuses.isEmpty else {
            return PodCondition(type: .containersReady, status: .false, reason: Reason.unknownContainerStatuses)
        }
        let (unknown, unready) = readiness(spec: spec, containerStatuses: containerStatuses, initContainerStatuses: initContainerStatuses)
        if phase == .succeeded, unknown.isEmpty {
            return PodCondition(type: .containersReady, status: .false, reason: Reason.podCompleted)
        }
        if phase == .failed { return PodCondition(type: .containersReady, status: .false, reason: Reason.podFailed) }
        let message = unreadyMessage(unknown: unknown, unready: unready)
        guard message.isEmpty else { return PodCondition(type: .containersReady, status: .false, reason: Reason.containersNotReady, message: message) }
        return PodCondition(type: .containersReady, status: .true)
    }

    /// `Ready`: like `ContainersReady` (its status, reason and message when not true), and
    /// every readiness gate's condition true.
    public static func readyCondition(spec: PodSpec, containerStatuses: [ContainerStatus], initContainerStatuses: [ContainerStatus] = [],
                                      phase: PodPhase, conditions: [PodCondition]) -> PodCondition {
        let containersReady = containersReadyCondition(spec: spec, containerStatuses: containerStatuses,
                                                       initContainerStatuses: initContainerStatuses, phase: phase)
        guard containersReady.status == .true else {
            return PodCondition(type: .ready, status: containersReady.status, reason: containersReady.reason, message: containersReady.message)
        }
        var messages: [String] = []
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
            return PodCondition(type: .ready, status: .false, reason: Reason.readinessGatesNotReady, message: messages.joined(separator: ", "))
        }
        return PodCondition(type: .ready, status: .true)
    }

    /// Recomputes `status.phase` and `status.conditions` from `status.initContainerStatuses`
    /// and `status.containerStatuses`, as the kubelet does on every sync. A terminal phase never
    /// changes again. Conditions that keep their status keep their `lastTransitionTime`; others
    /// get `now`. A pod without a node keeps only the scheduler's `PodScheduled` condition.
    public static func update(_ pod: inout Pod, now: Timestamp, podIsTerminal: Bool = false) {
        let previous = pod.status.conditions
        guard !pod.spec.nodeName.isEmpty else {
            pod.status.phase = pod.status.phase ?? .pending
            pod.status.conditions = previous.filter { $0.type == .podScheduled }
            return
        }
        let statuses = pod.status.containerStatuses, initStatuses = pod.status.initContainerStatuses
        let phase: PodPhase
        if let current = pod.status.phase, current.isTerminal {
            phase = current
        } else {
            phase = self.phase(spec: pod.spec, containerStatuses: statuses, initContainerStatuses: initStatuses, podIsTerminal: podIsTerminal)
        }
        pod.status.phase = phase
        var conditions = [
            initializedCondition(spec: pod.spec, initContainerStatuses: initStatuses, containerStatuses: statuses, phase: phase),
            readyCondition(spec: pod.spec, containerStatuses: statuses, initContainerStatuses: initStatuses, phase: phase, conditions: previous),
            containersReadyCondition(spec: pod.spec, containerStatuses: statuses, initContainerStatuses: initStatuses, phase: phase),
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

    /// The sidecars and app containers without a status (unknown) and those not ready, in
    /// spec order (sidecars first, as the kubelet lists them).
    private static func readiness(spec: PodSpec, containerStatuses: [ContainerStatus],
                                  initContainerStatuses: [ContainerStatus]) -> (unknown: [String], unready: [String]) {
        var unknown: [String] = [], unready: [String] = []
        let watched = spec.initContainers.filter(\.isSidecar).map { container in (container, initContainerStatuses.first { $0.name == container.name }) }
            + spec.containers.map { container in (container, containerStatuses.first { $0.name == container.name }) }
        for (container, status) in watched {
            if let status {
                if !status.ready { unready.append(container.name) }
            } else {
                unknown.append(container.name)
            }
        }
        return (unknown, unready)
    }

    /// `containers with unknown status: [a], containers with unready status: [b c]` (Go's `%s` of a slice).
    private static func unreadyMessage(unknown: [String], unready: [String]) -> String {
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
