/// Field ownership as Kubernetes records it in `metadata.managedFields` (structured-merge-diff's
/// field sets in the `FieldsV1` encoding), and server-side apply on top of it: which manager set
/// which field, the conflicts a second manager's apply meets, and the fields an apply drops when
/// its manager stops naming them.

/// One step of a path into an object, as structured-merge-diff names it.
public enum ManagedPathElement: Hashable, Sendable {
    /// A field of an object or a key of a map: `f:name`, printed `.name`.
    case field(String)
    /// An element of a list merged by key: `k:{"name":"web"}`, printed `[name="web"]`.
    case key(String, JSONValue)
    /// An element of a list that is a set: `v:"a"`, printed `[="a"]`.
    case value(JSONValue)

    /// The element in the `FieldsV1` encoding.
    public var fieldsV1Key: String {
        switch self {
        case .field(let name): "f:" + name
        case .key(let name, let value): "k:" + JSONValue.object([name: value]).jsonText(indent: 0)
        case .value(let value): "v:" + value.jsonText(indent: 0)
        }
    }

    /// The element as structured-merge-diff prints it in conflict messages.
    public var printed: String {
        switch self {
        case .field(let name): "." + name
        case .key(let name, let value): "[\(name)=\(value.jsonText(indent: 0))]"
        case .value(let value): "[=\(value.jsonText(indent: 0))]"
        }
    }

    /// Reads a `FieldsV1` key (`f:`, `k:`, `v:`); nil for anything else.
    public init?(fieldsV1Key key: String) {
        let body = String(key.dropFirst(2))
        if key.hasPrefix("f:") {
            self = .field(body)
        } else if key.hasPrefix("k:"), case .object(let fields)? = try? JSONReader.value(from: body), fields.count == 1, let (name, value) = fields.first {
            self = .key(name, value)
        } else if key.hasPrefix("v:"), let value = try? JSONReader.value(from: body) {
            self = .value(value)
        } else {
            return nil
        }
    }
}

/// A path from the object's root to one field or list element.
public typealias ManagedPath = [ManagedPathElement]

extension Array where Element == ManagedPathElement {
    /// `.spec.containers[name="web"].image`
    public var printed: String { map(\.printed).joined() }
}

/// A set of owned fields: every leaf and every keyed list element a manager set.
public struct ManagedFieldSet: Hashable, Sendable {
    public var paths: Set<ManagedPath>

    public init(_ paths: Set<ManagedPath> = []) { self.paths = paths }

    /// Metadata the API server sets itself: never owned by a manager.
    static let serverMetadata: Set<String> = [
        "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
        "deletionGracePeriodSeconds", "managedFields", "selfLink",
    ]

    /// The fields an object sets: everything but `apiVersion`, `kind`, `status` and the
    /// metadata the server writes. Lists with a patch merge key own their elements by key, the
    /// lists Kubernetes treats as sets (`finalizers`) by value; other lists are atomic.
    public init(of object: JSONValue) {
        var paths: Set<ManagedPath> = []
        for (key, value) in object.objectValue ?? [:] where !["apiVersion", "kind", "status"].contains(key) {
            if key == "metadata" {
                for (field, inner) in value.objectValue ?? [:] where !Self.serverMetadata.contains(field) {
                    Self.collect(inner, at: [.field("metadata"), .field(field)], names: ["metadata", field], into: &paths)
                }
            } else {
                Self.collect(value, at: [.field(key)], names: [key], into: &paths)
            }
        }
        self.paths = paths
    }

    /// The fields a `status` value sets, under `.status`: its lists as kube-apiserver's schemas
    /// type them (`conditions` keyed by `type`, `podIPs` by `ip`; `containerStatuses` and
    /// `hostIPs` atomic).
    /// A keyed list is owned itself too (`.` beside its elements in `FieldsV1`), by the writer
    /// that added it, as kube-apiserver records a list one write adds.
    public init(status: JSONValue?) {
        var paths: Set<ManagedPath> = []
        for (key, value) in status?.objectValue ?? [:] {
            Self.collect(value, at: [.field("status"), .field(key)], names: ["status", key], into: &paths, ownLists: true)
        }
        self.paths = paths
    }

    /// Lists that merge by key in a strategic merge patch but are atomic in the API's schema
    /// (`+listType=atomic`), so ownership takes them whole.
    static let atomicLists: Set<[String]> = [["status", "hostIPs"]]

    /// Objects the API's schema declares atomic (`+structType=atomic`): owned whole, as one
    /// field. An event's `involvedObject` (an `ObjectReference`).
    static let atomicObjects: Set<[String]> = [["involvedObject"]]

