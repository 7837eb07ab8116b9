import Foundation
import Netns
import PodNet
#if canImport(Glibc)
import Glibc
#endif

/// Everything needed to start one container process inside its pod.
public struct ContainerLaunch: Sendable {
    /// Host path of the program (podlab-tools for an image's own programs, BusyBox for its applets).
    public var executable: String
    /// Full argv, argv[0] first.
    public var argv: [String]
    public var environment: [String: String]
    public var workingDirectory: String?
    /// stdout and stderr both go here (appended).
    public var logPath: String
    public var sandbox: PodSandboxPaths
    /// Who the process runs as (`securityContext`); nil: the agent's user, root.
    public var credentials: SpawnCredentials? = nil
    /// The container's volumes, mounted in a mount namespace of its own; nil without volumes
    /// (it then runs in the pod's).
    public var mounts: MountNamespace.ContainerSetup?
    /// The container's own cgroup, which enforces its limits; nil without limits.
    public var cgroup: SpawnCgroup? = nil
    /// False for an OCI runtime, which joins the pod's namespaces itself (its `config.json`
    /// names them) and must see the host's mounts (the container's overlay root).
    public var joinsPodNamespaces = true
    /// The pod's pid namespace (`PodPause.namespacePath`) with `shareProcessNamespace`: the
    /// process is born in it; nil: the agent's (an OCI runtime's config.json names the pod's).
    public var pidNamespace: String? = nil
    /// The runtime runs with the cgroup v2 view (`SpawnRequest.unifiedCgroupView`).
    public var unifiedCgroupView = false
}

/// Where a pod's network is. Only a pod's own namespace is ever the pod's to remove: a pod
/// with `hostNetwork` names its node's namespace, which nothing done to the pod (deletion,
/// a finished pod's release, a rebuild, adoption, the orphan sweep) may remove.
public enum PodNetwork: Sendable, Codable, Equatable {
    /// The pod's own network namespace (`<lab>_pod_<namespace>_<name>`), made with its sandbox
    /// and removed with it.
    case own(String)
    /// `hostNetwork`: its node's namespace (`<lab>_node_<node>`), which the pod's containers join.
    case node(String)

    /// The namespace the pod's containers run in (a name under /run/netns).
    public var namespace: String {
        switch self {
        case let .own(name), let .node(name): name
        }
    }

    /// The namespace that goes with the pod; nil when it uses its node's.
    public var ownNamespace: String? {
        if case let .own(name) = self { return name }
        return nil
    }
}

/// The namespaces that make up a pod sandbox, and the pod's directory.
public struct PodSandboxPaths: Sendable, Codable, Equatable {
    /// The pod's network: its own namespace, or its node's.
    public var network: PodNetwork
    /// The network namespace the pod's containers join (a name under /run/netns).
    public var netns: String { network.namespace }
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

    /// The BusyBox that runs the images' shells and applets: `/bin/busybox` (Debian's
    /// busybox-static), or `$PODLAB_BUSYBOX`.
    public static let busyboxExecutable: String = ProcessInfo.processInfo.environment["PODLAB_BUSYBOX"] ?? ImageCatalog.busyboxPath

