#if canImport(Glibc)
import Glibc
#endif

/// Keeps the sidecar's resident set to the code it runs. A file-backed page is mapped into a
/// process when it is touched, and the kernel's fault-around maps the cached pages around it
/// too (64 KiB by default): a sidecar touching scattered parts of a 36 MB executable (NIO,
/// BoringSSL, the Swift runtime) had far more of it in its RSS than it ran. Advising the
/// read-only file mappings `MADV_RANDOM` turns fault-around off for them: a page is mapped
/// when it is used. The pages stay in the page cache, shared by every sidecar either way.
public enum ResidentCode {
    /// A read-only mapping of a file, from a line of `/proc/self/maps`.
    public struct Mapping: Equatable, Sendable {
        public var start: UInt
        public var end: UInt
        public var path: String
    }

    /// The read-only (not writable) mappings of files in `/proc/self/maps`' text; anonymous,
    /// writable and pseudo mappings (`[vdso]`, `[heap]`) are left out.
    public static func readOnlyFileMappings(_ maps: String) -> [Mapping] {
        maps.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6, fields[1].count == 4, !fields[1].contains("w") else { return nil }
            let path = fields[5].drop { $0 == " " }
            guard path.hasPrefix("/") else { return nil }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16), end > start else { return nil }
            return Mapping(start: start, end: end, path: String(path))
        }
    }

    /// Advises every read-only file mapping of this process `MADV_RANDOM`; how many it advised.
    @discardableResult
    public static func adviseRandomAccess() -> Int {
        guard let maps = readFile("/proc/self/maps") else { return 0 }
        var advised = 0
        for mapping in readOnlyFileMappings(maps) {
            if madvise(UnsafeMutableRawPointer(bitPattern: mapping.start), Int(mapping.end - mapping.start), MADV_RANDOM) == 0 { advised += 1 }
        }
        return advised
    }

    static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
