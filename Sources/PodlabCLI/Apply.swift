import ArgumentParser
import Foundation
import PodNet

/// `podlab apply -f FILE|DIR|-`: creates the pods of a manifest, or updates them to match it.
public struct Apply: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply a configuration to pods by file name or stdin.",
        discussion: "YAML (several documents) and JSON are accepted, and kind: List.")

    @OptionGroup public var scope: ScopeOptions

    @Option(name: [.customShort("f"), .customLong("filename")], help: "A file, a directory, or - for stdin (repeatable).")
    public var filenames: [String] = []

    @Flag(name: [.customShort("R"), .customLong("recursive")], help: "Also read the subdirectories of directories given with -f.")
    public var recursive = false

    @Option(name: .customLong("dry-run"), help: "none, client or server.")
    public var dryRun: String = "none"

    @Option(name: [.customShort("o"), .customLong("output")], help: "yaml, json or name.")
    public var output: String?

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        guard !filenames.isEmpty else { throw CLIError("must specify one of -f and -k") }
        try DryRunFlag.validate(dryRun)
        let format = try OutputFormat.parse(output, allowed: [.json, .name, .yaml])
        let sources = try ManifestSource.read(filenames, recursive: recursive, context: context)
        let client = scope.client(context)
        // Many objects: one list per namespace tells which exist, instead of a GET for each.
        let itemCount = sources.reduce(0) { $0 + $1.items.count }
        let live = LiveObjects(client: client, enabled: itemCount > 1 && dryRun != "client")
        var failed = false
        var applied = 0
        for source in sources {
            for item in source.items {
                do {
                    try await apply(item, from: source.name, format: format, client: client, live: live, context: context)
                    applied += 1
                } catch let error as APIError {
                    context.stderr.line(error.description)
                    failed = true
                } catch let error as CLIError {
                    context.stderr.line(error.description)
                    failed = true
                }
            }
        }
        if applied == 0 && !failed { throw CLIError("no objects passed to apply") }
        return failed ? 1 : 0
    }

    private func apply(_ item: ManifestSource.Item, from source: String, format: OutputFormat?,
                       client: APIClient, live liveObjects: LiveObjects, context: CommandContext) async throws {
        let object: AnyKubernetesObject
        switch item.result {
        case let .success(value): object = value
        case let .failure(error):
            throw CLIError("error validating \"\(source)\": \(error)" + (item.tableHint.map { "\n\($0)" } ?? ""))
        }
        switch object {
        case let .pod(pod): try await apply(pod, raw: item.raw, from: source, format: format, client: client, live: liveObjects, context: context)
        case let .service(service): try await apply(service, raw: item.raw, from: source, format: format, client: client, live: liveObjects, context: context)
        case let .namespace(namespace): try await apply(namespace, raw: item.raw, from: source, format: format, client: client, live: liveObjects, context: context)
        case let .deployment(deployment): try await apply(deployment, raw: item.raw, from: source, format: format, client: client, live: liveObjects, context: context)
        case let .replicaSet(replicaSet): try await apply(replicaSet, raw: item.raw, from: source, format: format, client: client, live: liveObjects, context: context)
        case let .networkPolicy(policy): try await apply(policy, raw: item.raw, from: source, format: format, client: client, live: liveObjects, context: context)
        case let .configMap(map): try await apply(map, raw: item.raw, from: source, format: format, client: client, live: liveObjects, context: context)
        case let .secret(secret): try await apply(secret, raw: item.raw, from: source, format: format, client: client, live: liveObjects, context: context)
        case let .meshPolicy(policy): try await apply(policy, raw: item.raw, from: source, format: format, client: client, live: liveObjects, context: context)
        case let .route(route): try await apply(route, raw: item.raw, from: source, format: format, client: client, live: liveObjects, context: context)
        case .node:
            throw CLIError("podlab does not apply nodes: Node \"\(object.metadata.name)\" in \"\(source)\" (nodes come from the lab's topology; see \"podlab node add\")")
        }
    }

    /// Creates or updates one object of any kind podlab serves.
    private func apply<T: KubernetesResource>(_ object: T, raw: JSONValue?, from source: String, format: OutputFormat?,
                                              client: APIClient, live liveObjects: LiveObjects, context: CommandContext) async throws {
        let name = object.metadata.name
        guard !name.isEmpty else { throw CLIError("error when retrieving current configuration from \"\(source)\": resource name may not be empty") }
        var namespace = scope.resolvedNamespace
        if T.isNamespaced, !object.metadata.namespace.isEmpty {
            if let given = scope.namespace, !given.isEmpty, given != object.metadata.namespace {
                throw CLIError("the namespace from the provided object \"\(object.metadata.namespace)\" does not match the namespace \"\(given)\". You must pass '--namespace=\(object.metadata.namespace)' to perform this operation.")
            }
            namespace = object.metadata.namespace
        }
        let manifest = raw ?? object.json
        let path = T.path(namespace: namespace, name: name)
        let note = DryRunFlag.note(dryRun)
        let query: [(String, String)] = dryRun == "server" ? [("dryRun", "All")] : []

        var warned = false
        for attempt in 1...3 {
            var live: T?
            if attempt == 1, let listed = try await liveObjects.objects(T.self, in: namespace) {
                // From the list: a create that meets an existing pod, or an update that meets a
                // newer one, goes round again with a GET.
                live = listed[name]
            } else {
                do {
                    live = try await client.get(T.self, path)
                } catch let error as APIError where error.isNotFound {
                    live = nil
                }
            }
            if let live, live.metadata.annotations[ApplyPlan.lastAppliedAnnotation] == nil, !warned {
                warned = true
                context.stderr.line("Warning: resource \(T.resource)/\(name) is missing the \(ApplyPlan.lastAppliedAnnotation) annotation which is required by podlab apply. podlab apply should only be used on resources created declaratively by podlab apply. The missing annotation will be patched automatically.")
            }
            let plan: ObjectApplyPlan<T>
            do {
                plan = try ObjectApplyPlan<T>.decide(manifest: manifest, namespace: namespace, live: live)
            } catch let error as ObjectDecodingError {
                throw CLIError("error validating \"\(source)\": \(error)")
            }
            switch plan {
            case .unchanged:
                context.stdout.write(Printing.created(live!, format: format, verb: "unchanged", note: note))
                return
            case let .create(created):
                var body = created
                body.metadata.uid = ""
                body.metadata.resourceVersion = ""
                body.metadata.creationTimestamp = nil
                if var pod = body as? Pod {
                    pod.status = PodStatus()
                    body = pod as! T
                }
                if dryRun == "client" {
                    context.stdout.write(Printing.created(body, format: format, note: note))
                    return
                }
                do {
                    let created = try await client.send(.POST, T.collectionPath(namespace: namespace), json: Data(body.json.jsonText(indent: 0).utf8), query: query, as: T.self)
                    context.stdout.write(Printing.created(created, format: format, note: note))
                    return
                } catch let APIError.status(status) where status.reason == .alreadyExists && attempt < 3 {
                    continue
                } catch let APIError.status(status) {
                    throw APIError.status(status.fromSource("creating", source))
                }
            case let .configure(changed):
                if dryRun == "client" {
                    context.stdout.write(Printing.created(changed, format: format, verb: "configured", note: note))
                    return
                }
                do {
                    let updated = try await client.send(.PUT, path, json: Data(changed.json.jsonText(indent: 0).utf8), query: query, as: T.self)
                    context.stdout.write(Printing.created(updated, format: format, verb: "configured", note: note))
                    return
                } catch let APIError.status(status) where status.reason == .conflict && attempt < 3 {
                    continue
                } catch let APIError.status(status) {
                    throw APIError.status(status.fromSource("applying", source))
                }
            }
        }
    }
}

