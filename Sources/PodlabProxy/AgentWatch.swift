import FoundationEssentials
import MeshAuthorization
import MeshRouting
import NIOCore
import NIOHTTP1
import NIOPosix

/// The Services, EndpointSlices, Pods and MeshPolicies of the cluster, followed by watches on the agent's mesh
/// socket (no polling). A watch begins with every current object as ADDED, so each (re)connected
/// watch starts from an empty table and refills it: an object deleted while the watch was down
/// is not kept. Until the table holds a Service, its connections go to its ClusterIP, where
/// the node's Service rules choose.
public final class AgentWatch: Sendable {
    enum Kind: String, Sendable, CaseIterable {
        case services = "/api/v1/services?watch=true"
        case endpointSlices = "/apis/discovery.k8s.io/v1/endpointslices?watch=true"
        /// Which peers are meshed (mTLS to them) and under which identity.
        case pods = "/api/v1/pods?watch=true"
        /// Who may reach this pod. The initial events end with a bookmark, where the refilled
        /// table takes over (`MeshPolicyTable`).
        case meshPolicies = "/apis/podlab.dev/v1/meshpolicies?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan"
        /// How this pod's requests to Services are shaped; refilled at the bookmark as the policies are.
        case routes = "/apis/podlab.dev/v1/routes?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan"
    }

    let socketPath: String
    let token: String?
    let endpoints: ServiceEndpoints
    let peers: MeshPeers
    let policies: MeshPolicyTable
    let routes: RouteTable
    let log: @Sendable (String) -> Void
    let group: any EventLoopGroup

    public init(socketPath: String, token: String?, endpoints: ServiceEndpoints, peers: MeshPeers, policies: MeshPolicyTable,
                routes: RouteTable = RouteTable(), group: any EventLoopGroup, log: @escaping @Sendable (String) -> Void) {
        self.socketPath = socketPath
        self.token = token
        self.endpoints = endpoints
        self.peers = peers
        self.policies = policies
        self.routes = routes
        self.group = group
        self.log = log
    }

    /// Follows every kind until the task is cancelled, reconnecting with back-off (0.2 s to 5 s).
    public func run() async {
        await withTaskGroup(of: Void.self) { tasks in
            for kind in Kind.allCases {
                tasks.addTask {
                    var delay = 0.2
                    while !Task.isCancelled {
                        let started = ContinuousClock.now
                        do {
                            try await self.follow(kind)
                            self.log("watch \(kind.rawValue) ended; again in \(delay) s")
                        } catch {
                            self.log("watch \(kind.rawValue): \(error); again in \(delay) s")
                        }
                        // A watch that held a while was a working one: back-off starts over.
                        if ContinuousClock.now - started > .seconds(5) { delay = 0.2 }
                        try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                        delay = min(delay * 2, 5)
                    }
                }
            }
        }
    }

    func follow(_ kind: Kind) async throws {
        let done = group.next().makePromise(of: Void.self)
        let endpoints = endpoints
        let peers = peers
        let policies = policies
        let routes = routes
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(WatchHandler(kind: kind, endpoints: endpoints, peers: peers, policies: policies,
                                                                                routes: routes, done: done))
                }
            }
            .connect(unixDomainSocketPath: socketPath).get()
        var headers = HTTPHeaders([("host", "localhost"), ("accept", "application/json"), ("user-agent", "podlab-proxy")])
        if let token { headers.add(name: "authorization", value: "Bearer \(token)") }
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: kind.rawValue, headers: headers)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        try await channel.writeAndFlush(HTTPClientRequestPart.end(nil)).get()
        try await done.futureResult.get()
    }
}