    static func collect(_ value: JSONValue, at path: ManagedPath, names: [String], into paths: inout Set<ManagedPath>, ownLists: Bool = false) {
        switch value {
        case .object(let fields) where !fields.isEmpty && !atomicObjects.contains(names):
            for (key, inner) in fields { collect(inner, at: path + [.field(key)], names: names + [key], into: &paths, ownLists: ownLists) }
        case .array(let items) where !items.isEmpty:
            let field = names.last ?? ""
            if !atomicLists.contains(names), let mergeKey = StrategicMergePatch.mergeKey(field: field, path: Array(names.dropLast())),
               items.allSatisfy({ $0[mergeKey] != nil }) {
                if ownLists { paths.insert(path) }
                for item in items {
                    let itemPath = path + [.key(mergeKey, item[mergeKey]!)]
                    paths.insert(itemPath)
                    collect(item, at: itemPath, names: names, into: &paths, ownLists: ownLists)
                }
            } else if StrategicMergePatch.mergedScalarLists.contains(field) {
                for item in items { paths.insert(path + [.value(item)]) }
            } else {
                paths.insert(path)
            }
        default:
            paths.insert(path)
        }
    }

    /// The set in the `FieldsV1` encoding: nested objects keyed `f:`/`k:`/`v:`, with `.` marking
    /// an element that is owned itself and has owned fields below it.
    public var fieldsV1: JSONValue {
        final class Node {
            var children: [String: Node] = [:]
            var member = false
            var json: JSONValue {
                var fields = children.mapValues(\.json)
                if member && !children.isEmpty { fields["."] = .object([:]) }
                return .object(fields)
            }
        }
        let root = Node()
        for path in paths {
            var node = root
            for element in path {
                let key = element.fieldsV1Key
                if let next = node.children[key] {
                    node = next
                } else {
                    let next = Node()
                    node.children[key] = next
                    node = next
                }
            }
            node.member = true
        }
        return root.json
    }

    /// Reads a `FieldsV1` object.
    public init(fieldsV1: JSONValue) {
        var paths: Set<ManagedPath> = []
        func read(_ value: JSONValue, at path: ManagedPath) {
            let fields = value.objectValue ?? [:]
            if fields.isEmpty || fields["."] != nil, !path.isEmpty { paths.insert(path) }
            for (key, inner) in fields where key != "." {
                if let element = ManagedPathElement(fieldsV1Key: key) { read(inner, at: path + [element]) }
            }
        }
        read(fieldsV1, at: [])
        self.paths = paths
    }

    public var isEmpty: Bool { paths.isEmpty }
}

/// One entry of `metadata.managedFields`.
public struct ManagedFieldsEntry: Hashable, Sendable {
    public enum Operation: String, Sendable { case apply = "Apply", update = "Update" }

    public var manager: String
    public var operation: Operation
    public var apiVersion: String
    public var time: Timestamp?
    public var fields: ManagedFieldSet
    /// The subresource written (`status`), nil for the object itself: a manager's writes of the
    /// two are separate entries, as kube-apiserver keeps them.
    public var subresource: String?

    public init(manager: String, operation: Operation, apiVersion: String, time: Timestamp?, fields: ManagedFieldSet, subresource: String? = nil) {
        self.manager = manager
        self.operation = operation
        self.apiVersion = apiVersion
        self.time = time
        self.fields = fields
        self.subresource = subresource
    }

    /// True for the entry that `manager`'s `Update` of `apiVersion` (of `subresource`) refreshes.
    func isUpdate(by manager: String, apiVersion: String, subresource: String?) -> Bool {
        self.manager == manager && operation == .update && self.apiVersion == apiVersion && self.subresource == subresource
    }

    /// Reads an entry; nil for one that is not a FieldsV1 entry podlab understands.
    public init?(_ json: JSONValue) {
        guard let manager = json["manager"]?.stringValue,
              let operation = json["operation"]?.stringValue.flatMap(Operation.init(rawValue:)) else { return nil }
        self.manager = manager
        self.operation = operation
        apiVersion = json["apiVersion"]?.stringValue ?? ""
        time = json["time"]?.stringValue.flatMap { try? Timestamp(parsing: $0) }
        fields = ManagedFieldSet(fieldsV1: json["fieldsV1"] ?? .object([:]))
        subresource = json["subresource"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
    }

    public var json: JSONValue {
        var fields: [String: JSONValue] = [
            "manager": .string(manager), "operation": .string(operation.rawValue), "apiVersion": .string(apiVersion),
            "fieldsType": "FieldsV1", "fieldsV1": self.fields.fieldsV1,
        ]
        if let time { fields["time"] = .string(time.description) }
        if let subresource { fields["subresource"] = .string(subresource) }
        return .object(fields)
    }

    /// The manager as kube-apiserver names it in a conflict: an Update's with its API version and time.
    public var conflictName: String {
        let quoted = JSONValue.string(manager).jsonText(indent: 0)
        guard operation == .update else { return quoted }
        if let time { return "\(quoted) using \(apiVersion) at \(time.description)" }
        return "\(quoted) using \(apiVersion)"
    }
}

/// An apply that would change fields another manager owns (409 Conflict).
public struct ApplyConflicts: Error, Hashable, Sendable {
    public var conflicts: [(manager: String, path: ManagedPath)]

