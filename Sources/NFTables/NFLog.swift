#if canImport(Glibc)
import Glibc
#endif
import Netns

/// A packet a `log group N` rule copied to userspace (nfnetlink_log, `NFULNL_MSG_PACKET`).
public struct NFLogPacket: Hashable, Sendable {
    /// The rule's log prefix.
    public var prefix: String
    /// The packet's mark when it was logged.
    public var mark: UInt32
    /// The network header on, cut to the copy range.
    public var payload: [UInt8]

    public init(prefix: String, mark: UInt32, payload: [UInt8]) {
        self.prefix = prefix
        self.mark = mark
        self.payload = payload
    }
}

/// Listens to one nflog group of a network namespace: the socket is opened there (on the
/// namespace worker), bound to the group with `NFULNL_MSG_CONFIG` and set to copy the first
/// `copyBytes` of each packet. One listener per group and namespace: the kernel refuses a second
/// bind (EBUSY) while this one is open.
public final class NFLogListener: @unchecked Sendable {
    public let group: UInt16
    private let socket: NetlinkSocket
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)

    // linux/netfilter/nfnetlink.h, nfnetlink_log.h
    static let NFNL_SUBSYS_ULOG: UInt16 = 4
    static let NFULNL_MSG_PACKET: UInt16 = 0
    static let NFULNL_MSG_CONFIG: UInt16 = 1
    static let NFULA_CFG_CMD: UInt16 = 1
    static let NFULA_CFG_MODE: UInt16 = 2
    static let NFULNL_CFG_CMD_BIND: UInt8 = 1
    static let NFULNL_COPY_PACKET: UInt8 = 2
    static let NFULA_MARK: UInt16 = 2
    static let NFULA_PAYLOAD: UInt16 = 9
    static let NFULA_PREFIX: UInt16 = 10

    public init(namespace: NetworkNamespace, group: UInt16, copyBytes: UInt32 = 128) throws {
        self.group = group
        socket = try namespace.openSocket(.netfilter)
        var request: [UInt8] = []
        // struct nfulnl_msg_config_cmd { __u8 command; }
        request += Self.configMessage(group: group, sequence: socket.nextSequence(), attribute: Self.NFULA_CFG_CMD, value: [Self.NFULNL_CFG_CMD_BIND])
        // struct nfulnl_msg_config_mode { __be32 copy_range; __u8 copy_mode; __u8 _pad; }
        let range = copyBytes.bigEndian
        let mode = withUnsafeBytes(of: range) { Array($0) } + [Self.NFULNL_COPY_PACKET, 0]
        request += Self.configMessage(group: group, sequence: socket.nextSequence(), attribute: Self.NFULA_CFG_MODE, value: mode)
        let replies = try socket.transact(request, expectedReplies: 2)
        if let failure = replies.first(where: { $0.errno != 0 }) {
            throw KernelError(operation: "NFULNL_MSG_CONFIG", object: "nflog group \(group)", namespace: namespace.name, errno: Errno(failure.errno),
                              detail: failure.message)
        }
    }

    /// One `NFULNL_MSG_CONFIG` request (acked) for `group` with one attribute.
    static func configMessage(group: UInt16, sequence: UInt32, attribute: UInt16, value: [UInt8]) -> [UInt8] {
        var attr: [UInt8] = []
        appendU16(&attr, UInt16(4 + value.count))
        appendU16(&attr, attribute)
        attr += value
        while attr.count % 4 != 0 { attr.append(0) }
        var message: [UInt8] = []
        // struct nlmsghdr (16 B)
        appendU32(&message, UInt32(16 + 4 + attr.count))
        appendU16(&message, NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_CONFIG)
        appendU16(&message, Kernel.NLM_F_REQUEST | Kernel.NLM_F_ACK)
        appendU32(&message, sequence)
        appendU32(&message, 0)
        // struct nfgenmsg (4 B): family, version, res_id (the group, big-endian)
        message += [UInt8(AF_UNSPEC), 0, UInt8(group >> 8), UInt8(group & 0xff)]
        return message + attr
    }

    private static func appendU16(_ bytes: inout [UInt8], _ value: UInt16) { withUnsafeBytes(of: value) { bytes += $0 } }
    private static func appendU32(_ bytes: inout [UInt8], _ value: UInt32) { withUnsafeBytes(of: value) { bytes += $0 } }

    /// The packets logged since the last call, waiting up to `timeoutMilliseconds` for the first.
    /// Empty when none came. The kernel drops what does not fit the socket's buffer (ENOBUFS, then
    /// reading goes on).
    public func receive(timeoutMilliseconds: Int32) throws -> [NFLogPacket] {
        let fd = socket.fileDescriptor
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&entry, 1, timeoutMilliseconds)
        guard ready > 0 else { return [] }
        var packets: [NFLogPacket] = []
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count < 0 {
                let code = Errno.current
                if code == .interrupted || code == .noBufferSpace { continue }
                if code == .resourceTemporarilyUnavailable { break }
                throw KernelError(operation: "recv", object: "nflog group \(group)", namespace: socket.namespace, errno: code)
            }
            packets += Self.packets(in: buffer[0..<count])
        }
        return packets
    }

    /// The `NFULNL_MSG_PACKET` messages of one datagram.
    static func packets(in datagram: ArraySlice<UInt8>) -> [NFLogPacket] {
        var packets: [NFLogPacket] = []
        try? NetlinkSocket.parse(datagram) { header, payload in
            guard header.type == NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_PACKET, payload.count >= 4 else { return }
            var packet = NFLogPacket(prefix: "", mark: 0, payload: [])
            for attribute in NetlinkAttribute.parse(payload.dropFirst(4)) {
                switch attribute.type {
                case NFULA_PREFIX: packet.prefix = attribute.string
                case NFULA_MARK: packet.mark = UInt32(bigEndian: attribute.u32 ?? 0)
                case NFULA_PAYLOAD: packet.payload = attribute.bytes
                default: break
                }
            }
            packets.append(packet)
        }
        return packets
    }
}
