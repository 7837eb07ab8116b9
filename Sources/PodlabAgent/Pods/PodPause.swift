#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Netns
import PodNet

/// The pause process of a pod with `shareProcessNamespace`: PID 1 of the pod's pid namespace,
/// as Kubernetes' pause container is (`podlab-tools pause`, see `PodlabTools` `Pause`). It is
/// made with the sandbox, the agent's child in a session of its own, in the pod's network,
/// UTS, IPC and mount namespaces and the first process of a new pid namespace, which every
/// container of the pod then joins through `/proc/<pause>/ns/pid`. Before it says `ready` it
/// mounts a `/proc` of that namespace in the pod's mount namespace, which the built-in
/// containers share (an OCI runtime mounts the container's own).
///
/// Its pid and start time are stored with the pod's container processes under `recordName`
/// (no container can be named so: container names are lowercase), so that a restarted agent
/// finds it again. When it ends, the kernel kills every process of the namespace, and no
/// process can be born in it again: the next container start makes a new one.
enum PodPause {
    /// The name under which the pause process is recorded among the pod's processes (the name
    /// Kubernetes' dockershim gave the pause container).
    static let recordName = "POD"

    /// argv[0] of a pause process, as `ps` shows it (Kubernetes' pause image runs `/pause`).
    static let argv0 = "/pause"

    /// True when the process `pid` is a pause process (by its argv[0]).
    static func isPause(pid: Int32) -> Bool {
        guard let cmdline = readSmallFile("/proc/\(pid)/cmdline") else { return false }
        return cmdline.split(separator: "\0", omittingEmptySubsequences: false).first.map(String.init) == argv0
    }

    /// True while the pause process runs and has not begun to exit (see `ProcessStat.isExiting`).
    static func isRunning(_ pause: ProcessIdentity) -> Bool {
        guard let stat = ProcessStat(pid: pause.pid), stat.startTime == pause.startTime else { return false }
        return !stat.isZombie && !stat.isExiting
    }

    /// The pid namespace of the pause process, as a path for `setns` and `config.json`.
    static func namespacePath(_ pause: ProcessIdentity) -> String { "/proc/\(pause.pid)/ns/pid" }

    /// How long the agent waits for a new pause process's `ready`.
    static let readyTimeout: Duration = .seconds(10)

    /// Starts the pause process in `sandbox` and waits until it has mounted the pod's `/proc`.
    static func start(_ sandbox: PodSandboxPaths, tools: String = ContainerRuntime.toolsExecutable) throws -> ProcessIdentity {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw KernelError(operation: "pipe", object: "pause", errno: .current) }
        let (readEnd, writeEnd) = (ends[0], ends[1])
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)
        defer { close(readEnd) }
        // A pause process that ended left the pod's mount namespace a /proc of its dead pid
        // namespace, in which the new one would not find itself (`/proc/self`), nor its
        // arguments (Swift reads them from /proc/self/cmdline).
        try MountNamespace.detachForeignProc(in: sandbox.mnt)
        let child: ChildProcess
        do {
            defer { close(writeEnd) }
            child = try Spawner.spawn(SpawnRequest(executable: tools, arguments: ["--mount-proc"], argv0: argv0,
                                                   environment: ["PATH": Spawner.defaultPath], workingDirectory: "/",
                                                   stdin: .null, stdout: .fd(writeEnd), stderr: .fd(writeEnd),
                                                   networkNamespace: sandbox.netns, utsNamespace: sandbox.uts, ipcNamespace: sandbox.ipc,
                                                   mountNamespace: sandbox.mnt, newPidNamespace: true, newSession: true))
        }
        let identity = ProcessIdentity.of(pid: child.pid) ?? ProcessIdentity(pid: child.pid, startTime: 0)
        let answer = readLine(readEnd, timeout: readyTimeout)
        guard answer == "ready" else {
            _ = identity.signal(SIGKILL)
            _ = try? child.wait()
            let why = answer.map { $0.isEmpty ? "it exited" : $0 } ?? "no answer in \(readyTimeout)"
            throw SandboxError(description: "the pod's pause process (pid \(child.pid)) did not start: \(why)")
        }
        return identity
    }

    /// Reads what the process writes until its first newline or the end; nil on timeout.
    private static func readLine(_ fd: Int32, timeout: Duration) -> String? {
        let deadline = ContinuousClock.now + timeout
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while !bytes.contains(0x0A) {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return nil }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)))
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { return ready == 0 ? nil : "" }
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes += buffer[0..<n]
        }
        let text = String(decoding: bytes, as: UTF8.self)
        return String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "").trimmingCharacters(in: .whitespaces)
    }
}
