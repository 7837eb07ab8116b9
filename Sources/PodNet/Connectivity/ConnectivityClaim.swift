/// A statement about pod networking that checks prove or disprove; each check serves one.
/// The first six are the claims of the pods tutorial.
public enum ConnectivityClaim: String, Codable, Hashable, Sendable, CaseIterable {
    /// Every pod has its own IP: the answer at a pod's IP comes from that pod.
    case oneIPPerPod = "one-ip-per-pod"
    /// The containers of a pod share its IP: each one's port answers on the pod IP.
    case sharedIP = "shared-ip"
    /// Containers of a pod reach each other on `localhost`.
    case localhost
    /// No two containers of a pod listen on one port: a second bind fails.
    case portConflict = "port-conflict"
    /// Pods on different nodes reach each other by pod IP.
    case crossNode = "cross-node"
    /// Pods are reachable only from inside the cluster: the host has no route into the lab.
    case hostIsolation = "host-isolation"
    /// Pods on one node reach each other by pod IP.
    case podToPod = "pod-to-pod"
    /// A port that nothing listens on is refused (the pod's kernel answers with a reset).
    case closedPort = "closed-port"
    /// A pod reaches its node's gateway.
    case gateway
    /// An address of the cluster CIDR that no pod or node holds reaches nothing.
    case unassignedAddress = "unassigned-address"
    /// A Service's ClusterIP (an address of the service CIDR) answers for the Service's pods.
    case serviceIP = "service-ip"
    /// A Service's name resolves through the cluster DNS, from the pod's own resolver settings:
    /// to the ClusterIP, or for a headless Service to each ready endpoint.
    case serviceDNS = "service-dns"
    /// A NodePort Service answers on every node's address.
    case nodePort = "node-port"
    /// A pod's `hostPort` answers on its node's address.
    case hostPort = "host-port"
    /// A Service spreads connections over all its ready endpoints.
    case serviceSpread = "service-spread"
    /// ClientIP session affinity: a client's connections all go to one endpoint.
    case sessionAffinity = "session-affinity"
    /// A Service without ready endpoints refuses at once (no hang).
    case serviceNoEndpoints = "service-no-endpoints"

    /// One line saying what the claim is.
    public var title: String {
        switch self {
        case .oneIPPerPod: "every pod has its own IP"
        case .sharedIP: "the containers of a pod share its IP"
        case .localhost: "containers of a pod reach each other on localhost"
        case .portConflict: "no two listeners on one port in a pod"
        case .crossNode: "pods on different nodes reach each other by pod IP"
        case .hostIsolation: "the host has no way into the lab (only the cluster reaches pods)"
        case .podToPod: "pods on one node reach each other by pod IP"
        case .closedPort: "a port nothing listens on is refused"
        case .gateway: "every pod reaches its node's gateway"
        case .unassignedAddress: "an address that no pod or node holds reaches nothing"
        case .serviceIP: "a Service's ClusterIP answers for the Service's pods"
        case .serviceDNS: "a Service's name resolves through the cluster DNS"
        case .nodePort: "a NodePort Service answers on every node's address"
        case .hostPort: "a pod's hostPort answers on its node's address"
        case .serviceSpread: "a Service spreads connections over all its ready endpoints"
        case .sessionAffinity: "ClientIP session affinity keeps a client on one endpoint"
        case .serviceNoEndpoints: "a Service without ready endpoints refuses at once"
        }
    }

    /// The claims the pods tutorial makes, which `podlab test --scenario seed` must show.
    public static let tutorial: [ConnectivityClaim] = [.oneIPPerPod, .sharedIP, .localhost, .portConflict, .crossNode, .hostIsolation]
}