/// Reads one watch's JSON lines into the endpoint table.
final class WatchHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    struct WatchError: Error, CustomStringConvertible {
        var description: String
    }

    let kind: AgentWatch.Kind
    let endpoints: ServiceEndpoints
    let peers: MeshPeers
    let policies: MeshPolicyTable
    let routes: RouteTable
    let done: EventLoopPromise<Void>
    private var pending: [UInt8] = []
    private var failed: WatchError?

    init(kind: AgentWatch.Kind, endpoints: ServiceEndpoints, peers: MeshPeers, policies: MeshPolicyTable, routes: RouteTable = RouteTable(),
         done: EventLoopPromise<Void>) {
        self.kind = kind
        self.endpoints = endpoints
        self.peers = peers
        self.policies = policies
        self.routes = routes
        self.done = done
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(head):
            guard head.status == .ok else {
                failed = WatchError(description: "HTTP \(head.status.code)")
                context.close(promise: nil)
                return
            }
            switch kind {
            case .services: endpoints.replaceServices([:])
            case .endpointSlices: endpoints.replaceSlices([:])
            case .pods: peers.replaceAll()
            case .meshPolicies: policies.beginRefill()
            case .routes: routes.beginRefill()
            }
        case let .body(bytes):
            guard failed == nil else { return }
            pending += bytes.readableBytesView
            while let newline = pending.firstIndex(of: 0x0A) {
                let line = Array(pending[..<newline])
                pending.removeSubrange(...newline)
                if !line.isEmpty { Self.apply(line, kind: kind, to: endpoints, peers: peers, policies: policies, routes: routes) }
            }
        case .end:
            context.close(promise: nil)
        }
    }

    /// One event line of a watch, applied to the table (a line it cannot read is skipped).
    static func apply(_ line: [UInt8], kind: AgentWatch.Kind, to endpoints: ServiceEndpoints, peers: MeshPeers, policies: MeshPolicyTable,
                      routes: RouteTable = RouteTable()) {
        switch kind {
        case .services:
            guard let event = try? JSONDecoder().decode(WatchEvent<ServiceObject>.self, from: Data(line)) else { return }
            let key = "\(event.object.metadata.namespace ?? "")/\(event.object.metadata.name)"
            endpoints.setService(key, event.type == "DELETED" ? nil : event.object.model)
        case .endpointSlices:
            guard let event = try? JSONDecoder().decode(WatchEvent<EndpointSliceObject>.self, from: Data(line)) else { return }
            let key = "\(event.object.metadata.namespace ?? "")/\(event.object.metadata.name)"
            endpoints.setSlice(key, event.type == "DELETED" ? nil : event.object.model)
        case .pods:
            guard let event = try? JSONDecoder().decode(WatchEvent<PodObject>.self, from: Data(line)) else { return }
            let key = "\(event.object.metadata.namespace ?? "")/\(event.object.metadata.name)"
            peers.set(key, address: event.object.status?.podIP, peer: event.type == "DELETED" ? nil : event.object.meshPeer)
            if event.type != "DELETED" { policies.podSeen(key, labels: event.object.metadata.labels) }
        case .meshPolicies:
            guard let event = try? JSONDecoder().decode(WatchEvent<MeshPolicyObject>.self, from: Data(line)) else { return }
            if event.type == "BOOKMARK" {
                if event.object.metadata.annotations?[MeshPolicyObject.initialEventsEnd] == "true" { policies.endRefill() }
                return
            }
            guard let name = event.object.metadata.name else { return }
            let key = "\(event.object.metadata.namespace ?? "")/\(name)"
            policies.set(key, event.type == "DELETED" ? nil : event.object.model)
        case .routes:
            guard let event = try? JSONDecoder().decode(WatchEvent<RouteObject>.self, from: Data(line)) else { return }
            if event.type == "BOOKMARK" {
                if event.object.metadata.annotations?[MeshPolicyObject.initialEventsEnd] == "true" { routes.endRefill() }
                return
            }
            guard let name = event.object.metadata.name else { return }
            let key = "\(event.object.metadata.namespace ?? "")/\(name)"
            routes.set(key, event.type == "DELETED" ? nil : event.object.model)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let failed { done.fail(failed) } else { done.succeed() }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failed = failed ?? WatchError(description: "\(error)")
        context.close(promise: nil)
    }
}

