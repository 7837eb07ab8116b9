#if canImport(Glibc)
import Glibc
#endif
import CNetlink

/// UTS and IPC namespaces kept alive by a bind mount on a file, like network namespaces under
/// /run/netns. A pod has one of each, so its containers share a hostname and System V IPC.
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

    /// Creates a new IPC namespace at `path`.
    public static func createIPC(at path: String) throws {
        try create(.ipc, at: path) {}
    }

    /// Detaches and deletes a namespace file; a missing file is not an error.
    public static func remove(at path: String) throws {
        if umount2(path, Int32(MNT_DETACH)) != 0 {
            let code = Errno.current
            if code != .invalidArgument && code != .noSuchFileOrDirectory {
                throw KernelError(operation: "umount2", object: path, errno: code)
            }
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

    /// Creates the directory holding `path` (and its parents) if missing.
    static func makeDirectories(parentOf path: String) throws {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
        try makeDirectories(String(path[..<slash]))
    }

    private static func makeDirectories(_ dir: String) throws {
        var current = ""
        for component in dir.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && Errno.current != .fileExists {
                throw KernelError(operation: "mkdir", object: current, errno: .current)
            }
        }
    }

    private static func create(_ kind: NamespaceWorker.Kind, at path: String, setup: () throws -> Void) throws {
        guard path.hasPrefix("/"), let slash = path.lastIndex(of: "/") else {
            throw ValidationError(field: "namespace file", value: path, reason: "must be an absolute path")
        }
        // A plain directory is enough to hold the bind mounts (unlike /run/netns, which `ip`
        // shares with other mount namespaces, nothing else looks for these files).
        let dir = String(path[..<slash])
        try makeDirectories(dir)
        let fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0)
        if fd < 0 { throw KernelError(operation: "create \(kind.procName) namespace", object: path, errno: .current) }
        close(fd)
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
