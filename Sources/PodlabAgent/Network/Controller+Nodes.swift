import Foundation
import Hummingbird
import Netlink
import Netns
import PodNet

/// Adding and removing nodes of a running lab.
protocol NodeBackend: Sendable {
    func addNode(name: String) async throws -> Data
    func deleteNode(name: String) async throws -> Data
}

extension Controller: NodeBackend {
    /// Adds a node: its namespace, underlay veth, pod bridge and firewall, and routes to it
    /// from every other node (and from it to them). Existing nodes keep their addresses.
    public func addNode(name: String) async throws -> Data {
        try requireReady()
        guard let plan else { throw APIStatus.internalError("the lab has no plan") }
        var updated: LabPlan
        do { updated = try plan.addingNode(named: name) } catch {
            throw APIStatus(message: "node \"\(name)\" cannot be added: \(error)", reason: "Invalid", code: 422)
        }
        if let index = updated.nodes.firstIndex(where: { $0.name == name }) {
            updated.nodes[index].addedAt = Timestamp.now().secondsSince1970
        }
        do {
            nodes = try sandboxRuntime.ensureLabNetwork(updated) { self.logger.info("\($0)") }
        } catch {
            // Undo the half-made node; the other nodes' routes to it are harmless but removed too.
            if let node = updated.node(named: name) { try? sandboxRuntime.removeNode(node, from: updated) }
            throw APIStatus.internalError("adding node \"\(name)\" failed: \(error)")
        }
        try savePlan(updated)
        guard let node = updated.node(named: name) else { throw APIStatus.notFound(resource: "nodes", name: name) }
        if let network = nodes[name] { sandboxRuntime.refillSpares(node: network, mtu: UInt32(updated.podMTU), namespaces: LabNamespaces(updated)) }
        servicesChanged()
        policiesChanged()
        logger.info("node \(name) added")
        return Data(nodeObject(node).json.jsonText(indent: 0).utf8)
    }

    /// Removes a node: its pods are deleted first (as a drain would), then its namespace, and
    /// the routes (or overlay entries) that led to it on every other node.
    public func deleteNode(name: String) async throws -> Data {
        try requireReady()
        guard let plan else { throw APIStatus.internalError("the lab has no plan") }
        let updated: LabPlan
        do { updated = try plan.removingNode(named: name) } catch {
            if plan.node(named: name) == nil { throw APIStatus.notFound(resource: "nodes", name: name) }
            throw APIStatus(message: "node \"\(name)\" cannot be removed: \(error)", reason: "Invalid", code: 422)
        }
        guard let node = plan.node(named: name) else { throw APIStatus.notFound(resource: "nodes", name: name) }
        for pod in pods.values where pod.spec.nodeName == name {
            var pod = pod
            if pod.metadata.deletionTimestamp == nil {
                pod.metadata.deletionTimestamp = .now()
                pod.metadata.deletionGracePeriodSeconds = 5
                save(pod)
            }
            await finishDeletion(key(pod))
        }
        sandboxRuntime.dropSpares(node: name)
        try sandboxRuntime.removeNode(node, from: plan)
        nodes.removeValue(forKey: name)
        await sandboxRuntime.forgetServices(node: name)
        sandboxRuntime.dropSpares(node: name)  // one that was being made meanwhile
        try savePlan(updated)
        logger.info("node \(name) removed")
        return Data(nodeObject(node).json.jsonText(indent: 0).utf8)
    }

    func savePlan(_ updated: LabPlan) throws {
        let text = String(decoding: try JSONEncoder().encode(updated), as: UTF8.self)
        try store.write { try $0.setMeta("plan", text) }
        plan = updated
    }

    /// `POST /api/v1/nodes` (body: a Node with `metadata.name`) and `DELETE /api/v1/nodes/{name}`.
    static func addNodeRoutes(to router: Router<BasicRequestContext>, backend: any NodeBackend) {
        router.post("/api/v1/nodes") { request, _ in
            try await APIServer.handle {
                let body = try await APIServer.requestBody(request)
                let value = try JSONReader.value(from: String(buffer: body))
                guard let name = value["metadata"]?["name"]?.stringValue, !name.isEmpty else {
                    throw APIStatus.badRequest("metadata.name: Required value")
                }
                return APIServer.json(try await backend.addNode(name: name), status: .created)
            }
        }
        router.delete("/api/v1/nodes/:name") { _, context in
            try await APIServer.handle { APIServer.json(try await backend.deleteNode(name: try context.parameters.require("name"))) }
        }
    }
}

extension LabNetwork {
    /// Deletes a node's namespace (its veth pair goes with it) and, on every other node, the
    /// route to its pod CIDR and, under vxlan, the overlay neighbour and FDB entries for it.
    static func removeNode(_ node: NodePlan, from plan: LabPlan) throws {
        for peer in plan.nodes where peer.name != node.name {
            guard NetworkNamespace.exists(peer.namespace) else { continue }
            let netlink = try RouteNetlink(namespace: NetworkNamespace.open(peer.namespace))
            var requests: [NetlinkRequest] = []
            switch plan.routing {
            case .hostGateway:
                requests.append(try .deleteRoute(Route(destination: node.podCIDR, gateway: node.underlayAddress.address)))
            case .vxlan:
                guard let vxlan = try netlink.linkIfPresent(named: overlayDevice) else { continue }
                let endpoint = overlayEndpoint(node)
                requests.append(try .deleteRoute(Route(destination: node.podCIDR, gateway: endpoint.address, outputIndex: vxlan.index, onlink: true)))
                requests.append(try .deleteNeighbor(Neighbor(interfaceIndex: vxlan.index, address: endpoint.address, mac: endpoint.mac)))
                requests.append(try .deleteFDBEntry(FDBEntry(interfaceIndex: vxlan.index, mac: endpoint.mac, destination: .v4(node.underlayAddress.address))))
            }
            // Entries already gone are fine: each message is acknowledged on its own.
            _ = try netlink.performIndividually(batch: requests)
        }
        try LabNamespaces(plan).delete(node.namespace)
    }
}
