#if canImport(Glibc)
import Glibc
#endif
import CNetlink

/// Mount namespaces of pods and of containers with volumes.
///
/// A pod's mount namespace is a copy of a *base*: the host's mount tree as this process found it
/// when the first pod was made, private (nothing mounted inside a pod reaches the host, nothing
/// the host mounts later reaches the pods) and without the namespace files of labs (`nsfs`
/// mounts), which would otherwise be copied into every pod. Copying the host's own tree for each
/// pod would cost time in proportion to everything mounted there — three namespace files per pod
/// of every lab, 2 µs each — while the base stays at the host's few dozen mounts. Copies of a
/// namespace file left anywhere are harmless: unlinking a mount point detaches its mounts in
/// every mount namespace (Linux ≥ 3.18), which is how podlab removes them.
///
/// In the pod's namespace the kubelet's files are bound over the host's (`/etc/hosts`,
/// `/etc/hostname`) and memory-backed `emptyDir`s are mounted (a tmpfs held by the namespace
/// alone). The namespace is bound on a file like the pod's UTS and IPC namespaces, so that
/// containers, `exec`, and an agent started again can join it.
///
/// A container with volume mounts gets a mount namespace of its own, copied from its pod's when
/// it starts, where its volumes are bound at their mount paths before its program runs
/// (`Spawner.spawn` with `SpawnRequest.mounts`). It lives as long as the container's processes.
/// Two containers of a pod can mount different volumes at one path that way; the volumes
/// themselves (their directories, a tmpfs) are the pod's and shared.
public enum MountNamespace {
    /// A file bound over another in a pod's mount namespace.
    public struct FileBind: Sendable, Equatable {
        public var source: String
        public var target: String
        public init(source: String, target: String) {
            self.source = source
            self.target = target
        }
    }

    /// A tmpfs mounted on a directory in a pod's mount namespace.
    public struct Tmpfs: Sendable, Equatable {
        public var directory: String
        /// Bytes; nil for the kernel's default (half the memory).
        public var size: Int64?
        public init(directory: String, size: Int64? = nil) {
            self.directory = directory
            self.size = size
        }
    }

    /// What a pod's mount namespace holds beyond the base, and where it is bound.
    public struct PodSetup: Sendable, Equatable {
        /// The file the namespace is bound on (made here; must not exist).
        public var path: String
        public var files: [FileBind]
        public var tmpfs: [Tmpfs]
        public init(path: String, files: [FileBind] = [], tmpfs: [Tmpfs] = []) {
            self.path = path
            self.files = files
            self.tmpfs = tmpfs
        }
    }

    /// A volume mounted into a container.
    public struct Mount: Sendable, Equatable {
        public enum Source: Sendable, Equatable {
            /// A path as the pod's mount namespace sees it (an `emptyDir`, a tmpfs among them).
            case pod(String)
            /// A path of the host's current mount tree (a `hostPath`), taken when the container
            /// starts, so mounts made on the host since the pod's namespace was copied count.
            case host(String)
        }
        /// The volume's root.
        public var source: Source
        /// A path inside the volume to mount instead of its root; missing directories are made
        /// (with the mode of the volume's root, as the kubelet makes them), and it may not lead
        /// out of the volume through a symbolic link.
        public var subPath: String
        /// The absolute path in the container.
        public var target: String
        public var readOnly: Bool
        public init(source: Source, subPath: String = "", target: String, readOnly: Bool = false) {
            self.source = source
            self.subPath = subPath
            self.target = target
            self.readOnly = readOnly
        }
    }

    /// A container's volumes, and the directory a new root is built on when a mount point
    /// must be made at the top of the file system.
    public struct ContainerSetup: Sendable, Equatable {
        public var mounts: [Mount]
        /// An empty directory podlab owns. Mount points that do not exist are never made in the
        /// host's file system: a missing one at the top level (`/data`) gets a root of its own
        /// (a tmpfs here, with the host's top-level entries bound in, pivoted to), a deeper one
        /// a tmpfs over its nearest existing parent with that parent's entries bound in.
        public var scratchDirectory: String
        public init(mounts: [Mount], scratchDirectory: String) {
            self.mounts = mounts
            self.scratchDirectory = scratchDirectory
        }
    }

