#if canImport(Glibc)
import Glibc
#endif

/// Monotonic time in nanoseconds.
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// A point in monotonic time after which an operation gives up; `nil` deadlines never expire.
struct Deadline: Comparable {
    var nanoseconds: UInt64

    static func after(seconds: Double) -> Deadline {
        Deadline(nanoseconds: monotonicNanoseconds() &+ UInt64(max(0, seconds) * 1_000_000_000))
    }

    /// The earlier of two optional deadlines.
    static func earliest(_ a: Deadline?, _ b: Deadline?) -> Deadline? {
        switch (a, b) {
        case let (a?, b?): min(a, b)
        case let (a?, nil): a
        case let (nil, b?): b
        case (nil, nil): nil
        }
    }

    /// Milliseconds left, for `poll` (0 when expired).
    var remainingMilliseconds: Int32 {
        let now = monotonicNanoseconds()
        guard nanoseconds > now else { return 0 }
        return Int32(min(UInt64(Int32.max), (nanoseconds - now + 999_999) / 1_000_000))
    }

    var hasExpired: Bool { monotonicNanoseconds() >= nanoseconds }

    static func < (lhs: Deadline, rhs: Deadline) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
}

/// A `poll` timeout for an optional deadline: -1 waits forever.
func pollTimeout(_ deadline: Deadline?) -> Int32 { deadline?.remainingMilliseconds ?? -1 }

/// Formats wall-clock time with `strftime`.
enum WallClock {
    /// `format` applied to the current time, in local time (UTC inside pods) or UTC.
    static func format(_ format: String, utc: Bool = false, time: time_t = Glibc.time(nil)) -> String {
        var t = time
        var parts = tm()
        if utc { gmtime_r(&t, &parts) } else { localtime_r(&t, &parts) }
        var buffer = [CChar](repeating: 0, count: 128)
        let count = strftime(&buffer, buffer.count, format, &parts)
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// An HTTP date (RFC 9110 IMF-fixdate): `Tue, 01 Jul 2024 10:00:00 GMT`.
    static func httpDate(_ time: time_t = Glibc.time(nil)) -> String {
        // strftime's %a/%b follow the C locale, which is what HTTP wants.
        format("%a, %d %b %Y %H:%M:%S GMT", utc: true, time: time)
    }

    /// Microseconds of the current second, for Apache's error-log timestamps.
    static func microseconds() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return ts.tv_nsec / 1000
    }
}

/// Sleeps for `seconds` (fractions allowed), resuming after signals that do not end the process.
func sleepFor(seconds: Double) {
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}
