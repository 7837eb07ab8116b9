/// The outcome of a `podlab test` run, printed as a table, JSON or JUnit XML.
public struct ConnectivityReport: Sendable {
    public var lab: String
    /// `matrix` or the scenario's name.
    public var scenario: String
    /// One result per check, in the order the checks ran.
    public var results: [CheckResult]
    /// Wall time of the probing.
    public var elapsedSeconds: Double
    /// Claims the run had to show but could not, with the reason (a one-node lab has no
    /// cross-node path): listed, and skipped in JUnit.
    public var notShown: [ConnectivityClaim: String]

    public init(lab: String, scenario: String, results: [CheckResult], elapsedSeconds: Double, notShown: [ConnectivityClaim: String] = [:]) {
        self.lab = lab
        self.scenario = scenario
        self.results = results
        self.elapsedSeconds = elapsedSeconds
        self.notShown = notShown
    }

    public var mismatches: [CheckResult] { results.filter { !$0.matched } }

    /// How many checks did not match.
    public var mismatchCount: Int { results.reduce(0) { $0 + ($1.matched ? 0 : 1) } }

    /// True when every check matched.
    public var passed: Bool { results.allSatisfy(\.matched) }

    /// How many checks sent a probe.
    public var probeCount: Int { results.reduce(0) { $0 + ($1.check.probe == nil ? 0 : 1) } }

    /// Mismatches first; each group by claim, then source, then target.
    public var ordered: [CheckResult] { orderedIndices.map { results[$0] } }

    /// The positions of `results` in `ordered`'s order. Indices are sorted, not the results:
    /// a big report's tens of thousands of results are not copied around by the sort.
    var orderedIndices: [Int] {
        let claimOrder = Dictionary(uniqueKeysWithValues: ConnectivityClaim.allCases.enumerated().map { ($1, $0) })
        let ranks = results.map { claimOrder[$0.check.claim] ?? 0 }
        return results.indices.sorted { a, b in
            let (x, y) = (results[a], results[b])
            if x.matched != y.matched { return !x.matched }
            if ranks[a] != ranks[b] { return ranks[a] < ranks[b] }
            if x.check.from != y.check.from { return x.check.from < y.check.from }
            if x.check.to != y.check.to { return x.check.to < y.check.to }
            return a < b
        }
    }

    /// Checks and mismatches per claim, in claim order, for claims with at least one check.
    public var claimCounts: [(claim: ConnectivityClaim, checks: Int, mismatched: Int)] {
        var counts: [ConnectivityClaim: (checks: Int, mismatched: Int)] = [:]
        for result in results {
            counts[result.check.claim, default: (0, 0)].checks += 1
            if !result.matched { counts[result.check.claim, default: (0, 0)].mismatched += 1 }
        }
        return ConnectivityClaim.allCases.compactMap { claim in counts[claim].map { (claim, $0.checks, $0.mismatched) } }
    }

    // MARK: Table

    static let red = "\u{1B}[31;1m", green = "\u{1B}[32m", reset = "\u{1B}[0m"

    /// Expected against actual, one row per check, mismatches first. With `colour`, the RESULT
    /// cell is red or green (the escape codes do not count towards column widths).
    public func table(colour: Bool = false, onlyMismatches: Bool = false) -> String {
        let rows = orderedIndices.map { results[$0] }.filter { !onlyMismatches || !$0.matched }
        guard !rows.isEmpty else { return "" }
        let table = TextTable(
            headers: ["result", "claim", "from", "to", "probe", "expected", "actual", "latency", "detail"],
            rows: rows.map { result in
                [result.matched ? "ok" : "MISMATCH", result.check.claim.rawValue, result.check.from, result.check.to, result.check.method,
                 expectedText(result.check), result.actual.outcome.title, latencyText(result), detailText(result)]
            })
        let rendered = table.render()
        guard colour else { return rendered }
        // Each row's first column in its colour: the lines split by bytes (a 20 000-row table
        // split by characters takes longer than rendering it).
        var lines = rendered.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { String(Substring($0)) }
        for index in lines.indices.dropFirst() where !lines[index].isEmpty {
            let token = rows[index - 1].matched ? "ok" : "MISMATCH"
            lines[index] = (rows[index - 1].matched ? Self.green : Self.red) + token + Self.reset + lines[index].dropFirst(token.count)
        }
        return lines.joined(separator: "\n")
    }

