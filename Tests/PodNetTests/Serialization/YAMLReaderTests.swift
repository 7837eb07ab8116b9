import Testing
@testable import PodNet

@Suite("YAMLReader")
struct YAMLReaderTests {
    @Test("plain scalars resolve as go-yaml v2 resolves them", arguments: [
        ("yes", JSONValue.bool(true)), ("No", .bool(false)), ("on", .bool(true)), ("OFF", .bool(false)),
        ("y", .bool(true)), ("n", .bool(false)), ("true", .bool(true)), ("False", .bool(false)),
        ("~", .null), ("null", .null), ("", .null),
        ("42", .integer(42)), ("-7", .integer(-7)), ("+7", .integer(7)), ("0755", .integer(493)), ("0o17", .integer(15)),
        ("0x1F", .integer(31)), ("0b101", .integer(5)), ("1_000", .integer(1000)), ("08", .number(8)),
        ("1.5", .number(1.5)), ("1e3", .number(1000)), (".5", .number(0.5)), ("-2.", .number(-2)),
        ("18446744073709551615", .number(18_446_744_073_709_551_616)),
        ("2021-03-21", .string("2021-03-21")), ("2021-03-21T11:42:17Z", .string("2021-03-21T11:42:17Z")),
        ("1:20", .string("1:20")), ("12:30:45", .string("12:30:45")),
        ("nginx", .string("nginx")), ("yess", .string("yess")), ("0x", .string("0x")), ("1.2.3", .string("1.2.3")),
        ("-x", .string("-x")), (".", .string(".")), ("<<", .string("<<")), ("10.244.1.0/24", .string("10.244.1.0/24")),
    ])
    func resolves(text: String, expected: JSONValue) throws {
        #expect(try YAMLReader.value(from: "value: \(text)\n") == ["value": expected])
    }

    @Test("quoted, block and tagged scalars are strings", arguments: [
        ("\"80\"", "80"), ("'yes'", "yes"), ("!!str 123", "123"), ("! true", "true"), ("!!timestamp 2021-03-21", "2021-03-21"),
        ("|\n  line1\n  line2\n", "line1\nline2\n"), (">-\n  folded\n  text\n", "folded text"), ("\"\"", ""),
    ])
    func strings(text: String, expected: String) throws {
        #expect(try YAMLReader.value(from: "value: \(text)\n") == ["value": .string(expected)])
    }

    @Test("explicit type tags are checked")
    func explicitTags() throws {
        #expect(try YAMLReader.value(from: "a: !!int 0x10\nb: !!float 2\nc: !!bool yes\nd: !!null ~\n") == ["a": 16, "b": 2, "c": true, "d": .null])
        #expect(throws: DocumentSyntaxError(format: .yaml, line: 1, column: 4, problem: "cannot decode \"abc\" as !!int")) {
            try YAMLReader.value(from: "a: !!int abc\n")
        }
    }

    @Test("infinity and NaN cannot become JSON")
    func nonFinite() {
        #expect(throws: DocumentSyntaxError(format: .yaml, line: 1, column: 4, problem: ".inf cannot be represented in JSON")) {
            try YAMLReader.value(from: "a: .inf\n")
        }
        #expect(throws: DocumentSyntaxError.self) { try YAMLReader.value(from: "a: .nan\n") }
    }

    @Test("splits documents, skips empty ones, remembers where each starts")
    func documents() throws {
        let text = """
            # leading comment
            ---
            kind: Pod
            ---
            ---
            # only a comment
            ---
            kind: Node
            ...
            ---
            - 1
            """
        let documents = try YAMLReader.documents(in: text)
        #expect(documents.map(\.value) == [["kind": "Pod"], ["kind": "Node"], [1]])
        #expect(documents.map(\.line) == [3, 8, 11])
        #expect(try YAMLReader.documents(in: "").isEmpty)
        #expect(try YAMLReader.documents(in: "# nothing\n").isEmpty)
    }

    @Test("anchors, aliases and merge keys")
    func aliasesAndMerges() throws {
        let text = """
            base: &base
              image: nginx
              name: base
            web:
              <<: *base
              name: web
            list: [*base]
            many:
              <<: [{a: 1}, {a: 2, b: 2}]
            """
        let value = try YAMLReader.value(from: text)
        #expect(value["web"] == ["image": "nginx", "name": "web"])
        #expect(value["list"] == [["image": "nginx", "name": "base"]])
        #expect(value["many"] == ["a": 1, "b": 2])
    }

    @Test("keys are taken as text")
    func keys() throws {
        #expect(try YAMLReader.value(from: "1: a\ntrue: b\n~: c\n\"q\": d\n") == ["1": "a", "true": "b", "~": "c", "q": "d"])
        #expect(throws: DocumentSyntaxError.self) { try YAMLReader.value(from: "? [a]\n: b\n") }
    }

    @Test("syntax errors carry line and column", arguments: [
        ("a: b: c\n", 1, 5, "mapping values are not allowed in this context"),
        ("spec:\n  containers:\n  - name: x\n   image: y\n", 4, 4, "did not find expected key (while parsing a block mapping at line 2, column 3)"),
        ("a: [1, 2\n", 2, 1, "did not find expected ',' or ']' (while parsing a flow sequence at line 1, column 4)"),
        ("a:\n\t- x\n", 2, 1, "found character that cannot start any token (while scanning for the next token at line 2, column 1)"),
        ("a: *missing\n", 1, 4, "found undefined alias"),
        ("metadata:\n  name: a\n  name: b\n", 2, 3, "key \"name\" already set in map"),
    ])
    func syntaxErrors(text: String, line: Int, column: Int, problem: String) {
        #expect(throws: DocumentSyntaxError(format: .yaml, line: line, column: column, problem: problem)) {
            try YAMLReader.documents(in: text)
        }
    }

    @Test("the error description names syntax, line and column")
    func errorDescription() {
        #expect(DocumentSyntaxError(format: .yaml, line: 7, column: 10, problem: "mapping values are not allowed in this context").description
            == "yaml: line 7, column 10: mapping values are not allowed in this context")
    }

    @Test("alias bombs are stopped")
    func aliasBomb() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...7 {
            let previous = "*a\(level - 1)"
            text += "a\(level): &a\(level) [\(Array(repeating: previous, count: 10).joined(separator: ", "))]\n"
        }
        let error = #expect(throws: DocumentSyntaxError.self) { try YAMLReader.documents(in: text, maximumValues: 10_000) }
        #expect(error?.problem == "document expands to more than 10000 values (too many aliases)")
    }

    @Test("a single-document read rejects several documents")
    func single() {
        #expect(throws: DocumentSyntaxError.self) { try YAMLReader.value(from: "a: 1\n---\nb: 2\n") }
    }
}
