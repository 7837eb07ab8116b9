import CMnl
import Netns
#if canImport(Glibc)
import Glibc
#endif

/// A netlink transport that records requests instead of sending them, and answers each
/// message that asks for an ack — optionally failing one of them, as the kernel would.
final class RecordingTransport: NetlinkTransport, @unchecked Sendable {
    let namespace: String? = "recorded"
    let portID: UInt32 = 4242
    private var sequence: UInt32 = 1000
    private(set) var requests: [[UInt8]] = []
    /// Fail the n-th acked message (0-based) with this errno and extended-ack text.
    var failure: (index: Int, errno: Int32, message: String?)?
    /// Drop all acks after this many (a kernel that stopped answering).
    var ackLimit: Int?

    func nextSequence() -> UInt32 {
        sequence += 1
        return sequence
    }

    /// The messages of the last request: (type, flags, sequence, payload).
    var lastMessages: [(header: NetlinkSocket.Header, payload: ArraySlice<UInt8>)] {
        guard let request = requests.last else { return [] }
        var result: [(NetlinkSocket.Header, ArraySlice<UInt8>)] = []
        try? NetlinkSocket.parse(request[...]) { header, payload in result.append((header, payload)) }
        return result
    }

    func transact(_ request: [UInt8], expectedReplies: Int) throws -> [NetlinkReply] {
        requests.append(request)
        var replies: [NetlinkReply] = []
        var index = 0
        try NetlinkSocket.parse(request[...]) { header, _ in
            guard header.flags & UInt16(NLM_F_ACK) != 0 else { return }
            if let failure, failure.index == index {
                replies.append(NetlinkReply(sequence: header.sequence, errno: failure.errno, message: failure.message))
            } else {
                replies.append(NetlinkReply(sequence: header.sequence, errno: 0))
            }
            index += 1
        }
        if let ackLimit { replies = Array(replies.prefix(ackLimit)) }
        return replies
    }

    func dump(_ request: [UInt8]) throws -> [NetlinkMessage] {
        requests.append(request)
        return []
    }
}
