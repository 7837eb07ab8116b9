#if canImport(Glibc)
import Glibc
#endif

/// BusyBox-like `sh` for container command lines: `sh -c "cmd args; cmd2 && cmd3"`,
/// `sh FILE`, or commands read from standard input (with a prompt on a terminal).
/// Built-in tools run in this process; other programs are host programs found in `PATH`.
enum Shell {
    static func main(_ context: ToolContext) -> Int32 {
        var arguments = context.arguments[...]
        let shell = ShellInterpreter(context: context)
        var command: String?
        while let first = arguments.first, first.hasPrefix("-") || first.hasPrefix("+"), first.count > 1 {
            arguments = arguments.dropFirst()
            if first == "--" { break }
            for flag in first.dropFirst() {
                let on = first.hasPrefix("-")
                switch flag {
                case "c":
                    guard let text = arguments.first else {
                        context.stderr.line("sh: -c requires an argument")
                        return 2
                    }
                    command = text
                    arguments = arguments.dropFirst()
                case "e": shell.errexit = on
                case "x": shell.xtrace = on
                case "s", "i", "l": break
                default:
                    context.stderr.line("sh: illegal option -\(flag)")
                    return 2
                }
            }
        }
        if let command {
            // sh -c 'script' [$0 [$1 …]]
            shell.positional = arguments.isEmpty ? ["sh"] : Array(arguments)
            return shell.run(script: command)
        }
        if let file = arguments.first {
            shell.positional = Array(arguments)
            let fd = open(file, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                context.stderr.line("sh: can't open '\(file)': \(String(cString: strerror(errno)))")
                return 127
            }
            let bytes = (try? readAll(fd: fd)) ?? []
            close(fd)
            return shell.run(script: String(decoding: bytes, as: UTF8.self))
        }
        shell.positional = ["sh"]
        return interactive(shell, context: context)
    }

    /// Reads commands line by line from standard input; a line that leaves a quote or a
    /// compound command open waits for the next.
    private static func interactive(_ shell: ShellInterpreter, context: ToolContext) -> Int32 {
        let prompting = isatty(0) == 1
        var pending = ""
        var reader = LineReader(fd: 0)
        while true {
            if prompting { context.stderr.write(pending.isEmpty ? (geteuid() == 0 ? "/ # " : "/ $ ") : "> ") }
            guard let line = reader.next() else {
                if prompting { context.stderr.write("\n") }
                if !pending.isEmpty {
                    context.stderr.line("sh: syntax error: unexpected end of file")
                    return 2
                }
                return shell.lastStatus
            }
            pending += line + "\n"
            switch shell.parse(pending) {
            case .incomplete:
                continue
            case let .failed(code):
                pending = ""
                if !prompting { return code }
            case let .parsed(node):
                pending = ""
                if let exit = shell.execute(node) { return exit }
            }
        }
    }
}

/// Reads lines from a file descriptor without buffering past what it returns.
struct LineReader {
    let fd: Int32
    private var buffer: [UInt8] = []
    private var ended = false

    init(fd: Int32) { self.fd = fd }

    mutating func next() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[0..<newline], as: UTF8.self)
                buffer.removeFirst(newline + 1)
                return line
            }
            if ended {
                guard !buffer.isEmpty else { return nil }
                defer { buffer = [] }
                return String(decoding: buffer, as: UTF8.self)
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { ended = true } else { buffer += chunk[0..<n] }
        }
    }
}

/// Runs parsed command lines.
final class ShellInterpreter {
    let context: ToolContext
    var positional: [String] = ["sh"]
    var lastStatus: Int32 = 0
    var errexit = false
    var xtrace = false
    /// Inside a condition (`if`, `while`, `&&`/`||` operand, `!`), where `set -e` does not apply.
    private var conditionDepth = 0

    /// How control leaves the normal flow.
    enum Control: Error {
        case exit(Int32)
        case breakLoop(Int)
        case continueLoop(Int)
    }

    enum ParseOutcome {
        case parsed(ShellNode)
        case incomplete
        case failed(Int32)
    }

    init(context: ToolContext) { self.context = context }

    /// Parses and runs a whole script; returns the exit status.
    func run(script: String) -> Int32 {
        switch parse(script) {
        case let .parsed(node): return execute(node) ?? lastStatus
        case .incomplete:
            context.stderr.line("sh: syntax error: unexpected end of file")
            return 2
        case let .failed(code): return code
        }
    }

    func parse(_ text: String) -> ParseOutcome {
        do {
            return .parsed(try ShellParser.parse(text))
        } catch .unexpectedEnd {
            return .incomplete
        } catch {
            context.stderr.line("sh: \(error)")
            lastStatus = 2
            return .failed(2)
        }
    }

