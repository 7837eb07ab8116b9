import NFTables
import Netns
import PodNet

/// The nftables table podlab owns in each node namespace (`table ip podlab`).
///
/// - `nat-postrouting`: traffic from the cluster CIDR to anything outside it is masqueraded
///   (the lab has no way out of its namespaces, but the rule is the one a real node carries).
/// - `forward`: a counter of forwarded pod traffic (pod-to-pod traffic, same node included,
///   passes the node's IP layer by design, so `nft list` shows it).
///
/// The whole table is replaced in one transaction, so applying it again is harmless.
enum NodeFirewall {
    static let table = Table(.ip, "podlab")

    static func transaction(clusterCIDR: IPv4Prefix) -> Transaction {
        let postrouting = Chain(table, "nat-postrouting", type: .nat, hook: .postrouting, priority: Priority.srcnat)
        let forward = Chain(table, "forward", type: .filter, hook: .forward, priority: Priority.filter)
        var transaction = Transaction()
        transaction.deleteIfExists(table)
        transaction.add(table)
        transaction.add(postrouting)
        transaction.add(forward)
        transaction.add(Rule(postrouting, [.match(.ipSaddr, .ipv4Prefix(clusterCIDR)), .match(.ipDaddr, .notEqual, .ipv4Prefix(clusterCIDR)), .counter, .masquerade],
                             comment: "pods leaving the cluster CIDR"))
        transaction.add(Rule(forward, [.match(.ipSaddr, .ipv4Prefix(clusterCIDR)), .counter], comment: "pod traffic forwarded by this node"))
        return transaction
    }

    static func apply(in namespace: NetworkNamespace, clusterCIDR: IPv4Prefix) throws {
        try NFTablesConnection(namespace: namespace).apply(transaction(clusterCIDR: clusterCIDR))
    }
}
