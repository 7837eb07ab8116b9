import Foundation
import Netns
import PodNet
#if canImport(Glibc)
import Glibc
#endif

/// Notes when the lines of running containers' logs arrive (`PodNet` `LogTimeMark`), for
/// `pods/log`'s `timestamps`, `sinceSeconds` and `sinceTime`. Containers write their log files
/// themselves, so one thread waits on an inotify descriptor that watches each followed log for
/// writes (IN_MODIFY) and appends a mark — the file's size and the time — to the log's index
/// (`<run>.log.times`) whenever it grew. The kernel merges a watch's events while the thread
/// is busy and the thread waits a millisecond after each wake-up, so a chatty container costs
/// at most about a thousand marks a second, not one per write.
final class LogTimeRecorder: Sendable {
    /// A followed log: its index, open for appending, and the size its last mark gave.
    private struct Followed {
        var path: String
        var index: Int32
        var end: UInt64
    }

    private struct State {
        var byWatch: [Int32: Followed] = [:]
        var watchByPath: [String: Int32] = [:]
    }

    private let inotify: Int32
    private let state = Locked(State())

    /// The index of a log file.
    static func indexPath(_ logPath: String) -> String { logPath + ".times" }

    init() throws {
        inotify = inotify_init1(Int32(IN_CLOEXEC))
        guard inotify >= 0 else { throw KernelError(operation: "inotify_init1", object: "container logs", errno: .current) }
        let descriptor = inotify
        try PlainThread.detach(name: "log-times") { [state] in
            LogTimeRecorder.run(inotify: descriptor, state: state)
        }
    }

    /// Follows a container's log from now on (a new run, or one adopted from an earlier agent).
    /// What the file holds beyond its index's last mark was written while no agent watched: it
    /// is marked with the file's modification time, the latest it can have been written.
    func follow(_ logPath: String) {
        state.withLock { state in
            guard state.watchByPath[logPath] == nil else { return }
            let indexPath = Self.indexPath(logPath)
            let index = open(indexPath, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, LabStateModes.file)
            guard index >= 0 else { return }
            // Watched before the size is read: a write in between is seen by one or the other.
            let watch = inotify_add_watch(inotify, logPath, UInt32(IN_MODIFY))
            guard watch >= 0 else {
                close(index)
                return
            }
            let end = Self.lastMark(index)?.end ?? 0
            var followed = Followed(path: logPath, index: index, end: end)
            var info = stat()
            if stat(logPath, &info) == 0, UInt64(info.st_size) > end, end > 0 {
                Self.mark(&followed, size: UInt64(info.st_size),
                          nanoseconds: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec))
            }
            Self.observe(&followed)
            state.byWatch[watch] = followed
            state.watchByPath[logPath] = watch
        }
    }

    /// Marks what the log holds now, so that a reader finds a time for every line it read.
    func observe(_ logPath: String) {
        state.withLock { state in
            guard let watch = state.watchByPath[logPath], var followed = state.byWatch[watch] else { return }
            Self.observe(&followed)
            state.byWatch[watch] = followed
        }
    }

    /// The run ended: its last lines are marked and the log is followed no more.
    func stop(_ logPath: String) {
        state.withLock { state in
            guard let watch = state.watchByPath.removeValue(forKey: logPath), var followed = state.byWatch.removeValue(forKey: watch) else { return }
            Self.observe(&followed)
            inotify_rm_watch(inotify, watch)
            close(followed.index)
        }
    }

    /// The number of logs followed (for tests and the descriptor count: one index each).
    var followedCount: Int { state.withLock { $0.byWatch.count } }

    private static func observe(_ followed: inout Followed) {
        var info = stat()
        guard stat(followed.path, &info) == 0 else { return }
        let size = UInt64(info.st_size)
        guard size > followed.end else { return }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        mark(&followed, size: size, nanoseconds: Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec))
    }

    private static func mark(_ followed: inout Followed, size: UInt64, nanoseconds: Int64) {
        let bytes = LogTimeMark(end: size, nanoseconds: nanoseconds).encoded
        // One write(2) of 16 bytes to an O_APPEND file: marks are never interleaved.
        let written = bytes.withUnsafeBytes { write(followed.index, $0.baseAddress, $0.count) }
        if written == bytes.count { followed.end = size }
    }

    /// The last whole mark of an index file.
    private static func lastMark(_ index: Int32) -> LogTimeMark? {
        var info = stat()
        guard fstat(index, &info) == 0 else { return nil }
        let whole = Int(info.st_size) / LogTimeMark.encodedSize * LogTimeMark.encodedSize
        guard whole > 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: LogTimeMark.encodedSize)
        let read = bytes.withUnsafeMutableBytes { pread(index, $0.baseAddress, $0.count, off_t(whole - LogTimeMark.encodedSize)) }
        guard read == LogTimeMark.encodedSize else { return nil }
        return LogTimeMark.decode(bytes).last
    }

    /// The thread: waits for writes to the followed logs and marks them. A log removed with its
    /// pod (IN_IGNORED) is forgotten.
    private static func run(inotify: Int32, state: Locked<State>) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(inotify, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return
            }
            var watches: [(Int32, UInt32)] = []
            var offset = 0
            buffer.withUnsafeBytes { raw in
                // struct inotify_event: wd, mask, cookie, len (4 bytes each), then `len` bytes of name.
                while offset + 16 <= count {
                    let watch = raw.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                    let mask = raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                    let length = raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self)
                    watches.append((watch, mask))
                    offset += 16 + Int(length)
                }
            }
            state.withLock { state in
                for (watch, mask) in watches {
                    guard var followed = state.byWatch[watch] else { continue }
                    if mask & UInt32(IN_IGNORED) != 0 {
                        state.byWatch[watch] = nil
                        state.watchByPath[followed.path] = nil
                        close(followed.index)
                        continue
                    }
                    observe(&followed)
                    state.byWatch[watch] = followed
                }
            }
            // A chatty container would wake the thread for every few lines: the writes of the
            // next millisecond are left to gather (the kernel merges a watch's repeated events),
            // so a line's time is late by at most about that.
            usleep(1000)
        }
    }
}