    // MARK: Pods

    /// Makes a pod's mount namespace and binds it at `setup.path`. On failure nothing is left.
    public static func createPod(_ setup: PodSetup) throws {
        if let code = NamespaceFile.makeMountPoint(at: setup.path) {
            throw KernelError(operation: "create mnt namespace", object: setup.path, errno: code,
                              detail: code == .fileExists ? "it already exists" : nil)
        }
        do {
            try NamespaceWorker.shared.sync { try createPodOnWorker(setup) }
        } catch {
            try? NamespaceFile.remove(at: setup.path)
            throw error
        }
    }

    /// The worker's part of `createPod`, for callers already on the worker.
    static func createPodOnWorker(_ setup: PodSetup) throws {
        let worker = NamespaceWorker.shared
        let base = try worker.podMountBase()
        let namespace = try worker.withNamespaces([(base, .mnt, "pod mount base")], unsharing: [.mnt], label: setup.path) { () throws -> Int32 in
            for tmpfs in setup.tmpfs {
                let options = tmpfs.size.map { "size=\($0)" } ?? ""
                try syscall("mount(tmpfs)", tmpfs.directory) { mount("tmpfs", tmpfs.directory, "tmpfs", 0, options) }
            }
            for file in setup.files {
                try MountPoints.ensure(file.target, directory: false, root: "", mountedTargets: [])
                try syscall("mount(MS_BIND)", file.target) { mount(file.source, file.target, "none", UInt(MS_BIND), nil) }
            }
            return try syscall("open", "/proc/thread-self/ns/mnt") { open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC) }
        }
        defer { close(namespace) }
        try bind(namespaceFD: namespace, at: setup.path)
    }

    /// In the mount namespace bound at `path` (a pod's), detaches each `/proc` on top in which
    /// the caller finds no `/proc/self`: a procfs of a pid namespace the caller is not in (a
    /// pause process's), until the one beneath is the caller's. For a pod whose pause process
    /// ended, before a new one mounts its own; never while a pause process runs (the caller is
    /// not in its namespace either).
    public static func detachForeignProc(in path: String) throws {
        let fd = try syscall("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        let worker = NamespaceWorker.shared
        try worker.sync {
            try worker.withNamespaces([(fd, .mnt, path)]) {
                var link = [CChar](repeating: 0, count: 64)
                for _ in 0..<16 {
                    guard readlink("/proc/self", &link, link.count) < 0, Errno.current == .noSuchFileOrDirectory else { return }
                    try syscall("umount2(MNT_DETACH)", "/proc in \(path)") { umount2("/proc", Int32(MNT_DETACH)) }
                }
            }
        }
    }

    /// Binds a mount namespace (by descriptor) on `path`, from the caller's namespace. The kernel
    /// refuses to propagate such a mount (a namespace could then hold itself), so it must land
    /// on a mount without peers: `path` is first bound on itself and made private, wherever it is.
    static func bind(namespaceFD: Int32, at path: String) throws {
        try syscall("mount(MS_BIND)", path) { mount(path, path, "none", UInt(MS_BIND), nil) }
        try syscall("mount(MS_PRIVATE)", path) { mount("none", path, nil, UInt(MS_PRIVATE), nil) }
        try syscall("mount(MS_BIND)", path) { mount("/proc/self/fd/\(namespaceFD)", path, "none", UInt(MS_BIND), nil) }
    }

    // MARK: Containers

    /// The volumes of a container resolved for the worker: host sources already taken as
    /// detached trees (`open_tree`), which `apply` attaches and closes.
    struct PreparedMount {
        enum Source {
            /// A volume root and a subpath, resolved in the container's namespace.
            case path(String, subPath: String)
            case tree(Int32)
        }
        var source: Source
        var target: String
        var readOnly: Bool
    }

    /// Takes the host sources of `setup` as detached mount trees, in the caller's mount
    /// namespace (the host's: only the worker ever leaves it). The caller closes the trees
    /// `apply` did not use.
    static func prepare(_ setup: ContainerSetup) throws -> [PreparedMount] {
        var prepared: [PreparedMount] = []
        do {
            for mount in setup.mounts {
                switch mount.source {
                case let .pod(path):
                    prepared.append(PreparedMount(source: .path(path, subPath: mount.subPath), target: mount.target, readOnly: mount.readOnly))
                case let .host(root):
                    let path = try MountPoints.subPathSource(volume: root, subPath: mount.subPath)
                    let tree = try shimCall("open_tree(OPEN_TREE_CLONE)", path) { pl_open_tree_clone(path) }
                    prepared.append(PreparedMount(source: .tree(tree), target: mount.target, readOnly: mount.readOnly))
                }
            }
        } catch {
            closeTrees(prepared)
            throw error
        }
        return prepared
    }

    /// Closes the descriptors of the detached trees: an attached tree stays mounted, one never
    /// attached is freed.
    static func closeTrees(_ mounts: [PreparedMount]) {
        for mount in mounts { if case let .tree(fd) = mount.source { close(fd) } }
    }

    /// On the worker, in a fresh copy of the host's mount namespace: makes it private (nothing
    /// reaches the host) and mounts the cgroup v2 hierarchy on `/sys/fs/cgroup`, over the host's
    /// v1 hierarchies. A program started there (crun, which refuses a host with v1 hierarchies
    /// beside a v2 one that has controllers) sees a cgroup v2 host; the process stays in the
    /// cgroups it is in, of every hierarchy.
    static func mountUnifiedCgroupView() throws {
        try syscall("mount(MS_REC|MS_PRIVATE)", "/") { mount("none", "/", nil, UInt(MS_REC | MS_PRIVATE), nil) }
        try syscall("mount(cgroup2)", "/sys/fs/cgroup") {
            mount("cgroup2", "/sys/fs/cgroup", "cgroup2", UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), nil)
        }
    }

    /// On the worker, in the container's fresh mount namespace: makes each mount (parents
    /// before children), then makes read-only those asked to be, building a root of its own first when a mount
    /// point is missing at the top level.
    static func apply(_ mounts: [PreparedMount], scratchDirectory: String) throws {
        // A copy of a pod's namespace is private already; a copy of the host's may share its
        // mounts with the host (systemd makes / shared), and nothing here may reach the host.
        try syscall("mount(MS_REC|MS_PRIVATE)", "/") { mount("none", "/", nil, UInt(MS_REC | MS_PRIVATE), nil) }
        let ordered = mounts.enumerated().sorted { ($0.element.target.split(separator: "/").count, $0.offset) < ($1.element.target.split(separator: "/").count, $1.offset) }.map(\.element)
        let needsRoot = try ordered.contains { mount in
            let resolved = try MountPoints.resolve(mount.target, root: "")
            return resolved.existing == "/" && !resolved.missing.isEmpty
        }
        let root = needsRoot ? scratchDirectory : ""
        if needsRoot { try MountPoints.buildRoot(at: scratchDirectory) }
        var mountedTargets: [String] = []
        for var mount in ordered {
            if case let .path(volume, subPath) = mount.source {
                mount.source = .path(try MountPoints.subPathSource(volume: volume, subPath: subPath), subPath: "")
            }
            let isDirectory = try mount.isDirectory()
            let target = try MountPoints.ensure(mount.target, directory: isDirectory, root: root, mountedTargets: mountedTargets)
            switch mount.source {
            case let .path(source, _):
                try syscall("mount(MS_BIND)", "\(source) on \(mount.target)") { Glibc.mount(source, target, "none", UInt(MS_BIND | MS_REC), nil) }
            case let .tree(fd):
                try shimCall("move_mount", "\(mount.target)") { pl_move_mount(fd, target) }
            }
            mountedTargets.append(target)
        }
        // Read-only last: a mount point inside a read-only volume is made in it first.
        for (mount, target) in zip(ordered, mountedTargets) where mount.readOnly { try MountPoints.remountReadOnly(target) }
        if needsRoot { try MountPoints.pivot(to: scratchDirectory) }
    }
}

