import Testing
@testable import PodNet

@Suite("Container log lines' times: the index, the selection by since, the timestamps")
struct ContainerLogTimesTests {
    static let second: Int64 = 1_000_000_000
    /// 2026-12-06T18:00:00Z.
    static let base: Int64 = 1_796_580_000 * second

    @Test("marks round-trip through their 16 bytes; a torn last mark is left out")
    func encoding() {
        let marks = [LogTimeMark(end: 0, nanoseconds: 0), LogTimeMark(end: 12, nanoseconds: Self.base + 123_456_789),
                     LogTimeMark(end: UInt64.max, nanoseconds: -1)]
        let bytes = marks.flatMap(\.encoded)
        #expect(bytes.count == 48)
        #expect(LogTimeMark.decode(bytes) == marks)
        #expect(LogTimeMark.decode(bytes.dropLast(3)) == Array(marks.prefix(2)))
        #expect(LogTimeMark(end: 0x0102, nanoseconds: 3).encoded == [2, 1, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test("the kubelet's fixed nanosecond form, in UTC", arguments: [
        (base, "2026-12-06T18:00:00.000000000Z"),
        (base + 123_456_789, "2026-12-06T18:00:00.123456789Z"),
        (base + 59 * second + 5, "2026-12-06T18:00:59.000000005Z"),
        (-1, "1969-12-31T23:59:59.999999999Z"),
    ] as [(Int64, String)])
    func timestamp(nanoseconds: Int64, text: String) {
        #expect(LogLineSelection.timestamp(nanoseconds) == text)
    }

    /// Three lines seen at three times: "a\n" at +1 s, "bb\n" and "c" at +2 s, "c" completed by "cc\n" at +3 s.
    static let times = ContainerLogTimes([
        LogTimeMark(end: 2, nanoseconds: base + second),
        LogTimeMark(end: 6, nanoseconds: base + 2 * second),
        LogTimeMark(end: 9, nanoseconds: base + 3 * second),
    ])

    @Test("a line's time is the first mark that covers its end")
    func lineTimes() {
        #expect(Self.times.time(ofLineEndingAt: 2) == Self.base + Self.second)
        #expect(Self.times.time(ofLineEndingAt: 5) == Self.base + 2 * Self.second)
        #expect(Self.times.time(ofLineEndingAt: 9) == Self.base + 3 * Self.second)
        #expect(Self.times.time(ofLineEndingAt: 10) == nil)
        #expect(ContainerLogTimes().time(ofLineEndingAt: 1) == nil)
    }

    @Test("reading for since starts after every byte known to be older", arguments: [
        (base, 0), (base + second, 0), (base + second + 1, 2), (base + 3 * second, 6), (base + 4 * second, 9),
    ] as [(Int64, UInt64)])
    func sinceOffset(since: Int64, offset: UInt64) {
        #expect(Self.times.offset(since: since) == offset)
    }

    @Test("timestamps before each line, fed in pieces that split lines")
    func stamped() {
        var selection = LogLineSelection(since: nil, timestamps: true)
        let log = Array("a\nbb\nccc\n".utf8)
        var output = selection.feed(Array(log[0..<3]), endingAt: 3, times: Self.times, fallback: 0)
        output += selection.feed(Array(log[3..<7]), endingAt: 7, times: Self.times, fallback: 0)
        output += selection.feed(Array(log[7..<9]), endingAt: 9, times: Self.times, fallback: 0)
        output += selection.finish(time: 0)
        #expect(String(decoding: output, as: UTF8.self) == """
            2026-12-06T18:00:01.000000000Z a
            2026-12-06T18:00:02.000000000Z bb
            2026-12-06T18:00:03.000000000Z ccc

            """)
    }

    @Test("since leaves older lines out; without timestamps the lines are as written; a last line without newline comes at the end")
    func since() {
        var selection = LogLineSelection(since: Self.base + 2 * Self.second, timestamps: false)
        let log = Array("a\nbb\nccc\ntail".utf8)
        var output = selection.feed(log, endingAt: UInt64(log.count), times: Self.times, fallback: Self.base + 5 * Self.second)
        #expect(String(decoding: output, as: UTF8.self) == "bb\nccc\n")
        output = selection.finish(time: Self.base + 5 * Self.second)
        #expect(String(decoding: output, as: UTF8.self) == "tail")
        #expect(selection.finish(time: 0).isEmpty)
    }

    @Test("a line no mark covers takes the fallback time (written while no agent ran)")
    func fallback() {
        var selection = LogLineSelection(since: Self.base + 4 * Self.second, timestamps: true)
        let log = Array("a\nbb\nccc\nlate\n".utf8)
        let output = selection.feed(log, endingAt: UInt64(log.count), times: Self.times, fallback: Self.base + 7 * Self.second)
        #expect(String(decoding: output, as: UTF8.self) == "2026-12-06T18:00:07.000000000Z late\n")
    }

    @Test("the query: sinceSeconds from now, sinceTime, timestamps")
    func parse() throws {
        let now = Self.base + 500
        #expect(try PodLogTimeOptions.parse(name: "p", sinceSeconds: "10", sinceTime: nil, timestamps: "true", tailLines: nil, now: now)
            == PodLogTimeOptions(since: now - 10 * Self.second, timestamps: true))
        #expect(try PodLogTimeOptions.parse(name: "p", sinceSeconds: nil, sinceTime: "2026-12-06T18:00:00Z", timestamps: nil, tailLines: "5", now: now)
            == PodLogTimeOptions(since: Self.base, timestamps: false))
        #expect(try !PodLogTimeOptions.parse(name: "p", sinceSeconds: nil, sinceTime: nil, timestamps: "false", tailLines: nil, now: now).needsTimes)
    }

    @Test("refused queries: kube-apiserver's 422 for values it validates, 400 for what is no number or time", arguments: [
        ("0", nil, nil, 422, #"PodLogOptions "p" is invalid: sinceSeconds: Invalid value: 0: must be greater than 0"#),
        ("5", "2026-12-06T18:00:00Z", nil, 422, "PodLogOptions \"p\" is invalid: : Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"),
        (nil, nil, "-1", 422, #"PodLogOptions "p" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0"#),
        ("soon", nil, nil, 400, #"sinceSeconds: invalid value "soon": not an integer"#),
        (nil, "yesterday", nil, 400, "sinceTime: invalid timestamp \"yesterday\": expected a digit at position 1 (expected RFC 3339, like 2021-03-21T11:42:17Z)"),
    ] as [(String?, String?, String?, Int32, String)])
    func refused(sinceSeconds: String?, sinceTime: String?, tailLines: String?, code: Int32, message: String) {
        do {
            _ = try PodLogTimeOptions.parse(name: "p", sinceSeconds: sinceSeconds, sinceTime: sinceTime, timestamps: nil, tailLines: tailLines, now: Self.base)
            Issue.record("accepted")
        } catch {
            #expect(error.code == code)
            #expect(error.message == message)
        }
    }
}
