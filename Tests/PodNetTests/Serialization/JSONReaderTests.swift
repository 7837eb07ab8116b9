import Testing
@testable import PodNet

@Suite("JSONReader")
struct JSONReaderTests {
    @Test("parses every JSON type", arguments: [
        ("null", JSONValue.null),
        ("true", .bool(true)),
        ("false", .bool(false)),
        ("0", .integer(0)),
        ("-12", .integer(-12)),
        ("9223372036854775807", .integer(Int64.max)),
        ("-9223372036854775808", .integer(Int64.min)),
        ("9223372036854775808", .number(9_223_372_036_854_775_808)),
        ("1.5", .number(1.5)),
        ("1e3", .number(1000)),
        ("-0.25E-2", .number(-0.0025)),
        (#""a\"b\\c\/d\n\t\u00e9\ud83d\ude00""#, .string("a\"b\\c/d\n\té😀")),
        (#""\ud800x""#, .string("\u{FFFD}x")),
        ("[]", .array([])),
        ("{}", .object([:])),
        (#" { "a" : [1, {"b": null}] } "#, .object(["a": .array([.integer(1), .object(["b": .null])])])),
        ("\u{FEFF}{}", .object([:])),
    ])
    func parses(text: String, expected: JSONValue) throws {
        #expect(try JSONReader.value(from: text) == expected)
    }

    @Test("reports line and column of syntax errors", arguments: [
        ("{\n  \"a\": 1,\n  \"b\" 2\n}", 3, 7, "expected ':' after object key"),
        ("{\"a\": 1, \"a\": 2}", 1, 10, "duplicate key \"a\""),
        ("[1, 2", 1, 6, "expected ',' or ']' after array element"),
        ("[1,]", 1, 4, "invalid character ']' looking for beginning of value"),
        ("{\"a\": tru}", 1, 10, "invalid literal, expected true"),
        ("01", 1, 2, "unexpected text after the JSON value"),
        ("1.", 1, 3, "invalid number: expected digits after '.'"),
        ("\"a\nb\"", 1, 3, "invalid control character in string"),
        ("\"abc", 1, 5, "unterminated string"),
        ("\"\\x\"", 1, 4, "invalid escape '\\x' in string"),
        ("", 1, 1, "unexpected end of input"),
        ("{\"é\": x}", 1, 7, "invalid character 'x' looking for beginning of value"),
        ("1e999", 1, 6, "number 1e999 is out of range"),
    ])
    func syntaxErrors(text: String, line: Int, column: Int, problem: String) {
        #expect(throws: DocumentSyntaxError(format: .json, line: line, column: column, problem: problem)) {
            try JSONReader.value(from: text)
        }
    }

    @Test("rejects nesting deeper than the limit")
    func depth() {
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(throws: DocumentSyntaxError.self) { try JSONReader.value(from: deep) }
        let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: Never.self) { try JSONReader.value(from: fine) }
    }

    @Test("reads a stream of objects with their lines")
    func stream() throws {
        let documents = try JSONReader.documents(in: "{\"a\": 1}\n\n{\n \"b\": 2}\n")
        #expect(documents == [TextDocument(value: ["a": 1], line: 1), TextDocument(value: ["b": 2], line: 3)])
    }

    @Test("manifest text picks JSON for a leading brace and YAML otherwise")
    func sniffing() throws {
        #expect(try ManifestText.documents(in: "  \n {\"kind\": \"Pod\"}").map(\.value) == [["kind": "Pod"]])
        #expect(try ManifestText.documents(in: "kind: Pod\n").map(\.value) == [["kind": "Pod"]])
        #expect(try ManifestText.documents(in: "[1, 2]").map(\.value) == [[1, 2]])
        #expect(throws: DocumentSyntaxError.self) { try ManifestText.documents(in: "{kind: Pod}") }
    }
}

@Suite("JSONWriter")
struct JSONWriterTests {
    @Test("prints like kubectl -o json: sorted keys, four spaces")
    func pretty() {
        let value: JSONValue = ["kind": "Pod", "apiVersion": "v1", "metadata": ["name": "web", "labels": [:]], "items": [], "list": [1, true, .null, 2.5]]
        #expect(value.jsonText() == """
            {
                "apiVersion": "v1",
                "items": [],
                "kind": "Pod",
                "list": [
                    1,
                    true,
                    null,
                    2.5
                ],
                "metadata": {
                    "labels": {},
                    "name": "web"
                }
            }
            """)
        #expect(value.jsonText(indent: 0) == #"{"apiVersion":"v1","items":[],"kind":"Pod","list":[1,true,null,2.5],"metadata":{"labels":{},"name":"web"}}"#)
    }

    @Test("escapes like Go's encoding/json", arguments: [
        ("a\"b\\c", #""a\"b\\c""#),
        ("sh -c 'a && b < c > d'", #""sh -c 'a \u0026\u0026 b \u003c c \u003e d'""#),
        ("tab\tnew\nline\r", #""tab\tnew\nline\r""#),
        ("\u{01}\u{08}\u{0C}\u{1F}", #""\u0001\b\f\u001f""#),
        ("é😀\u{2028}", #""é😀\u2028""#),
        ("/path", #""/path""#),
        // Characters that share U+2028's first UTF-8 byte (E2) stay as they are.
        ("a → b … \u{2029}", #""a → b … \u2029""#),
        ("10.244.1.2:80 → 10.244.2.3:8080", #""10.244.1.2:80 → 10.244.2.3:8080""#),
    ])
    func escaping(text: String, expected: String) {
        #expect(JSONValue.string(text).jsonText() == expected)
    }

    @Test("numbers", arguments: [(JSONValue.integer(-3), "-3"), (.number(2.0), "2"), (.number(0.5), "0.5"), (.number(-1e-7), "-1e-07")])
    func numbers(value: JSONValue, expected: String) {
        #expect(value.jsonText() == expected)
    }

    @Test("keys sort by bytes, as Go sorts map keys")
    func keyOrder() {
        let value: JSONValue = ["b": 1, "B": 2, "a10": 3, "a9": 4, "_": 5]
        #expect(value.jsonText(indent: 0) == #"{"B":2,"_":5,"a10":3,"a9":4,"b":1}"#)
    }

    @Test("what it writes reads back the same", arguments: [
        JSONValue.object(["a": ["b": [1, 2.5, "x\u{0}y", .null, true]], "": ""]),
        JSONValue.array([[], [:], "<&>", .integer(Int64.min)]),
    ])
    func roundTrip(value: JSONValue) throws {
        #expect(try JSONReader.value(from: value.jsonText()) == value)
        #expect(try JSONReader.value(from: value.jsonText(indent: 0)) == value)
    }
}
