#if canImport(Glibc)
import Glibc
#endif

/// The listening port of a web-server tool: `--port N` (or `--port=N`), else `$PORT`,
/// else the image's default.
func listeningPort(arguments: inout [String], context: ToolContext, defaultPort: UInt16) throws(UsageError) -> UInt16 {
    var port: UInt16?
    var index = 0
    while index < arguments.count {
        let argument = arguments[index]
        var value: String?
        if argument == "--port" {
            guard index + 1 < arguments.count else { throw UsageError("option --port needs a value") }
            value = arguments[index + 1]
            arguments.removeSubrange(index...index + 1)
        } else if argument.hasPrefix("--port=") {
            value = String(argument.dropFirst("--port=".count))
            arguments.remove(at: index)
        } else {
            index += 1
            continue
        }
        guard let text = value, let parsed = UInt16(text), parsed > 0 else { throw UsageError("invalid port \"\(value ?? "")\"") }
        port = parsed
    }
    if let port { return port }
    if let text = context.environment("PORT"), !text.isEmpty {
        guard let parsed = UInt16(text), parsed > 0 else { throw UsageError("invalid port in $PORT: \"\(text)\"") }
        return parsed
    }
    return defaultPort
}

/// A command-line mistake; the tool prints it and exits with its usage code.
struct UsageError: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}

/// `uname -r`.
func kernelRelease() -> String {
    var names = utsname()
    uname(&names)
    return withUnsafeBytes(of: names.release) { raw in
        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
}

/// Escapes a value for an access-log line as nginx does: `"`, `\` and non-printable
/// bytes become `\xHH`.
func accessLogEscape(_ value: String) -> String {
    var result = ""
    for byte in value.utf8 {
        if byte < 0x20 || byte >= 0x7F || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
            let hex = String(byte, radix: 16, uppercase: true)
            result += "\\x" + (hex.count == 1 ? "0" + hex : hex)
        } else {
            result.unicodeScalars.append(Unicode.Scalar(byte))
        }
    }
    return result
}
