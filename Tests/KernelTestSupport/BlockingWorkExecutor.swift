import Dispatch

/// The executor kernel tests run on.
///
/// End-to-end tests block their thread: they wait for `ip`, `nft` and `podlab` processes, poll
/// sockets and sleep between retries. On Swift's shared cooperative pool (one thread per core,
/// two here) a handful of such waits stop every other test in the process, so a suite that
/// polls with a deadline could see tens of seconds pass without a single turn. This executor
/// runs jobs on a concurrent dispatch queue of its own, which (unlike the cooperative pool)
/// adds a thread when one blocks; `RootNamespaceUnchanged` makes it the preferred executor of
/// every kernel suite, and child tasks inherit the preference.
public final class BlockingWorkExecutor: TaskExecutor, @unchecked Sendable {
    public static let shared = BlockingWorkExecutor()

    private let queue = DispatchQueue(label: "podlab.tests.blocking", attributes: .concurrent)

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }
}
