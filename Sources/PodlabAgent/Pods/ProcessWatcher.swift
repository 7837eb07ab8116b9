#if canImport(Glibc)
import Glibc
#endif
import CNetlink
import Netns

/// Identifies a process across pid reuse: its pid and its start time (field 22 of
/// /proc/PID/stat, clock ticks since boot).
public struct ProcessIdentity: Hashable, Sendable, Codable {
    public var pid: Int32
    public var startTime: UInt64

    public init(pid: Int32, startTime: UInt64) {
        self.pid = pid
        self.startTime = startTime
    }

    /// Reads the identity of a live process; nil if it does not exist.
    public static func of(pid: Int32) -> ProcessIdentity? {
        guard let start = ProcessStat(pid: pid)?.startTime else { return nil }
        return ProcessIdentity(pid: pid, startTime: start)
    }

    /// True when a process with this pid and start time is alive (and not a zombie).
    public var isAlive: Bool {
        guard let stat = ProcessStat(pid: pid), stat.startTime == startTime else { return false }
        return !stat.isZombie
    }

    /// Sends `signal` to this process and to no other: a pidfd pins the process the pid names
    /// now, its start time is checked after the pidfd is open, and the signal goes through the
    /// pidfd. False when the process has ended (its pid may be someone else's by now).
    @discardableResult
    public func signal(_ signal: Int32) -> Bool {
        let fd = pl_pidfd_open(pid)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard ProcessStat(pid: pid)?.startTime == startTime else { return false }
        return pl_pidfd_send_signal(fd, signal) == 0
    }
}

/// Reads a small text file with plain syscalls (no Foundation on hot paths).
func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    var total = 0
    while total < buffer.count {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, $0.count - total) }
        if n <= 0 { break }
        total += n
    }
    return String(decoding: buffer[0..<total], as: UTF8.self)
}

/// Watches processes for their exit with pidfds on one poll thread.
///
/// Works for the agent's own children (their exit status is reaped and reported) and for
/// processes adopted after an agent restart, which are not children: the handler gets nil, and
/// their status is what the lab's keeper, their parent, recorded (`ExitRecords`).
public final class ProcessWatcher: @unchecked Sendable {
    public typealias Handler = @Sendable (TerminationStatus?) -> Void

    private struct Entry {
        var pid: Int32
        var isChild: Bool
        var handler: Handler
    }

    private let state = Locked<[Int32: Entry]>([:])  // keyed by pidfd
    private var wakePipe: [Int32] = [-1, -1]

    public static let shared = ProcessWatcher()

    private init() {
        var fds: [Int32] = [0, 0]
        let rc = fds.withUnsafeMutableBufferPointer { pipe($0.baseAddress!) }
        precondition(rc == 0, "pipe failed: \(Errno.current)")
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        }
        wakePipe = fds
        do { try PlainThread.detach(name: "process-watcher") { self.loop() } } catch {
            preconditionFailure("cannot start the process watcher thread: \(error)")
        }
    }

    /// Calls `handler` once, on the watcher thread, when `pid` exits. If it has already
    /// exited, the handler runs promptly.
    public func watch(pid: Int32, isChild: Bool, handler: @escaping Handler) throws {
        let fd = pl_pidfd_open(pid)
        if fd < 0 {
            if -fd == ESRCH {
                // Gone already: reap a child to learn its status.
                handler(isChild ? (try? ChildProcess(pid: pid).poll()) ?? nil : nil)
                return
            }
            throw KernelError(operation: "pidfd_open", object: "pid \(pid)", errno: Errno(-fd))
        }
        state.withLock { $0[fd] = Entry(pid: pid, isChild: isChild, handler: handler) }
        var byte: UInt8 = 1
        _ = write(wakePipe[1], &byte, 1)
    }

    private func loop() {
        while true {
            let entries = state.withLock { $0.keys.sorted() }
            var fds = [pollfd(fd: wakePipe[0], events: Int16(POLLIN), revents: 0)]
            fds += entries.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let n = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress!, nfds_t($0.count), -1) }
            if n < 0 { continue }
            if fds[0].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 64)
                while read(wakePipe[0], &drain, drain.count) > 0 {}
            }
            for item in fds.dropFirst() where item.revents != 0 {
                guard let entry = state.withLock({ $0.removeValue(forKey: item.fd) }) else { continue }
                close(item.fd)
                var status: TerminationStatus?
                if entry.isChild {
                    // The pidfd is readable once the child is a zombie: reap it (no blocking).
                    status = try? ChildProcess(pid: entry.pid).poll()
                }
                entry.handler(status)
            }
        }
    }
}

/// `/proc/<pid>/stat` read once: the fields after the command name (which may contain spaces
/// and parentheses), so `fields[0]` is the state, `[1]` the parent, `[3]` the session and
/// `[19]` the start time.
struct ProcessStat {
    let fields: [Substring]

    init?(pid: Int32) {
        guard let text = readSmallFile("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        fields = text[text.index(after: close)...].split(separator: " ")
    }

    var state: Substring? { fields.first }
    /// A zombie (`Z`) or a dead (`X`) process: it has ended.
    var isZombie: Bool { state == "Z" || state == "X" }
    var parent: Int32? { fields.count > 1 ? Int32(fields[1]) : nil }
    var session: Int32? { fields.count > 3 ? Int32(fields[3]) : nil }
    var startTime: UInt64? { fields.count > 19 ? UInt64(fields[19]) : nil }
    /// The kernel's `PF_EXITING` (0x4) among the flags (field 9): the process has begun to exit.
    /// A pid namespace's init stays so, not yet a zombie, until every other process of its
    /// namespace is reaped, while no process can be born in the namespace any more.
    var isExiting: Bool { fields.count > 6 && (UInt32(fields[6]) ?? 0) & 0x4 != 0 }
}
