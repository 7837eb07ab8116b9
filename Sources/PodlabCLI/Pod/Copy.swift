#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import Netns
import PodNet

/// `podlab cp SRC DEST [-c C]`: copies files and directories into and out of a container, as
/// `kubectl cp` does — `tar` runs in the container (started as `exec` starts a command, so it
/// is the image's tar: BusyBox's for the built-in images) and the archive is written or read
/// here (`PodCopy` decides names and directions as kubectl does).
public struct Copy: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "cp",
        abstract: "Copy files and directories to and from containers.",
        discussion: """
            Examples:
              podlab cp /tmp/foo web:/tmp/bar           # a local file into a pod
              podlab cp web:/tmp/bar /tmp/bar           # out of a pod
              podlab cp /tmp/dir other/web:/tmp/dir     # a directory, into a pod of namespace other
            """)

    @OptionGroup public var scope: ScopeOptions

    @Option(name: .shortAndLong, help: "The container (default: the pod's first container).")
    public var container: String?

    @Flag(name: .customLong("no-preserve"), help: "The copied files' ownership and permissions are not preserved in the container.")
    public var noPreserve = false

    @Option(name: .customLong("retries"),
            help: "Set number of retries to complete a copy operation from a container. Specify 0 to disable or any negative value for infinite retrying. The default is 0 (no retry).")
    public var retries = 0

    @Argument(help: "The source: a local path or [[namespace/]pod:]path.")
    public var source: String

    @Argument(help: "The destination: a local path or [[namespace/]pod:]path.")
    public var destination: String

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        let direction: PodCopy.Direction
        do { direction = try PodCopy.direction(source: source, destination: destination) } catch { throw CLIError(error.description) }
        let client = scope.client(context)
        // A write to a tar that ended early fails with EPIPE instead of ending this process.
        signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, SIG_DFL) }
        switch direction {
        case let .toPod(local, namespace, pod, path):
            var info = stat()
            guard lstat(local, &info) == 0 else { throw CLIError("\(local) doesn't exist in local filesystem") }
            let namespace = namespace ?? scope.resolvedNamespace
            var destination = path
            // kubectl asks the container whether the destination is a directory (`test -d`): the
            // source then goes into it under its own name.
            let test = try await Exec.start(["test", "-d", path], pod: pod, container: container, quiet: true, tty: false, namespace: namespace,
                                            client: client, context: context, stdin: .null, stdout: .null, stderr: .null)
            if try await test.exitStatus() == .exited(0) {
                destination = PodCopy.clean(path) + "/" + PodCopy.base(local)
            }
            let pipe = try Self.makePipe()
            let child: ChildProcess
            do {
                child = try await Exec.start(PodCopy.unpackCommand(destination: destination, noPreserve: noPreserve), pod: pod, container: container, quiet: true,
                                             tty: false, namespace: namespace, client: client, context: context,
                                             stdin: .fd(pipe[0]), stdout: .inherit, stderr: .inherit)
            } catch {
                close(pipe[0])
                close(pipe[1])
                throw error
            }
            close(pipe[0])
            let writer = ArchiveWriter(fd: pipe[1])
            let written = Result { try writer.add(local: PodCopy.clean(local), name: PodCopy.base(destination)) }
            writer.finish()
            close(pipe[1])
            let status = try await child.exitStatus()
            if status.shellCode != 0 { throw CLIError("command terminated with exit code \(status.shellCode)") }
            try written.get()
        case let .fromPod(namespace, pod, path, local):
            let namespace = namespace ?? scope.resolvedNamespace
            let spawn = try await Exec.prepare(pod: pod, container: container, quiet: true, tty: false, namespace: namespace,
                                               client: client, context: context)
            let archive = try ResumingArchive(path: path, retries: PodCopyRetries(maxTries: retries), spawn: spawn, context: context)
            let unpacked = Result { try Self.unpack(archive, prefix: PodCopy.entryPrefix(remotePath: path), local: local, context: context) }
            // The tars of broken streams ended one way or another; the last one's status counts.
            let children = archive.finish()
            var status = TerminationStatus.exited(0)
            for child in children { status = try await child.exitStatus() }
            try unpacked.get()
            if status.shellCode != 0 { throw CLIError("command terminated with exit code \(status.shellCode)") }
        }
        return 0
    }

    /// A pipe whose ends close on exec (the child gets its end as stdin or stdout by dup2).
    static func makePipe() throws -> [Int32] {
        var fds: [Int32] = [0, 0]
        guard Glibc.pipe(&fds) == 0 else { throw CLIError("cp: pipe: \(String(cString: strerror(errno)))") }
        // pipe2 is hidden from Swift (a _GNU_SOURCE symbol): the flag is set right away.
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return fds
    }

    /// Writes the entries of a tar stream under `local`, as kubectl's `untarAll`: directories
    /// made, files written, symbolic links and entries that would land outside skipped with
    /// kubectl's warnings.
    static func unpack(_ source: ResumingArchive, prefix: String, local: String, context: CommandContext) throws {
        var reader = TarReader(ArchiveSource(archive: source))
        while true {
            let entry: TarEntry?
            do { entry = try reader.next() } catch { throw CLIError("cp: reading the archive: \(error)") }
            guard let entry else { return }
            let target: String?
            do { target = try PodCopy.localPath(entry: entry.path, prefix: prefix, local: local) } catch { throw CLIError(error.description) }
            guard let target else {
                context.stderr.line("warning: file \"\(PodCopy.clean(local + "/" + String(entry.path.dropFirst(prefix.count))))\" is outside target destination, skipping")
                continue
            }
            try FileManager.default.createDirectory(atPath: PodCopy.directory(target), withIntermediateDirectories: true)
            switch entry.kind {
            case .directory:
                try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            case .symbolicLink:
                context.stderr.line("warning: skipping symlink: \"\(target)\" -> \"\(entry.linkName)\"")
            default:
                let out = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
                guard out >= 0 else { throw CLIError("open \(target): \(String(cString: strerror(errno)))") }
                defer { close(out) }
                while true {
                    let chunk: [UInt8]
                    do { chunk = try reader.readChunk() } catch { throw CLIError("cp: reading the archive: \(error)") }
                    if chunk.isEmpty { break }
                    try writeAll(out, chunk, what: target)
                }
            }
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], what: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CLIError("write \(what): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// The archive tar writes in the container, read through a pipe; with `--retries`, a
    /// stream that ends or fails before the archive does is resumed as kubectl's `TarPipe`
    /// resumes it: tar runs again, piped through `tail -c+N` from one past the bytes read.
    /// The reader stops at the archive's end blocks, so a stream read to its end is one that
    /// broke.
    final class ResumingArchive {
        let path: String
        var retries: PodCopyRetries
        let spawn: Exec.ContainerSpawn
        let context: CommandContext
        var fd: Int32 = -1
        var bytesRead: UInt64 = 0
        var children: [ChildProcess] = []

        init(path: String, retries: PodCopyRetries, spawn: @escaping Exec.ContainerSpawn, context: CommandContext) throws {
            self.path = path
            self.retries = retries
            self.spawn = spawn
            self.context = context
            try start(at: 0)
        }

        /// tar (or tar | tail) from byte `offset` on, its stdout a new pipe. tar's own messages
        /// go to stderr (kubectl passes the exec's stderr on).
        func start(at offset: UInt64) throws {
            let pipe = try Copy.makePipe()
            do {
                children.append(try spawn(retries.command(path: path, offset: offset), .null, .fd(pipe[1]), .inherit))
            } catch {
                close(pipe[0])
                close(pipe[1])
                throw error
            }
            close(pipe[1])
            fd = pipe[0]
        }

        func read(maxCount: Int) throws(OCIImageError) -> [UInt8] {
            var buffer = [UInt8](repeating: 0, count: min(maxCount, 1 << 16))
            while true {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    bytesRead += UInt64(n)
                    return Array(buffer[0..<n])
                }
                if n < 0 && errno == EINTR { continue }
                let failure = n < 0 ? String(cString: strerror(errno)) : nil
                guard retries.maxTries != 0 else {
                    if let failure { throw OCIImageError("read: \(failure)") }
                    return []
                }
                let (offset, message) = retries.afterBreak(bytesRead: bytesRead)
                context.stdout.line(message)
                guard let offset else {
                    if let failure { throw OCIImageError("read: \(failure)") }
                    return []
                }
                close(fd)
                fd = -1
                do { try start(at: offset) } catch { throw OCIImageError("\(error)") }
            }
        }

        /// Closes the last stream; the processes started, for their statuses.
        func finish() -> [ChildProcess] {
            if fd >= 0 { close(fd) }
            fd = -1
            return children
        }
    }

    /// `ResumingArchive` as the tar reader's source.
    struct ArchiveSource: TarByteSource {
        let archive: ResumingArchive
        mutating func read(maxCount: Int) throws(OCIImageError) -> [UInt8] { try archive.read(maxCount: maxCount) }
    }

    /// Writes a local file or directory as a tar stream, as kubectl's `makeTar`: entries named
    /// from the destination's name down, a directory's own entry only when it is empty,
    /// symbolic links as links.
    final class ArchiveWriter {
        let fd: Int32
        init(fd: Int32) { self.fd = fd }

        func add(local path: String, name: String) throws {
            var info = stat()
            guard lstat(path, &info) == 0 else { throw CLIError("\(path): \(String(cString: strerror(errno)))") }
            let mode = Int(info.st_mode & 0o7777)
            let modified = Int(info.st_mtim.tv_sec)
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                let children = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
                if children.isEmpty {
                    try header(name + "/", type: "5", size: 0, mode: mode, modified: modified, info: info)
                }
                for child in children { try add(local: path + "/" + child, name: name + "/" + child) }
            case S_IFLNK:
                let target = try FileManager.default.destinationOfSymbolicLink(atPath: path)
                try header(name, type: "2", size: 0, mode: mode, modified: modified, info: info, linkName: target)
            case S_IFREG:
                try header(name, type: "0", size: Int(info.st_size), mode: mode, modified: modified, info: info)
                let input = open(path, O_RDONLY | O_CLOEXEC)
                guard input >= 0 else { throw CLIError("open \(path): \(String(cString: strerror(errno)))") }
                defer { close(input) }
                var remaining = Int(info.st_size)
                var buffer = [UInt8](repeating: 0, count: 1 << 16)
                while remaining > 0 {
                    let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, min($0.count, remaining)) }
                    if n < 0, errno == EINTR { continue }
                    guard n > 0 else { throw CLIError("read \(path): the file shrank while it was copied") }
                    try Copy.writeAll(fd, Array(buffer[0..<n]), what: "the archive")
                    remaining -= n
                }
                let padding = (512 - Int(info.st_size) % 512) % 512
                if padding > 0 { try Copy.writeAll(fd, [UInt8](repeating: 0, count: padding), what: "the archive") }
            default:
                // Devices, sockets and pipes: nothing to copy (Go's tar writes their headers;
                // tar in the container would make them, which needs privileges it may not have).
                return
            }
        }

        private func header(_ name: String, type: Character, size: Int, mode: Int, modified: Int, info: stat, linkName: String = "") throws {
            var writer = TarWriter()
            var records: [(String, String)] = []
            if name.utf8.count > 100 { records.append(("path", name)) }
            if linkName.utf8.count > 100 { records.append(("linkpath", linkName)) }
            if !records.isEmpty { writer.pax(records) }
            try Copy.writeAll(fd, writer.bytes + TarWriter.header(name: String(decoding: name.utf8.prefix(100), as: UTF8.self), type: type, size: size, mode: mode,
                                                                  uid: Int(info.st_uid), gid: Int(info.st_gid), modificationTime: modified,
                                                                  linkName: String(decoding: linkName.utf8.prefix(100), as: UTF8.self)), what: "the archive")
        }

        /// The two zero blocks that end the archive (best effort: tar may have ended).
        func finish() {
            try? Copy.writeAll(fd, [UInt8](repeating: 0, count: 1024), what: "the archive")
        }
    }
}