extension MountNamespace.PreparedMount {
    func isDirectory() throws -> Bool {
        var info = stat()
        switch source {
        case let .path(path, _): try syscall("stat", path) { stat(path, &info) }
        case let .tree(fd): try syscall("fstat", target) { fstat(fd, &info) }
        }
        return (info.st_mode & S_IFMT) == S_IFDIR
    }
}

extension NamespaceWorker {
    /// The base of pods' mount namespaces (see `MountNamespace`), made on first use. On the worker.
    func podMountBase() throws -> Int32 {
        if podMountBaseFD >= 0 { return podMountBaseFD }
        let fd = try withNamespaces([], unsharing: [.mnt], label: "pod mount base") { () throws -> Int32 in
            try syscall("mount(MS_REC|MS_PRIVATE)", "/") { mount("none", "/", nil, UInt(MS_REC | MS_PRIVATE), nil) }
            // Namespace files are leaves: detaching them one by one leaves the rest whole.
            for entry in MountTable.entries(of: "/proc/thread-self/mountinfo") where entry.fileSystemType == "nsfs" {
                umount2(entry.mountPoint, Int32(MNT_DETACH))
            }
            return try syscall("open", "/proc/thread-self/ns/mnt") { open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC) }
        }
        podMountBaseFD = fd
        return fd
    }
}

