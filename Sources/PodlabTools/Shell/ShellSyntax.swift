/// A word of a command line, kept in parts so expansion knows what was quoted.
struct ShellWord: Equatable, Sendable {
    enum Part: Equatable, Sendable {
        /// Literal text; quoted text is never split.
        case literal(String, quoted: Bool)
        /// `$NAME`, `${NAME}`, `$?`, `$1`…; `fallback` is `${NAME:-word}`'s word.
        case parameter(String, quoted: Bool, fallback: String? = nil)
    }

    var parts: [Part]

    /// The text when the word is one unquoted literal (how reserved words are recognised).
    var plainText: String? {
        guard parts.count == 1, case let .literal(text, quoted: false) = parts[0] else { return nil }
        return text
    }
}

/// A token of the shell language as podlab's sh supports it.
enum ShellToken: Equatable, Sendable {
    case word(ShellWord)
    /// `;`, `&&`, `||` or a newline (`"\n"`).
    case separator(String)
}

/// Why a command line was refused.
enum ShellSyntaxError: Error, Equatable, CustomStringConvertible {
    /// Syntax podlab's sh does not implement (pipes, redirections, subshells, …).
    case unsupported(String)
    case unexpected(String)
    /// The input ended inside a quote or a compound command (more lines may complete it).
    case unexpectedEnd(String)

    var description: String {
        switch self {
        case let .unsupported(what):
            "syntax error: \(what) is not supported (podlab's sh runs simple commands joined by ';', '&&', '||' and newlines, with if/while/until/for; no pipes, redirections, background jobs or subshells)"
        case let .unexpected(token): "syntax error: unexpected \"\(token)\""
        case let .unexpectedEnd(what): "syntax error: unexpected end of file (\(what))"
        }
    }
}

