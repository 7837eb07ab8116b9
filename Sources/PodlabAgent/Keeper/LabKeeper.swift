#if canImport(Glibc)
import Glibc
#endif
import CNetlink
import Foundation
import Netns
import PodNet

/// The lab's keeper: the process that starts the agent and outlives it, so that no container's
/// exit is lost and no container is left a zombie (what conmon and containerd-shim are to a
/// container, once per agent instead of once per container).
///
/// `podlab up` starts the keeper, the keeper starts the agent. The keeper is a child subreaper
/// (`PR_SET_CHILD_SUBREAPER`), so whatever the agent's descendants orphan re-parents to it: the
/// agent's containers when the agent dies, a container's own children when the container exits
/// before them. It reaps every process it inherits; for a container (a session leader) it first
/// writes how it ended into the lab's exit records, which the next agent reads. While the agent
/// runs, the keeper does nothing per container: the agent starts and reaps its own children.
///
/// It exits once it has no child left (the agent is gone and so is every process it inherited),
/// with the agent's exit status. It enters no namespace and opens none. SIGTERM or SIGINT make
/// it end the lab's processes (not its namespaces): the agent gets SIGTERM, every other process
/// it holds, now or later, SIGKILL to its process group. If the keeper itself is killed, the
/// processes it held re-parent to init, which on some hosts never reaps them, and their exits
/// are recorded nowhere: a later agent reports such an exit as unknown (exit code 255).
public enum LabKeeper {
    /// A keeper, and the agent it started, as its file (`LabPaths.keepers`) names them.
    public struct Entry: Sendable, Equatable {
        public var keeper: ProcessIdentity
        public var agent: ProcessIdentity
    }

    /// Runs the keeper: starts `executable` with `agentArguments` (the agent) and keeps what it
    /// leaves, until nothing is left. Call it before the process has any other thread: every
    /// thread must inherit the blocked signals the keeper reads from its signalfd.
    public static func run(paths: LabPaths, executable: String, agentArguments: [String], environment: [String: String]) -> Never {
        let signals = pl_keeper_signalfd()
        guard signals >= 0 else { fail("signalfd: \(Errno(-signals))") }
        let subreaper = pl_set_child_subreaper()
        guard subreaper == 0 else { fail("prctl(PR_SET_CHILD_SUBREAPER): \(Errno(-subreaper))") }
        for directory in [paths.exits, paths.keepers] {
            do { try LabStateModes.makePrivateDirectory(directory) } catch {
                fail("cannot make \(directory): \(error)")
            }
        }
        let records = ExitRecords(directory: paths.exits)
        let ownFile = "\(paths.keepers)/\(getpid())"

        let agent: ProcessIdentity
        do { agent = try startAgent(executable: executable, arguments: agentArguments, environment: environment) } catch {
            fail("cannot start the agent: \(error)")
        }
        if let me = ProcessIdentity.of(pid: getpid()) {
            let text = "\(me.startTime) \(agent.pid) \(agent.startTime)\n"
            do {
                try text.write(toFile: ownFile, atomically: true, encoding: .utf8)
                try LabStateModes.makePrivateFile(ownFile)
            } catch {
                say("cannot write \(ownFile): \(error); podlab down will not find this keeper")
            }
        }
        say("started the agent (pid \(agent.pid))")

        var agentEnd: TerminationStatus?
        var ending = false
        while true {
            // Every child that has ended: recorded (a container) and reaped.
            while true {
                var exited: Int32 = 0, code: Int32 = 0, signaled: Int32 = 0, signal: Int32 = 0
                let pid = pl_wait_any_ended(&exited, &code, &signaled, &signal)
                if pid == -ECHILD {
                    unlink(ownFile)
                    say("nothing left to keep; exiting")
                    exit(agentEnd?.shellCode ?? 0)
                }
                if pid <= 0 { break }
                let end: TerminationStatus = signaled != 0 ? .signaled(signal) : .exited(code)
                if pid == agent.pid {
                    agentEnd = end
                    say("the agent (pid \(pid)) ended: \(end)")
                } else {
                    record(pid: pid, end: end, in: records)
                }
                _ = pl_waitpid(pid, WNOHANG, &exited, &code, &signaled, &signal)
            }
            if ending { killChildren(except: agentEnd == nil ? agent.pid : nil) }

            var ready = pollfd(fd: signals, events: Int16(POLLIN), revents: 0)
            _ = poll(&ready, 1, -1)
            while true {
                let signal = pl_signalfd_read(signals)
                if signal <= 0 { break }
                guard signal == SIGTERM || signal == SIGINT, !ending else { continue }
                // SIGCHLD only wakes the loop; SIGHUP means nothing to a keeper without a terminal.
                ending = true
                say("signal \(signal): ending the lab's processes")
                if agentEnd == nil { _ = pl_kill(agent.pid, SIGTERM) }
            }
        }
    }

