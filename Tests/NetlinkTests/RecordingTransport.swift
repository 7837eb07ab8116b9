import Netns

/// A `NetlinkTransport` that records every datagram and answers without a kernel: each
/// message gets the ack `respond` decides (success by default), dumps return canned messages.
final class RecordingTransport: NetlinkTransport, @unchecked Sendable {
    struct State {
        var sequence: UInt32 = 0
        var datagrams: [[UInt8]] = []
        var dumps: [[NetlinkMessage]] = []
        /// Messages seen so far (over all datagrams), for `respond`.
        var messageCount = 0
    }

    let namespace: String?
    let portID: UInt32 = 4242
    private let state = Locked(State())
    /// errno (0 = success) and extended-ack text for the n-th message sent (0-based).
    private let respond: @Sendable (_ index: Int, _ type: UInt16) -> (Int32, String?)

    init(namespace: String? = "test-ns", respond: @escaping @Sendable (Int, UInt16) -> (Int32, String?) = { _, _ in (0, nil) }) {
        self.namespace = namespace
        self.respond = respond
    }

    /// Every datagram sent, in order.
    var datagrams: [[UInt8]] { state.withLock { $0.datagrams } }

    /// Queues the answer to the next `dump`.
    func enqueueDump(_ messages: [NetlinkMessage]) { state.withLock { $0.dumps.append(messages) } }

    func nextSequence() -> UInt32 {
        state.withLock { s in
            s.sequence += 1
            return s.sequence
        }
    }

    func transact(_ request: [UInt8], expectedReplies: Int) throws -> [NetlinkReply] {
        var headers: [NetlinkSocket.Header] = []
        try NetlinkSocket.parse(request[...]) { header, _ in headers.append(header) }
        let first = state.withLock { s in
            s.datagrams.append(request)
            defer { s.messageCount += headers.count }
            return s.messageCount
        }
        return headers.enumerated().map { offset, header in
            let (code, message) = respond(first + offset, header.type)
            return NetlinkReply(sequence: header.sequence, errno: code, message: message)
        }
    }

    /// Like the real socket: a get or a change with `NLM_F_ECHO` that `respond` fails ends in a
    /// `KernelError` for the "dump"; otherwise the queued messages come back.
    func dump(_ request: [UInt8]) throws -> [NetlinkMessage] {
        var type: UInt16 = 0
        try NetlinkSocket.parse(request[...]) { header, _ in type = header.type }
        let index = state.withLock { s in
            s.datagrams.append(request)
            defer { s.messageCount += 1 }
            return s.messageCount
        }
        let (code, message) = respond(index, type)
        if code != 0 {
            throw KernelError(operation: "dump", object: "netlink(route)", namespace: namespace, errno: Errno(code), detail: message)
        }
        return state.withLock { s in s.dumps.isEmpty ? [] : s.dumps.removeFirst() }
    }
}

/// Lowercase hex of `bytes`, no separators.
func hex(_ bytes: [UInt8]) -> String {
    bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

/// Golden bytes written as annotated lines: spaces are only for reading.
func golden(_ lines: String...) -> String {
    lines.joined().filter { $0 != " " }
}
