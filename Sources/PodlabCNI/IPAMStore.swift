#if canImport(Glibc)
import Glibc
#endif
import Addressing

/// One allocation: the address an attachment (container + interface) holds, and the port
/// mappings published for it, so DEL and GC can remove them without the runtime's help.
public struct AllocationRecord: Sendable, Hashable {
    public var address: IPv4Address
    public var attachment: ContainerAttachment
    public var portMappings: [PortMapping]

    public init(address: IPv4Address, attachment: ContainerAttachment, portMappings: [PortMapping] = []) {
        self.address = address
        self.attachment = attachment
        self.portMappings = portMappings
    }
}

/// The allocations of one network, as a value: what the store file holds. Pure, so the
/// allocation order is unit-tested without a file system.
///
/// Every ADD reads the whole store and writes it again, so an allocation is kept as its line of
/// the file (sharing the bytes read) with only its address parsed: finding an attachment compares
/// bytes, and writing copies lines. Decoding every line into strings cost an ADD at 300
/// containers about 0.25 ms more than at 10.
public struct Allocations: Sendable, Equatable {
    /// One allocation: its line (`ADDRESS CONTAINERID IFNAME [MAPPING…]`, no newline) and its
    /// address.
    struct Entry: Sendable, Equatable {
        var address: IPv4Address
        var line: ArraySlice<UInt8>

        init(address: IPv4Address, line: ArraySlice<UInt8>) {
            self.address = address
            self.line = line
        }

        init(_ record: AllocationRecord) {
            var text = "\(record.address) \(record.attachment.containerID) \(record.attachment.ifname)"
            for m in record.portMappings { text += " \(m)" }
            self.init(address: record.address, line: Array(text.utf8)[...])
        }

        /// The line's fields after the address.
        var fields: [ArraySlice<UInt8>] { line.split(separator: UInt8(ascii: " ")) }

        /// Whether the line's container id and interface name are the attachment's, compared as
        /// bytes.
        func belongs(to attachment: ContainerAttachment) -> Bool {
            let space = UInt8(ascii: " ")
            var i = line.startIndex
            func field() -> ArraySlice<UInt8> {
                let start = i
                while i < line.endIndex && line[i] != space { i += 1 }
                defer { if i < line.endIndex { i += 1 } }
                return line[start..<i]
            }
            _ = field()
            return field().elementsEqual(attachment.containerID.utf8) && field().elementsEqual(attachment.ifname.utf8)
        }

        /// Whether the line lists port mappings (a fourth field).
        var hasPortMappings: Bool {
            line.lazy.filter { $0 == UInt8(ascii: " ") }.count >= 3
        }

        var record: AllocationRecord {
            let f = fields
            return AllocationRecord(address: address,
                                    attachment: ContainerAttachment(containerID: String(decoding: f[1], as: UTF8.self),
                                                                    ifname: String(decoding: f[2], as: UTF8.self)),
                                    portMappings: f.dropFirst(3).compactMap { PortMapping(record: Substring(String(decoding: $0, as: UTF8.self))) })
        }
    }

    private var entries: [Entry]
    /// The address handed out last; the next search starts after it (host-local's order, so a
    /// released address is not reused at once).
    public var lastAllocated: IPv4Address?

    public init(records: [AllocationRecord] = [], lastAllocated: IPv4Address? = nil) {
        self.entries = records.map(Entry.init)
        self.lastAllocated = lastAllocated
    }

    /// Every allocation, decoded, in the order they were made.
    public var records: [AllocationRecord] { entries.map(\.record) }

    public var count: Int { entries.count }

    public func record(for attachment: ContainerAttachment) -> AllocationRecord? {
        entries.first { $0.belongs(to: attachment) }?.record
    }

    /// The next free address in `ranges` after `lastAllocated`, wrapping around (the agent's
    /// order too: `AllocationOrder`); nil when every address is taken.
    public func nextFree(in ranges: [AddressRange]) -> IPv4Address? {
        let taken = Set(entries.map(\.address))
        return AllocationOrder.nextFree(in: ranges.compactMap { $0.rangeStart <= $0.rangeEnd ? $0.rangeStart...$0.rangeEnd : nil },
                                        after: lastAllocated) { a in
            !taken.contains(a) && ranges.contains { $0.isAllocatable(a) }
        }
    }

