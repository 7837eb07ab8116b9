#if canImport(Glibc)
import Glibc
#endif
import Netns

/// nftables in one network namespace, through a netfilter netlink socket: applies
/// transactions atomically and lists what the kernel holds.
public struct NFTablesConnection: Sendable {
    public let transport: any NetlinkTransport

    /// Uses an open netfilter socket (or a test double).
    public init(transport: any NetlinkTransport) {
        self.transport = transport
    }

    /// Opens a netfilter socket inside `namespace`.
    public init(namespace: NetworkNamespace) throws {
        self.init(transport: try namespace.openSocket(.netfilter))
    }

    /// Sends the transaction as one batch. The kernel applies all of it or nothing; on failure
    /// this throws a `KernelError` naming the message and object that failed, with the kernel's
    /// extended-ack text. Invalid input throws a `ValidationError` before anything is sent.
    public func apply(_ transaction: Transaction) throws {
        try transaction.validate()
        guard !transaction.isEmpty else { return }
        let batch = transaction.makeBatch(nextSequence: transport.nextSequence)
        defer { batch.deallocate() }
        let replies = try transport.transact(batch.bytes, expectedReplies: batch.messages.count)
        let failures = replies.filter { $0.errno != 0 }
        if let failure = failures.first {
            let message = batch.messages.first { $0.sequence == failure.sequence }
            var detail = failure.message ?? ""
            if failures.count > 1 {
                let others = failures.dropFirst().compactMap { f in batch.messages.first { $0.sequence == f.sequence }?.object }
                detail += (detail.isEmpty ? "" : "; ") + "\(failures.count - 1) more message(s) failed" + (others.isEmpty ? "" : ": " + others.prefix(3).joined(separator: "; "))
            }
            detail += (detail.isEmpty ? "" : "; ") + "the transaction was rolled back, nothing changed"
            throw KernelError(operation: message.map { Kernel.messageName($0.type) } ?? "nfnetlink batch",
                              object: message?.object ?? "batch of \(batch.messages.count) messages",
                              namespace: transport.namespace, errno: Errno(failure.errno), detail: detail)
        }
        guard replies.count == batch.messages.count else {
            throw KernelError(operation: "nfnetlink batch", object: "\(batch.messages.count) messages", namespace: transport.namespace,
                              errno: Errno(EIO), detail: "the kernel acknowledged \(replies.count) of \(batch.messages.count) messages")
        }
    }
}

extension Transaction {
    /// Lowers every operation into netlink messages between BEGIN and END.
    func makeBatch(nextSequence: @escaping () -> UInt32) -> Batch {
        var batch = Batch(nextSequence: nextSequence)
        let ids = SetIDs()
        batch.begin()
        for operation in operations {
            switch operation {
            case .addTable(let t):
                batch.table(Kernel.NFT_MSG_NEWTABLE, t, flags: Kernel.NLM_F_CREATE | Kernel.NLM_F_ACK)
            case .deleteTable(let t):
                batch.table(Kernel.NFT_MSG_DELTABLE, t, flags: Kernel.NLM_F_ACK)
            case .flushTable(let t):
                batch.flushRules(t, chain: nil)
            case .addChain(let c):
                batch.chain(Kernel.NFT_MSG_NEWCHAIN, c, flags: Kernel.NLM_F_CREATE | Kernel.NLM_F_ACK)
            case .deleteChain(let c):
                batch.chain(Kernel.NFT_MSG_DELCHAIN, c, flags: Kernel.NLM_F_ACK)
            case .flushChain(let c):
                batch.flushRules(c.table, chain: c.name)
            case .addRule(let rule):
                let compiled = RuleCompiler.compile(rule.expressions, allocateSetID: ids.next)
                for map in compiled.anonymousMaps {
                    let set = map.set
                    batch.addSet(set, table: rule.table, setID: map.setID, anonymousSize: map.elements.count)
                    batch.elements(Kernel.NFT_MSG_NEWSETELEM, set, table: rule.table, EncodedElement.encode(map.elements, of: set), setID: map.setID)
                }
                batch.addRule(rule, instructions: compiled.instructions)
            case .deleteRule(let table, let chain, let handle):
                batch.deleteRule(table, chain: chain, handle: handle)
            case .addSet(let s):
                batch.addSet(s, table: s.table, setID: ids.next())
            case .deleteSet(let s):
                batch.deleteSet(s)
            case .flushSet(let s):
                batch.elements(Kernel.NFT_MSG_DELSETELEM, s, table: s.table, [])
            case .addElements(let s, let elements):
                batch.elements(Kernel.NFT_MSG_NEWSETELEM, s, table: s.table, EncodedElement.encode(elements, of: s))
            case .deleteElements(let s, let elements):
                batch.elements(Kernel.NFT_MSG_DELSETELEM, s, table: s.table, EncodedElement.encode(elements, of: s, keysOnly: true))
            }
        }
        batch.end()
        return batch
    }
}

/// Set ids (`NFTA_SET_ID`) for sets created in one batch, so later messages of the same batch
/// can refer to them before the kernel has named them.
final class SetIDs: @unchecked Sendable {
    private var last: UInt32 = 0
    func next() -> UInt32 {
        last += 1
        return last
    }
}
