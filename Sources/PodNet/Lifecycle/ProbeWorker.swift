/// The kubelet's prober worker for one probe of one container (`pkg/kubelet/prober/worker.go`),
/// without its timer and its IO: whether a probe is due, and what a result changes. The agent
/// runs the probes and feeds the results in.
///
/// A result counts once it repeats: `failureThreshold` failures in a row publish a failure,
/// `successThreshold` successes in a row a success; a different result starts the count again.
/// Published results are what the kubelet's results managers hold: readiness starts as a
/// failure (not ready until it succeeds), liveness as a success, startup as unknown.
public struct ProbeWorker: Hashable, Sendable {
    public enum Result: Hashable, Sendable {
        case success
        case failure
    }

    public let type: ContainerProbeType
    /// The probe, defaulted.
    public let probe: ContainerProbe
    /// The published result; nil while unknown.
    public private(set) var result: Result?
    private var lastResult: Result?
    private var resultRun = 0
    /// After a failure that kills the container (liveness, startup), nothing is probed until
    /// the container runs again (the kubelet's `onHold`).
    public private(set) var onHold = false

    public init(type: ContainerProbeType, probe: ContainerProbe) {
        self.type = type
        self.probe = probe.defaulted
        result = ProbeWorker.initialResult(type)
    }

    static func initialResult(_ type: ContainerProbeType) -> Result? {
        switch type {
        case .readiness: .failure
        case .liveness: .success
        case .startup: nil
        }
    }

    /// A new run of the container (its first start, or a restart): counts start over.
    public mutating func containerStarted() {
        result = ProbeWorker.initialResult(type)
        lastResult = nil
        resultRun = 0
        onHold = false
    }

    /// Whether the probe runs now, as `doProbe` decides before probing: not while on hold;
    /// a startup probe only until the container has started, the others only after; none
    /// before `initialDelaySeconds`.
    public func isDue(started: Bool, secondsSinceStart: Int64) -> Bool {
        if onHold { return false }
        switch type {
        case .startup: if started { return false }
        case .liveness, .readiness: if !started { return false }
        }
        return secondsSinceStart >= Int64(probe.initialDelaySeconds)
    }

    /// What one result changed.
    public enum Outcome: Hashable, Sendable {
        /// Below the threshold, or the same result published again.
        case unchanged
        /// A new published result.
        case published(Result)
        /// A liveness or startup failure reached its threshold: the container is killed (and
        /// restarted by the pod's policy). The probe waits for the next run.
        case kill
    }

    /// Counts one result of the probe.
    public mutating func record(_ observed: Result) -> Outcome {
        if lastResult == observed {
            resultRun += 1
        } else {
            lastResult = observed
            resultRun = 1
        }
        let threshold = observed == .failure ? probe.failureThreshold : probe.successThreshold
        guard resultRun >= Int(threshold) else { return .unchanged }
        let previous = result
        result = observed
        if observed == .failure, type != .readiness {
            onHold = true
            resultRun = 0
            return .kill
        }
        return previous == observed ? .unchanged : .published(observed)
    }
}

/// The probes of one container together: whether it has started and is ready, as the
/// kubelet's `UpdatePodStatus` derives them from the published results, and what a result
/// means for the container.
public struct ContainerProbes: Hashable, Sendable {
    public let container: String
    public private(set) var workers: [ContainerProbeType: ProbeWorker]

    public init(_ container: Container) {
        self.container = container.name
        var workers: [ContainerProbeType: ProbeWorker] = [:]
        for type in ContainerProbeType.allCases {
            if let probe = container.probe(type) { workers[type] = ProbeWorker(type: type, probe: probe) }
        }
        self.workers = workers
    }

    /// Started once the startup probe succeeded; at once without one.
    public var started: Bool { workers[.startup].map { $0.result == .success } ?? true }

    /// Ready when started and, with a readiness probe, once it succeeded.
    public var ready: Bool { started && (workers[.readiness].map { $0.result == .success } ?? true) }

    /// A new run of the container.
    public mutating func containerStarted() {
        for type in workers.keys { workers[type]?.containerStarted() }
    }

    public func isDue(_ type: ContainerProbeType, secondsSinceStart: Int64) -> Bool {
        workers[type]?.isDue(started: started, secondsSinceStart: secondsSinceStart) ?? false
    }

    /// What a result means for the container.
    public enum Effect: Hashable, Sendable {
        case none
        /// `started` or `ready` changed.
        case status(started: Bool, ready: Bool)
        /// The container is to be killed: the kubelet's reason (`Container app failed liveness probe`).
        case kill(message: String)
    }

    public mutating func record(_ type: ContainerProbeType, _ result: ProbeWorker.Result) -> Effect {
        guard workers[type] != nil else { return .none }
        let before = (started, ready)
        switch workers[type]!.record(result) {
        case .kill: return .kill(message: "Container \(container) failed \(type.rawValue.lowercased()) probe")
        case .unchanged, .published: return (started, ready) == before ? .none : .status(started: started, ready: ready)
        }
    }

    /// The `Killing` event's message: the reason, and whether the container comes back.
    public static func killingMessage(_ reason: String, restarts: Bool) -> String {
        restarts ? reason + ", will be restarted" : reason
    }

    /// The `Unhealthy` event's message for a failed probe (`Liveness probe failed: HTTP probe
    /// failed with statuscode: 500`).
    public static func failureMessage(_ type: ContainerProbeType, output: String) -> String {
        "\(type.rawValue) probe failed: \(output)"
    }

    /// The `Unhealthy` event's message for a probe that could not run (its result is not counted).
    public static func errorMessage(_ type: ContainerProbeType, error: String) -> String {
        "\(type.rawValue) probe errored: \(error)"
    }
}
