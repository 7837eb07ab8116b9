import PodNet

/// One object a verb works on, as the API gave it: its kind, where it lives and its JSON.
struct ObjectTarget: Sendable {
    var kind: ResourceKind
    var namespace: String
    var name: String
    var object: JSONValue

    var path: String { kind.path(namespace: namespace, name: name) }

    /// `pod/web`, as kubectl names an object in what it prints.
    var displayName: String { "\(kind.singular)/\(name)" }
}

/// The objects named on a command line the way `label`, `annotate` and `wait` take them:
/// `TYPE NAME…`, `TYPE/NAME…`, or `TYPE` with `-l SELECTOR` or `--all`.
enum ObjectTargets {
    /// Reads the objects from the API. A named object that does not exist is printed as
    /// kubectl prints it (its error goes to stderr) and counted in `missing`, unless
    /// `ignoreNotFound`.
    static func resolve(_ resources: [String], selector: String?, all: Bool, namespace: String, client: APIClient,
                        context: CommandContext, ignoreNotFound: Bool = false) async throws -> (targets: [ObjectTarget], missing: Int) {
        guard let parsed = try ResourceName.parse(resources) else {
            throw CLIError("one or more resources must be specified as <resource> <name> or <resource>/<name>")
        }
        if let selector {
            do { _ = try LabelSelector(parsing: selector) } catch { throw CLIError("\(error)") }
        }
        let kind = parsed.kind
        if parsed.names.isEmpty {
            guard selector != nil || all else { throw CLIError("resource(s) were provided, but no name was specified") }
            let list = try await client.json(kind.collectionPath(namespace: kind.isNamespaced ? namespace : nil),
                                            query: selector.map { [("labelSelector", $0)] } ?? [])
            let targets = (list["items"]?.arrayValue ?? []).compactMap { item -> ObjectTarget? in
                guard let name = item["metadata"]?["name"]?.stringValue else { return nil }
                return ObjectTarget(kind: kind, namespace: item["metadata"]?["namespace"]?.stringValue ?? namespace, name: name, object: item)
            }
            return (targets.sorted { $0.name < $1.name }, 0)
        }
        if selector != nil { throw CLIError("selectors and the all flag cannot be used when passing resource/name arguments") }
        var targets: [ObjectTarget] = []
        var missing = 0
        for name in parsed.names {
            do {
                let object = try await client.json(kind.path(namespace: namespace, name: name))
                targets.append(ObjectTarget(kind: kind, namespace: namespace, name: name, object: object))
            } catch let error as APIError where error.isNotFound {
                if !ignoreNotFound { context.stderr.line(error.description) }
                missing += 1
            }
        }
        return (targets, missing)
    }
}
