/// The compact form of a probe batch and its streamed answer (`POST /podlab/v1/probes?stream=true&format=compact`):
/// one text line per probe and per result instead of JSON, written and read without a JSON
/// encoder or decoder (a `podlab test` with Services hands tens of thousands of probes to the
/// agent and as many results back to the CLI).
///
/// Lines are tab-separated fields. A probe:
///
///     p  KIND  FROM-POD  TO  PORT  TIMEOUT  OBSERVE  TRIES  ID  EXPECT-BODY  EXPECT-STATUS  PATH  NAME  SEARCH  EXPECT-ADDRESSES
///
/// A result:
///
///     r  INDEX  OUTCOME  LATENCY  ID  SOURCE  DESTINATION  DETAIL  OBSERVED  OBSERVATION-ERROR  ANSWERS  ANSWERED-BY
///
/// An optional field is empty when absent and starts with `+` when present (`+` alone is the
/// empty string, list or map; OBSERVE is `+1` or `+0`). Lists (SEARCH, EXPECT-ADDRESSES,
/// ANSWERS) are `,`-separated; ANSWERED-BY is `name=count` pairs separated by `,`. In text, `\`,
/// tab, newline, carriage return, `,` and `=` are escaped as `\\`, `\t`, `\n`, `\r`, `\c`, `\e`. The
/// last line of the answer says the batch is done:
///
///     d  ELAPSED  PREPARE  OBSERVE  OPEN  PROBE  ROUNDS  BY-LOOKUP  BY-WITNESS
public enum CompactProbes {
    /// The query value that asks for this form.
    public static let format = "compact"

    /// What one line of the answer holds.
    public enum Line: Hashable, Sendable {
        case result(ProbeStreamLine.Entry)
        /// The batch is done: its wall time in the agent and where the time went.
        case done(elapsedMillis: Double, timings: ProbeTimings)
    }

    /// Why a line cannot be read: the line's number in the answer, the field and the reason.
    public struct DecodingError: Error, Hashable, Sendable, CustomStringConvertible {
        public var line: Int
        public var field: String
        public var reason: String
        /// `probe results` or `probes`.
        public var text: String

        init(line: Int, field: String, reason: String, of text: String = "probe results") {
            self.line = line
            self.field = field
            self.reason = reason
            self.text = text
        }

        public var description: String { "line \(line) of the \(text), \(field): \(reason)" }
    }

    // MARK: Writing

    /// Appends the result line of `entry` (with its newline).
    public static func append(_ entry: ProbeStreamLine.Entry, to output: inout [UInt8]) {
        let result = entry.result
        output.append(UInt8(ascii: "r"))
        field(String(entry.index), to: &output)
        field(result.outcome.rawValue, to: &output)
        field(number(result.latencyMillis), to: &output)
        optional(result.id, to: &output)
        optional(result.source, to: &output)
        optional(result.destination, to: &output)
        output.append(tab)
        escape(result.detail, to: &output)
        optional(result.observedSource, to: &output)
        optional(result.observationError, to: &output)
        output.append(tab)
        if let answers = result.answers {
            output.append(present)
            for (position, answer) in answers.enumerated() {
                if position > 0 { output.append(comma) }
                escape(answer, to: &output)
            }
        }
        output.append(tab)
        if let answeredBy = result.answeredBy {
            output.append(present)
            for (position, pair) in answeredBy.sorted(by: { $0.key < $1.key }).enumerated() {
                if position > 0 { output.append(comma) }
                escape(pair.key, to: &output)
                output.append(equals)
                output.append(contentsOf: String(pair.value).utf8)
            }
        }
        output.append(newline)
    }

