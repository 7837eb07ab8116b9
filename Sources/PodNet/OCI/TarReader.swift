/// Where a tar stream's bytes come from: an in-memory buffer in tests, a file or a
/// decompressor in the store.
public protocol TarByteSource {
    /// Up to `maxCount` bytes; empty only at the end of the stream.
    mutating func read(maxCount: Int) throws(OCIImageError) -> [UInt8]
}

/// Bytes already in memory.
public struct InMemoryTarSource: TarByteSource {
    private let bytes: [UInt8]
    private var offset = 0

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    public mutating func read(maxCount: Int) throws(OCIImageError) -> [UInt8] {
        let end = min(bytes.count, offset + maxCount)
        defer { offset = end }
        return Array(bytes[offset..<end])
    }
}

/// One member of a tar archive, its PAX and GNU extensions applied.
public struct TarEntry: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case regular, hardLink, symbolicLink, characterDevice, blockDevice, directory, fifo
    }

    public var path: String
    public var kind: Kind
    /// Permission bits with setuid, setgid and sticky (`0o7777`).
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var size: Int64
    /// Seconds since the epoch.
    public var modificationTime: Int64
    /// The target of a link.
    public var linkName: String
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
    /// Extended attributes from PAX `SCHILY.xattr.*` records.
    public var xattrs: [String: [UInt8]]

    public init(path: String, kind: Kind, mode: UInt32 = 0o644, uid: UInt32 = 0, gid: UInt32 = 0, size: Int64 = 0, modificationTime: Int64 = 0,
                linkName: String = "", deviceMajor: UInt32 = 0, deviceMinor: UInt32 = 0, xattrs: [String: [UInt8]] = [:]) {
        self.path = path
        self.kind = kind
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = size
        self.modificationTime = modificationTime
        self.linkName = linkName
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
        self.xattrs = xattrs
    }
}

/// A streaming reader of POSIX ustar archives with the PAX (`x`, `g`) and GNU (`L`, `K`)
/// long-name extensions: what `docker save`, image layers and Go's archive/tar write. Headers
/// are checksummed, so a corrupted archive fails at the damaged header, and a stream that
/// ends inside a member fails as truncated.
public struct TarReader<Source: TarByteSource> {
    private var source: Source
    private var buffered: [UInt8] = []
    private var bufferedOffset = 0
    /// Data bytes of the current entry not read yet, then the padding to the next block.
    private var remainingData: Int64 = 0
    private var remainingPadding: Int64 = 0
    private var globalRecords: [String: String] = [:]
    private var finished = false

    static var blockSize: Int { 512 }

    public init(_ source: Source) {
        self.source = source
    }

