import PodNet

/// The resource kinds podlab serves, as kubectl names them on the command line.
public enum ResourceKind: String, Sendable, CaseIterable {
    case pods, nodes, services, namespaces, endpoints, endpointslices, deployments, replicasets, networkpolicies, configmaps, secrets, meshpolicies, routes

    /// kubectl's names and short names (`pods`, `pod`, `po`; `svc`; `ns`; `ep`), case-insensitive.
    public init?(argument: String) {
        switch argument.lowercased() {
        case "pods", "pod", "po": self = .pods
        case "nodes", "node", "no": self = .nodes
        case "services", "service", "svc": self = .services
        case "namespaces", "namespace", "ns": self = .namespaces
        case "endpoints", "endpoint", "ep": self = .endpoints
        case "endpointslices", "endpointslice", "endpointslices.discovery.k8s.io", "endpointslice.discovery.k8s.io": self = .endpointslices
        case "deployments", "deployment", "deploy", "deployments.apps", "deployment.apps": self = .deployments
        case "replicasets", "replicaset", "rs", "replicasets.apps", "replicaset.apps": self = .replicasets
        case "networkpolicies", "networkpolicy", "netpol", "networkpolicies.networking.k8s.io", "networkpolicy.networking.k8s.io": self = .networkpolicies
        case "configmaps", "configmap", "cm": self = .configmaps
        case "secrets", "secret": self = .secrets
        case "meshpolicies", "meshpolicy", "mp", "meshpolicies.podlab.dev", "meshpolicy.podlab.dev": self = .meshpolicies
        case "routes", "route", "rt", "routes.podlab.dev", "route.podlab.dev": self = .routes
        default: return nil
        }
    }

    /// Singular, as in `pod/nginx` and `pod "nginx" deleted`; grouped kinds with their group,
    /// as kubectl prints them (`endpointslice.discovery.k8s.io/web-x2b7k`).
    public var singular: String {
        switch self {
        case .pods: "pod"
        case .nodes: "node"
        case .services: "service"
        case .namespaces: "namespace"
        case .endpoints: "endpoints"
        case .endpointslices: "endpointslice.discovery.k8s.io"
        case .deployments: "deployment.apps"
        case .replicasets: "replicaset.apps"
        case .networkpolicies: "networkpolicy.networking.k8s.io"
        case .configmaps: "configmap"
        case .secrets: "secret"
        case .meshpolicies: "meshpolicy.podlab.dev"
        case .routes: "route.podlab.dev"
        }
    }

    /// The kind, as in `The Pod "x" is invalid`.
    public var kind: String {
        switch self {
        case .pods: Pod.kind
        case .nodes: Node.kind
        case .services: Service.kind
        case .namespaces: Namespace.kind
        case .endpoints: Endpoints.kind
        case .endpointslices: EndpointSlice.kind
        case .deployments: Deployment.kind
        case .replicasets: ReplicaSet.kind
        case .networkpolicies: NetworkPolicy.kind
        case .configmaps: ConfigMap.kind
        case .secrets: Secret.kind
        case .meshpolicies: MeshPolicy.kind
        case .routes: MeshRoute.kind
        }
    }

    /// kubectl's error for a type it does not know.
    static func unknown(_ argument: String) -> CLIError {
        CLIError("the server doesn't have a resource type \"\(argument)\"")
    }

    /// Parses the TYPE argument of get/describe/delete.
    static func parse(_ argument: String) throws -> ResourceKind {
        guard let kind = ResourceKind(argument: argument) else { throw unknown(argument) }
        return kind
    }
}

/// Names given as `NAME` or `TYPE/NAME`.
enum ResourceName {
    /// A pod name: `nginx` or `pod/nginx` (`pods/`, `po/`).
    static func pod(_ argument: String) throws -> String {
        guard let slash = argument.firstIndex(of: "/") else { return argument }
        let type = String(argument[..<slash])
        guard ResourceKind(argument: type) == .pods else {
            if ResourceKind(argument: type) != nil {
                throw CLIError("only pods are supported here, not \"\(type)\"")
            }
            throw ResourceKind.unknown(type)
        }
        return String(argument[argument.index(after: slash)...])
    }