    func expectedText(_ check: ConnectivityCheck) -> String {
        ([check.expected] + check.tolerated.sorted { $0.rawValue < $1.rawValue }).map(\.title).joined(separator: " or ")
    }

    func latencyText(_ result: CheckResult) -> String {
        guard let probe = result.check.probe, probe.kind != .route, result.actual.outcome != .error else { return "-" }
        return Self.milliseconds(result.actual.latencyMillis)
    }

    func detailText(_ result: CheckResult) -> String {
        var parts: [String] = []
        if let problem = result.problem, result.actual.outcome == result.check.expected || result.check.tolerated.contains(result.actual.outcome) {
            parts.append(problem)
        }
        if let source = result.actual.source, let destination = result.actual.destination {
            parts.append("\(source) → \(destination)")
        }
        if !result.actual.detail.isEmpty { parts.append(result.actual.detail) }
        if !result.matched { parts.append("expected because \(result.check.reason)") }
        return parts.joined(separator: "; ")
    }

    /// `0.12ms`, `12.3ms`, `1204ms`.
    static func milliseconds(_ value: Double) -> String {
        if value >= 100 { return "\(Int(value.rounded()))ms" }
        if value >= 10 { return fixed(value, digits: 1) + "ms" }
        return fixed(value, digits: 2) + "ms"
    }

    /// `value` with `digits` decimals (no Foundation in this module).
    static func fixed(_ value: Double, digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int64((abs(value) * scale).rounded())
        let whole = scaled / Int64(scale), fraction = scaled % Int64(scale)
        var fractionText = String(fraction)
        while fractionText.count < digits { fractionText = "0" + fractionText }
        return (value < 0 && scaled != 0 ? "-" : "") + "\(whole)" + (digits > 0 ? ".\(fractionText)" : "")
    }

    // MARK: Summary

    /// The claims with their counts, and one line with the totals.
    public func summary(colour: Bool = false) -> String {
        var lines: [String] = []
        let counts = claimCounts
        let width = (counts.map(\.claim.rawValue.count) + notShown.keys.map(\.rawValue.count)).max() ?? 0
        for (claim, checks, mismatched) in counts {
            let mark = mismatched == 0 ? (colour ? Self.green + "✓" + Self.reset : "✓") : (colour ? Self.red + "✗" + Self.reset : "✗")
            let padding = String(repeating: " ", count: width - claim.rawValue.count)
            let count = mismatched == 0 ? Self.count(checks, "check") : "\(mismatched) of \(checks) mismatched"
            lines.append("\(mark) \(claim.rawValue)\(padding)   \(claim.title): \(count)")
        }
        for claim in ConnectivityClaim.allCases {
            guard let reason = notShown[claim] else { continue }
            let padding = String(repeating: " ", count: width - claim.rawValue.count)
            lines.append("- \(claim.rawValue)\(padding)   \(claim.title): not shown (\(reason))")
        }
        let probes = probeCount, mismatched = mismatchCount, passed = mismatched == 0
        let rate = elapsedSeconds > 0 ? Int((Double(probes) / elapsedSeconds).rounded()) : 0
        let verdict = passed ? "PASS" : "FAIL"
        lines.append("\(colour ? (passed ? Self.green : Self.red) + verdict + Self.reset : verdict): \(Self.count(results.count, "check")), "
            + "\(results.count - mismatched) matched, \(mismatched) mismatched; \(Self.count(probes, "probe")) in "
            + "\(Self.fixed(elapsedSeconds, digits: 2)) s (\(rate) probes/s)")
        return lines.joined(separator: "\n") + "\n"
    }

    /// `1 check`, `2 checks`.
    static func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

    // MARK: JSON

    /// The report as JSON: the summary, the claims, and every check with its result
    /// (mismatches first).
    public var json: JSONValue { json(withResults: true) }

