/// kubectl's way of printing ages and durations (`HumanDuration` from
/// k8s.io/apimachinery/pkg/util/duration): about two significant figures, `0s`, `59s`,
/// `2m3s`, `14m`, `6h4m`, `3d`, `2y`...
public enum HumanDuration {
    /// The duration of `seconds`; slightly negative values (clock skew) print as `0s`, more
    /// negative ones as `<invalid>`.
    public static func string(seconds: Int64) -> String {
        if seconds < -1 { return "<invalid>" }
        if seconds < 0 { return "0s" }
        if seconds < 60 * 2 { return "\(seconds)s" }
        let minutes = seconds / 60
        if minutes < 10 {
            let remainder = seconds % 60
            return remainder == 0 ? "\(minutes)m" : "\(minutes)m\(remainder)s"
        }
        if minutes < 60 * 3 { return "\(minutes)m" }
        let hours = seconds / 3600
        if hours < 8 {
            let remainder = minutes % 60
            return remainder == 0 ? "\(hours)h" : "\(hours)h\(remainder)m"
        }
        if hours < 48 { return "\(hours)h" }
        if hours < 24 * 8 {
            let remainder = hours % 24
            return remainder == 0 ? "\(hours / 24)d" : "\(hours / 24)d\(remainder)h"
        }
        if hours < 24 * 365 * 2 { return "\(hours / 24)d" }
        if hours < 24 * 365 * 8 {
            let remainder = (hours / 24) % 365
            return remainder == 0 ? "\(hours / 24 / 365)y" : "\(hours / 24 / 365)y\(remainder)d"
        }
        return "\(hours / 24 / 365)y"
    }

    /// kubectl's `translateTimestampSince`: the age of `timestamp` at `now`, `<unknown>` if unset.
    public static func since(_ timestamp: Timestamp?, now: Timestamp) -> String {
        guard let timestamp else { return "<unknown>" }
        return string(seconds: now.seconds(since: timestamp))
    }
}