// MARK: The few fields the proxy reads

struct WatchEvent<Object: Decodable>: Decodable {
    var type: String
    var object: Object
}

struct ObjectMetadata: Decodable {
    var name: String
    var namespace: String?
    var labels: [String: String]?
    var annotations: [String: String]?
}

struct PodObject: Decodable {
    struct Spec: Decodable {
        struct Container: Decodable {
            var name: String
            var image: String?
        }

        var serviceAccountName: String?
        var containers: [Container]?
    }

    struct Status: Decodable {
        var podIP: String?
    }

    var metadata: ObjectMetadata
    var spec: Spec?
    var status: Status?

    /// The pod as a peer of the mesh, when it carries the sidecar and mTLS is not disabled on it
    /// (`podlab.dev/mtls: DISABLE`): its identity is built as the
    /// agent's certificate names it (PodNet's `MeshIdentity`), its excluded ports from its
    /// `podlab.dev/exclude-ports` (a malformed one never passed admission).
    var meshPeer: MeshPeers.Peer? {
        guard spec?.containers?.contains(where: { $0.name == "podlab-proxy" && $0.image == "podlab/proxy" }) == true,
              metadata.annotations?["podlab.dev/mtls"] != "DISABLE" else { return nil }
        let account = spec?.serviceAccountName.flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        let excluded = (metadata.annotations?["podlab.dev/exclude-ports"] ?? "").split(separator: ",")
            .compactMap { Int($0.trimmedOfSpaces) }
        return MeshPeers.Peer(identity: "spiffe://cluster.local/ns/\(metadata.namespace ?? "default")/sa/\(account)", excludedPorts: Set(excluded))
    }
}

struct ServiceObject: Decodable {
    struct Spec: Decodable {
        struct Port: Decodable {
            var name: String?
            var port: Int
            var `protocol`: String?
        }

        var clusterIP: String?
        var ports: [Port]?
    }

    var metadata: ObjectMetadata
    var spec: Spec

    var model: ServiceEndpoints.Service {
        ServiceEndpoints.Service(clusterIP: spec.clusterIP ?? "",
                                 ports: (spec.ports ?? []).map { .init(name: $0.name ?? "", port: $0.port, protocolName: $0.protocol ?? "TCP") },
                                 loadBalancing: metadata.annotations?[LoadBalancing.annotation].flatMap(LoadBalancing.init(rawValue:)) ?? .roundRobin)
    }
}

struct EndpointSliceObject: Decodable {
    struct Port: Decodable {
        var name: String?
        var port: Int?
    }

    struct Endpoint: Decodable {
        struct Conditions: Decodable {
            var ready: Bool?
        }

        var addresses: [String]
        var conditions: Conditions?
    }

    var metadata: ObjectMetadata
    var ports: [Port]?
    var endpoints: [Endpoint]?

    var model: ServiceEndpoints.Slice {
        var ports: [String: Int] = [:]
        for port in self.ports ?? [] { if let number = port.port { ports[port.name ?? ""] = number } }
        // An endpoint without conditions is ready (the API's meaning of an unset `ready`).
        let ready = (endpoints ?? []).filter { $0.conditions?.ready ?? true }.flatMap(\.addresses)
        return ServiceEndpoints.Slice(service: metadata.labels?["kubernetes.io/service-name"] ?? "", ports: ports, readyAddresses: ready)
    }
}

/// A MeshPolicy as the proxy reads it (PodNet's `MeshPolicy` decodes and validates it in the
/// agent; a stored one is valid). A bookmark has no name, only annotations.
struct MeshPolicyObject: Decodable {
    static let initialEventsEnd = "k8s.io/initial-events-end"

    struct Metadata: Decodable {
        var name: String?
        var namespace: String?
        var annotations: [String: String]?
    }

