import Foundation
import NFTables
import PodNet

extension Controller {
    /// Reads the node's drops of logged policies from now on (once per node; the reader keeps going).
    func startPolicyLogs(node: String) {
        do {
            try sandboxRuntime.listenPolicyLogs(node: node) { [weak self] packets in
                guard let self else { return }
                Task { await self.recordPolicyDrops(node: node, packets) }
            }
        } catch {
            logger.warning("node \(node): the drops of logged NetworkPolicies cannot be read: \(error)")
        }
    }

    /// Keeps each logged drop under its policy, named with the pods at its addresses, and writes
    /// it to the agent's log.
    func recordPolicyDrops(node: String, _ packets: [NFLogPacket]) {
        for packet in packets { recordPolicyDrop(node: node, prefix: packet.prefix, payload: packet.payload) }
    }

    /// One logged packet: its log prefix names the policy, its IPv4 header the connection.
    func recordPolicyDrop(node: String, prefix: String, payload: [UInt8]) {
        guard let named = PolicyLog.policy(forPrefix: prefix, logged: PolicyLog.loggedPolicies(networkPolicies.values)),
              let packet = PolicyLog.Packet(ipv4: payload) else { return }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let time = formatter.string(from: Date())
        let record = policyLogBook.append { sequence in
            PolicyLog.Record(sequence: sequence, time: time, node: node, policy: named.policy, direction: named.direction,
                             sourcePod: podName(at: packet.source), destinationPod: podName(at: packet.destination), packet: packet)
        }
        logger.info("NetworkPolicy drop: \(record.line)")
    }

    /// `namespace/name` of the running pod at `address`, if any.
    private func podName(at address: IPv4Address) -> String? {
        let text = "\(address)"
        guard let pod = pods.values.first(where: { $0.status.podIP == text && $0.status.phase?.isTerminal != true && !$0.spec.hostNetwork }) else { return nil }
        return "\(pod.metadata.namespace.isEmpty ? "default" : pod.metadata.namespace)/\(pod.metadata.name)"
    }

    /// `GET /podlab/v1/policylog?namespace=NS&name=NAME&after=SEQ`: whether the policy logs, and
    /// its drops kept since `after`.
    public func policyLog(namespace: String, name: String, after: Int) async throws -> Data {
        guard let policy = networkPolicies["\(namespace)/\(name)"] else {
            throw APIStatus.notFound(resource: NetworkPolicy.qualifiedResource, name: name)
        }
        let answer = PolicyLog.Answer(policy: policy.qualifiedName, logging: policy.logsDrops, lastSequence: policyLogBook.lastSequence,
                                      records: policyLogBook.records(policy: policy.qualifiedName, after: after))
        return try JSONEncoder().encode(answer)
    }
}
