import Foundation
import PodNet

/// NetworkPolicy objects: stored and served like services (`networking.k8s.io/v1`), and every
/// change handed to the nodes' policy rules.
extension Controller {
    func loadNetworkPolicies() throws {
        networkPolicies = Dictionary(uniqueKeysWithValues: try loadStored(NetworkPolicy.self).map { (objectKey($0), $0) })
    }

    func networkPolicy(_ namespace: String, _ name: String) throws -> NetworkPolicy {
        guard let policy = networkPolicies["\(namespace)/\(name)"] else {
            throw APIStatus.notFound(resource: NetworkPolicy.qualifiedResource, name: name)
        }
        return policy
    }

    /// Creates a policy: decoded strictly, defaulted and validated as the API server does;
    /// a dry run answers it as it would be stored and changes nothing.
    public func createNetworkPolicy(namespace: String, body: Data, dryRun: Bool) async throws -> Data {
        try requireReady()
        var policy = try Controller.decodeObject(body, as: NetworkPolicy.self)
        if policy.metadata.namespace.isEmpty { policy.metadata.namespace = namespace }
        guard policy.metadata.namespace == namespace else {
            throw APIStatus.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        policy = policy.applyingDefaults()
        do { try policy.validated() } catch { throw Controller.invalid(error) }
        try requireNamespace(namespace, resource: NetworkPolicy.qualifiedResource, name: policy.metadata.name)
        guard networkPolicies[objectKey(policy)] == nil else {
            throw APIStatus.alreadyExists(resource: NetworkPolicy.qualifiedResource, name: policy.metadata.name)
        }
        var stamped = Controller.stamped(policy)
        stamped.metadata.generation = 1
        if dryRun { return Data(stamped.json.jsonText(indent: 0).utf8) }
        policy = try persist(stamped, .added)
        networkPolicies[objectKey(policy)] = policy
        policyChanged(namespace: namespace, name: policy.metadata.name, policy)
        return Data(policy.json.jsonText(indent: 0).utf8)
    }

    /// Replaces a policy's spec and labels; a changed spec is a new generation.
    public func replaceNetworkPolicy(namespace: String, name: String, body: Data, dryRun: Bool) async throws -> Data {
        try requireReady()
        let old = try networkPolicy(namespace, name)
        var new = try Controller.decodeObject(body, as: NetworkPolicy.self)
        if new.metadata.namespace.isEmpty { new.metadata.namespace = namespace }
        guard new.metadata.name == name, new.metadata.namespace == namespace else {
            throw APIStatus.badRequest("the name of the object (\(new.metadata.name)) does not match the name on the URL (\(name))")
        }
        if !new.metadata.resourceVersion.isEmpty, new.metadata.resourceVersion != old.metadata.resourceVersion {
            throw APIStatus.conflict(resource: NetworkPolicy.qualifiedResource, name: name)
        }
        new.metadata.uid = old.metadata.uid
        new.metadata.creationTimestamp = old.metadata.creationTimestamp
        new = new.applyingDefaults()
        new.metadata.generation = (old.metadata.generation ?? 1) + (new.spec == old.spec ? 0 : 1)
        do { try new.validated() } catch { throw Controller.invalid(error) }
        if dryRun {
            new.metadata.resourceVersion = old.metadata.resourceVersion
            return Data(new.json.jsonText(indent: 0).utf8)
        }
        new = try persist(new, .modified)
        networkPolicies[objectKey(new)] = new
        policyChanged(namespace: namespace, name: name, new)
        return Data(new.json.jsonText(indent: 0).utf8)
    }

    public func deleteNetworkPolicy(namespace: String, name: String, dryRun: Bool) async throws -> Data {
        let policy = try networkPolicy(namespace, name)
        if !dryRun { try removeNetworkPolicy(policy) }
        return Data(policy.json.jsonText(indent: 0).utf8)
    }

    func removeNetworkPolicy(_ policy: NetworkPolicy) throws {
        try removeStored(policy)
        networkPolicies.removeValue(forKey: objectKey(policy))
        policyChanged(namespace: policy.metadata.namespace, name: policy.metadata.name, nil)
    }

    /// The policies of a namespace being deleted go with it.
    func removeNetworkPolicies(in namespace: String) throws {
        for policy in networkPolicies.values where policy.metadata.namespace == namespace { try removeNetworkPolicy(policy) }
    }

    public func listNetworkPolicies(namespace: String?, options: ListOptions) async throws -> Data {
        try listData(try filtered(networkPolicies.values, namespace: namespace, selector: options.labelSelector))
    }

    func watchNetworkPolicies(namespace: String?, options: ListOptions) throws -> WatchLines {
        try watchStream(NetworkPolicy.self, namespace: namespace, options: options,
                        current: filtered(networkPolicies.values, namespace: namespace, selector: options.labelSelector))
    }

    /// The API server names a grouped kind with its group: `NetworkPolicy.networking.k8s.io "x" is invalid`.
    static func invalid(_ error: InvalidObjectError) -> APIStatus {
        APIStatus.invalid(kind: error.kind, group: "networking.k8s.io", name: error.name, errors: error.errors)
    }

    /// The routes of `/apis/networking.k8s.io/v1/.../networkpolicies`.
    nonisolated func policyResources() -> [(prefix: String, resource: String, namespaced: Bool, handlers: ResourceHandlers)] {
        let handlers = ResourceHandlers(
            list: { namespace, options in try await self.listNetworkPolicies(namespace: namespace, options: options) },
            watch: { namespace, options in try await self.watchNetworkPolicies(namespace: namespace, options: options) },
            get: { namespace, name in Data(try await self.networkPolicy(namespace ?? "default", name).json.jsonText(indent: 0).utf8) },
            create: { namespace, body, dryRun in try await self.createNetworkPolicy(namespace: namespace ?? "default", body: body, dryRun: dryRun) },
            replace: { namespace, name, body, dryRun in
                try await self.replaceNetworkPolicy(namespace: namespace ?? "default", name: name, body: body, dryRun: dryRun)
            },
            delete: { namespace, name, dryRun in try await self.deleteNetworkPolicy(namespace: namespace ?? "default", name: name, dryRun: dryRun) })
        return [(NetworkPolicy.apiPrefix, NetworkPolicy.resource, true, handlers)]
    }
}

/// The nodes' policy rules: the index that keeps them, and whether a sync runs or must follow.
struct PolicySyncState {
    var running = false
    var pending = false
    /// Each pod as the policies last saw it (`namespace/name`): a change of anything else
    /// (a status update) costs no sync.
    var pods: [String: PolicyPod] = [:]
    /// The lab's rules, kept change by change; nil until the first sync builds it whole from
    /// the lab (and again when a change it cannot follow element by element asks for that).
    var index: PolicyIndex?
    /// The nodes whose kernel holds what the index gave them last: these get deltas; any
    /// other node gets the whole ruleset, diffed against what its kernel holds.
    var inSync: Set<String> = []
    /// The logged policies whose rules the nodes' chains carry (`PolicyLog`): when they change,
    /// the chains do, and every node gets its whole ruleset (the table rebuilt).
    var loggedInChains: [String]?
    /// Milliseconds from a change to every node's rules in force.
    var syncMillis: [Double] = []
    var changedSince: ContinuousClock.Instant?
}

extension Controller {
    /// The lab as the policies see it.
    func policyWorld(_ plan: LabPlan) -> PolicyWorld {
        // From the pods themselves, not from what the last sync saw: after a restart the pods are
        // adopted without a change to report, and a world without them would open every isolation.
        PolicyWorld(pods: pods.values.compactMap { $0.status.phase?.isTerminal == true ? nil : PolicyPod($0) }, namespaceLabels: namespaces.mapValues(\.metadata.labels),
                    policies: Array(networkPolicies.values),
                    nodeAddresses: Dictionary(plan.nodes.map { ($0.name, [$0.underlayAddress.address, $0.gateway.address]) }) { a, _ in a })
    }

