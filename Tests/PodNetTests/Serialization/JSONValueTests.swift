import Foundation
import Testing
@testable import PodNet

@Suite("JSONValue")
struct JSONValueTests {
    @Test("decodes through JSONDecoder keeping integers, numbers and booleans apart")
    func decoder() throws {
        let text = #"{"i": 1, "f": 1.5, "b": true, "z": false, "n": null, "s": "1", "a": [0, 1], "o": {"k": -7}}"#
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(value == ["i": 1, "f": 1.5, "b": true, "z": false, "n": .null, "s": "1", "a": [0, 1], "o": ["k": -7]])
        #expect(try value == JSONReader.value(from: text))
    }

    @Test("encodes through JSONEncoder")
    func encoder() throws {
        let value: JSONValue = ["i": 1, "f": 1.5, "b": true, "n": .null, "a": ["x"], "o": [:]]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let text = String(decoding: try encoder.encode(value), as: UTF8.self)
        #expect(text == #"{"a":["x"],"b":true,"f":1.5,"i":1,"n":null,"o":{}}"#)
    }

    @Test("accessors and omit-empty")
    func accessors() {
        let value: JSONValue = ["a": ["b": "c"], "l": [1]]
        #expect(value["a"]?["b"]?.stringValue == "c")
        #expect(value["l"]?.arrayValue == [1])
        #expect(value["missing"] == nil)
        #expect(JSONValue.string("x")["a"] == nil)
        #expect([JSONValue.null, "", [], [:]].allSatisfy { $0.isEmpty })
        #expect(![JSONValue.bool(false), .integer(0), .number(0), "x"].contains { $0.isEmpty })
        #expect(JSONValue.integer(1).typeName == "number" && JSONValue.bool(true).typeName == "bool")
    }

    @Test("field paths print like Kubernetes")
    func fieldPaths() {
        let path = FieldPath("spec.containers").index(0).child("ports").index(1).child("containerPort")
        #expect(path.description == "spec.containers[0].ports[1].containerPort")
        #expect(FieldPath("metadata.labels").key("app").description == "metadata.labels[app]")
        #expect(FieldPath.root.description == "" && FieldPath.root.isRoot)
        #expect(FieldPath.root.index(2).child("name").description == "[2].name")
    }
}
