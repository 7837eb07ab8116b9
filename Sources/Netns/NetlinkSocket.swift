#if canImport(Glibc)
import Glibc
#endif
import CMnl
import CNetlink

/// Netlink families podlab talks to.
public enum NetlinkBus: Sendable, CustomStringConvertible {
    /// rtnetlink: links, addresses, routes, neighbours.
    case route
    /// nfnetlink: nftables.
    case netfilter
    /// sock_diag: the sockets of a namespace as its kernel holds them (read only).
    case sockDiag

    var family: Int32 {
        switch self {
        case .route: NETLINK_ROUTE
        case .netfilter: NETLINK_NETFILTER
        case .sockDiag: NETLINK_SOCK_DIAG
        }
    }

    /// Spelled out, not reflected: the first reflection of a value in a process (a plain
    /// enum's interpolation falls back to it) scans every protocol conformance of the binary,
    /// 0.3–0.5 ms of a CNI plugin's ADD.
    public var description: String {
        switch self {
        case .route: "route"
        case .netfilter: "netfilter"
        case .sockDiag: "sockDiag"
        }
    }
}

/// One message received from the kernel, copied out of the receive buffer.
public struct NetlinkMessage: Sendable {
    public var type: UInt16
    public var flags: UInt16
    public var sequence: UInt32
    public var portID: UInt32
    /// Everything after the 16-byte `struct nlmsghdr`.
    public var payload: [UInt8]

    public init(type: UInt16, flags: UInt16, sequence: UInt32, portID: UInt32, payload: [UInt8]) {
        self.type = type
        self.flags = flags
        self.sequence = sequence
        self.portID = portID
        self.payload = payload
    }
}

/// The kernel's answer to one request that carried `NLM_F_ACK`.
public struct NetlinkReply: Sendable, Equatable {
    public var sequence: UInt32
    /// 0 for success, else the (positive) errno.
    public var errno: Int32
    /// Extended-ack text (`NLMSGERR_ATTR_MSG`), when the kernel sent one.
    public var message: String?

    public init(sequence: UInt32, errno: Int32, message: String? = nil) {
        self.sequence = sequence
        self.errno = errno
        self.message = message
    }
}

/// What message builders need from a netlink socket. The real `NetlinkSocket` sends to the
/// kernel; tests substitute a recorder and compare the bytes against golden dumps.
public protocol NetlinkTransport: AnyObject, Sendable {
    /// The namespace the socket is bound to, for error messages (nil: the caller's own).
    var namespace: String? { get }
    /// The socket's netlink port id (`nlmsg_pid` of replies).
    var portID: UInt32 { get }
    /// A fresh sequence number for the next message.
    func nextSequence() -> UInt32
    /// Sends `request` (one datagram holding one or more messages) and returns one reply per
    /// message that asked for an ack, in the order the kernel sent them. `expectedReplies` is
    /// how many acks the request asked for.
    func transact(_ request: [UInt8], expectedReplies: Int) throws -> [NetlinkReply]
    /// Sends a dump request and returns every message of the answer, up to `NLMSG_DONE`.
    /// Retries when the kernel flags the dump as interrupted (`NLM_F_DUMP_INTR`).
    func dump(_ request: [UInt8]) throws -> [NetlinkMessage]
}

/// A libmnl netlink socket, bound to the network namespace it was opened in.
///
/// Open one through `NetworkNamespace.openSocket(_:)` (or `NetlinkSocket(bus:)` for the
/// caller's own namespace, which podlab only ever reads). Requests on one socket are
/// serialised; the socket can be used from any thread.
public final class NetlinkSocket: NetlinkTransport, @unchecked Sendable {
    public let bus: NetlinkBus
    /// The namespace's name, for error messages (nil: the caller's own, or not named yet).
    public var namespace: String? { namespaceName.withLock { $0 } }
    private let namespaceName: Locked<String?>
    public let portID: UInt32
    private let handle: OpaquePointer
    private let state = Locked<SocketState>(SocketState())
    private static let receiveSize = 256 * 1024

