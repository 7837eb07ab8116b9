/// Writes ustar archives (with PAX records where asked): the test archives of the image
/// store, including the malformed ones no ordinary tool writes (`../` paths, escaping links).
public struct TarWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// A header block; `type` is the ustar type flag (`0` file, `1` hard link, `2` symlink,
    /// `3` character device, `5` directory, `x` PAX...).
    public static func header(name: String, type: Character, size: Int, mode: Int = 0o644, uid: Int = 0, gid: Int = 0,
                              modificationTime: Int = 1_700_000_000, linkName: String = "", prefix: String = "") -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, _ offset: Int, _ length: Int) {
            for (index, byte) in text.utf8.prefix(length).enumerated() { header[offset + index] = byte }
        }
        func octal(_ value: Int, _ offset: Int, _ length: Int) {
            let digits = String(value, radix: 8)
            put(String(repeating: "0", count: max(0, length - 1 - digits.count)) + digits, offset, length - 1)
        }
        put(name, 0, 100)
        octal(mode, 100, 8)
        octal(uid, 108, 8)
        octal(gid, 116, 8)
        octal(size, 124, 12)
        octal(modificationTime, 136, 12)
        header[156] = type.asciiValue ?? UInt8(ascii: "0")
        put(linkName, 157, 100)
        put("ustar\u{0}00", 257, 8)
        put(prefix, 345, 155)
        // The checksum is computed with its own field as spaces, and written as six octal
        // digits, NUL, space.
        for index in 148..<156 { header[index] = 0x20 }
        octal(header.reduce(0) { $0 + Int($1) }, 148, 7)
        return header
    }

    public mutating func add(_ name: String, type: Character = "0", data: [UInt8] = [], mode: Int = 0o644, uid: Int = 0, gid: Int = 0,
                             linkName: String = "", prefix: String = "") {
        bytes += Self.header(name: name, type: type, size: data.count, mode: mode, uid: uid, gid: gid, linkName: linkName, prefix: prefix)
        bytes += data
        bytes += [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
    }

    /// A PAX extended header (`x`) for the next member, or a global one (`g`).
    public mutating func pax(_ records: [(String, String)], type: Character = "x") {
        var data: [UInt8] = []
        for (key, value) in records {
            let body = " \(key)=\(value)\n"
            // The length prefix counts itself.
            var length = body.utf8.count + 1
            while String(length).utf8.count + body.utf8.count != length { length += 1 }
            data += Array("\(length)\(body)".utf8)
        }
        add("PaxHeaders/x", type: type, data: data)
    }

    /// The two zero blocks that end an archive.
    public mutating func end() { bytes += [UInt8](repeating: 0, count: 1024) }
}