    /// Gives `attachment` an address (the one it holds, if any: a repeated ADD is harmless).
    public mutating func allocate(_ attachment: ContainerAttachment, portMappings: [PortMapping], in ranges: [AddressRange],
                                  network: String) throws(CNIError) -> AllocationRecord {
        if let held = record(for: attachment) { return held }
        if !portMappings.isEmpty {
            for owner in entries where owner.hasPortMappings {
                let record = owner.record
                for mapping in portMappings where record.portMappings.contains(where: { $0.transport == mapping.transport && $0.hostPort == mapping.hostPort }) {
                    throw CNIError(.invalidNetworkConfig, "host port \(mapping.transport.rawValue)/\(mapping.hostPort) is already mapped",
                                   details: "to container \(record.attachment.containerID) (\(record.address)) on network \(network)")
                }
            }
        }
        guard let address = nextFree(in: ranges) else {
            let sizes = ranges.map { "\($0.rangeStart)-\($0.rangeEnd)" }.joined(separator: ", ")
            throw CNIError(.tryAgainLater, "no IP addresses available in network \(network)", details: "every address of \(sizes) is allocated (\(entries.count) allocations)")
        }
        let record = AllocationRecord(address: address, attachment: attachment, portMappings: portMappings)
        entries.append(Entry(record))
        lastAllocated = address
        return record
    }

    /// Removes and returns the attachment's record, if it has one.
    public mutating func release(_ attachment: ContainerAttachment) -> AllocationRecord? {
        guard let i = entries.firstIndex(where: { $0.belongs(to: attachment) }) else { return nil }
        return entries.remove(at: i).record
    }

    // MARK: File format

    /// One line per allocation, `ADDRESS CONTAINERID IFNAME [PROTO:HOSTPORT:CONTAINERPORT…]`, after
    /// a first line `last ADDRESS`. Container ids and interface names hold no whitespace (the
    /// environment check refuses them).
    public var serialized: String { String(decoding: bytes, as: UTF8.self) }

    /// `serialized` as bytes, the lines copied as they were read.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(entries.reduce(24) { $0 + $1.line.count + 1 })
        out += "last \(lastAllocated.map(\.description) ?? "-")\n".utf8
        for e in entries {
            out += e.line
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    public init(parsing text: String) throws(CNIError) {
        try self.init(parsing: Array(text.utf8)[...])
    }

    /// Reads the format from bytes, a line at a time: the address and the number of fields are
    /// checked on every line, port mappings only on lines that have them.
    public init(parsing bytes: ArraySlice<UInt8>) throws(CNIError) {
        self.init()
        let newline = UInt8(ascii: "\n"), space = UInt8(ascii: " ")
        var lineStart = bytes.startIndex
        var n = 0
        while lineStart < bytes.endIndex {
            let lineEnd = bytes[lineStart...].firstIndex(of: newline) ?? bytes.endIndex
            defer { lineStart = lineEnd + 1; n += 1 }
            let line = bytes[lineStart..<lineEnd]
            if line.isEmpty { continue }
            func damaged() -> CNIError {
                CNIError(.ioFailure, "the IPAM store is damaged", details: "line \(n + 1): \"\(String(decoding: line, as: UTF8.self))\"")
            }
            let firstSpace = line.firstIndex(of: space) ?? line.endIndex
            if n == 0, line[..<firstSpace].elementsEqual("last".utf8) {
                lastAllocated = firstSpace < line.endIndex ? IPv4Address(dottedQuad: line[(firstSpace + 1)...]) : nil
                continue
            }
            guard firstSpace < line.endIndex, let address = IPv4Address(dottedQuad: line[..<firstSpace]) else { throw damaged() }
            // ADDRESS CONTAINERID IFNAME, each field non-empty, then the mappings if any.
            var spaces = 0, previous = firstSpace, mappingsStart: Int?
            for i in line[(firstSpace + 1)...].indices where line[i] == space {
                guard previous + 1 < i else { throw damaged() }
                spaces += 1
                previous = i
                if spaces == 2 { mappingsStart = i + 1; break }
            }
            guard spaces >= 1, previous + 1 < line.endIndex, line.last != space else { throw damaged() }
            if let mappingsStart {
                for f in line[mappingsStart...].split(separator: space) where PortMapping(record: Substring(String(decoding: f, as: UTF8.self))) == nil {
                    throw damaged()
                }
            }
            entries.append(Entry(address: address, line: line))
        }
    }
}


/// The allocations of one network on disk, changed only under an exclusive `flock` on
/// `<dataDir>/<network>/lock`, so concurrent plugin processes never hand out one address twice.
///
/// Two copies, `allocations.0` and `allocations.1`, each ending in `end GENERATION`; a write
/// rewrites the older copy in place with the next generation, and a read takes the newest
/// complete one. A process killed mid-write leaves the other copy, the previous state. (A
/// temporary file renamed over the old one cost 2–4 ms per ADD here: every write made a new
/// inode, and ext4 scans recently freed ones to place it.)
public struct IPAMStore: Sendable {
    public let directory: String
    public var copyPaths: [String] { [directory + "/allocations.0", directory + "/allocations.1"] }
    public var lockPath: String { directory + "/lock" }

