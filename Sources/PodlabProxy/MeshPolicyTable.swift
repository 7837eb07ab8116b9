import MeshAuthorization
import Synchronization

/// The cluster's MeshPolicies as this sidecar follows them (a watch on the agent's mesh socket),
/// and its own pod's labels (from the pods watch), so each inbound request or connection is
/// decided here, without a round trip to the agent.
///
/// Until the first complete list of policies and the pod's own labels have come, nothing is
/// known, and every inbound request is refused (a policy could exist): as Envoy, which does not
/// serve before it has its configuration. The proxy is not Ready until then. A reconnected
/// watch refills a second table and swaps it in at the watch's initial-events-end bookmark, so
/// the old policies stay in force while the new list arrives.
public final class MeshPolicyTable: Sendable {
    struct State {
        var active: [String: MeshAuthorizationPolicy] = [:]
        /// Filled by a (re)connected watch until its initial-events-end bookmark.
        var refilling: [String: MeshAuthorizationPolicy]?
        var policiesListed: Bool
        var labels: [String: String]?
    }

    /// This pod's `namespace/name`, to find its labels among the pods.
    let ownPod: String
    let namespace: String
    private let state: Mutex<State>

    /// `following`: the policies come from a watch (the proxy runs with the agent's socket);
    /// false: there are none and nothing to wait for (tests, a proxy without an agent).
    public init(namespace: String, ownPod: String, following: Bool) {
        self.namespace = namespace
        self.ownPod = ownPod
        state = Mutex(State(policiesListed: !following, labels: following ? nil : [:]))
    }

    /// Whether decisions can be made: the policies listed and the pod's labels seen.
    public var isKnown: Bool { state.withLock { $0.policiesListed && $0.labels != nil } }

    /// A watch (re)connected: its initial events go to a fresh table.
    func beginRefill() { state.withLock { $0.refilling = [:] } }

    /// The initial events ended: the fresh table is the one in force.
    func endRefill() {
        state.withLock { state in
            if let refilled = state.refilling { state.active = refilled }
            state.refilling = nil
            state.policiesListed = true
        }
    }

    /// A policy (`namespace/name`) added, changed (`policy`) or deleted (nil).
    public func set(_ key: String, _ policy: MeshAuthorizationPolicy?) {
        state.withLock { state in
            if state.refilling != nil { state.refilling?[key] = policy } else { state.active[key] = policy }
        }
    }

    /// Replaces every policy at once (tests).
    public func replaceAll(_ policies: [MeshAuthorizationPolicy]) {
        state.withLock { state in
            state.active = Dictionary(policies.map { ($0.qualifiedName, $0) }, uniquingKeysWith: { $1 })
            state.refilling = nil
            state.policiesListed = true
        }
    }

    /// A pod of the pods watch: this pod's labels are kept.
    func podSeen(_ key: String, labels: [String: String]?) {
        guard key == ownPod else { return }
        state.withLock { $0.labels = labels ?? [:] }
    }

    /// This pod's labels (tests set them directly).
    public func setOwnLabels(_ labels: [String: String]) { state.withLock { $0.labels = labels } }

    public func decide(_ request: MeshRequest) -> MeshAuthorizationDecision {
        let (policies, labels, listed) = state.withLock { (Array($0.active.values), $0.labels, $0.policiesListed) }
        guard listed, let labels else {
            return MeshAuthorizationDecision(allowed: false, reason: "the sidecar has not yet received the MeshPolicies and its pod's labels")
        }
        return MeshAuthorizationDecision.decide(request, namespace: namespace, labels: labels, policies: policies)
    }
}
