/// An object kind the API serves at its own REST path: its plural resource name, whether
/// it lives in a namespace, and its metadata.
public protocol KubernetesResource: KubernetesObject, Hashable {
    var metadata: ObjectMeta { get set }
    /// The plural, lower-case name in paths and messages: `services`.
    static var resource: String { get }
    static var isNamespaced: Bool { get }
}

extension KubernetesResource {
    /// `/api/v1` for the core group, `/apis/<group>/<version>` for the others.
    public static var apiPrefix: String { apiVersion.contains("/") ? "/apis/\(apiVersion)" : "/api/\(apiVersion)" }

    /// The collection: in `namespace`, or across all namespaces (nil, or a cluster-scoped kind).
    public static func collectionPath(namespace: String?) -> String {
        guard isNamespaced, let namespace else { return "\(apiPrefix)/\(resource)" }
        return "\(apiPrefix)/namespaces/\(namespace)/\(resource)"
    }

    public static func path(namespace: String, name: String) -> String {
        collectionPath(namespace: isNamespaced ? namespace : nil) + "/\(name)"
    }

    /// `services` for the core group, `endpointslices.discovery.k8s.io` for the others, as
    /// messages name resources.
    public static var qualifiedResource: String {
        guard let slash = apiVersion.firstIndex(of: "/") else { return resource }
        return "\(resource).\(apiVersion[..<slash])"
    }
}

extension Pod: KubernetesResource {
    public static let resource = "pods"
    public static let isNamespaced = true
}

extension Node: KubernetesResource {
    public static let resource = "nodes"
    public static let isNamespaced = false
}

extension Namespace: KubernetesResource {
    public static let resource = "namespaces"
    public static let isNamespaced = false
}

extension Service: KubernetesResource {
    public static let resource = "services"
    public static let isNamespaced = true
}

extension EndpointSlice: KubernetesResource {
    public static let resource = "endpointslices"
    public static let isNamespaced = true
}

extension Endpoints: KubernetesResource {
    public static let resource = "endpoints"
    public static let isNamespaced = true
}

extension Event: KubernetesResource {
    public static let resource = "events"
    public static let isNamespaced = true
}

extension ConfigMap: KubernetesResource {
    public static let resource = "configmaps"
    public static let isNamespaced = true
}

extension Secret: KubernetesResource {
    public static let resource = "secrets"
    public static let isNamespaced = true
}