    /// A container is a session leader (the agent starts each in a session of its own): its end
    /// is recorded under its identity, read while it is still a zombie. Its orphaned children,
    /// which are not containers, are only reaped.
    private static func record(pid: Int32, end: TerminationStatus, in records: ExitRecords) {
        guard let stat = ProcessStat(pid: pid), stat.session == pid, let startTime = stat.startTime else { return }
        let status: ExitRecord.Status = switch end {
        case let .exited(code): .exited(code)
        case let .signaled(signal): .signaled(signal)
        }
        // The lab was deleted (its agent removed the records): nobody would read this one.
        guard access(records.directory, F_OK) == 0 else { return }
        do { try records.write(ExitRecord(pid: pid, startTime: startTime, status: status, finishedAt: .now())) } catch {
            say("cannot record the end of pid \(pid) (\(end)): \(error)")
        }
    }

    /// SIGKILL to each child's process group and to the child (a container's session; a
    /// process that is no group leader has none), all but `kept`.
    private static func killChildren(except kept: Int32?) {
        let me = getpid()
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return }
        for entry in entries {
            guard let pid = Int32(entry), pid != kept, let stat = ProcessStat(pid: pid),
                  stat.parent == me, stat.state != "Z" else { continue }
            _ = pl_kill(-pid, SIGKILL)
            _ = pl_kill(pid, SIGKILL)
        }
    }

    /// The agent, started in the keeper's session with the keeper's stdout and stderr (the lab's
    /// log), a default signal mask and no other inherited descriptor (`pl_spawn`).
    private static func startAgent(executable: String, arguments: [String], environment: [String: String]) throws -> ProcessIdentity {
        var argv: [UnsafeMutablePointer<CChar>?] = (["podlab"] + arguments).map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let rc = pl_spawn(&pid, executable, &argv, &envp, nil, -1, 1, 2, 0, nil)
        guard rc == 0 else { throw KernelError(operation: "posix_spawn", object: executable, errno: Errno(-rc)) }
        return ProcessIdentity.of(pid: pid) ?? ProcessIdentity(pid: pid, startTime: 0)
    }

    private static func say(_ message: String) {
        FileHandle.standardError.write(Data("podlab keeper (pid \(getpid())): \(message)\n".utf8))
    }

    private static func fail(_ message: String) -> Never {
        say(message)
        exit(1)
    }

    // MARK: Finding and ending keepers

    /// The lab's keepers that run, with the agent each started.
    public static func running(_ paths: LabPaths) -> [Entry] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: paths.keepers)) ?? []
        return files.compactMap { file in
            guard let pid = Int32(file), let text = readSmallFile("\(paths.keepers)/\(file)") else { return nil }
            let fields = text.split(whereSeparator: \.isWhitespace).compactMap { UInt64($0) }
            guard fields.count == 3, let agentPID = Int32(exactly: fields[1]) else { return nil }
            let entry = Entry(keeper: ProcessIdentity(pid: pid, startTime: fields[0]),
                              agent: ProcessIdentity(pid: agentPID, startTime: fields[2]))
            return entry.keeper.isAlive ? entry : nil
        }
    }

    /// Ends the lab's keepers once its agent is gone: each exits by itself when it holds nothing
    /// more; one still running after `grace` holds processes that left their containers'
    /// sessions, and gets SIGTERM (it kills them), then SIGKILL after `grace` more. Removes the
    /// keepers' files. Returns the keepers that had to be signalled.
    @discardableResult
    public static func endAll(_ paths: LabPaths, grace: Duration = .seconds(5)) async -> [Int32] {
        var signalled: [Int32] = []
        for (signal, wait) in [(Int32(0), grace), (SIGTERM, grace), (SIGKILL, grace)] {
            let deadline = ContinuousClock.now + wait
            var keepers = running(paths).map(\.keeper)
            if signal != 0 {
                for keeper in keepers where keeper.signal(signal) {
                    if !signalled.contains(keeper.pid) { signalled.append(keeper.pid) }
                }
            }
            while !keepers.isEmpty, ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(20))
                keepers = keepers.filter(\.isAlive)
            }
            if keepers.isEmpty { break }
        }
        try? FileManager.default.removeItem(atPath: paths.keepers)
        return signalled
    }
}
