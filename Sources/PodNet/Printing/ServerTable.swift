import Foundation

/// Server-side printing: a `meta.k8s.io/v1 Table` (what kubectl asks for with
/// `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), built from the same tables
/// `podlab get` prints, so both print identical text.
public enum ServerTable {
    /// What each row carries besides its cells (`?includeObject=`): the object's metadata as a
    /// `PartialObjectMetadata` (the default), the whole object, or nothing.
    public enum IncludeObject: String, Sendable {
        case none = "None"
        case metadata = "Metadata"
        case object = "Object"

        /// The query value; nil for an unknown one.
        public init?(query: String?) {
            guard let query, !query.isEmpty else {
                self = .metadata
                return
            }
            self.init(rawValue: query)
        }
    }

    /// The Table for `objects` of `resource` (a list, or one object from a get): columns with
    /// kubectl's names and priorities (1 for what only `-o wide` shows), one row per object.
    /// `typed`, the same objects typed (the agent's own), prints them without decoding each again.
    public static func table(_ resource: ServedResource, objects: [JSONValue], typed: [any KubernetesResource]? = nil, resourceVersion: String,
                             now: Timestamp, include: IncludeObject = .metadata) throws(ObjectDecodingError) -> JSONValue {
        let (columns, definitions) = try printed(resource, objects: objects, typed: typed, now: now)
        var rows: [JSONValue] = []
        for (index, cells) in columns.rows.enumerated() {
            var row: [String: JSONValue] = ["cells": .array(cells.map { .string($0) })]
            let object = objects[index]
            switch include {
            case .none: break
            case .object: row["object"] = object
            case .metadata: row["object"] = partialObjectMetadata(object["metadata"] ?? .object([:]))
            }
            rows.append(.object(row))
        }
        return .object([
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": .object(["resourceVersion": .string(resourceVersion)]),
            "columnDefinitions": .array(definitions),
            "rows": .array(rows),
        ])
    }

    /// The same Table's one-line JSON (`table(…).jsonText(indent: 0)`, byte for byte, with
    /// `metadata` for the Table's when given: a list's page says `continue`) for objects whose
    /// JSON is written already: each row's object is spliced in as it was written.
    public static func tableText(_ resource: ServedResource, objects: [EncodedObject], resourceVersion: String, metadata: JSONValue? = nil,
                                 now: Timestamp, include: IncludeObject = .metadata) throws(ObjectDecodingError) -> Data {
        let (columns, definitions) = try printed(resource, objects: objects.map(\.json), typed: objects.map(\.object), now: now)
        // Each row written directly (`cells` sorts before `object`), around the kept texts; the
        // partial object's text around its metadata made once. Writing a value per row was most
        // of a 1 000-row Table's time.
        let partial = Array(partialObjectMetadata([:]).compactJSON(setting: "metadata", toWritten: [0]))
        let split = partial.firstIndex(of: 0)!
        let (partialPrefix, partialSuffix) = (partial[..<split], partial[(split + 1)...])
        var rows: [UInt8] = [UInt8(ascii: "[")]
        rows.reserveCapacity(columns.rows.count * 640)
        for (index, cells) in columns.rows.enumerated() {
            var head = index > 0 ? "," : ""
            head += "{\"cells\":["
            for (position, cell) in cells.enumerated() {
                if position > 0 { head += "," }
                JSONWriter.writeString(cell, into: &head)
            }
            head += "]"
            rows.append(contentsOf: head.utf8)
            switch include {
            case .none: break
            case .object:
                rows.append(contentsOf: #","object":"#.utf8)
                rows.append(contentsOf: objects[index].text)
            case .metadata:
                rows.append(contentsOf: #","object":"#.utf8)
                rows.append(contentsOf: partialPrefix)
                rows.append(contentsOf: objects[index].metadataText)
                rows.append(contentsOf: partialSuffix)
            }
            rows.append(UInt8(ascii: "}"))
        }
        rows.append(UInt8(ascii: "]"))
        let envelope: JSONValue = .object([
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": metadata ?? .object(["resourceVersion": .string(resourceVersion)]),
            "columnDefinitions": .array(definitions),
        ])
        return envelope.compactJSON(setting: "rows", toWritten: rows)
    }

    /// A row's object when it carries metadata only.
    private static func partialObjectMetadata(_ metadata: JSONValue) -> JSONValue {
        .object(["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata])
    }

    /// The rows' cells and the column definitions for `objects`.
    private static func printed(_ resource: ServedResource, objects: [JSONValue], typed: [any KubernetesResource]?,
                                now: Timestamp) throws(ObjectDecodingError) -> (columns: TextTable, definitions: [JSONValue]) {
        let columns: TextTable
        let narrow: Int
        if let typed, typed.count == objects.count, let printed = resource.typedTable?(typed, now) {
            (columns, narrow) = printed
        } else if let render = resource.table {
            (columns, narrow) = try render(objects, now)
        } else {
            columns = TextTable(headers: ["NAME", "AGE"], rows: objects.map { object in
                let metadata = object["metadata"]
                let created = metadata?["creationTimestamp"]?.stringValue.flatMap { try? Timestamp(parsing: $0) }
                return [metadata?["name"]?.stringValue ?? "", HumanDuration.since(created, now: now)]
            })
            narrow = 2
        }
        let definitions: [JSONValue] = columns.headers.enumerated().map { index, header in
            .object([
                "name": .string(columnName(header)),
                "type": "string",
                "format": .string(index == 0 ? "name" : ""),
                "description": .string(index == 0 ? "Name must be unique within a namespace." : ""),
                "priority": .integer(index < narrow ? 0 : 1),
            ])
        }
        return (columns, definitions)
    }

    /// kubectl's column name for a header: `NOMINATED NODE` is `Nominated Node`, `PORT(S)` is
    /// `Port(s)`, `CLUSTER-IP` is `Cluster-IP`, `UP-TO-DATE` is `Up-to-date` (kubectl prints
    /// them in upper case again).
    static func columnName(_ header: String) -> String {
        header.split(separator: " ", omittingEmptySubsequences: false).map { word in
            word.split(separator: "-", omittingEmptySubsequences: false).enumerated().map { index, part in
                if part == "IP" { return String(part) }
                guard index == 0, let first = part.first else { return part.lowercased() }
                return first.uppercased() + part.dropFirst().lowercased()
            }.joined(separator: "-")
        }.joined(separator: " ")
    }

    /// A Table as kubectl prints it: the columns of priority 0 (all of them when `wide`),
    /// headers in upper case.
    public static func render(_ table: JSONValue, wide: Bool) -> String {
        let definitions = table["columnDefinitions"]?.arrayValue ?? []
        let shown = definitions.indices.filter { wide || definitions[$0]["priority"] == .integer(0) }
        let headers = shown.map { definitions[$0]["name"]?.stringValue ?? "" }
        let rows: [[String]] = (table["rows"]?.arrayValue ?? []).map { row in
            let cells = row["cells"]?.arrayValue ?? []
            return shown.map { index in
                guard index < cells.count else { return "" }
                switch cells[index] {
                case .string(let text): return text
                case .integer(let number): return String(number)
                case .null: return "<none>"
                default: return cells[index].jsonText(indent: 0)
                }
            }
        }
        return TextTable(headers: headers, rows: rows).render()
    }
}
