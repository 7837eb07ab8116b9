import NFTables
import Netns
import PodNet

/// Programs each node's NetworkPolicy ruleset (`PolicyRules`, computed in PodNet) into the
/// node's `table ip podlab-policy`, one nftables transaction per sync.
///
/// The first sync of a node reads what the kernel holds, so an agent restarted over a table
/// that matches sends only what changed meanwhile. Later syncs diff against the ruleset last
/// applied: when only elements differ (a label, a pod, a policy changed), only those elements
/// are sent; when the chains or set declarations differ (a new layout, or a table someone
/// changed), the table is rebuilt, still in the one transaction. The kernel applies a
/// transaction whole or not at all, so a failure leaves the previous rules in force — never a
/// moment without them — and makes the installed state unknown until the next read.
///
/// Each node keeps one netfilter socket for as long as the node is known. Closing a netfilter
/// socket right after a commit waits for that commit's release work — an RCU grace period
/// (`NETLINK_URELEASE` → `nft_rcv_nl_event` flushes the transaction-destroy work) — 7–13 ms on
/// these machines, while the commit of a few hash-set elements itself takes ~0.05 ms; opening a
/// socket also needs the namespace worker, which waits for a time slice on a busy machine. A
/// socket per transaction made a label change cost ~15 ms; a kept one, well under 1 ms.
public actor PolicyDataplane {
    public struct SyncReport: Sendable, CustomStringConvertible {
        public var node: String
        public var rebuilt: Bool
        public var addedElements: Int
        public var deletedElements: Int

        public init(node: String, rebuilt: Bool, addedElements: Int, deletedElements: Int) {
            self.node = node
            self.rebuilt = rebuilt
            self.addedElements = addedElements
            self.deletedElements = deletedElements
        }

        public var isEmpty: Bool { !rebuilt && addedElements == 0 && deletedElements == 0 }

        public var description: String {
            if isEmpty { return "node \(node): policy rules already in place" }
            return "node \(node): policy rules \(rebuilt ? "rebuilt" : "updated"): +\(addedElements) −\(deletedElements) elements"
        }
    }

    public struct LoweringError: Error, CustomStringConvertible {
        public var description: String
    }

    /// What a node holds: the chains and set declarations, and each set's elements kept as a
    /// set, so a delta updates it in proportion to its size.
    private struct Installed {
        var chains: [PolicyRuleset.Chain]
        var declarations: [PolicyRuleset.NamedSet]
        var elements: [String: Set<PolicyRuleset.Element>]

        init(_ ruleset: PolicyRuleset) {
            chains = ruleset.chains
            declarations = ruleset.sets.map(\.declaration)
            elements = Dictionary(ruleset.sets.map { ($0.name, Set($0.elements)) }) { a, _ in a }
        }

        /// The delta's elements taken out and put in, in place; nil (part of it taken) when an
        /// element to take out is not there or one to put in already is.
        mutating func take(_ delta: PolicyRuleset.Delta) -> (added: Int, deleted: Int)? {
            var added = 0, deleted = 0
            for (name, removed) in delta.removed {
                for element in removed { guard elements[name, default: []].remove(element) != nil else { return nil } }
                deleted += removed.count
            }
            for (name, new) in delta.added {
                for element in new { guard elements[name, default: []].insert(element).inserted else { return nil } }
                added += new.count
            }
            return (added, deleted)
        }
    }

    private struct NodeState {
        /// The node's netfilter socket, kept (see the type's documentation).
        var connection: NFTablesConnection
        /// The ruleset the node holds, as last applied; nil when unknown.
        var installed: Installed?
    }

    private var nodes: [String: NodeState] = [:]

    public init() {}

    /// Forgets a node (removed from the lab): its socket is closed, so its namespace can go.
    public func forget(node: String) { nodes[node] = nil }

    /// The node's state, with a socket opened in `namespace` the first time.
    private func state(node: String, namespace: NetworkNamespace) throws -> NodeState {
        if let state = nodes[node] { return state }
        let state = NodeState(connection: try NFTablesConnection(namespace: namespace), installed: nil)
        nodes[node] = state
        return state
    }

    /// Sends a delta computed against what the node was last given (`PolicyIndex.takeDelta`);
    /// nil, sending nothing, when what the node holds is unknown or the delta does not fit it
    /// (the caller then sends the whole ruleset).
    public func apply(node: String, namespace: NetworkNamespace, delta: PolicyRuleset.Delta) throws -> SyncReport? {
        guard let declarations = nodes[node]?.installed?.declarations else { return nil }
        let names = Set(declarations.map(\.name))
        guard Set(delta.removed.keys).union(delta.added.keys).isSubset(of: names) else { return nil }
        // The known elements change in place: a copy of a map of 12 000 elements was most of a
        // small delta's time. A delta that does not fit leaves the node unknown, so the next
        // sync reads what its kernel holds.
        guard let counts = nodes[node]!.installed!.take(delta) else {
            nodes[node]!.installed = nil
            return nil
        }
        let report = SyncReport(node: node, rebuilt: false, addedElements: counts.added, deletedElements: counts.deleted)
        let transaction = Self.transaction(for: delta, declarations: declarations)
        guard !transaction.isEmpty else { return report }
        do {
            try nodes[node]!.connection.apply(transaction)
        } catch {
            nodes[node]?.installed = nil
            throw error
        }
        return report
    }

    /// The delta as one transaction of element deletes and adds, set by set (a key whose data
    /// changed is deleted and added again): hash sets and maps only, no chain or rule touched.
    public static func transaction(for delta: PolicyRuleset.Delta, declarations: [PolicyRuleset.NamedSet]) -> Transaction {
        var transaction = Transaction()
        for declaration in declarations {
            let set = nftSet(declaration)
            transaction.delete((delta.removed[declaration.name] ?? []).map(nftElement), from: set)
            transaction.add((delta.added[declaration.name] ?? []).map(nftElement), to: set)
        }
        return transaction
    }

    public func sync(node: String, namespace: NetworkNamespace, desired: PolicyRuleset) throws -> SyncReport {
        var state = try state(node: node, namespace: namespace)
        let connection = state.connection
        let current: Installed?
        if let known = state.installed {
            current = known
        } else {
            current = try Self.installed(in: connection).map(Installed.init)
        }
        let wanted = desired.kernelView
        var report = SyncReport(node: node, rebuilt: false, addedElements: 0, deletedElements: 0)
        var transaction = Transaction()
        if let current, current.chains == wanted.chains, current.declarations == wanted.sets.map(\.declaration) {
            for new in wanted.sets {
                let oldElements = current.elements[new.name] ?? [], newElements = Set(new.elements)
                let removed = oldElements.subtracting(newElements), added = newElements.subtracting(oldElements)
                let set = Self.nftSet(new.declaration)
                // A key whose data changed is deleted and added again in the same transaction.
                transaction.delete(removed.sorted { $0.description < $1.description }.map(Self.nftElement), from: set)
                transaction.add(added.sorted { $0.description < $1.description }.map(Self.nftElement), to: set)
                report.addedElements += added.count
                report.deletedElements += removed.count
            }
        } else {
            report.rebuilt = true
            report.addedElements = wanted.elementCount
            transaction.deleteIfExists(Self.table)
            transaction.add(Self.table)
            for set in wanted.sets { transaction.add(Self.nftSet(set)) }
            for chain in wanted.chains { transaction.add(Self.nftChain(chain)) }
            for chain in wanted.chains {
                let target = Self.nftChain(chain)
                for rule in chain.rules { transaction.add(try Self.nftRule(rule, in: target)) }
            }
        }
        if !transaction.isEmpty {
            do {
                try connection.apply(transaction)
            } catch {
                nodes[node]?.installed = nil
                throw error
            }
        }
        state.installed = Installed(wanted)
        nodes[node] = state
        return report
    }

    /// The node's policy table as the kernel holds it; nil when there is none.
    public static func installed(in namespace: NetworkNamespace) throws -> PolicyRuleset? {
        try installed(in: NFTablesConnection(namespace: namespace))
    }

    static func installed(in connection: NFTablesConnection) throws -> PolicyRuleset? {
        let listed = try connection.ruleset(family: .ip, table: PolicyRules.table)
        guard let table = listed.tables.first else { return nil }
        return ruleset(listed, table: table)
    }

    // MARK: Value to nftables

    static let table = Table(.ip, PolicyRules.table)

    static func nftField(_ field: PolicyRuleset.Field) -> Field {
        switch field {
        case .ipSaddr: .ipSaddr
        case .ipDaddr: .ipDaddr
        case .l4proto: .l4proto
        case .thDport: .thDport
        case .mark: .mark
        }
    }

    static func nftVerdict(_ verdict: PolicyRuleset.Verdict) -> Verdict {
        switch verdict {
        case .accept: .accept
        case .drop: .drop
        case .return: .return
        case .jump(let chain): .jump(chain)
        case .goto(let chain): .goto(chain)
        }
    }

    static func nftValue(_ value: PolicyRuleset.Value) -> Value {
        switch value {
        case .address(let a): .ipv4(a)
        case .proto(let p): .inetProtocol(InetProtocol(rawValue: p))
        case .port(let p): .port(p)
        case .mark(let m): .mark(m)
        case .verdict(let v): .verdict(nftVerdict(v))
        case .concat(let parts): .concat(parts.map(nftValue))
        }
    }

    static func nftSet(_ set: PolicyRuleset.NamedSet) -> NFTSet {
        let data: SetType? = switch set.data {
        case nil: nil
        case .verdict?: .verdict
        case .mark?: .typeof(.mark)
        }
        return NFTSet(table, set.name, key: .typeof(set.key.map(nftField)), data: data, elements: set.elements.map(nftElement))
    }

    static func nftElement(_ element: PolicyRuleset.Element) -> SetElement {
        SetElement(nftValue(element.key), element.data.map(nftValue))
    }

    static func nftChain(_ chain: PolicyRuleset.Chain) -> Chain {
        guard let base = chain.base, let hook = Hook(rawValue: base.hook) else { return Chain(table, chain.name) }
        return Chain(table, chain.name, type: .filter, hook: hook, priority: Int32(base.priority))
    }

    static func nftRule(_ rule: PolicyRuleset.Rule, in chain: Chain) throws -> Rule {
        let expressions: [Expression] = try rule.statements.map { statement in
            switch statement {
            case .ctEstablishedOrRelated: .match(.ctState, .ctState([.established, .related]))
            case .match(let field, let value): .match(nftField(field), nftValue(value))
            case .lookup(let fields, let set): .lookup(fields.map(nftField), set: set)
            case .verdictMap(let fields, let map): .verdictMap(fields.map(nftField), .named(map))
            case .setMark(let mark): .setMark(mark)
            case .setMarkFromMap(let fields, let map): .setMarkFromMap(fields.map(nftField), map: map)
            case .counter: .counter
            case .limit(let perSecond, let burst): .limit(perSecond: perSecond, burst: burst)
            case .log(let group, let prefix): .log(group: group, prefix: prefix)
            case .verdict(let verdict): .verdict(nftVerdict(verdict))
            case .unknown(let text): throw LoweringError(description: "chain \(chain.name): podlab programs no \(text)")
            }
        }
        return Rule(chain, expressions)
    }

    // MARK: nftables to value

    /// A listed table in the ruleset's terms; what it has no words for becomes `.unknown`, so it
    /// never compares equal to a desired rule (and the table is rebuilt).
    static func ruleset(_ listed: Ruleset, table: Table) -> PolicyRuleset {
        var result = PolicyRuleset()
        result.sets = listed.sets(in: table).map(namedSet)
        result.chains = listed.chains(in: table).map { chain in
            PolicyRuleset.Chain(chain.name, base: chain.base.flatMap { $0.type == .filter ? PolicyRuleset.BaseChain(hook: $0.hook.rawValue, priority: Int($0.priority)) : nil },
                                rules: listed.rules(in: chain).map(rule))
        }
        return result
    }

    static func field(_ field: Field) -> PolicyRuleset.Field? {
        switch field {
        case .ipSaddr: .ipSaddr
        case .ipDaddr: .ipDaddr
        case .l4proto: .l4proto
        case .thDport: .thDport
        case .mark: .mark
        default: nil
        }
    }

    static func fields(_ fields: [Field]) -> [PolicyRuleset.Field]? {
        let lifted = fields.compactMap(field)
        return lifted.count == fields.count ? lifted : nil
    }

    static func verdict(_ verdict: Verdict) -> PolicyRuleset.Verdict? {
        switch verdict {
        case .accept: .accept
        case .drop: .drop
        case .return: .return
        case .jump(let chain): .jump(chain)
        case .goto(let chain): .goto(chain)
        case .continue: nil
        }
    }

    static func value(_ value: Value) -> PolicyRuleset.Value? {
        switch value {
        case .ipv4(let a): return .address(a)
        case .inetProtocol(let p): return .proto(p.rawValue)
        case .port(let p): return .port(p)
        case .mark(let m): return .mark(m)
        case .verdict(let v): return verdict(v).map { .verdict($0) }
        case .concat(let parts):
            let lifted = parts.compactMap { self.value($0) }
            return lifted.count == parts.count ? .concat(lifted) : nil
        default: return nil
        }
    }

    static func namedSet(_ set: NFTSet) -> PolicyRuleset.NamedSet {
        let key = set.keyType.fields.flatMap(fields) ?? []
        let data: PolicyRuleset.NamedSet.Data? = set.dataType.map { $0.isVerdict ? .verdict : .mark }
        let elements: [PolicyRuleset.Element] = set.elements.compactMap { element in
            guard let key = value(element.key) else { return nil }
            return PolicyRuleset.Element(key, element.data.flatMap { value($0) })
        }
        return PolicyRuleset.NamedSet(set.name, key: key, data: data, elements: elements)
    }

    static func rule(_ rule: Rule) -> PolicyRuleset.Rule {
        PolicyRuleset.Rule(rule.expressions.map { expression in
            let unknown = PolicyRuleset.Statement.unknown(expression.description)
            switch expression {
            case .match(.ctState, .equal, .ctState(let state)) where state == [.established, .related]:
                return .ctEstablishedOrRelated
            case .match(let field, .equal, let value):
                guard let f = self.field(field), let v = self.value(value) else { return unknown }
                return .match(f, v)
            case .lookup(let fields, let set, false):
                return self.fields(fields).map { .lookup($0, set: set) } ?? unknown
            case .verdictMap(let fields, .named(let map)):
                return self.fields(fields).map { .verdictMap($0, map: map) } ?? unknown
            case .setMark(let mark):
                return .setMark(mark)
            case .setMarkFromMap(let fields, let map):
                return self.fields(fields).map { .setMarkFromMap($0, map: map) } ?? unknown
            case .counter:
                return .counter
            case .limit(let perSecond, let burst):
                return .limit(perSecond: perSecond, burst: burst)
            case .log(let group, let prefix):
                return .log(group: group, prefix: prefix)
            case .verdict(let verdict):
                return self.verdict(verdict).map { .verdict($0) } ?? unknown
            default:
                return unknown
            }
        })
    }
}
