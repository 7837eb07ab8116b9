#if canImport(Glibc)
import Glibc
#endif
import Netns
import PodNet

/// Reads a pod's IPv4 TCP sockets through sock_diag (`NETLINK_SOCK_DIAG`, what `ss` uses): one
/// dump per pod, from a netlink socket opened inside the pod's network namespace (a netlink
/// socket answers for the namespace it was created in). Reading changes nothing.
enum SocketTable {
    /// `SOCK_DIAG_BY_FAMILY` (linux/sock_diag.h).
    static let SOCK_DIAG_BY_FAMILY: UInt16 = 20
    /// `NLM_F_REQUEST` and `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`, linux/netlink.h).
    static let NLM_F_REQUEST: UInt16 = 0x1
    static let NLM_F_DUMP: UInt16 = 0x300
    /// Every TCP state, listeners and half-open (SYN_RECV) connections included.
    static let allStates: UInt32 = 0xFFFF_FFFF
    /// `struct inet_diag_msg` (linux/inet_diag.h): 4 bytes, the 48-byte `inet_diag_sockid`, 5 × u32.
    static let messageSize = 72

    /// The connections (local end, remote end) of the pod whose network namespace is `netns`.
    static func connections(netns: String) throws -> [(local: SocketEndpoint, remote: SocketEndpoint)] {
        let socket = try NetworkNamespace(unchecked: netns).openSocket(.sockDiag)
        let messages = try socket.dump(request(sequence: socket.nextSequence()))
        return messages.compactMap { $0.type == SOCK_DIAG_BY_FAMILY ? connection($0.payload) : nil }
    }

    /// A dump request for every IPv4 TCP socket: `struct nlmsghdr` (16 B) and
    /// `struct inet_diag_req_v2` (56 B) with a zero socket id (no filter).
    static func request(sequence: UInt32) -> [UInt8] {
        var bytes: [UInt8] = []
        func u16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        // struct nlmsghdr (16 B): length, type, flags, sequence, port id (0: the kernel's)
        u32(16 + 56)
        u16(SOCK_DIAG_BY_FAMILY)
        u16(NLM_F_REQUEST | NLM_F_DUMP)
        u32(sequence)
        u32(0)
        // struct inet_diag_req_v2 (56 B): family, protocol, extensions, pad, states, inet_diag_sockid (48 B)
        bytes += [UInt8(AF_INET), UInt8(IPPROTO_TCP), 0, 0]
        u32(allStates)
        bytes += [UInt8](repeating: 0, count: 48)
        return bytes
    }

    /// The local and remote end of one `struct inet_diag_msg`: after family, state, timer and
    /// retransmits, `inet_diag_sockid` holds the source (local) and destination (remote) port,
    /// big endian, then the source and destination addresses (four 32-bit words each; IPv4 in
    /// the first). Nil for anything not IPv4 or too short.
    static func connection(_ payload: [UInt8]) -> (local: SocketEndpoint, remote: SocketEndpoint)? {
        guard payload.count >= messageSize, payload[0] == UInt8(AF_INET) else { return nil }
        func port(_ at: Int) -> UInt16 { UInt16(payload[at]) << 8 | UInt16(payload[at + 1]) }
        func address(_ at: Int) -> IPv4Address {
            IPv4Address(UInt32(payload[at]) << 24 | UInt32(payload[at + 1]) << 16 | UInt32(payload[at + 2]) << 8 | UInt32(payload[at + 3]))
        }
        return (SocketEndpoint(address(8), port(4)), SocketEndpoint(address(24), port(6)))
    }
}