    struct SocketState {
        var sequence: UInt32 = 0
        /// Where datagrams are received; each is copied out before it is parsed. Left
        /// uninitialised: only what the kernel writes is read, and the pages the kernel never
        /// writes are never touched (zeroing it cost each socket 64 page faults — a CNI plugin
        /// process opens three).
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: NetlinkSocket.receiveSize, alignment: 16)
    }

    /// Opens a socket in the calling thread's network namespace. Other modules use
    /// `NetworkNamespace.openSocket`; this initialiser runs on the namespace worker for them.
    public init(bus: NetlinkBus, namespace: String? = nil) throws {
        let label = "netlink(\(bus))"
        guard let handle = mnl_socket_open2(bus.family, Int32(SOCK_CLOEXEC.rawValue)) else {
            throw KernelError(operation: "socket(AF_NETLINK)", object: label, namespace: namespace, errno: .current)
        }
        if mnl_socket_bind(handle, 0, pid_t(MNL_SOCKET_AUTOPID)) < 0 {
            let code = Errno.current
            mnl_socket_close(handle)
            throw KernelError(operation: "bind", object: label, namespace: namespace, errno: code)
        }
        var one: Int32 = 1
        // Short acks (no copy of the request) with the kernel's explanation attached.
        _ = mnl_socket_setsockopt(handle, NETLINK_CAP_ACK, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = mnl_socket_setsockopt(handle, NETLINK_EXT_ACK, &one, socklen_t(MemoryLayout<Int32>.size))
        // Large batches (nftables sends thousands of elements in one datagram).
        _ = pl_set_socket_buffers(mnl_socket_get_fd(handle), 8 << 20, 8 << 20)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(mnl_socket_get_fd(handle), SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        self.handle = handle
        self.bus = bus
        self.namespaceName = Locked(namespace)
        self.portID = mnl_socket_get_portid(handle)
        state.withLock { $0.sequence = UInt32(truncatingIfNeeded: time(nil)) }
    }

    /// Whether netfilter sockets are closed on a thread of their own (`SocketCloser`): for a
    /// long-running process whose work should not wait for their release. A process about to
    /// exit (a CNI plugin, the CLI) gains nothing from it: its exit closes them with the same wait.
    public static let closesNetfilterSocketsAside = Locked(false)

    deinit {
        // Releasing a netfilter socket can wait an RCU grace period (see `SocketCloser`).
        if case .netfilter = bus, NetlinkSocket.closesNetfilterSocketsAside.withLock({ $0 }) {
            SocketCloser.shared.close(handle)
        } else {
            mnl_socket_close(handle)
        }
        state.withLock { $0.buffer.deallocate() }
    }

    /// Names the namespace once it has a name (a spare namespace gets one when a pod takes it).
    func name(namespace: String) { namespaceName.withLock { $0 = namespace } }

    public var fileDescriptor: Int32 { mnl_socket_get_fd(handle) }

    public func nextSequence() -> UInt32 {
        state.withLock { s in
            s.sequence &+= 1
            return s.sequence
        }
    }

    public func transact(_ request: [UInt8], expectedReplies: Int) throws -> [NetlinkReply] {
        // Only answers to these messages count: an ack left over from an earlier exchange (one
        // the kernel sent after its caller stopped reading) is read and dropped.
        let sequences = NetlinkSocket.sequences(in: request)
        return try state.withLock { s in
            try send(request)
            var replies: [NetlinkReply] = []
            var sawError = false
            var first = true
            while replies.count < expectedReplies {
                // The kernel handles a request inside sendmsg, so its acks are queued by now:
                // after the first datagram, read without blocking. A batch the kernel aborted
                // may carry fewer acks than asked for; an empty queue after an error ends it.
                let received = try receive(into: s.buffer, blocking: first || !sawError)
                first = false
                guard let datagram = received else { break }
                try NetlinkSocket.parse(datagram[...]) { header, payload in
                    guard header.type == UInt16(NLMSG_ERROR), isAnswer(header, to: sequences) else { return }
                    let reply = NetlinkSocket.decodeError(header: header, payload: payload)
                    if reply.errno != 0 { sawError = true }
                    replies.append(reply)
                }
            }
            return replies
        }
    }

    public func dump(_ request: [UInt8]) throws -> [NetlinkMessage] {
        // Parts of this dump carry its sequence number and this socket's port id; anything else
        // in the queue (a late ack, the rest of an earlier dump) is not part of it.
        let sequences = NetlinkSocket.sequences(in: request)
        return try state.withLock { s in
            for _ in 0..<5 {
                try send(request)
                var messages: [NetlinkMessage] = []
                var done = false
                var interrupted = false
                var failure: NetlinkReply?
                while !done {
                    guard let datagram = try receive(into: s.buffer, blocking: true) else { break }
                    try NetlinkSocket.parse(datagram[...]) { header, payload in
                        guard isAnswer(header, to: sequences) else { return }
                        if header.flags & UInt16(NLM_F_DUMP_INTR) != 0 { interrupted = true }
                        switch Int32(header.type) {
                        case NLMSG_DONE:
                            done = true
                            // NLMSG_DONE may carry an error (int) as its payload.
                            if payload.count >= 4 {
                                let code = payload.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
                                if code < 0 { failure = NetlinkReply(sequence: header.sequence, errno: -code) }
                            }
                        case NLMSG_ERROR:
                            done = true
                            failure = NetlinkSocket.decodeError(header: header, payload: payload)
                        case NLMSG_NOOP:
                            break
                        default:
                            messages.append(NetlinkMessage(type: header.type, flags: header.flags, sequence: header.sequence, portID: header.portID, payload: Array(payload)))
                        }
                    }
                }
                if let failure, failure.errno != 0 {
                    throw KernelError(operation: "dump", object: "netlink(\(bus))", namespace: namespace, errno: Errno(failure.errno), detail: failure.message)
                }
                if !interrupted { return messages }
            }
            throw KernelError(operation: "dump", object: "netlink(\(bus))", namespace: namespace, errno: .interrupted, detail: "the dump was interrupted by concurrent changes 5 times")
        }
    }

    /// True when `header` belongs to an answer to one of the messages sent with `sequences`:
    /// the same sequence number, addressed to this socket (the kernel's unicast replies carry
    /// the requester's port id).
    private func isAnswer(_ header: Header, to sequences: Set<UInt32>) -> Bool {
        sequences.contains(header.sequence) && (header.portID == portID || header.portID == 0)
    }

    /// The sequence numbers of the messages in a request datagram.
    static func sequences(in request: [UInt8]) -> Set<UInt32> {
        var result: Set<UInt32> = []
        try? parse(request[...]) { header, _ in result.insert(header.sequence) }
        return result
    }

    private func send(_ request: [UInt8]) throws {
        let sent = request.withUnsafeBytes { mnl_socket_sendto(handle, $0.baseAddress, $0.count) }
        if sent < 0 {
            throw KernelError(operation: "sendto", object: "netlink(\(bus)), \(request.count) bytes", namespace: namespace, errno: .current)
        }
    }

    /// One datagram, received into `buffer` and copied out; nil when non-blocking and nothing is
    /// queued.
    private func receive(into buffer: UnsafeMutableRawBufferPointer, blocking: Bool) throws -> [UInt8]? {
        let fd = mnl_socket_get_fd(handle)
        while true {
            let n = recv(fd, buffer.baseAddress, buffer.count, blocking ? 0 : Int32(MSG_DONTWAIT))
            if n >= 0 { return Array(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) }
            let code = Errno.current
            if code == .interrupted { continue }
            if code == .resourceTemporarilyUnavailable {
                if blocking {
                    throw KernelError(operation: "recv", object: "netlink(\(bus))", namespace: namespace, errno: .timedOut, detail: "no answer from the kernel within 10 s")
                }
                return nil
            }
            throw KernelError(operation: "recv", object: "netlink(\(bus))", namespace: namespace, errno: code)
        }
    }

    /// A parsed `struct nlmsghdr` (16 B).
    public struct Header: Sendable {
        public var length: UInt32
        public var type: UInt16
        public var flags: UInt16
        public var sequence: UInt32
        public var portID: UInt32
    }

    /// Walks the netlink messages in one datagram.
    public static func parse(_ bytes: ArraySlice<UInt8>, _ each: (Header, ArraySlice<UInt8>) throws -> Void) throws {
        var offset = bytes.startIndex
        while bytes.endIndex - offset >= 16 {
            let header = bytes.withUnsafeBytes { raw in
                let base = offset - bytes.startIndex
                return Header(length: raw.loadUnaligned(fromByteOffset: base, as: UInt32.self),
                              type: raw.loadUnaligned(fromByteOffset: base + 4, as: UInt16.self),
                              flags: raw.loadUnaligned(fromByteOffset: base + 6, as: UInt16.self),
                              sequence: raw.loadUnaligned(fromByteOffset: base + 8, as: UInt32.self),
                              portID: raw.loadUnaligned(fromByteOffset: base + 12, as: UInt32.self))
            }
            let length = Int(header.length)
            guard length >= 16, offset + length <= bytes.endIndex else {
                throw KernelError(operation: "parse", object: "netlink message", errno: .invalidArgument, detail: "truncated message (length \(length))")
            }
            try each(header, bytes[(offset + 16)..<(offset + length)])
            offset += (length + 3) & ~3
        }
    }

    /// Decodes an `NLMSG_ERROR` payload: `struct nlmsgerr` (int error + the request's header,
    /// capped) followed, with `NLM_F_ACK_TLVS`, by attributes such as `NLMSGERR_ATTR_MSG`.
    static func decodeError(header: Header, payload: ArraySlice<UInt8>) -> NetlinkReply {
        guard payload.count >= 4 else { return NetlinkReply(sequence: header.sequence, errno: EIO) }
        let code = payload.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
        var message: String?
        if header.flags & UInt16(NLM_F_ACK_TLVS) != 0 {
            // With NLM_F_CAPPED only the request's 16-byte header is echoed.
            var tlvStart = payload.startIndex + 4 + 16
            if header.flags & UInt16(NLM_F_CAPPED) == 0, payload.count >= 20 {
                let originalLength = payload.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: 4, as: UInt32.self)) }
                tlvStart = payload.startIndex + 4 + ((originalLength + 3) & ~3)
            }
            if tlvStart < payload.endIndex {
                for attribute in NetlinkAttribute.parse(payload[tlvStart...]) where attribute.type == UInt16(NLMSGERR_ATTR_MSG.rawValue) {
                    message = attribute.string
                }
            }
        }
        return NetlinkReply(sequence: header.sequence, errno: -code, message: message)
    }
}

