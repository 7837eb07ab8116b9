import Netns

/// One network namespace kept ready for the next pod (`SpareNetworkNamespace`): creating a
/// network namespace is the most expensive step of a pod's setup, so it is done ahead of need,
/// on the namespace worker between pods, and the next sandbox only binds it under its name.
/// Each sandbox that takes the spare asks for the next one; the work is the same, it just
/// happens off the pod's path. The spare lives only in this process (an open descriptor):
/// nothing is left behind if the agent dies.
final class SparePool: Sendable {
    private let spare = Locked<SpareNetworkNamespace?>(nil)
    private let making = Locked(false)
    private let closed = Locked(false)
    /// Milliseconds each spare took to make (for the metrics).
    let madeMillis = Locked<[Double]>([])

    /// The ready spare, if there is one; the caller owns it from now on.
    func take() -> SpareNetworkNamespace? {
        spare.withLock { current in
            defer { current = nil }
            return current
        }
    }

    /// Makes a spare on the namespace worker, after the jobs already queued there, unless one
    /// is ready or being made. Returns at once.
    func refill() {
        guard !closed.withLock({ $0 }) else { return }
        guard making.withLock({ busy in
            if busy { return false }
            busy = true
            return true
        }) else { return }
        if spare.withLock({ $0 != nil }) {
            making.withLock { $0 = false }
            return
        }
        Task {
            let started = ContinuousClock.now
            let made = try? await NamespaceWorker.shared.run { try SpareNetworkNamespace.make(openingSocket: .route) }
            let elapsed = ContinuousClock.now - started
            if let made {
                madeMillis.withLock { $0.append(Controller.millis(elapsed)) }
                let keep = !closed.withLock { $0 }
                let extra = spare.withLock { current -> SpareNetworkNamespace? in
                    guard keep, current == nil else { return made }
                    current = made
                    return nil
                }
                extra?.close()
            }
            making.withLock { $0 = false }
        }
    }

    /// Frees the spare and makes no more (lab teardown).
    func close() {
        closed.withLock { $0 = true }
        take()?.close()
    }
}
