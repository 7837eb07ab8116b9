import Foundation
import Netlink
import Netns
import PodNet

/// A node's network as built: the node namespace's netlink handle and its pod bridge.
public struct NodeNetwork: Sendable {
    public var plan: NodePlan
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
    /// The lab is IPv4-only.
    static let nodeSysctls: [Sysctl.Setting] = [
        Sysctl.ipForwarding,
        Sysctl.Setting("net/ipv4/conf/all/send_redirects", "0"),
        Sysctl.Setting("net/ipv4/conf/default/send_redirects", "0"),
        Sysctl.Setting("net/ipv4/conf/all/rp_filter", "0"),
        Sysctl.Setting("net/ipv4/conf/default/rp_filter", "0"),
        // Before eth0, cni0 and the pods' veths exist: no IPv6 link-local addresses, so a bridge
        // with hundreds of ports does not flood DAD, router solicitations and MLD reports.
        Sysctl.noIPv6LinkLocal,
    ] + bridgeSysctls

    /// Where the host has loaded br_netfilter, every frame entering a bridge would also pass
    /// the IP hooks at bridge level. Pods reach everything through the node's IP layer (the
    /// gateway's MAC), where podlab's rules are, so the lab turns it off in its own namespaces:
    /// it behaves the same whether or not the host loaded the module. Skipped where absent.
    static let bridgeSysctls: [Sysctl.Setting] = ["iptables", "ip6tables", "arptables"].map {
        Sysctl.Setting("net/bridge/bridge-nf-call-\($0)", "0", ifPresent: true)
    }

    /// Creates whatever is missing; returns the nodes' networks by node name.
    /// `progress` receives short human-readable steps.
    public static func ensure(_ plan: LabPlan, progress: (String) -> Void = { _ in }) throws -> [String: NodeNetwork] {
        progress("underlay namespace \(plan.underlayNamespace)")
        let namespaces = LabNamespaces(plan)
        let (underlayNamespace, underlay) = try namespaces.openOrCreate(plan.underlayNamespace)
        // Before underlay0 and the uplinks exist: the underlay is IPv4-only like the nodes.
        try Sysctl.set([Sysctl.noIPv6LinkLocal] + bridgeSysctls, in: underlayNamespace)
        try underlay.setUp(.name("lo"))
        let underlayBridge = try underlay.linkIfPresent(named: LabNetwork.underlayBridge)
            ?? underlay.createBridge(name: LabNetwork.underlayBridge, mtu: UInt32(plan.mtu), up: true)
        try underlay.setUp(.index(underlayBridge.index))

        var result: [String: NodeNetwork] = [:]
        for node in plan.nodes {
            progress("node \(node.name): namespace \(node.namespace), \(node.underlayAddress) on the underlay, pods \(node.podCIDR)")
            let (namespace, netlink) = try namespaces.openOrCreate(node.namespace)
            try Sysctl.set(nodeSysctls, in: namespace)
            let uplink = "veth-n\(node.index)"
            var uplinkLink = try underlay.linkIfPresent(named: uplink)
            if let stale = uplinkLink, try netlink.linkIfPresent(named: nodeInterface) == nil {
                // An uplink whose node end is not in this namespace: left by a node of the same
                // index whose namespace the kernel is still tearing down. Replace it.
                do { try underlay.deleteLink(.index(stale.index, name: uplink)) } catch Errno.noSuchDevice {}
                uplinkLink = nil
            }
            if uplinkLink == nil {
                // A leftover eth0 without its underlay end cannot be reused: remove it first.
                if let stale = try netlink.linkIfPresent(named: nodeInterface) { try netlink.deleteLink(.index(stale.index)) }
                try underlay.createVeth(VethConfiguration(name: uplink, mtu: UInt32(plan.mtu), masterIndex: underlayBridge.index, up: true,
                                                          peer: .init(name: nodeInterface, mtu: UInt32(plan.mtu))),
                                        peerNamespace: namespace)
            }
            let eth0 = try netlink.link(named: nodeInterface)
            // A fixed MAC: a bridge without one takes the lowest MAC of its ports, which would change
            // under the pods' permanent gateway entries as veths come and go.
            let bridgeMAC = MACAddress.derived(from: node.gateway.address)
            var bridge = try netlink.linkIfPresent(named: podBridge) ?? netlink.createBridge(name: podBridge, mtu: UInt32(plan.podMTU), mac: bridgeMAC, up: true)
            if bridge.mac != bridgeMAC {
                try netlink.setMAC(.index(bridge.index), mac: bridgeMAC)
                bridge = try netlink.link(named: podBridge)
            }
            try netlink.perform(batch: [
                try .setLink(.name("lo"), LinkChanges(up: true)),
                try .setLink(.index(eth0.index), LinkChanges(up: true)),
                try .replaceAddress(InterfaceAddress(interfaceIndex: eth0.index, node.underlayAddress)),
                try .setLink(.index(bridge.index), LinkChanges(up: true)),
                try .replaceAddress(InterfaceAddress(interfaceIndex: bridge.index, node.gateway)),
            ])
            try Sysctl.set([Sysctl.Setting("net/ipv4/conf/\(podBridge)/send_redirects", "0")], in: namespace)
            switch plan.routing {
            case .hostGateway:
                // host-gw: every other node's pod CIDR via that node's underlay address.
                let routes = try plan.nodes.filter { $0.name != node.name }.map { peer in
                    try NetlinkRequest.replaceRoute(Route(destination: peer.podCIDR, gateway: peer.underlayAddress.address, outputIndex: eth0.index))
                }
                try netlink.perform(batch: routes)
            case .vxlan:
                try ensureOverlay(plan, node: node, netlink: netlink, uplink: eth0)
            }
            try NodeFirewall.apply(in: namespace, clusterCIDR: plan.clusterCIDR)
            result[node.name] = NodeNetwork(plan: node, namespace: namespace, netlink: netlink, bridge: try netlink.link(named: podBridge))
        }
        return result
    }

