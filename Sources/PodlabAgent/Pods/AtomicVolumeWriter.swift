import Foundation
import Netns
import PodNet
#if canImport(Glibc)
import Glibc
#endif

/// Writes a projected volume's files as the kubelet's `AtomicWriter` does, so that a container
/// reading them never sees a half-written set:
///
/// ```
/// <volume>/..2026_12_06_18_14_17.123456789/   the payload, files with their modes
/// <volume>/..data -> ..2026_12_06_18_14_17.123456789
/// <volume>/key    -> ..data/key                one symbolic link per top-level name
/// ```
///
/// An update writes a new timestamped directory, then replaces `..data` by `rename(2)` of a
/// fresh link over it (atomic), adds links for new names, removes links for names gone, and
/// removes the old directory. The container's mount is the volume directory itself, so it
/// follows `..data` to the new files; a `subPath` mount names one file and keeps the old one.
enum AtomicVolumeWriter {
    static let dataLink = "..data"
    static let temporaryLink = "..data_tmp"

    /// Writes `payload` into `directory` (made if missing, mode 0755); returns false when the
    /// files were already exactly these (nothing is touched then).
    @discardableResult
    static func write(_ payload: [String: ProjectedFile], to directory: String, now: Date = Date()) throws -> Bool {
        for path in payload.keys where path.hasPrefix("/") || path.split(separator: "/").contains("..") || path.hasPrefix("..") {
            throw KernelError(operation: "write volume", object: "\(directory)/\(path)", errno: .invalidArgument)
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let current = currentDataDirectory(directory)
        if let current, matches(payload, in: "\(directory)/\(current)") {
            try linkNames(payload, in: directory)
            return false
        }
        let fresh = try makeTimestampedDirectory(in: directory, now: now)
        do {
            for (path, file) in payload.sorted(by: { $0.key < $1.key }) {
                try writeFile(file, at: "\(directory)/\(fresh)/\(path)")
            }
            let temporary = "\(directory)/\(temporaryLink)"
            unlink(temporary)
            guard symlink(fresh, temporary) == 0 else { throw KernelError(operation: "symlink", object: temporary, errno: .current) }
            guard rename(temporary, "\(directory)/\(dataLink)") == 0 else {
                throw KernelError(operation: "rename", object: "\(directory)/\(dataLink)", errno: .current)
            }
        } catch {
            try? FileManager.default.removeItem(atPath: "\(directory)/\(fresh)")
            throw error
        }
        try linkNames(payload, in: directory)
        if let current { try? FileManager.default.removeItem(atPath: "\(directory)/\(current)") }
        return true
    }

    /// The timestamped directory `..data` names, if any.
    static func currentDataDirectory(_ directory: String) -> String? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\(dataLink)") else { return nil }
        return target
    }

    /// Every file of the payload is there with its bytes and mode, and nothing else is.
    static func matches(_ payload: [String: ProjectedFile], in dataDirectory: String) -> Bool {
        var found: Set<String> = []
        guard let walker = FileManager.default.enumerator(atPath: dataDirectory) else { return false }
        for case let path as String in walker {
            var info = stat()
            guard lstat("\(dataDirectory)/\(path)", &info) == 0 else { return false }
            if info.st_mode & S_IFMT == S_IFDIR { continue }
            guard let file = payload[path], Int32(info.st_mode & 0o7777) == file.mode,
                  FileManager.default.contents(atPath: "\(dataDirectory)/\(path)") == Data(file.data) else { return false }
            found.insert(path)
        }
        return found == Set(payload.keys)
    }

    /// `..YYYY_MM_DD_HH_MM_SS.<random>`, as the kubelet names them (`os.MkdirTemp`), mode 0755.
    static func makeTimestampedDirectory(in directory: String, now: Date) throws -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: now)
        func padded(_ value: Int?, _ width: Int) -> String {
            let digits = String(value ?? 0)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let stamp = ".." + [padded(parts.year, 4), padded(parts.month, 2), padded(parts.day, 2), padded(parts.hour, 2),
                            padded(parts.minute, 2), padded(parts.second, 2)].joined(separator: "_") + "."
        var template = Array("\(directory)/\(stamp)XXXXXXXXX".utf8CString)
        let made: String? = template.withUnsafeMutableBufferPointer { buffer in
            mkdtemp(buffer.baseAddress!).map { String(cString: $0) }
        }
        guard let path = made else { throw KernelError(operation: "mkdtemp", object: "\(directory)/\(stamp)", errno: .current) }
        chmod(path, 0o755)
        return String(path.split(separator: "/").last!)
    }

    static func writeFile(_ file: ProjectedFile, at path: String) throws {
        let parent = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw KernelError(operation: "open", object: path, errno: .current) }
        defer { close(fd) }
        let written = file.data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == file.data.count else { throw KernelError(operation: "write", object: path, errno: .current) }
        // The mode exactly as asked, whatever the umask.
        guard fchmod(fd, mode_t(file.mode)) == 0 else { throw KernelError(operation: "fchmod", object: path, errno: .current) }
    }

    /// One link per top-level name of the payload (`conf` for `conf/app.ini`), through `..data`;
    /// links of names no longer in it removed.
    static func linkNames(_ payload: [String: ProjectedFile], in directory: String) throws {
        let names = Set(payload.keys.compactMap { $0.split(separator: "/").first.map(String.init) })
        for name in names.sorted() {
            let link = "\(directory)/\(name)"
            let target = "\(dataLink)/\(name)"
            if (try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == target { continue }
            unlink(link)
            guard symlink(target, link) == 0 else { throw KernelError(operation: "symlink", object: link, errno: .current) }
        }
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where !entry.hasPrefix("..") && !names.contains(entry) {
            try? FileManager.default.removeItem(atPath: "\(directory)/\(entry)")
        }
    }
}