    /// Each node's policy ruleset as it now stands (for traces).
    var policyRulesets: [String: PolicyRuleset] {
        guard let index = policySync.index else { return [:] }
        return Dictionary(uniqueKeysWithValues: index.nodeNames.map { ($0, index.ruleset(node: $0)) })
    }

    /// A pod changed or went: when what the policies see of it changed, the rules follow.
    func podChangedForPolicies(_ pod: Pod, deleted: Bool) {
        let podKey = key(pod)
        let seen = deleted || pod.status.phase?.isTerminal == true ? nil : PolicyPod(pod)
        guard policySync.pods[podKey] != seen else { return }
        policySync.pods[podKey] = seen
        let namespace = pod.metadata.namespace.isEmpty ? "default" : pod.metadata.namespace
        policySync.index?.updatePod(namespace: namespace, name: pod.metadata.name, seen)
        policyElementsChanged()
    }

    /// A policy was created, replaced or deleted (nil).
    func policyChanged(namespace: String, name: String, _ policy: NetworkPolicy?) {
        if policy?.logsDrops != true { policyLogBook.forget(policy: "\(namespace)/\(name)") }
        policySync.index?.updatePolicy(namespace: namespace, name: name, policy)
        policyElementsChanged()
    }

    /// A namespace was created, relabelled or deleted: policies with a namespaceSelector follow.
    func namespaceChangedForPolicies(_ name: String) {
        policySync.index?.updateNamespace(name, labels: namespaces[name]?.metadata.labels)
        policyElementsChanged()
    }

