extension JSONValue {
    /// JSON text as `kubectl get -o json` prints it: keys sorted, four-space indentation
    /// (`indent: 0` for one line without spaces), and Go's escaping (`<`, `>`, `&` as `\u003c`...).
    /// No trailing newline.
    public func jsonText(indent: Int = 4) -> String {
        var output = ""
        JSONWriter(indentWidth: indent).write(self, level: 0, into: &output)
        return output
    }
}

struct JSONWriter {
    let indentWidth: Int

    func write(_ value: JSONValue, level: Int, into output: inout String) {
        switch value {
        case .null: output += "null"
        case let .bool(flag): output += flag ? "true" : "false"
        case let .integer(number): output += String(number)
        case let .number(number): output += JSONWriter.format(number)
        case let .string(text): JSONWriter.writeString(text, into: &output)
        case let .array(elements):
            guard !elements.isEmpty else { output += "[]"; return }
            output += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { output += "," }
                newline(level: level + 1, into: &output)
                write(element, level: level + 1, into: &output)
            }
            newline(level: level, into: &output)
            output += "]"
        case let .object(fields):
            guard !fields.isEmpty else { output += "{}"; return }
            output += "{"
            for (index, key) in fields.keys.sorted(by: JSONWriter.byteOrder).enumerated() {
                if index > 0 { output += "," }
                newline(level: level + 1, into: &output)
                JSONWriter.writeString(key, into: &output)
                output += indentWidth > 0 ? ": " : ":"
                if let field = fields[key] { write(field, level: level + 1, into: &output) }
            }
            newline(level: level, into: &output)
            output += "}"
        }
    }

    private func newline(level: Int, into output: inout String) {
        guard indentWidth > 0 else { return }
        output += "\n" + String(repeating: " ", count: level * indentWidth)
    }

    /// Go's encoding/json sorts map keys by their bytes.
    static func byteOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// Integral values print without a fraction, as Go prints float64 in JSON.
    static func format(_ number: Double) -> String {
        if number.rounded() == number, abs(number) < 1e15 { return String(Int64(number)) }
        return String(number)
    }

    static func writeString(_ text: String, into output: inout String) {
        output += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            // Go escapes these so JSON can be embedded in HTML and JavaScript.
            case "<", ">", "&", "\u{2028}", "\u{2029}": output += unicodeEscape(scalar.value)
            default:
                if scalar.value < 0x20 { output += unicodeEscape(scalar.value) } else { output.unicodeScalars.append(scalar) }
            }
        }
        output += "\""
    }

    private static func unicodeEscape(_ value: UInt32) -> String {
        let hex = String(value, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
