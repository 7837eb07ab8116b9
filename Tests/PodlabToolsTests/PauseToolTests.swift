import Foundation
import KernelTestSupport
import Netns
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `podlab-tools` as `/pause` (the pod's pause process), started outside a pid namespace of
/// its own: it says `ready`, sleeps, and exits 0 on SIGTERM and SIGINT as Kubernetes' pause does.
@Suite("The pause tool")
struct PauseToolTests {
    /// Starts the pause tool with `arguments`; returns it and the read end of its stdout.
    static func start(_ arguments: [String] = []) throws -> (ChildProcess, FileHandle) {
        let tools = try BuiltExecutable.path("podlab-tools")
        // Close-on-exec, so that no process another test starts meanwhile keeps the write end.
        var ends: [Int32] = [-1, -1]
        try #require(pipe(&ends) == 0)
        for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        defer { close(ends[1]) }
        let child = try Spawner.spawn(SpawnRequest(executable: tools, arguments: arguments, argv0: "/pause",
                                                   stdout: .fd(ends[1]), stderr: .fd(ends[1]), newSession: true))
        return (child, FileHandle(fileDescriptor: ends[0], closeOnDealloc: true))
    }

    @Test("ready, then an exit with 0 on the signal", arguments: [SIGTERM, SIGINT])
    func exitsOnSignal(signal: Int32) async throws {
        let (child, output) = try Self.start()
        var text = ""
        while !text.hasSuffix("ready\n"), let chunk = try output.read(upToCount: 256), !chunk.isEmpty {
            text += String(decoding: chunk, as: UTF8.self)
        }
        // Not PID 1 here: it warns, as Kubernetes' pause does, and runs anyway.
        #expect(text == "Warning: pause should be the first process\nready\n")
        // It sleeps until signalled.
        #expect(try child.poll() == nil)
        try child.signal(signal)
        #expect(try await child.exitStatus() == .exited(0))
    }

    @Test("an unknown argument: the usage, exit 2")
    func unknownArgument() async throws {
        let (child, output) = try Self.start(["--bogus"])
        let text = String(decoding: try output.readToEnd() ?? Data(), as: UTF8.self)
        #expect(text.hasSuffix("pause: unknown argument \"--bogus\" (usage: pause [--mount-proc])\n"))
        #expect(try await child.exitStatus() == .exited(2))
    }
}
