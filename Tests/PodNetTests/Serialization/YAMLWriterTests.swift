import Testing
@testable import PodNet

@Suite("YAMLWriter")
struct YAMLWriterTests {
    @Test("strings are quoted only when they would read as something else", arguments: [
        ("nginx", "nginx"),
        ("80", #""80""#),
        ("1.5", #""1.5""#),
        ("0755", #""0755""#),
        ("true", #""true""#),
        ("yes", #""yes""#),
        ("y", #""y""#),
        ("null", #""null""#),
        ("~", #""~""#),
        ("", #""""#),
        ("2021-03-21T11:42:17Z", #""2021-03-21T11:42:17Z""#),
        ("2021-03-21", #""2021-03-21""#),
        ("1:20", #""1:20""#),
        (".inf", #"".inf""#),
        ("10.244.1.2", "10.244.1.2"),
        ("10.244.1.0/24", "10.244.1.0/24"),
        ("http://10.244.1.2:80/", "http://10.244.1.2:80/"),
        ("app.kubernetes.io/name", "app.kubernetes.io/name"),
        ("-v", "-v"),
        ("- v", "'- v'"),
        ("-", "'-'"),
        ("*", "'*'"),
        ("&a", "'&a'"),
        ("!x", "'!x'"),
        ("%d", "'%d'"),
        ("@x", "'@x'"),
        ("`x`", "'`x`'"),
        ("{a}", "'{a}'"),
        ("[a]", "'[a]'"),
        ("a: b", "'a: b'"),
        ("a:b", "a:b"),
        ("a #b", "'a #b'"),
        ("a#b", "a#b"),
        ("#x", "'#x'"),
        ("it's", "it's"),
        ("'x'", "'''x'''"),
        ("\"x\"", #"'"x"'"#),
        (" lead", "' lead'"),
        ("trail ", "'trail '"),
        ("---", "'---'"),
        ("a,b", "a,b"),
        ("tab\there", #""tab\there""#),
        ("bell\u{07}", #""bell\a""#),
        ("é", "é"),
        ("😀", #""\U0001F600""#),
        ("sh -c 'echo hi'", "sh -c 'echo hi'"),
    ])
    func quoting(text: String, expected: String) {
        #expect(JSONValue.object(["k": .string(text)]).yamlText() == "k: \(expected)\n")
    }

    @Test("multi-line strings become literal blocks with the right chomping")
    func literals() {
        #expect(JSONValue.object(["k": "a\nb"]).yamlText() == "k: |-\n  a\n  b\n")
        #expect(JSONValue.object(["k": "a\nb\n"]).yamlText() == "k: |\n  a\n  b\n")
        #expect(JSONValue.object(["k": "a\n\nb\n\n"]).yamlText() == "k: |+\n  a\n\n  b\n\n")
        #expect(JSONValue.object(["k": "  indented\nx"]).yamlText() == "k: |2-\n    indented\n  x\n")
        #expect(JSONValue.array(["a\nb"]).yamlText() == "- |-\n  a\n  b\n")
        #expect(JSONValue.object(["k": "trailing space \nx"]).yamlText() == "k: \"trailing space \\nx\"\n")
        #expect(JSONValue.object(["a\nb": 1]).yamlText() == "\"a\\nb\": 1\n")
    }

    @Test("nesting: sequences sit at their key's indentation")
    func nesting() {
        let value: JSONValue = [
            "spec": ["containers": [["name": "web", "ports": [["containerPort": 80]], "args": ["-c", "x"]], ["name": "b"]]],
            "matrix": [[1, 2], [], [["a": 1]]],
            "empty": [:], "none": [], "nothing": .null, "flag": false, "ratio": 0.5,
        ]
        #expect(value.yamlText() == """
            empty: {}
            flag: false
            matrix:
            - - 1
              - 2
            - []
            - - a: 1
            none: []
            nothing: null
            ratio: 0.5
            spec:
              containers:
              - args:
                - -c
                - x
                name: web
                ports:
                - containerPort: 80
              - name: b

            """)
    }

    @Test("scalars and empty collections at the top level")
    func topLevel() {
        #expect(JSONValue.string("x").yamlText() == "x\n")
        #expect(JSONValue.object([:]).yamlText() == "{}\n")
        #expect(JSONValue.array([]).yamlText() == "[]\n")
        #expect(JSONValue.null.yamlText() == "null\n")
    }

    @Test("keys follow go-yaml's natural order")
    func keyOrder() {
        let keys = ["a10", "a9", "a-b", "ab", "B", "a", "a_b", "x01", "x1", "x001", "9", "10"]
        #expect(keys.sorted(by: YAMLWriter.goYAMLKeyOrder) == ["9", "10", "B", "a", "a-b", "a_b", "a9", "a10", "ab", "x1", "x01", "x001"])
    }

    @Test("what it writes reads back the same", arguments: [
        JSONValue.object(["s": ["80", "yes", "", " x", "a: b", "- x", "*", "é😀", "a\nb\n", "  a\n", "2021-03-21", "\t", "'\"",
                                "\nx", "x\n\n", "\n", " \nx", "x \ny", "a\r\nb", "\u{85}", "line1\n  indented\nline3", "#!/bin/sh\necho hi\n"],
                          "n": [1, -2, 0.25, true, .null], "o": ["k": [:], "l": [[]]]]),
    ])
    func roundTrip(value: JSONValue) throws {
        #expect(try YAMLReader.value(from: value.yamlText()) == value)
    }
}
