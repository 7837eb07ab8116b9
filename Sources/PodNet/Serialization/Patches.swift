/// Why a patch could not be applied: the API server's 422 (a JSON patch's `test` failing, a
/// path that does not exist) or 400 (a body that is not a patch of its type).
public struct PatchError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    /// True when the body is not a patch at all (400); false when it cannot be applied (422).
    public var malformed: Bool

    public init(_ message: String, malformed: Bool = false) {
        self.message = message
        self.malformed = malformed
    }

    public var description: String { message }

    /// The Status the API answers with.
    public var status: APIStatus {
        malformed ? .badRequest(message) : APIStatus(message: message, reason: .invalid, code: 422)
    }
}

/// The patch types of `PATCH` requests, by their `Content-Type`.
public enum PatchType: String, Sendable, CaseIterable {
    case json = "application/json-patch+json"
    case merge = "application/merge-patch+json"
    case strategicMerge = "application/strategic-merge-patch+json"
    case apply = "application/apply-patch+yaml"

    /// The type a `Content-Type` header names (parameters such as `charset` ignored).
    public init?(contentType: String) {
        let mediaType = contentType.split(separator: ";").first.map { String($0).lowercased() } ?? ""
        self.init(rawValue: mediaType.filter { $0 != " " })
    }

    /// Applies `patch` (the request body, already read as JSON) to `object`.
    public func apply(_ patch: JSONValue, to object: JSONValue) throws(PatchError) -> JSONValue {
        switch self {
        case .json: return try JSONPatch.apply(patch, to: object)
        case .merge:
            guard case .object = patch else { throw PatchError("a merge patch must be a JSON object", malformed: true) }
            return JSONMergePatch.apply(patch, to: object)
        case .strategicMerge:
            guard case .object = patch else { throw PatchError("a strategic merge patch must be a JSON object", malformed: true) }
            return try StrategicMergePatch.apply(patch, to: object)
        case .apply:
            // Not a patch of the object: the API merges it by field ownership (`ManagedFields.apply`).
            throw PatchError("an apply patch is merged by field ownership, not applied as a patch", malformed: true)
        }
    }
}

/// RFC 7386 JSON merge patch: objects merge key by key, `null` removes, anything else replaces.
public enum JSONMergePatch {
    public static func apply(_ patch: JSONValue, to target: JSONValue) -> JSONValue {
        guard case .object(let fields) = patch else { return patch }
        var result = target.objectValue ?? [:]
        for (key, value) in fields {
            if value == .null {
                result[key] = nil
            } else {
                result[key] = apply(value, to: result[key] ?? .null)
            }
        }
        return .object(result)
    }
}

/// RFC 6902 JSON patch: a list of `add`, `remove`, `replace`, `move`, `copy` and `test`
/// operations on RFC 6901 JSON pointers.
public enum JSONPatch {
    public static func apply(_ patch: JSONValue, to target: JSONValue) throws(PatchError) -> JSONValue {
        guard case .array(let operations) = patch else { throw PatchError("a JSON patch must be a list of operations", malformed: true) }
        var document = target
        for (index, operation) in operations.enumerated() {
            guard case .object(let fields) = operation else { throw PatchError("operation \(index) of the JSON patch is not an object", malformed: true) }
            guard let name = fields["op"]?.stringValue else { throw PatchError("Unexpected kind: missing \"op\" in operation \(index)") }
            guard let path = fields["path"]?.stringValue else { throw PatchError("operation \(index) (\(name)) is missing path") }
            let pointer = try tokens(path)
            switch name {
            case "add":
                guard let value = fields["value"] else { throw PatchError("add operation does not apply: missing value") }
                document = try add(value, at: pointer, in: document, path: path)
            case "remove":
                document = try remove(at: pointer, in: document, path: path).document
            case "replace":
                guard let value = fields["value"] else { throw PatchError("replace operation does not apply: missing value") }
                document = try add(value, at: pointer, in: try remove(at: pointer, in: document, path: path).document, path: path)
            case "move", "copy":
                guard let from = fields["from"]?.stringValue else { throw PatchError("\(name) operation does not apply: missing from") }
                let source = try tokens(from)
                let value: JSONValue
                if name == "move" {
                    let removed = try remove(at: source, in: document, path: from)
                    document = removed.document
                    value = removed.value
                } else {
                    value = try self.value(at: source, in: document, path: from)
                }
                document = try add(value, at: pointer, in: document, path: path)
            case "test":
                let actual = try value(at: pointer, in: document, path: path)
                guard actual == (fields["value"] ?? .null) else {
                    throw PatchError("testing value \(path) failed")
                }
            default:
                throw PatchError("Unexpected kind: \(name)")
            }
        }
        return document
    }

