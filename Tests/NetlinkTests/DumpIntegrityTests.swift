import Foundation
import KernelTestSupport
import Netlink
import Netns
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Replies are matched to their request by sequence number and port id: a late ack or a dump
/// running on another thread never mixes into a dump's result.
@Suite("Netlink dumps and acks do not mix", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct DumpIntegrityTests {
    /// Two `lo up` requests in one datagram, each acknowledged.
    static func twoAckedRequests(_ socket: NetlinkSocket) throws -> [UInt8] {
        var first = try NetlinkRequest.setLink(.name("lo"), LinkChanges(up: true))
        var second = first
        first.sequence = socket.nextSequence()
        second.sequence = socket.nextSequence()
        return first.bytes + second.bytes
    }

    @Test("an ack nobody read is dropped by the next dump and the next transaction, not taken for their answer")
    func staleAcks() throws {
        try KernelTest.withNamespacesSync(1, prefix: "pldump") { namespaces in
            let socket = try namespaces[0].openSocket(.route)
            let netlink = RouteNetlink(transport: socket)
            try netlink.createBridge(name: "br0", mtu: nil, up: false)
            // Two acks come back; reading one leaves the other queued.
            #expect(try socket.transact(try Self.twoAckedRequests(socket), expectedReplies: 1).count == 1)
            #expect(try netlink.links().map(\.name).sorted() == ["br0", "lo"], "the dump is the dump's, not the stale ack")

            #expect(try socket.transact(try Self.twoAckedRequests(socket), expectedReplies: 1).count == 1)
            try netlink.perform(batch: [try .setLink(.name("br0"), LinkChanges(up: true)), try .setLink(.name("br0"), LinkChanges(mtu: 1400))])
            let br0 = try netlink.link(named: "br0")
            #expect(br0.isUp && br0.mtu == 1400)
        }
    }

    @Test("two threads dumping on one socket while a third changes links: every dump is whole and its own")
    func concurrentDumps() async throws {
        try await KernelTest.withNamespaces(1, prefix: "pldump") { namespaces in
            let socket = try namespaces[0].openSocket(.route)
            let netlink = RouteNetlink(transport: socket)
            for index in 0..<20 { try netlink.createBridge(name: "keep\(index)", mtu: nil, up: false) }
            let kept = Set((0..<20).map { "keep\($0)" } + ["lo"])
            let writer = try namespaces[0].openSocket(.route)
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        var bad = 0
                        for _ in 0..<200 {
                            let names = Set(try netlink.links().map(\.name))
                            // Transient links come and go; the kept ones are always there, each once.
                            if !kept.isSubset(of: names) || names.contains(where: { !$0.hasPrefix("keep") && !$0.hasPrefix("tmp") && $0 != "lo" }) { bad += 1 }
                        }
                        return bad
                    }
                }
                group.addTask {
                    let changer = RouteNetlink(transport: writer)
                    for round in 0..<100 {
                        let name = "tmp\(round % 5)"
                        try changer.createBridge(name: name, mtu: nil, up: false)
                        try changer.deleteLink(.name(name))
                    }
                    return 0
                }
                var bad = 0
                for try await count in group { bad += count }
                #expect(bad == 0, "dumps that were not whole or not their own: \(bad)")
            }
        }
    }
}
