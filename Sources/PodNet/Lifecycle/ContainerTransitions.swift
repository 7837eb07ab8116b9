/// How a process ended, as the agent learns it: an exit code, a signal, or nothing known (the
/// lab's keeper, which records the ends of containers no agent watched, was gone).
public enum ProcessEnd: Sendable, Hashable {
    case exited(Int32)
    case signaled(Int32)
    case unknown(String)
}

/// The container states the kubelet reports as a container starts, exits and waits to start
/// again: what the agent writes into a pod's status, decided here without the process.
public enum ContainerTransitions {
    /// SIGKILL, which the kernel's OOM killer sends.
    static let sigkill: Int32 = 9

    /// The ID of a container's run: `podlab://<first 8 of the pod's uid>-<container>-<restart count>`,
    /// a new one for each run, as a runtime gives each container it creates.
    public static func containerID(podUID: String, container: String, restartCount: Int32) -> String {
        "podlab://\(podUID.prefix(8))-\(container)-\(restartCount)"
    }

    /// A container's status once its process runs. An app container or a sidecar is started
    /// and ready as it runs, unless its probes say otherwise: not started before its startup
    /// probe succeeded, not ready before its readiness probe did (`ContainerProbes`). A regular
    /// init container is ready only once it exited with 0.
    public static func markRunning(_ status: inout ContainerStatus, role: ContainerRole, imageID: String, podUID: String,
                                   container: Container, now: Timestamp = .now()) {
        let probes = ContainerProbes(container)
        status.state = .running(startedAt: now)
        status.ready = role != .initContainer && probes.ready
        status.started = probes.started
        status.imageID = imageID
        status.containerID = containerID(podUID: podUID, container: status.name, restartCount: status.restartCount)
    }

    /// The terminated state of a run that ended: exit code 128 + n for signal n; a run the
    /// OOM killer ended is `OOMKilled` whatever its code (as containerd reports it), and one
    /// whose end nobody recorded exits with 255 and says why. `finishedAt` is when it was
    /// reaped, if known, else `now`.
    public static func terminated(_ end: ProcessEnd, oomKilled: Bool, startedAt: Timestamp?, finishedAt: Timestamp?,
                                  containerID: String, now: Timestamp = .now()) -> ContainerState.Terminated {
        let exitCode: Int32, signal: Int32, message: String, finished: Timestamp
        switch end {
        case let .exited(code): (exitCode, signal, message, finished) = (code, 0, "", finishedAt ?? now)
        case let .signaled(number): (exitCode, signal, message, finished) = (128 + number, number, "", finishedAt ?? now)
        case .unknown where oomKilled: (exitCode, signal, message, finished) = (128 + sigkill, sigkill, "", now)
        case let .unknown(reason): (exitCode, signal, message, finished) = (255, 0, reason, now)
        }
        let reason = oomKilled ? ContainerReason.oomKilled : ContainerReason.terminated(exitCode: exitCode)
        return ContainerState.Terminated(exitCode: exitCode, signal: signal, reason: reason, message: message,
                                         startedAt: startedAt, finishedAt: finished, containerID: containerID)
    }

    /// Whether a container that exited starts again: by `PodInitialization.restarts`, except
    /// that an app container its liveness or startup probe killed restarts unless the policy
    /// is `Never`, whatever its exit code (the kubelet kills and starts it in one sync).
    public static func restarts(_ role: ContainerRole, podPolicy: RestartPolicy, exitCode: Int32, killedByProbe: Bool) -> Bool {
        killedByProbe && role == .app ? podPolicy != .never : PodInitialization.restarts(role, podPolicy: podPolicy, exitCode: exitCode)
    }

    /// The state of a container waiting out its restart back-off, in the kubelet's words
    /// (`back-off 20s restarting failed container=app pod=web_default(<uid>)`).
    public static func crashLoopBackOff(delay: Duration, container: String, pod: String, namespace: String, uid: String) -> ContainerState {
        let seconds = Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18
        let shown = seconds >= 1 ? "\(Int(seconds))s" : "\(Int(seconds * 1000))ms"
        return .waiting(reason: ContainerReason.crashLoopBackOff,
                        message: "back-off \(shown) restarting failed container=\(container) pod=\(pod)_\(namespace)(\(uid))")
    }

    /// The message of the `BackOff` event of a container waiting to restart.
    public static func backOffEventMessage(container: String, pod: String, namespace: String, uid: String) -> String {
        "Back-off restarting failed container \(container) in pod \(pod)_\(namespace)(\(uid))"
    }
}

/// How long the agent waits before building a pod's failed sandbox again: 1 s, doubling up to
/// 30 s, for as long as the pod exists (the kubelet retries its pod worker's sync likewise).
public enum SandboxRetry {
    public static func delay(attempt: Int) -> Duration {
        .seconds(min(30, 1 << min(max(attempt, 0), 5)))
    }
}
