import Foundation
import Netns
import PodNet
#if canImport(Glibc)
import Glibc
#endif

/// Everything needed to start one container process inside its pod.
public struct ContainerLaunch: Sendable {
    /// Host path of the program (podlab-tools for built-in images).
    public var executable: String
    /// Full argv, argv[0] first.
    public var argv: [String]
    public var environment: [String: String]
    public var workingDirectory: String?
    /// stdout and stderr both go here (appended).
    public var logPath: String
    public var sandbox: PodSandboxPaths
    /// The container's volumes, mounted in a mount namespace of its own; nil without volumes
    /// (it then runs in the pod's).
    public var mounts: MountNamespace.ContainerSetup?
}

/// The namespaces that make up a pod sandbox, and the pod's directory.
public struct PodSandboxPaths: Sendable, Codable, Equatable {
    /// Network namespace name (under /run/netns).
    public var netns: String
    /// UTS namespace file (hostname = pod name).
    public var uts: String
    /// IPC namespace file.
    public var ipc: String
    /// Mount namespace file: the host's file system with the pod's own `/etc/hosts`,
    /// `/etc/hostname` and memory-backed volumes.
    public var mnt: String
    /// The pod's directory (`LabPaths.podDirectory`).
    public var directory: String
}

/// Starts and stops container processes. Each container is a process (a session leader, so
/// its whole process group can be signalled) spawned directly inside the pod's namespaces;
/// one with volumes in a mount namespace of its own, copied from the pod's.
public enum ContainerRuntime {
    /// The `podlab-tools` executable that serves the built-in images: next to the running
    /// binary, or `$PODLAB_TOOLS`.
    public static let toolsExecutable: String = {
        if let explicit = ProcessInfo.processInfo.environment["PODLAB_TOOLS"] { return explicit }
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let exe = n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        return (exe as NSString).deletingLastPathComponent + "/podlab-tools"
    }()

    /// Resolves what a container runs, from its image and Kubernetes `command`/`args`.
    /// Throws `ImageError` for unknown images (the caller turns it into ErrImagePull).
    public static func launch(image: String, command: [String]?, args: [String]?, env: [(String, String)], workingDir: String?,
                              podName: String, logPath: String, sandbox: PodSandboxPaths,
                              mounts: MountNamespace.ContainerSetup? = nil) throws -> ContainerLaunch {
        let resolved = try ImageCatalog.resolve(image)
        let process = try ImageCatalog.command(for: resolved.image, command: command, args: args)
        var environment = resolved.image.environment
        if environment["PATH"] == nil { environment["PATH"] = Spawner.defaultPath }
        environment["HOSTNAME"] = podName
        environment["HOME"] = environment["HOME"] ?? "/root"
        for (key, value) in env { environment[key] = value }
        let executable: String
        var argv = process.argv
        switch process.executable {
        case let .builtin(tool):
            executable = toolsExecutable
            argv[0] = tool
        case let .host(program):
            executable = program
        }
        return ContainerLaunch(executable: executable, argv: argv, environment: environment, workingDirectory: workingDir ?? "/",
                               logPath: logPath, sandbox: sandbox, mounts: mounts)
    }

    /// Starts the process; returns its identity (pid + start time, to survive pid reuse).
    public static func start(_ launch: ContainerLaunch) throws -> ProcessIdentity {
        let directory = (launch.logPath as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let fd = open(launch.logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw KernelError(operation: "open", object: launch.logPath, errno: .current) }
        defer { close(fd) }
        let executable = launch.executable.hasPrefix("/") ? launch.executable : try Spawner.resolve(launch.executable, environment: launch.environment)
        let child = try Spawner.spawn(SpawnRequest(executable: executable, arguments: Array(launch.argv.dropFirst()), argv0: launch.argv.first,
                                                   environment: launch.environment, workingDirectory: launch.workingDirectory,
                                                   stdin: .null, stdout: .fd(fd), stderr: .fd(fd),
                                                   networkNamespace: launch.sandbox.netns, utsNamespace: launch.sandbox.uts,
                                                   ipcNamespace: launch.sandbox.ipc, mountNamespace: launch.sandbox.mnt,
                                                   mounts: launch.mounts, newSession: true))
        return ProcessIdentity.of(pid: child.pid) ?? ProcessIdentity(pid: child.pid, startTime: 0)
    }

    /// The sessions of container processes in a pod that nobody recorded: started by an agent
    /// that died before it stored their pid. A container process is in the pod's network
    /// namespace and writes to one of the pod's container logs (a `podlab exec` in the pod does
    /// not); the sessions in `known` (the recorded containers, with their children) are not strays.
    public static func unrecordedSessions(netns: String, logDirectory: String, known: Set<Int32>) -> Set<Int32> {
        var namespace = stat()
        guard stat("\(NetworkNamespace.runDirectory)/\(netns)", &namespace) == 0,
              let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var sessions: Set<Int32> = []
        for entry in entries {
            guard let pid = Int32(entry) else { continue }
            var info = stat()
            guard stat("/proc/\(pid)/ns/net", &info) == 0, info.st_ino == namespace.st_ino, info.st_dev == namespace.st_dev,
                  let output = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/1"),
                  output.hasPrefix(logDirectory + "/"),
                  let text = readSmallFile("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { continue }
            // Fields after the command name: state, ppid, pgrp, session.
            let fields = text[text.index(after: close)...].split(separator: " ")
            guard fields.count > 3, let session = Int32(fields[3]), !known.contains(session) else { continue }
            sessions.insert(session)
        }
        return sessions
    }

    /// SIGKILL to every process of `sessions` (each a container's process group); returns when
    /// the leaders are gone, or after 5 s.
    public static func kill(sessions: Set<Int32>) async {
        for session in sessions { try? ChildProcess(pid: session).signal(SIGKILL, group: true) }
        let deadline = ContinuousClock.now + .seconds(5)
        while sessions.contains(where: { ProcessIdentity.of(pid: $0)?.isAlive == true }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Sends SIGTERM to the container's process group, waits up to `grace`, then SIGKILL.
    /// Returns when the process is gone.
    public static func stop(_ process: ProcessIdentity, grace: Duration) async {
        guard process.isAlive else { return }
        try? ChildProcess(pid: process.pid).signal(SIGTERM, group: true)
        try? ChildProcess(pid: process.pid).signal(SIGTERM)
        let deadline = ContinuousClock.now + grace
        while process.isAlive && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.isAlive {
            try? ChildProcess(pid: process.pid).signal(SIGKILL, group: true)
            try? ChildProcess(pid: process.pid).signal(SIGKILL)
            while process.isAlive { try? await Task.sleep(for: .milliseconds(10)) }
        }
    }
}

/// Kubernetes' restart back-off: 10 s doubling to 5 min, reset after 10 min of running.
public struct RestartBackoff: Sendable {
    public var base: Duration
    public var cap: Duration
    public var resetAfter: Duration

    public init(base: Duration = .seconds(10), cap: Duration = .seconds(300), resetAfter: Duration = .seconds(600)) {
        self.base = base
        self.cap = cap
        self.resetAfter = resetAfter
    }

    /// The delay before restart number `consecutiveFailures` (0-based) of a container.
    public func delay(consecutiveFailures: Int) -> Duration {
        var delay = base
        for _ in 0..<min(consecutiveFailures, 30) {
            delay = delay * 2
            if delay >= cap { return cap }
        }
        return min(delay, cap)
    }
}
