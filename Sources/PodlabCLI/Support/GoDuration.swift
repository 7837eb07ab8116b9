/// Durations written the way kubectl's flags take them (Go's `time.ParseDuration`):
/// `90s`, `1m30s`, `1h`, `500ms`, `0`. A bare number is taken as seconds.
enum GoDuration {
    static func seconds(_ text: String, flag: String) throws -> Double {
        if let plain = Double(text) { return plain }
        var rest = Substring(text)
        var total = 0.0
        let units: [(String, Double)] = [("ms", 0.001), ("h", 3600), ("m", 60), ("s", 1), ("us", 0.000_001), ("ns", 0.000_000_001)]
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else {
                throw CLIError("invalid argument \"\(text)\" for \"\(flag)\" flag: time: invalid duration \"\(text)\"")
            }
            rest = rest.dropFirst(number.count)
            guard let (unit, factor) = units.first(where: { rest.hasPrefix($0.0) }) else {
                throw CLIError("invalid argument \"\(text)\" for \"\(flag)\" flag: time: missing unit in duration \"\(text)\"")
            }
            rest = rest.dropFirst(unit.count)
            total += value * factor
        }
        return total
    }
}