/// Lines of a `mountinfo` file: the mount point, file system type and super block options of each mount.
public enum MountTable {
    public struct Entry: Equatable, Sendable {
        public var mountPoint: String
        public var fileSystemType: String
        /// The super block's options (for a cgroup v1 hierarchy, its controllers among them).
        public var superOptions: [String] = []
    }

    public static func entries(of path: String) -> [Entry] {
        guard let text = readFile(path) else { return [] }
        return parse(text)
    }

    /// `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS`,
    /// with spaces, tabs, newlines and backslashes in paths written as octal escapes.
    static func parse(_ text: String) -> [Entry] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 4, let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count else { return nil }
            let options = dash + 3 < fields.count ? fields[dash + 3].split(separator: ",").map(String.init) : []
            return Entry(mountPoint: unescape(fields[4]), fileSystemType: String(fields[dash + 1]), superOptions: options)
        }
    }

    static func unescape(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
               let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A whole small file (procfs files report size 0: read until the end).
    public static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            data += buffer[0..<n]
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Making mount points inside a container's mount namespace without writing to the host's
/// file system (see `MountNamespace.ContainerSetup.scratchDirectory`). Runs on the worker.
enum MountPoints {
    /// How many symbolic links one path may go through (the kernel's limit).
    static let maximumLinks = 40

    /// `path` resolved inside `root` ("" for the real root): the deepest part that exists (a
    /// real path, symbolic links followed as if `root` were `/`) and the components missing below it.
    static func resolve(_ path: String, root: String) throws -> (existing: String, missing: [String]) {
        var pending = path.split(separator: "/").map(String.init)
        var current: [String] = []
        var links = 0
        func real(_ components: [String]) -> String { root + "/" + components.joined(separator: "/") }
        while !pending.isEmpty {
            let component = pending.removeFirst()
            if component == "." || component.isEmpty { continue }
            if component == ".." {
                if !current.isEmpty { current.removeLast() }
                continue
            }
            let candidate = real(current + [component])
            var info = stat()
            if lstat(candidate, &info) != 0 {
                let code = Errno.current
                guard code == .noSuchFileOrDirectory else { throw KernelError(operation: "lstat", object: candidate, errno: code) }
                return (real(current), [component] + pending)
            }
            if (info.st_mode & S_IFMT) == S_IFLNK {
                links += 1
                guard links <= maximumLinks else { throw KernelError(operation: "resolve", object: path, errno: .tooManySymbolicLinks) }
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
                let length = readlink(candidate, &buffer, buffer.count - 1)
                guard length >= 0 else { throw KernelError(operation: "readlink", object: candidate, errno: .current) }
                let target = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if target.hasPrefix("/") { current = [] }
                pending = target.split(separator: "/").map(String.init) + pending
                continue
            }
            if (info.st_mode & S_IFMT) != S_IFDIR, !pending.isEmpty {
                throw KernelError(operation: "mount", object: path, errno: .notADirectory, detail: "\(candidate) is not a directory")
            }
            current.append(component)
        }
        return (real(current), [])
    }

    /// The path of `subPath` inside the volume at `volume`, its missing directories made with the
    /// mode of the volume's root; refused if it leads out of the volume (a symbolic link to
    /// elsewhere), as the kubelet refuses it.
    static func subPathSource(volume: String, subPath: String) throws -> String {
        guard !subPath.isEmpty else { return volume }
        let (volumeRoot, volumeMissing) = try resolve(volume, root: "")
        guard volumeMissing.isEmpty else { throw KernelError(operation: "open volume", object: volume, errno: .noSuchFileOrDirectory) }
        let (existing, missing) = try resolve(volume + "/" + subPath, root: "")
        let inside = volumeRoot == "/" ? existing.hasPrefix("/") : existing == volumeRoot || existing.hasPrefix(volumeRoot + "/")
        guard inside else {
            throw KernelError(operation: "prepare subPath", object: subPath, errno: .invalidArgument,
                              detail: "it leads to \(existing), outside the volume \(volume)")
        }
        var info = stat()
        try syscall("stat", volumeRoot) { stat(volumeRoot, &info) }
        var current = existing.hasSuffix("/") ? String(existing.dropLast()) : existing
        for component in missing {
            current += "/" + component
            if mkdir(current, 0o700) != 0 && Errno.current != .fileExists { throw KernelError(operation: "mkdir", object: current, errno: .current) }
            try syscall("chmod", current) { chmod(current, info.st_mode & 0o7777) }
        }
        return current
    }

    /// Makes `path` (in `root`) exist as a directory or a file, to mount on, and returns its
    /// real path. A missing part is made directly where writing does not reach the host: in the
    /// new root's tmpfs, or inside a volume mounted before (as runc does); elsewhere the nearest
    /// existing directory is first covered (see `cover`).
    @discardableResult
    static func ensure(_ path: String, directory: Bool, root: String, mountedTargets: [String]) throws -> String {
        let (existing, missing) = try resolve(path, root: root)
        guard !missing.isEmpty else { return existing }
        let inNewRoot = !root.isEmpty && (existing == root + "/" || existing == root)
        let writable = inNewRoot || mountedTargets.contains { existing == $0 || existing.hasPrefix($0 + "/") }
        if !writable {
            guard existing != "/" else {
                throw KernelError(operation: "mount", object: path, errno: .noSuchFileOrDirectory, detail: "the mount point would have to be made in the host's /")
            }
            try cover(existing)
        }
        var current = existing.hasSuffix("/") ? String(existing.dropLast()) : existing
        for (index, component) in missing.enumerated() {
            current += "/" + component
            if index < missing.count - 1 || directory {
                if mkdir(current, 0o755) != 0 && Errno.current != .fileExists { throw KernelError(operation: "mkdir", object: current, errno: .current) }
            } else {
                let fd = open(current, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
                guard fd >= 0 else { throw KernelError(operation: "create mount point", object: current, errno: .current) }
                close(fd)
            }
        }
        return current
    }

    /// Puts a tmpfs over `directory` holding its entries again: each file and directory bound
    /// (with what is mounted below it), each symbolic link copied. New entries then land in the
    /// tmpfs, which lives as long as the mount namespace.
    ///
    /// The originals are taken as detached trees (`open_tree`) before the tmpfs hides them, not
    /// through a `/proc/self/fd` path: in a pod that shares its pid namespace, the mount
    /// namespace's `/proc` is the pod's, in which the worker has no `/proc/self`.
    static func cover(_ directory: String) throws {
        let entries = try listing(directory)
        var trees: [String: Int32] = [:]
        defer { for fd in trees.values { close(fd) } }
        for entry in entries where entry.linkTarget == nil {
            let path = (directory == "/" ? "" : directory) + "/" + entry.name
            trees[entry.name] = try shimCall("open_tree(OPEN_TREE_CLONE)", path) { pl_open_tree_clone(path) }
        }
        var info = stat()
        try syscall("stat", directory) { stat(directory, &info) }
        let mode = String(info.st_mode & 0o7777, radix: 8)
        try syscall("mount(tmpfs)", directory) { mount("tmpfs", directory, "tmpfs", 0, "mode=\(mode)") }
        for entry in entries {
            let to = directory + "/" + entry.name
            guard try makeMountPoint(entry, at: to), let tree = trees[entry.name] else { continue }
            try shimCall("move_mount", to) { pl_move_mount(tree, to) }
        }
    }

    /// Builds a root for the container at `directory`: a tmpfs with the host's top-level entries
    /// bound in (with everything mounted below them), to pivot to once the mounts are made.
    static func buildRoot(at directory: String) throws {
        let entries = try listing("/")
        try syscall("mount(tmpfs)", directory) { mount("tmpfs", directory, "tmpfs", 0, "mode=755") }
        try replicate(entries, from: "", into: directory)
        // The bound tree that holds `directory` holds a copy of the new root too: not wanted inside it.
        umount2(directory + directory, Int32(MNT_DETACH))
    }

    /// Makes the container's root the one built at `directory` (`pivot_root(".", ".")`, then the
    /// old root detached, as runc does). Only the worker is in the new namespace, so only its
    /// root and working directory move; going home puts them back.
    static func pivot(to directory: String) throws {
        try syscall("chdir", directory) { chdir(directory) }
        try shimCall("pivot_root", directory) { pl_pivot_root(".", ".") }
        try syscall("umount2(MNT_DETACH)", "old root") { umount2(".", Int32(MNT_DETACH)) }
        try syscall("chdir", "/") { chdir("/") }
    }

    /// Remounts a bind read-only, keeping its other per-mount flags (a remount clears those not given).
    static func remountReadOnly(_ target: String) throws {
        var info = statvfs()
        try syscall("statvfs", target) { statvfs(target, &info) }
        // ST_NOSUID, ST_NODEV, ST_NOEXEC, ST_NOATIME, ST_NODIRATIME, ST_RELATIME → MS_*.
        let kept: [(UInt, Int)] = [(2, Int(MS_NOSUID)), (4, Int(MS_NODEV)), (8, Int(MS_NOEXEC)), (1024, Int(MS_NOATIME)),
                                   (2048, Int(MS_NODIRATIME)), (4096, Int(MS_RELATIME))]
        var flags = Int(MS_BIND | MS_REMOUNT | MS_RDONLY)
        for (statFlag, mountFlag) in kept where info.f_flag & statFlag != 0 { flags |= mountFlag }
        try syscall("mount(MS_REMOUNT|MS_RDONLY)", target) { mount("none", target, nil, UInt(flags), nil) }
    }

    struct Entry {
        var name: String
        var kind: mode_t
        var linkTarget: String?
    }

    static func listing(_ directory: String) throws -> [Entry] {
        guard let dir = opendir(directory) else { throw KernelError(operation: "opendir", object: directory, errno: .current) }
        defer { closedir(dir) }
        var entries: [Entry] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name == "." || name == ".." { continue }
            let path = (directory == "/" ? "" : directory) + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            var linkTarget: String?
            if (info.st_mode & S_IFMT) == S_IFLNK {
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
                let length = readlink(path, &buffer, buffer.count - 1)
                guard length >= 0 else { continue }
                linkTarget = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            entries.append(Entry(name: name, kind: info.st_mode & S_IFMT, linkTarget: linkTarget))
        }
        return entries
    }

    /// What stands at `to` for `entry`: its symbolic link again (false: nothing to mount on
    /// it), or an empty directory or file to mount the entry's tree on (true).
    static func makeMountPoint(_ entry: Entry, at to: String) throws -> Bool {
        if let target = entry.linkTarget {
            try syscall("symlink", to) { symlink(target, to) }
            return false
        }
        if entry.kind == S_IFDIR {
            try syscall("mkdir", to) { mkdir(to, 0o755) }
        } else {
            let fd = try syscall("create mount point", to) { open(to, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644) }
            close(fd)
        }
        return true
    }

    static func replicate(_ entries: [Entry], from source: String, into directory: String) throws {
        for entry in entries {
            let from = source + "/" + entry.name
            let to = directory + "/" + entry.name
            guard try makeMountPoint(entry, at: to) else { continue }
            try syscall("mount(MS_BIND|MS_REC)", "\(from) on \(to)") { mount(from, to, "none", UInt(MS_BIND | MS_REC), nil) }
        }
    }
}
