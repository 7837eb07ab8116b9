import CNetlink
import Foundation
import Netns
import PodNet

/// Writes one layer's tar stream into a directory as overlayfs reads a lower layer: files with
/// their modes, owners, times and xattrs; whiteouts as 0/0 character devices; opaque
/// directories with `trusted.overlay.opaque=y`.
///
/// Nothing is written outside `root`: `..` is refused (`LayerEntry`), symbolic links are never
/// followed (every parent is checked to be a real directory before anything is made in it,
/// and nothing but this unpacker writes into the fresh directory), hard links name paths
/// under `root`, and links that climb past the top are refused.
struct LayerUnpacker {
    let root: String
    let what: String
    /// Directories known to be real directories under `root` (checked or made here).
    private var directories: Set<[String]> = [[]]
    /// Directory times are set last: making entries inside a directory changes its mtime.
    private var directoryTimes: [(path: String, time: Int64)] = []

    init(root: String, what: String) {
        self.root = root
        self.what = what
    }

    func path(_ components: [String]) -> String {
        components.isEmpty ? root : root + "/" + components.joined(separator: "/")
    }

    mutating func unpack<Source: TarByteSource>(_ reader: inout TarReader<Source>) throws(OCIImageError) {
        while let entry = try reader.next() {
            switch try LayerEntry.classify(entry.path) {
            case .ignore:
                continue
            case let .whiteout(components):
                try ensureParents(of: components, entry: entry.path)
                try removeExisting(components)
                try check(mknod(path(components), S_IFCHR | 0o000, Self.deviceNumber(0, 0)), "mknod (whiteout)", components)
            case let .opaque(components):
                try ensureDirectory(components, entry: entry.path)
                let value: [UInt8] = [UInt8(ascii: "y")]
                try check(setxattr(path(components), "trusted.overlay.opaque", value, 1, 0), "setxattr trusted.overlay.opaque", components)
            case let .add(components):
                try add(entry, at: components, reader: &reader)
            }
        }
        for (directory, time) in directoryTimes.reversed() { setTimes(directory, time) }
    }

