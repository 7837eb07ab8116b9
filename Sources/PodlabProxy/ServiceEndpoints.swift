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

        public init(clusterIP: String, ports: [ServicePort]) {
            self.clusterIP = clusterIP
            self.ports = ports
        }
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

    /// Every ClusterIP:port with its endpoints (for tests and the log).
    public var table: [Destination: [Destination]] { state.withLock { $0.table } }

    private static func rebuild(_ state: inout State) {
        var table: [Destination: [Destination]] = [:]
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
                table[Destination(address: service.clusterIP, port: port.port)] = endpoints.sorted { $0.description < $1.description }
            }
        }
        state.table = table
    }
}
