/// When the bytes of a container's log reached the file. Containers write their log files
/// themselves (no pipe through the agent, so they outlive it), so the agent cannot stamp each
/// line as the kubelet's CRI log format does; it watches each running container's log instead
/// and appends a mark whenever the file grew: "the first `end` bytes were in the file at
/// `nanoseconds`". A line's time is that of the first mark that covers its end — the moment
/// the agent saw it complete, as the kubelet's timestamp is the moment its log reader got it.
public struct LogTimeMark: Equatable, Sendable {
    /// The file's size when it was seen.
    public var end: UInt64
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    public var nanoseconds: Int64

    public init(end: UInt64, nanoseconds: Int64) {
        self.end = end
        self.nanoseconds = nanoseconds
    }

    /// A mark's size in the index file: `end` and `nanoseconds`, 8 bytes each, little-endian.
    public static let encodedSize = 16

    public var encoded: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.encodedSize)
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: end >> UInt64(shift))) }
        let time = UInt64(bitPattern: nanoseconds)
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: time >> UInt64(shift))) }
        return bytes
    }

    /// The whole marks in `bytes`; a torn last one (an agent killed mid-write) is left out.
    public static func decode(_ bytes: some Collection<UInt8>) -> [LogTimeMark] {
        let bytes = Array(bytes)
        var marks: [LogTimeMark] = []
        marks.reserveCapacity(bytes.count / encodedSize)
        var index = 0
        while index + encodedSize <= bytes.count {
            var end: UInt64 = 0
            var time: UInt64 = 0
            for byte in 0..<8 {
                end |= UInt64(bytes[index + byte]) << UInt64(8 * byte)
                time |= UInt64(bytes[index + 8 + byte]) << UInt64(8 * byte)
            }
            marks.append(LogTimeMark(end: end, nanoseconds: Int64(bitPattern: time)))
            index += encodedSize
        }
        return marks
    }
}

/// A log's marks, in the order they were written (ends and times both grow).
public struct ContainerLogTimes: Sendable {
    public private(set) var marks: [LogTimeMark]

    public init(_ marks: [LogTimeMark] = []) { self.marks = marks }

    public mutating func append(contentsOf more: [LogTimeMark]) { marks.append(contentsOf: more) }

    /// The bytes the marks cover.
    public var coveredEnd: UInt64 { marks.last?.end ?? 0 }

    /// The time of a line that ends (after its newline) at `lineEnd`: the first mark that covers
    /// it; nil when none does yet.
    public func time(ofLineEndingAt lineEnd: UInt64) -> Int64? {
        var low = 0, high = marks.count
        while low < high {
            let middle = (low + high) / 2
            if marks[middle].end >= lineEnd { high = middle } else { low = middle + 1 }
        }
        return low < marks.count ? marks[low].nanoseconds : nil
    }

