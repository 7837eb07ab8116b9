/// How go-yaml v2 (the YAML library behind sigs.k8s.io/yaml, which kubectl and the API server
/// use) reads a plain YAML scalar. podlab reads and writes YAML with the same rules, so a
/// manifest means the same thing to podlab as to kubectl: `yes`, `on` and `y` are booleans,
/// `0755` is octal, `1e3` is a float, `2021-03-21` stays a string, `1:20` stays a string.
enum YAMLScalar {
    /// What a plain scalar resolves to.
    enum Resolved: Equatable {
        case null
        case bool(Bool)
        case integer(Int64)
        /// An integer above `Int64.max` (go-yaml reads it as uint64).
        case unsignedInteger(UInt64)
        case float(Double)
        /// A timestamp: decoded as a string, but quoted when written.
        case timestamp
        case string
    }

    static func resolve(_ text: String) -> Resolved {
        guard let first = text.unicodeScalars.first else { return .null }
        let mapped: Resolved? = switch text {
        case "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON": .bool(true)
        case "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF": .bool(false)
        case "~", "null", "Null", "NULL": .null
        case ".nan", ".NaN", ".NAN": .float(.nan)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": .float(.infinity)
        case "-.inf", "-.Inf", "-.INF": .float(-.infinity)
        default: nil
        }
        switch first {
        case "y", "Y", "n", "N", "t", "T", "f", "F", "o", "O", "~":
            return mapped ?? .string
        case ".":
            if let mapped { return mapped }
            if let value = parseGoFloat(text) { return .float(value) }
            return .string
        case "+", "-", "0"..."9":
            if let mapped { return mapped }
            if isTimestamp(text) { return .timestamp }
            let plain = String(text.unicodeScalars.filter { $0 != "_" })
            if let value = parseGoInteger(plain) { return value }
            if isYAMLStyleFloat(plain), let value = parseGoFloat(plain) { return .float(value) }
            return .string
        default:
            return .string
        }
    }

