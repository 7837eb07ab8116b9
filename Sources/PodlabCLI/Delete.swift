import ArgumentParser
import Foundation
import PodNet

/// `podlab delete pod NAME… | -f FILE | --all | -l SELECTOR`: deletes pods and, like kubectl,
/// waits until they are gone.
public struct Delete: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete pods by name, by file, by label selector, or all in a namespace.")

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "pods NAME…, or pod/NAME…")
    public var resources: [String] = []

    @Option(name: [.customShort("f"), .customLong("filename")], help: "Files whose objects to delete (- for stdin).")
    public var filenames: [String] = []

    @Flag(help: "Delete all pods in the namespace.")
    public var all = false

    @Option(name: [.customShort("l"), .customLong("selector")], help: "Label selector (e.g. run=nginx).")
    public var selector: String?

    @Option(name: .customLong("grace-period"), help: "Seconds the pod gets to stop; -1 uses the pod's own.")
    public var gracePeriod: Int = -1

    @Flag(help: "Delete at once (grace period 1).")
    public var now = false

    @Flag(help: "With --grace-period=0: do not wait for the containers to stop.")
    public var force = false

    @Flag(inversion: .prefixedNo, help: "Wait until the pods are gone.")
    public var wait = true

    @Option(help: "How long to wait (e.g. 60s); 0 waits as long as it takes.")
    public var timeout: String = "0s"

    @Flag(name: .customLong("ignore-not-found"), help: "Treat pods that do not exist as deleted.")
    public var ignoreNotFound = false

    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "With --all or -l: in every namespace.")
    public var allNamespaces = false

    @Option(name: .customLong("dry-run"), help: "none, client or server: only say what would be deleted.")
    public var dryRun: String = "none"

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        try DryRunFlag.validate(dryRun)
        let client = scope.client(context)
        let namespace = scope.resolvedNamespace
        var targets: [(namespace: String, name: String)] = []
        var failed = false

        let parsed = try ResourceName.parse(resources)
        if parsed != nil && !filenames.isEmpty {
            throw CLIError("You must provide one or more resources by argument or filename.\nExample resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'")
        }
        var others: [(kind: ResourceKind, namespace: String, name: String)] = []
        if let parsed {
            switch parsed.kind {
            case .pods: break
            case .services, .namespaces, .deployments, .replicasets, .networkpolicies, .configmaps, .secrets, .meshpolicies, .routes:
                guard !parsed.names.isEmpty else {
                    throw CLIError(all || selector != nil ? "podlab deletes \(parsed.kind.rawValue) by name" : "resource(s) were provided, but no name was specified")
                }
                return try await deleteObjects(parsed.names.map { (parsed.kind, namespace, $0) }, client: client, context: context) ? 1 : 0
            case .nodes:
                throw CLIError("podlab does not delete nodes this way; nodes come from the lab's topology (\"podlab node delete NAME\", or \"podlab down\")")
            case .endpoints, .endpointslices:
                throw CLIError("\(parsed.kind.rawValue) are kept by the lab from the services' pods; delete the service instead")
            }
            if parsed.names.isEmpty {
                guard all || selector != nil else {
                    throw CLIError("resource(s) were provided, but no name was specified")
                }
                let query = selector.map { [("labelSelector", $0)] } ?? []
                let list = try await client.get(PodList.self, APIPath.pods(allNamespaces ? nil : namespace), query: query)
                targets = list.items.map { ($0.metadata.namespace.isEmpty ? namespace : $0.metadata.namespace, $0.metadata.name) }
                if targets.isEmpty {
                    context.stdout.line("No resources found")
                    return 0
                }
            } else {
                guard !all else { throw CLIError("name cannot be provided when a selector is specified") }
                targets = parsed.names.map { (namespace, $0) }
            }
        } else if !filenames.isEmpty {
            for source in try ManifestSource.read(filenames, context: context) {
                for item in source.items {
                    switch item.result {
                    case let .success(object):
                        let objectNamespace = object.metadata.namespace.isEmpty ? namespace : object.metadata.namespace
                        switch object {
                        case .pod: targets.append((objectNamespace, object.metadata.name))
                        case .service: others.append((.services, objectNamespace, object.metadata.name))
                        case .namespace: others.append((.namespaces, objectNamespace, object.metadata.name))
                        case .deployment: others.append((.deployments, objectNamespace, object.metadata.name))
                        case .replicaSet: others.append((.replicasets, objectNamespace, object.metadata.name))
                        case .networkPolicy: others.append((.networkpolicies, objectNamespace, object.metadata.name))
                        case .configMap: others.append((.configmaps, objectNamespace, object.metadata.name))
                        case .secret: others.append((.secrets, objectNamespace, object.metadata.name))
                        case .meshPolicy: others.append((.meshpolicies, objectNamespace, object.metadata.name))
                        case .route: others.append((.routes, objectNamespace, object.metadata.name))
                        case .node:
                            context.stderr.line("error: podlab does not delete nodes from files: Node \"\(object.metadata.name)\" in \"\(source.name)\"")
                            failed = true
                        }
                    case let .failure(error):
                        context.stderr.line("error: error validating \"\(source.name)\": \(error)")
                        failed = true
                    }
                }
            }
        } else {
            throw CLIError("You must provide one or more resources by argument or filename.\nExample resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'")
        }

        var grace = gracePeriod
        if now { grace = 1 }
        if force, grace < 0 { grace = 0 }
        if force || grace == 0 {
            context.stderr.line("Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.")
        }
        var query: [(String, String)] = []
        if grace >= 0 { query.append(("gracePeriodSeconds", String(grace))) }
        if dryRun == "server" { query.append(("dryRun", DryRun.all)) }
        let operation = (force && grace == 0 ? "force deleted" : "deleted")
            + (DryRunFlag.note(dryRun))

        var deleted: [Deletion.Target] = []
        for target in targets {
            do {
                if dryRun == "client" {
                    // Like kubectl: the pod is read (it must exist), nothing is sent.
                    _ = try await client.get(Pod.self, APIPath.pod(target.namespace, target.name))
                    context.stdout.line("pod \"\(target.name)\" \(operation)")
                    continue
                }
                let response = try await client.send(.DELETE, APIPath.pod(target.namespace, target.name), query: query)
                let uid = (try? JSONReader.value(from: String(decoding: response.body, as: UTF8.self)))?["metadata"]?["uid"]?.stringValue
                deleted.append((target.namespace, target.name, uid))
                context.stdout.line("pod \"\(target.name)\" \(operation)")
            } catch let error as APIError where error.isNotFound && ignoreNotFound {
                continue
            } catch let error as APIError {
                context.stderr.line(error.description)
                failed = true
            }
        }
        // A dry run deletes nothing: there is nothing to wait for.
        if wait, dryRun == "none", !(force && grace == 0), !deleted.isEmpty {
            let seconds = try GoDuration.seconds(timeout, flag: "timeout")
            try await Deletion.waitUntilGone(deleted, client: client, context: context, timeout: seconds > 0 ? seconds : nil)
        }
        if !others.isEmpty, try await deleteObjects(others, client: client, context: context) { failed = true }
        return failed ? 1 : 0
    }

    /// Deletes services, namespaces, deployments and replica sets by name (`service "web" deleted`), then waits, as
    /// kubectl does, until they are gone (a namespace goes once its pods have). Returns
    /// whether any failed.
    private func deleteObjects(_ targets: [(kind: ResourceKind, namespace: String, name: String)], client: APIClient,
                               context: CommandContext) async throws -> Bool {
        var failed = false
        var deletedNamespaces: [Deletion.Target] = []
        let note = DryRunFlag.note(dryRun)
        let query: [(String, String)] = dryRun == "server" ? [("dryRun", DryRun.all)] : []
        for target in targets {
            let path = switch target.kind {
            case .services: Service.path(namespace: target.namespace, name: target.name)
            case .deployments: Deployment.path(namespace: target.namespace, name: target.name)
            case .replicasets: ReplicaSet.path(namespace: target.namespace, name: target.name)
            case .networkpolicies: NetworkPolicy.path(namespace: target.namespace, name: target.name)
            case .configmaps: ConfigMap.path(namespace: target.namespace, name: target.name)
            case .secrets: Secret.path(namespace: target.namespace, name: target.name)
            case .meshpolicies: MeshPolicy.path(namespace: target.namespace, name: target.name)
            case .routes: MeshRoute.path(namespace: target.namespace, name: target.name)
            default: Namespace.path(namespace: "", name: target.name)
            }
            do {
                if dryRun == "client" {
                    _ = try await client.send(.GET, path)
                } else {
                    let response = try await client.send(.DELETE, path, query: query)
                    if target.kind == .namespaces, dryRun == "none" {
                        let uid = (try? JSONReader.value(from: String(decoding: response.body, as: UTF8.self)))?["metadata"]?["uid"]?.stringValue
                        deletedNamespaces.append(("", target.name, uid))
                    }
                }
                context.stdout.line("\(target.kind.singular) \"\(target.name)\" deleted\(note)")
            } catch let error as APIError where error.isNotFound && ignoreNotFound {
                continue
            } catch let error as APIError {
                context.stderr.line(error.description)
                failed = true
            }
        }
        if wait, !deletedNamespaces.isEmpty {
            let seconds = try GoDuration.seconds(timeout, flag: "timeout")
            try await Deletion.waitUntilGone(Namespace.self, deletedNamespaces, client: client, context: context, timeout: seconds > 0 ? seconds : nil)
        }
        return failed
    }
}