    public init(directory: String) {
        self.directory = directory
    }

    /// Runs `body` with the lock held on the current allocations; what `body` leaves in them is
    /// written back when it changed. The lock is released on every path.
    public func withLockedAllocations<T>(_ body: (inout Allocations) throws -> T) throws -> T {
        var lockFD = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if lockFD < 0 && errno == ENOENT {  // the network's first call: its directory is made once
            try Self.makeDirectories(directory)
            lockFD = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        }
        guard lockFD >= 0 else { throw Self.ioError("open", lockPath) }
        defer { close(lockFD) }
        while flock(lockFD, LOCK_EX) != 0 {
            guard errno == EINTR else { throw Self.ioError("flock", lockPath) }
        }
        let (before, generation, newest) = try readNewest()
        var allocations = before
        let result = try body(&allocations)
        if allocations != before {
            // Overwrite the copy that is not the newest.
            try write(allocations, generation: generation + 1, to: copyPaths[newest == 0 ? 1 : 0])
        }
        return result
    }

    /// The allocations without taking the lock (for reading only).
    public func read() throws -> Allocations {
        try readNewest().allocations
    }

    /// The newest complete copy, its generation and which copy it is (0 when there is none).
    /// Only the newest copy is parsed.
    private func readNewest() throws -> (allocations: Allocations, generation: UInt64, index: Int) {
        var newest: (bytes: [UInt8], body: Range<Int>, generation: UInt64, index: Int)?
        for (index, path) in copyPaths.enumerated() {
            guard let bytes = try Self.readFile(path), let (body, generation) = Self.complete(bytes) else { continue }
            if generation > (newest?.generation ?? 0) { newest = (bytes, body, generation, index) }
        }
        guard let newest else { return (Allocations(), 0, 1) }
        return (try Allocations(parsing: newest.bytes[newest.body]), newest.generation, newest.index)
    }

    /// A copy's lines before its last one and its generation, when its last line is `end
    /// GENERATION`; nil for a copy that was cut short.
    static func complete(_ bytes: [UInt8]) -> (body: Range<Int>, generation: UInt64)? {
        var end = bytes.endIndex
        while end > bytes.startIndex && bytes[end - 1] == UInt8(ascii: "\n") { end -= 1 }
        let lastLineStart = bytes[..<end].lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? bytes.startIndex
        let last = bytes[lastLineStart..<end]
        guard last.starts(with: "end ".utf8), let generation = UInt64(String(decoding: last.dropFirst(4), as: UTF8.self)) else { return nil }
        return (bytes.startIndex..<lastLineStart, generation)
    }

    private static func readFile(_ path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw ioError("open", path)
        }
        defer { close(fd) }
        // Read in pieces of a buffer that is never zeroed: a zeroed 64 KiB one cost every ADD
        // 16 page faults per copy, for files of a few kilobytes.
        var bytes: [UInt8] = []
        try withUnsafeTemporaryAllocation(byteCount: 16_384, alignment: 16) { buffer in
            while true {
                let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ioError("read", path)
                }
                if n == 0 { break }
                bytes += UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            }
        }
        return bytes
    }

    private func write(_ allocations: Allocations, generation: UInt64, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Self.ioError("open", path) }
        defer { close(fd) }
        let bytes = allocations.bytes + Array("end \(generation)\n".utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Self.ioError("write", path)
            }
            offset += n
        }
        guard ftruncate(fd, off_t(bytes.count)) == 0 else { throw Self.ioError("ftruncate", path) }
    }

    static func makeDirectories(_ path: String) throws {
        var current = ""
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST { throw ioError("mkdir", current) }
        }
    }

    static func ioError(_ operation: String, _ path: String) -> CNIError {
        let code = errno
        return CNIError(.ioFailure, "\(operation) \(path) failed", details: String(cString: strerror(code)))
    }
}
