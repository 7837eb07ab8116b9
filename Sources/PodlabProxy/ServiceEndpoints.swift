import MeshRouting
import Synchronization

/// The cluster's Services as the proxy needs them: for a ClusterIP and port, the ready
/// endpoints behind it, taken in turn (round robin). Fed by the agent's watches
/// (`AgentWatch`); read by every outbound connection.
public final class ServiceEndpoints: Sendable {
    /// A Service's port as the proxy matches it: the name joins it to the EndpointSlices' ports.
    public struct ServicePort: Hashable, Sendable {
        public var name: String
        public var port: Int
        public var protocolName: String

        public init(name: String, port: Int, protocolName: String = "TCP") {
            self.name = name
            self.port = port
            self.protocolName = protocolName
        }
    }

    public struct Service: Hashable, Sendable {
        public var clusterIP: String
        public var ports: [ServicePort]
        /// How a request (routed HTTP) picks an endpoint: `podlab.dev/load-balancer`.
        public var loadBalancing: LoadBalancing

        public init(clusterIP: String, ports: [ServicePort], loadBalancing: LoadBalancing = .roundRobin) {
            self.clusterIP = clusterIP
            self.ports = ports
            self.loadBalancing = loadBalancing
        }
    }

    /// A Service's port as a request reaches it: the Service's key, its port and its endpoints.
    public struct ServiceTarget: Hashable, Sendable {
        /// `namespace/name`.
        public var service: String
        public var port: ServicePort
        public var clusterIP: Destination
        public var endpoints: [Destination]
        public var loadBalancing: LoadBalancing
    }

    /// One EndpointSlice: its Service, its ports by name, its ready addresses.
    public struct Slice: Hashable, Sendable {
        public var service: String
        public var ports: [String: Int]
        public var readyAddresses: [String]

        public init(service: String, ports: [String: Int], readyAddresses: [String]) {
            self.service = service
            self.ports = ports
            self.readyAddresses = readyAddresses
        }
    }

    struct State {
        /// By `namespace/name`.
        var services: [String: Service] = [:]
        /// By `namespace/name` of the slice.
        var slices: [String: Slice] = [:]
        /// ClusterIP:port → endpoints, rebuilt on each change.
        var table: [Destination: [Destination]] = [:]
        var next: [Destination: Int] = [:]
        /// ClusterIP:port → the Service and port it is.
        var targets: [Destination: ServiceTarget] = [:]
        /// Requests in flight to each endpoint (routed HTTP), for least-request.
        var active: [Destination: Int] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public func replaceServices(_ services: [String: Service]) {
        state.withLock { state in
            state.services = services
            Self.rebuild(&state)
        }
    }

    public func replaceSlices(_ slices: [String: Slice]) {
        state.withLock { state in
            state.slices = slices
            Self.rebuild(&state)
        }
    }

    public func setService(_ key: String, _ service: Service?) {
        state.withLock { state in
            state.services[key] = service
            Self.rebuild(&state)
        }
    }

    public func setSlice(_ key: String, _ slice: Slice?) {
        state.withLock { state in
            state.slices[key] = slice
            Self.rebuild(&state)
        }
    }

    /// The endpoint the next connection to `destination` goes to; nil when `destination` is
    /// not a Service's port with a ready endpoint (the connection then goes where it was
    /// going, and the node's Service rules, if any, decide).
    public func pick(_ destination: Destination) -> Destination? {
        state.withLock { state in
            guard let endpoints = state.table[destination], !endpoints.isEmpty else { return nil }
            let index = state.next[destination, default: 0] % endpoints.count
            state.next[destination] = index + 1
            return endpoints[index]
        }
    }

    /// The Service whose ClusterIP and port `destination` is.
    public func target(_ destination: Destination) -> ServiceTarget? {
        state.withLock { $0.targets[destination] }
    }

    /// The port of Service `key` (`namespace/name`) that a request for `port` of another
    /// Service goes to: the one of the same name, else of the same number, else its only TCP port.
    public func target(service key: String, like port: ServicePort) -> ServiceTarget? {
        state.withLock { state in
            let targets = state.targets.values.filter { $0.service == key }
            return targets.first { !port.name.isEmpty && $0.port.name == port.name } ?? targets.first { $0.port.port == port.port }
                ?? (targets.count == 1 ? targets.first : nil)
        }
    }

    /// The endpoint for one request to `target`, by its Service's load balancing, avoiding
    /// `excluded` (the endpoints a retried request already tried) while another is left. nil:
    /// no endpoint. `random` gives numbers for least-request's two choices.
    public func choose(_ target: ServiceTarget, excluding excluded: Set<Destination> = [],
                       random: () -> Int = { var random = FastRandom(); return Int.random(in: 0..<Int(Int32.max), using: &random) }) -> Destination? {
        let candidates = target.endpoints.count > excluded.count ? target.endpoints.filter { !excluded.contains($0) } : target.endpoints
        guard !candidates.isEmpty else { return nil }
        return state.withLock { state in
            switch target.loadBalancing {
            case .roundRobin where !excluded.isEmpty:
                // A retry takes one of the endpoints not yet tried, at random, and leaves the turn
                // where it was: a retry moving it would send every next first try to the same
                // (failing) endpoint of two.
                return candidates[abs(random()) % candidates.count]
            case .roundRobin:
                let index = state.next[target.clusterIP, default: 0] % candidates.count
                state.next[target.clusterIP] = index + 1
                return candidates[index]
            case .leastRequest:
                let (first, second) = LoadBalancing.pair(count: candidates.count, random1: random(), random2: random())
                let loads = candidates.map { state.active[$0, default: 0] }
                return candidates[LoadBalancing.leastRequest(active: loads, first: first, second: second)]
            }
        }
    }

    /// A request to `endpoint` began (+1) or ended (-1).
    public func requestInFlight(_ endpoint: Destination, _ change: Int) {
        state.withLock { state in
            let count = state.active[endpoint, default: 0] + change
            state.active[endpoint] = count > 0 ? count : nil
        }
    }

    /// Requests in flight to `endpoint` (tests).
    public func requestsInFlight(_ endpoint: Destination) -> Int { state.withLock { $0.active[endpoint, default: 0] } }

    /// Every ClusterIP:port with its endpoints (for tests and the log).
    public var table: [Destination: [Destination]] { state.withLock { $0.table } }

    private static func rebuild(_ state: inout State) {
        var table: [Destination: [Destination]] = [:]
        var targets: [Destination: ServiceTarget] = [:]
        var slicesByService: [String: [Slice]] = [:]
        for (key, slice) in state.slices {
            let namespace = key.split(separator: "/").first.map(String.init) ?? ""
            slicesByService["\(namespace)/\(slice.service)", default: []].append(slice)
        }
        for (key, service) in state.services where !service.clusterIP.isEmpty && service.clusterIP != "None" {
            for port in service.ports where port.protocolName == "TCP" {
                var endpoints: [Destination] = []
                for slice in slicesByService[key] ?? [] {
                    guard let target = slice.ports[port.name] else { continue }
                    endpoints += slice.readyAddresses.map { Destination(address: $0, port: target) }
                }
                // A stable order, so turns do not jump when an unrelated slice changes.
                let clusterIP = Destination(address: service.clusterIP, port: port.port)
                table[clusterIP] = endpoints.sorted { $0.description < $1.description }
                targets[clusterIP] = ServiceTarget(service: key, port: port, clusterIP: clusterIP, endpoints: table[clusterIP] ?? [],
                                                   loadBalancing: service.loadBalancing)
            }
        }
        state.table = table
        state.targets = targets
    }
}
