/// How a container's process ended, as the lab's keeper writes it down: the keeper is the
/// process that reaps a container orphaned by a dead agent (what conmon and containerd-shim are
/// to a container), so it alone learns that container's exit status, and writes it in a file the
/// next agent reads. One file per process, named by the process's identity (pid and start time,
/// so a reused pid never reads another process's end).
public struct ExitRecord: Hashable, Sendable {
    public enum Status: Hashable, Sendable {
        case exited(Int32)
        case signaled(Int32)
    }

    public var pid: Int32
    /// Field 22 of /proc/PID/stat: clock ticks since boot when the process started.
    public var startTime: UInt64
    public var status: Status
    /// When the keeper reaped it: the container's `finishedAt`, however late an agent reads it.
    public var finishedAt: Timestamp

    public init(pid: Int32, startTime: UInt64, status: Status, finishedAt: Timestamp) {
        self.pid = pid
        self.startTime = startTime
        self.status = status
        self.finishedAt = finishedAt
    }

    /// `<pid>-<start time>`: the record's file name.
    public static func fileName(pid: Int32, startTime: UInt64) -> String { "\(pid)-\(startTime)" }

    public var fileName: String { ExitRecord.fileName(pid: pid, startTime: startTime) }

    /// The file's content, one line: `exited 7` or `signaled 9`, then when (seconds since 1970).
    public var text: String {
        switch status {
        case let .exited(code): "exited \(code) \(finishedAt.secondsSince1970)\n"
        case let .signaled(signal): "signaled \(signal) \(finishedAt.secondsSince1970)\n"
        }
    }

    /// Reads a record back from its file's name and content; nil for anything else (a file
    /// still being written is never read: it is renamed into place whole).
    public init?(fileName: String, text: String) {
        let parts = fileName.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let pid = Int32(parts[0]), pid > 0, let startTime = UInt64(parts[1]),
              let (status, finishedAt) = ExitRecord.content(text) else { return nil }
        self.init(pid: pid, startTime: startTime, status: status, finishedAt: finishedAt)
    }

    /// A record's content; nil unless it is one whole line of `exited N` (0–255) or
    /// `signaled N` (1–64) and a time.
    public static func content(_ text: String) -> (status: Status, finishedAt: Timestamp)? {
        guard text.hasSuffix("\n") else { return nil }
        let words = text.dropLast().split(separator: " ", omittingEmptySubsequences: false)
        guard words.count == 3, let value = Int32(words[1]), let seconds = Int64(words[2]), seconds >= 0 else { return nil }
        switch words[0] {
        case "exited" where (0...255).contains(value): return (.exited(value), Timestamp(secondsSince1970: seconds))
        case "signaled" where (1...64).contains(value): return (.signaled(value), Timestamp(secondsSince1970: seconds))
        default: return nil
        }
    }
}

/// What an agent concludes about a process it watched but did not start (adopted after a
/// restart: the keeper's child, not the agent's) once the process has ended.
///
/// The keeper writes its record while the process is still a zombie and reaps it only then. So
/// the agent reads the process's state first and the record second: a process already gone
/// (reaped) whose record is missing was reaped by someone who keeps no records, and waiting
/// longer brings nothing.
public enum ExitRecordLookup {
    /// The process as /proc shows it.
    public enum ProcessState: Hashable, Sendable {
        /// Still running (its end not yet visible in /proc).
        case running
        /// Ended, not yet reaped, with this parent.
        case zombie(parent: Int32)
        /// Reaped: no process of that pid and start time any more.
        case gone
    }

    public enum Outcome: Hashable, Sendable {
        case recorded(ExitRecord)
        /// Look again shortly: its reaper has not written the record yet.
        case wait
        /// No record will come; the reason, for the container's status message.
        case unknown(String)
    }

    /// `record` must have been read after `state`.
    public static func outcome(state: ProcessState, record: ExitRecord?) -> Outcome {
        if let record { return .recorded(record) }
        switch state {
        case .running:
            return .wait
        case let .zombie(parent) where parent == 1:
            // Re-parented to init: the lab's keeper is gone (and init records nothing).
            return .unknown("exit status unknown: the lab's keeper was gone when the process ended")
        case .zombie:
            return .wait
        case .gone:
            return .unknown("exit status unknown: the process was reaped without a record (the lab's keeper was gone)")
        }
    }
}
