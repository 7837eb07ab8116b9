extension JSONValue {
    /// YAML text as `kubectl get -o yaml` prints it (go-yaml v2 via sigs.k8s.io/yaml): keys
    /// sorted in go-yaml's natural order, two-space indentation, sequences not indented under
    /// their key, `{}` and `[]` for empty collections, strings quoted only when they would
    /// otherwise read as something else (`"80"`, `"true"`, `"2021-03-21T11:42:17Z"`), multi-line
    /// strings as literal blocks. Long lines are not folded. Ends with a newline.
    public func yamlText() -> String {
        var lines: [String] = []
        switch self {
        case let .object(fields) where !fields.isEmpty:
            YAMLWriter.mapping(fields, indent: 0, into: &lines)
        case let .array(elements) where !elements.isEmpty:
            YAMLWriter.sequence(elements, indent: 0, into: &lines)
        default:
            let (inline, block) = YAMLWriter.scalar(self, indent: 0, isKey: false)
            lines.append(inline)
            lines.append(contentsOf: block)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

enum YAMLWriter {
    static func mapping(_ fields: [String: JSONValue], indent: Int, into lines: inout [String]) {
        let pad = String(repeating: " ", count: indent)
        for key in fields.keys.sorted(by: goYAMLKeyOrder) {
            guard let value = fields[key] else { continue }
            let keyText = scalar(.string(key), indent: indent, isKey: true).inline
            switch value {
            case let .object(nested) where !nested.isEmpty:
                lines.append("\(pad)\(keyText):")
                mapping(nested, indent: indent + 2, into: &lines)
            case let .array(elements) where !elements.isEmpty:
                lines.append("\(pad)\(keyText):")
                sequence(elements, indent: indent, into: &lines)
            default:
                let (inline, block) = scalar(value, indent: indent + 2, isKey: false)
                lines.append("\(pad)\(keyText): \(inline)")
                lines.append(contentsOf: block)
            }
        }
    }

    static func sequence(_ elements: [JSONValue], indent: Int, into lines: inout [String]) {
        let pad = String(repeating: " ", count: indent)
        for element in elements {
            var nested: [String] = []
            switch element {
            case let .object(fields) where !fields.isEmpty:
                mapping(fields, indent: indent + 2, into: &nested)
            case let .array(items) where !items.isEmpty:
                sequence(items, indent: indent + 2, into: &nested)
            default:
                let (inline, block) = scalar(element, indent: indent + 2, isKey: false)
                lines.append("\(pad)- \(inline)")
                lines.append(contentsOf: block)
                continue
            }
            // The first line of the nested block moves up next to the dash.
            if let first = nested.first {
                lines.append("\(pad)- " + first.dropFirst(indent + 2))
                lines.append(contentsOf: nested.dropFirst())
            }
        }
    }

    /// A scalar (or empty collection) as the text after `key: ` or `- `, plus the lines of a
    /// literal block when the value is a multi-line string.
    static func scalar(_ value: JSONValue, indent: Int, isKey: Bool) -> (inline: String, block: [String]) {
        switch value {
        case .null: return ("null", [])
        case let .bool(flag): return (flag ? "true" : "false", [])
        case let .integer(number): return (String(number), [])
        case let .number(number): return (JSONWriter.format(number), [])
        case .array: return ("[]", [])
        case .object: return ("{}", [])
        case let .string(text): return string(text, indent: indent, isKey: isKey)
        }
    }

    static func string(_ text: String, indent: Int, isKey: Bool) -> (inline: String, block: [String]) {
        let analysis = Analysis(text)
        if text.contains("\n") {
            if analysis.blockAllowed, !isKey, !analysis.hasOtherBreaks { return literal(text, indent: indent) }
            return (doubleQuoted(text), [])
        }
        let resolved = YAMLScalar.resolve(text)
        let canUsePlain = resolved == .string && !YAMLScalar.isBase60Float(text)
        guard canUsePlain else { return (doubleQuoted(text), []) }
        if analysis.blockPlainAllowed { return (text, []) }
        if analysis.singleQuotedAllowed { return ("'" + text.replacingAll("'", with: "''") + "'", []) }
        return (doubleQuoted(text), [])
    }

    private static func literal(_ text: String, indent: Int) -> (inline: String, block: [String]) {
        var header = "|"
        if let first = text.unicodeScalars.first, first == " " || first == "\n" { header += "2" }
        if !text.hasSuffix("\n") {
            header += "-"
        } else if text == "\n" || text.hasSuffix("\n\n") {
            header += "+"
        }
        var body = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if text.hasSuffix("\n") { body.removeLast() }
        let pad = String(repeating: " ", count: indent)
        return (header, body.map { $0.isEmpty ? "" : pad + $0 })
    }

    static func doubleQuoted(_ text: String) -> String {
        var output = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\0": output += "\\0"
            case "\u{07}": output += "\\a"
            case "\u{08}": output += "\\b"
            case "\t": output += "\\t"
            case "\n": output += "\\n"
            case "\u{0B}": output += "\\v"
            case "\u{0C}": output += "\\f"
            case "\r": output += "\\r"
            case "\u{1B}": output += "\\e"
            case "\u{85}": output += "\\N"
            case "\u{2028}": output += "\\L"
            case "\u{2029}": output += "\\P"
            default:
                if isPrintable(scalar), scalar != "\u{FEFF}" {
                    output.unicodeScalars.append(scalar)
                } else {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    let (prefix, width) = scalar.value <= 0xFF ? ("\\x", 2) : scalar.value <= 0xFFFF ? ("\\u", 4) : ("\\U", 8)
                    output += prefix + String(repeating: "0", count: max(0, width - hex.count)) + hex
                }
            }
        }
        return output + "\""
    }

    /// libyaml's printable set (as go-yaml ports it): note that characters outside the Basic
    /// Multilingual Plane are not in it, so they are written escaped.
    static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0A, 0x20...0x7E, 0xA0...0xD7FF, 0xE000...0xFFFD: true
        default: false
        }
    }

    static func isBreak(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "\n" || scalar == "\r" || scalar == "\u{85}" || scalar == "\u{2028}" || scalar == "\u{2029}"
    }

    /// What libyaml's `yaml_emitter_analyze_scalar` decides about a string (block context).
    struct Analysis {
        var blockPlainAllowed = true
        var singleQuotedAllowed = true
        var blockAllowed = true
        /// Line breaks other than `\n`, which a literal block cannot carry faithfully.
        var hasOtherBreaks = false

        init(_ text: String) {
            let scalars = Array(text.unicodeScalars)
            guard !scalars.isEmpty else { return }
            var blockIndicators = false
            var specialCharacters = false
            var lineBreaks = false, spaceBreak = false, breakSpace = false
            var leadingSpace = false, leadingBreak = false, trailingSpace = false, trailingBreak = false
            var previousSpace = false, previousBreak = false

            if text.hasPrefix("---") || text.hasPrefix("...") {
                blockIndicators = true
            }
            var precededByWhitespace = true
            for (index, scalar) in scalars.enumerated() {
                let next = index + 1 < scalars.count ? scalars[index + 1] : nil
                let followedByWhitespace = next.map { $0 == " " || $0 == "\t" || YAMLWriter.isBreak($0) } ?? true
                if index == 0 {
                    switch scalar {
                    case "#", ",", "[", "]", "{", "}", "&", "*", "!", "|", ">", "'", "\"", "%", "@", "`":
                        blockIndicators = true
                    case "?", ":", "-":
                        if followedByWhitespace { blockIndicators = true }
                    default: break
                    }
                } else {
                    if scalar == ":", followedByWhitespace { blockIndicators = true }
                    if scalar == "#", precededByWhitespace { blockIndicators = true }
                }
                if !YAMLWriter.isPrintable(scalar) || scalar == "\u{FEFF}" { specialCharacters = true }
                if YAMLWriter.isBreak(scalar) {
                    lineBreaks = true
                    if scalar != "\n" { hasOtherBreaks = true }
                }
                if scalar == " " {
                    if index == 0 { leadingSpace = true }
                    if index == scalars.count - 1 { trailingSpace = true }
                    if previousBreak { breakSpace = true }
                    previousSpace = true
                    previousBreak = false
                } else if YAMLWriter.isBreak(scalar) {
                    if index == 0 { leadingBreak = true }
                    if index == scalars.count - 1 { trailingBreak = true }
                    if previousSpace { spaceBreak = true }
                    previousBreak = true
                    previousSpace = false
                } else {
                    previousSpace = false
                    previousBreak = false
                }
                precededByWhitespace = scalar == " " || scalar == "\t" || YAMLWriter.isBreak(scalar)
            }
            if leadingSpace || leadingBreak || trailingSpace || trailingBreak { blockPlainAllowed = false }
            if trailingSpace { blockAllowed = false }
            if breakSpace { blockPlainAllowed = false; singleQuotedAllowed = false }
            if spaceBreak || specialCharacters { blockPlainAllowed = false; singleQuotedAllowed = false; blockAllowed = false }
            if lineBreaks { blockPlainAllowed = false }
            if blockIndicators { blockPlainAllowed = false }
        }
    }

    /// go-yaml's key order: runs of digits compare as numbers, letters sort after other characters.
    static func goYAMLKeyOrder(_ a: String, _ b: String) -> Bool {
        let ar = Array(a.unicodeScalars), br = Array(b.unicodeScalars)
        var i = 0
        while i < ar.count, i < br.count {
            if ar[i] == br[i] {
                i += 1
                continue
            }
            let al = isLetter(ar[i]), bl = isLetter(br[i])
            if al, bl { return ar[i].value < br[i].value }
            if al || bl { return bl }
            var an: Int64 = 0, bn: Int64 = 0
            if ar[i] == "0" || br[i] == "0" {
                var j = i - 1
                while j >= 0, isDigit(ar[j]) {
                    if ar[j] != "0" {
                        an = 1
                        bn = 1
                        break
                    }
                    j -= 1
                }
            }
            var ai = i, bi = i
            while ai < ar.count, isDigit(ar[ai]) {
                an = an &* 10 &+ Int64(ar[ai].value - 48)
                ai += 1
            }
            while bi < br.count, isDigit(br[bi]) {
                bn = bn &* 10 &+ Int64(br[bi].value - 48)
                bi += 1
            }
            if an != bn { return an < bn }
            if ai != bi { return ai < bi }
            return ar[i].value < br[i].value
        }
        return ar.count < br.count
    }

    private static func isLetter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: true
        default: false
        }
    }

    private static func isDigit(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .decimalNumber
    }
}

extension String {
    /// Every occurrence of `target` replaced (without Foundation).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