    /// TYPEs and NAMEs of get: `deploy,rs` (one kind after another, as kubectl lists them),
    /// or what `parse` reads.
    static func parseList(_ arguments: [String]) throws -> [(kind: ResourceKind, names: [String])]? {
        guard let first = arguments.first, first.contains(",") || first.lowercased() == "all", !first.contains("/") else {
            return try parse(arguments).map { [$0] }
        }
        var kinds: [ResourceKind] = []
        for type in first.split(separator: ",", omittingEmptySubsequences: false) {
            // `all` is kubectl's category: the kinds of it podlab serves, in kubectl's order.
            let expanded = type.lowercased() == "all" ? allCategory : [try ResourceKind.parse(String(type))]
            for kind in expanded where !kinds.contains(kind) { kinds.append(kind) }
        }
        let names = Array(arguments.dropFirst())
        return kinds.map { ($0, names) }
    }

    /// The kinds `get all` lists.
    static let allCategory: [ResourceKind] = [.pods, .services, .deployments, .replicasets]

    /// A `TYPE/NAME` or `TYPE NAME` of one object whose type must be one of `allowed`
    /// (`deployment/web`, `deployment web`).
    static func object(_ arguments: [String], allowed: [ResourceKind]) throws -> (kind: ResourceKind, name: String) {
        guard let parsed = try parse(arguments), let name = parsed.names.first else {
            throw CLIError("required resource not specified")
        }
        guard allowed.contains(parsed.kind) else {
            throw CLIError("no \(allowed.map(\.kind).joined(separator: " or ")) named \"\(name)\": \(parsed.kind.rawValue) are not supported here")
        }
        return (parsed.kind, name)
    }

    /// TYPE and NAMEs of get/describe/delete: `pods a b`, `pod/a pod/b`, `pods`.
    static func parse(_ arguments: [String]) throws -> (kind: ResourceKind, names: [String])? {
        guard let first = arguments.first else { return nil }
        if first.contains("/") {
            var kind: ResourceKind?
            var names: [String] = []
            for argument in arguments {
                guard let slash = argument.firstIndex(of: "/") else {
                    throw CLIError("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'podlab get resource/<resource_name>' instead of 'podlab get resource resource/<resource_name>'")
                }
                let type = try ResourceKind.parse(String(argument[..<slash]))
                if let kind, kind != type { throw CLIError("all names must be of one resource type here") }
                kind = type
                names.append(String(argument[argument.index(after: slash)...]))
            }
            return (kind!, names)
        }
        let kind = try ResourceKind.parse(first)
        let names = Array(arguments.dropFirst())
        if names.contains(where: { $0.contains("/") }) {
            throw CLIError("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'podlab get resource/<resource_name>' instead of 'podlab get resource resource/<resource_name>'")
        }
        return (kind, names)
    }
}

extension ResourceKind {
    /// The model type of the kind, for its paths.
    var resourceType: any KubernetesResource.Type {
        switch self {
        case .pods: Pod.self
        case .nodes: Node.self
        case .services: Service.self
        case .namespaces: Namespace.self
        case .endpoints: Endpoints.self
        case .endpointslices: EndpointSlice.self
        case .deployments: Deployment.self
        case .replicasets: ReplicaSet.self
        case .networkpolicies: NetworkPolicy.self
        case .configmaps: ConfigMap.self
        case .secrets: Secret.self
        case .meshpolicies: MeshPolicy.self
        case .routes: MeshRoute.self
        }
    }

    var isNamespaced: Bool { resourceType.isNamespaced }

    /// The collection path: in `namespace` for a namespaced kind, nil for all namespaces.
    func collectionPath(namespace: String?) -> String { resourceType.collectionPath(namespace: namespace) }

    func path(namespace: String, name: String) -> String { resourceType.path(namespace: namespace, name: name) }
}
