import Netlink
import Netns
import PodNet

extension PodRuntime {
    /// True when the node's half of a pod's interface is finished: the host end of the pod's
    /// veth is named `hostVethName(uid:)`, up, a port of the node's bridge and the peer of the
    /// pod's `eth0`, and the node holds the permanent neighbour entry pod IP → pod MAC.
    ///
    /// `sandboxIsComplete` looks from inside the pod only, and the pod's half is done first: a
    /// pair made ahead (`SparePool`) gets its address, route and gateway entry in the pod, and
    /// only then, in a second message to the node, its host end renamed from `vsp…` and raised
    /// and the node's entry for the pod (`attachPodInterface`; `setUpPodInterface` adds the
    /// node's entry last too). An agent killed between the two leaves a pod that looks finished
    /// from inside but is cut off: its host end is down. Such a sandbox must be rebuilt, not
    /// adopted.
    ///
    /// A pod with `hostNetwork` has no interface: nothing of it is on the node side.
    static func nodeSideIsComplete(_ sandbox: PodSandboxPaths, uid: String, address: IPv4Address, node: NodeNetwork) -> Bool {
        guard sandbox.network.ownNamespace != nil else { return true }
        guard let pod = try? RouteNetlink(namespace: NetworkNamespace.open(sandbox.netns)),
              let eth0 = try? pod.link(named: "eth0"), let podMAC = eth0.mac,
              let host = try? node.netlink.link(named: hostVethName(uid: uid)),
              let neighbours = try? node.netlink.neighbors(family: .ipv4, interfaceIndex: node.bridge.index) else { return false }
        // Indices are per namespace: each end's IFLA_LINK is the other's index in its own namespace.
        guard host.isUp, host.masterIndex == node.bridge.index, eth0.parentIndex == host.index, host.parentIndex == eth0.index else {
            return false
        }
        return neighbours.contains { $0.address == .v4(address) && $0.mac == podMAC && $0.state.contains(.permanent) }
    }
}