    /// Resolves what a container runs, from its image and Kubernetes `command`/`args`.
    /// Throws `ImageError` for unknown images (the caller turns it into ErrImagePull) and for
    /// a BusyBox applet when the host has no BusyBox. The image's own programs are linked under
    /// `imagesDirectory` (see `ImagePrograms`), first on the container's `PATH`.
    public static func launch(image: String, command: [String]?, args: [String]?, env: [(String, String)], workingDir: String?,
                              podName: String, logPath: String, sandbox: PodSandboxPaths, imagesDirectory: String,
                              mounts: MountNamespace.ContainerSetup? = nil,
                              tools: String = toolsExecutable, busybox: String = busyboxExecutable) throws -> ContainerLaunch {
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
            executable = tools
            argv[0] = tool
        case let .busybox(applet):
            // BusyBox picks the applet from argv[0]'s basename, so argv stays as written (`$0` is `/bin/sh`).
            guard access(busybox, X_OK) == 0 else {
                throw ImageError.busyboxMissing(reference: image, image: resolved.image.name, applet: applet, path: busybox)
            }
            executable = busybox
        case let .host(program):
            executable = program
        case let .sibling(program):
            executable = (tools as NSString).deletingLastPathComponent + "/" + program
        }
        let programs = try ImagePrograms.directory(for: resolved.image, root: imagesDirectory, tools: tools)
        environment["PATH"] = ImagePrograms.searchPath(environment["PATH"], programs: programs)
        return ContainerLaunch(executable: executable, argv: argv, environment: environment, workingDirectory: workingDir ?? "/",
                               logPath: logPath, sandbox: sandbox, mounts: mounts)
    }

    /// Starts the process; returns its identity (pid + start time, to survive pid reuse). With
    /// `streams` (a container with `stdin` or `tty`), its stdio are pipes or a terminal of the
    /// agent's, which copies the output to the log (`ContainerStreams`); else the process writes
    /// its log itself.
    static func start(_ launch: ContainerLaunch, streams mode: ContainerStreams.Mode? = nil) throws -> (process: ProcessIdentity, streams: ContainerStreams?) {
        // Container logs are root's alone, as the kubelet keeps them.
        let directory = (launch.logPath as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: Int(LabStateModes.directory)])
        let fd = open(launch.logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, LabStateModes.file)
        guard fd >= 0 else { throw KernelError(operation: "open", object: launch.logPath, errno: .current) }
        defer { close(fd) }
        let executable = launch.executable.hasPrefix("/") ? launch.executable : try Spawner.resolve(launch.executable, environment: launch.environment)
        let streams = try mode.map { mode in
            let logFD = fcntl(fd, F_DUPFD_CLOEXEC, 0)
            guard logFD >= 0 else { throw KernelError(operation: "dup", object: launch.logPath, errno: .current) }
            return try ContainerStreams(mode: mode, logFD: logFD)
        }
        defer { streams?.closeChildEndsAndStart() }
        let stdio = streams?.childEnds ?? ContainerStreams.ChildEnds(stdin: .null, stdout: .fd(fd), stderr: .fd(fd))
        let child = try Spawner.spawn(SpawnRequest(executable: executable, arguments: Array(launch.argv.dropFirst()), argv0: launch.argv.first,
                                                   environment: launch.environment, workingDirectory: launch.workingDirectory,
                                                   stdin: stdio.stdin, stdout: stdio.stdout, stderr: stdio.stderr,
                                                   networkNamespace: launch.joinsPodNamespaces ? launch.sandbox.netns : nil,
                                                   utsNamespace: launch.joinsPodNamespaces ? launch.sandbox.uts : nil,
                                                   ipcNamespace: launch.joinsPodNamespaces ? launch.sandbox.ipc : nil,
                                                   mountNamespace: launch.joinsPodNamespaces ? launch.sandbox.mnt : nil,
                                                   pidNamespace: launch.joinsPodNamespaces ? launch.pidNamespace : nil,
                                                   mounts: launch.mounts, newSession: true, credentials: launch.credentials,
                                                   cgroup: launch.cgroup, unifiedCgroupView: launch.unifiedCgroupView))
        return (ProcessIdentity.of(pid: child.pid) ?? ProcessIdentity(pid: child.pid, startTime: 0), streams)
    }

    /// The sessions of container processes in a pod that nobody recorded: started by an agent
    /// that died before it stored their pid. A container process is in the pod's network
    /// namespace and writes to one of the pod's container logs (a `podlab exec` in the pod does
    /// not); a pause process (`PodPause`) is one too. The sessions in `known` (the recorded
    /// containers, with their children, and the recorded pause) are not strays.
    public static func unrecordedSessions(netns: String, mnt: String, logDirectory: String, known: Set<Int32>) -> Set<Int32> {
        var namespace = stat(), mountNamespace = stat()
        // A pause process is the pod's when it is in the pod's mount namespace (pods with
        // `hostNetwork` share their node's network namespace, each with a mount namespace of its own).
        let hasMountNamespace = stat(mnt, &mountNamespace) == 0
        func inPodMountNamespace(_ pid: Int32) -> Bool {
            var info = stat()
            return hasMountNamespace && stat("/proc/\(pid)/ns/mnt", &info) == 0 && info.st_ino == mountNamespace.st_ino
                && info.st_dev == mountNamespace.st_dev
        }
        guard stat("\(NetworkNamespace.runDirectory)/\(netns)", &namespace) == 0,
              let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var sessions: Set<Int32> = []
        for entry in entries {
            guard let pid = Int32(entry) else { continue }
            var info = stat()
            guard stat("/proc/\(pid)/ns/net", &info) == 0, info.st_ino == namespace.st_ino, info.st_dev == namespace.st_dev,
                  (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/1"))?.hasPrefix(logDirectory + "/") == true
                    || (PodPause.isPause(pid: pid) && inPodMountNamespace(pid)),
                  let session = ProcessStat(pid: pid)?.session, !known.contains(session) else { continue }
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
