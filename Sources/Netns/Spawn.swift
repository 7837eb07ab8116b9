#if canImport(Glibc)
import Glibc
#endif
import CNetlink

/// Where a child's standard stream goes.
public enum StandardIO: Sendable, Equatable {
    /// /dev/null.
    case null
    /// The parent's own stream (fd 0, 1 or 2).
    case inherit
    /// A file, created if missing, appended to (or truncated).
    case file(String, append: Bool = true)
    /// An fd the caller owns and keeps open until `spawn` returns.
    case fd(Int32)
    /// The slave side of a pseudo-terminal the caller owns (as `fd`). As stdin, it also becomes
    /// the child's controlling terminal, which needs `newSession`: the terminal's ^C reaches
    /// the child's foreground job, and its hang-up the whole session.
    case terminal(Int32)
}

/// Everything needed to start one process inside a pod's namespaces.
public struct SpawnRequest: Sendable {
    /// An absolute path, or a name looked up in the `PATH` of `environment`
    /// (or the standard system PATH when it has none).
    public var executable: String
    public var arguments: [String]
    /// argv[0]; defaults to `executable` as given.
    public var argv0: String?
    public var environment: [String: String]
    public var workingDirectory: String?
    public var stdin: StandardIO
    public var stdout: StandardIO
    public var stderr: StandardIO
    /// Network namespace name (under /run/netns); nil stays in the caller's.
    public var networkNamespace: String?
    /// A UTS namespace file (see `NamespaceFile`); nil stays in the caller's.
    public var utsNamespace: String?
    /// An IPC namespace file (see `NamespaceFile`); nil stays in the caller's.
    public var ipcNamespace: String?
    /// A mount namespace file (a pod's, or `/proc/PID/ns/mnt` of a container's process); nil
    /// stays in the caller's.
    public var mountNamespace: String?
    /// A pid namespace file (`/proc/PID/ns/pid` of the pod's pause process): the child is born
    /// in it (the worker's `setns(CLONE_NEWPID)` before the fork), a child of the caller that
    /// the namespace's processes see under its pid there; nil stays in the caller's.
    public var pidNamespace: String?
    /// The child is PID 1 of a new pid namespace (the worker's `unshare(CLONE_NEWPID)` before
    /// the fork). Not with `pidNamespace`.
    public var newPidNamespace: Bool
    /// Volumes to mount: the process then gets a mount namespace of its own, copied from
    /// `mountNamespace`, with these mounts (see `MountNamespace.ContainerSetup`).
    public var mounts: MountNamespace.ContainerSetup?
    /// Start a new session (process group), so the whole group can be signalled.
    public var newSession: Bool
    /// The user, group and supplementary groups the child runs as; nil: the caller's.
    public var credentials: SpawnCredentials?
    /// The cgroups the child starts in; nil: the caller's.
    public var cgroup: SpawnCgroup?
    /// The child gets a mount namespace of its own (a private copy of the caller's) in which
    /// the cgroup v2 hierarchy is mounted on `/sys/fs/cgroup`, so that it sees the host as a
    /// cgroup v2 host (`MountNamespace.mountUnifiedCgroupView()`). Not with `mounts`.
    public var unifiedCgroupView: Bool

    public init(executable: String, arguments: [String] = [], argv0: String? = nil, environment: [String: String] = [:],
                workingDirectory: String? = nil, stdin: StandardIO = .null, stdout: StandardIO = .null, stderr: StandardIO = .null,
                networkNamespace: String? = nil, utsNamespace: String? = nil, ipcNamespace: String? = nil,
                mountNamespace: String? = nil, pidNamespace: String? = nil, newPidNamespace: Bool = false,
                mounts: MountNamespace.ContainerSetup? = nil, newSession: Bool = true,
                credentials: SpawnCredentials? = nil, cgroup: SpawnCgroup? = nil, unifiedCgroupView: Bool = false) {
        self.executable = executable
        self.arguments = arguments
        self.argv0 = argv0
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.networkNamespace = networkNamespace
        self.utsNamespace = utsNamespace
        self.ipcNamespace = ipcNamespace
        self.mountNamespace = mountNamespace
        self.pidNamespace = pidNamespace
        self.newPidNamespace = newPidNamespace
        self.mounts = mounts
        self.newSession = newSession
        self.credentials = credentials
        self.cgroup = cgroup
        self.unifiedCgroupView = unifiedCgroupView
    }
}

/// The cgroups a spawned process is in before it runs anything of its program.
public struct SpawnCgroup: Hashable, Sendable {
    /// A cgroup v2 directory, in which the process is created (`CLONE_INTO_CGROUP`).
    public var directory: String?
    /// cgroup v1 `cgroup.procs` files, one per hierarchy, into which the process writes its
    /// own pid before exec.
    public var procsFiles: [String]

    public init(directory: String? = nil, procsFiles: [String] = []) {
        self.directory = directory
        self.procsFiles = procsFiles
    }
}