    public static func == (lhs: ApplyConflicts, rhs: ApplyConflicts) -> Bool {
        lhs.conflicts.map(\.manager) == rhs.conflicts.map(\.manager) && lhs.conflicts.map(\.path) == rhs.conflicts.map(\.path)
    }

    public func hash(into hasher: inout Hasher) {
        for conflict in conflicts {
            hasher.combine(conflict.manager)
            hasher.combine(conflict.path)
        }
    }

    /// kube-apiserver's message (`Apply failed with 1 conflict: conflict with "m": .spec.x`)
    /// and one `FieldManagerConflict` cause per field.
    public var status: APIStatus {
        let message: String
        if conflicts.count == 1 {
            message = "Apply failed with 1 conflict: conflict with \(conflicts[0].manager): \(conflicts[0].path.printed)"
        } else {
            var lines: [String] = []
            for manager in Set(conflicts.map(\.manager)).sorted() {
                lines.append("conflicts with \(manager)")
                for conflict in conflicts where conflict.manager == manager { lines.append("- \(conflict.path.printed)") }
            }
            message = "Apply failed with \(conflicts.count) conflicts: " + lines.joined(separator: "\n")
        }
        let causes = conflicts.map { APIStatus.Cause(reason: "FieldManagerConflict", message: "conflict with \($0.manager)", field: $0.path.printed) }
        return APIStatus(message: message, reason: .conflict, details: APIStatus.Details(causes: causes), code: 409)
    }
}

/// Recording writes in `managedFields`, and server-side apply.
public enum ManagedFields {
    /// The entries of an object's `metadata.managedFields`.
    public static func entries(of object: JSONValue?) -> [ManagedFieldsEntry] {
        (object?["metadata"]?["managedFields"]?.arrayValue ?? []).compactMap(ManagedFieldsEntry.init)
    }

    /// `object` with `entries` as its `metadata.managedFields` (none: the field is left out).
    public static func setting(_ entries: [ManagedFieldsEntry], on object: JSONValue) -> JSONValue {
        guard case .object(var fields) = object else { return object }
        var metadata = fields["metadata"]?.objectValue ?? [:]
        metadata["managedFields"] = entries.isEmpty ? nil : .array(sorted(entries).map(\.json))
        fields["metadata"] = .object(metadata)
        return .object(fields)
    }

    /// The value at `path` in `object`, nil when absent.
    public static func value(at path: ManagedPath, in object: JSONValue) -> JSONValue? {
        var current = object
        for element in path {
            switch element {
            case .field(let name):
                guard let next = current[name] else { return nil }
                current = next
            case .key(let name, let key):
                guard let next = current.arrayValue?.first(where: { $0[name] == key }) else { return nil }
                current = next
            case .value(let value):
                guard current.arrayValue?.contains(value) == true else { return nil }
                current = value
            }
        }
        return current
    }

    /// True when `value`, found at `path`, is a list whose elements are owned by key.
    static func isKeyedList(_ value: JSONValue, at path: ManagedPath) -> Bool {
        guard case .array(let items) = value, !items.isEmpty, case .field(let field)? = path.last else { return false }
        let names = path.compactMap { element -> String? in if case .field(let name) = element { name } else { nil } }
        guard !ManagedFieldSet.atomicLists.contains(names),
              let mergeKey = StrategicMergePatch.mergeKey(field: field, path: Array(names.dropLast())) else { return false }
        return items.allSatisfy { $0[mergeKey] != nil }
    }

    /// True when `path` ends at a keyed element: the element is owned, its fields compared one by one.
    static func isElement(_ path: ManagedPath) -> Bool {
        if case .key? = path.last { return true }
        return false
    }

