import Foundation
import KernelTestSupport
import Netns
import Testing

@Suite("Network namespaces", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct NetworkNamespaceTests {
    @Test("create makes a namespace that ip netns sees; delete removes it")
    func createListDelete() throws {
        let name = KernelTest.uniqueName("pltns")
        defer { try? NetworkNamespace.delete(name, ignoreMissing: true) }
        let ns = try NetworkNamespace.create(name)
        #expect(try NetworkNamespace.list().contains(name))
        #expect(try Command.check("ip", ["netns", "list"]).contains(name))
        // The namespace is a fresh one: only lo, and it is down.
        let links = try Command.ipJSON(name, ["link"])
        #expect(links.map { $0["ifname"] as? String } == ["lo"])
        #expect(try ns.inode() != NetworkNamespace(unchecked: "x").inode2OrZero())
        try NetworkNamespace.delete(name)
        #expect(!NetworkNamespace.exists(name))
        #expect(try !Command.check("ip", ["netns", "list"]).contains(name))
    }

    @Test("creating an existing name fails with EEXIST and leaves the namespace alone")
    func duplicate() throws {
        try KernelTest.withNamespacesSync(1) { namespaces in
            let name = namespaces[0].name
            let inode = try namespaces[0].inode()
            #expect {
                try NetworkNamespace.create(name)
            } throws: { error in
                Errno.fileExists ~= error && "\(error)".contains("already exists")
            }
            #expect(try NetworkNamespace.open(name).inode() == inode)
        }
    }

    @Test("deleting or opening a missing namespace fails with ENOENT")
    func missing() throws {
        let name = KernelTest.uniqueName("pltmiss")
        #expect { try NetworkNamespace.delete(name) } throws: { Errno.noSuchFileOrDirectory ~= $0 }
        #expect { try NetworkNamespace.open(name) } throws: { Errno.noSuchFileOrDirectory ~= $0 }
        try NetworkNamespace.delete(name, ignoreMissing: true)
    }

    @Test("bad names are refused before anything is created",
          arguments: ["", "a/b", "has space", ".hidden", "-dash", String(repeating: "x", count: 65), "ünïcode"])
    func badNames(name: String) throws {
        #expect(throws: ValidationError.self) { try NetworkNamespace.create(name) }
        // Nothing was made under that name (other tests create namespaces in parallel, so only
        // this name is checked, not the whole list).
        #expect(!(try NetworkNamespace.list().contains(name)))
        if !name.isEmpty {
            #expect(!FileManager.default.fileExists(atPath: NetworkNamespace.runDirectory + "/" + name))
        }
    }

    @Test("a socket opened in a namespace sees that namespace's links")
    func socketInNamespace() throws {
        try KernelTest.withNamespacesSync(1) { namespaces in
            let socket = try namespaces[0].openSocket(.route)
            #expect(socket.namespace == namespaces[0].name)
            // Dump links through the raw transport: a fresh namespace has exactly lo (ifindex 1).
            var request = [UInt8](repeating: 0, count: 32)
            let seq = socket.nextSequence()
            withUnsafeBytes(of: UInt32(32).littleEndian) { request.replaceSubrange(0..<4, with: $0) }
            withUnsafeBytes(of: UInt16(18).littleEndian) { request.replaceSubrange(4..<6, with: $0) } // RTM_GETLINK
            withUnsafeBytes(of: UInt16(0x301).littleEndian) { request.replaceSubrange(6..<8, with: $0) } // REQUEST|DUMP
            withUnsafeBytes(of: seq.littleEndian) { request.replaceSubrange(8..<12, with: $0) }
            let messages = try socket.dump(request)
            #expect(messages.count == 1)
        }
    }
}

extension NetworkNamespace {
    /// The inode of the caller's own namespace, for comparison.
    func inode2OrZero() throws -> UInt64 {
        var info = stat()
        return stat("/proc/self/ns/net", &info) == 0 ? UInt64(info.st_ino) : 0
    }
}
