import Foundation
import PodNet
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One `pods/log` read of a container's log file, a chunk at a time as its consumer asks for the
/// next one (`stream`, an `AsyncThrowingStream(unfolding:)` over `next()`): a client slower than
/// the container holds the reading back instead of making the agent buffer the difference.
/// One chunk is read ahead, while the one before it is sent: stamping lines with their times
/// costs about as much as the client's reading them, and the two overlap. So a reader holds
/// at most two chunks of output, whatever the client's speed.
///
/// `@unchecked Sendable`: one read runs at a time — `next()` starts the read of the following
/// chunk only once the one before has ended, and is itself called one call at a time.
final class ContainerLogReader: @unchecked Sendable {
    /// The most read from the file at once.
    static let chunkSize = 64 * 1024
    /// How often a followed log that is at its end looks again (for new lines, and for the end
    /// of the container's run).
    static let followInterval: Duration = .milliseconds(100)

    private let path: String
    private let containerName: String
    private let tailLines: Int?
    private let times: PodLogTimeOptions
    private let logTimes: LogTimeRecorder
    /// While the run lasts: at the file's end, wait for more. After it, read what the process
    /// wrote last and end.
    private var following: Bool
    private let isRunning: @Sendable () async -> Bool
    /// Set when the reader's client is gone: a followed read ends at its next look.
    private let stopped = Atomic<Bool>(false)

    private enum State { case unopened, reading, ended }
    private var state = State.unopened
    private var fd: Int32 = -1
    /// Lines with their times: read from the index as far as the log was read.
    private var lineTimes: LogLineReader?
    /// The file offset of the next read (the descriptor's own: reads go through `read`).
    private var position: Int64 = 0
    /// Without follow, the log as it was when the read began: a container writing faster than
    /// the stream is read would otherwise never let it end.
    private var end = Int64.max
    /// A tail without times is the file's bytes up to `tailEnd` (its size when the tail was
    /// taken), then a newline when its last line had none; the read goes on after it.
    private var tailEnd: Int64?
    private var tailNeedsNewline = false
    private var buffer = [UInt8](repeating: 0, count: ContainerLogReader.chunkSize)

    init(path: String, containerName: String, tailLines: Int?, times: PodLogTimeOptions, follow: Bool,
         logTimes: LogTimeRecorder, isRunning: @escaping @Sendable () async -> Bool) {
        self.path = path
        self.containerName = containerName
        self.tailLines = tailLines
        self.times = times
        self.logTimes = logTimes
        following = follow
        self.isRunning = isRunning
    }

    deinit { if fd >= 0 { close(fd) } }

    /// The stream `pods/log` answers with; the read ahead ends with it, whether it was read to
    /// its end or dropped (a client gone).
    var stream: AsyncThrowingStream<Data, any Error> {
        let owner = StreamOwner(reader: self)
        return AsyncThrowingStream(unfolding: { try await owner.reader.next() })
    }

    private final class StreamOwner: Sendable {
        let reader: ContainerLogReader
        init(reader: ContainerLogReader) { self.reader = reader }
        deinit { reader.readAhead?.cancel() }
    }

    /// Ends the read from any task (a client gone): one waiting for more of a followed log ends
    /// at its next look, within `followInterval`.
    func stop() { stopped.store(true, ordering: .relaxed) }

    /// The read of the chunk after the one given last.
    private var readAhead: Task<Data?, any Error>?

    /// The next piece of the log as the client gets it; nil once it is all read (or the
    /// consumer's task was cancelled).
    func next() async throws -> Data? {
        let read = readAhead ?? Task { try await self.readOutput() }
        readAhead = nil
        let output = try await withTaskCancellationHandler { try await read.value } onCancel: { read.cancel() }
        if output != nil { readAhead = Task { try await self.readOutput() } }
        return output
    }

