import MeshRouting
import Synchronization

/// The cluster's Routes as this sidecar follows them (a watch on the agent's mesh socket), so
/// each outbound HTTP request to a Service is shaped here, without a round trip to the agent.
/// A reconnected watch refills a second table and swaps it in at the initial-events-end
/// bookmark, so the old routes stay in force while the new list arrives. Until the first list
/// has come, requests go unshaped (a Route only shapes traffic; nothing is refused meanwhile).
public final class RouteTable: Sendable {
    struct State {
        var active: [String: TrafficRoute] = [:]
        var refilling: [String: TrafficRoute]?
        /// Service key → the route in force for it.
        var byService: [String: TrafficRoute] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    func beginRefill() { state.withLock { $0.refilling = [:] } }

    func endRefill() {
        state.withLock { state in
            if let refilled = state.refilling { state.active = refilled }
            state.refilling = nil
            Self.index(&state)
        }
    }

    /// A route (`namespace/name`) added, changed (`route`) or deleted (nil).
    public func set(_ key: String, _ route: TrafficRoute?) {
        state.withLock { state in
            if state.refilling != nil {
                state.refilling?[key] = route
            } else {
                state.active[key] = route
                Self.index(&state)
            }
        }
    }

    /// Replaces every route at once (tests).
    public func replaceAll(_ routes: [TrafficRoute]) {
        state.withLock { state in
            state.active = Dictionary(routes.map { ($0.qualifiedName, $0) }, uniquingKeysWith: { $1 })
            state.refilling = nil
            Self.index(&state)
        }
    }

    /// The route for Service `key` (`namespace/name`): of several, the first by name.
    public func route(forService key: String) -> TrafficRoute? { state.withLock { $0.byService[key] } }

    private static func index(_ state: inout State) {
        var byService: [String: TrafficRoute] = [:]
        for route in state.active.values.sorted(by: { $0.name < $1.name }) where byService[route.serviceKey] == nil {
            byService[route.serviceKey] = route
        }
        state.byService = byService
    }
}
