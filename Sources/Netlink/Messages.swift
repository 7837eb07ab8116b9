import CMnl
import Netns

/// One rtnetlink request message, ready to send, together with what it does (for errors).
///
/// Requests are built by the static functions of this type (`createVeth`, `addAddress`,
/// `addRoute`, …), which validate their input before any byte is written. They are plain
/// values: send one with `RouteNetlink.perform(_:)` or several in one datagram with
/// `RouteNetlink.perform(batch:)`. The sequence number is filled in when the request is sent.
public struct NetlinkRequest: Sendable, Equatable, CustomStringConvertible {
    /// The message type under its kernel name, e.g. `RTM_NEWLINK`.
    public let operation: String
    /// What the message acts on, e.g. `veth "h1"` or `route default via 10.244.1.1`.
    public let object: String
    /// The complete message: `struct nlmsghdr`, the family header, the attributes.
    public private(set) var bytes: [UInt8]

    /// Largest message a builder writes; every rtnetlink request podlab makes is far smaller.
    static let capacity = 4096

    /// Builds a message with libmnl: the header, then whatever `body` writes.
    init(type: UInt16, flags: UInt16, object: String, _ body: (inout MessageWriter) -> Void) throws(ValidationError) {
        let built: [UInt8]? = withUnsafeTemporaryAllocation(byteCount: NetlinkRequest.capacity, alignment: 8) { buffer in
            // libmnl 1.0.4 (Debian 12) does not clear attribute padding: start from zeros so no
            // stale bytes reach the kernel.
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            let header = mnl_nlmsg_put_header(buffer.baseAddress)!
            header.pointee.nlmsg_type = type
            header.pointee.nlmsg_flags = NetlinkFlags.NLM_F_REQUEST | flags
            var writer = MessageWriter(header: header, capacity: NetlinkRequest.capacity)
            body(&writer)
            guard !writer.overflow else { return nil }
            return Array(UnsafeRawBufferPointer(start: buffer.baseAddress, count: Int(header.pointee.nlmsg_len)))
        }
        guard let built else {
            throw ValidationError(field: "netlink message", value: object, reason: "does not fit in \(NetlinkRequest.capacity) bytes")
        }
        self.operation = NetlinkType.name(type)
        self.object = object
        self.bytes = built
    }

    /// `nlmsg_type`.
    public var messageType: UInt16 { bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: UInt16.self) } }
    /// `nlmsg_flags`.
    public var flags: UInt16 { bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 6, as: UInt16.self) } }
    /// `nlmsg_seq`; 0 until the request is sent.
    public var sequence: UInt32 {
        get { bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self) } }
        set { bytes.withUnsafeMutableBytes { $0.storeBytes(of: newValue, toByteOffset: 8, as: UInt32.self) } }
    }

    public var description: String { "\(operation) \(object)" }

    /// The same request with more `nlmsg_flags` bits set.
    func adding(flags extra: UInt16) -> NetlinkRequest {
        var copy = self
        copy.bytes.withUnsafeMutableBytes { raw in
            let flags = raw.loadUnaligned(fromByteOffset: 6, as: UInt16.self)
            raw.storeBytes(of: flags | extra, toByteOffset: 6, as: UInt16.self)
        }
        return copy
    }
}

/// Appends the parts of one netlink message to a buffer through libmnl. A write that would pass
/// the buffer's end is skipped and remembered in `overflow` (the `_check` variants of libmnl).
struct MessageWriter {
    let header: UnsafeMutablePointer<nlmsghdr>
    let capacity: Int
    private(set) var overflow = false

    /// A family header (`struct ifinfomsg`, `ifaddrmsg`, `rtmsg`, `ndmsg`) at the message's
    /// tail. Inside a nest this writes the nested header (a veth peer's `ifinfomsg`).
    mutating func extraHeader<T>(_ value: T) {
        let size = MemoryLayout<T>.size
        guard Int(header.pointee.nlmsg_len) + ((size + 3) & ~3) <= capacity else {
            overflow = true
            return
        }
        let tail = mnl_nlmsg_put_extra_header(header, size)!
        withUnsafeBytes(of: value) { tail.copyMemory(from: $0.baseAddress!, byteCount: size) }
    }

    mutating func put(_ type: UInt16, u8 value: UInt8) {
        if !mnl_attr_put_u8_check(header, capacity, type, value) { overflow = true }
    }

    mutating func put(_ type: UInt16, u16 value: UInt16) {
        if !mnl_attr_put_u16_check(header, capacity, type, value) { overflow = true }
    }

    mutating func put(_ type: UInt16, u32 value: UInt32) {
        if !mnl_attr_put_u32_check(header, capacity, type, value) { overflow = true }
    }

    /// A NUL-terminated string.
    mutating func put(_ type: UInt16, string value: String) {
        if !mnl_attr_put_strz_check(header, capacity, type, value) { overflow = true }
    }

    mutating func put(_ type: UInt16, bytes value: [UInt8]) {
        let ok = value.withUnsafeBytes { mnl_attr_put_check(header, capacity, type, $0.count, $0.baseAddress) }
        if !ok { overflow = true }
    }

    /// A nested attribute holding whatever `body` writes.
    mutating func nest(_ type: UInt16, _ body: (inout MessageWriter) -> Void) {
        guard let start = mnl_attr_nest_start_check(header, capacity, type) else {
            overflow = true
            return
        }
        body(&self)
        mnl_attr_nest_end(header, start)
    }
}

/// Reads fixed-size fields of a family header at the start of a message payload.
struct PayloadReader {
    let payload: ArraySlice<UInt8>

    /// True when the payload holds at least `size` bytes of family header.
    func has(_ size: Int) -> Bool { payload.count >= size }

    func u8(_ offset: Int) -> UInt8 { payload[payload.startIndex + offset] }
    func u16(_ offset: Int) -> UInt16 { payload.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt16.self) } }
    func u32(_ offset: Int) -> UInt32 { payload.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) } }
    func i32(_ offset: Int) -> Int32 { payload.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int32.self) } }

    /// The attributes after a family header of `headerSize` bytes (padded to 4).
    func attributes(after headerSize: Int) -> [NetlinkAttribute] {
        let start = payload.startIndex + ((headerSize + 3) & ~3)
        guard start <= payload.endIndex else { return [] }
        return NetlinkAttribute.parse(payload[start...])
    }
}

/// A malformed message from the kernel (shorter than its family header).
func malformed(_ what: String, _ payload: ArraySlice<UInt8>) -> KernelError {
    KernelError(operation: "parse", object: what, errno: .invalidArgument, detail: "message payload of \(payload.count) bytes is too short")
}
