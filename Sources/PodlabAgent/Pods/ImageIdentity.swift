import Foundation
import PodlabImages

/// The Image ID a built-in image's containers report: `<repository>@sha256:<digest>`, where the
/// digest is of what actually runs — the build of the `podlab-tools` executable and of BusyBox
/// (their ELF build IDs, which the linker derives from the executables' contents) and the
/// image's entrypoint and command. It is the same across runs of one build and changes with
/// the build, so a stand-in is never mistaken for the real image's digest.
final class ImageIdentity: Sendable {
    private let toolsBuild: String
    private let busyboxBuild: String
    /// The builds of podlab's other executables (`podlab-proxy`), beside `podlab-tools`.
    private let siblingBuilds: [String: String]

    init(toolsPath: String, busyboxPath: String = ImageCatalog.busyboxPath) {
        toolsBuild = ImageIdentity.build(of: toolsPath)
        busyboxBuild = ImageIdentity.build(of: busyboxPath)
        let directory = (toolsPath as NSString).deletingLastPathComponent
        siblingBuilds = Dictionary(uniqueKeysWithValues: ImageCatalog.siblingExecutables.map { ($0, ImageIdentity.build(of: "\(directory)/\($0)")) })
    }

    /// The Image ID for `image` as written in a pod (a digest the reference pins stays).
    func imageID(for reference: String) -> String {
        guard let resolved = try? ImageCatalog.resolve(reference) else { return "" }
        if let pinned = resolved.pinnedImageID { return pinned }
        let image = resolved.image
        // An image that runs an executable of its own (the proxy's) changes with its build too;
        // the others' IDs stay what they were.
        let siblings = Set(image.siblings.values).sorted().map { "\($0) \(siblingBuilds[$0] ?? "missing")" }
        let identity = ([
            "podlab-tools \(toolsBuild)", "busybox \(busyboxBuild)", "image \(image.repository)",
            "entrypoint \(image.entrypoint.joined(separator: "\u{0}"))", "cmd \(image.cmd.joined(separator: "\u{0}"))",
        ] + siblings).joined(separator: "\n")
        return "\(image.repository)@sha256:\(SHA256.hex(identity))"
    }

    /// The executable's build: its GNU build ID, else the SHA-256 of its contents, else
    /// "missing" (the container then fails to start anyway).
    static func build(of path: String) -> String {
        if let id = ELFBuildID.read(path) { return "build-id \(id)" }
        guard let data = FileManager.default.contents(atPath: path) else { return "missing" }
        return "sha256 " + SHA256.digest(data).map { String($0, radix: 16).leftPadded(2) }.joined()
    }
}

/// Reads the GNU build ID (`NT_GNU_BUILD_ID` in a `PT_NOTE` segment) of a 64-bit little-endian
/// ELF file, as `readelf -n` shows it.
enum ELFBuildID {
    static func read(_ path: String) -> String? {
        guard let file = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? file.close() }
        func bytes(at offset: UInt64, count: Int) -> [UInt8]? {
            guard (try? file.seek(toOffset: offset)) != nil, let data = try? file.read(upToCount: count), data.count == count else { return nil }
            return [UInt8](data)
        }
        // ELF header (64 B): magic, class 2 (64-bit), data 1 (little-endian).
        guard let header = bytes(at: 0, count: 64), header.starts(with: [0x7f, 0x45, 0x4c, 0x46]), header[4] == 2, header[5] == 1 else { return nil }
        let programHeaders = header.u64(32), entrySize = Int(header.u16(54)), count = Int(header.u16(56))
        guard entrySize >= 56, count < 256, let table = bytes(at: programHeaders, count: entrySize * count) else { return nil }
        for index in 0..<count {
            let entry = Array(table[index * entrySize..<(index + 1) * entrySize])
            guard entry.u32(0) == 4 else { continue }  // PT_NOTE
            let size = Int(entry.u64(32))
            guard size < 1 << 20, let notes = bytes(at: entry.u64(8), count: size) else { continue }
            var offset = 0
            while offset + 12 <= notes.count {
                let nameSize = Int(notes.u32(offset)), descSize = Int(notes.u32(offset + 4)), type = notes.u32(offset + 8)
                let name = offset + 12, desc = name + (nameSize + 3) & ~3
                guard desc + descSize <= notes.count else { break }
                if type == 3, nameSize == 4, Array(notes[name..<name + 3]) == Array("GNU".utf8) {  // NT_GNU_BUILD_ID
                    return notes[desc..<desc + descSize].map { String($0, radix: 16).leftPadded(2) }.joined()
                }
                offset = desc + (descSize + 3) & ~3
            }
        }
        return nil
    }
}

private extension Array where Element == UInt8 {
    func u16(_ at: Int) -> UInt16 { UInt16(self[at]) | UInt16(self[at + 1]) << 8 }
    func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(self[at + $1]) << (8 * $1) } }
    func u64(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(self[at + $1]) << (8 * $1) } }
}

private extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: Swift.max(0, width - count)) + self }
}
