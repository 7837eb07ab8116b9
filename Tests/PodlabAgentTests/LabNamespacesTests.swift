import Foundation
import KernelTestSupport
import Netns
@testable import PodlabAgent
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The lab's own namespaces by name and label, against the kernel: what a kill -9 in the middle
/// of a creation leaves, and what another lab owns.
@Suite("Lab namespaces: a creation cut short, and namespaces of others", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired))
struct LabNamespacesTests {
    /// The file `/run/netns/NAME` a creation makes before it binds the namespace on it, as a
    /// process killed in between leaves it: carrying its maker's label (`owner`), or none (a
    /// file made by anyone else, `ip netns add` included).
    static func placeholder(_ name: String, owner: String?) throws -> String {
        let path = "\(NetworkNamespace.runDirectory)/\(name)"
        try FileManager.default.createDirectory(atPath: NetworkNamespace.runDirectory, withIntermediateDirectories: true)
        if let owner {
            try #require(NamespaceMountPoint.make(path, owner: owner) == nil, "creating \(path)")
            try #require(NamespaceMountPoint.owner(of: path) == owner, "the file system of \(NetworkNamespace.runDirectory) keeps no extended attributes")
        } else {
            let fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0)
            try #require(fd >= 0, "creating \(path): \(String(cString: strerror(errno)))")
            close(fd)
        }
        return path
    }

    @Test("a namespace file the lab made and left unbound is deleted, and its name can be made again")
    func unboundFileIsDeleted() throws {
        let name = KernelTest.uniqueName("pllns")
        let namespaces = LabNamespaces(label: "lab-\(name)")
        defer { try? NetworkNamespace.delete(name, ignoreMissing: true) }
        let path = try Self.placeholder(name, owner: namespaces.label)
        #expect(LabNamespaces.isUnboundMountPoint(name))
        // It cannot be entered: reading its label fails, as it did for an agent adopting the pod.
        #expect(throws: KernelError.self) { _ = try LabNamespaces.label(of: name) }

        try namespaces.delete(name)
        #expect(access(path, F_OK) != 0, "the file is still there")
        _ = try namespaces.create(name)
        #expect(try LabNamespaces.label(of: name) == "lab-\(name)")
        #expect(!LabNamespaces.isUnboundMountPoint(name))
    }

    @Test("openOrCreate replaces an unbound file the lab made with a labelled namespace")
    func openOrCreateReplacesUnboundFile() throws {
        let name = KernelTest.uniqueName("pllns")
        let namespaces = LabNamespaces(label: "lab-\(name)")
        defer { try? NetworkNamespace.delete(name, ignoreMissing: true) }
        _ = try Self.placeholder(name, owner: namespaces.label)
        let (namespace, netlink) = try namespaces.openOrCreate(name)
        #expect(namespace.name == name)
        #expect(try netlink.link(named: "lo").alias == "lab-\(name)")
        #expect(NamespaceFile.isBound(namespace.path))
    }

    @Test("an unbound file without the lab's label (none, or another lab's) is left as it is", arguments: [nil, "another lab"])
    func othersUnboundFilesAreLeftAlone(owner: String?) throws {
        let name = KernelTest.uniqueName("pllns")
        let namespaces = LabNamespaces(label: "lab-\(name)")
        defer { try? NetworkNamespace.delete(name, ignoreMissing: true) }
        let path = try Self.placeholder(name, owner: owner)
        #expect(throws: LabNamespaces.NotOwned.self) { try namespaces.delete(name) }
        #expect(throws: LabNamespaces.NotOwned.self) { _ = try namespaces.openOrCreate(name) }
        var info = stat()
        #expect(lstat(path, &info) == 0 && info.st_size == 0 && !NamespaceFile.isBound(path))
    }

    @Test("a namespace made by the lab: its file carried the label until the namespace was bound on it")
    func madeFilesCarryTheLabel() throws {
        let name = KernelTest.uniqueName("pllns")
        let namespaces = LabNamespaces(label: "lab-\(name)")
        defer { try? NetworkNamespace.delete(name, ignoreMissing: true) }
        let (namespace, _) = try namespaces.create(name)
        // Bound: the path is the namespace's file now; unmounted, the file beneath shows the label.
        #expect(NamespaceFile.isBound(namespace.path))
        #expect(umount2(namespace.path, Int32(MNT_DETACH)) == 0)
        #expect(NamespaceMountPoint.owner(of: namespace.path) == namespaces.label)
    }

    @Test("a bound namespace of another label, or of none, is left as it is")
    func othersAreLeftAlone() throws {
        try KernelTest.withNamespacesSync(1, prefix: "pllns") { created in
            let name = created[0].name
            let namespaces = LabNamespaces(label: "lab-\(name)")
            #expect(!LabNamespaces.isUnboundMountPoint(name))
            #expect(throws: LabNamespaces.NotOwned.self) { try namespaces.delete(name) }
            #expect(throws: LabNamespaces.NotOwned.self) { _ = try namespaces.openOrCreate(name) }
            #expect(NetworkNamespace.exists(name) && NamespaceFile.isBound(created[0].path))
        }
    }
}
