import Foundation

/// A point in time with one-second precision, as Kubernetes' `metav1.Time` stores it, written
/// in RFC 3339 UTC form (`2021-03-21T11:42:17Z`).
public struct Timestamp: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// Seconds since 1970-01-01T00:00:00Z.
    public let secondsSince1970: Int64

    public init(secondsSince1970: Int64) { self.secondsSince1970 = secondsSince1970 }

    /// The second `date` falls in (fractions are dropped, as Kubernetes drops them when storing).
    public init(_ date: Date) {
        secondsSince1970 = Int64(date.timeIntervalSince1970.rounded(.down))
    }

    /// The current time.
    public static func now() -> Timestamp { Timestamp(Date()) }

    public var date: Date { Date(timeIntervalSince1970: TimeInterval(secondsSince1970)) }

    /// This time plus `seconds`.
    public func adding(seconds: Int64) -> Timestamp { Timestamp(secondsSince1970: secondsSince1970 + seconds) }

    /// Seconds from `earlier` to this time (negative when `earlier` is later).
    public func seconds(since earlier: Timestamp) -> Int64 { secondsSince1970 - earlier.secondsSince1970 }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.secondsSince1970 < rhs.secondsSince1970 }

    /// Why a timestamp text was rejected.
    public struct ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        public var text: String
        public var reason: String
        public var description: String { "invalid timestamp \"\(text)\": \(reason)" }
    }

    /// Parses RFC 3339: `YYYY-MM-DDTHH:MM:SS`, optional fraction, then `Z` or `±HH:MM`.
    /// Lower-case `t` and `z` are accepted, as Go accepts them.
    public init(parsing text: String) throws(ParseError) {
        let bytes = Array(text.utf8)
        func fail(_ reason: String) -> ParseError {
            ParseError(text: text, reason: reason + " (expected RFC 3339, like 2021-03-21T11:42:17Z)")
        }
        func number(_ start: Int, _ count: Int) throws(ParseError) -> Int64 {
            guard start + count <= bytes.count else { throw fail("too short") }
            var value: Int64 = 0
            for byte in bytes[start..<start + count] {
                guard (48...57).contains(byte) else { throw fail("expected a digit at position \(start + 1)") }
                value = value * 10 + Int64(byte - 48)
            }
            return value
        }
        func expect(_ index: Int, _ characters: String) throws(ParseError) {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else {
                throw fail("expected '\(characters.prefix(1))' at position \(index + 1)")
            }
        }
        let year = try number(0, 4)
        try expect(4, "-")
        let month = try number(5, 2)
        try expect(7, "-")
        let day = try number(8, 2)
        try expect(10, "Tt")
        let hour = try number(11, 2)
        try expect(13, ":")
        let minute = try number(14, 2)
        try expect(16, ":")
        let second = try number(17, 2)
        guard (1...12).contains(month) else { throw fail("month \(month) is out of range") }
        guard (1...Timestamp.daysIn(month: month, year: year)).contains(day) else { throw fail("day \(day) is out of range") }
        guard hour < 24, minute < 60, second < 60 else { throw fail("time of day is out of range") }
        var index = 19
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < bytes.count, (48...57).contains(bytes[index]) { index += 1 }
            guard index > start else { throw fail("expected digits after '.'") }
        }
        var offset: Int64 = 0
        guard index < bytes.count else { throw fail("missing time zone") }
        switch bytes[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            index += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign: Int64 = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            let zoneHours = try number(index + 1, 2)
            try expect(index + 3, ":")
            let zoneMinutes = try number(index + 4, 2)
            guard zoneHours < 24, zoneMinutes < 60 else { throw fail("time zone offset is out of range") }
            offset = sign * (zoneHours * 3600 + zoneMinutes * 60)
            index += 6
        default:
            throw fail("expected 'Z' or a time zone offset at position \(index + 1)")
        }
        guard index == bytes.count else { throw fail("unexpected text after the time zone") }
        let days = Timestamp.daysSince1970(year: year, month: month, day: day)
        secondsSince1970 = days * 86_400 + hour * 3600 + minute * 60 + second - offset
    }

    /// RFC 3339 in UTC with whole seconds.
    public var description: String {
        let days = secondsSince1970 >= 0 ? secondsSince1970 / 86_400 : (secondsSince1970 - 86_399) / 86_400
        let secondOfDay = secondsSince1970 - days * 86_400
        let (year, month, day) = Timestamp.civil(fromDays: days)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))Z"
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try Timestamp(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    static func isLeap(_ year: Int64) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to a civil date (Howard Hinnant's `days_from_civil`).
    static func daysSince1970(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The civil date of a day count from 1970-01-01 (`civil_from_days`).
    static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
