import ArgumentParser
import PodNet

/// `podlab label TYPE NAME… KEY=VALUE… KEY-…` (or `-l SELECTOR`, `--all`, `--list`).
public struct Label: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "label",
        abstract: "Update the labels on a resource.",
        discussion: """
            Examples:
              podlab label pods web tier=frontend
              podlab label pod/web tier=backend --overwrite
              podlab label pods -l app=web tier-
              podlab label pod web --list
            """)

    @OptionGroup public var scope: ScopeOptions
    @OptionGroup public var options: MetadataOptions

    @Flag(name: .customLong("list"), help: "List the labels of the objects instead of changing them.")
    public var list = false

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        try await MetadataUpdate.run(.labels, options: options, list: list, scope: scope, context: context)
    }
}

/// `podlab annotate TYPE NAME… KEY=VALUE… KEY-…` (or `-l SELECTOR`, `--all`).
public struct Annotate: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "annotate",
        abstract: "Update the annotations on a resource.",
        discussion: """
            Examples:
              podlab annotate pods web description='my frontend'
              podlab annotate deployment/web owner=team-a --overwrite
              podlab annotate pods --all description-
            """)

    @OptionGroup public var scope: ScopeOptions
    @OptionGroup public var options: MetadataOptions

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        try await MetadataUpdate.run(.annotations, options: options, list: false, scope: scope, context: context)
    }
}

/// What `label` and `annotate` both take.
public struct MetadataOptions: ParsableArguments {
    @Argument(help: "TYPE NAME… or TYPE/NAME…, then KEY=VALUE to set and KEY- to remove.")
    public var arguments: [String] = []

    @Flag(name: .customLong("overwrite"), help: "Allow changing a key that already has a value.")
    public var overwrite = false

    @Option(name: [.customShort("l"), .customLong("selector")], help: "Label selector of the objects (e.g. app=web).")
    public var selector: String?

    @Flag(name: .customLong("all"), help: "Every object of the type in the namespace.")
    public var all = false

    public init() {}
}

/// The work of `label` and `annotate`: read the objects, check the changes against them, send
/// each a JSON merge patch of what changes (as kubectl does), print one line per object.
enum MetadataUpdate {
    static func run(_ field: MetadataChanges.Field, options: MetadataOptions, list: Bool, scope: ScopeOptions,
                    context: CommandContext) async throws -> Int32 {
        let (resources, words): ([String], [String])
        let changes: MetadataChanges
        do {
            (resources, words) = try MetadataChanges.split(options.arguments, field: field)
            changes = try MetadataChanges(parsing: words, field: field)
        } catch { throw CLIError(error.message) }
        if !list, changes.isEmpty { throw CLIError("at least one \(field.noun) update is required") }
        if options.all, options.selector != nil { throw CLIError("cannot set --all and --selector at the same time") }
        let client = scope.client(context)
        let (targets, missing) = try await ObjectTargets.resolve(resources, selector: options.selector, all: options.all,
                                                                namespace: scope.resolvedNamespace, client: client, context: context)
        var failed = missing > 0
        for target in targets {
            let current = Self.map(target.object["metadata"]?[field.rawValue])
            if !options.overwrite, let refusal = changes.overwriteRefusal(current: current) {
                context.stderr.line(refusal.contains("\n") ? refusal : "error: \(refusal)")
                failed = true
                continue
            }
            if list {
                // kubectl lists the labels the changes would give, and changes nothing.
                let listed = changes.applied(to: current)
                if targets.count > 1 { context.stdout.line("Listing labels for \(target.kind.kind).\(Self.group(target.kind))/\(target.name):") }
                for key in listed.keys.sorted() { context.stdout.line("\(targets.count > 1 ? " " : "")\(key)=\(listed[key]!)") }
                continue
            }
            if field == .labels {
                for key in changes.remove where current[key] == nil { context.stdout.line("label \"\(key)\" not found.") }
            }
            if let patch = changes.mergePatch(current: current) {
                do {
                    _ = try await client.patch(target.path, patch, type: .merge)
                } catch let error as APIError {
                    context.stderr.line(error.description)
                    failed = true
                    continue
                }
            }
            context.stdout.line("\(target.displayName) \(Self.outcome(field, before: current, after: changes.applied(to: current), overwrite: options.overwrite))")
        }
        if !list, targets.isEmpty, missing == 0 {
            context.stderr.line("No resources found in \(scope.resolvedNamespace) namespace.")
        }
        return failed ? 1 : 0
    }

    /// kubectl's word for what happened: `labeled`, `unlabeled` (the labels shrank without
    /// --overwrite), `not labeled` (nothing changed); annotate always says `annotated`.
    static func outcome(_ field: MetadataChanges.Field, before: [String: String], after: [String: String], overwrite: Bool) -> String {
        guard field == .labels else { return "annotated" }
        guard before != after else { return "not labeled" }
        if !overwrite, Self.encodedLength(after) < Self.encodedLength(before) { return "unlabeled" }
        return "labeled"
    }

    /// The length of the map as the object's JSON carries it (an empty map is left out).
    private static func encodedLength(_ map: [String: String]) -> Int {
        map.isEmpty ? 0 : JSONValue.object(map.mapValues { .string($0) }).jsonText(indent: 0).utf8.count
    }

    static func map(_ value: JSONValue?) -> [String: String] {
        (value?.objectValue ?? [:]).compactMapValues(\.stringValue)
    }

    /// The API group of a kind (empty for the core group), as in `Pod./web`.
    static func group(_ kind: ResourceKind) -> String {
        let version = kind.resourceType.apiVersion
        guard let slash = version.firstIndex(of: "/") else { return "" }
        return String(version[..<slash])
    }
}
