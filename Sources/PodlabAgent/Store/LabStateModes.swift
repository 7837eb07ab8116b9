#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Netns

/// Who may read a lab's state: root alone.
///
/// The lab's directory is the boundary: 0711, so no other user can list it or open anything in
/// it but the images' program links (`images/`, 0755: links to `podlab-tools`, nothing of the
/// lab's), which a container running as another user (`runAsUser`) executes by path. containerd
/// keeps its state directories 0711 for the same reason. The agent's own state inside it is
/// private: directories 0700, files 0600 (the store and SQLite's `-wal`/`-shm`,
/// which SQLite creates with the store's mode, the pid file, the logs, the exit records and the
/// keepers' files). What containers read through a bind mount keeps the kubelet's modes: a
/// pod's `etc-hosts`, `etc-hostname` and `etc-resolv.conf` 0644 and its `emptyDir` volumes 0777,
/// so a container running as another user can read and write them; they stay behind the
/// 0700 `pods/` directory (bind mounts reach them as root).
///
/// One socket is open to every user: `mesh.sock`, which the mesh's sidecars (uid 1337) read
/// Services and EndpointSlices through, behind a token of the mesh's own (`MeshAPIListener`).
///
/// The agent does not set a umask: the containers it starts inherit it, and a container's files
/// get the runtime's usual 0022 as in Kubernetes. Each file is created with its mode instead.
public enum LabStateModes {
    public static let directory: mode_t = 0o700
    /// The lab's own directory: others may pass through (to `images/`), not list.
    public static let labDirectory: mode_t = 0o711
    /// The images' program links, run by containers' users.
    public static let images: mode_t = 0o755
    public static let file: mode_t = 0o600
    /// The state root holds every lab's directory, like `/run` itself: listable, each lab closed.
    public static let stateRoot: mode_t = 0o755

    /// The lab's directory, made 0711 (and its missing parents 0755); an existing one is
    /// closed if an older lab left it open.
    public static func makeLabDirectory(_ paths: LabPaths) throws {
        let parent = (paths.directory as NSString).deletingLastPathComponent
        if !parent.isEmpty, access(parent, F_OK) != 0 {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: Int(stateRoot)])
        }
        try makeDirectory(paths.directory, mode: labDirectory)
    }

    /// The images' program directory, 0755 (see above).
    public static func makeImagesDirectory(_ paths: LabPaths) throws {
        try makeDirectory(paths.images, mode: images)
    }

    /// A directory of the agent's own (0700), made if missing, closed if open.
    public static func makePrivateDirectory(_ path: String) throws {
        try makeDirectory(path, mode: directory)
    }

    /// A directory with `mode` (made if missing; an existing one loses any bit `mode` lacks).
    static func makeDirectory(_ path: String, mode: mode_t) throws {
        if mkdir(path, mode) != 0 {
            let error = Errno.current
            guard error == .fileExists else { throw KernelError(operation: "mkdir", object: path, errno: error) }
        }
        try restrict(path, to: mode)
    }

    /// Creates `path` 0600 if missing (for a file another program opens with its own mode: the
    /// store, which SQLite creates 0644 less the umask, or the log a spawn opens); closes an
    /// existing one.
    public static func makePrivateFile(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, file)
        guard fd >= 0 else { throw KernelError(operation: "open", object: path, errno: .current) }
        close(fd)
        try restrict(path)
    }

    /// Removes the group and other bits of `path` beyond those of `allowed` (not following a
    /// symbolic link).
    static func restrict(_ path: String, to allowed: mode_t = 0o700) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw KernelError(operation: "stat", object: path, errno: .current) }
        let kind = info.st_mode & S_IFMT
        guard kind == S_IFDIR || kind == S_IFREG || kind == S_IFSOCK else { return }
        let mode = info.st_mode & 0o7777
        let removed = mode & 0o077 & ~allowed
        guard removed != 0 else { return }
        guard chmod(path, mode & ~removed) == 0 else { throw KernelError(operation: "chmod", object: path, errno: .current) }
    }

    /// Start-up: closes what a lab made by an older podlab left open (0755 directories, 0644
    /// files): the lab's directory and the agent's own state in it. Pods' files and the images'
    /// links keep their modes (see above); mount points (the pods' namespace files) are not
    /// touched, nor is anything they lead to; symbolic links are not followed. Returns the paths
    /// it changed.
    @discardableResult
    public static func closeOlderState(_ paths: LabPaths) -> [String] {
        var changed: [String] = []
        let mounts = mountPoints(under: paths.directory)
        func close(_ path: String, recursive: Bool) {
            guard !mounts.contains(path) else { return }
            var info = stat()
            guard lstat(path, &info) == 0 else { return }
            let before = info.st_mode & 0o7777
            let allowed = path == paths.directory ? labDirectory : directory
            if (try? restrict(path, to: allowed)) != nil, before & 0o077 & ~allowed != 0 { changed.append(path) }
            guard recursive, info.st_mode & S_IFMT == S_IFDIR else { return }
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                close("\(path)/\(entry)", recursive: true)
            }
        }
        close(paths.directory, recursive: false)
        for file in [paths.pidFile, paths.logFile, paths.socket, paths.database, paths.database + "-wal", paths.database + "-shm"] {
            close(file, recursive: false)
        }
        for directory in [paths.logs, paths.exits, paths.keepers, paths.namespaces, paths.pods] {
            close(directory, recursive: directory == paths.logs || directory == paths.exits || directory == paths.keepers)
        }
        return changed
    }

    /// Mount points at or under `directory`, from `/proc/self/mountinfo` (field 5, with the
    /// kernel's octal escapes for space, tab, newline and backslash).
    static func mountPoints(under directory: String) -> Set<String> {
        // Read to its end with read(2): procfs gives its size as 0, and a table of many mounts is
        // longer than one read (the newest mounts, at its end, were missed).
        guard let text = readProcFile("/proc/thread-self/mountinfo") else { return [] }
        var result: Set<String> = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { continue }
            let point = unescapeMountPath(String(fields[4]))
            if point == directory || point.hasPrefix(directory + "/") { result.insert(point) }
        }
        return result
    }

    static func unescapeMountPath(_ text: String) -> String {
        guard text.contains("\\") else { return text }
        var bytes: [UInt8] = []
        var input = Array(text.utf8)[...]
        while let byte = input.popFirst() {
            if byte == UInt8(ascii: "\\"), input.count >= 3,
               let value = UInt8(String(decoding: input.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                input = input.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The whole of a file whose size the kernel does not give (procfs), read until the end.
func readProcFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = read(fd, &buffer, buffer.count)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return n == 0 ? String(decoding: bytes, as: UTF8.self) : nil }
        bytes += buffer[0..<n]
    }
}