    /// Nodes came or the lab started: the rules are built whole from the lab, every node
    /// synced against what its kernel holds.
    func policiesChanged() {
        policySync.index = nil
        policyElementsChanged()
    }

    /// The index changed (or must be built): every node's policy rules follow, one sync at a
    /// time, a change meanwhile taking one more sync after it.
    func policyElementsChanged() {
        guard phase == .ready || phase == .creating else { return }
        policySync.pending = true
        if policySync.changedSince == nil { policySync.changedSince = .now }
        guard !policySync.running else { return }
        policySync.running = true
        Task { await self.runPolicySyncs() }
    }

    func runPolicySyncs() async {
        defer { policySync.running = false }
        while policySync.pending, phase == .ready || phase == .creating, let plan {
            policySync.pending = false
            let started = policySync.changedSince ?? .now
            policySync.changedSince = nil
            if policySync.index == nil {
                policySync.index = PolicyIndex(policyWorld(plan))
                policySync.inSync = []
            }
            if let logged = policySync.index?.loggedPolicies, logged != policySync.loggedInChains {
                policySync.inSync = []
                policySync.loggedInChains = logged
            }
            var failed = false
            for node in plan.nodes where nodes[node.name] != nil {
                do {
                    try await syncPolicies(node: node.name)
                } catch {
                    failed = true
                    policySync.inSync.remove(node.name)
                    logger.error("node \(node.name): programming the policy rules failed (the previous ones stay in force): \(error)")
                }
            }
            if failed {
                try? await Task.sleep(for: .seconds(1))
                policySync.pending = true
                if policySync.changedSince == nil { policySync.changedSince = started }
            } else {
                policySync.syncMillis.append(Controller.millis(ContinuousClock.now - started))
            }
        }
    }

    /// One node: the elements changed since its last sync when its kernel is known to hold the
    /// rest, else the whole ruleset (the dataplane sends only what differs from the kernel's).
    private func syncPolicies(node: String) async throws {
        if policySync.inSync.contains(node) {
            guard let delta = policySync.index?.takeDelta(node: node), !delta.isEmpty else { return }
            if let report = try await sandboxRuntime.applyPolicies(node: node, delta: delta) {
                if !report.isEmpty { logger.debug("\(report)") }
                return
            }
            // The dataplane no longer knows what the node holds: the whole ruleset, then.
            policySync.inSync.remove(node)
        }
        guard let ruleset = policySync.index?.ruleset(node: node) else { return }
        _ = policySync.index?.takeDelta(node: node)
        if let report = try await sandboxRuntime.syncPolicies(node: node, ruleset: ruleset), !report.isEmpty {
            logger.debug("\(report)")
        }
        policySync.inSync.insert(node)
        startPolicyLogs(node: node)
    }
}