    /// An update (create, PUT, a patch) by `manager`: the fields it added or changed become its
    /// (`Update` entry for `apiVersion`) and no one else's; fields it removed are no one's.
    public static func recordUpdate(from old: JSONValue?, to new: JSONValue, manager: String, apiVersion: String, time: Timestamp) -> JSONValue {
        let before = old.map(ManagedFieldSet.init(of:)) ?? ManagedFieldSet()
        let after = ManagedFieldSet(of: new)
        let changed = after.paths.filter { path in
            guard before.paths.contains(path), let old else { return true }
            return isElement(path) ? false : value(at: path, in: old) != value(at: path, in: new)
        }
        let removed = before.paths.subtracting(after.paths)
        let entries = updating(self.entries(of: old), changed: changed, removed: removed,
                               manager: manager, apiVersion: apiVersion, subresource: nil, time: time)
        return setting(entries, on: new)
    }

    /// The entries after an update by `manager` that `changed` some fields and `removed` others:
    /// what it changed is its own and no one else's, what it removed is no one's, and an entry
    /// left owning nothing goes.
    static func updating(_ entries: [ManagedFieldsEntry], changed: Set<ManagedPath>, removed: Set<ManagedPath>,
                         manager: String, apiVersion: String, subresource: String?, time: Timestamp) -> [ManagedFieldsEntry] {
        var entries = entries
        var found = false
        for index in entries.indices {
            entries[index].fields.paths.subtract(removed)
            if entries[index].isUpdate(by: manager, apiVersion: apiVersion, subresource: subresource) {
                found = true
                if !changed.isEmpty {
                    entries[index].fields.paths.formUnion(changed)
                    entries[index].time = time
                }
            } else {
                entries[index].fields.paths.subtract(changed)
            }
        }
        if !found && !changed.isEmpty {
            entries.append(ManagedFieldsEntry(manager: manager, operation: .update, apiVersion: apiVersion, time: time,
                                              fields: ManagedFieldSet(changed), subresource: subresource))
        }
        return entries.filter { !$0.fields.isEmpty }
    }

    /// A write of the `status` subresource by `manager` (the kubelet's of a pod, a controller's
    /// of its object), given the status before (nil: none) and after and the object's
    /// `metadata.managedFields`: the status fields the write added or changed become the
    /// manager's `Update` entry with `subresource: status`, and no one else's; fields it
    /// removed are no one's. Returns the new `managedFields` (nil: no entry left), or
    /// `managedFields` itself, unread, when the write changed nothing.
    public static func recordStatusUpdate(from oldStatus: JSONValue?, to newStatus: JSONValue?, managedFields: JSONValue?,
                                          manager: String, apiVersion: String, time: Timestamp) -> JSONValue? {
        let old: JSONValue = .object(["status": oldStatus ?? .object([:])])
        let new: JSONValue = .object(["status": newStatus ?? .object([:])])
        let before = ManagedFieldSet(status: oldStatus)
        let after = ManagedFieldSet(status: newStatus)
        // An element or a keyed list present before and after is not changed itself: its fields are.
        let changed = after.paths.filter { path in
            guard before.paths.contains(path) else { return true }
            guard !isElement(path) else { return false }
            let newValue = value(at: path, in: new)
            if let newValue, isKeyedList(newValue, at: path), let oldValue = value(at: path, in: old), isKeyedList(oldValue, at: path) { return false }
            return value(at: path, in: old) != newValue
        }
        let removed = before.paths.subtracting(after.paths)
        if changed.isEmpty && removed.isEmpty { return managedFields }
        let entries = updating((managedFields?.arrayValue ?? []).compactMap(ManagedFieldsEntry.init), changed: changed, removed: removed,
                               manager: manager, apiVersion: apiVersion, subresource: "status", time: time)
        return entries.isEmpty ? nil : .array(sorted(entries).map(\.json))
    }

