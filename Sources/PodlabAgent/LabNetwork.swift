import Foundation
import Netlink
import Netns
import PodNet

/// The network of one node, as the agent builds it (see design.md "The lab topology").
public struct NodeNetworkPlan: Sendable, Codable, Equatable {
    public var name: String
    /// 1-based position in the topology.
    public var index: Int
    /// `<lab>-n<index>`.
    public var namespace: String
    /// The node's address on the underlay bridge (e.g. 192.168.200.11/24).
    public var underlayAddress: IPv4Interface
    /// The node's pod CIDR (e.g. 10.244.1.0/24).
    public var podCIDR: IPv4Prefix
    /// The gateway address on `cni0` (the CIDR's first host).
    public var gateway: IPv4Address
}

/// The whole lab's network.
public struct LabNetworkPlan: Sendable, Codable, Equatable {
    public var lab: String
    /// `<lab>-u`.
    public var underlayNamespace: String
    public var routing: String
    public var clusterCIDR: IPv4Prefix
    public var serviceCIDR: IPv4Prefix
    public var underlayCIDR: IPv4Prefix
    public var mtu: UInt32
    public var nodes: [NodeNetworkPlan]
}

/// A node's network as built: the node namespace's netlink handle and its pod bridge.
public struct NodeNetwork: Sendable {
    public var plan: NodeNetworkPlan
    public var namespace: NetworkNamespace
    public var netlink: RouteNetlink
    public var bridge: Link
}

/// Builds (or adopts) and removes a lab's namespaces, bridges, veths, routes and sysctls.
/// Every step is idempotent: running `ensure` on a complete lab changes nothing, on a half-built
/// one it finishes the job.
public enum LabNetwork {
    public static let underlayBridge = "underlay0"
    public static let podBridge = "cni0"
    public static let nodeInterface = "eth0"

    /// Sysctls of a node namespace: it routes between its pods and to other nodes, and must not
    /// send ICMP redirects (pods on one bridge talk through the node's IP layer by design).
    static let nodeSysctls: [Sysctl.Setting] = [
        Sysctl.ipForwarding,
        Sysctl.Setting("net/ipv4/conf/all/send_redirects", "0"),
        Sysctl.Setting("net/ipv4/conf/default/send_redirects", "0"),
        Sysctl.Setting("net/ipv4/conf/all/rp_filter", "0"),
        Sysctl.Setting("net/ipv4/conf/default/rp_filter", "0"),
    ]

    /// Creates whatever is missing; returns the nodes' networks by node name.
    /// `progress` receives short human-readable steps.
    public static func ensure(_ plan: LabNetworkPlan, progress: (String) -> Void = { _ in }) throws -> [String: NodeNetwork] {
        progress("underlay namespace \(plan.underlayNamespace)")
        let (_, underlay) = try openOrCreate(plan.underlayNamespace)
        try underlay.setUp(.name("lo"))
        let underlayBridge = try underlay.linkIfPresent(named: LabNetwork.underlayBridge)
            ?? underlay.createBridge(name: LabNetwork.underlayBridge, mtu: plan.mtu, up: true)
        try underlay.setUp(.index(underlayBridge.index))

        var result: [String: NodeNetwork] = [:]
        for node in plan.nodes {
            progress("node \(node.name): namespace \(node.namespace), \(node.underlayAddress) on the underlay, pods \(node.podCIDR)")
            let (namespace, netlink) = try openOrCreate(node.namespace)
            try Sysctl.set(nodeSysctls, in: namespace)
            let uplink = "veth-n\(node.index)"
            if try underlay.linkIfPresent(named: uplink) == nil {
                // A leftover eth0 without its underlay end cannot be reused: remove it first.
                if let stale = try netlink.linkIfPresent(named: nodeInterface) { try netlink.deleteLink(.index(stale.index)) }
                try underlay.createVeth(VethConfiguration(name: uplink, mtu: plan.mtu, masterIndex: underlayBridge.index, up: true,
                                                          peer: .init(name: nodeInterface, mtu: plan.mtu)),
                                        peerNamespace: namespace)
            }
            let eth0 = try netlink.link(named: nodeInterface)
            // A fixed MAC: a bridge without one takes the lowest MAC of its ports, which would change
            // under the pods' permanent gateway entries as veths come and go.
            let bridgeMAC = MACAddress.derived(from: node.gateway)
            var bridge = try netlink.linkIfPresent(named: podBridge) ?? netlink.createBridge(name: podBridge, mtu: plan.mtu, mac: bridgeMAC, up: true)
            if bridge.mac != bridgeMAC {
                try netlink.setMAC(.index(bridge.index), mac: bridgeMAC)
                bridge = try netlink.link(named: podBridge)
            }
            try netlink.perform(batch: [
                try .setLink(.name("lo"), LinkChanges(up: true)),
                try .setLink(.index(eth0.index), LinkChanges(up: true)),
                try .replaceAddress(InterfaceAddress(interfaceIndex: eth0.index, node.underlayAddress)),
                try .setLink(.index(bridge.index), LinkChanges(up: true)),
                try .replaceAddress(InterfaceAddress(interfaceIndex: bridge.index, try IPv4Interface(node.gateway, length: node.podCIDR.length))),
            ])
            try Sysctl.set([Sysctl.Setting("net/ipv4/conf/\(podBridge)/send_redirects", "0")], in: namespace)
            // host-gw: every other node's pod CIDR via that node's underlay address.
            let routes = try plan.nodes.filter { $0.name != node.name }.map { peer in
                try NetlinkRequest.replaceRoute(Route(destination: peer.podCIDR, gateway: peer.underlayAddress.address, outputIndex: eth0.index))
            }
            try netlink.perform(batch: routes)
            try NodeFirewall.apply(in: namespace, clusterCIDR: plan.clusterCIDR)
            result[node.name] = NodeNetwork(plan: node, namespace: namespace, netlink: netlink, bridge: try netlink.link(named: podBridge))
        }
        return result
    }