    /// Runs `node`; returns an exit code when the shell must end (`exit`, `set -e`).
    func execute(_ node: ShellNode) -> Int32? {
        do {
            lastStatus = try run(node)
            return nil
        } catch let .exit(code) {
            return code
        } catch {
            return nil
        }
    }

    private func run(_ node: ShellNode) throws(Control) -> Int32 {
        switch node {
        case let .simple(assignments, words):
            let status = try simple(assignments: assignments, words: words)
            lastStatus = status
            if status != 0 && errexit && conditionDepth == 0 { throw .exit(status) }
            return status
        case let .sequence(nodes):
            var status: Int32 = 0
            for child in nodes { status = try run(child) }
            return status
        case let .andOr(first, rest):
            // Every operand but the last is a condition (`set -e` ignores its failure).
            var status = try runAsCondition(first)
            for (index, (op, next)) in rest.enumerated() where (op == .and) == (status == 0) {
                status = index == rest.count - 1 ? try run(next) : try runAsCondition(next)
            }
            lastStatus = status
            return status
        case let .not(inner):
            let status: Int32 = try runAsCondition(inner) == 0 ? 1 : 0
            lastStatus = status
            return status
        case let .ifClause(branches, otherwise):
            for branch in branches {
                if try condition(branch.condition) { return try run(branch.body) }
            }
            return try otherwise.map { node throws(Control) in try run(node) } ?? 0
        case let .loop(conditionNode, body, until):
            var status: Int32 = 0
            while try condition(conditionNode) != until {
                do {
                    status = try run(body)
                } catch let .breakLoop(levels) {
                    if levels > 1 { throw .breakLoop(levels - 1) }
                    break
                } catch let .continueLoop(levels) {
                    if levels > 1 { throw .continueLoop(levels - 1) }
                    continue
                }
            }
            return status
        case let .forLoop(name, items, body):
            let values = items.map { words in words.flatMap(expand) } ?? Array(positional.dropFirst())
            var status: Int32 = 0
            for value in values {
                setenv(name, value, 1)
                do {
                    status = try run(body)
                } catch let .breakLoop(levels) {
                    if levels > 1 { throw .breakLoop(levels - 1) }
                    break
                } catch let .continueLoop(levels) {
                    if levels > 1 { throw .continueLoop(levels - 1) }
                    continue
                }
            }
            return status
        }
    }

    private func condition(_ node: ShellNode) throws(Control) -> Bool {
        try runAsCondition(node) == 0
    }

    private func runAsCondition(_ node: ShellNode) throws(Control) -> Int32 {
        conditionDepth += 1
        defer { conditionDepth -= 1 }
        return try run(node)
    }

    private func simple(assignments: [ShellNode.Assignment], words: [ShellWord]) throws(Control) -> Int32 {
        let argv = words.flatMap(expand)
        let values = assignments.map { ($0.name, expand($0.value).joined(separator: " ")) }
        guard !argv.isEmpty else {
            for (name, value) in values { setenv(name, value, 1) }
            return 0
        }
        if xtrace { context.stderr.line("+ " + argv.joined(separator: " ")) }
        // `NAME=value command` sets NAME for that command only.
        let saved = values.map { ($0.0, getenv($0.0).map { String(cString: $0) }) }
        for (name, value) in values { setenv(name, value, 1) }
        defer {
            for (name, old) in saved {
                if let old { setenv(name, old, 1) } else { unsetenv(name) }
            }
        }
        return try command(argv)
    }

    private func command(_ argv: [String]) throws(Control) -> Int32 {
        let name = argv[0]
        let arguments = Array(argv.dropFirst())
        switch name {
        case "exit":
            guard let text = arguments.first else { throw .exit(lastStatus) }
            guard let code = Int32(text) else {
                context.stderr.line("sh: exit: Illegal number: \(text)")
                throw .exit(2)
            }
            throw .exit(code & 0xFF)
        case ":":
            return 0
        case "cd":
            let target = arguments.first ?? getenv("HOME").map { String(cString: $0) } ?? "/"
            guard chdir(target) == 0 else {
                context.stderr.line("sh: cd: can't cd to \(target): \(String(cString: strerror(errno)))")
                return 2
            }
            return 0
        case "pwd":
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
            guard getcwd(&buffer, buffer.count) != nil else { return 1 }
            context.stdout.line(String(nulTerminated: buffer))
            return 0
        case "export":
            for argument in arguments {
                if let equals = argument.firstIndex(of: "=") {
                    setenv(String(argument[..<equals]), String(argument[argument.index(after: equals)...]), 1)
                }
            }
            return 0
        case "unset":
            for argument in arguments where argument != "-v" { unsetenv(argument) }
            return 0
        case "set":
            for argument in arguments {
                switch argument {
                case "-e": errexit = true
                case "+e": errexit = false
                case "-x": xtrace = true
                case "+x": xtrace = false
                default:
                    if argument.hasPrefix("-") || argument.hasPrefix("+") {
                        context.stderr.line("sh: set: illegal option \(argument)")
                        return 2
                    }
                }
            }
            return 0
        case "shift":
            let count = arguments.first.flatMap { Int($0) } ?? 1
            guard count <= positional.count - 1 else { return 1 }
            positional.removeSubrange(1..<(1 + count))
            return 0
        case "break", "continue":
            let levels = arguments.first.flatMap { Int($0) } ?? 1
            guard levels > 0 else { return 1 }
            throw name == "break" ? .breakLoop(levels) : .continueLoop(levels)
        case "exec":
            guard !arguments.isEmpty else { return 0 }
            throw .exit(CommandRunner.exec(arguments, shellName: "sh"))
        case "test", "[":
            var operands = arguments
            if name == "[" {
                guard operands.last == "]" else {
                    context.stderr.line("sh: [: missing ]")
                    return 2
                }
                operands.removeLast()
            }
            switch ShellTest.evaluate(operands) {
            case let .success(result): return result ? 0 : 1
            case let .failure(error):
                context.stderr.line("sh: \(name): \(error.description)")
                return 2
            }
        case "wait":
            return 0
        default:
            return CommandRunner.run(argv, shellName: "sh")
        }
    }

