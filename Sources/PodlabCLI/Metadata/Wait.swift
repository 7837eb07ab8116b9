import ArgumentParser
import Foundation
import PodNet

/// `podlab wait --for=condition=Ready|delete|create|jsonpath=… [--timeout=30s] TYPE/NAME… | TYPE -l SELECTOR | TYPE --all`.
public struct Wait: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait for a specific condition on one or many resources.",
        discussion: """
            Examples:
              podlab wait --for=condition=Ready pod/web
              podlab wait --for=jsonpath='{.status.phase}'=Running pods -l run=web --timeout=60s
              podlab wait --for=delete pod/web --timeout=60s
            """)

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "TYPE/NAME…, TYPE NAME…, or TYPE with -l or --all.")
    public var resources: [String] = []

    @Option(name: .customLong("for"), help: "delete, create, condition=NAME[=VALUE] or jsonpath=EXPRESSION[=VALUE].")
    public var condition: String = ""

    @Option(name: .customLong("timeout"), help: "How long to wait for each object (0: check once; negative: a week).")
    public var timeout = "30s"

    @Option(name: [.customShort("l"), .customLong("selector")], help: "Label selector of the objects.")
    public var selector: String?

    @Flag(name: .customLong("all"), help: "Every object of the type in the namespace.")
    public var all = false

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        let waitFor: WaitCondition
        do { waitFor = try WaitCondition(parsing: condition) } catch { throw CLIError(error.message) }
        var seconds = try GoDuration.seconds(timeout, flag: "--timeout")
        if seconds < 0 { seconds = 7 * 24 * 3600 }
        if resources.isEmpty {
            throw CLIError("You must provide one or more resources by argument or filename.\nExample resource specifications include:\n"
                + "   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'")
        }
        let client = scope.client(context)
        let namespace = scope.resolvedNamespace
        let isDelete: Bool
        if case .delete = waitFor { isDelete = true } else { isDelete = false }
        let isCreate: Bool
        if case .create = waitFor { isCreate = true } else { isCreate = false }
        var targets: [ObjectTarget]
        if isCreate, let parsed = try ResourceName.parse(resources), !parsed.names.isEmpty {
            // Waiting for creation: the objects need not exist yet.
            targets = []
            for name in parsed.names {
                let object = try? await client.json(parsed.kind.path(namespace: namespace, name: name))
                targets.append(ObjectTarget(kind: parsed.kind, namespace: namespace, name: name, object: object ?? .null))
            }
        } else {
            let resolved = try await ObjectTargets.resolve(resources, selector: selector, all: all,
                                                           namespace: namespace, client: client, context: context, ignoreNotFound: isDelete)
            if resolved.missing > 0, !isDelete { return 1 }
            targets = resolved.targets
            if targets.isEmpty, !isDelete { throw CLIError("no matching resources found") }
        }
        for target in targets {
            let met = try await Self.waitUntil(waitFor, target: target, seconds: seconds, client: client)
            guard met else {
                throw CLIError("timed out waiting for the condition on \(target.kind.rawValue)/\(target.name)")
            }
            context.stdout.line("\(target.displayName) condition met")
        }
        return 0
    }

    /// Watches one object until `condition` holds (true) or `seconds` pass (false). The watch
    /// starts from the resource version last read, so no change in between is missed; a watch
    /// the agent ends is started again from a fresh read.
    static func waitUntil(_ condition: WaitCondition, target: ObjectTarget, seconds: Double, client: APIClient) async throws -> Bool {
        let current: JSONValue? = target.object == .null ? nil : target.object
        if condition.isMet(by: current) { return true }
        guard seconds > 0 else { return false }
        return try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                var resourceVersion = current?["metadata"]?["resourceVersion"]?.stringValue
                while true {
                    try Task.checkCancellation()
                    var query: [(String, String)] = [("watch", "true"), ("fieldSelector", "metadata.name=\(target.name)")]
                    if let resourceVersion { query.append(("resourceVersion", resourceVersion)) }
                    let collection = target.kind.collectionPath(namespace: target.kind.isNamespaced ? target.namespace : nil)
                    let events = try await client.lines(JSONValue.self, collection, query: query)
                    for try await event in events {
                        guard let object = event["object"], object["metadata"]?["name"]?.stringValue == target.name else { continue }
                        let type = event["type"]?.stringValue
                        if type == "ERROR" { break }
                        if condition.isMet(by: type == "DELETED" ? nil : object) { return true }
                        resourceVersion = object["metadata"]?["resourceVersion"]?.stringValue
                    }
                    // The watch ended (or expired): read the object again and go on from there.
                    do {
                        let object = try await client.json(target.kind.path(namespace: target.namespace, name: target.name))
                        if condition.isMet(by: object) { return true }
                        resourceVersion = object["metadata"]?["resourceVersion"]?.stringValue
                    } catch let error as APIError where error.isNotFound {
                        if condition.isMet(by: nil) { return true }
                        resourceVersion = nil
                    }
                }
            }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                return false
            }
            let first = try await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}
