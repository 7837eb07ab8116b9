#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Netns
import PodNet

/// How a container's process ended, as the agent learns it.
public enum ContainerExit: Sendable, Equatable {
    /// Reaped by the agent itself, or recorded by the keeper (with the time it reaped it).
    case recorded(TerminationStatus, finishedAt: Timestamp?)
    /// Nobody recorded it (the lab's keeper was gone); why, for the container's status.
    case unknown(String)
}

/// The lab's exit records (`LabPaths.exits`): the keeper writes one when it reaps a container
/// orphaned by a dead agent; the agent that adopted the container reads it as the container's
/// exit status and removes it once that status is stored.
public struct ExitRecords: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    /// Writes the record whole: a temporary file renamed into place, so a reader sees all of it
    /// or nothing. Throws if the directory is gone (the lab was deleted: nobody will read it).
    public func write(_ record: ExitRecord) throws {
        let path = "\(directory)/\(record.fileName)"
        let temporary = "\(directory)/.\(record.fileName).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, LabStateModes.file)
        guard fd >= 0 else { throw KernelError(operation: "open", object: temporary, errno: .current) }
        let text = record.text
        let written = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        let error = written == text.utf8.count ? nil : Errno.current
        close(fd)
        if let error {
            unlink(temporary)
            throw KernelError(operation: "write", object: temporary, errno: error)
        }
        guard rename(temporary, path) == 0 else {
            let error = Errno.current
            unlink(temporary)
            throw KernelError(operation: "rename", object: path, errno: error)
        }
    }

    /// The record of `process`, if it exists.
    public func record(of process: ProcessIdentity) -> ExitRecord? {
        let name = ExitRecord.fileName(pid: process.pid, startTime: process.startTime)
        return readSmallFile("\(directory)/\(name)").flatMap { ExitRecord(fileName: name, text: $0) }
    }

    public func remove(_ process: ProcessIdentity) {
        unlink("\(directory)/\(ExitRecord.fileName(pid: process.pid, startTime: process.startTime))")
    }

    /// Removes every record but those of `kept`: once an agent has adopted its pods, a record of
    /// any other process (a stray it stopped, a container of a pod deleted meanwhile, a process
    /// that left its container's session) is one nobody will read.
    public func prune(keeping kept: Set<ProcessIdentity>) {
        let names = Set(kept.map { ExitRecord.fileName(pid: $0.pid, startTime: $0.startTime) })
        // Files being written (`.<name>.tmp`) are the keeper's, not records yet.
        for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where !file.hasPrefix(".") && !names.contains(file) {
            unlink("\(directory)/\(file)")
        }
    }

    /// How a process the agent did not start (adopted: the keeper's child) ended, once it has:
    /// the keeper's record, waited for while the keeper has yet to write it (it writes before it
    /// reaps), or nil and why when no record will come (the keeper is gone) or none came within
    /// `timeout`. The agent never hangs on a keeper that does not answer.
    public func awaitExit(of process: ProcessIdentity, timeout: Duration = .seconds(10)) async -> ContainerExit {
        let deadline = ContinuousClock.now + timeout
        while true {
            // The process first, the record second (see `ExitRecordLookup`).
            let state = ExitRecords.state(of: process)
            switch ExitRecordLookup.outcome(state: state, record: record(of: process)) {
            case let .recorded(record):
                switch record.status {
                case let .exited(code): return .recorded(.exited(code), finishedAt: record.finishedAt)
                case let .signaled(signal): return .recorded(.signaled(signal), finishedAt: record.finishedAt)
                }
            case let .unknown(reason): return .unknown(reason)
            case .wait:
                guard ContinuousClock.now < deadline else {
                    return .unknown("exit status unknown: the lab's keeper did not record it within \(timeout)")
                }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
    }

    /// The process as /proc shows it: a pid whose start time differs is another process, and
    /// this one is gone.
    static func state(of process: ProcessIdentity) -> ExitRecordLookup.ProcessState {
        guard let stat = ProcessStat(pid: process.pid), stat.startTime == process.startTime else { return .gone }
        guard stat.isZombie else { return .running }
        return .zombie(parent: stat.parent ?? 0)
    }
}
