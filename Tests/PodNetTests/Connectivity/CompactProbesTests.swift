import Testing
@testable import PodNet

@Suite("Compact probe lines")
struct CompactProbesTests {
    static func written(_ entries: [ProbeStreamLine.Entry]) -> [UInt8] {
        var output: [UInt8] = []
        for entry in entries { CompactProbes.append(entry, to: &output) }
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
            #expect(try CompactProbes.decode(line, number: number + 1) == .result(entry))
            // One line each, its fields split by raw tabs only.
            #expect(line.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false).count == 12)
        }
    }

    @Test("every probe reads back as written, with each optional field absent, empty or set")
    func probes() throws {
        let probes = [
            ProbeRequest(fromPod: "default/echo-001", to: "10.96.0.5", port: 80, kind: .tcp, timeoutMillis: 1000),
            ProbeRequest(fromPod: "default/echo-002", to: "10.244.1.3", port: 8080, kind: .udp, timeoutMillis: 300, observeSource: true),
            ProbeRequest(id: "x\ty,z=1\\", fromPod: "team/a", to: "10.96.0.7", port: 80, kind: .http, timeoutMillis: 1, expectBody: "<h1>It works!</h1>\r\n",
                         expectStatus: 200, path: "/", observeSource: false, tries: 37),
            ProbeRequest(fromPod: "team/a", to: "10.96.0.10", kind: .dns, name: "web", search: ["team.svc.cluster.local", "svc.cluster.local"],
                         expectAddresses: []),
            ProbeRequest(fromPod: "", to: "", kind: .icmp, expectBody: "", path: "", name: "", search: [], expectAddresses: ["10.96.0.1", "a,b"]),
            ProbeRequest(to: "10.244.1.2", kind: .route),
        ]
        var text: [UInt8] = []
        for probe in probes { CompactProbes.append(probe, to: &text) }
        #expect(try CompactProbes.probes(text) == probes)
        #expect(text.split(separator: UInt8(ascii: "\n")).allSatisfy { $0.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false).count == 15 })
    }

    @Test("a bad probe line is an error naming its line, the field and the reason", arguments: [
        ("p\ttcp", "line 2 of the probes, fields: 2 fields, a probe line has 15"),
        ("p\tsmtp\t\t1\t\t\t\t\t\t\t\t\t\t\t", "line 2 of the probes, kind: \"smtp\" is not a probe kind (known: tcp, udp, http, icmp, bind, route, dns)"),
        ("p\ttcp\t+a/b\t1\t+80x\t\t\t\t\t\t\t\t\t\t", "line 2 of the probes, port: \"80x\" is not a whole number"),
        ("p\ttcp\t+a/b\t1\t+80\t\t+yes\t\t\t\t\t\t\t\t", "line 2 of the probes, observeSource: \"yes\" is neither 1 nor 0"),
        ("r\ttcp", "line 2 of the probes, kind: \"r\" is not p (a probe)"),
    ])
    func malformedProbe(line: String, message: String) {
        #expect {
            _ = try CompactProbes.probes(Array("p\tbind\t+a/b\t0.0.0.0\t+80\t\t\t\t\t\t\t\t\t\t\n\(line)\n".utf8))
        } throws: { error in
            "\(error)" == message
        }
    }

    @Test("the last line carries the agent's phases")
    func done() throws {
        let timings = ProbeTimings(prepareMillis: 21.5, observeMillis: 402.25, openMillis: 80, probeMillis: 1234.5, rounds: 2,
                                   observedByLookup: 19_900, observedByWitness: 9_900)
        var output: [UInt8] = []
        CompactProbes.appendDone(elapsedMillis: 1789.125, timings: timings, to: &output)
        #expect(output.last == UInt8(ascii: "\n"))
        #expect(try CompactProbes.decode(output.dropLast(), number: 1) == .done(elapsedMillis: 1789.125, timings: timings))
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
            _ = try CompactProbes.decode(ArraySlice(Array(line.utf8)), number: 4)
        } throws: { error in
            "\(error)" == message
        }
    }
}