    /// The reference tokens of a JSON pointer (`~1` is `/`, `~0` is `~`).
    static func tokens(_ pointer: String) throws(PatchError) -> [String] {
        if pointer.isEmpty { return [] }
        guard pointer.hasPrefix("/") else { throw PatchError("JSON pointer must be empty or start with a \"/\": \(pointer)") }
        return pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences("~1", with: "/").replacingOccurrences("~0", with: "~")
        }
    }

    static func value(at tokens: [String], in document: JSONValue, path: String) throws(PatchError) -> JSONValue {
        var current = document
        for token in tokens {
            switch current {
            case .object(let fields):
                guard let next = fields[token] else { throw PatchError("doc is missing path: \(path)") }
                current = next
            case .array(let items):
                guard let index = Int(token), items.indices.contains(index) else { throw PatchError("doc is missing path: \(path)") }
                current = items[index]
            default:
                throw PatchError("doc is missing path: \(path)")
            }
        }
        return current
    }

    static func add(_ value: JSONValue, at tokens: [String], in document: JSONValue, path: String) throws(PatchError) -> JSONValue {
        guard let token = tokens.first else { return value }
        let rest = Array(tokens.dropFirst())
        switch document {
        case .object(var fields):
            if rest.isEmpty {
                fields[token] = value
            } else {
                guard let child = fields[token] else { throw PatchError("add operation does not apply: doc is missing path: \(path)") }
                fields[token] = try add(value, at: rest, in: child, path: path)
            }
            return .object(fields)
        case .array(var items):
            if rest.isEmpty {
                if token == "-" {
                    items.append(value)
                } else {
                    guard let index = Int(token), index >= 0, index <= items.count else {
                        throw PatchError("add operation does not apply: doc is missing path: \(path)")
                    }
                    items.insert(value, at: index)
                }
            } else {
                guard let index = Int(token), items.indices.contains(index) else {
                    throw PatchError("add operation does not apply: doc is missing path: \(path)")
                }
                items[index] = try add(value, at: rest, in: items[index], path: path)
            }
            return .array(items)
        default:
            throw PatchError("add operation does not apply: doc is missing path: \(path)")
        }
    }

    static func remove(at tokens: [String], in document: JSONValue, path: String) throws(PatchError) -> (document: JSONValue, value: JSONValue) {
        guard let token = tokens.first else { throw PatchError("unable to remove the whole document: \(path)") }
        let rest = Array(tokens.dropFirst())
        switch document {
        case .object(var fields):
            guard let child = fields[token] else { throw PatchError("remove operation does not apply: doc is missing path: \"\(path)\"") }
            if rest.isEmpty {
                fields[token] = nil
                return (.object(fields), child)
            }
            let removed = try remove(at: rest, in: child, path: path)
            fields[token] = removed.document
            return (.object(fields), removed.value)
        case .array(var items):
            guard let index = Int(token), items.indices.contains(index) else {
                throw PatchError("remove operation does not apply: doc is missing path: \"\(path)\"")
            }
            if rest.isEmpty {
                let value = items.remove(at: index)
                return (.array(items), value)
            }
            let removed = try remove(at: rest, in: items[index], path: path)
            items[index] = removed.document
            return (.array(items), removed.value)
        default:
            throw PatchError("remove operation does not apply: doc is missing path: \"\(path)\"")
        }
    }
}

/// Kubernetes' strategic merge patch: a merge patch in which lists of objects with a patch
/// merge key (containers by `name`, container ports by `containerPort`...) merge element by
/// element, with the directives kubectl sends (`$patch: delete|replace`,
/// `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>`, `$retainKeys`).
public enum StrategicMergePatch {
    /// The patch merge key of a list field, by its name and the field names above it (the
    /// `patchMergeKey` tags of the Kubernetes API types podlab serves).
    public static func mergeKey(field: String, path: [String]) -> String? {
        switch field {
        case "containers", "initContainers", "ephemeralContainers", "volumes", "env", "imagePullSecrets", "resourceClaims", "schedulingGates":
            return "name"
        case "ports":
            let inContainer = path.contains { ["containers", "initContainers", "ephemeralContainers"].contains($0) }
            return inContainer ? "containerPort" : "port"
        case "volumeMounts": return "mountPath"
        case "volumeDevices": return "devicePath"
        case "hostAliases": return "ip"
        case "conditions": return "type"
        case "ownerReferences": return "uid"
        case "topologySpreadConstraints": return "topologyKey"
        case "podIPs", "hostIPs": return "ip"
        // A node's addresses, one per type.
        case "addresses": return path == ["status"] ? "type" : nil
        default: return nil
        }
    }

