import Foundation
import Hummingbird
import PodNet

/// What the IP-inspection endpoints need from the control plane. Bodies are JSON of the
/// PodNet inspection types (`NetworkInspection`, `IPAMReport`, `WhoisAnswer`).
public protocol InspectionBackend: Sendable {
    /// Interfaces, addresses, routes, neighbours and podlab's chains of the lab's namespaces.
    /// - Parameters:
    ///   - kind: `pod`, `node`, `underlay` or `all`.
    ///   - name: one pod or node of that kind; nil for all of them.
    ///   - namespace: the Kubernetes namespace of a named pod.
    func inspectNetwork(kind: String, name: String?, namespace: String) async throws -> Data
    /// The lab's ranges, per-node allocated and free counts, and every allocation.
    func ipamReport() async throws -> Data
    /// Who owns `address`, and with `from` the path a packet from that pod takes to it.
    func whois(address: String, from: String?, namespace: String) async throws -> Data
    /// How the Service rules of the pod's node treat a packet from it to `to:port`.
    func trace(from: String, namespace: String, to: String, port: String, protocol: String) async throws -> Data
    /// Whether a NetworkPolicy logs its drops, and those kept after sequence number `after`
    /// (`PolicyLog.Answer`).
    func policyLog(namespace: String, name: String, after: Int) async throws -> Data
    /// The meshed pods (`MeshStatusReport`), in `namespace` or all.
    func meshStatus(namespace: String?) async throws -> Data
    /// Each meshed pod's sidecar metrics (`MeshMetricsScrape`), in `namespace` or all.
    func meshMetrics(namespace: String?) async throws -> Data
}

/// The agent's IP-inspection API, beside the Kubernetes-shaped one:
///
/// - `GET /podlab/v1/ip?kind=pod|node|underlay|all&name=NAME&namespace=NS`
/// - `GET /podlab/v1/ipam`
/// - `GET /podlab/v1/whois?ip=ADDRESS&from=POD&namespace=NS`
/// - `GET /podlab/v1/policylog?name=POLICY&namespace=NS&after=SEQUENCE`
/// - `GET /podlab/v1/mesh[?namespace=NS]`
/// - `GET /podlab/v1/mesh/metrics[?namespace=NS]`
public enum InspectionRoutes {
    public static let ipPath = "/podlab/v1/ip"
    public static let ipamPath = "/podlab/v1/ipam"
    public static let whoisPath = "/podlab/v1/whois"
    public static let tracePath = "/podlab/v1/trace"
    public static let policyLogPath = "/podlab/v1/policylog"
    public static let meshPath = "/podlab/v1/mesh"

    /// Adds the inspection endpoints to `router` when `backend` serves them.
    public static func register(on router: Router<BasicRequestContext>, backend: any APIBackend) {
        guard let backend = backend as? any InspectionBackend else { return }
        router.get(RouterPath(ipPath)) { request, _ in
            try await APIServer.handle {
                let query = request.uri.queryParameters
                return APIServer.json(try await backend.inspectNetwork(kind: value(query, "kind") ?? "all", name: value(query, "name"),
                                                                       namespace: value(query, "namespace") ?? "default"))
            }
        }
        router.get(RouterPath(ipamPath)) { _, _ in
            try await APIServer.handle { APIServer.json(try await backend.ipamReport()) }
        }
        registerTrace(on: router, backend: backend)
        router.get(RouterPath(meshPath)) { request, _ in
            try await APIServer.handle { APIServer.json(try await backend.meshStatus(namespace: value(request.uri.queryParameters, "namespace"))) }
        }
        router.get(RouterPath(MeshMetricsScrape.path)) { request, _ in
            try await APIServer.handle { APIServer.json(try await backend.meshMetrics(namespace: value(request.uri.queryParameters, "namespace"))) }
        }
        router.get(RouterPath(policyLogPath)) { request, _ in
            try await APIServer.handle {
                let query = request.uri.queryParameters
                guard let name = value(query, "name") else {
                    throw APIStatus.badRequest("the name parameter is required: GET \(policyLogPath)?name=POLICY&namespace=NS")
                }
                let after = value(query, "after").flatMap { Int($0) } ?? 0
                return APIServer.json(try await backend.policyLog(namespace: value(query, "namespace") ?? "default", name: name, after: after))
            }
        }
        router.get(RouterPath(whoisPath)) { request, _ in
            try await APIServer.handle {
                let query = request.uri.queryParameters
                guard let address = value(query, "ip") else {
                    throw APIStatus.badRequest("the ip parameter is required: GET \(whoisPath)?ip=ADDRESS")
                }
                return APIServer.json(try await backend.whois(address: address, from: value(query, "from"),
                                                              namespace: value(query, "namespace") ?? "default"))
            }
        }
    }

    static func registerTrace(on router: Router<BasicRequestContext>, backend: any InspectionBackend) {
        router.get(RouterPath(tracePath)) { request, _ in
            try await APIServer.handle {
                let query = request.uri.queryParameters
                guard let from = value(query, "from"), let to = value(query, "to"), let port = value(query, "port") else {
                    throw APIStatus.badRequest("from, to and port are required: GET \(tracePath)?from=POD&to=IP&port=PORT")
                }
                return APIServer.json(try await backend.trace(from: from, namespace: value(query, "namespace") ?? "default", to: to, port: port,
                                                              protocol: value(query, "protocol") ?? "tcp"))
            }
        }
    }

    /// A query parameter, percent-decoded; nil when absent or empty.
    static func value(_ query: Parameters, _ key: String) -> String? {
        guard let raw = query[Substring(key)].map(String.init), !raw.isEmpty else { return nil }
        return raw.removingPercentEncoding ?? raw
    }
}
