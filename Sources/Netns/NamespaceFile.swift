#if canImport(Glibc)
import Glibc
#endif
import CNetlink

/// UTS, IPC and mount namespaces kept alive by a bind mount on a file, like network namespaces
/// under /run/netns. A pod has one of each, so its containers share a hostname, System V IPC
/// and its own `/etc/hosts` (see `MountNamespace`).
public enum NamespaceFile {
    /// Default directory for podlab's UTS/IPC namespace files.
    public static let runDirectory = "/run/podlab/ns"

    /// Creates a new UTS namespace at `path` with `hostname` set inside it.
    public static func createUTS(at path: String, hostname: String) throws {
        try validate(hostname: hostname)
        try create(.uts, at: path) {
            try shimCall("sethostname", "\"\(hostname)\"") { hostname.withCString { pl_sethostname($0, strlen($0)) } }
        }
    }

    /// True when a namespace is bound on `path` (it is a mount of the namespace file system),
    /// not merely a file left by a creation that did not finish.
    public static func isBound(_ path: String) -> Bool {
        var type = 0
        return pl_statfs_type(path, &type) == 0 && type == nsfsMagic
    }

    /// `NSFS_MAGIC` of <linux/magic.h>.
    static let nsfsMagic = 0x6e73_6673

    /// Creates a new IPC namespace at `path`.
    public static func createIPC(at path: String) throws {
        try create(.ipc, at: path) {}
    }

    /// Detaches and deletes a namespace file; a missing file is not an error. Every mount on the
    /// file goes (a mount namespace file is bound on the file's own private bind, see
    /// `MountNamespace.bind`), and unlinking it detaches the copies other mount namespaces hold.
    public static func remove(at path: String) throws {
        while umount2(path, Int32(MNT_DETACH)) == 0 {}
        let code = Errno.current
        if code != .invalidArgument && code != .noSuchFileOrDirectory {
            throw KernelError(operation: "umount2", object: path, errno: code)
        }
        if unlink(path) != 0 && Errno.current != .noSuchFileOrDirectory {
            throw KernelError(operation: "unlink", object: path, errno: .current)
        }
    }

    /// A hostname: 1–64 bytes of letters, digits, '-' and '.'.
    public static func validate(hostname: String) throws(ValidationError) {
        guard !hostname.isEmpty, hostname.utf8.count <= 64 else {
            throw ValidationError(field: "hostname", value: hostname, reason: "must be 1-64 bytes long")
        }
        guard hostname.utf8.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }) else {
            throw ValidationError(field: "hostname", value: hostname, reason: "may contain only letters, digits, '-' and '.'")
        }
    }

    /// The directory part of a path ("" for a file in / or a bare name).
    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "" }
        return String(path[..<slash])
    }

    /// Creates `dir` and its parents where missing ("" does nothing).
    static func makeDirectories(_ dir: String) throws {
        var current = ""
        for component in dir.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && Errno.current != .fileExists {
                throw KernelError(operation: "mkdir", object: current, errno: .current)
            }
        }
    }

    /// The file of a directory that its mount points are hard links of.
    static let mountPointTemplate = ".mountpoint"

    /// Makes the empty file a namespace is bind-mounted on, failing if `path` exists. It is a
    /// hard link to `.mountpoint` in the same directory (made on first use) rather than a new
    /// inode: where the file system scans for a reusable inode (ext4 without a journal after many
    /// deletions) a new file costs ~0.2 ms, a link a tenth of that. Each link is its own mount
    /// point; unlinking it leaves the others. Falls back to a file of its own where links are
    /// refused. Returns the error, or nil.
    static func makeMountPoint(at path: String) -> Errno? {
        guard let slash = path.lastIndex(of: "/") else { return .invalidArgument }
        let template = String(path[..<slash]) + "/" + mountPointTemplate
        if link(template, path) == 0 { return nil }
        var code = Errno.current
        if code == .noSuchFileOrDirectory {
            let fd = open(template, O_RDONLY | O_CREAT | O_CLOEXEC, 0o444)
            if fd >= 0 {
                close(fd)
                if link(template, path) == 0 { return nil }
                code = .current
            }
        }
        if code == .fileExists { return code }
        let fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0)
        if fd < 0 { return .current }
        close(fd)
        return nil
    }

    private static func create(_ kind: NamespaceWorker.Kind, at path: String, setup: () throws -> Void) throws {
        guard path.hasPrefix("/"), let slash = path.lastIndex(of: "/") else {
            throw ValidationError(field: "namespace file", value: path, reason: "must be an absolute path")
        }
        // A plain directory is enough to hold the bind mounts (unlike /run/netns, which `ip`
        // shares with other mount namespaces, nothing else looks for these files).
        let dir = String(path[..<slash])
        try makeDirectories(dir)
        if let code = makeMountPoint(at: path) {
            throw KernelError(operation: "create \(kind.procName) namespace", object: path, errno: code)
        }
        do {
            try NamespaceWorker.shared.sync {
                try NamespaceWorker.shared.withNewNamespace(kind, label: path) {
                    try setup()
                    try syscall("mount(MS_BIND)", path) {
                        mount("/proc/thread-self/ns/\(kind.procName)", path, "none", UInt(MS_BIND), nil)
                    }
                }
            }
        } catch {
            try? remove(at: path)
            throw error
        }
    }
}