/// Who a spawned process runs as.
public struct SpawnCredentials: Hashable, Sendable {
    public var uid: UInt32
    public var gid: UInt32
    /// The supplementary groups (the primary group among them, as `id` shows it).
    public var groups: [UInt32]

    public init(uid: UInt32, gid: UInt32, groups: [UInt32]) {
        self.uid = uid
        self.gid = gid
        self.groups = groups
    }
}

/// How a child ended.
public enum TerminationStatus: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    public var description: String {
        switch self {
        case let .exited(code): "exit code \(code)"
        case let .signaled(signal): "killed by signal \(signal)"
        }
    }

    /// The shell's convention: the exit code, or 128 + signal.
    public var shellCode: Int32 {
        switch self {
        case let .exited(code): code
        case let .signaled(signal): 128 + signal
        }
    }
}

/// A process started by `Spawner.spawn`. Only the process that spawned it can wait for it.
public struct ChildProcess: Sendable, Hashable {
    public let pid: Int32

    public init(pid: Int32) { self.pid = pid }

    /// Sends `signal` to the process (or, with `group`, to its whole process group).
    public func signal(_ signal: Int32, group: Bool = false) throws {
        try shimCall("kill(\(signal))", "pid \(pid)") { pl_kill(group ? -pid : pid, signal) }
    }

    /// Blocks until the process ends and reaps it.
    public func wait() throws -> TerminationStatus {
        try reap(options: 0)!
    }

    /// Reaps the process if it has ended; nil while it runs.
    public func poll() throws -> TerminationStatus? {
        try reap(options: WNOHANG)
    }

    /// Waits without blocking the calling task: a short-lived thread sits in `waitpid`.
    public func exitStatus() async throws -> TerminationStatus {
        let pid = self.pid
        return try await withCheckedThrowingContinuation { continuation in
            PlainThread.detachOrRunHere(name: "wait-\(pid)") {
                continuation.resume(with: Result { try ChildProcess(pid: pid).wait() })
            }
        }
    }

    private func reap(options: Int32) throws -> TerminationStatus? {
        var exited: Int32 = 0, code: Int32 = 0, signaled: Int32 = 0, sig: Int32 = 0
        let r = try shimCall("waitpid", "pid \(pid)") { pl_waitpid(pid, options, &exited, &code, &signaled, &sig) }
        if r == 0 { return nil }
        if signaled != 0 { return .signaled(sig) }
        return .exited(code)
    }
}

/// Starts processes inside namespaces.
public enum Spawner {
    /// The PATH used when the request's environment has none.
    public static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Starts the process. The namespace worker enters the requested namespaces and calls
    /// `posix_spawn` there, so the child starts inside them without any helper process
    /// (about 1.5 ms); the worker then returns home. With `mounts`, the worker first makes
    /// the child's own mount namespace there (see `MountNamespace.apply`).
    public static func spawn(_ request: SpawnRequest) throws -> ChildProcess {
        let path = try resolve(request.executable, environment: request.environment)
        var toClose: [Int32] = []
        defer { for fd in toClose { close(fd) } }

        func streamFD(_ io: StandardIO, target: Int32) throws -> Int32 {
            switch io {
            case .null: return -1
            case .inherit: return target
            case let .fd(fd), let .terminal(fd): return fd
            case let .file(file, append):
                let flags = target == 0 ? O_RDONLY : (O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC))
                let fd = open(file, flags | O_CLOEXEC, 0o644)
                if fd < 0 { throw KernelError(operation: "open", object: file, errno: .current) }
                toClose.append(fd)
                return fd
            }
        }
        let fds = (try streamFD(request.stdin, target: 0), try streamFD(request.stdout, target: 1), try streamFD(request.stderr, target: 2))

        var targets: [(fd: Int32, kind: NamespaceWorker.Kind, label: String)] = []
        if let name = request.networkNamespace {
            let fd = try NetworkNamespace(unchecked: name).openFD()
            toClose.append(fd)
            targets.append((fd, .net, name))
        }
        if request.newPidNamespace && request.pidNamespace != nil {
            throw ValidationError(field: "newPidNamespace", value: "true", reason: "a process cannot both join a pid namespace and start a new one")
        }
        // The pid namespace is opened first, by a path of the caller's /proc: the mount
        // namespace entered next may have a /proc of the pod's own pid namespace.
        for (file, kind) in [(request.pidNamespace, NamespaceWorker.Kind.pid), (request.utsNamespace, .uts), (request.ipcNamespace, .ipc),
                             (request.mountNamespace, .mnt)] {
            guard let file else { continue }
            let fd = open(file, O_RDONLY | O_CLOEXEC)
            if fd < 0 { throw KernelError(operation: "open \(kind.procName) namespace", object: file, errno: .current) }
            toClose.append(fd)
            targets.append((fd, kind, file))
        }

