import Foundation
import KernelTestSupport
import Netns
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A pod whose sandbox cannot be built says why, and the agent builds it again (with back-off)
/// until it can, as the kubelet retries a failed sandbox.
@Suite("A failed sandbox is built again", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct SandboxRetryTests {
    @Test("a taken namespace name: the pod shows FailedCreatePodSandBox, the agent leaves that file alone, and the pod runs once it is gone")
    func retriedUntilItWorks() async throws {
        try await TestLab.with { lab in
            // The test's own file where the pod's namespace must go: creating the sandbox fails with EEXIST.
            let blocker = "\(NetworkNamespace.runDirectory)/\(lab.name)-pod-web"
            let fd = open(blocker, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0)
            try #require(fd >= 0, "cannot create \(blocker): \(Errno.current)")
            close(fd)
            var removed = false
            defer { if !removed { unlink(blocker) } }

            try lab.run(["run", "web", "--image", "podlab/echo"])
            try await lab.eventually("the pod reports the failed sandbox") {
                let status = (try lab.pod("web"))["status"] as? [String: Any] ?? [:]
                return status["reason"] as? String == "FailedCreatePodSandBox"
                    && (status["message"] as? String ?? "").contains("exists")
            }
            let waiting = (try lab.containerStatus("web", "web")["state"] as? [String: Any])?["waiting"] as? [String: Any]
            #expect(waiting?["reason"] as? String == "ContainerCreating")

            // A retry or two later the file is still the test's: a failed attempt removes only what it made.
            try await Task.sleep(for: .seconds(2))
            var info = stat()
            #expect(lstat(blocker, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && info.st_size == 0)
            #expect(try lab.run(["get", "pod", "web"]).stdout.contains("ContainerCreating"))

            unlink(blocker)
            removed = true
            try await lab.eventually("the pod runs once the name is free", timeout: .seconds(45)) {
                ((try lab.pod("web"))["status"] as? [String: Any])?["phase"] as? String == "Running"
            }
            let status = (try lab.pod("web"))["status"] as? [String: Any] ?? [:]
            #expect(status["reason"] == nil && status["message"] == nil)
            #expect(NetworkNamespace.exists("\(lab.name)-pod-web"))
            try lab.run(["delete", "pod", "web", "--grace-period", "1"])
        }
    }
}

/// The agent keeps one network namespace ready for the next pod, held only by a descriptor.
@Suite("The spare network namespace", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct SpareNamespaceE2ETests {
    /// Inodes of the network namespaces the agent holds open that are not the host's and not
    /// bound under /run/netns: its spare.
    static func spareInodes(agent pid: Int32) -> Set<UInt64> {
        var host = stat()
        stat("/proc/self/ns/net", &host)
        var bound = Set<UInt64>()
        for name in (try? NetworkNamespace.list()) ?? [] {
            if let inode = try? NetworkNamespace.open(name).inode() { bound.insert(inode) }
        }
        var result = Set<UInt64>()
        for fd in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? [] {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                  target.hasPrefix("net:["), let inode = UInt64(target.dropFirst(5).dropLast()) else { continue }
            if inode != UInt64(host.st_ino) && !bound.contains(inode) { result.insert(inode) }
        }
        return result
    }

    @Test("a new pod gets the spare made before it, and another spare follows")
    func podTakesTheSpare() async throws {
        try await TestLab.with { lab in
            let pid = try #require(lab.agentPID)
            var spare: UInt64 = 0
            try await lab.eventually("the agent holds a spare namespace") {
                let spares = Self.spareInodes(agent: pid)
                spare = spares.first ?? 0
                return spares.count == 1
            }
            try lab.run(["run", "web", "--image", "podlab/echo"])
            try await lab.eventually("web runs") {
                ((try lab.pod("web"))["status"] as? [String: Any])?["phase"] as? String == "Running"
            }
            #expect(try NetworkNamespace.open("\(lab.name)-pod-web").inode() == spare)
            try await lab.eventually("a new spare is ready") {
                let spares = Self.spareInodes(agent: pid)
                return spares.count == 1 && !spares.contains(spare)
            }
        }
    }
}