/// Splits a command line into words and separators: whitespace, `;`, `&&`, `||`,
/// newlines, single and double quotes, backslash escapes and `$` parameters.
enum ShellLexer {
    static func tokens(_ input: String) throws(ShellSyntaxError) -> [ShellToken] {
        var tokens: [ShellToken] = []
        var parts: [ShellWord.Part] = []
        var literal = ""
        var inWord = false
        let characters = Array(input)
        var i = 0

        func flushLiteral(quoted: Bool = false) {
            if !literal.isEmpty { parts.append(.literal(literal, quoted: quoted)); literal = "" }
        }
        func endWord() {
            flushLiteral()
            if inWord { tokens.append(.word(ShellWord(parts: parts))) }
            parts = []
            inWord = false
        }
        func parameter(quoted: Bool) throws(ShellSyntaxError) -> Bool {
            // At characters[i] == "$": reads a parameter, or returns false for a literal `$`.
            guard i + 1 < characters.count else { return false }
            let next = characters[i + 1]
            if next == "(" { throw .unsupported("command substitution \"$(…)\"") }
            if next == "{" {
                guard let close = characters[(i + 2)...].firstIndex(of: "}") else { throw .unexpectedEnd("missing '}'") }
                let body = String(characters[(i + 2)..<close])
                var name = body
                var fallback: String?
                if let range = body.firstRange(of: ":-") ?? body.firstRange(of: "-") {
                    name = String(body[..<range.lowerBound])
                    fallback = String(body[range.upperBound...])
                }
                guard isName(name) || isSpecial(name) else { throw .unsupported("parameter expansion \"${\(body)}\"") }
                flushLiteral(quoted: quoted)
                parts.append(.parameter(name, quoted: quoted, fallback: fallback))
                i = close + 1
                return true
            }
            if "?$#@*!0123456789".contains(next) {
                flushLiteral(quoted: quoted)
                parts.append(.parameter(String(next), quoted: quoted))
                i += 2
                return true
            }
            if next == "_" || next.isLetter {
                var j = i + 1
                while j < characters.count, characters[j] == "_" || (characters[j].isASCII && (characters[j].isLetter || characters[j].isNumber)) { j += 1 }
                flushLiteral(quoted: quoted)
                parts.append(.parameter(String(characters[(i + 1)..<j]), quoted: quoted))
                i = j
                return true
            }
            return false
        }

        while i < characters.count {
            let c = characters[i]
            switch c {
            case " ", "\t":
                endWord()
                i += 1
            case "\n":
                endWord()
                tokens.append(.separator("\n"))
                i += 1
            case "#" where !inWord:
                while i < characters.count, characters[i] != "\n" { i += 1 }
            case ";":
                endWord()
                if i + 1 < characters.count, characters[i + 1] == ";" { throw .unsupported("';;' (case)") }
                tokens.append(.separator(";"))
                i += 1
            case "&":
                endWord()
                guard i + 1 < characters.count, characters[i + 1] == "&" else { throw .unsupported("'&' (background jobs)") }
                tokens.append(.separator("&&"))
                i += 2
            case "|":
                endWord()
                guard i + 1 < characters.count, characters[i + 1] == "|" else { throw .unsupported("'|' (pipes)") }
                tokens.append(.separator("||"))
                i += 2
            case ">", "<":
                throw .unsupported("'\(c)' (redirections)")
            case "(", ")":
                throw .unsupported("'\(c)' (subshells)")
            case "`":
                throw .unsupported("command substitution with backquotes")
            case "'":
                flushLiteral()
                inWord = true
                guard let close = characters[(i + 1)...].firstIndex(of: "'") else { throw .unexpectedEnd("unterminated quoted string") }
                parts.append(.literal(String(characters[(i + 1)..<close]), quoted: true))
                i = close + 1
            case "\"":
                flushLiteral()
                inWord = true
                i += 1
                var closed = false
                parts.append(.literal("", quoted: true))
                while i < characters.count {
                    let d = characters[i]
                    if d == "\"" { closed = true; i += 1; break }
                    if d == "\\", i + 1 < characters.count, "\"\\$`\n".contains(characters[i + 1]) {
                        if characters[i + 1] != "\n" { literal.append(characters[i + 1]) }
                        i += 2
                        continue
                    }
                    if d == "`" { throw .unsupported("command substitution with backquotes") }
                    if d == "$", try parameter(quoted: true) { continue }
                    literal.append(d)
                    i += 1
                }
                guard closed else { throw .unexpectedEnd("unterminated quoted string") }
                flushLiteral(quoted: true)
            case "\\":
                inWord = true
                if i + 1 < characters.count {
                    if characters[i + 1] == "\n" { i += 2; continue }
                    flushLiteral()
                    parts.append(.literal(String(characters[i + 1]), quoted: true))
                }
                i += 2
            case "$":
                inWord = true
                if try parameter(quoted: false) { continue }
                literal.append(c)
                i += 1
            default:
                inWord = true
                literal.append(c)
                i += 1
            }
        }
        endWord()
        return tokens
    }

    static func isName(_ text: String) -> Bool {
        guard let first = text.first, first == "_" || (first.isASCII && first.isLetter) else { return false }
        return text.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
    }

    static func isSpecial(_ text: String) -> Bool {
        text.count == 1 && "?$#@*!0123456789".contains(text)
    }
}

