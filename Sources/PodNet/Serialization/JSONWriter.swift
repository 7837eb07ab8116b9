import Foundation

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

    func newline(level: Int, into output: inout String) {
        guard indentWidth > 0 else { return }
        output += "\n"
        // Made once per depth, not per line (a big report has hundreds of thousands of lines).
        let spaces = level * indentWidth
        output += spaces < JSONWriter.indentation.count ? JSONWriter.indentation[spaces] : String(repeating: " ", count: spaces)
    }

    private static let indentation = (0..<64).map { String(repeating: " ", count: $0) }

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
        // Most strings need no escape: appended whole, not scalar by scalar.
        if !needsEscape(text) {
            output += text
            output += "\""
            return
        }
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

    /// True when `text` has a character `writeString` escapes: a control character, `"`, `\`,
    /// `<`, `>`, `&`, U+2028 or U+2029 (UTF-8 E2 80 A8 and E2 80 A9).
    static func needsEscape(_ text: String) -> Bool {
        var before = (UInt8(0), UInt8(0))
        for byte in text.utf8 {
            switch byte {
            case 0..<0x20, 0x22, 0x5C, 0x3C, 0x3E, 0x26: return true
            case 0xA8...0xA9 where before == (0xE2, 0x80): return true
            default: before = (before.1, byte)
            }
        }
        return false
    }

    private static func unicodeEscape(_ value: UInt32) -> String {
        let hex = String(value, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}

extension JSONValue {
    /// `jsonText(indent: 0)` of this object with `key` set to `text`, a value's JSON written
    /// already (a list's items, kept as each was written): the same bytes as writing the whole
    /// value, without writing that part again. Not an object: its own text.
    public func compactJSON(setting key: String, toWritten text: [UInt8]) -> Data {
        guard case let .object(fields) = self else { return Data(jsonText(indent: 0).utf8) }
        var keys = Array(fields.keys.filter { $0 != key })
        keys.append(key)
        keys.sort(by: JSONWriter.byteOrder)
        var output = Data()
        output.reserveCapacity(text.count + 256)
        output.append(UInt8(ascii: "{"))
        let writer = JSONWriter(indentWidth: 0)
        for (index, name) in keys.enumerated() {
            var part = index > 0 ? "," : ""
            JSONWriter.writeString(name, into: &part)
            part += ":"
            if name != key, let field = fields[name] { writer.write(field, level: 1, into: &part) }
            output.append(contentsOf: part.utf8)
            if name == key { output.append(contentsOf: text) }
        }
        output.append(UInt8(ascii: "}"))
        return output
    }
}