/// The objects of each kind and namespace as one list request saw them, fetched on first use.
final class LiveObjects {
    private let client: APIClient
    private let enabled: Bool
    private var byNamespace: [String: [String: Pod]] = [:]
    private var others: [String: [String: JSONValue]] = [:]

    init(client: APIClient, enabled: Bool) {
        self.client = client
        self.enabled = enabled
    }

    /// The namespace's pods by name, or nil when listing is off (one object: a GET is cheaper).
    func pods(in namespace: String) async throws -> [String: Pod]? {
        guard enabled else { return nil }
        if let known = byNamespace[namespace] { return known }
        let list = try await client.get(PodList.self, APIPath.pods(namespace))
        let pods = Dictionary(list.items.map { ($0.metadata.name, $0) }, uniquingKeysWith: { first, _ in first })
        byNamespace[namespace] = pods
        return pods
    }

    /// The objects of a kind in the namespace by name, or nil when listing is off.
    func objects<T: KubernetesResource>(_ type: T.Type, in namespace: String) async throws -> [String: T]? {
        guard enabled else { return nil }
        if T.self == Pod.self { return try await pods(in: namespace) as? [String: T] }
        let key = T.isNamespaced ? "\(T.resource)/\(namespace)" : T.resource
        if let known = others[key] { return known.compactMapValues { try? T(json: $0) } }
        let list = try await client.get(ObjectList<T>.self, T.collectionPath(namespace: T.isNamespaced ? namespace : nil))
        var byName: [String: JSONValue] = [:]
        for item in list.items where byName[item.metadata.name] == nil { byName[item.metadata.name] = item.json }
        others[key] = byName
        return byName.compactMapValues { try? T(json: $0) }
    }
}