    private mutating func add<Source: TarByteSource>(_ entry: TarEntry, at components: [String], reader: inout TarReader<Source>) throws(OCIImageError) {
        try ensureParents(of: components, entry: entry.path)
        let target = path(components)
        if entry.kind == .directory {
            var status = stat()
            if lstat(target, &status) == 0, status.st_mode & S_IFMT == S_IFDIR {
                // A directory listed again (or made for an earlier entry): its own metadata wins.
            } else {
                try removeExisting(components)
                try check(mkdir(target, 0o700), "mkdir", components)
            }
            directories.insert(components)
            try setOwnerAndMode(target, entry, components)
            try setXattrs(target, entry, components)
            directoryTimes.append((target, entry.modificationTime))
            return
        }
        try removeExisting(components)
        switch entry.kind {
        case .regular:
            let fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw failure("create", components) }
            defer { close(fd) }
            while true {
                let chunk = try reader.readChunk(maxCount: 1 << 20)
                if chunk.isEmpty { break }
                var offset = 0
                while offset < chunk.count {
                    let written = chunk.withUnsafeBytes { write(fd, $0.baseAddress! + offset, chunk.count - offset) }
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw failure("write", components)
                    }
                    offset += written
                }
            }
            try setOwnerAndMode(target, entry, components)
            try setXattrs(target, entry, components)
        case .symbolicLink:
            if LayerEntry.symlinkEscapes(entry.linkName, at: components) {
                throw OCIImageError("\(what): symbolic link \"\(entry.path)\" -> \"\(entry.linkName)\" escapes the root")
            }
            try check(symlink(entry.linkName, target), "symlink", components)
            try check(lchown(target, entry.uid, entry.gid), "lchown", components)
        case .hardLink:
            let source = try LayerEntry.hardLinkTarget(entry.linkName, entry: entry.path)
            var status = stat()
            guard lstat(path(source), &status) == 0, status.st_mode & S_IFMT != S_IFDIR, directories.contains(Array(source.dropLast())) else {
                throw OCIImageError("\(what): hard link \"\(entry.path)\" to \"\(entry.linkName)\": the target is not an earlier file of the layer")
            }
            try check(link(path(source), target), "link", components)
            return
        case .characterDevice, .blockDevice, .fifo:
            let type: mode_t = entry.kind == .fifo ? S_IFIFO : entry.kind == .blockDevice ? S_IFBLK : S_IFCHR
            try check(mknod(target, type | 0o600, Self.deviceNumber(entry.deviceMajor, entry.deviceMinor)), "mknod", components)
            try setOwnerAndMode(target, entry, components)
        case .directory:
            return
        }
        setTimes(target, entry.modificationTime)
    }

    /// Makes sure every parent of `components` is a real directory, making missing ones (a
    /// layer may list a file before, or without, its directory).
    private mutating func ensureParents(of components: [String], entry: String) throws(OCIImageError) {
        guard components.count > 1 else { return }
        try ensureDirectory(Array(components.dropLast()), entry: entry)
    }

    private mutating func ensureDirectory(_ components: [String], entry: String) throws(OCIImageError) {
        if directories.contains(components) { return }
        for depth in 1...max(1, components.count) where depth <= components.count {
            let prefix = Array(components.prefix(depth))
            if directories.contains(prefix) { continue }
            var status = stat()
            if lstat(path(prefix), &status) == 0 {
                guard status.st_mode & S_IFMT == S_IFDIR else {
                    throw OCIImageError("\(what): entry \"\(entry)\": \"\(prefix.joined(separator: "/"))\" is not a directory (a symbolic link is never followed)")
                }
            } else {
                try check(mkdir(path(prefix), 0o755), "mkdir", prefix)
            }
            directories.insert(prefix)
        }
    }

    /// Removes what a path holds before an entry replaces it (the later entry wins, as in tar -x).
    private mutating func removeExisting(_ components: [String]) throws(OCIImageError) {
        let target = path(components)
        var status = stat()
        guard lstat(target, &status) == 0 else { return }
        if status.st_mode & S_IFMT == S_IFDIR {
            do {
                try FileManager.default.removeItem(atPath: target)
            } catch {
                throw OCIImageError("\(what): remove \(components.joined(separator: "/")): \(error.localizedDescription)")
            }
            directories = directories.filter { !$0.starts(with: components) }
        } else {
            try check(unlink(target), "unlink", components)
        }
    }

    private func setOwnerAndMode(_ target: String, _ entry: TarEntry, _ components: [String]) throws(OCIImageError) {
        // chown first: it clears the setuid and setgid bits chmod sets.
        try check(lchown(target, entry.uid, entry.gid), "lchown", components)
        try check(chmod(target, mode_t(entry.mode)), "chmod", components)
    }

    private func setXattrs(_ target: String, _ entry: TarEntry, _ components: [String]) throws(OCIImageError) {
        for (name, value) in entry.xattrs.sorted(by: { $0.key < $1.key }) {
            try check(lsetxattr(target, name, value, value.count, 0), "lsetxattr \(name)", components)
        }
    }

    private func setTimes(_ target: String, _ time: Int64) {
        var times = [timespec(tv_sec: Int(time), tv_nsec: 0), timespec(tv_sec: Int(time), tv_nsec: 0)]
        // Best effort, as tar -x: a time the file system cannot store is not worth failing for.
        _ = utimensat(AT_FDCWD, target, &times, AT_SYMLINK_NOFOLLOW)
    }

    /// glibc's `makedev` (a macro Swift cannot import): the major and minor numbers' bits
    /// interleaved as the kernel's `new_encode_dev` lays them out.
    static func deviceNumber(_ major: UInt32, _ minor: UInt32) -> dev_t {
        let major = UInt64(major), minor = UInt64(minor)
        return dev_t((major & 0xFFFF_F000) << 32 | (major & 0xFFF) << 8 | (minor & 0xFFFF_FF00) << 12 | (minor & 0xFF))
    }

    private func check(_ result: Int32, _ operation: String, _ components: [String]) throws(OCIImageError) {
        if result != 0 { throw failure(operation, components) }
    }

    private func failure(_ operation: String, _ components: [String]) -> OCIImageError {
        OCIImageError("\(what): \(operation) \(components.joined(separator: "/")): \(Errno.current)")
    }
}
