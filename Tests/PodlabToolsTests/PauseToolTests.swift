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
        let output = Pipe()
        let child = try Spawner.spawn(SpawnRequest(executable: tools, arguments: arguments, argv0: "/pause",
                                                   stdout: .fd(output.fileHandleForWriting.fileDescriptor),
                                                   stderr: .fd(output.fileHandleForWriting.fileDescriptor), newSession: true))
        try output.fileHandleForWriting.close()
        return (child, output.fileHandleForReading)
    }

    @Test("ready, then an exit with 0 on the signal", arguments: [SIGTERM, SIGINT])
    func exitsOnSignal(signal: Int32) async throws {
        let (child, output) = try Self.start()
        defer { try? output.close() }
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
        defer { try? output.close() }
        let text = String(decoding: try output.readToEnd() ?? Data(), as: UTF8.self)
        #expect(text.hasSuffix("pause: unknown argument \"--bogus\" (usage: pause [--mount-proc])\n"))
        #expect(try await child.exitStatus() == .exited(2))
    }
}
