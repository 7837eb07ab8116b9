import Foundation
import Netns
import PodNet
#if canImport(Glibc)
import Glibc
#endif

/// The standard streams of one run of a container whose spec asks for `stdin` or `tty`,
/// held by the agent as the kubelet's runtime holds them. The process reads its stdin from a
/// pipe (or, with `tty`, its terminal) that only attached clients write to; what it writes
/// comes back through pipes (or the terminal's master side, one stream), and the agent copies
/// it to the container's log and to every attached client.
///
/// Output written before the first client attaches is kept for it (up to
/// `unclaimedLimit`), so `podlab run -i` shows a short command's output although the command
/// may be done by the time the client is attached.
///
/// The agent holds these ends: a container started with them loses its stdin (end of file)
/// and its terminal (hang-up) when the agent exits.
final class ContainerStreams: @unchecked Sendable {
    /// What the container's spec asks for.
    struct Mode: Hashable, Sendable {
        var stdin: Bool
        var stdinOnce: Bool
        var tty: Bool

        /// Nil for a container that needs no streams of the agent (it writes its log itself).
        init?(_ container: Container) {
            guard container.stdin || container.tty else { return nil }
            self.init(stdin: container.stdin, stdinOnce: container.stdinOnce, tty: container.tty)
        }

        init(stdin: Bool, stdinOnce: Bool, tty: Bool) {
            self.stdin = stdin
            self.stdinOnce = stdinOnce
            self.tty = tty
        }
    }

    /// The process's ends, for its `SpawnRequest`; `closeChildEnds()` closes the agent's copies.
    struct ChildEnds {
        var stdin: StandardIO
        var stdout: StandardIO
        var stderr: StandardIO
    }

    static let unclaimedLimit = 1 << 20

    /// A write to the stdin of a process that closed it must fail with EPIPE, not kill the
    /// agent (containers start with default signal dispositions again).
    private static let brokenPipesIgnored: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    let mode: Mode
    let childEnds: ChildEnds
    private let childFDs: [Int32]
    /// Where the output is read from, and as which stream.
    private let outputs: [(fd: Int32, channel: StreamFrame.Channel)]
    /// The terminal's master side (output and stdin in one), or -1.
    private let terminalMaster: Int32
    private let logFD: Int32

    private let lock = NSLock()
    private var subscribers: [UInt64: AsyncStream<StreamFrame>.Continuation] = [:]
    private var nextSubscriber: UInt64 = 0
    /// Output nobody has seen yet; nil once a client has attached.
    private var unclaimed: [StreamFrame]? = []
    private var unclaimedBytes = 0
    private var openOutputs: Int
    private var ended = false
    private var stdinClosed = false

    /// Writes to stdin, resizes and the final close run here, in order. A write may block (a
    /// full pipe, a terminal nobody reads) until the process reads or exits.
    private let writer = DispatchQueue(label: "podlab.container-stdin")
    /// The pipe's write end or the terminal's master side; touched only on `writer`.
    private var stdinFD: Int32

    /// Makes the pipes (or the terminal) for a container that writes its log to `logFD`
    /// (an fd these streams take over).
    init(mode: Mode, logFD: Int32) throws {
        Self.brokenPipesIgnored
        self.mode = mode
        self.logFD = logFD
        var made: [Int32] = []
        do {
            func pipePair() throws -> (read: Int32, write: Int32) {
                var fds: [Int32] = [-1, -1]
                guard pipe(&fds) == 0 else { throw KernelError(operation: "pipe", object: "container stdio", errno: .current) }
                made += fds
                // Only the spawn passes them on (it closes every other fd in the child).
                for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
                return (fds[0], fds[1])
            }
            if mode.tty {
                let terminal = try PseudoTerminal.open()
                made += [terminal.master, terminal.slave]
                childEnds = ChildEnds(stdin: .terminal(terminal.slave), stdout: .fd(terminal.slave), stderr: .fd(terminal.slave))
                childFDs = [terminal.slave]
                outputs = [(terminal.master, .stdout)]
                terminalMaster = terminal.master
                stdinFD = terminal.master
            } else {
                let input = mode.stdin ? try pipePair() : nil
                let output = try pipePair(), error = try pipePair()
                childEnds = ChildEnds(stdin: input.map { .fd($0.read) } ?? .null, stdout: .fd(output.write), stderr: .fd(error.write))
                childFDs = [input?.read, output.write, error.write].compactMap { $0 }
                outputs = [(output.read, .stdout), (error.read, .stderr)]
                terminalMaster = -1
                stdinFD = input?.write ?? -1
            }
        } catch {
            for fd in made { close(fd) }
            close(logFD)
            throw error
        }
        openOutputs = outputs.count
    }