/// The syntax tree of a command line.
indirect enum ShellNode: Equatable, Sendable {
    /// `NAME=value … word …`.
    case simple(assignments: [Assignment], words: [ShellWord])
    /// Commands run in order (`;` or newline).
    case sequence([ShellNode])
    /// `a && b || c`: each operator applies to the result so far.
    case andOr(ShellNode, [(AndOr, ShellNode)])
    /// `! command`.
    case not(ShellNode)
    case ifClause(branches: [Branch], otherwise: ShellNode?)
    case loop(condition: ShellNode, body: ShellNode, until: Bool)
    case forLoop(name: String, items: [ShellWord]?, body: ShellNode)

    enum AndOr: String, Equatable, Sendable { case and = "&&", or = "||" }

    struct Assignment: Equatable, Sendable {
        var name: String
        var value: ShellWord
    }

    struct Branch: Equatable, Sendable {
        var condition: ShellNode
        var body: ShellNode
    }

    static func == (lhs: ShellNode, rhs: ShellNode) -> Bool {
        switch (lhs, rhs) {
        case let (.simple(a1, w1), .simple(a2, w2)): a1 == a2 && w1 == w2
        case let (.sequence(l), .sequence(r)): l == r
        case let (.andOr(f1, r1), .andOr(f2, r2)):
            f1 == f2 && r1.count == r2.count && zip(r1, r2).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.not(l), .not(r)): l == r
        case let (.ifClause(b1, o1), .ifClause(b2, o2)): b1 == b2 && o1 == o2
        case let (.loop(c1, b1, u1), .loop(c2, b2, u2)): c1 == c2 && b1 == b2 && u1 == u2
        case let (.forLoop(n1, i1, b1), .forLoop(n2, i2, b2)): n1 == n2 && i1 == i2 && b1 == b2
        default: false
        }
    }
}

/// A recursive-descent parser for the supported subset of the POSIX shell grammar.
struct ShellParser {
    private var tokens: [ShellToken]
    private var position = 0

    static let reserved: Set<String> = ["if", "then", "elif", "else", "fi", "while", "until", "do", "done", "for", "in", "!", "{", "}", "case", "esac"]

    /// Parses a whole script.
    static func parse(_ input: String) throws(ShellSyntaxError) -> ShellNode {
        var parser = ShellParser(tokens: try ShellLexer.tokens(input))
        let node = try parser.list(until: [])
        if parser.position < parser.tokens.count { throw .unexpected(parser.describe(parser.tokens[parser.position])) }
        return node
    }

    private init(tokens: [ShellToken]) { self.tokens = tokens }

    private func describe(_ token: ShellToken) -> String {
        switch token {
        case let .word(word): word.plainText ?? "word"
        case let .separator(text): text == "\n" ? "newline" : text
        }
    }

    private func peekReserved() -> String? {
        guard position < tokens.count, case let .word(word) = tokens[position], let text = word.plainText,
              ShellParser.reserved.contains(text) else { return nil }
        return text
    }

    private mutating func skipNewlines() {
        while position < tokens.count, tokens[position] == .separator("\n") { position += 1 }
    }

    private mutating func expect(_ word: String) throws(ShellSyntaxError) {
        skipNewlines()
        guard peekReserved() == word else {
            if position >= tokens.count { throw .unexpectedEnd("expecting \"\(word)\"") }
            throw .unexpected(describe(tokens[position]))
        }
        position += 1
    }

    /// Commands separated by `;`/newlines until one of `terminators` (a reserved word) or the end.
    private mutating func list(until terminators: Set<String>) throws(ShellSyntaxError) -> ShellNode {
        var nodes: [ShellNode] = []
        while true {
            while position < tokens.count, case .separator(let s) = tokens[position], s == ";" || s == "\n" {
                if s == ";" && nodes.isEmpty { throw .unexpected(";") }
                position += 1
            }
            if position >= tokens.count { break }
            if let word = peekReserved(), terminators.contains(word) { break }
            nodes.append(try andOr())
            if position < tokens.count, case let .separator(s) = tokens[position], s == ";" || s == "\n" {
                position += 1
                continue
            }
            if position < tokens.count, let word = peekReserved(), terminators.contains(word) { break }
            if position < tokens.count { throw .unexpected(describe(tokens[position])) }
        }
        return nodes.count == 1 ? nodes[0] : .sequence(nodes)
    }

