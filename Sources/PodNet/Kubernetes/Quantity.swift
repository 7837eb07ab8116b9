/// A Kubernetes resource quantity (`500m`, `128Mi`, `1.5`, `2e3`): a fixed-point number that
/// remembers which kind of suffix it was written with, parsed and printed as
/// `k8s.io/apimachinery/pkg/api/resource.Quantity` does.
///
/// The value is kept exactly in units of 10⁻⁹ (`nanos`); like Kubernetes, anything finer is
/// rounded up (away from zero) to 1n. The canonical text (`description`) follows Kubernetes'
/// rules: no fractional digits, the largest suffix that loses nothing, `1.5` → `1500m`,
/// `1.5Gi` → `1536Mi`, `1000k` → `1M`. Values beyond ±1.7·10²⁹ (far past any resource Kubernetes
/// can hold in an int64) are refused as not numeric.
public struct Quantity: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The kind of suffix the quantity was written with, kept for printing.
    public enum Format: String, Hashable, Sendable {
        /// `12e6`
        case decimalExponent = "DecimalExponent"
        /// `12Mi` (12 × 2²⁰)
        case binarySI = "BinarySI"
        /// `12M` (12 × 10⁶), and plain numbers.
        case decimalSI = "DecimalSI"
    }

    /// The value × 10⁹.
    public let nanos: Int128
    public let format: Format

    static let nanosPerUnit: Int128 = 1_000_000_000
    /// Kubernetes caps binary quantities at 2⁶³−1.
    static let binaryMaximumNanos = Int128(Int64.max) * nanosPerUnit

    /// A quantity of `nanos` × 10⁻⁹ in `format`.
    public init(nanos: Int128, format: Format = .decimalSI) {
        self.nanos = nanos
        self.format = format
    }

    /// A whole number of units (`2` CPUs, `16318004Ki` of memory as `16318004 * 1024` in `.binarySI`).
    public init(_ units: Int64, format: Format = .decimalSI) {
        self.init(nanos: Int128(units) * Quantity.nanosPerUnit, format: format)
    }

    public static let zero = Quantity(nanos: 0)

    public var isZero: Bool { nanos == 0 }

    /// The value in thousandths, rounded up (Kubernetes' `MilliValue()`).
    public var milliValue: Int128 { Quantity.divideRoundingUp(nanos, 1_000_000) }

    /// The value, rounded up (Kubernetes' `Value()`).
    public var value: Int128 { Quantity.divideRoundingUp(nanos, Quantity.nanosPerUnit) }

    /// Quantities compare by value, whatever their suffix (`1Ki` == `1024`), as `Cmp` does.
    public static func == (lhs: Quantity, rhs: Quantity) -> Bool { lhs.nanos == rhs.nanos }
    public static func < (lhs: Quantity, rhs: Quantity) -> Bool { lhs.nanos < rhs.nanos }
    public func hash(into hasher: inout Hasher) { hasher.combine(nanos) }

    // MARK: Parsing

    /// Why a text is not a quantity, in Kubernetes' words.
    public enum ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        case formatWrong
        case numeric
        case suffix

        public var description: String {
            switch self {
            case .formatWrong: "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
            case .numeric: "unable to parse numeric part of quantity"
            case .suffix: "unable to parse quantity's suffix"
            }
        }
    }

    static let decimalSuffixes: [String: Int] = ["n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18]
    static let binarySuffixes: [String: Int] = ["Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60]

    /// Parses `text` as Kubernetes' `ParseQuantity` does.
    public init(parsing text: String) throws(ParseError) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw .formatWrong }
        let scanned = try Quantity.scan(bytes)
        let suffix = scanned.suffix
        var decimalExponent = 0
        var binaryExponent = 0
        let format: Format
        if let exponent = Quantity.decimalSuffixes[suffix] {
            decimalExponent = exponent
            format = .decimalSI
        } else if let exponent = Quantity.binarySuffixes[suffix] {
            binaryExponent = exponent
            format = .binarySI
        } else if suffix.utf8.count > 1, suffix.hasPrefix("e") || suffix.hasPrefix("E"), let exponent = Int(suffix.dropFirst()) {
            // Far beyond what any quantity can hold either way.
            guard abs(exponent) < 1000 else { throw .numeric }
            decimalExponent = exponent
            format = .decimalExponent
        } else {
            throw .suffix
        }

        // The digits as an integer, with the decimal point moved into the exponent.
        var digits = Array((scanned.numerator + scanned.fraction).drop { $0 == "0" })
        decimalExponent -= scanned.fraction.count
        while digits.last == "0" {
            digits.removeLast()
            decimalExponent += 1
        }
        guard digits.count <= 38 else { throw .numeric }
        var mantissa: Int128 = 0
        for digit in digits { mantissa = mantissa * 10 + Int128(digit.asciiValue! - UInt8(ascii: "0")) }
        for _ in 0..<binaryExponent {
            let (doubled, overflow) = mantissa.multipliedReportingOverflow(by: 2)
            guard !overflow else { throw .numeric }
            mantissa = doubled
        }

        var nanos: Int128
        let shift = decimalExponent + 9
        if mantissa == 0 {
            nanos = 0
        } else if shift >= 0 {
            nanos = mantissa
            for _ in 0..<shift {
                let (scaled, overflow) = nanos.multipliedReportingOverflow(by: 10)
                guard !overflow else { throw .numeric }
                nanos = scaled
            }
        } else if shift < -38 {
            nanos = 1
        } else {
            var divisor: Int128 = 1
            for _ in 0 ..< -shift { divisor *= 10 }
            nanos = Quantity.divideRoundingUp(mantissa, divisor)
        }
        var kept = format
        if format == .binarySI {
            nanos = min(nanos, Quantity.binaryMaximumNanos)
            // Less than one in binary: shown in decimal, as Kubernetes does.
            if nanos > 0 && nanos < Quantity.nanosPerUnit { kept = .decimalSI }
        }
        self.init(nanos: scanned.negative ? -nanos : nanos, format: kept)
    }

    /// Kubernetes' `parseQuantityString`: sign, number, suffix. Permissive on purpose (`1.G`
    /// and a lone `+` parse); the suffix is interpreted afterwards.
    private static func scan(_ bytes: [UInt8]) throws(ParseError) -> (negative: Bool, numerator: [Character], fraction: [Character], suffix: String) {
        var position = 0
        var negative = false
        if bytes[0] == UInt8(ascii: "-") {
            negative = true
            position += 1
        } else if bytes[0] == UInt8(ascii: "+") {
            position += 1
        }
        while position < bytes.count, bytes[position] == UInt8(ascii: "0") { position += 1 }
        if position == bytes.count { return (negative, [], [], "") }
        func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
        var numerator: [Character] = []
        while position < bytes.count, isDigit(bytes[position]) {
            numerator.append(Character(UnicodeScalar(bytes[position])))
            position += 1
        }
        var fraction: [Character] = []
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            while position < bytes.count, isDigit(bytes[position]) {
                fraction.append(Character(UnicodeScalar(bytes[position])))
                position += 1
            }
        }
        let suffixStart = position
        let suffixLetters = Set("eEinumkKMGTP".utf8)
        while position < bytes.count, suffixLetters.contains(bytes[position]) { position += 1 }
        if position < bytes.count, bytes[position] == UInt8(ascii: "-") || bytes[position] == UInt8(ascii: "+") { position += 1 }
        while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        guard position == bytes.count else { throw .formatWrong }
        return (negative, numerator, fraction, String(decoding: bytes[suffixStart...], as: UTF8.self))
    }

    // MARK: Printing

    /// The canonical text, as Kubernetes prints the quantity (`CanonicalizeBytes`).
    public var description: String {
        guard nanos != 0 else { return "0" }
        var format = self.format
        if format == .binarySI {
            let magnitude = nanos.magnitude
            if magnitude < UInt128(1024) * UInt128(Quantity.nanosPerUnit) || nanos % Quantity.nanosPerUnit != 0 {
                format = .decimalSI
            }
        }
        if format == .binarySI {
            var amount = nanos / Quantity.nanosPerUnit
            var exponent = 0
            while amount.magnitude >= 1024, amount % 1024 == 0, exponent < 60 {
                amount /= 1024
                exponent += 10
            }
            let suffix = Quantity.binarySuffixes.first { $0.value == exponent }?.key ?? ""
            return "\(amount)\(suffix)"
        }
        var amount = nanos
        var exponent = -9
        while amount.magnitude >= 10, amount % 10 == 0 {
            amount /= 10
            exponent += 1
        }
        // The exponent goes down to a multiple of 3 (Go's `%` keeps the sign).
        switch exponent % 3 {
        case 1, -2:
            amount *= 10
            exponent -= 1
        case 2, -1:
            amount *= 100
            exponent -= 2
        default:
            break
        }
        if format == .decimalSI, let suffix = Quantity.decimalSuffixes.first(where: { $0.value == exponent })?.key {
            return "\(amount)\(suffix)"
        }
        return exponent == 0 ? "\(amount)" : "\(amount)e\(exponent)"
    }

    /// ⌈numerator / divisor⌉ for a positive divisor, away from zero for negative numerators
    /// (Kubernetes rounds magnitudes up).
    static func divideRoundingUp(_ numerator: Int128, _ divisor: Int128) -> Int128 {
        let quotient = numerator / divisor
        guard numerator % divisor != 0 else { return quotient }
        return numerator < 0 ? quotient - 1 : quotient + 1
    }
}

extension Quantity {
    /// A quantity from its JSON form: a string (`"500m"`) or a bare number (`1`, `0.5`), as
    /// Kubernetes' `UnmarshalJSON` accepts.
    public init(json value: JSONValue) throws(ParseError) {
        switch value {
        case let .string(text): try self.init(parsing: text)
        case let .integer(number): try self.init(parsing: String(number))
        case let .number(number): try self.init(parsing: number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number))
        default: throw .formatWrong
        }
    }
}

/// Resource names to quantities (`requests`, `limits`, a node's `capacity`).
public typealias ResourceList = [String: Quantity]