    /// Expands a word into fields: parameters are substituted; unquoted substitutions are
    /// split on whitespace; a word that expands to nothing unquoted disappears.
    func expand(_ word: ShellWord) -> [String] {
        var fields: [String] = []
        var current = ""
        var hasField = false
        for part in word.parts {
            switch part {
            case let .literal(text, quoted):
                current += text
                if quoted || !text.isEmpty { hasField = true }
            case let .parameter(name, quoted, fallback):
                if name == "@" && quoted {
                    let values = Array(positional.dropFirst())
                    for (index, value) in values.enumerated() {
                        current += value
                        if index < values.count - 1 { fields.append(current); current = "" }
                        hasField = true
                    }
                    continue
                }
                var value = parameter(name)
                if let fallback, value?.isEmpty ?? true { value = fallback }
                let text = value ?? ""
                if quoted {
                    current += text
                    hasField = true
                } else {
                    let pieces = text.split(omittingEmptySubsequences: false) { $0 == " " || $0 == "\t" || $0 == "\n" }
                    for (index, piece) in pieces.enumerated() {
                        if index > 0 {
                            if hasField || !current.isEmpty { fields.append(current) }
                            current = ""
                            hasField = false
                        }
                        current += piece
                        if !piece.isEmpty { hasField = true }
                    }
                }
            }
        }
        if hasField || !current.isEmpty { fields.append(current) }
        return fields
    }

    private func parameter(_ name: String) -> String? {
        switch name {
        case "?": return String(lastStatus)
        case "$": return String(getpid())
        case "#": return String(positional.count - 1)
        case "@", "*": return positional.dropFirst().joined(separator: " ")
        case "!": return ""
        default:
            if let index = Int(name) { return index < positional.count ? positional[index] : nil }
            return getenv(name).map { String(cString: $0) }
        }
    }
}

/// The `test` / `[` builtin.
enum ShellTest {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func evaluate(_ operands: [String]) -> Result<Bool, Failure> {
        var rest = operands[...]
        var negate = false
        while rest.count > 1, rest.first == "!" { negate.toggle(); rest = rest.dropFirst() }
        let items = Array(rest)
        let result: Bool
        switch items.count {
        case 0: result = false
        case 1: result = !items[0].isEmpty
        case 2:
            let (op, value) = (items[0], items[1])
            var info = stat()
            switch op {
            case "-n": result = !value.isEmpty
            case "-z": result = value.isEmpty
            case "-e": result = stat(value, &info) == 0
            case "-f": result = stat(value, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
            case "-d": result = stat(value, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
            case "-s": result = stat(value, &info) == 0 && info.st_size > 0
            case "-x": result = access(value, X_OK) == 0
            case "-r": result = access(value, R_OK) == 0
            case "-w": result = access(value, W_OK) == 0
            default: return .failure(Failure(description: "\(op): unary operator expected"))
            }
        case 3:
            let (left, op, right) = (items[0], items[1], items[2])
            switch op {
            case "=", "==": result = left == right
            case "!=": result = left != right
            case "-eq", "-ne", "-lt", "-le", "-gt", "-ge":
                guard let a = Int(left), let b = Int(right) else {
                    return .failure(Failure(description: "bad number"))
                }
                switch op {
                case "-eq": result = a == b
                case "-ne": result = a != b
                case "-lt": result = a < b
                case "-le": result = a <= b
                case "-gt": result = a > b
                default: result = a >= b
                }
            default: return .failure(Failure(description: "\(op): binary operator expected"))
            }
        default:
            return .failure(Failure(description: "too many arguments"))
        }
        return .success(result != negate)
    }
}
