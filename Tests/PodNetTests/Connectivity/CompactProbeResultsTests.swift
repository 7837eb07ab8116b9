import Testing
@testable import PodNet

@Suite("Compact probe results")
struct CompactProbeResultsTests {
    static func written(_ entries: [ProbeStreamLine.Entry]) -> [UInt8] {
        var output: [UInt8] = []
        for entry in entries { CompactProbeResults.append(entry, to: &output) }
        return output
    }

    static func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        Array(bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast())
    }

    static let results: [ProbeResult] = [
        ProbeResult(outcome: .connected, latencyMillis: 0.123456789, source: "10.244.1.2:43122", destination: "10.96.0.5:80",
                    observedSource: "10.244.1.2:43122"),
        ProbeResult(outcome: .refused, latencyMillis: 1e-7, detail: "connect: Connection refused (ECONNREFUSED)"),
        ProbeResult(id: "a\tb", outcome: .wrongAnswer, latencyMillis: 12,
                    detail: "HTTP 200, but the body lacks \"x\": \"tab\there, new\nline, cr\r, back\\slash, a=b, ünïcødé\"",
                    observationError: "", answers: [], answeredBy: [:]),
        ProbeResult(outcome: .connected, latencyMillis: 3, source: "", detail: "", answers: ["10.96.0.1", "a,b=c"],
                    answeredBy: ["echo-001": 12, "echo-002": 13, "?": 1, "odd,name=x\\": 11]),
        ProbeResult(outcome: .timeout, latencyMillis: 1000, detail: "no answer to the connection request within 1000 ms",
                    observationError: "pod default/x, which holds 10.244.1.9, has no network namespace"),
    ]

    @Test("every result reads back as written: nil and empty kept apart, every special character escaped")
    func roundTrip() throws {
        let entries = Self.results.enumerated().map { ProbeStreamLine.Entry(index: $0.offset * 1000, result: $0.element) }
        let lines = Self.lines(Self.written(entries))
        #expect(lines.count == entries.count)
        for (number, (line, entry)) in zip(lines, entries).enumerated() {
            #expect(try CompactProbeResults.decode(line, number: number + 1) == .result(entry))
            // One line each, its fields split by raw tabs only.
            #expect(line.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false).count == 12)
        }
    }

    @Test("the last line carries the agent's phases")
    func done() throws {
        let timings = ProbeTimings(prepareMillis: 21.5, observeMillis: 402.25, openMillis: 80, probeMillis: 1234.5, rounds: 2,
                                   observedByLookup: 19_900, observedByWitness: 9_900)
        var output: [UInt8] = []
        CompactProbeResults.appendDone(elapsedMillis: 1789.125, timings: timings, to: &output)
        #expect(output.last == UInt8(ascii: "\n"))
        #expect(try CompactProbeResults.decode(output.dropLast(), number: 1) == .done(elapsedMillis: 1789.125, timings: timings))
    }

    @Test("a bad line is an error naming its line, the field and the reason", arguments: [
        ("x\t1", "line 4 of the probe results, kind: \"x\" is neither r (a result) nor d (done)"),
        ("r\t1\tconnected", "line 4 of the probe results, fields: 3 fields, a result line has 12"),
        ("r\t-1\tconnected\t0\t\t\t\t\t\t\t\t", "line 4 of the probe results, index: \"-1\" is not a probe's index"),
        ("r\t1\tfine\t0\t\t\t\t\t\t\t\t", "line 4 of the probe results, outcome: \"fine\" is not a probe outcome (known: connected, refused, timeout, unreachable, wrong-answer, in-use, free, routed, error)"),
        ("r\t1\tconnected\tsoon\t\t\t\t\t\t\t\t", "line 4 of the probe results, latency: \"soon\" is not a number"),
        ("r\t1\tconnected\t0\t\tx\t\t\t\t\t\t", "line 4 of the probe results, source: an optional field starts with + or is empty"),
        ("r\t1\tconnected\t0\t\t\t\tbad \\q\t\t\t\t", "line 4 of the probe results, detail: \\q is not an escape (known: \\\\ \\t \\n \\r \\c \\e)"),
        ("r\t1\tconnected\t0\t\t\t\tends \\\t\t\t\t", "line 4 of the probe results, detail: the text ends inside an escape"),
        ("r\t1\tconnected\t0\t\t\t\t\t\t\t\t+a=1,b", "line 4 of the probe results, answeredBy: \"b\" is not name=count"),
        ("d\t1\t2\t3\t4\t-5\t1\t0\t0", "line 4 of the probe results, probeMillis: \"-5\" is not a duration"),
        ("d\t1\t2\t3\t4\t5\t1\t0", "line 4 of the probe results, fields: 8 fields, the last line has 9"),
    ])
    func malformed(line: String, message: String) {
        #expect {
            _ = try CompactProbeResults.decode(ArraySlice(Array(line.utf8)), number: 4)
        } throws: { error in
            "\(error)" == message
        }
    }
}
