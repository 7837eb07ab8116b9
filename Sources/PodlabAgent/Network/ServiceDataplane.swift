import NFTables
import Netlink
import Netns
import PodNet
#if canImport(Glibc)
import Glibc
#endif

/// Programs each node's Service ruleset (`ServiceRules`, computed in PodNet) into the node's
/// `table ip podlab-services`, one nftables transaction per sync.
///
/// The first sync of a node reads what the kernel holds and sends only the difference: after an
/// agent restart, a table that already matches is left alone, so established connections keep
/// their conntrack entries and nothing is flushed. Later syncs diff against the ruleset last
/// applied and send only the changed elements and chains. The kernel applies a transaction
/// whole or not at all: when one fails, the previous rules stay in force, what the node holds
/// becomes unknown, and the sync is retried against a fresh read of the kernel.
public actor ServiceDataplane {
    /// What one sync did.
    public struct SyncReport: Sendable, CustomStringConvertible {
        public var node: String
        /// The changes sent (empty when the node already held the desired ruleset).
        public var diff: ServiceRulesetDiff
        /// Transactions tried; more than one when a failure was retried.
        public var attempts: Int
        public var generateSeconds: Double
        /// Reading the installed table (first sync only), diffing, and lowering the diff to a transaction.
        public var diffSeconds: Double
        /// Building the batch and the kernel's work on it.
        public var kernelSeconds: Double
        /// All of applying: diff and kernel, with retries.
        public var applySeconds: Double
        /// Conntrack entries deleted after the rules changed: UDP clients of endpoints that went away.
        public var flushedUDPEntries = 0
        /// Why deleting them failed (the rules are in force all the same).
        public var conntrackFailure: String?

        public var description: String {
            if diff.isEmpty { return "node \(node): Service rules already in place" }
            let what = diff.createsTable ? "created" : diff.rebuildsTable ? "rebuilt" : "updated"
            return "node \(node): Service rules \(what): +\(diff.addedElementCount) −\(diff.deletedElementCount) elements, "
                + "+\(diff.addedChains.count) ~\(diff.replacedChains.count) −\(diff.deletedChains.count) chains"
        }
    }

    /// Why a ruleset value cannot be programmed (a statement nftables cannot carry).
    public struct LoweringError: Error, CustomStringConvertible {
        public var description: String
    }

    private struct NodeState {
        var connection: NFTablesConnection
        /// The node's conntrack table, opened when an endpoint first goes away.
        var conntrack: Conntrack?
        /// The ruleset the kernel holds, as last applied; nil when unknown (never synced, or a
        /// transaction failed): the next sync reads it from the kernel.
        var installed: Installed?
    }

    /// What the kernel holds, as last applied: a ruleset computed elsewhere, or the rules kept
    /// service by service (which a change of a few Services updates in place).
    private enum Installed {
        case ruleset(ServiceRuleset)
        case rules(NodeServiceRules)

        var ruleset: ServiceRuleset {
            switch self {
            case .ruleset(let ruleset): ruleset
            case .rules(let rules): rules.ruleset
            }
        }
    }

    private var nodes: [String: NodeState] = [:]
    private let maximumAttempts: Int

    /// `maximumAttempts`: transactions tried per sync before its error is thrown.
    public init(maximumAttempts: Int = 3) {
        self.maximumAttempts = max(1, maximumAttempts)
    }

    /// Brings the node's Service rules to what `table` asks for: the whole ruleset generated and
    /// compared with what the node holds (start-up, adoption after a restart, a node added).
    @discardableResult
    public func sync(node: ServiceNode, namespace: NetworkNamespace, table: ServiceTable) async throws -> SyncReport {
        // ClientIP ports keep their endpoints in the slots the node holds them in (after a
        // restart too): clients recorded there stay with their endpoints.
        var previous: ServiceRuleset?
        if table.services.contains(where: { $0.sessionAffinity != .none }) {
            previous = try? installedRuleset(node: node.name, namespace: namespace)
        }
        let clock = ContinuousClock()
        var rules = NodeServiceRules(node: node)
        var desired = ServiceRuleset(table: ServiceRules.table)
        let generate = clock.measure {
            rules = NodeServiceRules(table: table, node: node, previous: previous)
            desired = rules.ruleset
        }
        return try await apply(desired, rules: rules, node: node.name, namespace: namespace, generateSeconds: generate.seconds)
    }

    /// Brings the node's Service rules to `services` (by key, `namespace/name`) and `hostPorts`,
    /// where only the Services `changed` differ from the last sync: only those are generated
    /// again, and only their elements (and the shared chains that come into or go out of use)
    /// are sent. A node whose rules are not known here (first sync, a failed transaction, a
    /// ruleset applied from elsewhere) gets a full sync instead.
    @discardableResult
    public func sync(node: ServiceNode, namespace: NetworkNamespace, services: [String: ServiceEntry], hostPorts: [HostPortEntry],
                     changed: some Collection<String>) async throws -> SyncReport {
        guard case .rules(var rules)? = nodes[node.name]?.installed, rules.node == node else {
            let table = ServiceTable(services.sorted { $0.key < $1.key }.map(\.value), hostPorts: hostPorts)
            return try await sync(node: node, namespace: namespace, table: table)
        }
        // The stored copy goes, so the rules are updated in place rather than copied whole
        // (80 000 keys at 20 000 Services); they are stored again once the kernel took the change.
        nodes[node.name]?.installed = nil
        let clock = ContinuousClock()
        var diff = ServiceRulesetDiff(family: "ip", table: ServiceRules.table)
        let generate = clock.measure {
            for key in changed { rules.update(key, to: services[key]) }
            rules.update(hostPorts: hostPorts)
            diff = rules.takeDiff()
        }
        let start = clock.now
        do {
            guard var state = nodes[node.name] else { throw LoweringError(description: "node \(node.name) is not known") }
            let transaction = diff.isEmpty ? nil : try ServiceDataplane.transaction(for: diff)
            let lowered = clock.now
            if let transaction { try state.connection.apply(transaction) }
            let end = clock.now
            state.installed = .rules(rules)
            nodes[node.name] = state
            var report = SyncReport(node: node.name, diff: diff, attempts: 1, generateSeconds: generate.seconds, diffSeconds: (lowered - start).seconds,
                                    kernelSeconds: (end - lowered).seconds, applySeconds: (end - start).seconds)
            flushConntrack(after: diff, node: node.name, namespace: namespace, into: &report)
            return report
        } catch {
            // The previous rules are in force; the full sync reads them from the kernel and retries.
            nodes[node.name]?.installed = nil
            if error is LoweringError { throw error }
            let table = ServiceTable(services.sorted { $0.key < $1.key }.map(\.value), hostPorts: hostPorts)
            return try await sync(node: node, namespace: namespace, table: table)
        }
    }

    /// Brings the node's table to `desired` (a ruleset computed elsewhere).
    @discardableResult
    public func apply(_ desired: ServiceRuleset, node: String, namespace: NetworkNamespace, generateSeconds: Double = 0) async throws -> SyncReport {
        try await apply(desired, rules: nil, node: node, namespace: namespace, generateSeconds: generateSeconds)
    }

    /// `rules`: the same ruleset kept service by service, for the syncs after this one.
    private func apply(_ desired: ServiceRuleset, rules: NodeServiceRules?, node: String, namespace: NetworkNamespace,
                       generateSeconds: Double) async throws -> SyncReport {
        let clock = ContinuousClock()
        var attempt = 0
        while true {
            attempt += 1
            let start = clock.now
            do {
                var state = try nodes[node] ?? NodeState(connection: NFTablesConnection(namespace: namespace), installed: nil)
                nodes[node] = state
                let installed = try state.installed?.ruleset ?? ServiceDataplane.installed(in: state.connection)
                let diff = ServiceRulesetDiff.between(installed: installed, desired: desired)
                let transaction = diff.isEmpty ? nil : try ServiceDataplane.transaction(for: diff)
                let lowered = clock.now
                if let transaction { try state.connection.apply(transaction) }
                let end = clock.now
                state.installed = rules.map { .rules($0) } ?? .ruleset(desired)
                nodes[node] = state
                var report = SyncReport(node: node, diff: diff, attempts: attempt, generateSeconds: generateSeconds, diffSeconds: (lowered - start).seconds,
                                        kernelSeconds: (end - lowered).seconds, applySeconds: (end - start).seconds)
                flushConntrack(after: diff, node: node, namespace: namespace, into: &report)
                return report
            } catch {
                // Whatever the kernel holds now, it is not known here: read it before the next try.
                nodes[node]?.installed = nil
                if attempt >= maximumAttempts || error is LoweringError { throw error }
                try await Task.sleep(for: .milliseconds(20 * attempt))
            }
        }
    }

    /// What the node holds: as last applied, or read from the kernel (and then known).
    private func installedRuleset(node: String, namespace: NetworkNamespace) throws -> ServiceRuleset? {
        if let installed = nodes[node]?.installed { return installed.ruleset }
        let state = try nodes[node] ?? NodeState(connection: NFTablesConnection(namespace: namespace), installed: nil)
        nodes[node] = state
        let read = try ServiceDataplane.installed(in: state.connection)
        if let read { nodes[node]?.installed = .ruleset(read) }
        return read
    }

    /// Deletes the conntrack entries of UDP clients whose endpoint the diff took away (in the
    /// node's namespace, where the DNAT happened), as kube-proxy does: without it a client keeps
    /// sending to the gone endpoint until its entry times out. TCP entries stay.
    private func flushConntrack(after diff: ServiceRulesetDiff, node: String, namespace: NetworkNamespace, into report: inout SyncReport) {
        let removed = diff.removedUDPBackends
        guard !removed.isEmpty else { return }
        do {
            let conntrack = try nodes[node]?.conntrack ?? Conntrack(namespace: namespace)
            nodes[node]?.conntrack = conntrack
            let gone = Set(removed)
            report.flushedUDPEntries = try conntrack.delete { entry in
                entry.original.proto == 17 && gone.contains(ServiceRulesetDiff.RemovedUDPBackend(
                    address: entry.original.destination, port: entry.original.destinationPort, endpoint: entry.reply.source, endpointPort: entry.reply.sourcePort))
            }.count
        } catch {
            nodes[node]?.conntrack = nil
            report.conntrackFailure = "deleting the conntrack entries of \(removed.map(\.description).joined(separator: ", ")): \(error)"
        }
    }

    /// Forgets a node (removed from the lab): its namespace, and the table in it, go with it.
    public func forget(node: String) {
        nodes[node] = nil
    }

    /// The node's Service table as the kernel holds it; nil when there is none.
    public static func installed(in namespace: NetworkNamespace) throws -> ServiceRuleset? {
        try installed(in: NFTablesConnection(namespace: namespace))
    }

    static func installed(in connection: NFTablesConnection) throws -> ServiceRuleset? {
        let listed = try connection.ruleset(family: .ip, table: ServiceRules.table)
        guard let table = listed.tables.first else { return nil }
        return ruleset(listed, table: table)
    }

    // MARK: Value to nftables

    static let table = Table(.ip, ServiceRules.table)

    /// The diff as one transaction, in the order `ServiceRulesetDiff` describes.
    static func transaction(for diff: ServiceRulesetDiff) throws -> Transaction {
        var transaction = Transaction()
        if diff.rebuildsTable { transaction.deleteIfExists(table) }
        transaction.add(table)
        for set in diff.addedSets { transaction.add(nftSet(set)) }
        for chain in diff.addedChains { transaction.add(nftChain(chain)) }
        for change in diff.deletedElements { transaction.delete(change.elements.map(nftElement), from: nftSet(change.set)) }
        for chain in diff.replacedChains + diff.deletedChains { transaction.flush(nftChain(chain)) }
        for chain in diff.addedChains + diff.replacedChains {
            let target = nftChain(chain)
            for rule in chain.rules { transaction.add(try nftRule(rule, in: target)) }
        }
        for change in diff.addedElements { transaction.add(change.elements.map(nftElement), to: nftSet(change.set)) }
        for chain in diff.deletedChains { transaction.delete(nftChain(chain)) }
        for set in diff.deletedSets { transaction.delete(nftSet(set)) }
        return transaction
    }

    static func nftField(_ field: ServiceRuleset.Field) -> Field {
        switch field {
        case .ipSaddr: .ipSaddr
        case .ipDaddr: .ipDaddr
        case .l4proto: .l4proto
        case .thDport: .thDport
        case .mark: .mark
        case .numgen(let modulus, let offset): .numgenRandom(modulus: modulus, offset: offset)
        }
    }

    static func nftValue(_ value: ServiceRuleset.Value) -> Value {
        switch value {
        case .address(let a): .ipv4(a)
        case .proto(let p): .inetProtocol(InetProtocol(rawValue: p))
        case .port(let p): .port(p)
        case .integer(let i): .integer(i)
        case .mark(let m): .mark(m)
        case .verdict(let v): .verdict(nftVerdict(v))
        case .concat(let parts): .concat(parts.map(nftValue))
        }
    }

    static func nftVerdict(_ verdict: ServiceRuleset.Verdict) -> Verdict {
        switch verdict {
        case .accept: .accept
        case .drop: .drop
        case .return: .return
        case .jump(let chain): .jump(chain)
        case .goto(let chain): .goto(chain)
        }
    }

    static func nftSet(_ set: ServiceRuleset.NamedSet) -> NFTSet {
        let data: SetType? = switch set.data {
        case nil: nil
        case .verdict?: .verdict
        case .fields(let fields)?: .typeof(fields.map(nftField))
        }
        return NFTSet(table, set.name, key: .typeof(set.key.map(nftField)), data: data, flags: set.isDynamic ? [.dynamic, .timeout] : [])
    }

    static func nftElement(_ element: ServiceRuleset.Element) -> SetElement {
        SetElement(nftValue(element.key), element.data.map(nftValue))
    }

    static func nftChain(_ chain: ServiceRuleset.Chain) -> Chain {
        guard let base = chain.base, let type = ChainType(rawValue: base.type), let hook = Hook(rawValue: base.hook) else { return Chain(table, chain.name) }
        return Chain(table, chain.name, type: type, hook: hook, priority: Int32(base.priority))
    }

    static func nftRule(_ rule: ServiceRuleset.Rule, in chain: Chain) throws -> Rule {
        let expressions: [Expression] = try rule.statements.map { statement in
            switch statement {
            case .match(let field, let value): .match(nftField(field), nftValue(value))
            case .lookup(let fields, let set): .lookup(fields.map(nftField), set: set)
            case .verdictMap(let fields, let map): .verdictMap(fields.map(nftField), .named(map))
            case .dnatMap(let fields, let map): .dnatMap(fields.map(nftField), map: map)
            case .update(let fields, let set, let timeout): .updateSet(fields.map(nftField), set: set, timeoutMilliseconds: UInt64(timeout) * 1_000)
            case .setMark(let mark): .setMark(mark)
            case .masquerade: .masquerade
            case .reject(.tcpReset): .reject(.tcpReset)
            case .reject(.icmpPortUnreachable): .reject(.icmpPortUnreachable)
            case .verdict(let verdict): .verdict(nftVerdict(verdict))
            case .unknown(let text): throw LoweringError(description: "chain \(chain.name): podlab programs no \(text)")
            }
        }
        return Rule(chain, expressions)
    }

    // MARK: nftables to value

    /// A listed table in the ruleset's terms; what it has no words for becomes `.unknown`, so it
    /// never compares equal to a desired rule.
    static func ruleset(_ listed: Ruleset, table: Table) -> ServiceRuleset {
        var result = ServiceRuleset(family: table.family.rawValue, table: table.name)
        result.sets = listed.sets(in: table).map(namedSet)
        result.chains = listed.chains(in: table).map { chain in
            ServiceRuleset.Chain(chain.name, base: chain.base.map { ServiceRuleset.BaseChain(type: $0.type.rawValue, hook: $0.hook.rawValue, priority: Int($0.priority)) },
                                 rules: listed.rules(in: chain).map(rule))
        }
        return result
    }

    static func field(_ field: Field) -> ServiceRuleset.Field? {
        switch field {
        case .ipSaddr: .ipSaddr
        case .ipDaddr: .ipDaddr
        case .l4proto: .l4proto
        case .thDport: .thDport
        case .mark: .mark
        case .numgenRandom(let modulus, let offset): .numgen(modulus: modulus, offset: offset)
        default: nil
        }
    }

    static func fields(_ fields: [Field]) -> [ServiceRuleset.Field]? {
        let lifted = fields.compactMap(field)
        return lifted.count == fields.count ? lifted : nil
    }

    static func value(_ value: Value) -> ServiceRuleset.Value? {
        switch value {
        case .ipv4(let a): return .address(a)
        case .inetProtocol(let p): return .proto(p.rawValue)
        case .port(let p): return .port(p)
        case .integer(let i): return .integer(i)
        case .mark(let m): return .mark(m)
        case .verdict(let v): return verdict(v).map { .verdict($0) }
        case .concat(let parts):
            let lifted = parts.compactMap { self.value($0) }
            return lifted.count == parts.count ? .concat(lifted) : nil
        default: return nil
        }
    }

    static func verdict(_ verdict: Verdict) -> ServiceRuleset.Verdict? {
        switch verdict {
        case .accept: .accept
        case .drop: .drop
        case .return: .return
        case .jump(let chain): .jump(chain)
        case .goto(let chain): .goto(chain)
        case .continue: nil
        }
    }

    static func namedSet(_ set: NFTSet) -> ServiceRuleset.NamedSet {
        // A set declared by plain types (not by podlab) gets no key fields: it never matches a desired declaration.
        let key = set.keyType.fields.flatMap(fields) ?? []
        var data: ServiceRuleset.NamedSet.Data?
        if let dataType = set.dataType {
            data = dataType.isVerdict ? .verdict : .fields(dataType.fields.flatMap(fields) ?? [])
        }
        let elements: [ServiceRuleset.Element] = set.elements.compactMap { element in
            guard let key = value(element.key) else { return nil }
            return ServiceRuleset.Element(key, element.data.flatMap { value($0) })
        }
        return ServiceRuleset.NamedSet(set.name, key: key, data: data, isDynamic: set.flags.contains(.dynamic), elements: elements)
    }

    static func rule(_ rule: Rule) -> ServiceRuleset.Rule {
        ServiceRuleset.Rule(rule.expressions.map { expression in
            let unknown = ServiceRuleset.Statement.unknown(expression.description)
            switch expression {
            case .match(let field, .equal, let value):
                guard let f = self.field(field), let v = self.value(value) else { return unknown }
                return .match(f, v)
            case .lookup(let fields, let set, false):
                return self.fields(fields).map { .lookup($0, set: set) } ?? unknown
            case .verdictMap(let fields, .named(let map)):
                return self.fields(fields).map { .verdictMap($0, map: map) } ?? unknown
            case .dnatMap(let fields, let map):
                return self.fields(fields).map { .dnatMap($0, map: map) } ?? unknown
            case .updateSet(let fields, let set, let timeout?) where timeout % 1_000 == 0 && timeout / 1_000 <= UInt64(UInt32.max):
                return self.fields(fields).map { .update($0, set: set, timeoutSeconds: UInt32(timeout / 1_000)) } ?? unknown
            case .setMark(let mark):
                return .setMark(mark)
            case .masquerade(fullyRandom: false):
                return .masquerade
            case .reject(.tcpReset):
                return .reject(.tcpReset)
            case .reject(.icmpPortUnreachable):
                return .reject(.icmpPortUnreachable)
            case .verdict(let verdict):
                return self.verdict(verdict).map { .verdict($0) } ?? unknown
            default:
                return unknown
            }
        })
    }
}

private extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