    /// Integers as Go's `strconv.ParseInt(s, 0, 64)` reads them: optional sign, then
    /// `0x`/`0o`/`0b` prefixes, a leading `0` for octal, or decimal; falls back to uint64.
    static func parseGoInteger(_ text: String) -> Resolved? {
        var digits = Substring(text)
        var negative = false
        if let sign = digits.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            digits = digits.dropFirst()
        }
        let radix: Int
        let lower = digits.lowercased()
        if lower.hasPrefix("0x") {
            radix = 16; digits = digits.dropFirst(2)
        } else if lower.hasPrefix("0o") {
            radix = 8; digits = digits.dropFirst(2)
        } else if lower.hasPrefix("0b") {
            radix = 2; digits = digits.dropFirst(2)
        } else if digits.count > 1, digits.first == "0" {
            radix = 8; digits = digits.dropFirst()
        } else {
            radix = 10
        }
        guard !digits.isEmpty, digits.unicodeScalars.allSatisfy({ $0.isASCII && $0.properties.isASCIIHexDigit }),
              let magnitude = UInt64(digits, radix: radix) else { return nil }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return .integer(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude))
        }
        if magnitude <= UInt64(Int64.max) { return .integer(Int64(magnitude)) }
        return .unsignedInteger(magnitude)
    }

    /// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`, go-yaml's float pattern.
    static func isYAMLStyleFloat(_ text: String) -> Bool {
        var scalars = Substring(text).unicodeScalars[...]
        func digits() -> Int {
            var count = 0
            while let next = scalars.first, ("0"..."9").contains(next) { scalars = scalars.dropFirst(); count += 1 }
            return count
        }
        if let sign = scalars.first, sign == "+" || sign == "-" { scalars = scalars.dropFirst() }
        if scalars.first == "." {
            scalars = scalars.dropFirst()
            guard digits() > 0 else { return false }
        } else {
            guard digits() > 0 else { return false }
            if scalars.first == "." {
                scalars = scalars.dropFirst()
                _ = digits()
            }
        }
        if let e = scalars.first, e == "e" || e == "E" {
            scalars = scalars.dropFirst()
            if let sign = scalars.first, sign == "+" || sign == "-" { scalars = scalars.dropFirst() }
            guard digits() > 0 else { return false }
        }
        return scalars.isEmpty
    }

    /// Decimal floats only (Go's ParseFloat also takes hex and `inf`, which YAML spells differently).
    static func parseGoFloat(_ text: String) -> Double? {
        guard isYAMLStyleFloat(text) else { return nil }
        return Double(text)
    }

    /// go-yaml's timestamp check: `YYYY-M-D`, optionally followed by `T`/`t`/space and `h:m:s`,
    /// fraction and zone. Such scalars decode as strings but must be quoted when written.
    static func isTimestamp(_ text: String) -> Bool {
        var scanner = ScalarScanner(text)
        guard let _ = scanner.number(digits: 4...4), scanner.consume("-"),
              let month = scanner.number(digits: 1...2), (1...12).contains(month), scanner.consume("-"),
              let day = scanner.number(digits: 1...2), (1...31).contains(day) else { return false }
        if scanner.atEnd { return true }
        guard scanner.consume("T") || scanner.consume("t") || scanner.consume(" ") else { return false }
        guard let hour = scanner.number(digits: 1...2), hour < 24, scanner.consume(":"),
              let minute = scanner.number(digits: 1...2), minute < 60, scanner.consume(":"),
              let second = scanner.number(digits: 1...2), second < 60 else { return false }
        if scanner.consume(".") { guard scanner.number(digits: 1...9) != nil else { return false } }
        if scanner.atEnd { return true }
        if scanner.consume("Z") { return scanner.atEnd }
        guard scanner.consume("+") || scanner.consume("-"), scanner.number(digits: 1...2) != nil,
              scanner.consume(":"), scanner.number(digits: 2...2) != nil else { return false }
        return scanner.atEnd
    }

    /// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`: YAML 1.1 base-60 floats, which go-yaml
    /// does not read but quotes on output for other parsers' sake.
    static func isBase60Float(_ text: String) -> Bool {
        var scanner = ScalarScanner(text)
        _ = scanner.consume("+") || scanner.consume("-")
        guard scanner.number(digits: 1...1) != nil else { return false }
        scanner.skip { ("0"..."9").contains($0) || $0 == "_" }
        var groups = 0
        while scanner.consume(":") {
            guard let group = scanner.number(digits: 1...2), group < 60 else { return false }
            groups += 1
        }
        guard groups > 0 else { return false }
        if scanner.consume(".") { scanner.skip { ("0"..."9").contains($0) || $0 == "_" } }
        return scanner.atEnd
    }
}

/// A cursor over the Unicode scalars of a short text.
private struct ScalarScanner {
    let scalars: [Unicode.Scalar]
    var index = 0

    init(_ text: String) { scalars = Array(text.unicodeScalars) }

    var atEnd: Bool { index == scalars.count }

    mutating func consume(_ scalar: Unicode.Scalar) -> Bool {
        guard index < scalars.count, scalars[index] == scalar else { return false }
        index += 1
        return true
    }

    /// Reads up to `digits.upperBound` ASCII digits; nil if fewer than `digits.lowerBound`.
    mutating func number(digits: ClosedRange<Int>) -> Int? {
        var value = 0, count = 0
        while index < scalars.count, count < digits.upperBound, ("0"..."9").contains(scalars[index]) {
            value = value * 10 + Int(scalars[index].value - 48)
            index += 1
            count += 1
        }
        return count >= digits.lowerBound ? value : nil
    }

    mutating func skip(while predicate: (Unicode.Scalar) -> Bool) {
        while index < scalars.count, predicate(scalars[index]) { index += 1 }
    }
}
