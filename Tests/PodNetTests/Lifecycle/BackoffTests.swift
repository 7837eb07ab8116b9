import Testing
@testable import PodNet

@Suite("Restart and image pull back-off")
struct BackoffTests {
    // MARK: Restart (CrashLoopBackOff)

    /// The kubelet's delays before each restart of a container that keeps exiting at once:
    /// none, then 10 s doubling, capped at 5 min.
    static let restartDelays: [(failure: Int, seconds: Int64)] = [
        (1, 0), (2, 10), (3, 20), (4, 40), (5, 80), (6, 160), (7, 300), (8, 300), (20, 300), (100, 300),
    ]

    @Test("the n-th exit in a row waits 0, 10, 20, 40, 80, 160, then 300 s", arguments: restartDelays)
    func restartDelay(failure: Int, seconds: Int64) {
        let backoff = RestartBackoff()
        let outcome = backoff.afterExit(failuresBefore: failure - 1, ranFor: .seconds(1))
        #expect(outcome.failures == failure)
        #expect(outcome.delay == .seconds(seconds))
    }

    @Test("exits in a row, one after the other, double the wait each time up to the cap")
    func restartSequence() {
        let backoff = RestartBackoff()
        var failures = 0
        var delays: [Duration] = []
        for _ in 1...9 {
            let outcome = backoff.afterExit(failuresBefore: failures, ranFor: .zero)
            failures = outcome.failures
            delays.append(outcome.delay)
        }
        #expect(delays == [0, 10, 20, 40, 80, 160, 300, 300, 300].map { Duration.seconds($0) })
    }

    /// A run of 10 min or more starts the count again; a shorter one does not.
    static let resets: [(ranFor: Int64, failures: Int, seconds: Int64)] = [
        (599, 5, 80), (600, 1, 0), (3600, 1, 0), (0, 5, 80),
    ]

    @Test("a container that ran 10 min starts its back-off afresh", arguments: resets)
    func restartReset(ranFor: Int64, failures: Int, seconds: Int64) {
        let outcome = RestartBackoff().afterExit(failuresBefore: 4, ranFor: .seconds(ranFor))
        #expect(outcome.failures == failures)
        #expect(outcome.delay == .seconds(seconds))
    }

    @Test("a shorter base (the lab's test setting) doubles the same way, under the same cap")
    func restartScaledBase() {
        let backoff = RestartBackoff(base: .milliseconds(500))
        #expect((0...11).map { backoff.delay(consecutiveFailures: $0) }
            == [500, 1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 300_000, 300_000].map { Duration.milliseconds($0) })
    }

    // MARK: Image pulls (ErrImagePull / ImagePullBackOff)

    static let pullWindows: [(failedPulls: Int, seconds: Int64)] = [
        (1, 10), (2, 20), (3, 40), (4, 80), (5, 160), (6, 300), (7, 300), (50, 300),
    ]

    @Test("after the n-th failed pull no pull is tried for 10 s doubling up to 300 s", arguments: pullWindows)
    func pullWindow(failedPulls: Int, seconds: Int64) {
        #expect(ImagePullBackoff().window(failedPulls: failedPulls) == .seconds(seconds))
    }

    static let pullSteps: [(failedPulls: Int, since: Int64, step: ImagePullBackoff.Step)] = [
        (1, 0, .backOff), (1, 9, .backOff), (1, 10, .pull),
        (2, 10, .backOff), (2, 19, .backOff), (2, 20, .pull),
        (3, 30, .backOff), (3, 40, .pull),
        (6, 290, .backOff), (6, 300, .pull),
    ]

    @Test("a look inside the window backs off, the first after it pulls", arguments: pullSteps)
    func pullStep(failedPulls: Int, since: Int64, step: ImagePullBackoff.Step) {
        #expect(ImagePullBackoff().step(failedPulls: failedPulls, sinceLastFailure: .seconds(since)) == step)
    }

    /// The reasons a container with an image that never pulls shows, one per look at the pod
    /// (every 10 s): ErrImagePull after each failed pull, ImagePullBackOff in between, the
    /// pulls ever further apart.
    @Test("looks every 10 s: ErrImagePull and ImagePullBackOff alternate, the back-off growing")
    func pullSequence() {
        let backoff = ImagePullBackoff()
        var reasons = [ContainerReason.errImagePull]
        var failedPulls = 1
        var lastFailure: Int64 = 0
        var now: Int64 = 0
        for _ in 1...15 {
            now += Int64(backoff.resyncPeriod.components.seconds)
            switch backoff.step(failedPulls: failedPulls, sinceLastFailure: .seconds(now - lastFailure)) {
            case .pull:
                failedPulls += 1
                lastFailure = now
                reasons.append(ContainerReason.errImagePull)
            case .backOff:
                reasons.append(ContainerReason.imagePullBackOff)
            }
        }
        let (pull, backOff) = (ContainerReason.errImagePull, ContainerReason.imagePullBackOff)
        #expect(reasons == [pull, pull, backOff, pull, backOff, backOff, backOff, pull] + Array(repeating: backOff, count: 7) + [pull])
    }

    @Test func backOffMessageNamesTheImageAndTheLastError() {
        #expect(ImagePullBackoff.backOffMessage(image: "nosuch:1", lastError: "Failed to pull image \"nosuch:1\": not found")
            == "Back-off pulling image \"nosuch:1\": ErrImagePull: Failed to pull image \"nosuch:1\": not found")
        #expect(ImagePullBackoff.backOffMessage(image: "x", lastError: "") == "Back-off pulling image \"x\"")
    }
}