    /// Appends the last line, which says the batch is done.
    public static func appendDone(elapsedMillis: Double, timings: ProbeTimings, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "d"))
        for value in [elapsedMillis, timings.prepareMillis, timings.observeMillis, timings.openMillis, timings.probeMillis] {
            field(number(value), to: &output)
        }
        for value in [timings.rounds, timings.observedByLookup, timings.observedByWitness] { field(String(value), to: &output) }
        output.append(newline)
    }

    /// Appends the line of a probe (with its newline).
    public static func append(_ probe: ProbeRequest, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "p"))
        field(probe.kind.rawValue, to: &output)
        optional(probe.fromPod, to: &output)
        output.append(tab)
        escape(probe.to, to: &output)
        optional(probe.port.map(String.init), to: &output)
        optional(probe.timeoutMillis.map(String.init), to: &output)
        optional(probe.observeSource.map { $0 ? "1" : "0" }, to: &output)
        optional(probe.tries.map(String.init), to: &output)
        optional(probe.id, to: &output)
        optional(probe.expectBody, to: &output)
        optional(probe.expectStatus.map(String.init), to: &output)
        optional(probe.path, to: &output)
        optional(probe.name, to: &output)
        list(probe.search, to: &output)
        list(probe.expectAddresses, to: &output)
        output.append(newline)
    }

    /// The probes of a batch written by `append(_:to:)`, one line each.
    public static func probes(_ text: [UInt8]) throws -> [ProbeRequest] {
        var probes: [ProbeRequest] = []
        var number = 0
        for line in text.split(separator: newline, omittingEmptySubsequences: false) {
            number += 1
            if line.isEmpty { continue }
            probes.append(try probe(line, number: number))
        }
        return probes
    }

    /// Reads the line of one probe (without its newline).
    public static func probe(_ line: ArraySlice<UInt8>, number: Int) throws -> ProbeRequest {
        let fields = line.split(separator: tab, omittingEmptySubsequences: false)
        func fail(_ field: String, _ reason: String) -> DecodingError { DecodingError(line: number, field: field, reason: reason, of: "probes") }
        guard fields.first == [UInt8(ascii: "p")] else { throw fail("kind", "\"\(text(fields.first ?? []))\" is not p (a probe)") }
        guard fields.count == 15 else { throw fail("fields", "\(fields.count) fields, a probe line has 15") }
        guard let kind = ProbeKind(rawValue: text(fields[1])) else {
            throw fail("kind", "\"\(text(fields[1]))\" is not a probe kind (known: \(ProbeKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        func optionalText(_ position: Int, _ name: String) throws -> String? {
            do { return try optional(fields[position]) { try unescape($0) } } catch let reason as Reason { throw fail(name, reason.text) }
        }
        func optionalNumber(_ position: Int, _ name: String) throws -> Int? {
            guard let value = try optionalText(position, name) else { return nil }
            guard let number = Int(value) else { throw fail(name, "\"\(value)\" is not a whole number") }
            return number
        }
        func optionalList(_ position: Int, _ name: String) throws -> [String]? {
            do {
                return try optional(fields[position]) { body in
                    guard !body.isEmpty else { return [String]() }
                    return try body.split(separator: comma, omittingEmptySubsequences: false).map { try unescape($0) }
                }
            } catch let reason as Reason { throw fail(name, reason.text) }
        }
        let to: String
        do { to = try unescape(fields[3]) } catch let reason as Reason { throw fail("to", reason.text) }
        var probe = ProbeRequest(fromPod: try optionalText(2, "fromPod"), to: to, kind: kind)
        probe.port = try optionalNumber(4, "port")
        probe.timeoutMillis = try optionalNumber(5, "timeoutMillis")
        switch try optionalText(6, "observeSource") {
        case nil: break
        case "1": probe.observeSource = true
        case "0": probe.observeSource = false
        case let other?: throw fail("observeSource", "\"\(other)\" is neither 1 nor 0")
        }
        probe.tries = try optionalNumber(7, "tries")
        probe.id = try optionalText(8, "id")
        probe.expectBody = try optionalText(9, "expectBody")
        probe.expectStatus = try optionalNumber(10, "expectStatus")
        probe.path = try optionalText(11, "path")
        probe.name = try optionalText(12, "name")
        probe.search = try optionalList(13, "search")
        probe.expectAddresses = try optionalList(14, "expectAddresses")
        return probe
    }

    // MARK: Reading

    /// Reads one line (without its newline); `number` is its position in the answer, for errors.
    public static func decode(_ line: ArraySlice<UInt8>, number: Int) throws -> Line {
        let fields = line.split(separator: tab, omittingEmptySubsequences: false)
        func fail(_ field: String, _ reason: String) -> DecodingError { DecodingError(line: number, field: field, reason: reason) }
        switch fields.first {
        case [UInt8(ascii: "r")]?:
            guard fields.count == 12 else { throw fail("fields", "\(fields.count) fields, a result line has 12") }
            guard let index = Int(text(fields[1])), index >= 0 else { throw fail("index", "\"\(text(fields[1]))\" is not a probe's index") }
            guard let outcome = ProbeOutcome(rawValue: text(fields[2])) else {
                throw fail("outcome", "\"\(text(fields[2]))\" is not a probe outcome (known: \(ProbeOutcome.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard let latency = Double(text(fields[3])), latency.isFinite else { throw fail("latency", "\"\(text(fields[3]))\" is not a number") }
            func optionalText(_ position: Int, _ name: String) throws -> String? {
                do { return try optional(fields[position]) { try unescape($0) } } catch let reason as Reason { throw fail(name, reason.text) }
            }
            var result = ProbeResult(outcome: outcome, latencyMillis: latency)
            result.id = try optionalText(4, "id")
            result.source = try optionalText(5, "source")
            result.destination = try optionalText(6, "destination")
            do { result.detail = try unescape(fields[7]) } catch let reason as Reason { throw fail("detail", reason.text) }
            result.observedSource = try optionalText(8, "observedSource")
            result.observationError = try optionalText(9, "observationError")
            do {
                result.answers = try optional(fields[10]) { body in
                    guard !body.isEmpty else { return [String]() }
                    return try body.split(separator: comma, omittingEmptySubsequences: false).map { try unescape($0) }
                }
            } catch let reason as Reason { throw fail("answers", reason.text) }
            do {
                result.answeredBy = try optional(fields[11]) { body in
                    var counts: [String: Int] = [:]
                    guard !body.isEmpty else { return counts }
                    for pair in body.split(separator: comma, omittingEmptySubsequences: false) {
                        let parts = pair.split(separator: equals, omittingEmptySubsequences: false)
                        guard parts.count == 2, let count = Int(text(parts[1])), count >= 0 else {
                            throw Reason(text: "\"\(text(pair))\" is not name=count")
                        }
                        counts[try unescape(parts[0]), default: 0] += count
                    }
                    return counts
                }
            } catch let reason as Reason { throw fail("answeredBy", reason.text) }
            return .result(ProbeStreamLine.Entry(index: index, result: result))
        case [UInt8(ascii: "d")]?:
            guard fields.count == 9 else { throw fail("fields", "\(fields.count) fields, the last line has 9") }
            let names = ["elapsedMillis", "prepareMillis", "observeMillis", "openMillis", "probeMillis"]
            var numbers: [Double] = []
            for (name, value) in zip(names, fields[1...5]) {
                guard let number = Double(text(value)), number.isFinite, number >= 0 else { throw fail(name, "\"\(text(value))\" is not a duration") }
                numbers.append(number)
            }
            var counts: [Int] = []
            for (name, value) in zip(["rounds", "observedByLookup", "observedByWitness"], fields[6...8]) {
                guard let count = Int(text(value)), count >= 0 else { throw fail(name, "\"\(text(value))\" is not a count") }
                counts.append(count)
            }
            return .done(elapsedMillis: numbers[0], timings: ProbeTimings(
                prepareMillis: numbers[1], observeMillis: numbers[2], openMillis: numbers[3], probeMillis: numbers[4],
                rounds: counts[0], observedByLookup: counts[1], observedByWitness: counts[2]))
        default:
            throw fail("kind", "\"\(text(fields.first ?? []))\" is neither r (a result) nor d (done)")
        }
    }

    // MARK: Parts

    static let tab = UInt8(ascii: "\t"), newline = UInt8(ascii: "\n"), comma = UInt8(ascii: ","), equals = UInt8(ascii: "=")
    static let present = UInt8(ascii: "+"), backslash = UInt8(ascii: "\\")

    struct Reason: Error { var text: String }

    static func field(_ value: String, to output: inout [UInt8]) {
        output.append(tab)
        output.append(contentsOf: value.utf8)
    }

    static func optional(_ value: String?, to output: inout [UInt8]) {
        output.append(tab)
        guard let value else { return }
        output.append(present)
        escape(value, to: &output)
    }

    static func list(_ values: [String]?, to output: inout [UInt8]) {
        output.append(tab)
        guard let values else { return }
        output.append(present)
        for (position, value) in values.enumerated() {
            if position > 0 { output.append(comma) }
            escape(value, to: &output)
        }
    }

    static func optional<T>(_ field: ArraySlice<UInt8>, _ body: (ArraySlice<UInt8>) throws -> T) throws -> T? {
        guard let first = field.first else { return nil }
        guard first == present else { throw Reason(text: "an optional field starts with + or is empty") }
        return try body(field.dropFirst())
    }

    /// Latencies as Swift prints them (the shortest text that reads back as the same number).
    static func number(_ value: Double) -> String { value.isFinite ? value.description : "0" }

    static func escape(_ text: String, to output: inout [UInt8]) {
        for byte in text.utf8 {
            switch byte {
            case backslash: output += [backslash, backslash]
            case tab: output += [backslash, UInt8(ascii: "t")]
            case newline: output += [backslash, UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): output += [backslash, UInt8(ascii: "r")]
            case comma: output += [backslash, UInt8(ascii: "c")]
            case equals: output += [backslash, UInt8(ascii: "e")]
            default: output.append(byte)
            }
        }
    }

    static func text(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

    /// The text of an escaped field.
    static func unescape(_ bytes: ArraySlice<UInt8>) throws -> String {
        guard bytes.contains(backslash) else { return text(bytes) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var escaped = false
        for byte in bytes {
            if escaped {
                switch byte {
                case backslash: out.append(backslash)
                case UInt8(ascii: "t"): out.append(tab)
                case UInt8(ascii: "n"): out.append(newline)
                case UInt8(ascii: "r"): out.append(UInt8(ascii: "\r"))
                case UInt8(ascii: "c"): out.append(comma)
                case UInt8(ascii: "e"): out.append(equals)
                default: throw Reason(text: "\\\(text([byte])) is not an escape (known: \\\\ \\t \\n \\r \\c \\e)")
                }
                escaped = false
            } else if byte == backslash {
                escaped = true
            } else {
                out.append(byte)
            }
        }
        guard !escaped else { throw Reason(text: "the text ends inside an escape") }
        return String(decoding: out, as: UTF8.self)
    }
}
