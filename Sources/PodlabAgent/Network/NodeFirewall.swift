import NFTables
import Netns
import PodNet

/// The nftables table podlab owns in each node namespace (`table ip podlab`): the chains and
/// rules of `NodeFirewallRules` (PodNet decides what they are) turned into nftables objects.
/// The whole table is replaced in one transaction, so applying it again is harmless.
///
/// `FirewallRule` and nftables rules convert both ways: the agent programs the one, and reads
/// the installed table back into the other (`rule(_:)`), for `whois` and for checking the
/// installed table against the desired one.
enum NodeFirewall {
    static let table = Table(.ip, NodeFirewallRules.table)

    /// Why a desired rule cannot be programmed (a model value nftables cannot carry).
    struct LoweringError: Error, CustomStringConvertible {
        var description: String
    }

    static func transaction(clusterCIDR: IPv4Prefix) throws -> Transaction {
        var transaction = Transaction()
        transaction.deleteIfExists(table)
        transaction.add(table)
        let chains = NodeFirewallRules.chains(clusterCIDR: clusterCIDR)
        for wanted in chains {
            transaction.add(try chain(wanted))
        }
        for wanted in chains {
            let chain = try chain(wanted)
            for rule in wanted.rules { transaction.add(try nftablesRule(rule, in: chain)) }
        }
        return transaction
    }

    static func apply(in namespace: NetworkNamespace, clusterCIDR: IPv4Prefix) throws {
        try NFTablesConnection(namespace: namespace).apply(transaction(clusterCIDR: clusterCIDR))
    }

    // MARK: Model to nftables

    static func chain(_ wanted: FirewallChainSnapshot) throws -> Chain {
        guard let typeName = wanted.type, let hookName = wanted.hook else { return Chain(table, wanted.name) }
        guard let type = ChainType(rawValue: typeName), let hook = Hook(rawValue: hookName) else {
            throw LoweringError(description: "chain \(wanted.name): type \(typeName) hook \(hookName) is not a base chain nftables knows")
        }
        return Chain(table, wanted.name, type: type, hook: hook, priority: Int32(wanted.priority ?? 0))
    }

    static func nftablesRule(_ rule: FirewallRule, in chain: Chain) throws -> Rule {
        guard rule.other.isEmpty else {
            throw LoweringError(description: "rule \(rule) in chain \(chain.name): podlab programs no \(rule.other.joined(separator: ", "))")
        }
        var expressions: [Expression] = try rule.conditions.map { condition in
            let relation: Relation = condition.negated ? .notEqual : .equal
            switch condition.field {
            case .ipSaddr, .ipDaddr:
                guard let prefix = condition.prefix else {
                    throw LoweringError(description: "rule \(rule) in chain \(chain.name): \"\(condition.value)\" is not an IPv4 address or prefix")
                }
                let value: Value = prefix.length == 32 ? .ipv4(prefix.network) : .ipv4Prefix(prefix)
                return .match(condition.field == .ipSaddr ? .ipSaddr : .ipDaddr, relation, value)
            case .iifname, .oifname:
                return .match(condition.field == .iifname ? .iifname : .oifname, relation, .ifname(condition.value))
            }
        }
        if rule.counts { expressions.append(.counter) }
        switch rule.action {
        case .masquerade?: expressions.append(.masquerade)
        case .accept?: expressions.append(.accept)
        case .drop?: expressions.append(.drop)
        case nil: break
        }
        return Rule(chain, expressions, comment: rule.comment)
    }

    // MARK: nftables to model

    /// An installed rule as the model reads it. What the model has no words for stays as nft
    /// prints it (`other`), so a rule podlab did not make is still shown, and never misread.
    static func rule(_ rule: Rule) -> FirewallRule {
        var result = FirewallRule([], comment: rule.comment)
        for expression in rule.expressions {
            switch expression {
            case let .match(field, relation, value):
                if let condition = condition(field, relation, value), result.action == nil {
                    result.conditions.append(condition)
                } else {
                    result.other.append(expression.description)
                }
            case let .counter(packets, bytes) where !result.counts:
                result.counts = true
                result.packets = packets
                result.bytes = bytes
            case .masquerade(fullyRandom: false) where result.action == nil:
                result.action = .masquerade
            case .verdict(.accept) where result.action == nil:
                result.action = .accept
            case .verdict(.drop) where result.action == nil:
                result.action = .drop
            default:
                result.other.append(expression.description)
            }
        }
        return result
    }

    static func condition(_ field: Field, _ relation: Relation, _ value: Value) -> FirewallRule.Condition? {
        let negated = relation == .notEqual
        switch (field, value) {
        case (.ipSaddr, .ipv4(let address)): return FirewallRule.Condition(.ipSaddr, address.description, negated: negated)
        case (.ipSaddr, .ipv4Prefix(let prefix)): return FirewallRule.Condition(.ipSaddr, prefix.description, negated: negated)
        case (.ipDaddr, .ipv4(let address)): return FirewallRule.Condition(.ipDaddr, address.description, negated: negated)
        case (.ipDaddr, .ipv4Prefix(let prefix)): return FirewallRule.Condition(.ipDaddr, prefix.description, negated: negated)
        case (.iifname, .ifname(let name)): return FirewallRule.Condition(.iifname, name, negated: negated)
        case (.oifname, .ifname(let name)): return FirewallRule.Condition(.oifname, name, negated: negated)
        default: return nil
        }
    }

    /// The installed table of a node, chain by chain, as the model reads it; empty when the
    /// table is missing.
    static func installedChains(in namespace: NetworkNamespace) throws -> [FirewallChainSnapshot] {
        let connection = try NFTablesConnection(namespace: namespace)
        let ruleset = try connection.ruleset(family: table.family, table: table.name)
        guard let installed = ruleset.tables.first else { return [] }
        return ruleset.chains(in: installed).map { chain in
            FirewallChainSnapshot(family: installed.family.rawValue, table: installed.name, name: chain.name, type: chain.base?.type.rawValue,
                                  hook: chain.base?.hook.rawValue, priority: chain.base.map { Int($0.priority) },
                                  rules: ruleset.rules(in: chain).map(rule))
        }
    }
}
