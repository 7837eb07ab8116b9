#if canImport(Glibc)
import Glibc
#endif
import CNetlink

/// A named network namespace, stored the way `ip netns` stores it: a bind mount of the
/// namespace at `/run/netns/NAME`, so `ip netns list` and `ip -n NAME …` see it.
public struct NetworkNamespace: Hashable, Sendable, CustomStringConvertible {
    /// Where named network namespaces live (the `ip netns` convention).
    public static let runDirectory = "/run/netns"

    public let name: String
    /// The namespace file: `/run/netns/NAME`, or any path a runtime names (a CNI plugin gets
    /// `/proc/PID/ns/net` or a runtime's own bind mount).
    public let path: String
    public var description: String { name }

    /// A handle for a namespace that is expected to exist; `open` checks that it does.
    public init(unchecked name: String) {
        self.name = name
        self.path = "\(NetworkNamespace.runDirectory)/\(name)"
    }

    /// A namespace known only by its file's path, named by that path in messages. Nothing
    /// is checked here: opening it fails if the path is not a namespace.
    public init(path: String) {
        self.name = path
        self.path = path
    }

    /// Checks a namespace name: 1–64 bytes of letters, digits, `-`, `_` and `.`, not starting
    /// with `.` or `-` (the file under /run/netns must be a plain name).
    public static func validate(name: String) throws(ValidationError) {
        let field = "namespace name"
        guard !name.isEmpty else { throw ValidationError(field: field, value: name, reason: "must not be empty") }
        guard name.utf8.count <= 64 else {
            throw ValidationError(field: field, value: name, reason: "is \(name.utf8.count) bytes long; the limit is 64")
        }
        guard name.utf8.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }) else {
            throw ValidationError(field: field, value: name, reason: "may contain only letters, digits, '-', '_' and '.'")
        }
        guard let first = name.utf8.first, first != UInt8(ascii: "."), first != UInt8(ascii: "-") else {
            throw ValidationError(field: field, value: name, reason: "must not start with '.' or '-'")
        }
    }

    /// Creates a new, empty network namespace named `name` (EEXIST if it exists).
    public static func create(_ name: String) throws -> NetworkNamespace {
        try create(name, openingSocket: nil).namespace
    }

    /// Creates a namespace and opens a netlink socket inside it in the same visit, which saves a
    /// second `setns` round trip when the caller configures the namespace right away.
    public static func create(_ name: String, openingSocket bus: NetlinkBus?) throws -> (namespace: NetworkNamespace, socket: NetlinkSocket?) {
        let namespace = try makeMountPoint(name)
        let path = namespace.path
        do {
            let socket = try NamespaceWorker.shared.sync { () throws -> NetlinkSocket? in
                try NamespaceWorker.shared.withNewNamespace(.net, label: path) {
                    try syscall("mount(MS_BIND)", path) {
                        mount("/proc/thread-self/ns/net", path, "none", UInt(MS_BIND), nil)
                    }
                    return try bus.map { try NetlinkSocket(bus: $0, namespace: name) }
                }
            }
            return (namespace, socket)
        } catch {
            umount2(path, Int32(MNT_DETACH))
            unlink(path)
            throw error
        }
    }

    /// Gives a namespace made ahead (`SpareNetworkNamespace`) the name `name`, as `ip netns
    /// attach` does: it is bound under /run/netns/NAME (EEXIST if that exists). The spare is used
    /// up either way; its socket stays open and is returned, bound to the named namespace.
    ///
    /// With `owner`, the file carries it until the namespace is bound on it (`NamespaceMountPoint`).
    public static func create(_ name: String, using spare: SpareNetworkNamespace, owner: String? = nil) throws -> (namespace: NetworkNamespace, socket: NetlinkSocket) {
        defer { spare.close() }
        let namespace = try makeMountPoint(name, owner: owner)
        let path = namespace.path
        do {
            _ = try spare.withDescriptor { descriptor in
                try syscall("mount(MS_BIND)", path) { mount("/proc/self/fd/\(descriptor)", path, "none", UInt(MS_BIND), nil) }
            }
        } catch {
            unlink(path)
            throw error
        }
        spare.socket.name(namespace: name)
        return (namespace, spare.socket)
    }

    /// The empty file /run/netns/NAME a new namespace is bound onto (EEXIST, with a clear
    /// message, when the name is taken), carrying `owner` if given (`NamespaceMountPoint`).
    private static func makeMountPoint(_ name: String, owner: String? = nil) throws -> NetworkNamespace {
        try validate(name: name)
        let namespace = NetworkNamespace(unchecked: name)
        try MountDirectory.prepare(runDirectory)
        if let code = NamespaceMountPoint.make(namespace.path, owner: owner) {
            if code == .fileExists {
                throw KernelError(operation: "create netns", object: "\"\(name)\"", errno: code, detail: "a network namespace with this name already exists")
            }
            throw KernelError(operation: "open", object: namespace.path, errno: code)
        }
        return namespace
    }

    /// Creates a pod's namespaces in one visit of the namespace worker: one `unshare` of a new
    /// network, UTS and IPC namespace, the hostname set, all three bind-mounted (the network
    /// one under /run/netns/NAME, the others at the given paths), and a netlink socket opened
    /// inside. Cheaper than three separate creations; on failure nothing is left.
    ///
    /// With `spare`, the network namespace is that one (made ahead of need, see
    /// `SpareNetworkNamespace`) instead of a new one: it is bound under /run/netns/NAME and its
    /// socket is returned; the spare is used up either way (on failure it is closed and the
    /// kernel frees it).
    ///
    /// With `mount`, the pod gets a mount namespace too (see `MountNamespace.createPod`), bound
    /// at its `path` and removed with the others on failure.
    ///
    /// With `owner`, /run/netns/NAME carries it until the namespace is bound on it
    /// (`NamespaceMountPoint`): a file a kill left unbound can be told from anyone else's.
    public static func createPod(_ name: String, hostname: String, utsPath: String, ipcPath: String,
                                 mount podMount: MountNamespace.PodSetup? = nil, openingSocket bus: NetlinkBus,
                                 using spare: SpareNetworkNamespace? = nil, owner: String? = nil) throws -> (namespace: NetworkNamespace, socket: NetlinkSocket) {
        defer { spare?.close() }
        if let spare, spare.socket.bus != bus {
            throw ValidationError(field: "spare namespace", value: "\(spare.socket.bus)", reason: "holds a socket of another netlink bus than \(bus)")
        }
        try validate(name: name)
        let namespace = NetworkNamespace(unchecked: name)
        try MountDirectory.prepare(runDirectory)
        let socket = try createPodNamespaces(networkPath: namespace.path, owner: owner, hostname: hostname, utsPath: utsPath, ipcPath: ipcPath,
                                             mount: podMount) { () throws -> NetlinkSocket in
            if let spare {
                // The spare's network namespace, bound by its descriptor (as `ip netns attach` does).
                try syscall("mount(MS_BIND)", namespace.path) { mount("/proc/self/fd/\(spare.fd)", namespace.path, "none", UInt(MS_BIND), nil) }
                spare.socket.name(namespace: name)
            }
            let kinds: [NamespaceWorker.Kind] = spare == nil ? [.net, .uts, .ipc] : [.uts, .ipc]
            return try NamespaceWorker.shared.withNewNamespaces(kinds, label: name) { () throws -> NetlinkSocket in
                try shimCall("sethostname", "\"\(hostname)\"") { hostname.withCString { pl_sethostname($0, strlen($0)) } }
                let mounts = spare == nil ? [(namespace.path, "net"), (utsPath, "uts"), (ipcPath, "ipc")] : [(utsPath, "uts"), (ipcPath, "ipc")]
                for (path, kind) in mounts {
                    try syscall("mount(MS_BIND)", path) { mount("/proc/thread-self/ns/\(kind)", path, "none", UInt(MS_BIND), nil) }
                }
                return try spare?.socket ?? NetlinkSocket(bus: bus, namespace: name)
            }
        }
        return (namespace, socket)
    }

    /// Creates the namespaces of a pod that has no network of its own (`hostNetwork`): a UTS
    /// namespace with the hostname and an IPC namespace, bound at the given paths, and with
    /// `mount` a mount namespace. No network namespace is made, named or touched: the pod's
    /// processes join one that exists (their node's). On failure nothing is left.
    public static func createPodWithoutNetwork(hostname: String, utsPath: String, ipcPath: String,
                                               mount podMount: MountNamespace.PodSetup? = nil) throws {
        try createPodNamespaces(networkPath: nil, hostname: hostname, utsPath: utsPath, ipcPath: ipcPath, mount: podMount) {
            try NamespaceWorker.shared.withNewNamespaces([.uts, .ipc], label: utsPath) {
                try shimCall("sethostname", "\"\(hostname)\"") { hostname.withCString { pl_sethostname($0, strlen($0)) } }
                for (path, kind) in [(utsPath, "uts"), (ipcPath, "ipc")] {
                    try syscall("mount(MS_BIND)", path) { mount("/proc/thread-self/ns/\(kind)", path, "none", UInt(MS_BIND), nil) }
                }
            }
        }
    }

    /// What both kinds of pod share: the mount points made first (`networkPath`, when the pod
    /// has a network namespace of its own, and the UTS, IPC and mount namespace files), then
    /// `unshare` (run on the namespace worker, returning it home), then the pod's mount
    /// namespace; on failure every mount point made here is unmounted and removed.
    private static func createPodNamespaces<T>(networkPath: String?, owner: String? = nil, hostname: String, utsPath: String, ipcPath: String,
                                               mount podMount: MountNamespace.PodSetup?, unsharing: () throws -> T) throws -> T {
        try NamespaceFile.validate(hostname: hostname)
        // Usually one directory holds both files: walk it once.
        let files = [utsPath, ipcPath] + (podMount.map { [$0.path] } ?? [])
        for path in Set(files.map(NamespaceFile.parent(of:))) { try NamespaceFile.makeDirectories(path) }
        var made: [String] = []
        func cleanUp() {
            for path in made {
                while umount2(path, Int32(MNT_DETACH)) == 0 {}
                unlink(path)
            }
        }
        // /run/netns/NAME is a file of its own (`ip netns` lists every entry there); the UTS,
        // IPC and mount namespace mount points are hard links (see `NamespaceFile.makeMountPoint`).
        for path in (networkPath.map { [$0] } ?? []) + files {
            var code: Errno?
            if path == networkPath {
                code = NamespaceMountPoint.make(path, owner: owner)
            } else {
                code = NamespaceFile.makeMountPoint(at: path)
            }
            if let code {
                cleanUp()
                throw KernelError(operation: "create namespace file", object: path, errno: code,
                                  detail: code == .fileExists ? "it already exists" : nil)
            }
            made.append(path)
        }
        do {
            return try NamespaceWorker.shared.sync {
                let result = try unsharing()
                if let podMount { try MountNamespace.createPodOnWorker(podMount) }
                return result
            }
        } catch {
            cleanUp()
            throw error
        }
    }

    /// The existing namespace `name`; throws ENOENT with a clear message if there is none.
    public static func open(_ name: String) throws -> NetworkNamespace {
        try validate(name: name)
        let namespace = NetworkNamespace(unchecked: name)
        guard exists(name) else {
            throw KernelError(operation: "open netns", object: "\"\(name)\"", errno: .noSuchFileOrDirectory, detail: "no network namespace with this name")
        }
        return namespace
    }

    /// True when `/run/netns/NAME` exists.
    public static func exists(_ name: String) -> Bool {
        (try? validate(name: name)) != nil && access("\(runDirectory)/\(name)", F_OK) == 0
    }

    /// Removes the namespace: detaches the bind mount and deletes the file, as `ip netns del`
    /// does. The kernel frees the namespace (and its devices) once nothing else holds it.
    /// With `ignoreMissing`, a namespace that is already gone is not an error.
    public static func delete(_ name: String, ignoreMissing: Bool = false) throws {
        try validate(name: name)
        let path = "\(runDirectory)/\(name)"
        if umount2(path, Int32(MNT_DETACH)) != 0 {
            let code = Errno.current
            // EINVAL: not a mount point (a stale file); ENOENT: handled by unlink below.
            if code != .invalidArgument && code != .noSuchFileOrDirectory {
                throw KernelError(operation: "umount2", object: path, errno: code)
            }
        }
        if unlink(path) != 0 {
            let code = Errno.current
            if code == .noSuchFileOrDirectory && ignoreMissing { return }
            throw KernelError(operation: "delete netns", object: "\"\(name)\"", errno: code,
                              detail: code == .noSuchFileOrDirectory ? "no network namespace with this name" : nil)
        }
    }

    /// Names of all namespaces under /run/netns, sorted.
    public static func list() throws -> [String] {
        guard let dir = opendir(runDirectory) else {
            if Errno.current == .noSuchFileOrDirectory { return [] }
            throw KernelError(operation: "opendir", object: runDirectory, errno: .current)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Opens a netlink socket inside this namespace. The worker is inside the namespace only
    /// for the `socket`/`bind` calls (about 10 µs); the socket stays bound to the namespace and
    /// can be used from any thread afterwards.
    public func openSocket(_ bus: NetlinkBus) throws -> NetlinkSocket {
        let fd = try openFD()
        defer { close(fd) }
        return try NamespaceWorker.shared.sync {
            try NamespaceWorker.shared.withNamespaces([(fd, .net, name)]) {
                try NetlinkSocket(bus: bus, namespace: name)
            }
        }
    }

    /// Opens a netlink socket inside this namespace like `openSocket`, but from the calling
    /// thread when it is the process's only thread (a short-lived command such as a CNI
    /// plugin): it enters the namespace for `socket`/`bind` and returns at once, with no pool
    /// thread to leave behind and no hand-off to the worker, whose start and wake-up each wait
    /// for a time slice on a busy machine (measured 1–17 ms at load 10 on 2 cores). With a
    /// second thread running, it goes through the worker as `openSocket` does.
    public func openSocketFromOnlyThread(_ bus: NetlinkBus) throws -> NetlinkSocket {
        guard Self.callingThreadIsAlone() else { return try openSocket(bus) }
        let home = Glibc.open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard home >= 0 else { throw KernelError(operation: "open", object: "/proc/thread-self/ns/net", errno: .current) }
        defer { close(home) }
        let fd = try openFD()
        defer { close(fd) }
        _ = try shimCall("setns", name) { pl_setns(fd, PL_CLONE_NEWNET) }
        defer {
            let rc = pl_setns(home, PL_CLONE_NEWNET)
            if rc != 0 { fatalError("cannot return to the home network namespace: \(Errno(-rc))") }
        }
        return try NetlinkSocket(bus: bus, namespace: name)
    }

    /// True when the process has exactly one thread (`/proc/self/task` holds one entry).
    static func callingThreadIsAlone() -> Bool {
        guard let dir = opendir("/proc/self/task") else { return false }
        defer { closedir(dir) }
        var tasks = 0
        while let entry = readdir(dir) {
            if entry.pointee.d_name.0 != 46 { tasks += 1 }  // not "." or ".."
        }
        return tasks == 1
    }

    /// Runs `body` on the namespace worker while it is inside this namespace. Keep `body` to
    /// syscalls (socket, bind, connect, sysctl file writes): see `NamespaceWorker`.
    public func perform<T>(_ body: () throws -> T) throws -> T {
        let fd = try openFD()
        defer { close(fd) }
        return try NamespaceWorker.shared.sync {
            try NamespaceWorker.shared.withNamespaces([(fd, .net, name)], body)
        }
    }

    /// An `O_CLOEXEC` fd for the namespace file; the caller closes it.
    public func openFD() throws -> Int32 {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = Errno.current
            throw KernelError(operation: "open netns", object: "\"\(name)\"", errno: code,
                              detail: code == .noSuchFileOrDirectory ? "no network namespace with this name" : nil)
        }
        return fd
    }

    /// The namespace's inode number, as `readlink /proc/PID/ns/net` shows it (`net:[N]`).
    public func inode() throws -> UInt64 {
        var info = stat()
        try syscall("stat", path) { stat(path, &info) }
        return UInt64(info.st_ino)
    }
}

