/// A strict RFC 8259 JSON parser that reports line and column, keeps integers apart from
/// other numbers, and rejects duplicate keys (as Kubernetes' strict decoding does).
public enum JSONReader {
    /// Nesting deeper than this is rejected rather than risking the stack.
    static let maximumDepth = 512

    /// Parses exactly one JSON value (surrounding whitespace allowed).
    public static func value(from text: String) throws(DocumentSyntaxError) -> JSONValue {
        var parser = Parser(text)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.atEnd else { throw parser.error("unexpected text after the JSON value") }
        return value
    }

    /// Parses a stream of JSON values separated by whitespace (`{...} {...}`).
    public static func documents(in text: String) throws(DocumentSyntaxError) -> [TextDocument] {
        var parser = Parser(text)
        var documents: [TextDocument] = []
        parser.skipWhitespace()
        while !parser.atEnd {
            let line = parser.line
            let value = try parser.parseValue(depth: 0)
            documents.append(TextDocument(value: value, line: line))
            parser.skipWhitespace()
        }
        return documents
    }

    private struct Parser {
        let bytes: [UInt8]
        var offset = 0
        var line = 1
        var column = 1

        init(_ text: String) {
            var bytes = Array(text.utf8)
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
            self.bytes = bytes
        }

        var atEnd: Bool { offset >= bytes.count }
        var current: UInt8? { atEnd ? nil : bytes[offset] }

        func error(_ problem: String) -> DocumentSyntaxError {
            DocumentSyntaxError(format: .json, line: line, column: column, problem: problem)
        }

        mutating func advance() {
            guard let byte = current else { return }
            offset += 1
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }

        mutating func skipWhitespace() {
            while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { advance() }
        }

        mutating func expect(_ literal: String, value: JSONValue) throws(DocumentSyntaxError) -> JSONValue {
            for expected in literal.utf8 {
                guard current == expected else { throw error("invalid literal, expected \(literal)") }
                advance()
            }
            return value
        }

        mutating func parseValue(depth: Int) throws(DocumentSyntaxError) -> JSONValue {
            guard depth < JSONReader.maximumDepth else { throw error("nesting deeper than \(JSONReader.maximumDepth) levels") }
            guard let byte = current else { throw error("unexpected end of input") }
            switch byte {
            case UInt8(ascii: "{"): return try parseObject(depth: depth)
            case UInt8(ascii: "["): return try parseArray(depth: depth)
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"): return try expect("true", value: .bool(true))
            case UInt8(ascii: "f"): return try expect("false", value: .bool(false))
            case UInt8(ascii: "n"): return try expect("null", value: .null)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
            default: throw error("invalid character '\(Unicode.Scalar(byte))' looking for beginning of value")
            }
        }

        mutating func parseObject(depth: Int) throws(DocumentSyntaxError) -> JSONValue {
            advance() // {
            var fields: [String: JSONValue] = [:]
            skipWhitespace()
            if current == UInt8(ascii: "}") {
                advance()
                return .object(fields)
            }
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let keyLine = line, keyColumn = column
                let key = try parseString()
                guard fields[key] == nil else {
                    throw DocumentSyntaxError(format: .json, line: keyLine, column: keyColumn, problem: "duplicate key \"\(key)\"")
                }
                skipWhitespace()
                guard current == UInt8(ascii: ":") else { throw error("expected ':' after object key") }
                advance()
                skipWhitespace()
                fields[key] = try parseValue(depth: depth + 1)
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): advance()
                case UInt8(ascii: "}"):
                    advance()
                    return .object(fields)
                default: throw error("expected ',' or '}' after object value")
                }
            }
        }

        mutating func parseArray(depth: Int) throws(DocumentSyntaxError) -> JSONValue {
            advance() // [
            var elements: [JSONValue] = []
            skipWhitespace()
            if current == UInt8(ascii: "]") {
                advance()
                return .array(elements)
            }
            while true {
                skipWhitespace()
                elements.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): advance()
                case UInt8(ascii: "]"):
                    advance()
                    return .array(elements)
                default: throw error("expected ',' or ']' after array element")
                }
            }
        }

        mutating func parseHex4() throws(DocumentSyntaxError) -> UInt32 {
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard let byte = current else { throw error("unexpected end of input in \\u escape") }
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw error("invalid character in \\u escape")
                }
                value = value << 4 | UInt32(digit)
                advance()
            }
            return value
        }

        mutating func parseString() throws(DocumentSyntaxError) -> String {
            advance() // opening quote
            var buffer: [UInt8] = []
            while true {
                guard let byte = current else { throw error("unterminated string") }
                switch byte {
                case UInt8(ascii: "\""):
                    advance()
                    return String(decoding: buffer, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    advance()
                    guard let escape = current else { throw error("unterminated string") }
                    advance()
                    switch escape {
                    case UInt8(ascii: "\""): buffer.append(0x22)
                    case UInt8(ascii: "\\"): buffer.append(0x5C)
                    case UInt8(ascii: "/"): buffer.append(0x2F)
                    case UInt8(ascii: "b"): buffer.append(0x08)
                    case UInt8(ascii: "f"): buffer.append(0x0C)
                    case UInt8(ascii: "n"): buffer.append(0x0A)
                    case UInt8(ascii: "r"): buffer.append(0x0D)
                    case UInt8(ascii: "t"): buffer.append(0x09)
                    case UInt8(ascii: "u"):
                        var code = try parseHex4()
                        if (0xD800...0xDBFF).contains(code), current == UInt8(ascii: "\\"), offset + 1 < bytes.count, bytes[offset + 1] == UInt8(ascii: "u") {
                            advance(); advance()
                            let low = try parseHex4()
                            if (0xDC00...0xDFFF).contains(low) {
                                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                buffer.append(contentsOf: "\u{FFFD}".utf8)
                                code = low
                            }
                        }
                        // Lone surrogates become U+FFFD, as Go does.
                        let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                        buffer.append(contentsOf: String(scalar).utf8)
                    default: throw error("invalid escape '\\\(Unicode.Scalar(escape))' in string")
                    }
                case 0x00..<0x20:
                    throw error("invalid control character in string")
                default:
                    buffer.append(byte)
                    advance()
                }
            }
        }

        mutating func parseNumber() throws(DocumentSyntaxError) -> JSONValue {
            let start = offset
            var isInteger = true
            if current == UInt8(ascii: "-") { advance() }
            guard let first = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { throw error("invalid number") }
            if first == UInt8(ascii: "0") {
                advance()
            } else {
                while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { advance() }
            }
            if current == UInt8(ascii: ".") {
                isInteger = false
                advance()
                guard let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { throw error("invalid number: expected digits after '.'") }
                while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { advance() }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                isInteger = false
                advance()
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { advance() }
                guard let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { throw error("invalid number: expected digits in exponent") }
                while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { advance() }
            }
            let text = String(decoding: bytes[start..<offset], as: UTF8.self)
            if isInteger, let integer = Int64(text) { return .integer(integer) }
            guard let number = Double(text), number.isFinite else { throw error("number \(text) is out of range") }
            return .number(number)
        }
    }
}
