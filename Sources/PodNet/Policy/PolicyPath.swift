/// Where a packet between two lab addresses meets the policy chains: the forward hook of every
/// node it crosses and the input hook of the node it is for. A node's own packets (kubelet
/// probes, host-network pods) leave through output, which no policy chain sees.
public enum PolicyPath {
    public struct Hop: Hashable, Sendable, CustomStringConvertible {
        public var node: String
        public var hook: String
        public var result: PolicyTrace.Result

        public var description: String { "node \(node) \(hook): \(result)" }
    }

    /// The hooks (node, hook) a packet from `source` to `destination` passes; empty when it
    /// crosses none (a node to its own pod, or an address outside the lab's).
    public static func hooks(in world: PolicyWorld, from source: IPv4Address, to destination: IPv4Address) -> [(node: String, hook: String)] {
        func place(_ address: IPv4Address) -> (node: String, isPod: Bool)? {
            if let pod = world.pod(at: address) { return (pod.node, true) }
            return world.node(at: address).map { ($0, false) }
        }
        guard let from = place(source), let to = place(destination) else { return [] }
        switch (from.isPod, to.isPod) {
        case (true, true): return from.node == to.node ? [(from.node, "forward")] : [(from.node, "forward"), (to.node, "forward")]
        case (false, true): return from.node == to.node ? [] : [(to.node, "forward")]
        case (true, false): return from.node == to.node ? [(to.node, "input")] : [(from.node, "forward"), (to.node, "input")]
        case (false, false): return []
        }
    }

    /// The packet traced through each hook it meets, up to the first that drops it.
    public static func trace(in world: PolicyWorld, rulesets: [String: PolicyRuleset], packet: PolicyTrace.Packet) throws(PolicyTrace.TraceError) -> [Hop] {
        var hops: [Hop] = []
        for (node, hook) in hooks(in: world, from: packet.source, to: packet.destination) {
            guard let ruleset = rulesets[node] else { continue }
            let result = try PolicyTrace.trace(ruleset, hook: hook, packet: packet)
            hops.append(Hop(node: node, hook: hook, result: result))
            if !result.accepted { break }
        }
        return hops
    }
}