    private mutating func andOr() throws(ShellSyntaxError) -> ShellNode {
        let first = try pipeline()
        var rest: [(ShellNode.AndOr, ShellNode)] = []
        while position < tokens.count, case let .separator(s) = tokens[position], s == "&&" || s == "||" {
            position += 1
            skipNewlines()
            guard position < tokens.count else { throw .unexpectedEnd("after \(s)") }
            rest.append((s == "&&" ? .and : .or, try pipeline()))
        }
        return rest.isEmpty ? first : .andOr(first, rest)
    }

    private mutating func pipeline() throws(ShellSyntaxError) -> ShellNode {
        if peekReserved() == "!" {
            position += 1
            return .not(try command())
        }
        return try command()
    }

    private mutating func command() throws(ShellSyntaxError) -> ShellNode {
        guard position < tokens.count else { throw .unexpectedEnd("expecting a command") }
        switch peekReserved() {
        case "if":
            position += 1
            var branches = [ShellNode.Branch(condition: try list(until: ["then"]), body: .sequence([]))]
            try expect("then")
            branches[0].body = try list(until: ["elif", "else", "fi"])
            var otherwise: ShellNode?
            while true {
                skipNewlines()
                switch peekReserved() {
                case "elif":
                    position += 1
                    let condition = try list(until: ["then"])
                    try expect("then")
                    branches.append(.init(condition: condition, body: try list(until: ["elif", "else", "fi"])))
                case "else":
                    position += 1
                    otherwise = try list(until: ["fi"])
                case "fi":
                    position += 1
                    return .ifClause(branches: branches, otherwise: otherwise)
                default:
                    if position >= tokens.count { throw .unexpectedEnd("expecting \"fi\"") }
                    throw .unexpected(describe(tokens[position]))
                }
            }
        case "while", "until":
            let until = peekReserved() == "until"
            position += 1
            let condition = try list(until: ["do"])
            try expect("do")
            let body = try list(until: ["done"])
            try expect("done")
            return .loop(condition: condition, body: body, until: until)
        case "for":
            position += 1
            guard position < tokens.count, case let .word(nameWord) = tokens[position], let name = nameWord.plainText,
                  ShellLexer.isName(name) else {
                if position >= tokens.count { throw .unexpectedEnd("expecting a loop variable") }
                throw .unexpected(describe(tokens[position]))
            }
            position += 1
            var items: [ShellWord]?
            skipNewlines()
            if peekReserved() == "in" {
                position += 1
                var list: [ShellWord] = []
                while position < tokens.count, case let .word(word) = tokens[position] {
                    list.append(word)
                    position += 1
                }
                items = list
            }
            if position < tokens.count, case let .separator(s) = tokens[position], s == ";" || s == "\n" { position += 1 }
            try expect("do")
            let body = try list(until: ["done"])
            try expect("done")
            return .forLoop(name: name, items: items, body: body)
        case "{", "}", "case", "esac":
            throw .unsupported("'\(peekReserved()!)'")
        case let word?:
            throw .unexpected(word)
        case nil:
            break
        }
        var assignments: [ShellNode.Assignment] = []
        var words: [ShellWord] = []
        while position < tokens.count, case let .word(word) = tokens[position] {
            if words.isEmpty, let assignment = ShellParser.assignment(word) {
                assignments.append(assignment)
            } else {
                words.append(word)
            }
            position += 1
        }
        guard !assignments.isEmpty || !words.isEmpty else { throw .unexpected(describe(tokens[position])) }
        return .simple(assignments: assignments, words: words)
    }

    /// `NAME=value` (the name unquoted), or nil.
    private static func assignment(_ word: ShellWord) -> ShellNode.Assignment? {
        guard case let .literal(text, quoted: false)? = word.parts.first, let equals = text.firstIndex(of: "="),
              ShellLexer.isName(String(text[..<equals])) else { return nil }
        var valueParts = word.parts
        let rest = String(text[text.index(after: equals)...])
        if rest.isEmpty { valueParts.removeFirst() } else { valueParts[0] = .literal(rest, quoted: false) }
        return .init(name: String(text[..<equals]), value: ShellWord(parts: valueParts))
    }
}
