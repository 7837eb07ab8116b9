/// The kubelet's back-off before starting a container that exited again (CrashLoopBackOff):
/// the first restart at once, then 10 s doubling up to 5 min; a container that ran for 10 min
/// starts afresh. (The kubelet keys a `flowcontrol.Backoff` by container and forgets an entry
/// left alone for twice the cap; podlab counts the failures in a row per container.)
public struct RestartBackoff: Sendable, Hashable {
    public var base: Duration
    public var cap: Duration
    public var resetAfter: Duration

    public init(base: Duration = .seconds(10), cap: Duration = .seconds(300), resetAfter: Duration = .seconds(600)) {
        self.base = base
        self.cap = cap
        self.resetAfter = resetAfter
    }

    /// The delay before restart number `consecutiveFailures` (0-based) of a container that
    /// already waited once: `base` doubled that many times, never more than `cap`.
    public func delay(consecutiveFailures: Int) -> Duration {
        var delay = base
        for _ in 0..<max(0, min(consecutiveFailures, 30)) {
            delay = delay * 2
            if delay >= cap { return cap }
        }
        return min(delay, cap)
    }

    /// What follows a container's exit: its failures in a row, this one included (a run of
    /// `resetAfter` or longer starts the count again), and how long to wait before starting it
    /// again — nothing after the first failure, then `delay(consecutiveFailures:)`.
    public func afterExit(failuresBefore: Int, ranFor: Duration) -> (failures: Int, delay: Duration) {
        let failures = (ranFor >= resetAfter ? 0 : max(0, failuresBefore)) + 1
        return (failures, failures == 1 ? .zero : delay(consecutiveFailures: failures - 2))
    }
}

/// The kubelet's back-off between pulls of an image that failed to pull: after the n-th
/// failure in a row no pull is tried for 10 s · 2ⁿ⁻¹ (at most 5 min). The kubelet looks at
/// the pod again every 10 s (its pod worker's back-off after a failed sync); a look inside the
/// window reports `ImagePullBackOff`, the first look after it pulls again, which fails with
/// `ErrImagePull` or starts the container. So the state alternates ErrImagePull →
/// ImagePullBackOff, the back-off growing, until the image is changed to one that exists.
public struct ImagePullBackoff: Sendable, Hashable {
    public var base: Duration
    public var cap: Duration

    public init(base: Duration = .seconds(10), cap: Duration = .seconds(300)) {
        self.base = base
        self.cap = cap
    }

    /// What a look at a container whose image failed to pull does.
    public enum Step: Sendable, Hashable {
        /// The window has passed: pull (start the container) again.
        case pull
        /// Still inside the window: report `ImagePullBackOff`.
        case backOff
    }

    /// How often the pod is looked at again while its container waits for its image.
    public var resyncPeriod: Duration { base }

    /// How long no pull is tried after `failedPulls` failures in a row (1 or more).
    public func window(failedPulls: Int) -> Duration {
        var window = base
        for _ in 0..<max(0, min(failedPulls - 1, 30)) {
            window = window * 2
            if window >= cap { return cap }
        }
        return min(window, cap)
    }

    /// The step of a look `sinceLastFailure` after the last failed pull, the `failedPulls`-th in a row.
    public func step(failedPulls: Int, sinceLastFailure: Duration) -> Step {
        sinceLastFailure >= window(failedPulls: failedPulls) ? .pull : .backOff
    }

    /// The waiting message of a container in `ImagePullBackOff`: the kubelet's, with the
    /// error of the last pull after it.
    public static func backOffMessage(image: String, lastError: String) -> String {
        "Back-off pulling image \"\(image)\"" + (lastError.isEmpty ? "" : ": \(ContainerReason.errImagePull): \(lastError)")
    }
}
