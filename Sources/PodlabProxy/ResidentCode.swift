#if canImport(Glibc)
import Glibc
#endif

/// Gives back the pages of code only the sidecar's start ran. Each page of the executable a
/// process runs stays mapped in it (with the cached pages around it: the kernel's fault-around
/// maps 64 KiB at a time), so the code of the start — the runtime's and the libraries'
/// initialisation, configuration, the first certificate — stayed in every sidecar's RSS for
/// its whole life. Once it serves, the executable's text is unmapped (`MADV_DONTNEED`: for a
/// private file mapping that was never written, the next use maps the cached page again);
/// what the serving path runs comes back, the rest stays out. The pages stay in the page cache,
/// shared by every sidecar either way. Only executable (`r-xp`) mappings: read-only data may
/// have been written by the loader's relocations before it was made read-only.
public enum ResidentCode {
    /// An executable mapping of a file, from a line of `/proc/self/maps`.
    public struct Mapping: Equatable, Sendable {
        public var start: UInt
        public var end: UInt
        public var path: String
    }

    /// The executable, not writable, mappings of `path` in `/proc/self/maps`' text.
    public static func executableMappings(_ maps: String, of path: String) -> [Mapping] {
        maps.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6, fields[1] == "r-xp" else { return nil }
            let file = fields[5].drop { $0 == " " }
            guard file == path else { return nil }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16), end > start else { return nil }
            return Mapping(start: start, end: end, path: String(file))
        }
    }

    /// Unmaps this executable's text pages (they come back as they are used); how many
    /// mappings it released.
    @discardableResult
    public static func releaseStartCode() -> Int {
        guard let maps = readFile("/proc/self/maps"), let executable = readLink("/proc/self/exe") else { return 0 }
        var released = 0
        for mapping in executableMappings(maps, of: executable) {
            if madvise(UnsafeMutableRawPointer(bitPattern: mapping.start), Int(mapping.end - mapping.start), MADV_DONTNEED) == 0 { released += 1 }
        }
        return released
    }

    static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A procfs file's text (its size reads as 0: read to the end).
    static func readFile(_ path: String) -> String? {
        (try? MeshCredentials.readBytes(path)).map { String(decoding: $0, as: UTF8.self) }
    }
}
