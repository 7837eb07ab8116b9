#if canImport(Glibc)
import Glibc
#endif
import CNetlink

/// The one thread that is allowed to change namespaces.
///
/// `setns` and `unshare` change only the calling thread, and Swift tasks and Dispatch move work
/// between pool threads; a pool thread left in a pod's namespace would run later, unrelated work
/// there (and threads it creates inherit that namespace). So every namespace switch in podlab
/// happens here: a dedicated pthread that sits in its home namespaces (those of the process at
/// start) and runs jobs one at a time. A job may enter another namespace only through
/// `withNamespaces`, which always returns the thread home; if that ever fails the process stops,
/// because the thread could no longer be trusted.
///
/// Jobs should only call syscalls and libmnl/libnftnl: no Dispatch, no Tasks, no first use of
/// Foundation, while inside a foreign namespace.
public final class NamespaceWorker: @unchecked Sendable {
    /// The process-wide worker.
    public static let shared = NamespaceWorker()

    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var jobs: [() -> Void] = []
    private var jobIndex = 0
    /// Urgent jobs at the front of the queue (from `jobIndex` on), not yet taken.
    private var urgentWaiting = 0
    private var started = false
    /// Kernel thread id of the worker, fixed once the thread runs.
    public private(set) var threadID: pid_t = 0
    /// fds of the worker's home namespaces, opened by the worker itself at start.
    private var homeNet: Int32 = -1
    private var homeUTS: Int32 = -1
    private var homeIPC: Int32 = -1
    private var homeMount: Int32 = -1
    /// The worker's own pid namespace: where its children are born when it is home.
    private var homePID: Int32 = -1
    /// The worker's working directory, opened when it first leaves its mount namespace: entering
    /// one moves a thread to that namespace's root, and coming home does not move it back.
    private var homeDirectory: Int32 = -1
    /// The base of pods' mount namespaces (see `MountNamespace`), made on first use.
    var podMountBaseFD: Int32 = -1