/// One netlink attribute (`struct nlattr`: 2 B length, 2 B type, value, padded to 4).
public struct NetlinkAttribute: Sendable {
    /// The type with the `NLA_F_NESTED` / `NLA_F_NET_BYTEORDER` bits cleared.
    public var type: UInt16
    public var isNested: Bool
    public var value: ArraySlice<UInt8>

    /// Parses a run of attributes; stops at the first malformed one.
    public static func parse(_ bytes: ArraySlice<UInt8>) -> [NetlinkAttribute] {
        var result: [NetlinkAttribute] = []
        var offset = bytes.startIndex
        while bytes.endIndex - offset >= 4 {
            let (length, rawType) = bytes.withUnsafeBytes { raw in
                (Int(raw.loadUnaligned(fromByteOffset: offset - bytes.startIndex, as: UInt16.self)),
                 raw.loadUnaligned(fromByteOffset: offset - bytes.startIndex + 2, as: UInt16.self))
            }
            guard length >= 4, offset + length <= bytes.endIndex else { break }
            result.append(NetlinkAttribute(type: rawType & 0x3FFF, isNested: rawType & 0x8000 != 0, value: bytes[(offset + 4)..<(offset + length)]))
            offset += (length + 3) & ~3
        }
        return result
    }

    /// The attributes nested inside this one.
    public var nested: [NetlinkAttribute] { NetlinkAttribute.parse(value) }

    public var u8: UInt8? { value.first }
    public var u16: UInt16? { value.count >= 2 ? value.withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) } : nil }
    public var u32: UInt32? { value.count >= 4 ? value.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } : nil }
    public var u64: UInt64? { value.count >= 8 ? value.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } : nil }
    /// A NUL-terminated string value.
    public var string: String { String(decoding: value.prefix { $0 != 0 }, as: UTF8.self) }
    public var bytes: [UInt8] { Array(value) }
}
