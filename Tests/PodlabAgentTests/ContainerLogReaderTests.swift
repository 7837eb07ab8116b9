import Foundation
import Netns
import PodNet
import Testing
@testable import PodlabAgent

/// `pods/log`'s reading of a log file, a chunk at a time: tails found backwards, a read without
/// follow ending at the size the file had, a followed one taking what the process wrote last.
@Suite("Container log reader")
struct ContainerLogReaderTests {
    static let recorder = try! LogTimeRecorder()

    /// A log file with `contents` in a directory of its own; removed by `remove`.
    static func logFile(_ contents: [UInt8]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("podlab-log-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/0.log"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(contents)))
        return path
    }

    static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
    }

    static func append(_ text: String, to path: String) {
        guard let handle = FileHandle(forWritingAtPath: path) else { return }
        handle.seekToEndOfFile()
        handle.write(Data(text.utf8))
        try? handle.close()
    }

    static func reader(_ path: String, tail: Int? = nil, times: PodLogTimeOptions = PodLogTimeOptions(), follow: Bool = false,
                       isRunning: @escaping @Sendable () async -> Bool = { false }) -> ContainerLogReader {
        ContainerLogReader(path: path, containerName: "c", tailLines: tail, times: times, follow: follow, logTimes: recorder, isRunning: isRunning)
    }

    /// Everything the reader gives, and the largest piece it gave at once.
    static func drain(_ reader: ContainerLogReader) async throws -> (bytes: [UInt8], largest: Int) {
        var bytes: [UInt8] = []
        var largest = 0
        while let chunk = try await reader.next() {
            bytes += chunk
            largest = max(largest, chunk.count)
        }
        return (bytes, largest)
    }

    /// The last `count` lines as `pods/log` has always given them: each with a newline, a last
    /// line without one included.
    static func expectedTail(_ contents: [UInt8], _ count: Int) -> [UInt8] {
        var lines = contents.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines.suffix(count).flatMap { Array($0) + [UInt8(ascii: "\n")] }
    }

    struct TailCase: CustomTestStringConvertible, Sendable {
        var contents: String
        var tail: Int
        var testDescription: String { "\(contents.debugDescription.prefix(40)) --tail=\(tail)" }
    }

    /// 7.2 MB of numbered lines: more than a chunk, and more than the 4 MiB a tail was once cut to.
    static let numbered = (0..<600_000).map { String(format: "line %06d\n", $0) }.joined()

    @Test("tails: whole lines, a last line without a newline, empty lines and files, more lines than the file has, and tails longer than a chunk (and than 4 MiB)",
          arguments: [
              TailCase(contents: "a\nb\nc\n", tail: 2), TailCase(contents: "a\nb\nc\n", tail: 0), TailCase(contents: "a\nb\nc\n", tail: 9),
              TailCase(contents: "a\nb\npart", tail: 1), TailCase(contents: "a\nb\npart", tail: 2), TailCase(contents: "a\nb\npart", tail: 0),
              TailCase(contents: "\n\n", tail: 1), TailCase(contents: "\n", tail: 1), TailCase(contents: "", tail: 3),
              TailCase(contents: "no newline at all", tail: 1),
              TailCase(contents: numbered, tail: 1), TailCase(contents: numbered, tail: 5_462), TailCase(contents: numbered, tail: 500_000),
              TailCase(contents: numbered, tail: 600_000),
          ])
    func tail(_ tailCase: TailCase) async throws {
        let contents = Array(tailCase.contents.utf8)
        let path = try Self.logFile(contents)
        defer { Self.remove(path) }
        let read = try await Self.drain(Self.reader(path, tail: tailCase.tail))
        let expected = Self.expectedTail(contents, tailCase.tail)
        #expect(read.bytes.count == expected.count)
        #expect(read.bytes == expected)
        #expect(read.largest <= ContainerLogReader.chunkSize)
    }

    @Test("without follow: the file as it was when the read began, in chunks of at most 64 KiB, though it grows meanwhile")
    func withoutFollow() async throws {
        let contents = Array(Self.numbered.utf8.prefix(1 << 20))
        let path = try Self.logFile(contents)
        defer { Self.remove(path) }
        let reader = Self.reader(path)
        var read = try #require(try await reader.next()).map { $0 }
        Self.append("written after the read began\n", to: path)
        let rest = try await Self.drain(reader)
        read += rest.bytes
        #expect(read == contents)
        #expect(rest.largest == ContainerLogReader.chunkSize)
    }

    @Test("followed: at the file's end the reader waits while the run lasts, then reads what the process wrote last and ends")
    func followed() async throws {
        let path = try Self.logFile(Array("first\n".utf8))
        defer { Self.remove(path) }
        let checks = Locked(0)
        let reader = Self.reader(path, follow: true) {
            checks.withLock { count in
                count += 1
                switch count {
                case 1: Self.append("second\n", to: path)
                case 2: Self.append("last words", to: path)
                default: break
                }
                // Running until the second look; the last words come as it ends.
                return count < 2
            }
        }
        let read = try await Self.drain(reader)
        #expect(String(decoding: read.bytes, as: UTF8.self) == "first\nsecond\nlast words")
        #expect(checks.withLock { $0 } == 2)
    }

    @Test("a followed tail: the last lines, then what comes after them")
    func followedTail() async throws {
        let path = try Self.logFile(Array("a\nb\nc\n".utf8))
        defer { Self.remove(path) }
        let ran = Locked(false)
        let reader = Self.reader(path, tail: 1, follow: true) {
            ran.withLock { ran in
                defer { ran = true }
                if !ran { Self.append("d\n", to: path) }
                return !ran
            }
        }
        #expect(String(decoding: try await Self.drain(reader).bytes, as: UTF8.self) == "c\nd\n")
    }

    @Test("with times: each line after the time of the first mark that covers it, a last line without a newline at the end; since and tail together")
    func withTimes() async throws {
        let path = try Self.logFile(Array("old\nnew\nhalf".utf8))
        defer { Self.remove(path) }
        let marks = [LogTimeMark(end: 4, nanoseconds: 100), LogTimeMark(end: 8, nanoseconds: 200), LogTimeMark(end: 12, nanoseconds: 300)]
        #expect(FileManager.default.createFile(atPath: LogTimeRecorder.indexPath(path), contents: Data(marks.flatMap(\.encoded))))
        let stamped = try await Self.drain(Self.reader(path, times: PodLogTimeOptions(timestamps: true)))
        #expect(String(decoding: stamped.bytes, as: UTF8.self)
            == "1970-01-01T00:00:00.000000100Z old\n1970-01-01T00:00:00.000000200Z new\n1970-01-01T00:00:00.000000300Z half")
        let since = try await Self.drain(Self.reader(path, times: PodLogTimeOptions(since: 150)))
        #expect(String(decoding: since.bytes, as: UTF8.self) == "new\nhalf")
        let tailSince = try await Self.drain(Self.reader(path, tail: 1, times: PodLogTimeOptions(since: 150, timestamps: true)))
        #expect(String(decoding: tailSince.bytes, as: UTF8.self) == "1970-01-01T00:00:00.000000300Z half")
    }

    @Test("a log that cannot be opened: the read fails saying why")
    func missing() async throws {
        let reader = Self.reader("/nonexistent/podlab/0.log")
        await #expect(throws: APIStatus.self) { _ = try await reader.next() }
    }
}