    /// Where lines at or after `since` can begin: every byte before this offset was in the file
    /// before `since` (the line holding the offset may still end after it).
    public func offset(since: Int64) -> UInt64 {
        var low = 0, high = marks.count
        while low < high {
            let middle = (low + high) / 2
            if marks[middle].nanoseconds < since { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? 0 : marks[low - 1].end
    }
}

/// The lines of a log as `pods/log` answers with `timestamps` or `sinceSeconds`/`sinceTime`:
/// lines older than `since` left out, each other one after its time in the kubelet's fixed
/// nanosecond form (`2026-12-06T18:00:00.123456789Z line`). Fed the file's bytes in order, a
/// piece at a time; a line is given out once its newline is read.
public struct LogLineSelection: Sendable {
    /// Nanoseconds since 1970; older lines are left out.
    public var since: Int64?
    public var timestamps: Bool
    private var pending: [UInt8] = []

    public init(since: Int64?, timestamps: Bool) {
        self.since = since
        self.timestamps = timestamps
    }

    /// The whole lines in `bytes` (which end at file offset `end`, after what was fed before),
    /// with `fallback` as the time of a line no mark covers (the file's modification time: the
    /// bytes an agent that was not running never saw).
    public mutating func feed(_ bytes: [UInt8], endingAt end: UInt64, times: ContainerLogTimes, fallback: Int64) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + (timestamps ? bytes.count / 2 : 0))
        let start = end - UInt64(bytes.count)
        var lineStart = 0
        while let newline = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
            pending.append(contentsOf: bytes[lineStart...newline])
            emit(pending, time: times.time(ofLineEndingAt: start + UInt64(newline + 1)) ?? fallback, into: &output)
            pending.removeAll(keepingCapacity: true)
            lineStart = newline + 1
        }
        pending.append(contentsOf: bytes[lineStart...])
        return output
    }

    /// The last line when it has no newline (the log ended mid-line), as the kubelet gives it.
    public mutating func finish(time: Int64) -> [UInt8] {
        guard !pending.isEmpty else { return [] }
        var output: [UInt8] = []
        emit(pending, time: time, into: &output)
        pending.removeAll()
        return output
    }

    private func emit(_ line: [UInt8], time: Int64, into output: inout [UInt8]) {
        if let since, time < since { return }
        if timestamps {
            output.append(contentsOf: LogLineSelection.timestamp(time).utf8)
            output.append(UInt8(ascii: " "))
        }
        output.append(contentsOf: line)
    }

    /// RFC 3339 in UTC with nine fraction digits, the kubelet's `RFC3339NanoFixed`.
    public static func timestamp(_ nanoseconds: Int64) -> String {
        let seconds = nanoseconds >= 0 ? nanoseconds / 1_000_000_000 : (nanoseconds - 999_999_999) / 1_000_000_000
        let fraction = String(nanoseconds - seconds * 1_000_000_000)
        let whole = Timestamp(secondsSince1970: seconds).description.dropLast()
        return "\(whole).\(String(repeating: "0", count: 9 - fraction.count))\(fraction)Z"
    }
}

/// `pods/log`'s time options as kube-apiserver reads and checks them (`ValidatePodLogOptions`):
/// `sinceSeconds` (at least 1) or `sinceTime` (RFC 3339), never both, and `timestamps`.
public struct PodLogTimeOptions: Equatable, Sendable {
    /// Nanoseconds since 1970; lines older than this are left out.
    public var since: Int64?
    public var timestamps: Bool

    public init(since: Int64? = nil, timestamps: Bool = false) {
        self.since = since
        self.timestamps = timestamps
    }

    /// Whether lines need their times at all (else the file is copied as it is).
    public var needsTimes: Bool { since != nil || timestamps }

    /// The options of a request for pod `name` at `now` (nanoseconds since 1970): 400 for a
    /// value that is no number or time, 422 `PodLogOptions "name" is invalid` for one the
    /// validation refuses.
    public static func parse(name: String, sinceSeconds: String?, sinceTime: String?, timestamps: String?, tailLines: String?,
                             now: Int64) throws(APIStatus) -> PodLogTimeOptions {
        var errors: [FieldError] = []
        var options = PodLogTimeOptions(timestamps: timestamps == "true" || timestamps == "1")
        if let tailLines {
            guard let lines = Int64(tailLines) else { throw APIStatus.badRequest("tailLines: invalid value \"\(tailLines)\": not an integer") }
            if lines < 0 { errors.append(.invalid("tailLines", .integer(lines), "must be greater than or equal to 0")) }
        }
        if let sinceSeconds {
            guard let seconds = Int64(sinceSeconds) else { throw APIStatus.badRequest("sinceSeconds: invalid value \"\(sinceSeconds)\": not an integer") }
            if seconds < 1 {
                errors.append(.invalid("sinceSeconds", .integer(seconds), "must be greater than 0"))
            } else {
                options.since = now - min(seconds, Int64.max / 2_000_000_000) * 1_000_000_000
            }
            if sinceTime != nil { errors.append(.forbidden(.root, "at most one of `sinceTime` or `sinceSeconds` may be specified")) }
        }
        if let sinceTime, sinceSeconds == nil {
            do {
                options.since = try Timestamp(parsing: sinceTime).secondsSince1970 * 1_000_000_000
            } catch {
                throw APIStatus.badRequest("sinceTime: \(error.description)")
            }
        }
        guard errors.isEmpty else { throw APIStatus.invalid(kind: "PodLogOptions", name: name, errors: errors) }
        return options
    }
}