    private init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            let worker = Unmanaged<NamespaceWorker>.fromOpaque(raw!).takeRetainedValue()
            worker.main()
            return nil
        }, context)
        precondition(rc == 0, "cannot start the namespace worker thread: \(Errno(rc))")
        pthread_detach(thread)
        pthread_mutex_lock(&mutex)
        while !started { pthread_cond_wait(&condition, &mutex) }
        pthread_mutex_unlock(&mutex)
    }

    private func main() {
        let tid = pl_gettid()
        let net = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        let uts = open("/proc/thread-self/ns/uts", O_RDONLY | O_CLOEXEC)
        let ipc = open("/proc/thread-self/ns/ipc", O_RDONLY | O_CLOEXEC)
        let mount = open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC)
        let pid = open("/proc/thread-self/ns/pid", O_RDONLY | O_CLOEXEC)
        pthread_mutex_lock(&mutex)
        threadID = tid
        homeNet = net
        homeUTS = uts
        homeIPC = ipc
        homeMount = mount
        homePID = pid
        started = true
        pthread_cond_broadcast(&condition)
        while true {
            while jobIndex == jobs.count { pthread_cond_wait(&condition, &mutex) }
            let job = jobs[jobIndex]
            if urgentWaiting > 0 { urgentWaiting -= 1 }
            // Drop the queue's reference now: a finished job must not keep what it captured
            // (a result such as a netlink socket would keep its namespace alive).
            jobs[jobIndex] = {}
            jobIndex += 1
            if jobIndex > 64 && jobIndex * 2 > jobs.count {
                jobs.removeFirst(jobIndex)
                jobIndex = 0
            }
            pthread_mutex_unlock(&mutex)
            job()
            pthread_mutex_lock(&mutex)
        }
    }

    /// Queues a job; an urgent one goes before the jobs still waiting (after other urgent ones).
    private func enqueue(urgent: Bool = false, _ job: @escaping () -> Void) {
        pthread_mutex_lock(&mutex)
        if urgent {
            jobs.insert(job, at: jobIndex + urgentWaiting)
            urgentWaiting += 1
        } else {
            jobs.append(job)
        }
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
    }

    /// True when the caller is the worker thread itself.
    public var isCurrent: Bool { pl_gettid() == threadID }

    /// Runs `body` on the worker and waits for it. Re-entrant: called on the worker, it runs inline.
    public func sync<T>(_ body: () throws -> T) throws -> T {
        try sync(urgent: false, body)
    }

    private func sync<T>(urgent: Bool, _ body: () throws -> T) throws -> T {
        if isCurrent { return try body() }
        return try withoutActuallyEscaping(body) { escapable in
            // The queued job reaches `body` only through `slot`, which drops it before the
            // caller is woken: `withoutActuallyEscaping` checks that nothing still holds it.
            let slot = JobSlot<T>()
            slot.body = escapable
            let done = Completion()
            enqueue(urgent: urgent) {
                slot.result = Result { try slot.body!() }
                slot.body = nil
                done.signal()
            }
            done.wait()
            return try slot.result!.get()
        }
    }

    /// How much `syncUrgent` raises the worker's scheduling priority (nice steps).
    public static let urgentBoost: Int32 = 10

    /// Like `sync`, with the worker's priority raised by `urgentBoost` nice steps while `body`
    /// runs, and restored afterwards (before any other job, so processes spawned later do not
    /// inherit it). For short latency-critical work such as building a pod's sandbox: on a
    /// busy machine the kernel work inside otherwise waits behind every runnable thread.
    /// Without the privilege to raise priority (CAP_SYS_NICE), `body` runs at the usual one.
    /// It also goes before the queued jobs that are not urgent (a running job is not interrupted).
    public func syncUrgent<T>(_ body: () throws -> T) throws -> T {
        try sync(urgent: true) {
            let tid = id_t(UInt32(bitPattern: pl_gettid()))
            errno = 0
            let before = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), tid)
            guard errno == 0 else { return try body() }
            let raised = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), tid, max(-20, before - Self.urgentBoost)) == 0
            defer { if raised { setpriority(__priority_which_t(PRIO_PROCESS.rawValue), tid, before) } }
            return try body()
        }
    }

    /// Runs `body` on the worker without blocking the calling task.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            enqueue { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Namespace kinds the worker can enter. Entering (or unsharing) a pid namespace changes
    /// only where the worker's next children are born (`pid_for_children`): the kernel never
    /// moves a running thread to another pid namespace.
    public enum Kind: Sendable, CaseIterable {
        case net, uts, ipc, mnt, pid
        var cloneFlag: Int32 {
            switch self {
            case .net: PL_CLONE_NEWNET
            case .uts: PL_CLONE_NEWUTS
            case .ipc: PL_CLONE_NEWIPC
            case .mnt: PL_CLONE_NEWNS
            case .pid: PL_CLONE_NEWPID
            }
        }
        var procName: String {
            switch self {
            case .net: "net"
            case .uts: "uts"
            case .ipc: "ipc"
            case .mnt: "mnt"
            case .pid: "pid"
            }
        }
        /// The name of the flag in `unshare` errors (`CLONE_NEWNET`, `CLONE_NEWNS`).
        var flagName: String { self == .mnt ? "CLONE_NEWNS" : "CLONE_NEW\(procName.uppercased())" }
    }

    func homeFD(_ kind: Kind) -> Int32 {
        switch kind {
        case .net: homeNet
        case .uts: homeUTS
        case .ipc: homeIPC
        case .mnt: homeMount
        case .pid: homePID
        }
    }

    /// On the worker: enters each (fd, kind), runs `body`, and returns home in every case.
    /// `label` names the target in errors (a namespace name or path).
    func withNamespaces<T>(_ targets: [(fd: Int32, kind: Kind, label: String)], _ body: () throws -> T) throws -> T {
        try withNamespaces(targets, unsharing: [], label: "", body)
    }

    /// On the worker: `unshare`s a fresh namespace of `kind`, runs `body` inside it, returns home.
    func withNewNamespace<T>(_ kind: Kind, label: String, _ body: () throws -> T) throws -> T {
        try withNewNamespaces([kind], label: label, body)
    }

    /// On the worker: one `unshare` for several fresh namespaces at once, `body` inside them,
    /// then home for all of them.
    func withNewNamespaces<T>(_ kinds: [Kind], label: String, _ body: () throws -> T) throws -> T {
        try withNamespaces([], unsharing: kinds, label: label, body)
    }

    /// On the worker: enters each (fd, kind) of `targets`, then `unshare`s fresh namespaces of
    /// `kinds` there in one call (a new mount namespace is a copy of the one entered before),
    /// runs `body`, and returns home for all of them in every case.
    func withNamespaces<T>(_ targets: [(fd: Int32, kind: Kind, label: String)], unsharing kinds: [Kind], label: String,
                           _ body: () throws -> T) throws -> T {
        precondition(isCurrent, "namespace switch attempted off the namespace worker thread")
        if targets.contains(where: { $0.kind == .mnt }) || kinds.contains(.mnt) { try ownFileSystemState() }
        var entered: [Kind] = []
        defer { returnHome(entered) }
        for target in targets {
            try shimCall("setns", target.label) { pl_setns(target.fd, target.kind.cloneFlag) }
            entered.append(target.kind)
        }
        if !kinds.isEmpty {
            let flags = kinds.reduce(Int32(0)) { $0 | $1.cloneFlag }
            try shimCall("unshare(\(kinds.map(\.flagName).joined(separator: "|")))", label) { pl_unshare(flags) }
            entered += kinds.filter { !entered.contains($0) }
        }
        return try body()
    }

    /// Gives the worker its own root and working directory (the threads of a process share
    /// them, and the kernel lets only a thread with its own enter a mount namespace: EINVAL),
    /// and remembers the working directory to come back to. Once, before the first mount
    /// namespace is entered.
    private func ownFileSystemState() throws {
        guard homeDirectory < 0 else { return }
        try shimCall("unshare(CLONE_FS)", "namespace worker") { pl_unshare(PL_CLONE_FS) }
        homeDirectory = open(".", PL_O_PATH | O_DIRECTORY | O_CLOEXEC)
    }

    private func returnHome(_ kinds: [Kind]) {
        for kind in kinds {
            let rc = pl_setns(homeFD(kind), kind.cloneFlag)
            if rc != 0 {
                fatalError("namespace worker cannot return to its home \(kind.procName) namespace: \(Errno(-rc))")
            }
            if kind == .mnt, homeDirectory >= 0 { fchdir(homeDirectory) }
        }
    }
}

/// Holds a synchronous job's closure and result while it crosses to the worker.
final class JobSlot<T> {
    var body: (() throws -> T)?
    var result: Result<T, any Error>?
}

/// A one-shot signal between two threads, on a pthread mutex and condition
/// (nothing here may touch Dispatch: see `NamespaceWorker`).
final class Completion: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var done = false

    init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    func signal() {
        pthread_mutex_lock(&mutex)
        done = true
        pthread_cond_signal(&condition)
        pthread_mutex_unlock(&mutex)
    }

    func wait() {
        pthread_mutex_lock(&mutex)
        while !done { pthread_cond_wait(&condition, &mutex) }
        pthread_mutex_unlock(&mutex)
    }
}
