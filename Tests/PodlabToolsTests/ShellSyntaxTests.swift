@testable import PodlabTools
import Testing

@Suite("sh command lines")
struct ShellSyntaxTests {
    private func words(_ text: String) throws -> [[ShellWord.Part]] {
        try ShellLexer.tokens(text).compactMap { token in
            if case let .word(word) = token { return word.parts }
            return nil
        }
    }

    @Test("words split on blanks; quotes keep text together", arguments: [
        ("echo a  b", [["echo"], ["a"], ["b"]]),
        ("echo 'a b' \"c d\"", [["echo"], ["a b"], ["c d"]]),
        ("echo it\\'s", [["echo"], ["it", "'", "s"]]),
        ("echo a'b'\"c\"", [["echo"], ["a", "b", "c"]]),
        ("echo ''", [["echo"], [""]]),
        ("echo # comment", [["echo"]]),
        ("echo a#b", [["echo"], ["a#b"]]),
    ] as [(String, [[String]])])
    func splitting(text: String, expected: [[String]]) throws {
        let texts = try words(text).map { parts in
            parts.compactMap { part -> String? in
                if case let .literal(text, _) = part { return text }
                return nil
            }.filter { !$0.isEmpty || parts.count == 1 }
        }
        #expect(texts == expected)
    }

    @Test("separators: ;, &&, || and newlines")
    func separators() throws {
        let tokens = try ShellLexer.tokens("a; b && c || d\ne")
        let separators = tokens.compactMap { token -> String? in
            if case let .separator(text) = token { return text }
            return nil
        }
        #expect(separators == [";", "&&", "||", "\n"])
    }

    @Test("unsupported syntax is refused with a clear error", arguments: [
        "echo hi | cat", "echo hi > /tmp/x", "cat < /etc/hosts", "sleep 1 &", "(echo hi)", "echo $(hostname)", "echo `hostname`",
        "case x in x) ;; esac", "{ echo hi; }", "echo ${x/a/b}",
    ])
    func unsupported(text: String) {
        #expect {
            try ShellParser.parse(text)
        } throws: { error in
            guard let error = error as? ShellSyntaxError, case .unsupported = error else { return false }
            return error.description.contains("not supported")
        }
    }

    @Test("incomplete input is 'unexpected end' (an interactive shell reads on)", arguments: [
        "echo 'open", "echo \"open", "if true; then echo", "while true; do", "a &&", "for i in 1 2",
    ])
    func incomplete(text: String) {
        #expect {
            try ShellParser.parse(text)
        } throws: { error in
            guard let error = error as? ShellSyntaxError, case .unexpectedEnd = error else { return false }
            return true
        }
    }

    @Test("misplaced words are syntax errors", arguments: ["then", "fi", "; echo", "if true; fi", "do echo", "echo a && ; b"])
    func unexpected(text: String) {
        #expect(throws: ShellSyntaxError.self) { try ShellParser.parse(text) }
    }

    private func literal(_ text: String) -> ShellWord { ShellWord(parts: [.literal(text, quoted: false)]) }

    @Test("lists and and-or chains build the expected tree")
    func tree() throws {
        let node = try ShellParser.parse("A=1 echo x; false && true || echo y")
        let expected = ShellNode.sequence([
            .simple(assignments: [.init(name: "A", value: literal("1"))], words: [literal("echo"), literal("x")]),
            .andOr(.simple(assignments: [], words: [literal("false")]), [
                (.and, .simple(assignments: [], words: [literal("true")])),
                (.or, .simple(assignments: [], words: [literal("echo"), literal("y")])),
            ]),
        ])
        #expect(node == expected)
    }

    @Test("compound commands parse", arguments: [
        "if [ -f /x ]; then echo a; elif true; then echo b; else echo c; fi",
        "while true; do echo hello; sleep 10; done",
        "until false\ndo\necho x\ndone",
        "for i in 1 2 3; do echo $i; done",
        "for i\ndo echo $i; done",
        "! false && echo negated",
    ])
    func compound(text: String) throws {
        _ = try ShellParser.parse(text)
    }

    @Test("expansion substitutes parameters and splits only unquoted results")
    func expansion() throws {
        setenv("PLT_SH_TEST", "a  b", 1)
        defer { unsetenv("PLT_SH_TEST") }
        let shell = ShellInterpreter(context: ToolContext(name: "sh", arguments: []))
        shell.positional = ["sh", "one", "two words"]
        func expand(_ text: String) throws -> [String] {
            guard case let .simple(_, words) = try ShellParser.parse("x \(text)") else { return [] }
            return words.dropFirst().flatMap(shell.expand)
        }
        #expect(try expand("$PLT_SH_TEST") == ["a", "b"])
        #expect(try expand("\"$PLT_SH_TEST\"") == ["a  b"])
        #expect(try expand("${PLT_SH_TEST}x") == ["a", "bx"])
        #expect(try expand("$PLT_SH_UNSET") == [])
        #expect(try expand("\"$PLT_SH_UNSET\"") == [""])
        #expect(try expand("${PLT_SH_UNSET:-fallback}") == ["fallback"])
        #expect(try expand("$1 $#") == ["one", "2"])
        #expect(try expand("\"$@\"") == ["one", "two words"])
        #expect(try expand("'$1'") == ["$1"])
        #expect(try expand("cost:\\$5") == ["cost:$5"])
    }

    @Test("test / [ evaluate", arguments: [
        (["-n", "x"], true), (["-z", ""], true), (["a", "=", "a"], true), (["a", "!=", "a"], false), (["3", "-lt", "5"], true),
        (["5", "-le", "4"], false), (["!", "-e", "/nonexistent/x"], true), (["-d", "/"], true), (["x"], true), ([], false),
    ] as [([String], Bool)])
    func testBuiltin(operands: [String], expected: Bool) throws {
        #expect(try ShellTest.evaluate(operands).get() == expected)
    }
}

#if canImport(Glibc)
import Glibc
#endif
