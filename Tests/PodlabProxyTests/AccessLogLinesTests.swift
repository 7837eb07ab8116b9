import Glibc
import NIOCore
import NIOPosix
import Testing
@testable import PodlabProxy

@Suite("podlab-proxy: the access log, gathered and written together")
struct AccessLogLinesTests {
    /// A pipe whose read end does not block: what has been written so far.
    final class Pipe {
        let read: Int32, write: Int32
        init() throws {
            var ends: [Int32] = [0, 0]
            guard pipe(&ends) == 0 else { throw Errno(errno) }
            (read, write) = (ends[0], ends[1])
            _ = fcntl(read, F_SETFL, fcntl(read, F_GETFL) | O_NONBLOCK)
        }
        deinit { close(read); close(write) }
        func drain() -> String {
            var text: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = Glibc.read(read, &buffer, buffer.count)
                guard count > 0 else { break }
                text += buffer[0..<count]
            }
            return String(decoding: text, as: UTF8.self)
        }
    }
    struct Errno: Error { let code: Int32; init(_ code: Int32) { self.code = code } }

    /// Runs `body` with an event loop of its own, shut down after it on every path.
    func withLoop(_ body: (any EventLoop) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            try await body(group.next())
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }

    @Test("lines written on an event loop wait for the flush")
    func gathered() async throws {
        let pipe = try Pipe()
        let lines = AccessLogLines(descriptor: pipe.write, flushDelay: .hours(1))
        try await withLoop { loop in
            try await loop.submit {
                lines.append("one")
                lines.append("two")
            }.get()
        }
        #expect(pipe.drain() == "", "nothing is written at once")
        lines.flush()
        #expect(pipe.drain() == "one\ntwo\n")
    }

    @Test("the flush comes by itself")
    func flushedLater() async throws {
        let pipe = try Pipe()
        let lines = AccessLogLines(descriptor: pipe.write, flushDelay: .milliseconds(20))
        try await withLoop { loop in
            try await loop.submit {
                lines.append("one")
                lines.append("two")
            }.get()
            var written = ""
            let deadline = ContinuousClock.now + .seconds(30)
            while written.utf8.count < 8 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
                written += pipe.drain()
            }
            #expect(written == "one\ntwo\n")
        }
    }

    @Test("a line about the proxy goes out at once, after the lines gathered before it")
    func inOrder() async throws {
        let pipe = try Pipe()
        let lines = AccessLogLines(descriptor: pipe.write)
        try await withLoop { loop in
            try await loop.submit {
                lines.append("GET /a 200")
                lines.writeNow("podlab-proxy: something happened")
            }.get()
        }
        #expect(pipe.drain() == "GET /a 200\npodlab-proxy: something happened\n")
    }

    @Test("off the event loops a line is written at once; a full buffer is written without waiting")
    func atOnce() async throws {
        let pipe = try Pipe()
        let lines = AccessLogLines(descriptor: pipe.write)
        lines.append("from a task")
        #expect(pipe.drain() == "from a task\n")
        let line = String(repeating: "x", count: 1023)
        let count = AccessLogLines.flushBytes / 1024
        try await withLoop { loop in
            try await loop.submit {
                for _ in 0..<count { lines.append(line) }
            }.get()
        }
        let written = pipe.drain()
        #expect(written.utf8.count == count * 1024, "\(written.utf8.count) bytes")
        lines.flush()
        #expect(pipe.drain() == "")
    }
}