    /// The next entry, or nil at the end of the archive. Unread data of the previous entry is
    /// skipped.
    public mutating func next() throws(OCIImageError) -> TarEntry? {
        if finished { return nil }
        try skip(remainingData + remainingPadding)
        remainingData = 0
        remainingPadding = 0
        var longName: String?
        var longLink: String?
        var records: [String: String] = [:]
        while true {
            let header = try readExactly(Self.blockSize, atStart: true)
            guard let header else {
                // An archive without its two zero blocks still ends cleanly at a member boundary
                // (Go's writer always adds them; some tools do not).
                finished = true
                return nil
            }
            if header.allSatisfy({ $0 == 0 }) {
                finished = true
                return nil
            }
            try Self.verifyChecksum(header)
            let type = header[156]
            let size = try Self.number(header, 124, 12, field: "size")
            guard size >= 0 else { throw OCIImageError("tar: invalid size in the header of \"\(Self.string(header, 0, 100))\"") }
            switch type {
            case UInt8(ascii: "x"), UInt8(ascii: "g"):
                let data = try readData(size)
                let parsed = try Self.paxRecords(data)
                if type == UInt8(ascii: "g") { globalRecords.merge(parsed) { $1 } } else { records.merge(parsed) { $1 } }
                continue
            case UInt8(ascii: "L"):
                longName = Self.cString(try readData(size))
                continue
            case UInt8(ascii: "K"):
                longLink = Self.cString(try readData(size))
                continue
            default:
                break
            }
            let pax = globalRecords.merging(records) { $1 }
            let magic = Array(header[257..<263])
            let isUstar = magic == Array("ustar\0".utf8)
            var path = Self.string(header, 0, 100)
            if isUstar {
                let prefix = Self.string(header, 345, 155)
                if !prefix.isEmpty { path = prefix + "/" + path }
            }
            path = pax["path"] ?? longName ?? path
            let linkName = pax["linkpath"] ?? longLink ?? Self.string(header, 157, 100)
            let kind: TarEntry.Kind
            switch type {
            case UInt8(ascii: "0"), 0, UInt8(ascii: "7"): kind = path.hasSuffix("/") ? .directory : .regular
            case UInt8(ascii: "1"): kind = .hardLink
            case UInt8(ascii: "2"): kind = .symbolicLink
            case UInt8(ascii: "3"): kind = .characterDevice
            case UInt8(ascii: "4"): kind = .blockDevice
            case UInt8(ascii: "5"): kind = .directory
            case UInt8(ascii: "6"): kind = .fifo
            default:
                throw OCIImageError("tar: \"\(path)\": unsupported entry type '\(Character(Unicode.Scalar(type)))'")
            }
            func paxNumber(_ key: String) throws(OCIImageError) -> Int64? {
                guard let text = pax[key] else { return nil }
                // PAX times may carry a fraction (`1700000000.123`): whole seconds are kept.
                guard let value = Int64(text.split(separator: ".", maxSplits: 1).first ?? "") else {
                    throw OCIImageError("tar: \"\(path)\": invalid PAX \(key) \"\(text)\"")
                }
                return value
            }
            let entrySize = try paxNumber("size") ?? size
            guard entrySize >= 0 else { throw OCIImageError("tar: \"\(path)\": invalid size") }
            var xattrs: [String: [UInt8]] = [:]
            for (key, value) in pax where key.hasPrefix("SCHILY.xattr.") {
                xattrs[String(key.dropFirst("SCHILY.xattr.".count))] = Array(value.utf8)
            }
            let headerUID = try Self.number(header, 108, 8, field: "uid")
            let headerGID = try Self.number(header, 116, 8, field: "gid")
            let headerTime = try Self.number(header, 136, 12, field: "mtime")
            let entry = TarEntry(
                path: path, kind: kind,
                mode: UInt32(truncatingIfNeeded: try Self.number(header, 100, 8, field: "mode")) & 0o7777,
                uid: UInt32(truncatingIfNeeded: try paxNumber("uid") ?? headerUID),
                gid: UInt32(truncatingIfNeeded: try paxNumber("gid") ?? headerGID),
                size: kind == .regular ? entrySize : 0,
                modificationTime: try paxNumber("mtime") ?? headerTime,
                linkName: linkName,
                deviceMajor: UInt32(truncatingIfNeeded: try Self.number(header, 329, 8, field: "devmajor")),
                deviceMinor: UInt32(truncatingIfNeeded: try Self.number(header, 337, 8, field: "devminor")),
                xattrs: xattrs)
            // Only regular files carry data; other types' size is skipped all the same.
            remainingData = entrySize
            remainingPadding = Self.padding(entrySize)
            return entry
        }
    }

    /// The next bytes of the current entry's data (at most `maxCount`); empty at its end.
    public mutating func readChunk(maxCount: Int = 1 << 16) throws(OCIImageError) -> [UInt8] {
        guard remainingData > 0 else { return [] }
        let count = Int(min(Int64(maxCount), remainingData))
        guard let bytes = try readExactly(count, atStart: false) else { throw OCIImageError("tar: unexpected end of archive (truncated)") }
        remainingData -= Int64(count)
        return bytes
    }

    /// The current entry's whole data (small members: manifests, configs).
    public mutating func readAll() throws(OCIImageError) -> [UInt8] {
        var data: [UInt8] = []
        while true {
            let chunk = try readChunk()
            if chunk.isEmpty { return data }
            data += chunk
        }
    }

    private mutating func readData(_ size: Int64) throws(OCIImageError) -> [UInt8] {
        guard size <= 1 << 24 else { throw OCIImageError("tar: extended header of \(size) bytes is too large") }
        guard let data = try readExactly(Int(size), atStart: false) else { throw OCIImageError("tar: unexpected end of archive (truncated)") }
        try skip(Self.padding(size))
        return data
    }