    struct Spec: Decodable {
        struct Selector: Decodable {
            var matchLabels: [String: String]?
        }

        struct Rule: Decodable {
            struct Source: Decodable {
                var identities: [String]?
                var namespaces: [String]?
            }

            struct Operation: Decodable {
                var ports: [Int]?
                var paths: [String]?
                var methods: [String]?
            }

            var from: [Source]?
            var to: [Operation]?
        }

        var selector: Selector?
        var rules: [Rule]?
    }

    var metadata: Metadata
    var spec: Spec?

    var model: MeshAuthorizationPolicy {
        MeshAuthorizationPolicy(
            namespace: metadata.namespace ?? "default", name: metadata.name ?? "", selector: spec?.selector?.matchLabels ?? [:],
            rules: (spec?.rules ?? []).map { rule in
                .init(from: (rule.from ?? []).map { .init(identities: $0.identities ?? [], namespaces: $0.namespaces ?? []) },
                      to: (rule.to ?? []).map { .init(ports: $0.ports ?? [], paths: $0.paths ?? [], methods: $0.methods ?? []) })
            })
    }
}

/// A Route as the proxy reads it (PodNet's `MeshRoute` decodes and validates it in the agent; a
/// stored one is valid). A bookmark has no name, only annotations.
struct RouteObject: Decodable {
    struct Spec: Decodable {
        struct Rule: Decodable {
            struct Match: Decodable {
                var pathPrefix: String?
                var methods: [String]?
                var headers: [String: String]?
            }

            struct Backend: Decodable {
                var service: String
                var weight: Int?
            }

            struct Retries: Decodable {
                var attempts: Int?
                var perTryTimeout: String?
                var retryOn: [String]?
            }

            struct Fault: Decodable {
                struct Delay: Decodable {
                    var fixed: String?
                    var percent: Int?
                }

                struct Abort: Decodable {
                    var status: Int?
                    var percent: Int?
                }

                var delay: Delay?
                var abort: Abort?
            }

            var match: Match?
            var backends: [Backend]?
            var timeout: String?
            var retries: Retries?
            var fault: Fault?
        }

        var service: String?
        var rules: [Rule]?
    }

    var metadata: MeshPolicyObject.Metadata
    var spec: Spec?

    static func duration(_ text: String?) -> Duration? {
        guard let text, case let .success(duration) = RouteDuration.parse(text) else { return nil }
        return duration
    }

    var model: TrafficRoute {
        TrafficRoute(
            namespace: metadata.namespace ?? "default", name: metadata.name ?? "", service: spec?.service ?? "",
            rules: (spec?.rules ?? []).map { rule in
                TrafficRoute.Rule(
                    match: rule.match.map { match in
                        TrafficRoute.Match(pathPrefix: match.pathPrefix, methods: match.methods ?? [],
                                           headers: Dictionary((match.headers ?? [:]).map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a }))
                    },
                    backends: (rule.backends ?? []).map { TrafficRoute.Backend(service: $0.service, weight: $0.weight ?? 100) },
                    timeout: Self.duration(rule.timeout),
                    retries: rule.retries.map { retries in
                        let conditions = (retries.retryOn ?? []).compactMap(TrafficRoute.RetryCondition.init(rawValue:))
                        return TrafficRoute.Retry(attempts: retries.attempts ?? 0, perTryTimeout: Self.duration(retries.perTryTimeout),
                                                  retryOn: conditions.isEmpty ? [.serverError] : conditions)
                    },
                    fault: rule.fault.map { fault in
                        TrafficRoute.Fault(delay: fault.delay.flatMap { delay in Self.duration(delay.fixed).map { .init(fixed: $0, percent: delay.percent ?? 100) } },
                                           abort: fault.abort.map { .init(status: $0.status ?? 503, percent: $0.percent ?? 100) })
                    })
            })
    }
}