    /// The entries in kube-apiserver's order: by operation (`Apply` first), then time (to the
    /// second), manager, API version and subresource.
    public static func sorted(_ entries: [ManagedFieldsEntry]) -> [ManagedFieldsEntry] {
        func before(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
        return entries.sorted { p, q in
            if p.operation != q.operation { return before(p.operation.rawValue, q.operation.rawValue) }
            let (pSeconds, qSeconds) = (p.time?.secondsSince1970 ?? 0, q.time?.secondsSince1970 ?? 0)
            if pSeconds != qSeconds { return pSeconds < qSeconds }
            if p.manager != q.manager { return before(p.manager, q.manager) }
            if p.apiVersion != q.apiVersion { return before(p.apiVersion, q.apiVersion) }
            return before(p.subresource ?? "", q.subresource ?? "")
        }
    }

    /// Server-side apply of `configuration` by `manager` to `live` (nil: the object is created).
    /// Fields another manager owns with a different value are conflicts unless `force` takes
    /// them over; fields this manager applied before and names no more are removed when no one
    /// else owns them. The result carries the new `managedFields`.
    public static func apply(_ configuration: JSONValue, to live: JSONValue?, manager: String, force: Bool, time: Timestamp) throws(ApplyConflicts) -> JSONValue {
        let apiVersion = configuration["apiVersion"]?.stringValue ?? ""
        let applied = ManagedFieldSet(of: configuration)
        var entries = self.entries(of: live)
        let previous = entries.first { $0.manager == manager && $0.operation == .apply }?.fields ?? ManagedFieldSet()
        var conflicts: [(manager: String, path: ManagedPath)] = []
        if let live {
            for entry in entries where !(entry.manager == manager && entry.operation == .apply) {
                for path in entry.fields.paths.intersection(applied.paths).sorted(by: { $0.printed < $1.printed })
                where !isElement(path) && value(at: path, in: live) != value(at: path, in: configuration) {
                    conflicts.append((entry.conflictName, path))
                }
            }
        }
        if !conflicts.isEmpty && !force { throw ApplyConflicts(conflicts: conflicts) }
        let taken = Set(conflicts.map(\.path))
        for index in entries.indices where !(entries[index].manager == manager && entries[index].operation == .apply) {
            entries[index].fields.paths.subtract(taken)
        }
        var result = merge(live ?? .object([:]), configuration, names: [])
        let ownedByOthers = entries.filter { !($0.manager == manager && $0.operation == .apply) }.reduce(into: Set<ManagedPath>()) { $0.formUnion($1.fields.paths) }
        // Shallowest first: an element goes with its fields, and one whose key field went
        // first could no longer be found by its key.
        for path in previous.paths.subtracting(applied.paths).subtracting(ownedByOthers).sorted(by: { $0.count < $1.count }) {
            result = removing(path, from: result)
        }
        if let index = entries.firstIndex(where: { $0.manager == manager && $0.operation == .apply }) {
            entries[index].fields = applied
            entries[index].time = time
            entries[index].apiVersion = apiVersion
        } else {
            entries.append(ManagedFieldsEntry(manager: manager, operation: .apply, apiVersion: apiVersion, time: time, fields: applied))
        }
        return setting(entries.filter { !$0.fields.isEmpty }, on: result)
    }

    /// `configuration` merged into `live`: objects field by field, keyed lists element by
    /// element, set lists as a union; anything else is replaced.
    static func merge(_ live: JSONValue, _ configuration: JSONValue, names: [String]) -> JSONValue {
        switch (live, configuration) {
        case (.object(var result), .object(let fields)):
            for (key, value) in fields { result[key] = merge(result[key] ?? .null, value, names: names + [key]) }
            return .object(result)
        case (.array(let current), .array(let items)):
            let field = names.last ?? ""
            if let mergeKey = StrategicMergePatch.mergeKey(field: field, path: Array(names.dropLast())),
               items.allSatisfy({ $0[mergeKey] != nil }), current.allSatisfy({ $0[mergeKey] != nil }) {
                var result = current
                for item in items {
                    if let index = result.firstIndex(where: { $0[mergeKey] == item[mergeKey] }) {
                        result[index] = merge(result[index], item, names: names)
                    } else {
                        result.append(item)
                    }
                }
                return .array(result)
            }
            if StrategicMergePatch.mergedScalarLists.contains(field) {
                return .array(current + items.filter { !current.contains($0) })
            }
            return configuration
        default:
            return configuration
        }
    }

    /// `object` without the field or element at `path` (unchanged when it is not there).
    static func removing(_ path: ManagedPath, from object: JSONValue) -> JSONValue {
        guard let first = path.first else { return object }
        let rest = Array(path.dropFirst())
        switch (first, object) {
        case (.field(let name), .object(var fields)):
            guard let inner = fields[name] else { return object }
            fields[name] = rest.isEmpty ? nil : removing(rest, from: inner)
            return .object(fields)
        case (.key(let name, let key), .array(var items)):
            guard let index = items.firstIndex(where: { $0[name] == key }) else { return object }
            if rest.isEmpty { items.remove(at: index) } else { items[index] = removing(rest, from: items[index]) }
            return .array(items)
        case (.value(let value), .array(let items)):
            return .array(items.filter { $0 != value })
        default:
            return object
        }
    }

    /// The manager of a write that names none: the client's `User-Agent` up to its first `/`,
    /// as kube-apiserver takes it (`kubectl/v1.20.0 (linux/amd64)` → `kubectl`).
    public static func defaultManager(userAgent: String?) -> String {
        let name = String((userAgent ?? "").prefix { $0 != "/" }.prefix(128))
        return name.isEmpty ? "unknown" : name
    }
}