    private static func padding(_ size: Int64) -> Int64 {
        (Int64(blockSize) - size % Int64(blockSize)) % Int64(blockSize)
    }

    private mutating func fill(_ count: Int) throws(OCIImageError) {
        while buffered.count - bufferedOffset < count {
            let more = try source.read(maxCount: max(1 << 16, count))
            if more.isEmpty { return }
            if bufferedOffset > 0 {
                buffered.removeFirst(bufferedOffset)
                bufferedOffset = 0
            }
            buffered += more
        }
    }

    /// Exactly `count` bytes; nil when the stream ends first (with nothing read, when `atStart`
    /// allows a clean end; else it is a truncation).
    private mutating func readExactly(_ count: Int, atStart: Bool) throws(OCIImageError) -> [UInt8]? {
        try fill(count)
        let available = buffered.count - bufferedOffset
        if available < count {
            if atStart && available == 0 { return nil }
            throw OCIImageError("tar: unexpected end of archive (truncated)")
        }
        defer { bufferedOffset += count }
        return Array(buffered[bufferedOffset..<bufferedOffset + count])
    }

    private mutating func skip(_ count: Int64) throws(OCIImageError) {
        var left = count
        while left > 0 {
            let step = Int(min(left, 1 << 20))
            guard try readExactly(step, atStart: false) != nil else { throw OCIImageError("tar: unexpected end of archive (truncated)") }
            left -= Int64(step)
        }
    }

    private static func verifyChecksum(_ header: [UInt8]) throws(OCIImageError) {
        let recorded: Int64
        do {
            recorded = try number(header, 148, 8, field: "checksum")
        } catch {
            throw OCIImageError("tar: invalid header (not a tar archive, or corrupted)")
        }
        var sum: Int64 = 0
        for (index, byte) in header.enumerated() { sum += (148..<156).contains(index) ? 0x20 : Int64(byte) }
        guard sum == recorded else { throw OCIImageError("tar: invalid header checksum (not a tar archive, or corrupted)") }
    }

    /// A numeric field: octal digits (space or NUL terminated), or GNU base-256 when the high
    /// bit of the first byte is set.
    static func number(_ header: [UInt8], _ offset: Int, _ length: Int, field: String) throws(OCIImageError) -> Int64 {
        let bytes = header[offset..<offset + length]
        if let first = bytes.first, first & 0x80 != 0 {
            var value: Int64 = Int64(first & 0x3F)
            for byte in bytes.dropFirst() {
                guard value < Int64.max >> 8 else { throw OCIImageError("tar: \(field) out of range") }
                value = value << 8 | Int64(byte)
            }
            return first & 0x40 != 0 ? -value : value
        }
        var value: Int64 = 0
        var seenDigit = false
        for byte in bytes {
            if byte == 0 || byte == 0x20 {
                if seenDigit { break } else { continue }
            }
            guard (0x30...0x37).contains(byte), value < Int64.max >> 3 else { throw OCIImageError("tar: invalid \(field) field") }
            value = value << 3 | Int64(byte - 0x30)
            seenDigit = true
        }
        return value
    }

    static func string(_ header: [UInt8], _ offset: Int, _ length: Int) -> String {
        cString(Array(header[offset..<offset + length]))
    }

    static func cString(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// PAX records: `<length> <key>=<value>\n`, the length counting the whole record.
    static func paxRecords(_ data: [UInt8]) throws(OCIImageError) -> [String: String] {
        var records: [String: String] = [:]
        var offset = 0
        while offset < data.count {
            guard let space = data[offset...].firstIndex(of: 0x20),
                  let length = Int(String(decoding: data[offset..<space], as: UTF8.self)), length > space - offset + 1,
                  offset + length <= data.count, data[offset + length - 1] == 0x0A
            else { throw OCIImageError("tar: invalid PAX header") }
            let record = data[(space + 1)..<(offset + length - 1)]
            guard let equals = record.firstIndex(of: UInt8(ascii: "=")) else { throw OCIImageError("tar: invalid PAX record") }
            records[String(decoding: record[record.startIndex..<equals], as: UTF8.self)] = String(decoding: record[(equals + 1)...], as: UTF8.self)
            offset += length
        }
        return records
    }
}
