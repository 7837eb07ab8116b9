#if canImport(Glibc)
import Glibc
#endif
import Netns

extension RouteNetlink {
    /// Sends several requests in one datagram (one `sendmsg`), each with its own sequence number
    /// and acknowledgement. The kernel handles them in order and does not stop at a failure:
    /// later messages still apply. The error thrown is the first failed message's, with its
    /// position in the batch and the other failures in `detail`.
    public func perform(batch requests: [NetlinkRequest]) throws {
        let outcomes = try performIndividually(batch: requests)
        let failures = outcomes.enumerated().compactMap { position, error in error.map { (position, $0) } }
        guard let (position, first) = failures.first else { return }
        guard requests.count > 1 else { throw first }
        var note = "message \(position + 1) of \(requests.count) in one batch"
        if failures.count > 1 {
            let others = failures.dropFirst().map { "\($0.0 + 1) (\($0.1.operation) \($0.1.object): \($0.1.errno.name))" }
            note += "; also failed: message \(others.joined(separator: ", "))"
        }
        var error = first
        error.detail = [first.detail, note].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "; ")
        throw error
    }

    /// Sends the requests in one datagram like `perform(batch:)`, and returns one entry per
    /// request: nil when it succeeded, else its error. Throws only when the exchange itself fails.
    /// Teardown uses it to ignore entries that are already gone.
    public func performIndividually(batch requests: [NetlinkRequest]) throws -> [KernelError?] {
        guard !requests.isEmpty else { return [] }
        var datagram: [UInt8] = []
        datagram.reserveCapacity(requests.reduce(0) { $0 + $1.bytes.count })
        var positions: [UInt32: Int] = [:]
        for (position, var request) in requests.enumerated() {
            let sequence = transport.nextSequence()
            request.sequence = sequence
            positions[sequence] = position
            datagram += request.bytes
        }
        let replies = try transport.transact(datagram, expectedReplies: requests.count)

        var outcomes = [KernelError?](repeating: nil, count: requests.count)
        var acknowledged = [Bool](repeating: false, count: requests.count)
        for reply in replies {
            guard let position = positions[reply.sequence] else { continue }
            acknowledged[position] = true
            if reply.errno != 0 {
                let request = requests[position]
                outcomes[position] = KernelError(operation: request.operation, object: request.object, namespace: namespace,
                                                 errno: Errno(reply.errno), detail: reply.message)
            }
        }
        for position in requests.indices where !acknowledged[position] {
            let request = requests[position]
            outcomes[position] = KernelError(operation: request.operation, object: request.object, namespace: namespace,
                                             errno: Errno(EIO), detail: "the kernel did not acknowledge the request")
        }
        return outcomes
    }
}
