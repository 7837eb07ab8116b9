import ArgumentParser
import Foundation
import PodNet

/// `podlab describe pod NAME`: a pod in kubectl's describe layout.
public struct Describe: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract: "Show details of pods, services, namespaces, deployments or replica sets.",
        discussion: "Examples: podlab describe pod nginx; podlab describe pods; podlab describe pods -l run=nginx")

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "pods [NAME…], or pod/NAME…")
    public var resources: [String] = []

    @Option(name: [.customShort("l"), .customLong("selector")], help: "Label selector (e.g. run=nginx).")
    public var selector: String?

    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "Pods of every namespace.")
    public var allNamespaces = false

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        guard let parsed = try ResourceName.parse(resources) else {
            throw CLIError("You must specify the type of resource to describe. Use \"podlab describe pods\"")
        }
        switch parsed.kind {
        case .pods: break
        case .services: return try await services(parsed.names, context: context)
        case .namespaces: return try await namespaces(parsed.names, context: context)
        case .deployments: return try await deployments(parsed.names, context: context)
        case .replicasets: return try await replicaSets(parsed.names, context: context)
        case .networkpolicies: return try await networkPolicies(parsed.names, context: context)
        case .configmaps: return try await configMaps(parsed.names, context: context)
        case .secrets: return try await secrets(parsed.names, context: context)
        case .meshpolicies: return try await meshPolicies(parsed.names, context: context)
        case .routes: return try await routes(parsed.names, context: context)
        default:
            throw CLIError("podlab describes pods, services, namespaces, deployments, replica sets, network policies, mesh policies, routes, config maps and secrets; see \"podlab get \(parsed.kind.rawValue) -o yaml\"")
        }
        let client = scope.client(context)
        let namespace = scope.resolvedNamespace
        var pods: [Pod] = []
        var failed = false
        if parsed.names.isEmpty {
            let query = selector.map { [("labelSelector", $0)] } ?? []
            pods = try await client.get(PodList.self, APIPath.pods(allNamespaces ? nil : namespace), query: query).items
            if pods.isEmpty {
                context.stderr.line(allNamespaces ? "No resources found" : "No resources found in \(namespace) namespace.")
                return 0
            }
        } else {
            for name in parsed.names {
                do {
                    pods.append(try await client.get(Pod.self, APIPath.pod(namespace, name)))
                } catch let error as APIError {
                    context.stderr.line(error.description)
                    failed = true
                }
            }
        }
        var texts: [String] = []
        for pod in pods {
            // The events of this very pod (a pod of the same name before it had others).
            texts.append(PodDescription(pod: pod, now: context.now(), timeZone: context.timeZone, events: await events(of: pod, client: client)).render())
        }
        if !texts.isEmpty { context.stdout.write(texts.joined(separator: "\n\n")) }
        return failed ? 1 : 0
    }

    /// The named objects, or all of the kind (in the namespace, or every one with `-A`), with
    /// kubectl's messages for what is not found.
    private func fetch<T: KubernetesResource>(_ type: T.Type, _ names: [String], context: CommandContext) async throws -> (objects: [T], failed: Bool) {
        let client = scope.client(context)
        let namespace = scope.resolvedNamespace
        if names.isEmpty {
            let query = selector.map { [("labelSelector", $0)] } ?? []
            let listNamespace: String? = T.isNamespaced && !allNamespaces ? namespace : nil
            let objects = try await client.get(ObjectList<T>.self, T.collectionPath(namespace: listNamespace), query: query).items
            if objects.isEmpty {
                context.stderr.line(listNamespace.map { "No resources found in \($0) namespace." } ?? "No resources found")
            }
            return (objects, false)
        }
        var objects: [T] = []
        var failed = false
        for name in names {
            do {
                objects.append(try await client.get(T.self, T.path(namespace: namespace, name: name)))
            } catch let error as APIError {
                context.stderr.line(error.description)
                failed = true
            }
        }
        return (objects, failed)
    }

    private func services(_ names: [String], context: CommandContext) async throws -> Int32 {
        let (services, failed) = try await fetch(Service.self, names, context: context)
        let client = scope.client(context)
        var texts: [String] = []
        for service in services {
            let slices = try await client.get(EndpointSliceList.self, EndpointSlice.collectionPath(namespace: service.metadata.namespace),
                                              query: [("labelSelector", "\(EndpointSlice.serviceNameLabel)=\(service.metadata.name)")]).items
            texts.append(ServiceDescription.service(service, slices: slices))
        }
        if !texts.isEmpty { context.stdout.write(texts.joined(separator: "\n\n")) }
        return failed ? 1 : 0
    }

    private func deployments(_ names: [String], context: CommandContext) async throws -> Int32 {
        let (deployments, failed) = try await fetch(Deployment.self, names, context: context)
        let client = scope.client(context)
        var texts: [String] = []
        for deployment in deployments {
            let replicaSets = try await client.get(ReplicaSetList.self, ReplicaSet.collectionPath(namespace: deployment.metadata.namespace)).items
                .filter { ReplicaSetScaling.controllerUID(of: $0.metadata) == deployment.metadata.uid }
            texts.append(WorkloadDescription.deployment(deployment, replicaSets: replicaSets, timeZone: context.timeZone,
                                                        events: await events(of: deployment, client: client), now: context.now()))
        }
        if !texts.isEmpty { context.stdout.write(texts.joined(separator: "\n\n")) }
        return failed ? 1 : 0
    }

    private func replicaSets(_ names: [String], context: CommandContext) async throws -> Int32 {
        let (replicaSets, failed) = try await fetch(ReplicaSet.self, names, context: context)
        let client = scope.client(context)
        var texts: [String] = []
        for replicaSet in replicaSets {
            let pods = try await client.get(PodList.self, APIPath.pods(replicaSet.metadata.namespace)).items
                .filter { ReplicaSetScaling.isControlled($0, by: replicaSet.metadata.uid) }
            texts.append(WorkloadDescription.replicaSet(replicaSet, pods: pods, events: await events(of: replicaSet, client: client), now: context.now()))
        }
        if !texts.isEmpty { context.stdout.write(texts.joined(separator: "\n\n")) }
        return failed ? 1 : 0
    }

    private func networkPolicies(_ names: [String], context: CommandContext) async throws -> Int32 {
        let (policies, failed) = try await fetch(NetworkPolicy.self, names, context: context)
        let texts = policies.map { PolicyDescription.networkPolicy($0, timeZone: context.timeZone) }
        if !texts.isEmpty { context.stdout.write(texts.joined(separator: "\n\n")) }
        return failed ? 1 : 0
    }

    private func meshPolicies(_ names: [String], context: CommandContext) async throws -> Int32 {
        let (policies, failed) = try await fetch(MeshPolicy.self, names, context: context)
        let texts = policies.map { MeshPolicyDescription.meshPolicy($0, timeZone: context.timeZone) }
        if !texts.isEmpty { context.stdout.write(texts.joined(separator: "\n\n")) }
        return failed ? 1 : 0
    }

    private func routes(_ names: [String], context: CommandContext) async throws -> Int32 {
        let (routes, failed) = try await fetch(MeshRoute.self, names, context: context)
        let texts = routes.map { MeshPolicyDescription.route($0, timeZone: context.timeZone) }
        if !texts.isEmpty { context.stdout.write(texts.joined(separator: "\n\n")) }
        return failed ? 1 : 0
    }

    private func configMaps(_ names: [String], context: CommandContext) async throws -> Int32 {
        let (maps, failed) = try await fetch(ConfigMap.self, names, context: context)
        let client = scope.client(context)
        var texts: [String] = []
        for map in maps { texts.append(ConfigDescription.configMap(map, events: await events(of: map, client: client))) }
        if !texts.isEmpty { context.stdout.write(texts.joined(separator: "\n\n")) }
        return failed ? 1 : 0
    }

    private func secrets(_ names: [String], context: CommandContext) async throws -> Int32 {
        let (secrets, failed) = try await fetch(Secret.self, names, context: context)
        var texts: [String] = []
        for secret in secrets { texts.append(ConfigDescription.secret(secret)) }
        if !texts.isEmpty { context.stdout.write(texts.joined(separator: "\n\n")) }
        return failed ? 1 : 0
    }

    private func namespaces(_ names: [String], context: CommandContext) async throws -> Int32 {
        let (namespaces, failed) = try await fetch(Namespace.self, names, context: context)
        let texts = namespaces.map(ServiceDescription.namespace)
        if !texts.isEmpty { context.stdout.write(texts.joined(separator: "\n\n")) }
        return failed ? 1 : 0
    }

    /// The events of this very object, as kubectl asks for them (by name, namespace and uid).
    private func events<T: KubernetesResource>(of object: T, client: APIClient) async -> [Event] {
        let selector = "involvedObject.name=\(object.metadata.name),involvedObject.namespace=\(object.metadata.namespace),involvedObject.uid=\(object.metadata.uid)"
        return (try? await client.get(EventList.self, APIPath.events(object.metadata.namespace), query: [("fieldSelector", selector)]))?.items ?? []
    }
}
