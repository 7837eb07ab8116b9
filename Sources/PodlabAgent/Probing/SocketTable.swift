#if canImport(Glibc)
import Glibc
#endif
import Netns
import PodNet

/// Asks a pod's kernel, through sock_diag (`NETLINK_SOCK_DIAG`, what `ss` uses), whether it holds
/// given TCP connections: each looked up by its four addresses and ports, the way an arriving
/// packet finds its socket, from a netlink socket opened inside the pod's network namespace (a
/// netlink socket answers for the namespace it was created in). Reading changes nothing.
///
/// Lookups, not a dump: the kernel's established-connection hash is one table for every
/// namespace, so a dump of one pod's sockets walks the whole machine's (measured: 28 % of the
/// agent's time with 100 pods); a lookup is one hash probe.
enum SocketTable {
    /// `SOCK_DIAG_BY_FAMILY` (linux/sock_diag.h).
    static let SOCK_DIAG_BY_FAMILY: UInt16 = 20
    /// `NLM_F_REQUEST` (linux/netlink.h).
    static let NLM_F_REQUEST: UInt16 = 0x1
    /// Every TCP state: established, half-open (SYN_RECV), closing ones.
    static let allStates: UInt32 = 0xFFFF_FFFF
    /// `INET_DIAG_NOCOOKIE`: the socket is named by its addresses only.
    static let noCookie: UInt32 = 0xFFFF_FFFF
    /// `struct inet_diag_msg` (linux/inet_diag.h): 4 bytes, the 48-byte `inet_diag_sockid`, 5 × u32.
    static let messageSize = 72
    /// Requests per datagram (72 bytes each).
    static let requestsPerSend = 512

    /// For each of `connections` (local end in the pod, remote end), whether the pod whose
    /// network namespace is `netns` holds exactly that connection.
    static func holds(netns: String, _ connections: [(local: SocketEndpoint, remote: SocketEndpoint)]) throws -> [Bool] {
        let socket = try NetworkNamespace(unchecked: netns).openSocket(.sockDiag)
        let fd = socket.fileDescriptor
        var held = Array(repeating: false, count: connections.count)
        let first = socket.nextSequence()
        var start = 0
        while start < connections.count {
            let end = min(connections.count, start + requestsPerSend)
            var datagram: [UInt8] = []
            for index in start..<end {
                datagram += request(sequence: first &+ UInt32(index), local: connections[index].local, remote: connections[index].remote)
            }
            let sent = datagram.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            guard sent == datagram.count else { throw SocketTableError(netns: netns, operation: "send", code: sent < 0 ? errno : EMSGSIZE) }
            // One answer per request: the socket (SOCK_DIAG_BY_FAMILY) or an error (ENOENT).
            var answered = 0
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while answered < end - start {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count < 0 {
                    if errno == EINTR { continue }
                    throw SocketTableError(netns: netns, operation: "recv", code: errno)
                }
                for answer in answers(buffer[0..<count]) {
                    let index = Int(answer.sequence &- first)
                    guard (start..<end).contains(index) else { continue }  // not an answer to these requests
                    answered += 1
                    if answer.type == SOCK_DIAG_BY_FAMILY, let found = connection(answer.payload) {
                        // An unmatched lookup may find the listener on the local end: only the
                        // very connection counts.
                        held[index] = found.local == connections[index].local && found.remote == connections[index].remote
                    }
                }
            }
            start = end
        }
        return held
    }

    /// A lookup of one TCP socket: `struct nlmsghdr` (16 B) and `struct inet_diag_req_v2` (56 B)
    /// whose `inet_diag_sockid` names the socket's local end (source) and remote end
    /// (destination), ports and addresses big endian, no interface, no cookie.
    static func request(sequence: UInt32, local: SocketEndpoint, remote: SocketEndpoint) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(72)
        func u16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        func be16(_ value: UInt16) { bytes += [UInt8(value >> 8), UInt8(value & 0xFF)] }
        func be32(_ value: UInt32) { bytes += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
        // struct nlmsghdr (16 B): length, type, flags, sequence, port id (0: the kernel's)
        u32(16 + 56)
        u16(SOCK_DIAG_BY_FAMILY)
        u16(NLM_F_REQUEST)
        u32(sequence)
        u32(0)
        // struct inet_diag_req_v2 (56 B): family, protocol, extensions, pad, states
        bytes += [UInt8(AF_INET), UInt8(IPPROTO_TCP), 0, 0]
        u32(allStates)
        // struct inet_diag_sockid (48 B): sport, dport, src[4], dst[4], if, cookie[2]
        be16(local.port)
        be16(remote.port)
        be32(local.address.value)
        bytes += [UInt8](repeating: 0, count: 12)
        be32(remote.address.value)
        bytes += [UInt8](repeating: 0, count: 12)
        u32(0)
        u32(noCookie)
        u32(noCookie)
        return bytes
    }

    /// The netlink messages of one received datagram: type, sequence, payload.
    static func answers(_ bytes: ArraySlice<UInt8>) -> [(type: UInt16, sequence: UInt32, payload: [UInt8])] {
        var result: [(UInt16, UInt32, [UInt8])] = []
        var offset = bytes.startIndex
        func u32(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
        }
        while offset + 16 <= bytes.endIndex {
            let length = Int(u32(offset))
            guard length >= 16, offset + length <= bytes.endIndex else { break }
            let type = UInt16(bytes[offset + 4]) | UInt16(bytes[offset + 5]) << 8
            result.append((type, u32(offset + 8), Array(bytes[(offset + 16)..<(offset + length)])))
            offset += (length + 3) & ~3  // NLMSG_ALIGN
        }
        return result
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

/// A sock_diag exchange that failed.
struct SocketTableError: Error, CustomStringConvertible {
    var netns: String
    var operation: String
    var code: Int32

    var description: String { "sock_diag \(operation) in \(netns): \(ProbeErrno.describe(code))" }
}
