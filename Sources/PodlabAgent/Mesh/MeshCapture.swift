import NFTables
import Netns
import PodNet

/// A meshed pod's capture (`MeshCaptureRules`, decided in PodNet) as nftables objects, made
/// in one transaction inside the pod's own network namespace, never the node's or the root's.
/// The table goes with the namespace: deleting or recreating the pod is all the cleanup.
enum MeshCapture {
    static let table = Table(.ip, MeshCaptureRules.table)

    /// The whole table, replaced: programming it again (a sandbox rebuilt) is harmless.
    static func transaction(_ rules: MeshCaptureRules) -> Transaction {
        var transaction = Transaction()
        transaction.deleteIfExists(table)
        transaction.add(table)
        let chains = rules.chains.map { wanted in
            Chain(table, wanted.name, type: .nat, hook: wanted.hook == "prerouting" ? .prerouting : .output,
                  priority: MeshCaptureRules.priority)
        }
        for chain in chains { transaction.add(chain) }
        for (wanted, chain) in zip(rules.chains, chains) {
            for rule in wanted.rules { transaction.add(Rule(chain, expressions(rule))) }
        }
        return transaction
    }

    static func expressions(_ rule: MeshCaptureRules.Rule) -> [Expression] {
        var expressions: [Expression] = []
        for condition in rule.conditions {
            switch condition {
            case let .socketUser(uid): expressions.append(.match(.skuid, .uid(uid)))
            case let .outputInterface(name): expressions.append(.match(.oifname, .ifname(name)))
            case .tcp: expressions.append(.match(.l4proto, .inetProtocol(.tcp)))
            case let .tcpDestinationPort(port):
                expressions.append(.match(.l4proto, .inetProtocol(.tcp)))
                expressions.append(.match(.thDport, .port(port)))
            }
        }
        switch rule.action {
        case .return: expressions.append(.verdict(.return))
        case let .redirect(port): expressions.append(.redirect(port: port))
        }
        return expressions
    }

    static func apply(_ rules: MeshCaptureRules, netns: String) throws {
        try NFTablesConnection(namespace: NetworkNamespace(unchecked: netns)).apply(transaction(rules))
    }
}
