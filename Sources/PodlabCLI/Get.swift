import ArgumentParser
import Foundation
import PodNet

/// `podlab get pods|nodes [NAME…] [-o wide|yaml|json|name] [-l SELECTOR] [-w] [-A]`.
public struct Get: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Display pods, nodes, services, namespaces, endpoints, endpoint slices, deployments, replica sets or network policies.",
        discussion: """
            Examples:
              podlab get pods -o wide
              podlab get pod nginx -o yaml
              podlab get nodes
              podlab get svc,ep -o wide
              podlab get deploy,rs
              podlab get all
              podlab get pods -w
            """)

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "pods|nodes|services|namespaces|endpoints|endpointslices|deployments|replicasets|networkpolicies|configmaps|secrets [NAME…], TYPE,TYPE…, or TYPE/NAME…")
    public var resources: [String] = []

    @Option(name: [.customShort("o"), .customLong("output")], help: "wide, yaml, json, name, jsonpath=TEMPLATE or custom-columns=HEADER:PATH,….")
    public var output: String?

    @Option(name: .customLong("sort-by"), help: "Sort the list by the field a JSONPath selects (e.g. .metadata.name).")
    public var sortBy: String?

    @Option(name: [.customShort("l"), .customLong("selector")], help: "Label selector (e.g. run=nginx,tier!=db).")
    public var selector: String?

    @Flag(name: [.customShort("w"), .customLong("watch")], help: "After listing, watch for changes.")
    public var watch = false

    @Flag(name: .customLong("watch-only"), help: "Watch for changes without listing first.")
    public var watchOnly = false

    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "Pods of every namespace.")
    public var allNamespaces = false

    @Flag(name: .customLong("show-labels"), help: "Show all labels as the last column.")
    public var showLabels = false

    @Flag(name: .customLong("no-headers"), help: "Print tables without headers.")
    public var noHeaders = false

    @Flag(name: .customLong("show-managed-fields"), help: "Keep metadata.managedFields in yaml and json output (hidden otherwise, as kubectl does).")
    public var showManagedFields = false

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        if let first = resources.first, Self.eventNames.contains(first.lowercased()) {
            return try await events(Array(resources.dropFirst()), format: try OutputFormat.parse(output), context: context)
        }
        guard let requests = try ResourceName.parseList(resources) else {
            throw CLIError("You must specify the type of resource to get. Use \"podlab get pods\" or \"podlab get nodes\".")
        }
        if let printer = try TemplatePrinter(output: output) {
            return try await generic(requests, printer: printer, context: context)
        }
        let format = try OutputFormat.parse(output)
        if let selector {
            do { _ = try LabelSelector(parsing: selector) } catch { throw CLIError("\(error)") }
        }
        if requests.count > 1, watch || watchOnly { throw CLIError("you may only specify a single resource type") }
        // `get all` names each object with its kind, even when only one kind has objects.
        let prefixed = requests.count > 1
        // Several kinds: one table after another, separated by a blank line, names prefixed
        // with their kind (`deployment.apps/web`), as kubectl prints them.
        var status: Int32 = 0
        var printedBefore = false
        var nothingFound: String?
        var mergedItems: [JSONValue] = []
        for request in requests {
            let captured = CapturingSink()
            let capturedErrors = CapturingSink()
            var kindContext = context
            if requests.count > 1 {
                kindContext.stdout = captured
                kindContext.stderr = capturedErrors
            }
            // Several kinds as YAML or JSON: one `List` of them all, as kubectl prints it.
            let merging = requests.count > 1 && (format == .json || format == .yaml)
            let code = try await get(request.kind, request.names, format: merging ? .json : format, prefixed: prefixed, context: kindContext)
            if code != 0 { status = code }
            guard requests.count > 1 else { continue }
            // "No resources found" is said once, for all the kinds.
            for line in capturedErrors.text.split(separator: "\n") {
                if line.hasPrefix("No resources found") { nothingFound = String(line) } else { context.stderr.line(String(line)) }
            }
            let text = captured.text
            if merging {
                if let value = try? JSONReader.value(from: text) {
                    mergedItems += value["kind"] == .string("List") ? value["items"]?.arrayValue ?? [] : [value]
                }
                continue
            }
            if text.isEmpty { continue }
            if printedBefore, format == nil || format == .wide { context.stdout.write("\n") }
            context.stdout.write(text)
            printedBefore = true
        }
        if requests.count > 1, let format, format == .json || format == .yaml {
            let list: JSONValue = .object(["apiVersion": "v1", "kind": "List", "metadata": .object(["resourceVersion": ""]), "items": .array(mergedItems)])
            context.stdout.write(Self.document(list, format: format, showManagedFields: showManagedFields))
            return status
        }
        if !printedBefore, let nothingFound { context.stderr.line(nothingFound) }
        return status
    }

    private func get(_ kind: ResourceKind, _ names: [String], format: OutputFormat?, prefixed: Bool, context: CommandContext) async throws -> Int32 {
        let wide = format == .wide
        switch kind {
        case .pods: return try await pods(names, format: format, prefixed: prefixed, context: context)
        case .nodes: return try await nodes(names, format: format, context: context)
        case .services:
            return try await objects(Service.self, names, format: format, prefixed: prefixed, context: context) {
                ServiceTables.services($0, wide: wide, now: $1)
            }
        case .namespaces:
            return try await objects(Namespace.self, names, format: format, prefixed: prefixed, context: context) { ServiceTables.namespaces($0, now: $1) }
        case .endpoints:
            return try await objects(Endpoints.self, names, format: format, prefixed: prefixed, context: context) { ServiceTables.endpoints($0, now: $1) }
        case .endpointslices:
            return try await objects(EndpointSlice.self, names, format: format, prefixed: prefixed, context: context) { ServiceTables.endpointSlices($0, now: $1) }
        case .deployments:
            return try await objects(Deployment.self, names, format: format, prefixed: prefixed, context: context) {
                WorkloadTables.deployments($0, wide: wide, now: $1)
            }
        case .replicasets:
            return try await objects(ReplicaSet.self, names, format: format, prefixed: prefixed, context: context) {
                WorkloadTables.replicaSets($0, wide: wide, now: $1)
            }
        case .networkpolicies:
            return try await objects(NetworkPolicy.self, names, format: format, prefixed: prefixed, context: context) { PolicyTables.networkPolicies($0, now: $1) }
        case .configmaps:
            return try await objects(ConfigMap.self, names, format: format, prefixed: prefixed, context: context) { ConfigTables.configMaps($0, now: $1) }
        case .secrets:
            return try await objects(Secret.self, names, format: format, prefixed: prefixed, context: context) { ConfigTables.secrets($0, now: $1) }
        case .meshpolicies:
            return try await objects(MeshPolicy.self, names, format: format, prefixed: prefixed, context: context) {
                MeshTables.meshPolicies($0, wide: wide, now: $1)
            }
        case .routes:
            return try await objects(MeshRoute.self, names, format: format, prefixed: prefixed, context: context) {
                MeshTables.routes($0, wide: wide, now: $1)
            }
        }
    }

    // MARK: Other kinds

    /// `get` for a kind other than pods and nodes: list or named objects, in a table (with
    /// NAMESPACE for `-A`, LABELS for `--show-labels`), YAML, JSON or names; `-w` prints a
    /// row (or document) per change.
    private func objects<T: KubernetesResource>(_ type: T.Type, _ names: [String], format: OutputFormat?, prefixed: Bool = false, context: CommandContext,
                                                table: ([T], Timestamp) -> PodNet.TextTable) async throws -> Int32 {
        let client = scope.client(context)
        let namespace = scope.resolvedNamespace
        let listNamespace: String? = T.isNamespaced && !allNamespaces ? namespace : nil
        let listQuery = selector.map { [("labelSelector", $0)] } ?? []
        var objects: [T] = []
        var failed = false
        var resourceVersion = ""
        if names.isEmpty {
            let list = try await client.get(ObjectList<T>.self, T.collectionPath(namespace: listNamespace), query: listQuery)
            objects = list.items.sorted { ($0.metadata.namespace, $0.metadata.name) < ($1.metadata.namespace, $1.metadata.name) }
            resourceVersion = list.metadata.resourceVersion
            if let sortBy { objects = try Self.sorted(objects, by: sortBy) }
        } else {
            for name in names {
                do {
                    objects.append(try await client.get(T.self, T.path(namespace: namespace, name: name)))
                } catch let error as APIError where error.isNotFound {
                    context.stderr.line(error.description)
                    failed = true
                }
            }
        }
        let showNamespace = T.isNamespaced && allNamespaces
        let singular = ResourceKind(argument: T.resource)?.singular ?? T.resource
        func rows(_ objects: [T], now: Timestamp) -> PodNet.TextTable {
            var rendered = table(objects, now)
            if prefixed {
                for index in rendered.rows.indices { rendered.rows[index][0] = "\(singular)/" + rendered.rows[index][0] }
            }
            if showNamespace {
                rendered.headers.insert("NAMESPACE", at: 0)
                for (index, object) in objects.enumerated() { rendered.rows[index].insert(object.metadata.namespace, at: 0) }
            }
            if showLabels {
                rendered.headers.append("LABELS")
                for (index, object) in objects.enumerated() { rendered.rows[index].append(Self.labels(object.metadata.labels)) }
            }
            return rendered
        }
        var widths: [Int] = []
        if !watchOnly {
            if objects.isEmpty && names.isEmpty && (format == nil || format == .wide) {
                context.stderr.line(listNamespace.map { "No resources found in \($0) namespace." } ?? "No resources found")
            } else if !objects.isEmpty || (names.isEmpty && (format == .json || format == .yaml)) {
                switch format {
                case .json?, .yaml?:
                    let single = names.count == 1 && objects.count == 1 && !watch
                    context.stdout.write(Self.document(single ? objects[0].json : ObjectList<T>.kubectlList(objects).json, format: format!, showManagedFields: showManagedFields))
                case .name?:
                    for object in objects { context.stdout.line("\(singular)/\(object.metadata.name)") }
                case .wide?, nil:
                    let rendered = rows(objects, now: Timestamp(context.now()))
                    widths = Self.columnWidths(rendered)
                    context.stdout.write(rendered.render(showHeaders: !noHeaders))
                }
            }
        }
        guard watch || watchOnly else { return failed ? 1 : 0 }
        guard T.self != Endpoints.self else { throw CLIError("podlab cannot watch endpoints; watch endpointslices instead") }
        var query = listQuery
        query.append(("watch", "true"))
        if !resourceVersion.isEmpty { query.append(("resourceVersion", resourceVersion)) }
        if names.count == 1 { query.append(("fieldSelector", "metadata.name=\(names[0])")) }
        let seen = Dictionary(objects.map { ("\($0.metadata.namespace)/\($0.metadata.name)", $0.metadata.resourceVersion) }) { a, _ in a }
        let events = try await client.lines(JSONValue.self, T.collectionPath(namespace: names.isEmpty ? listNamespace : (T.isNamespaced ? namespace : nil)), query: query)
        var printedHeader = !watchOnly
        for try await event in events {
            guard let objectJSON = event["object"], let object = try? T(json: objectJSON) else { continue }
            if !names.isEmpty, !names.contains(object.metadata.name) { continue }
            let key = "\(object.metadata.namespace)/\(object.metadata.name)"
            if event["type"] == .string("ADDED"), let version = seen[key], version == object.metadata.resourceVersion { continue }
            switch format {
            case .json?: context.stdout.write(Self.document(object.json, format: .json, showManagedFields: showManagedFields))
            case .yaml?: context.stdout.write("---\n" + Self.document(object.json, format: .yaml, showManagedFields: showManagedFields))
            case .name?: context.stdout.line("\(singular)/\(object.metadata.name)")
            case .wide?, nil:
                let rendered = rows([object], now: Timestamp(context.now()))
                if !printedHeader && !noHeaders {
                    widths = Self.columnWidths(rendered)
                    context.stdout.write(Self.align([rendered.headers], widths: &widths))
                }
                printedHeader = true
                context.stdout.write(Self.align(rendered.rows, widths: &widths))
            }
        }
        return failed ? 1 : 0
    }

    // MARK: Pods

    private func pods(_ names: [String], format: OutputFormat?, prefixed: Bool = false, context: CommandContext) async throws -> Int32 {
        try await objects(Pod.self, names, format: format, prefixed: prefixed, context: context) {
            PodTableRow.table($0, wide: format == .wide, now: $1)
        }
    }

    // MARK: Nodes

    private func nodes(_ names: [String], format: OutputFormat?, context: CommandContext) async throws -> Int32 {
        let client = scope.client(context)
        var nodes: [Node] = []
        var failed = false
        if names.isEmpty {
            let query = selector.map { [("labelSelector", $0)] } ?? []
            nodes = try await client.get(NodeList.self, APIPath.nodes, query: query).items.sorted { $0.metadata.name < $1.metadata.name }
            if let sortBy { nodes = try Self.sorted(nodes, by: sortBy) }
        } else {
            for name in names {
                do {
                    nodes.append(try await client.get(Node.self, APIPath.node(name)))
                } catch let error as APIError where error.isNotFound {
                    context.stderr.line(error.description)
                    failed = true
                }
            }
        }
        if nodes.isEmpty && names.isEmpty && (format == nil || format == .wide) {
            context.stderr.line("No resources found")
            return 0
        }
        switch format {
        case .json?, .yaml?:
            let single = names.count == 1 && nodes.count == 1
            if !nodes.isEmpty || names.isEmpty {
                context.stdout.write(Self.document(single ? nodes[0].json : NodeList.kubectlList(nodes).json, format: format!, showManagedFields: showManagedFields))
            }
        case .name?:
            for node in nodes { context.stdout.line("node/\(node.metadata.name)") }
        case .wide?, nil:
            guard !nodes.isEmpty else { break }
            var table = NodeTableRow.table(nodes, wide: format == .wide, now: Timestamp(context.now()))
            if showLabels {
                table.headers.append("LABELS")
                for (index, node) in nodes.enumerated() { table.rows[index].append(Self.labels(node.metadata.labels)) }
            }
            context.stdout.write(table.render(showHeaders: !noHeaders))
        }
        return failed ? 1 : 0
    }

    // MARK: Events

    /// `events`, `event`, `ev`, as kubectl names them.
    static let eventNames: Set<String> = ["events", "event", "ev"]

    /// `get events`: kubectl's LAST SEEN, TYPE, REASON, OBJECT, MESSAGE, oldest first.
    private func events(_ names: [String], format: OutputFormat?, context: CommandContext) async throws -> Int32 {
        guard names.isEmpty else { throw CLIError("podlab lists events as a whole; see \"podlab describe pod NAME\" for one pod's") }
        let namespace = allNamespaces ? nil : scope.resolvedNamespace
        let list = try await scope.client(context).get(EventList.self, APIPath.events(namespace))
        let events = list.items.sorted { ($0.lastTimestamp?.secondsSince1970 ?? 0) < ($1.lastTimestamp?.secondsSince1970 ?? 0) }
        switch format {
        case .json?, .yaml?:
            context.stdout.write(Self.document(EventList.kubectlList(events).json, format: format!, showManagedFields: showManagedFields))
        case .name?:
            for event in events { context.stdout.line("event/\(event.metadata.name)") }
        case .wide?, nil:
            guard !events.isEmpty else {
                context.stderr.line(namespace.map { "No resources found in \($0) namespace." } ?? "No resources found")
                return 0
            }
            let now = Timestamp(context.now())
            var table = EventTable.table(events, now: now)
            if allNamespaces {
                table.headers.insert("NAMESPACE", at: 0)
                for (index, event) in events.enumerated() { table.rows[index].insert(event.metadata.namespace, at: 0) }
            }
            context.stdout.write(table.render(showHeaders: !noHeaders))
        }
        return 0
    }

    // MARK: Templates

    /// `-o jsonpath=…` and `-o custom-columns=…`: the objects as the API gives them, one object
    /// when one name was asked for, else a `List` of all of them (sorted by `--sort-by`), as
    /// kubectl's generic printing does.
    private func generic(_ requests: [(kind: ResourceKind, names: [String])], printer: TemplatePrinter, context: CommandContext) async throws -> Int32 {
        if let selector {
            do { _ = try LabelSelector(parsing: selector) } catch { throw CLIError("\(error)") }
        }
        let client = scope.client(context)
        let namespace = scope.resolvedNamespace
        var items: [JSONValue] = []
        var failed = false
        for request in requests {
            let kind = request.kind
            func typed(_ object: JSONValue) -> JSONValue {
                guard case var .object(fields) = object else { return object }
                fields["kind"] = .string(kind.kind)
                fields["apiVersion"] = .string(kind.resourceType.apiVersion)
                return .object(fields)
            }
            if request.names.isEmpty {
                let listNamespace = kind.isNamespaced && !allNamespaces ? namespace : nil
                let list = try await client.json(kind.collectionPath(namespace: listNamespace), query: selector.map { [("labelSelector", $0)] } ?? [])
                items += (list["items"]?.arrayValue ?? []).map(typed)
            } else {
                for name in request.names {
                    do {
                        items.append(typed(try await client.json(kind.path(namespace: namespace, name: name))))
                    } catch let error as APIError where error.isNotFound {
                        context.stderr.line(error.description)
                        failed = true
                    }
                }
            }
        }
        let singleItemImplied = requests.count == 1 && requests[0].names.count == 1
        if singleItemImplied, failed { return 1 }
        if let sortBy {
            do { items = try JSONPathSort.sorted(items, by: sortBy) } catch { throw CLIError("couldn't parse --sort-by \(sortBy): \(error.message)") }
        }
        let document: JSONValue = singleItemImplied && items.count == 1 ? items[0]
            : .object(["apiVersion": "v1", "kind": "List", "metadata": .object(["resourceVersion": ""]), "items": .array(items)])
        switch printer {
        case let .jsonPath(template, source):
            do { context.stdout.write(try template.render(document)) } catch {
                throw CLIError("error executing jsonpath \"\(source)\": \(error.message)")
            }
        case let .customColumns(columns):
            context.stdout.write(columns.render(document["kind"] == .string("List") ? items : [document], showHeaders: !noHeaders))
        }
        return failed ? 1 : 0
    }

    /// Objects in the order of the value `path` selects in each (`--sort-by`).
    static func sorted<T: KubernetesResource>(_ objects: [T], by path: String) throws -> [T] {
        let byKey = Dictionary(objects.map { ("\($0.metadata.namespace)/\($0.metadata.name)", $0) }) { first, _ in first }
        let ordered: [JSONValue]
        do { ordered = try JSONPathSort.sorted(objects.map(\.json), by: path) } catch {
            throw CLIError("couldn't parse --sort-by \(path): \(error.message)")
        }
        return ordered.compactMap { json in
            byKey["\(json["metadata"]?["namespace"]?.stringValue ?? "")/\(json["metadata"]?["name"]?.stringValue ?? "")"]
        }
    }

    // MARK: Output helpers

    /// An object or list as `-o json|yaml` prints it: without `metadata.managedFields` unless
    /// asked (kubectl ≥ 1.21 hides them the same way).
    static func document(_ json: JSONValue, format: OutputFormat, showManagedFields: Bool = false) -> String {
        let json = showManagedFields ? json : hidingManagedFields(json)
        return format == .json ? json.jsonText() + "\n" : json.yamlText()
    }

    static func hidingManagedFields(_ json: JSONValue) -> JSONValue {
        guard case var .object(fields) = json else { return json }
        if case var .object(metadata)? = fields["metadata"], metadata["managedFields"] != nil {
            metadata["managedFields"] = nil
            fields["metadata"] = .object(metadata)
        }
        if case let .array(items)? = fields["items"] { fields["items"] = .array(items.map(hidingManagedFields)) }
        return .object(fields)
    }

    static func labels(_ labels: [String: String]) -> String {
        labels.isEmpty ? "<none>" : labels.keys.sorted().map { "\($0)=\(labels[$0]!)" }.joined(separator: ",")
    }

    /// The column widths `TextTable.render` used, so that watch lines line up under the table.
    static func columnWidths(_ table: PodNet.TextTable) -> [Int] {
        var widths: [Int] = []
        for line in [table.headers] + table.rows {
            for (index, cell) in line.enumerated() where index < line.count - 1 {
                let width = max(PodNet.TextTable.minimumWidth, cell.unicodeScalars.count + PodNet.TextTable.padding)
                if index < widths.count { widths[index] = max(widths[index], width) } else { widths.append(width) }
            }
        }
        return widths
    }

    /// Lines padded to `widths`, widening a column when a cell does not fit.
    static func align(_ lines: [[String]], widths: inout [Int]) -> String {
        var output = ""
        for line in lines {
            for (index, cell) in line.enumerated() {
                output += cell
                guard index < line.count - 1 else { continue }
                let needed = max(PodNet.TextTable.minimumWidth, cell.unicodeScalars.count + PodNet.TextTable.padding)
                if index >= widths.count { widths.append(needed) } else { widths[index] = max(widths[index], needed) }
                output += String(repeating: " ", count: widths[index] - cell.unicodeScalars.count)
            }
            output += "\n"
        }
        return output
    }
}