    /// Removes the node and underlay namespaces (pods must be gone first). Missing ones are fine.
    public static func remove(_ plan: LabNetworkPlan) throws {
        for node in plan.nodes { try NetworkNamespace.delete(node.namespace, ignoreMissing: true) }
        try NetworkNamespace.delete(plan.underlayNamespace, ignoreMissing: true)
    }

    static func openOrCreate(_ name: String) throws -> (NetworkNamespace, RouteNetlink) {
        if NetworkNamespace.exists(name) {
            let namespace = try NetworkNamespace.open(name)
            return (namespace, try RouteNetlink(namespace: namespace))
        }
        return try RouteNetlink.createNamespace(name)
    }
}

extension LabNetworkPlan {
    /// The plan for a new lab from a topology file (or the defaults: two nodes, host-gw).
    static func load(lab: String, topologyPath: String?) throws -> LabNetworkPlan {
        var value: JSONValue = .object([:])
        if let topologyPath {
            let text = try String(contentsOfFile: topologyPath, encoding: .utf8)
            guard let document = try ManifestText.documents(in: text).first else {
                throw AgentStartError(description: "topology \(topologyPath) is empty")
            }
            value = document.value
        }
        func string(_ key: String, _ fallback: String) -> String { value[key]?.stringValue ?? fallback }
        func prefix(_ key: String, _ fallback: String) throws -> IPv4Prefix {
            do { return try IPv4Prefix(parsing: string(key, fallback)) } catch {
                throw AgentStartError(description: "topology: \(key): \(error)")
            }
        }
        let cluster = try prefix("clusterCIDR", "10.244.0.0/16")
        let underlay = try prefix("underlayCIDR", "192.168.200.0/24")
        let nodeLength: Int
        if case let .integer(n)? = value["nodeCIDRLength"] { nodeLength = Int(n) } else { nodeLength = 24 }
        var names: [String] = []
        if case let .array(list)? = value["nodes"] {
            names = list.enumerated().map { $1["name"]?.stringValue ?? "node\($0 + 1)" }
        } else if case let .integer(count)? = value["nodeCount"] {
            names = (1...max(Int(count), 1)).map { "node\($0)" }
        } else {
            names = ["node1", "node2"]
        }
        let mtu: UInt32
        if case let .integer(n)? = value["mtu"] { mtu = UInt32(n) } else { mtu = 1500 }
        let nodes = try names.enumerated().map { offset, name in
            let index = offset + 1
            guard let podCIDR = cluster.subnet(length: nodeLength, index: UInt64(index)),
                  let gateway = podCIDR.host(1), let address = underlay.address(at: UInt64(10 + index)) else {
                throw AgentStartError(description: "topology: node \(name) does not fit the cluster or underlay CIDR")
            }
            return NodeNetworkPlan(name: name, index: index, namespace: "\(lab)-n\(index)",
                                   underlayAddress: try IPv4Interface(address, length: underlay.length), podCIDR: podCIDR, gateway: gateway)
        }
        return LabNetworkPlan(lab: lab, underlayNamespace: "\(lab)-u", routing: string("routing", "host-gw"), clusterCIDR: cluster,
                              serviceCIDR: try prefix("serviceCIDR", "10.96.0.0/16"), underlayCIDR: underlay, mtu: mtu, nodes: nodes)
    }
}
