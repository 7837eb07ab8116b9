import Foundation
import KernelTestSupport
@testable import Netns
import Testing

@Suite("Mount namespaces of pods and containers", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct MountNamespaceTests {
    @Test("a pod's namespace has its files over the host's and its own tmpfs; the host sees neither; removing the file frees it")
    func podNamespace() throws {
        let scratch = try Scratch()
        let hostsBefore = contents("/etc/hosts")
        try "# the pod's\n".write(toFile: scratch.file("etc-hosts"), atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: scratch.file("mem"), withIntermediateDirectories: true)
        let path = scratch.file("ns/pod.mnt")
        try FileManager.default.createDirectory(atPath: scratch.file("ns"), withIntermediateDirectories: true)
        defer { try? NamespaceFile.remove(at: path) }
        try MountNamespace.createPod(MountNamespace.PodSetup(
            path: path, files: [MountNamespace.FileBind(source: scratch.file("etc-hosts"), target: "/etc/hosts")],
            tmpfs: [MountNamespace.Tmpfs(directory: scratch.file("mem"), size: 1 << 20)]))
        #expect(NamespaceFile.isBound(path))
        // The host has the namespace file only (bound on its own private bind), no tmpfs.
        #expect(Set(KernelTest.mountPoints(under: scratch.path)) == [path])

        let out = scratch.file("out")
        let child = try Spawner.spawn(SpawnRequest(executable: "/bin/sh", arguments: ["-c", "cat /etc/hosts; grep ' \(scratch.file("mem")) ' /proc/self/mounts"],
                                                   stdout: .file(out), mountNamespace: path))
        #expect(try child.wait() == .exited(0))
        #expect(KernelTest.readWholeFile(out).hasPrefix("# the pod's\ntmpfs \(scratch.file("mem")) tmpfs rw,relatime,size=1024k"), "\(contents(out))")
        #expect(contents("/etc/hosts") == hostsBefore)

        // The same path again: EEXIST, and the existing namespace stays.
        #expect { try MountNamespace.createPod(MountNamespace.PodSetup(path: path)) } throws: { Errno.fileExists ~= $0 }
        #expect(NamespaceFile.isBound(path))

        try NamespaceFile.remove(at: path)
        #expect(KernelTest.mountPoints(under: scratch.path).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test("a container's mounts: a missing top-level mount point gets a root of its own, a deeper one covers its parent; nothing reaches the host")
    func containerMounts() throws {
        let scratch = try Scratch()
        let pod = scratch.file("pod.mnt")
        defer { try? NamespaceFile.remove(at: pod) }
        try MountNamespace.createPod(MountNamespace.PodSetup(path: pod))
        for directory in ["volume", "host", "existing/kept", "root"] {
            try FileManager.default.createDirectory(atPath: scratch.file(directory), withIntermediateDirectories: true)
        }
        let top = "/plt-" + KernelTest.uniqueName("m")
        let deep = scratch.file("existing/deep/er")
        let out = scratch.file("out")
        let script = """
            echo a > \(top)/f; echo b > \(deep)/g; ls \(scratch.file("existing")); \
            echo c > \(top)/ro/h 2>/dev/null || echo refused; readlink /proc/self/ns/mnt
            """
        let child = try Spawner.spawn(SpawnRequest(
            executable: "/bin/sh", arguments: ["-c", script], stdout: .file(out), mountNamespace: pod,
            mounts: MountNamespace.ContainerSetup(mounts: [
                MountNamespace.Mount(source: .pod(scratch.file("volume")), target: top),
                MountNamespace.Mount(source: .host(scratch.file("host")), target: deep),
                MountNamespace.Mount(source: .pod(scratch.file("volume")), subPath: "sub/dir", target: top + "/ro", readOnly: true),
            ], scratchDirectory: scratch.file("root"))))
        #expect(try child.wait() == .exited(0))
        let lines = contents(out).split(separator: "\n").map(String.init)
        #expect(lines.dropLast() == ["deep", "kept", "refused"], "\(lines)")
        #expect(lines.last != "mnt:[\(Self.inode("/proc/self/ns/mnt"))]", "the child has a namespace of its own")
        #expect(contents(scratch.file("volume/f")) == "a\n")
        #expect(contents(scratch.file("host/g")) == "b\n")
        #expect(FileManager.default.fileExists(atPath: scratch.file("volume/sub/dir")), "the subpath was made in the volume")
        // The host's file system is as it was: no mount point made, no mount left.
        #expect(!FileManager.default.fileExists(atPath: top))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.file("existing")) == ["kept"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.file("root")).isEmpty)
        #expect(Set(KernelTest.mountPoints(under: scratch.path)) == [pod])
        // The worker came home to its working directory and mount namespace. Looked at from a job
        // of its own: other tests share the worker, and one of their jobs may be under way (in
        // another namespace) at any moment; between jobs it is always home.
        let (directory, namespace) = try NamespaceWorker.shared.sync {
            ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self/cwd")), Self.inode("/proc/thread-self/ns/mnt"))
        }
        #expect(directory == FileManager.default.currentDirectoryPath)
        #expect(namespace == Self.inode("/proc/self/ns/mnt"))
    }

    @Test("a subPath that leads out of its volume through a symbolic link is refused")
    func subPathEscape() throws {
        let scratch = try Scratch()
        try FileManager.default.createDirectory(atPath: scratch.file("volume"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: scratch.file("root"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: scratch.file("volume/out"), withDestinationPath: "/etc")
        let error = #expect(throws: KernelError.self) {
            try Spawner.spawn(SpawnRequest(executable: "true", mounts: MountNamespace.ContainerSetup(mounts: [
                MountNamespace.Mount(source: .host(scratch.file("volume")), subPath: "out", target: scratch.file("root")),
            ], scratchDirectory: scratch.file("root"))))
        }
        #expect(error?.description.contains("outside the volume") == true, "\(String(describing: error))")
    }

    @Test("mountinfo lines: the mount point unescaped, the file system type after the separator, the super block's options")
    func mountTable() {
        let text = """
            22 27 0:21 / /proc rw,relatime shared:5 - proc proc rw
            46 45 0:4 net:[4026532174] /run/netns/a\\040b rw shared:2 - nsfs nsfs rw
            54 27 0:4 uts:[4026532846] /tmp/x/ns/u.uts rw - nsfs nsfs rw
            31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:12 - cgroup cgroup rw,cpu,cpuacct
            """
        #expect(MountTable.parse(text) == [
            MountTable.Entry(mountPoint: "/proc", fileSystemType: "proc", superOptions: ["rw"]),
            MountTable.Entry(mountPoint: "/run/netns/a b", fileSystemType: "nsfs", superOptions: ["rw"]),
            MountTable.Entry(mountPoint: "/tmp/x/ns/u.uts", fileSystemType: "nsfs", superOptions: ["rw"]),
            MountTable.Entry(mountPoint: "/sys/fs/cgroup/cpu,cpuacct", fileSystemType: "cgroup", superOptions: ["rw", "cpu", "cpuacct"]),
        ])
    }

    static func inode(_ path: String) -> UInt64 {
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(info.st_ino) : 0
    }
}
