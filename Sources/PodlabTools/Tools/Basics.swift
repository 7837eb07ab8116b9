#if canImport(Glibc)
import Glibc
#endif

/// Small BusyBox applets: sleep, hostname, cat, echo, env.
enum Basics {
    /// Parses BusyBox sleep's durations: `N`, `N.N`, with suffix `s`, `m`, `h` or `d`;
    /// several are added up; `infinity` never ends. Nil for anything else.
    static func sleepDuration(_ arguments: [String]) -> Double? {
        guard !arguments.isEmpty else { return nil }
        var total = 0.0
        for argument in arguments {
            if argument == "inf" || argument == "infinity" { return .infinity }
            var number = Substring(argument)
            var factor = 1.0
            switch number.last {
            case "s": number = number.dropLast()
            case "m": factor = 60; number = number.dropLast()
            case "h": factor = 3600; number = number.dropLast()
            case "d": factor = 86400; number = number.dropLast()
            default: break
            }
            guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." }), let value = Double(number) else { return nil }
            total += value * factor
        }
        return total
    }

    static func sleep(_ context: ToolContext) -> Int32 {
        guard let duration = sleepDuration(context.arguments) else {
            if let bad = context.arguments.first(where: { sleepDuration([$0]) == nil }) {
                context.stderr.line("sleep: invalid number '\(bad)'")
            } else {
                context.stderr.line("BusyBox v1.36.1 (podlab) multi-call binary.\n\nUsage: sleep [N]...\n\nPause for a time equal to the total of the args given, where each arg can\nhave an optional suffix of (s)econds, (m)inutes, (h)ours, or (d)ays")
            }
            return 1
        }
        if duration.isInfinite {
            while true { pause() }
        }
        sleepFor(seconds: duration)
        return 0
    }

    static func hostname(_ context: ToolContext) -> Int32 {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        let name = String(nulTerminated: buffer)
        switch context.arguments.first {
        case nil:
            context.stdout.line(name)
        case "-s":
            context.stdout.line(String(name.split(separator: ".").first ?? Substring(name)))
        case "-i":
            let addresses = Interfaces.list().filter { $0.isUp && !$0.isLoopback }.flatMap { $0.ipv4.map(\.address) }
            context.stdout.line((addresses.isEmpty ? ["127.0.0.1"] : addresses).joined(separator: " ") + " ")
        case let option? where option.hasPrefix("-"):
            context.stderr.line("hostname: unrecognized option '\(option)'")
            return 1
        case let newName?:
            guard sethostname(newName, newName.utf8.count) == 0 else {
                context.stderr.line("hostname: sethostname: \(String(cString: strerror(errno)))")
                return 1
            }
        }
        return 0
    }

    static func cat(_ context: ToolContext) -> Int32 {
        let files = context.arguments.filter { $0 != "-u" }
        var status: Int32 = 0
        for file in files.isEmpty ? ["-"] : files {
            let fd = file == "-" ? 0 : open(file, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                context.stderr.line("cat: can't open '\(file)': \(String(cString: strerror(errno)))")
                status = 1
                continue
            }
            defer { if fd != 0 { close(fd) } }
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n < 0 {
                    context.stderr.line("cat: read error: \(String(cString: strerror(errno)))")
                    status = 1
                    break
                }
                if n == 0 { break }
                if !context.stdout.write(bytes: buffer[0..<n]) { return 1 }
            }
        }
        return status
    }

    /// BusyBox echo: `-n` (no newline), `-e` (backslash escapes), `-E`.
    static func echo(_ context: ToolContext) -> Int32 {
        var arguments = context.arguments[...]
        var newline = true
        var escapes = false
        while let first = arguments.first, first.count > 1, first.hasPrefix("-"), first.dropFirst().allSatisfy({ "neE".contains($0) }) {
            for flag in first.dropFirst() {
                switch flag {
                case "n": newline = false
                case "e": escapes = true
                default: escapes = false
                }
            }
            arguments = arguments.dropFirst()
        }
        var text = arguments.joined(separator: " ")
        if escapes {
            let (expanded, stop) = expandEscapes(text)
            text = expanded
            if stop { newline = false }
        }
        context.stdout.write(newline ? text + "\n" : text)
        return 0
    }

    /// `echo -e` escapes; `\c` stops output (second result true).
    static func expandEscapes(_ text: String) -> (String, Bool) {
        var output = ""
        var characters = Substring(text)
        while let character = characters.first {
            characters = characters.dropFirst()
            guard character == "\\", let next = characters.first else { output.append(character); continue }
            characters = characters.dropFirst()
            switch next {
            case "n": output += "\n"
            case "t": output += "\t"
            case "r": output += "\r"
            case "a": output += "\u{07}"
            case "b": output += "\u{08}"
            case "f": output += "\u{0C}"
            case "v": output += "\u{0B}"
            case "e": output += "\u{1B}"
            case "\\": output += "\\"
            case "c": return (output, true)
            case "0":
                var digits = ""
                while digits.count < 3, let d = characters.first, ("0"..."7").contains(d) { digits.append(d); characters = characters.dropFirst() }
                output.unicodeScalars.append(Unicode.Scalar(UInt8(digits.isEmpty ? "0" : digits, radix: 8) ?? 0))
            default: output += "\\" + String(next)
            }
        }
        return (output, false)
    }

    /// `env [-i] [-u NAME] [NAME=VALUE]... [COMMAND [ARG]...]`.
    static func env(_ context: ToolContext) -> Int32 {
        var arguments = context.arguments[...]
        while let first = arguments.first {
            if first == "-i" || first == "-" {
                clearenv()
            } else if first == "-u", arguments.count > 1 {
                arguments = arguments.dropFirst()
                unsetenv(arguments.first!)
            } else if let equals = first.firstIndex(of: "="), equals != first.startIndex {
                setenv(String(first[..<equals]), String(first[first.index(after: equals)...]), 1)
            } else {
                break
            }
            arguments = arguments.dropFirst()
        }
        if arguments.isEmpty {
            var text = ""
            var cursor = environ
            while let entry = cursor.pointee {
                text += String(cString: entry) + "\n"
                cursor = cursor.advanced(by: 1)
            }
            context.stdout.write(text)
            return 0
        }
        return CommandRunner.run(Array(arguments), shellName: "env")
    }
}