@inline(__always)
func isAlnum(_ c: UInt8) -> Bool {
    (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
}

/// Directories that hold namespace bind mounts are made shared mount points, as `ip netns`
/// does, so the mounts propagate into mount namespaces created later.
enum MountDirectory {
    private static let prepared = Locked<Set<String>>([])

    static func prepare(_ dir: String) throws {
        if prepared.withLock({ $0.contains(dir) }) { return }
        if mkdir(dir, 0o755) != 0 && Errno.current != .fileExists {
            // Parent may be missing (e.g. /run/podlab): create it first.
            let parent = String(dir[..<(dir.lastIndex(of: "/") ?? dir.startIndex)])
            if !parent.isEmpty { try prepare(parentOnly: parent) }
            try syscall("mkdir", dir) { mkdir(dir, 0o755) }
        }
        var boundOnItself = false
        while mount("", dir, "none", UInt(MS_SHARED | MS_REC), nil) != 0 {
            let code = Errno.current
            guard code == .invalidArgument, !boundOnItself else {
                throw KernelError(operation: "mount(MS_SHARED)", object: dir, errno: code)
            }
            try syscall("mount(MS_BIND)", dir) { mount(dir, dir, "none", UInt(MS_BIND | MS_REC), nil) }
            boundOnItself = true
        }
        prepared.withLock { _ = $0.insert(dir) }
    }

    private static func prepare(parentOnly dir: String) throws {
        if mkdir(dir, 0o755) != 0 && Errno.current != .fileExists {
            throw KernelError(operation: "mkdir", object: dir, errno: .current)
        }
    }
}

/// A network namespace made ahead of need, so that the next pod skips the most expensive step
/// of its setup (`unshare` of a network namespace). It is held only by an open descriptor —
/// nothing in the file system, so it disappears with the process or when closed — and has a
/// netlink socket opened inside. `NetworkNamespace.createPod(…using:)` binds it under a name.
public final class SpareNetworkNamespace: @unchecked Sendable {
    let fd: Int32
    /// The socket opened inside (rtnetlink, or the bus asked for).
    public let socket: NetlinkSocket
    private let closed = Locked(false)

    /// Makes one on the namespace worker: a new network namespace, its descriptor and a socket.
    public static func make(openingSocket bus: NetlinkBus) throws -> SpareNetworkNamespace {
        try NamespaceWorker.shared.sync {
            try NamespaceWorker.shared.withNewNamespace(.net, label: "spare") {
                let fd = Glibc.open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
                if fd < 0 { throw KernelError(operation: "open", object: "/proc/thread-self/ns/net", errno: .current) }
                do {
                    return SpareNetworkNamespace(fd: fd, socket: try NetlinkSocket(bus: bus))
                } catch {
                    Glibc.close(fd)
                    throw error
                }
            }
        }
    }

    private init(fd: Int32, socket: NetlinkSocket) {
        self.fd = fd
        self.socket = socket
    }

    /// The namespace's inode (what /proc/PID/ns/net shows); 0 once closed.
    public var inode: UInt64 {
        closed.withLock { done in
            var info = stat()
            return !done && fstat(fd, &info) == 0 ? UInt64(info.st_ino) : 0
        }
    }

    /// True once used up or closed.
    public var isClosed: Bool { closed.withLock { $0 } }

    /// Runs `body` with the namespace's descriptor (for `IFLA_NET_NS_FD`); throws EBADF once closed.
    public func withDescriptor<T>(_ body: (Int32) throws -> T) throws -> T {
        try closed.withLock { done in
            if done { throw KernelError(operation: "use spare namespace", object: "fd \(fd)", errno: .badFileDescriptor, detail: "it was used up or closed") }
            return try body(fd)
        }
    }

    /// Closes the descriptor: a namespace nothing else holds is freed by the kernel.
    public func close() {
        closed.withLock { done in
            if !done { Glibc.close(fd) }
            done = true
        }
    }

    deinit { close() }
}
