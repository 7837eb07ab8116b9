/// The columns `kubectl get pods` prints for one pod, computed with kubectl's `printPod` rules.
public struct PodTableRow: Hashable, Sendable {
    public var name: String
    /// Ready containers out of all containers, sidecars included: `1/2`.
    public var ready: String
    /// The phase, or a more telling reason: `ContainerCreating`, `CrashLoopBackOff`,
    /// `Error`, `Completed`, `Terminating`, `Init:1/2`, `Init:CrashLoopBackOff`, `PodInitializing`...
    public var status: String
    /// The restart count, with the time since the last restart when there was one: `3 (12s ago)`.
    public var restarts: String
    public var age: String
    /// Pod IP, node, nominated node and readiness gates: `<none>` where empty.
    public var ip: String
    public var node: String
    public var nominatedNode: String
    public var readinessGates: String

    /// The row for `pod` at time `now`.
    public init(pod: Pod, now: Timestamp) {
        let status = pod.status
        var reason = status.phase?.rawValue ?? ""
        if !status.reason.isEmpty { reason = status.reason }
        if status.conditions.contains(where: { $0.type == .podScheduled && $0.reason == "SchedulingGated" }) {
            reason = "SchedulingGated"
        }
        var restarts: Int64 = 0, sidecarRestarts: Int64 = 0
        var readyContainers = 0
        var lastRestart: Timestamp?, lastSidecarRestart: Timestamp?
        // Sidecars count among the pod's containers (READY 2/2 for an app and its sidecar).
        let totalContainers = pod.spec.containers.count + pod.spec.initContainers.filter(\.isSidecar).count
        func later(_ current: Timestamp?, _ candidate: Timestamp?) -> Timestamp? {
            guard let candidate else { return current }
            return current.map { $0 < candidate ? candidate : $0 } ?? candidate
        }

        // The first init container that has not finished says how far initialization got
        // (`Init:1/2`) or why it is stuck (`Init:CrashLoopBackOff`, `Init:Error`).
        var initializing = false
        for (index, container) in status.initContainerStatuses.enumerated() {
            let isSidecar = pod.spec.initContainers.first { $0.name == container.name }?.isSidecar ?? false
            restarts += Int64(container.restartCount)
            lastRestart = later(lastRestart, container.lastState.terminated?.finishedAt)
            if isSidecar {
                sidecarRestarts += Int64(container.restartCount)
                lastSidecarRestart = later(lastSidecarRestart, container.lastState.terminated?.finishedAt)
            }
            if let terminated = container.state.terminated, terminated.exitCode == 0 { continue }
            if isSidecar, container.started == true {
                if container.ready { readyContainers += 1 }
                continue
            }
            if let terminated = container.state.terminated {
                if !terminated.reason.isEmpty {
                    reason = "Init:" + terminated.reason
                } else if terminated.signal != 0 {
                    reason = "Init:Signal:\(terminated.signal)"
                } else {
                    reason = "Init:ExitCode:\(terminated.exitCode)"
                }
            } else if let waiting = container.state.waiting, !waiting.reason.isEmpty, waiting.reason != ContainerReason.podInitializing {
                reason = "Init:" + waiting.reason
            } else {
                reason = "Init:\(index)/\(pod.spec.initContainers.count)"
            }
            initializing = true
            break
        }

        if !initializing || status.condition(.initialized)?.status == .true {
            restarts = sidecarRestarts
            lastRestart = lastSidecarRestart
            var hasRunning = false
            // kubectl walks the statuses from the last to the first, so the first container's
            // reason wins.
            for container in status.containerStatuses.reversed() {
                restarts += Int64(container.restartCount)
                lastRestart = later(lastRestart, container.lastState.terminated?.finishedAt)
                if let waiting = container.state.waiting, !waiting.reason.isEmpty {
                    reason = waiting.reason
                } else if let terminated = container.state.terminated {
                    if !terminated.reason.isEmpty {
                        reason = terminated.reason
                    } else if terminated.signal != 0 {
                        reason = "Signal:\(terminated.signal)"
                    } else {
                        reason = "ExitCode:\(terminated.exitCode)"
                    }
                } else if container.ready, container.state.running != nil {
                    hasRunning = true
                    readyContainers += 1
                }
            }
            if reason == ContainerReason.completed, hasRunning {
                reason = status.condition(.ready)?.status == .true ? "Running" : "NotReady"
            }
        }
        if pod.metadata.deletionTimestamp != nil {
            if status.reason == "NodeLost" {
                reason = "Unknown"
            } else if !(status.phase?.isTerminal ?? false) {
                reason = "Terminating"
            }
        }
        var restartsText = String(restarts)
        if restarts != 0, let lastRestart {
            restartsText = "\(restarts) (\(HumanDuration.since(lastRestart, now: now)) ago)"
        }
        let gates = pod.spec.readinessGateTypes

        self.name = pod.metadata.name
        self.ready = "\(readyContainers)/\(totalContainers)"
        self.status = reason
        self.restarts = restartsText
        self.age = HumanDuration.since(pod.metadata.creationTimestamp, now: now)
        self.ip = status.podIPs.first?.ip ?? (status.podIP.isEmpty ? "<none>" : status.podIP)
        if self.ip.isEmpty { self.ip = "<none>" }
        self.node = pod.spec.nodeName.isEmpty ? "<none>" : pod.spec.nodeName
        self.nominatedNode = status.nominatedNodeName.isEmpty ? "<none>" : status.nominatedNodeName
        if gates.isEmpty {
            self.readinessGates = "<none>"
        } else {
            let trueGates = gates.filter { gate in status.conditions.first { $0.type.rawValue == gate }?.status == .true }.count
            self.readinessGates = "\(trueGates)/\(gates.count)"
        }
    }

    /// `NAME READY STATUS RESTARTS AGE`, plus `IP NODE NOMINATED NODE READINESS GATES` when wide.
    public static func headers(wide: Bool) -> [String] {
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"] + (wide ? ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"] : [])
    }

    /// The cells in header order.
    public func cells(wide: Bool) -> [String] {
        [name, ready, status, restarts, age] + (wide ? [ip, node, nominatedNode, readinessGates] : [])
    }

    /// `kubectl get pods [-o wide]` for these pods, in the given order.
    public static func table(_ pods: [Pod], wide: Bool = false, now: Timestamp) -> TextTable {
        TextTable(headers: headers(wide: wide), rows: pods.map { PodTableRow(pod: $0, now: now).cells(wide: wide) })
    }
}