        // Opened here, in the host's mount namespace (the pod's is a copy of it, but a
        // container's own may hide /sys/fs/cgroup under a volume).
        var cgroupDirectory: Int32 = -1
        var procsFDs: [Int32] = []
        if let cgroup = request.cgroup {
            if let directory = cgroup.directory {
                cgroupDirectory = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                if cgroupDirectory < 0 { throw KernelError(operation: "open cgroup", object: directory, errno: .current) }
                toClose.append(cgroupDirectory)
            }
            for file in cgroup.procsFiles {
                let fd = open(file, O_WRONLY | O_CLOEXEC)
                if fd < 0 { throw KernelError(operation: "open cgroup", object: file, errno: .current) }
                toClose.append(fd)
                procsFDs.append(fd)
            }
        }

        // Host sources are taken here, in the host's mount namespace, before the worker leaves it.
        if request.unifiedCgroupView && request.mounts != nil {
            throw ValidationError(field: "unifiedCgroupView", value: "true", reason: "a process with volume mounts cannot also have the cgroup v2 view")
        }
        let mounts = try request.mounts.map(MountNamespace.prepare) ?? []
        defer { MountNamespace.closeTrees(mounts) }
        let scratch = request.mounts?.scratchDirectory ?? ""

        let argv = [request.argv0 ?? request.executable] + request.arguments
        let envp = request.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let cwd = request.workingDirectory
        var spawnFlags: Int32 = request.newSession ? PL_SPAWN_NEW_SESSION : 0
        if case .terminal = request.stdin {
            guard request.newSession else {
                throw ValidationError(field: "stdin", value: "terminal", reason: "a controlling terminal needs a new session")
            }
            spawnFlags |= PL_SPAWN_CONTROLLING_TERMINAL
        }
        let pid = try withCStrings(argv) { cArgv in
            try withCStrings(envp) { cEnvp in
                try NamespaceWorker.shared.sync {
                    let unsharing: [NamespaceWorker.Kind] = (request.mounts == nil && !request.unifiedCgroupView ? [] : [.mnt])
                        + (request.newPidNamespace ? [.pid] : [])
                    let label = request.unifiedCgroupView ? "cgroup v2 view" : request.mounts != nil ? "container mounts" : "pod pid namespace"
                    return try NamespaceWorker.shared.withNamespaces(targets, unsharing: unsharing, label: label) { () throws -> pid_t in
                        if request.mounts != nil { try MountNamespace.apply(mounts, scratchDirectory: scratch) }
                        if request.unifiedCgroupView { try MountNamespace.mountUnifiedCgroupView() }
                        var pid: pid_t = 0
                        func spawn(_ cwd: UnsafePointer<CChar>?, _ cgroup: UnsafePointer<pl_spawn_cgroup>?) -> Int32 {
                            guard let credentials = request.credentials else {
                                return pl_spawn(&pid, path, cArgv, cEnvp, cwd, fds.0, fds.1, fds.2, spawnFlags, cgroup)
                            }
                            // The worker takes the process's ids for the spawn only (its thread alone).
                            return credentials.groups.withUnsafeBufferPointer { groups in
                                pl_spawn_as(&pid, path, cArgv, cEnvp, cwd, fds.0, fds.1, fds.2, spawnFlags, cgroup,
                                            credentials.uid, credentials.gid, groups.baseAddress, groups.count)
                            }
                        }
                        func spawn(_ cwd: UnsafePointer<CChar>?) -> Int32 {
                            guard request.cgroup != nil else { return spawn(cwd, nil) }
                            return procsFDs.withUnsafeBufferPointer { procs in
                                var cgroup = pl_spawn_cgroup(cgroup2_fd: cgroupDirectory, procs_fds: procs.baseAddress, nprocs: procs.count)
                                return spawn(cwd, &cgroup)
                            }
                        }
                        let rc = cwd.map { $0.withCString { spawn($0) } } ?? spawn(nil)
                        if rc < 0 {
                            throw KernelError(operation: request.cgroup == nil ? "posix_spawn" : "spawn into cgroup", object: path,
                                              namespace: request.networkNamespace, errno: Errno(-rc))
                        }
                        return pid
                    }
                }
            }
        }
        return ChildProcess(pid: pid)
    }

    /// Resolves `executable` against PATH; throws ENOENT with the searched path when missing.
    public static func resolve(_ executable: String, environment: [String: String]) throws -> String {
        guard !executable.isEmpty else {
            throw ValidationError(field: "executable", value: executable, reason: "must not be empty")
        }
        if executable.contains("/") {
            guard access(executable, X_OK) == 0 else {
                throw KernelError(operation: "exec", object: executable, errno: .current)
            }
            return executable
        }
        let search = environment["PATH"] ?? defaultPath
        for dir in search.split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/\(executable)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw KernelError(operation: "exec", object: executable, errno: .noSuchFileOrDirectory, detail: "executable file not found in $PATH (\(search))")
    }
}

/// Calls `body` with a NULL-terminated C array of the strings; frees them afterwards.
func withCStrings<T>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) throws -> T) rethrows -> T {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return try pointers.withUnsafeBufferPointer { try body($0.baseAddress!) }
}

