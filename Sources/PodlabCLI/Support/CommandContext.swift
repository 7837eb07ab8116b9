#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// Where a command's text goes: the process's stdout/stderr, or a buffer in tests.
public protocol OutputSink: Sendable {
    /// Writes raw bytes, unbuffered (log streams pass through as they arrive).
    func write(bytes: [UInt8])
    /// True when the sink is a terminal (progress spinners, carriage returns).
    var isTerminal: Bool { get }
}

extension OutputSink {
    /// Writes `text` as UTF-8.
    public func write(_ text: String) { write(bytes: Array(text.utf8)) }

    /// Writes `text` and a newline.
    public func line(_ text: String = "") { write(text + "\n") }
}

/// A file descriptor of this process (1 or 2).
public struct FileDescriptorSink: OutputSink {
    public let fd: Int32

    public init(fd: Int32) { self.fd = fd }

    public var isTerminal: Bool { isatty(fd) == 1 }

    public func write(bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                // A closed pipe (`| head`): end as a filter does, by SIGPIPE, as kubectl does; a
                // followed log would otherwise go on reading into nothing. (Something in the
                // process may ignore the signal, so its default comes back first.)
                if errno == EPIPE {
                    signal(SIGPIPE, SIG_DFL)
                    raise(SIGPIPE)
                }
                return
            }
            offset += n
        }
    }
}

/// Collects everything written, for tests.
public final class CapturingSink: OutputSink {
    private let buffer = Mutex<[UInt8]>([])
    public let isTerminal: Bool

    public init(isTerminal: Bool = false) { self.isTerminal = isTerminal }

    public func write(bytes: [UInt8]) { buffer.withLock { $0.append(contentsOf: bytes) } }

    /// Everything written so far, as text.
    public var text: String { buffer.withLock { String(decoding: $0, as: UTF8.self) } }
}

/// What a command reads from and writes to: its streams, environment and clock.
/// Commands never touch the process's globals directly, so tests can run them in-process.
public struct CommandContext: Sendable {
    public var stdout: any OutputSink
    public var stderr: any OutputSink
    /// The environment (`PODLAB_LAB`, `PODLAB_STATE_ROOT`, `KUBE_EDITOR`, `EDITOR`, `PATH`).
    public var environment: [String: String]
    /// The current time (AGE columns, "Started" in describe).
    public var now: @Sendable () -> Date
    /// How often commands poll the agent while waiting (deletion, pod start, lab phases).
    public var pollInterval: Duration
    /// Reads all of standard input (`apply -f -`).
    public var readStandardInput: @Sendable () -> String
    /// The time zone for dates in `describe` (kubectl prints local time).
    public var timeZone: TimeZone

    public init(stdout: any OutputSink, stderr: any OutputSink, environment: [String: String],
                now: @escaping @Sendable () -> Date = { Date() }, pollInterval: Duration = .milliseconds(100),
                readStandardInput: @escaping @Sendable () -> String = {
                    String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                },
                timeZone: TimeZone = .current) {
        self.stdout = stdout
        self.stderr = stderr
        self.environment = environment
        self.now = now
        self.pollInterval = pollInterval
        self.readStandardInput = readStandardInput
        self.timeZone = timeZone
    }

    /// The real process: fds 1 and 2 and the process environment.
    public static func process() -> CommandContext {
        CommandContext(stdout: FileDescriptorSink(fd: 1), stderr: FileDescriptorSink(fd: 2),
                       environment: ProcessInfo.processInfo.environment)
    }

    /// Where labs keep their state: `$PODLAB_STATE_ROOT`, else `/run/podlab`.
    public var stateRoot: String {
        if let root = environment["PODLAB_STATE_ROOT"], !root.isEmpty { return root }
        return "/run/podlab"
    }

    /// The lab a command talks to: the `--lab` option, else `$PODLAB_LAB`, else `podlab`.
    public func labName(_ option: String?) -> String {
        if let option, !option.isEmpty { return option }
        if let lab = environment["PODLAB_LAB"], !lab.isEmpty { return lab }
        return "podlab"
    }

    /// Waits one poll interval.
    public func pause() async throws {
        try await Task.sleep(for: pollInterval)
    }
}
