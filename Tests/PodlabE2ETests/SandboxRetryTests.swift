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