    func json(withResults: Bool) -> JSONValue {
        let probes = probeCount, mismatched = mismatchCount
        let rate = elapsedSeconds > 0 ? Double(probes) / elapsedSeconds : 0
        var claims: [JSONValue] = claimCounts.map { claim, checks, mismatched in
            .object(["claim": .string(claim.rawValue), "title": .string(claim.title),
                     "checks": .integer(Int64(checks)), "mismatched": .integer(Int64(mismatched))])
        }
        for claim in ConnectivityClaim.allCases {
            guard let reason = notShown[claim] else { continue }
            claims.append(.object(["claim": .string(claim.rawValue), "title": .string(claim.title), "checks": 0, "mismatched": 0,
                                   "notShown": .string(reason)]))
        }
        return .object([
            "lab": .string(lab),
            "scenario": .string(scenario),
            "passed": .bool(mismatched == 0),
            "summary": .object([
                "checks": .integer(Int64(results.count)), "matched": .integer(Int64(results.count - mismatched)),
                "mismatched": .integer(Int64(mismatched)), "probes": .integer(Int64(probes)),
                "elapsedSeconds": .number(elapsedSeconds), "probesPerSecond": .number(rate),
            ]),
            "claims": .array(claims),
            "results": .array(withResults ? orderedIndices.map { Self.json(results[$0]) } : []),
        ])
    }

    /// `json.jsonText(indent:)`, byte for byte, written without building the value first: each
    /// result's fields go out in their sorted order as they are read (tens of thousands of
    /// results made as many dictionaries, each sorted and looked up again to be written).
    public func jsonText(indent: Int = 4) -> String {
        let writer = JSONWriter(indentWidth: indent)
        guard case let .object(fields) = json(withResults: false) else { return json.jsonText(indent: indent) }
        var output = ""
        output.reserveCapacity(results.count * (indent > 0 ? 1200 : 700) + 4096)
        var top = ObjectWriter(writer: writer, level: 0, into: &output)
        for key in fields.keys.sorted(by: JSONWriter.byteOrder) {
            top.key(key)
            guard key == "results", !results.isEmpty else {
                top.value(fields[key]!)
                continue
            }
            // As `JSONWriter` writes a list that is the value of a top-level key.
            top.output += "["
            for (position, index) in orderedIndices.enumerated() {
                if position > 0 { top.output += "," }
                writer.newline(level: 2, into: &top.output)
                Self.write(results[index], level: 2, writer: writer, into: &top.output)
            }
            writer.newline(level: 1, into: &top.output)
            top.output += "]"
        }
        top.close(into: &output)
        return output
    }

    /// One result as `json(_:)` has it, keys in byte order, at `level`.
    static func write(_ result: CheckResult, level: Int, writer: JSONWriter, into output: inout String) {
        let check = result.check
        var object = ObjectWriter(writer: writer, level: level, into: &output)
        object.key("actual")
        var actual = ObjectWriter(writer: writer, level: level + 1, into: &object.output)
        if let answeredBy = result.actual.answeredBy {
            actual.key("answeredBy")
            actual.value(.object(answeredBy.mapValues { JSONValue.integer(Int64($0)) }))
        }
        if let answers = result.actual.answers { actual.key("answers"); actual.value(.array(answers.map(JSONValue.string))) }
        if let destination = result.actual.destination { actual.key("destination"); actual.string(destination) }
        actual.key("detail"); actual.string(result.actual.detail)
        actual.key("latencyMillis"); actual.value(.number(result.actual.latencyMillis))
        if let error = result.actual.observationError { actual.key("observationError"); actual.string(error) }
        if let observed = result.actual.observedSource { actual.key("observedSource"); actual.string(observed) }
        actual.key("outcome"); actual.string(result.actual.outcome.rawValue)
        if let source = result.actual.source { actual.key("source"); actual.string(source) }
        actual.close(into: &object.output)
        if !check.tolerated.isEmpty {
            object.key("alsoAccepted")
            object.value(.array(check.tolerated.map(\.rawValue).sorted().map(JSONValue.string)))
        }
        object.key("claim"); object.string(check.claim.rawValue)
        object.key("expected"); object.string(check.expected.rawValue)
        if let source = check.expectedSource { object.key("expectedSource"); object.string(source.description) }
        object.key("from"); object.string(check.from)
        object.key("matched"); object.value(.bool(result.matched))
        object.key("method"); object.string(check.method)
        if let probe = check.probe {
            object.key("probe")
            var fields = ObjectWriter(writer: writer, level: level + 1, into: &object.output)
            if let expected = probe.expectAddresses { fields.key("expectAddresses"); fields.value(.array(expected.map(JSONValue.string))) }
            if let body = probe.expectBody { fields.key("expectBody"); fields.string(body) }
            if let status = probe.expectStatus { fields.key("expectStatus"); fields.value(.integer(Int64(status))) }
            if let pod = probe.fromPod { fields.key("fromPod"); fields.string(pod) }
            fields.key("kind"); fields.string(probe.kind.rawValue)
            if let name = probe.name { fields.key("name"); fields.string(name) }
            if probe.observesSource { fields.key("observeSource"); fields.value(.bool(true)) }
            if let path = probe.path { fields.key("path"); fields.string(path) }
            if let port = probe.port { fields.key("port"); fields.value(.integer(Int64(port))) }
            if let search = probe.search { fields.key("search"); fields.value(.array(search.map(JSONValue.string))) }
            fields.key("timeoutMillis"); fields.value(.integer(Int64(probe.effectiveTimeoutMillis)))
            fields.key("to"); fields.string(probe.to)
            if let tries = probe.tries { fields.key("tries"); fields.value(.integer(Int64(tries))) }
            fields.close(into: &object.output)
        }
        if let problem = result.problem { object.key("problem"); object.string(problem) }
        object.key("reason"); object.string(check.reason)
        object.key("to"); object.string(check.to)
        object.close(into: &output)
    }