    /// After the spawn (or its failure): the agent's copies of the process's ends are closed,
    /// so the output reaches its end when the process and its children are gone, and the
    /// copying starts.
    func closeChildEndsAndStart() {
        for fd in childFDs { close(fd) }
        for output in outputs {
            do {
                try PlainThread.detach(name: "container-output") { self.copy(from: output.fd, as: output.channel) }
            } catch {
                // Unread, the output would block the process: it gets EPIPE (or a hang-up) instead.
                if output.fd != terminalMaster { close(output.fd) }
                outputEnded()
            }
        }
    }

    // MARK: Output

    private func copy(from fd: Int32, as channel: StreamFrame.Channel) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            // 0 is a pipe's end; a terminal's master reads EIO once no process holds the slave.
            guard n > 0 else { break }
            let bytes = Array(buffer[0..<n])
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeBytes { Glibc.write(logFD, $0.baseAddress! + offset, $0.count - offset) }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { break }
                offset += written
            }
            deliver(StreamFrame(channel, bytes))
        }
        // The terminal's master is also stdin: it closes with the streams' end.
        if fd != terminalMaster { close(fd) }
        outputEnded()
    }

    private func deliver(_ frame: StreamFrame) {
        lock.lock()
        defer { lock.unlock() }
        if unclaimed != nil, unclaimedBytes + frame.payload.count <= Self.unclaimedLimit {
            unclaimed?.append(frame)
            unclaimedBytes += frame.payload.count
        }
        for subscriber in subscribers.values { subscriber.yield(frame) }
    }

    private func outputEnded() {
        lock.lock()
        openOutputs -= 1
        let last = openOutputs == 0
        var waiting: [AsyncStream<StreamFrame>.Continuation] = []
        if last {
            ended = true
            waiting = Array(subscribers.values)
            subscribers.removeAll()
        }
        lock.unlock()
        guard last else { return }
        for subscriber in waiting { subscriber.finish() }
        close(logFD)
        writer.async { self.closeStdinNow() }
    }

    /// True once the process and everything it started have closed their output.
    var hasEnded: Bool { lock.withLock { ended } }

    /// True until a client has attached: its output is still kept for the first one.
    var isUnclaimed: Bool { lock.withLock { unclaimed != nil } }

    /// The output from now on (for the first client, from the start), until the streams end.
    func subscribe() -> (id: UInt64, output: AsyncStream<StreamFrame>) {
        let (stream, continuation) = AsyncStream<StreamFrame>.makeStream()
        lock.lock()
        defer { lock.unlock() }
        for frame in unclaimed ?? [] { continuation.yield(frame) }
        unclaimed = nil
        nextSubscriber += 1
        if ended {
            continuation.finish()
        } else {
            subscribers[nextSubscriber] = continuation
        }
        return (nextSubscriber, stream)
    }

    func unsubscribe(_ id: UInt64) {
        lock.withLock { subscribers.removeValue(forKey: id) }?.finish()
    }

    // MARK: Input

    /// Whether a client that attaches now may write to stdin.
    var acceptsStdin: Bool { lock.withLock { mode.stdin && !stdinClosed && !ended } }

    /// Writes to stdin; returns when the bytes are written (or can never be).
    func write(_ bytes: [UInt8]) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            writer.async {
                var offset = 0
                while offset < bytes.count, self.stdinFD >= 0 {
                    let n = bytes.withUnsafeBytes { Glibc.write(self.stdinFD, $0.baseAddress! + offset, $0.count - offset) }
                    if n < 0 && errno == EINTR { continue }
                    // EPIPE: the process closed its stdin (the agent ignores SIGPIPE).
                    guard n > 0 else { break }
                    offset += n
                }
                done.resume()
            }
        }
    }

    /// The end of stdin (`stdinOnce`): the process reads its end of file, and no later client
    /// writes to it. A pipe is closed; a terminal gets its end-of-file character (^D, what a
    /// user types for it), which a process reading lines takes as the end of its input.
    func closeStdin() {
        let first = lock.withLock {
            defer { stdinClosed = true }
            return !stdinClosed
        }
        guard first else { return }
        writer.async {
            guard self.mode.tty else { return self.closeStdinNow() }
            guard self.stdinFD >= 0 else { return }
            // Terminal settings asked of the master side are those of the slave, the process's.
            var settings = termios()
            var endOfFile = UInt8(4)
            if tcgetattr(self.stdinFD, &settings) == 0 {
                endOfFile = withUnsafeBytes(of: &settings.c_cc) { $0[Int(VEOF)] }
            }
            _ = Glibc.write(self.stdinFD, &endOfFile, 1)
        }
    }

    private func closeStdinNow() {
        if stdinFD >= 0 { close(stdinFD) }
        stdinFD = -1
    }

    /// The attached terminal's size, for the container's terminal.
    func resize(_ size: TerminalSize) {
        guard mode.tty else { return }
        writer.async {
            guard self.stdinFD >= 0 else { return }
            try? PseudoTerminal.setWindowSize(fd: self.stdinFD, rows: size.height, columns: size.width)
        }
    }
}