    public static let overlayDevice = "vxlan0"

    /// The overlay's address and MAC on a node: the network address of its pod CIDR (as a /32)
    /// and a MAC derived from it, so every node can program its peers without asking them.
    static func overlayEndpoint(_ node: NodePlan) -> (address: IPv4Address, mac: MACAddress) {
        (node.podCIDR.network, MACAddress.derived(from: node.podCIDR.network))
    }

    /// `routing: vxlan`: one VXLAN device per node over the underlay (no multicast, no
    /// learning). For each peer: a route to its pod CIDR via its overlay address (onlink), a
    /// permanent neighbour entry for that address, and an FDB entry sending its MAC to its
    /// underlay address — flannel's vxlan layout, programmed statically.
    static func ensureOverlay(_ plan: LabPlan, node: NodePlan, netlink: RouteNetlink, uplink: Link) throws {
        let me = overlayEndpoint(node)
        let id = UInt32(plan.vxlanID ?? TopologySpec.defaultVXLANID)
        var device = try netlink.linkIfPresent(named: overlayDevice)
        if device == nil {
            device = try netlink.createVXLAN(VXLANConfiguration(name: overlayDevice, id: id, local: node.underlayAddress.address, port: 4789,
                                                                underlyingIndex: uplink.index, learning: false,
                                                                mtu: UInt32(plan.podMTU), mac: me.mac, up: true))
        }
        guard let vxlan = device else { return }
        var requests: [NetlinkRequest] = [
            try .setLink(.index(vxlan.index), LinkChanges(up: true)),
            try .replaceAddress(InterfaceAddress(interfaceIndex: vxlan.index, try IPv4Interface(me.address, length: 32))),
        ]
        for peer in plan.nodes where peer.name != node.name {
            let endpoint = overlayEndpoint(peer)
            requests.append(try .replaceNeighbor(Neighbor(interfaceIndex: vxlan.index, address: endpoint.address, mac: endpoint.mac)))
            requests.append(try .replaceFDBEntry(FDBEntry(interfaceIndex: vxlan.index, mac: endpoint.mac, destination: .v4(peer.underlayAddress.address))))
            requests.append(try .replaceRoute(Route(destination: peer.podCIDR, gateway: endpoint.address, outputIndex: vxlan.index, onlink: true)))
        }
        try netlink.perform(batch: requests)
    }

    /// Removes the node and underlay namespaces (pods must be gone first). Missing ones are
    /// fine; one that is not the lab's stays (the first such problem is thrown at the end).
    public static func remove(_ plan: LabPlan) throws {
        let namespaces = LabNamespaces(plan)
        var firstError: Error?
        for name in plan.nodes.map(\.namespace) + [plan.underlayNamespace] {
            do { try namespaces.delete(name) } catch { firstError = firstError ?? error }
        }
        if let firstError { throw firstError }
    }
}

extension LabPlan {
    /// The plan for a new lab: the topology file (or the defaults: two nodes, host-gw), under
    /// the lab's name. Problems are reported with the field that causes them.
    static func load(lab: String, topologyPath: String?) throws -> LabPlan {
        var spec = TopologySpec(nodeCount: 2)
        if let topologyPath {
            let text: String
            do { text = try String(contentsOfFile: topologyPath, encoding: .utf8) } catch {
                throw AgentStartError(description: "cannot read topology \(topologyPath): \(error.localizedDescription)")
            }
            do { spec = try TopologySpec(yaml: text) } catch {
                throw AgentStartError(description: "topology \(topologyPath): \(error)")
            }
        }
        spec.name = lab
        // The id in the label on the lab's namespaces: this lab's, not an earlier one's of its name.
        let id = String(UUID().uuidString.lowercased().filter { $0 != "-" }.prefix(12))
        do { return try spec.plan(id: id) } catch {
            throw AgentStartError(description: "topology \(topologyPath ?? "(built-in default)"): \(error)")
        }
    }
}
