/// One sample of Prometheus' text exposition format (version 0.0.4): a metric name, its labels
/// and its value. What `podlab mesh top` reads from the sidecars' `:15090/metrics`.
public struct PrometheusSample: Hashable, Sendable {
    public var name: String
    public var labels: [String: String]
    public var value: Double

    public init(name: String, labels: [String: String] = [:], value: Double) {
        self.name = name
        self.labels = labels
        self.value = value
    }
}

public enum PrometheusText {
    public struct ParseError: Error, Hashable, CustomStringConvertible {
        public var line: Int
        public var reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    /// The samples of `text`, in order. Comments (`# HELP`, `# TYPE`) and blank lines are
    /// skipped; a timestamp after the value is ignored; label values are unescaped (`\\`, `\"`,
    /// `\n`). `+Inf`, `-Inf` and `NaN` are values as Go's parser takes them.
    public static func parse(_ text: String) throws(ParseError) -> [PrometheusSample] {
        var samples: [PrometheusSample] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.drop { $0 == " " || $0 == "\t" }
            if line.isEmpty || line.hasPrefix("#") { continue }
            samples.append(try sample(Array(line.utf8), line: index + 1))
        }
        return samples
    }

    static func sample(_ bytes: [UInt8], line: Int) throws(ParseError) -> PrometheusSample {
        var position = 0
        func isNameByte(_ byte: UInt8, first: Bool) -> Bool {
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || byte == 0x5F || byte == 0x3A || (!first && byte >= 0x30 && byte <= 0x39)
        }
        func name() throws(ParseError) -> String {
            let start = position
            while position < bytes.count, isNameByte(bytes[position], first: position == start) { position += 1 }
            guard position > start else { throw ParseError(line: line, reason: "expected a name at column \(start + 1)") }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }
        let metric = try name()
        var labels: [String: String] = [:]
        if position < bytes.count, bytes[position] == UInt8(ascii: "{") {
            position += 1
            while true {
                while position < bytes.count, bytes[position] == UInt8(ascii: " ") { position += 1 }
                guard position < bytes.count else { throw ParseError(line: line, reason: "unterminated label set of \(metric)") }
                if bytes[position] == UInt8(ascii: "}") { position += 1; break }
                let label = try name()
                guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "="), bytes[position + 1] == UInt8(ascii: "\"") else {
                    throw ParseError(line: line, reason: "expected =\" after label \(label)")
                }
                position += 2
                var value: [UInt8] = []
                while true {
                    guard position < bytes.count else { throw ParseError(line: line, reason: "unterminated value of label \(label)") }
                    let byte = bytes[position]
                    position += 1
                    if byte == UInt8(ascii: "\"") { break }
                    if byte == UInt8(ascii: "\\"), position < bytes.count {
                        let escaped = bytes[position]
                        position += 1
                        value.append(escaped == UInt8(ascii: "n") ? 0x0A : escaped)
                    } else {
                        value.append(byte)
                    }
                }
                labels[label] = String(decoding: value, as: UTF8.self)
                while position < bytes.count, bytes[position] == UInt8(ascii: " ") { position += 1 }
                if position < bytes.count, bytes[position] == UInt8(ascii: ",") { position += 1 }
            }
        }
        let rest = String(decoding: bytes[position...], as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard let text = rest.first else { throw ParseError(line: line, reason: "\(metric) has no value") }
        let value: Double
        switch text {
        case "+Inf", "Inf": value = .infinity
        case "-Inf": value = -.infinity
        case "NaN": value = .nan
        default:
            guard let parsed = Double(text) else { throw ParseError(line: line, reason: "\"\(text)\" is not a number") }
            value = parsed
        }
        return PrometheusSample(name: metric, labels: labels, value: value)
    }
}

/// Prometheus' `histogram_quantile`: the φ-quantile of a histogram given as cumulative bucket
/// counts by upper bound, interpolated linearly inside the bucket the rank falls in (Prometheus'
/// `bucketQuantile`, `promql/quantile.go`).
public enum HistogramQuantile {
    /// nil where Prometheus answers NaN: no observations, or no `+Inf` bucket. A rank in the
    /// `+Inf` bucket answers the highest finite bound; the first bucket starts at 0 (when its
    /// bound is positive).
    public static func quantile(_ phi: Double, buckets: [(upperBound: Double, count: Double)]) -> Double? {
        if phi < 0 { return -.infinity }
        if phi > 1 { return .infinity }
        let sorted = buckets.sorted { $0.upperBound < $1.upperBound }
        guard sorted.count >= 2, sorted.last?.upperBound == .infinity else { return nil }
        // Cumulative counts must not fall (a scrape mid-update, or a reset in a difference).
        var counts = sorted.map(\.count)
        for index in counts.indices.dropFirst() where counts[index] < counts[index - 1] { counts[index] = counts[index - 1] }
        let total = counts[counts.count - 1]
        guard total > 0 else { return nil }
        var rank = phi * total
        let index = counts.firstIndex { $0 >= rank } ?? counts.count - 1
        if index == sorted.count - 1 { return sorted[sorted.count - 2].upperBound }
        if index == 0, sorted[0].upperBound <= 0 { return sorted[0].upperBound }
        var start = 0.0
        let end = sorted[index].upperBound
        var count = counts[index]
        if index > 0 {
            start = sorted[index - 1].upperBound
            count -= counts[index - 1]
            rank -= counts[index - 1]
        }
        guard count > 0 else { return end }
        return start + (end - start) * (rank / count)
    }
}