    private func readOutput() async throws -> Data? {
        if state == .unopened { try open() }
        while state == .reading {
            if Task.isCancelled || stopped.load(ordering: .relaxed) {
                state = .ended
                return nil
            }
            if let output = readChunk() {
                // A chunk without a whole line, or of lines older than `since`, gives nothing yet.
                if output.isEmpty { continue }
                return output
            }
            if following {
                if await isRunning() {
                    try? await Task.sleep(for: Self.followInterval)
                } else {
                    // Whatever the process wrote last, after it ended.
                    following = false
                }
                continue
            }
            state = .ended
            if let last = lineTimes?.finish(), !last.isEmpty { return Data(last) }
        }
        return nil
    }

    private func open() throws {
        fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            state = .ended
            throw APIStatus.internalError("cannot open the log of \(containerName): \(String(cString: strerror(errno)))")
        }
        state = .reading
        if times.needsTimes {
            logTimes.observe(path)
            lineTimes = LogLineReader(logFD: fd, indexPath: LogTimeRecorder.indexPath(path), options: times)
        }
        var start: Int64 = 0
        if let tailLines {
            let tail = Self.lastLines(fd: fd, count: tailLines)
            if let lineTimes {
                // The kubelet's order: the last N lines, of which those older than `since` are left out.
                start = max(tail.start, Int64(lineTimes.startOffset()))
            } else {
                start = tail.start
                tailEnd = tail.size
                tailNeedsNewline = !tail.lastLineWhole && tail.start < tail.size
            }
        } else if let lineTimes {
            start = Int64(lineTimes.startOffset())
        }
        position = Int64(lseek(fd, off_t(start), SEEK_SET))
        var info = stat()
        if !following, fstat(fd, &info) == 0 { end = Int64(info.st_size) }
    }

    /// The output of the next chunk of the file (empty when it has none to give yet); nil at
    /// the end of what is to be read for now.
    private func readChunk() -> Data? {
        if let tailEnd, position >= tailEnd {
            self.tailEnd = nil
            return tailNeedsNewline ? Data([UInt8(ascii: "\n")]) : Data()
        }
        let limit = min(end, tailEnd ?? .max)
        guard position < limit else { return nil }
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, Int(min(Int64($0.count), limit - position))) }
        guard n > 0 else { return nil }
        position += Int64(n)
        guard let lineTimes else { return Data(buffer[0..<n]) }
        logTimes.observe(path)
        return Data(lineTimes.lines(Array(buffer[0..<n]), endingAt: UInt64(position)))
    }

    /// Where the last `count` lines of a file begin, the file's size they end at, and whether
    /// its last line ends with a newline; read backwards a chunk at a time, so a tail of any
    /// length costs no more memory than one chunk.
    static func lastLines(fd: Int32, count: Int) -> (start: Int64, size: Int64, lastLineWhole: Bool) {
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size > 0 else { return (0, 0, true) }
        let size = Int64(info.st_size)
        var last: UInt8 = 0
        let lastLineWhole = pread(fd, &last, 1, off_t(size - 1)) == 1 && last == UInt8(ascii: "\n")
        guard count > 0 else { return (size, size, lastLineWhole) }
        var block = [UInt8](repeating: 0, count: chunkSize)
        var found = 0
        // A last newline ends the last line; the newlines before it each begin one.
        var blockEnd = lastLineWhole ? size - 1 : size
        while blockEnd > 0 {
            let from = max(0, blockEnd - Int64(block.count))
            let wanted = Int(blockEnd - from)
            let n = block.withUnsafeMutableBytes { pread(fd, $0.baseAddress, wanted, off_t(from)) }
            guard n == wanted else { break }
            var searchEnd = n
            while let newline = block[0..<searchEnd].lastIndex(of: UInt8(ascii: "\n")) {
                found += 1
                if found == count { return (from + Int64(newline) + 1, size, lastLineWhole) }
                searchEnd = newline
            }
            blockEnd = from
        }
        return (0, size, lastLineWhole)
    }
}
