/// The part a container plays in its pod, which decides when it starts and whether it restarts.
public enum ContainerRole: Sendable, Hashable {
    /// `spec.initContainers[]` without `restartPolicy`: runs to completion, one at a time and
    /// in order, before any app container starts.
    case initContainer
    /// `spec.initContainers[]` with `restartPolicy: Always` (a native sidecar): starts in its
    /// turn among the init containers, lets the next one start once it runs, then runs beside
    /// the app containers, restarted whenever it exits, until they are done.
    case sidecar
    /// `spec.containers[]`.
    case app
}

extension PodSpec {
    /// The role of the container named `name`, nil if the pod has none of that name.
    public func role(of name: String) -> ContainerRole? {
        if let container = initContainers.first(where: { $0.name == name }) { return container.isSidecar ? .sidecar : .initContainer }
        return containers.contains { $0.name == name } ? .app : nil
    }

    /// The container named `name`, an init container or an app container.
    public func container(named name: String) -> Container? {
        initContainers.first { $0.name == name } ?? containers.first { $0.name == name }
    }

    /// Every container of the pod: init containers first, in the order they start.
    public var allContainers: [Container] { initContainers + containers }

    /// The containers as kubectl lists them when it picks the first one for you
    /// (`AllContainerNames`): `app, sidecar (init), setup (init)`.
    public var kubectlContainerNames: String {
        (containers.map(\.name) + initContainers.map { "\($0.name) (init)" }).joined(separator: ", ")
    }
}

extension PodStatus {
    /// The status of the container named `name`, in `initContainerStatuses` or
    /// `containerStatuses`; setting it replaces that entry (a name with no entry is ignored).
    public subscript(container name: String) -> ContainerStatus? {
        get { initContainerStatuses.first { $0.name == name } ?? containerStatuses.first { $0.name == name } }
        set {
            guard let newValue else { return }
            if let index = initContainerStatuses.firstIndex(where: { $0.name == name }) {
                initContainerStatuses[index] = newValue
            } else if let index = containerStatuses.firstIndex(where: { $0.name == name }) {
                containerStatuses[index] = newValue
            }
        }
    }
}

/// The kubelet's rules for starting a pod's containers (`computePodActions` and
/// `computeInitContainerActions` in its runtime manager): init containers one at a time in
/// spec order, each regular one to a successful exit before the next starts, a sidecar only
/// until it runs; then all app containers at once. Pure: the agent applies the step.
public enum PodInitialization {
    /// What to do next for a pod whose sandbox is ready.
    public enum Step: Hashable, Sendable {
        /// Start this init container (regular or sidecar) for the first time.
        case start(String)
        /// Initialization is under way and nothing is to be started now: a regular init
        /// container runs, or waits for its restart (back-off) or its image; a sidecar that
        /// did not start waits likewise.
        case wait
        /// Every regular init container succeeded and every sidecar started: start these app
        /// containers, the ones not started yet (none when they all were).
        case startContainers([String])
        /// This regular init container failed and the pod's `restartPolicy` is `Never`: the
        /// pod fails, and nothing more starts.
        case failed(String)
    }

    /// The kubelet's default waiting reason of a container not started yet:
    /// `PodInitializing` in a pod with init containers, else `ContainerCreating`.
    public static func initialWaitingReason(for spec: PodSpec) -> String {
        spec.initContainers.isEmpty ? ContainerReason.containerCreating : ContainerReason.podInitializing
    }

    /// True for a container that waits to be started in its turn: no status yet, or waiting
    /// with the kubelet's default reason (not started yet, or its sandbox is being built
    /// again). A container that was tried and could not start (its image, its config), or
    /// waits out a back-off, is started again by its own retry instead.
    public static func awaitsFirstStart(_ status: ContainerStatus?) -> Bool {
        guard let status else { return true }
        guard let waiting = status.state.waiting else { return false }
        return waiting.reason == ContainerReason.podInitializing || waiting.reason == ContainerReason.containerCreating || waiting.reason.isEmpty
    }

    /// True once the container ran at least once (it runs, or it exited).
    public static func hasRun(_ status: ContainerStatus?) -> Bool {
        guard let status else { return false }
        return status.state.running != nil || status.state.terminated != nil || status.lastState.terminated != nil
    }

    /// The next step for the pod (the kubelet walks its init containers in order).
    public static func nextStep(spec: PodSpec, status: PodStatus) -> Step {
        // Once an app container ran, the pod is initialized for good: a sidecar that restarts
        // does not hold the app containers back again (the kubelet's `isPreviouslyInitialized`).
        let initialized = spec.containers.contains { container in hasRun(status.containerStatuses.first { $0.name == container.name }) }
        if !initialized {
            for container in spec.initContainers {
                let current = status.initContainerStatuses.first { $0.name == container.name }
                if awaitsFirstStart(current) { return .start(container.name) }
                guard let current else { return .wait }
                if container.isSidecar {
                    // The next one starts once the sidecar has run — and, with a startup
                    // probe, once that succeeded (`started`); while it restarts, the ones after
                    // it carry on.
                    if current.state.running != nil, current.started == false { return .wait }
                    if hasRun(current) { continue }
                    return .wait
                }
                if let exit = current.state.terminated {
                    if exit.exitCode == 0 { continue }
                    if spec.effectiveRestartPolicy == .never { return .failed(container.name) }
                }
                return .wait
            }
        }
        let toStart = spec.containers.filter { container in awaitsFirstStart(status.containerStatuses.first { $0.name == container.name }) }
        return .startContainers(toStart.map(\.name))
    }

    /// Whether a container that exited with `exitCode` is started again (the kubelet's
    /// `ShouldContainerBeRestarted` and init container rules): an app container by the pod's
    /// `restartPolicy`; a regular init container only after a failure, unless the policy is
    /// `Never`; a sidecar always, whatever the policy.
    public static func restarts(_ role: ContainerRole, podPolicy: RestartPolicy, exitCode: Int32) -> Bool {
        switch role {
        case .app: podPolicy == .always || (podPolicy == .onFailure && exitCode != 0)
        case .initContainer: exitCode != 0 && podPolicy != .never
        case .sidecar: true
        }
    }

    /// True when the pod's app containers are done for good: every one exited and none will
    /// be started again. The kubelet then stops the pod, its sidecars included (which are
    /// not restarted any more), and the pod becomes Succeeded or Failed.
    public static func appContainersFinished(spec: PodSpec, status: PodStatus) -> Bool {
        spec.containers.allSatisfy { container in
            guard let exit = status.containerStatuses.first(where: { $0.name == container.name })?.state.terminated else { return false }
            return !restarts(.app, podPolicy: spec.effectiveRestartPolicy, exitCode: exit.exitCode)
        }
    }
}