    /// Writes one object's fields in the order given (the caller keeps them in byte order), as
    /// `JSONWriter` writes an object. It takes the text being written over (no copy) and hands
    /// it back on `close`.
    struct ObjectWriter {
        let writer: JSONWriter
        let level: Int
        var output = ""
        var count = 0

        init(writer: JSONWriter, level: Int, into text: inout String) {
            self.writer = writer
            self.level = level
            swap(&output, &text)
            output += "{"
        }

        mutating func key(_ name: String) {
            if count > 0 { output += "," }
            count += 1
            writer.newline(level: level + 1, into: &output)
            JSONWriter.writeString(name, into: &output)
            output += writer.indentWidth > 0 ? ": " : ":"
        }

        mutating func string(_ text: String) { JSONWriter.writeString(text, into: &output) }

        mutating func value(_ value: JSONValue) { writer.write(value, level: level + 1, into: &output) }

        /// Ends the object (`{}` when it has no field) and hands the text back.
        mutating func close(into text: inout String) {
            if count > 0 { writer.newline(level: level, into: &output) }
            output += "}"
            swap(&output, &text)
        }
    }

    static func json(_ result: CheckResult) -> JSONValue {
        let check = result.check
        var object: [String: JSONValue] = [
            "claim": .string(check.claim.rawValue), "from": .string(check.from), "to": .string(check.to), "method": .string(check.method),
            "expected": .string(check.expected.rawValue), "reason": .string(check.reason), "matched": .bool(result.matched),
        ]
        if !check.tolerated.isEmpty { object["alsoAccepted"] = .array(check.tolerated.map(\.rawValue).sorted().map(JSONValue.string)) }
        if let source = check.expectedSource { object["expectedSource"] = .string(source.description) }
        if let problem = result.problem { object["problem"] = .string(problem) }
        if let probe = check.probe {
            var fields: [String: JSONValue] = ["kind": .string(probe.kind.rawValue), "to": .string(probe.to),
                                               "timeoutMillis": .integer(Int64(probe.effectiveTimeoutMillis))]
            if let pod = probe.fromPod { fields["fromPod"] = .string(pod) }
            if let port = probe.port { fields["port"] = .integer(Int64(port)) }
            if let body = probe.expectBody { fields["expectBody"] = .string(body) }
            if let status = probe.expectStatus { fields["expectStatus"] = .integer(Int64(status)) }
            if let path = probe.path { fields["path"] = .string(path) }
            if probe.observesSource { fields["observeSource"] = true }
            if let name = probe.name { fields["name"] = .string(name) }
            if let search = probe.search { fields["search"] = .array(search.map(JSONValue.string)) }
            if let expected = probe.expectAddresses { fields["expectAddresses"] = .array(expected.map(JSONValue.string)) }
            if let tries = probe.tries { fields["tries"] = .integer(Int64(tries)) }
            object["probe"] = .object(fields)
        }
        var actual: [String: JSONValue] = ["outcome": .string(result.actual.outcome.rawValue), "latencyMillis": .number(result.actual.latencyMillis),
                                           "detail": .string(result.actual.detail)]
        if let source = result.actual.source { actual["source"] = .string(source) }
        if let destination = result.actual.destination { actual["destination"] = .string(destination) }
        if let observed = result.actual.observedSource { actual["observedSource"] = .string(observed) }
        if let error = result.actual.observationError { actual["observationError"] = .string(error) }
        if let answers = result.actual.answers { actual["answers"] = .array(answers.map(JSONValue.string)) }
        if let answeredBy = result.actual.answeredBy {
            actual["answeredBy"] = .object(Dictionary(uniqueKeysWithValues: answeredBy.map { ($0.key, JSONValue.integer(Int64($0.value))) }))
        }
        object["actual"] = .object(actual)
        return .object(object)
    }