    /// Lists of scalars that merge as sets rather than being replaced.
    static let mergedScalarLists: Set<String> = ["finalizers"]

    public static func apply(_ patch: JSONValue, to original: JSONValue) throws(PatchError) -> JSONValue {
        try merge(original, patch, path: [])
    }

    static func merge(_ original: JSONValue, _ patch: JSONValue, path: [String]) throws(PatchError) -> JSONValue {
        guard case .object(let patchFields) = patch else { return patch }
        if let directive = patchFields["$patch"]?.stringValue {
            switch directive {
            case "replace": return stripDirectives(patch)
            case "delete": return .null
            default: throw PatchError("unknown patch type: \(directive) in map: \(path.joined(separator: "."))")
            }
        }
        var result = original.objectValue ?? [:]
        for key in patchFields.keys.sorted() {
            let value = patchFields[key]!
            if key == "$retainKeys" || key.hasPrefix("$setElementOrder/") { continue }
            if key.hasPrefix("$deleteFromPrimitiveList/") {
                let field = String(key.dropFirst("$deleteFromPrimitiveList/".count))
                let removed = value.arrayValue ?? []
                if let items = result[field]?.arrayValue { result[field] = .array(items.filter { !removed.contains($0) }) }
                continue
            }
            switch value {
            case .null:
                result[key] = nil
            case .object:
                let merged = try merge(result[key] ?? .null, value, path: path + [key])
                result[key] = merged == .null ? nil : merged
            case .array(let items):
                if let mergeKey = mergeKey(field: key, path: path) {
                    result[key] = try mergeList(result[key]?.arrayValue ?? [], items, key: mergeKey, path: path + [key])
                } else if mergedScalarLists.contains(key) {
                    var merged = result[key]?.arrayValue ?? []
                    for item in items where !merged.contains(item) { merged.append(item) }
                    result[key] = .array(merged)
                } else {
                    result[key] = stripDirectives(value)
                }
            default:
                result[key] = value
            }
            if let order = patchFields["$setElementOrder/\(key)"]?.arrayValue, let mergeKey = mergeKey(field: key, path: path),
               let items = result[key]?.arrayValue {
                result[key] = .array(reorder(items, by: order, key: mergeKey))
            }
        }
        // A list only ordered (its elements unchanged) is reordered too.
        for (key, value) in patchFields where key.hasPrefix("$setElementOrder/") {
            let field = String(key.dropFirst("$setElementOrder/".count))
            guard patchFields[field] == nil, let mergeKey = mergeKey(field: field, path: path), let items = result[field]?.arrayValue else { continue }
            result[field] = .array(reorder(items, by: value.arrayValue ?? [], key: mergeKey))
        }
        return .object(result)
    }

    static func mergeList(_ original: [JSONValue], _ patch: [JSONValue], key: String, path: [String]) throws(PatchError) -> JSONValue {
        if patch.contains(where: { $0["$patch"]?.stringValue == "replace" }) {
            return .array(patch.filter { $0["$patch"] == nil }.map(stripDirectives))
        }
        var result = original
        for element in patch {
            guard case .object = element else {
                // A scalar in a keyed list: the list is replaced, as the API server does for a
                // value it cannot merge.
                return .array(patch.map(stripDirectives))
            }
            guard let keyValue = element[key] else {
                throw PatchError("map: \(element.jsonText(indent: 0)) does not contain declared merge key: \(key)")
            }
            let existing = result.firstIndex { $0[key] == keyValue }
            if element["$patch"]?.stringValue == "delete" {
                result.removeAll { $0[key] == keyValue }
                continue
            }
            if let existing {
                result[existing] = try merge(result[existing], element, path: path)
            } else {
                result.append(stripDirectives(element))
            }
        }
        return .array(result)
    }

    /// The elements named in `order` first, in its order, then the others as they were.
    static func reorder(_ items: [JSONValue], by order: [JSONValue], key: String) -> [JSONValue] {
        let keys = order.compactMap { $0[key] }
        let ordered = keys.compactMap { wanted in items.first { $0[key] == wanted } }
        let rest = items.filter { item in !keys.contains { $0 == item[key] } }
        return ordered + rest
    }

    /// `value` without the patch's directives, as it is stored when it is new.
    static func stripDirectives(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let fields):
            var result: [String: JSONValue] = [:]
            for (key, field) in fields where !key.hasPrefix("$") { result[key] = stripDirectives(field) }
            return .object(result)
        case .array(let items):
            return .array(items.map(stripDirectives))
        default:
            return value
        }
    }
}

extension Substring {
    fileprivate func replacingOccurrences(_ target: String, with replacement: String) -> String {
        String(self).split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

extension String {
    fileprivate func replacingOccurrences(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