    // MARK: JUnit

    /// JUnit XML, the format CI systems read: one test suite per claim, one test case per
    /// check; a mismatch is a failure; a claim the run could not show is a skipped case.
    public func junit() -> String {
        var suites: [String] = []
        var totalTests = 0, totalFailures = 0, totalSkipped = 0
        var byClaim: [ConnectivityClaim: [Int]] = [:]
        for index in results.indices { byClaim[results[index].check.claim, default: []].append(index) }
        for claim in ConnectivityClaim.allCases {
            let own = (byClaim[claim] ?? []).map { results[$0] }
            if own.isEmpty {
                guard let reason = notShown[claim] else { continue }
                totalTests += 1
                totalSkipped += 1
                suites.append("""
                      <testsuite name="\(Self.xml(claim.rawValue))" tests="1" failures="0" errors="0" skipped="1" time="0">
                        <testcase classname="podlab.\(Self.xml(claim.rawValue))" name="\(Self.xml(claim.title))" time="0">
                          <skipped message="\(Self.xml(reason))"/>
                        </testcase>
                      </testsuite>
                    """)
                continue
            }
            let failures = own.filter { !$0.matched }.count
            totalTests += own.count
            totalFailures += failures
            let seconds = own.reduce(0.0) { $0 + $1.actual.latencyMillis } / 1000
            var cases: [String] = []
            for result in own {
                let check = result.check
                let name = "\(check.from) → \(check.to): \(check.method)"
                let time = Self.fixed(result.actual.latencyMillis / 1000, digits: 6)
                if let problem = result.problem {
                    let body = "\(problem)\nexpected: \(expectedText(check)) (\(check.reason))\nactual: \(result.actual.outcome.title)"
                        + (result.actual.detail.isEmpty ? "" : " (\(result.actual.detail))")
                    cases.append("""
                            <testcase classname="podlab.\(Self.xml(claim.rawValue))" name="\(Self.xml(name))" time="\(time)">
                              <failure message="\(Self.xml(problem))" type="mismatch">\(Self.xml(body))</failure>
                            </testcase>
                        """)
                } else {
                    cases.append("""
                            <testcase classname="podlab.\(Self.xml(claim.rawValue))" name="\(Self.xml(name))" time="\(time)"/>
                        """)
                }
            }
            suites.append("""
                  <testsuite name="\(Self.xml(claim.rawValue))" tests="\(own.count)" failures="\(failures)" errors="0" skipped="0" time="\(Self.fixed(seconds, digits: 6))">
                    <properties><property name="claim" value="\(Self.xml(claim.title))"/></properties>
                \(cases.joined(separator: "\n"))
                  </testsuite>
                """)
        }
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <testsuites name="podlab test \(Self.xml(lab)) (\(Self.xml(scenario)))" tests="\(totalTests)" failures="\(totalFailures)" errors="0" skipped="\(totalSkipped)" time="\(Self.fixed(elapsedSeconds, digits: 3))">
            \(suites.joined(separator: "\n"))
            </testsuites>

            """
    }

    /// Text escaped for XML attributes and content; control characters other than tab and
    /// newline are dropped (XML 1.0 cannot carry them).
    static func xml(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\n", "\t": out.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
