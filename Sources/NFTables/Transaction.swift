import Netns

/// A list of changes applied as one nftables batch: the kernel commits all of them or, when
/// any fails, none. Build it with the mutating methods, then hand it to
/// `NFTablesConnection.apply(_:)`.
///
/// nft's idioms for idempotent setup work here too: `add` of an existing table or chain is not
/// an error, so "add, then delete" removes a table whether or not it existed
/// (`deleteIfExists`), and "add, then flush" yields an empty chain either way (`ensureEmpty`).
public struct Transaction: Sendable, CustomStringConvertible {
    /// One change.
    public enum Operation: Hashable, Sendable, CustomStringConvertible {
        case addTable(Table)
        case deleteTable(Table)
        /// Deletes every rule of every chain in the table.
        case flushTable(Table)
        case addChain(Chain)
        case deleteChain(Chain)
        /// Deletes every rule of the chain.
        case flushChain(Chain)
        /// Appends the rule to its chain.
        case addRule(Rule)
        /// Deletes the rule with this handle.
        case deleteRule(table: Table, chain: String, handle: UInt64)
        case addSet(NFTSet)
        case deleteSet(NFTSet)
        /// Deletes every element of the set.
        case flushSet(NFTSet)
        case addElements(NFTSet, [SetElement])
        case deleteElements(NFTSet, [SetElement])

        /// The operation as an nft command line.
        public var description: String {
            switch self {
            case .addTable(let t): "add \(t)"
            case .deleteTable(let t): "delete \(t)"
            case .flushTable(let t): "flush \(t)"
            case .addChain(let c):
                "add chain \(c.table.family) \(c.table.name) \(c.name)" + (c.base.map { " { \($0) }" } ?? "")
            case .deleteChain(let c): "delete chain \(c.table.family) \(c.table.name) \(c.name)"
            case .flushChain(let c): "flush chain \(c.table.family) \(c.table.name) \(c.name)"
            case .addRule(let r): "add rule \(r.table.family) \(r.table.name) \(r.chain) \(r)"
            case .deleteRule(let t, let chain, let handle): "delete rule \(t.family) \(t.name) \(chain) handle \(handle)"
            case .addSet(let s): "add " + s.description
            case .deleteSet(let s): "delete \(s.isMap ? "map" : "set") \(s.table.family) \(s.table.name) \(s.name)"
            case .flushSet(let s): "flush \(s.isMap ? "map" : "set") \(s.table.family) \(s.table.name) \(s.name)"
            case .addElements(let s, let elements):
                "add element \(s.table.family) \(s.table.name) \(s.name) { " + elements.map(\.description).joined(separator: ", ") + " }"
            case .deleteElements(let s, let elements):
                "delete element \(s.table.family) \(s.table.name) \(s.name) { " + elements.map { SetElement($0.key).description }.joined(separator: ", ") + " }"
            }
        }
    }

    public private(set) var operations: [Operation] = []

    public init() {}

    /// The transaction as an nft script (one command per line), readable by `nft -f`.
    public var description: String { operations.map(\.description).joined(separator: "\n") }

    public var isEmpty: Bool { operations.isEmpty }

    // MARK: Tables

    /// Creates the table (no error if it exists).
    public mutating func add(_ table: Table) { operations.append(.addTable(table)) }
    /// Deletes the table with everything in it (ENOENT if it does not exist).
    public mutating func delete(_ table: Table) { operations.append(.deleteTable(table)) }
    /// Deletes all rules of all chains of the table.
    public mutating func flush(_ table: Table) { operations.append(.flushTable(table)) }
    /// Deletes the table whether or not it exists ("add, then delete").
    public mutating func deleteIfExists(_ table: Table) {
        add(table)
        delete(table)
    }

    // MARK: Chains

    /// Creates the chain (no error if an identical one exists).
    public mutating func add(_ chain: Chain) { operations.append(.addChain(chain)) }
    /// Deletes the chain (it must be empty and unreferenced).
    public mutating func delete(_ chain: Chain) { operations.append(.deleteChain(chain)) }
    /// Deletes all rules of the chain.
    public mutating func flush(_ chain: Chain) { operations.append(.flushChain(chain)) }
    /// Creates the chain if needed and removes its rules ("add, then flush").
    public mutating func ensureEmpty(_ chain: Chain) {
        add(chain)
        flush(chain)
    }

    // MARK: Rules

    /// Appends the rule to its chain.
    public mutating func add(_ rule: Rule) { operations.append(.addRule(rule)) }
    /// Appends rules to their chains, in order.
    public mutating func add(_ rules: [Rule]) { for rule in rules { add(rule) } }
    /// Deletes one rule by its handle (from a listing).
    public mutating func deleteRule(in chain: Chain, handle: UInt64) {
        operations.append(.deleteRule(table: chain.table, chain: chain.name, handle: handle))
    }

    // MARK: Sets and maps

    /// Creates the set or map (no error if an identical one exists). Elements in `set.elements`
    /// are added too.
    public mutating func add(_ set: NFTSet) {
        var declaration = set
        declaration.elements = []
        operations.append(.addSet(declaration))
        if !set.elements.isEmpty { operations.append(.addElements(declaration, set.elements)) }
    }
    /// Deletes the set (it must not be referenced by a rule).
    public mutating func delete(_ set: NFTSet) { operations.append(.deleteSet(set)) }
    /// Deletes all elements of the set.
    public mutating func flush(_ set: NFTSet) { operations.append(.flushSet(set)) }
    /// Adds elements to a set or map. `set` supplies the key and value types.
    public mutating func add(_ elements: [SetElement], to set: NFTSet) {
        guard !elements.isEmpty else { return }
        operations.append(.addElements(set, elements))
    }
    /// Deletes elements (by key) from a set or map.
    public mutating func delete(_ elements: [SetElement], from set: NFTSet) {
        guard !elements.isEmpty else { return }
        operations.append(.deleteElements(set, elements))
    }

    // MARK: Validation

    /// Checks every object and cross-checks rules against sets declared in this transaction
    /// (key types of lookups, value types of maps). Throws before anything is sent.
    public func validate() throws(ValidationError) {
        var declared: [String: NFTSet] = [:]
        func key(_ table: Table, _ name: String) -> String { "\(table.family) \(table.name) \(name)" }
        for operation in operations {
            switch operation {
            case .addTable(let t), .deleteTable(let t), .flushTable(let t):
                try t.validate()
            case .addChain(let c), .deleteChain(let c), .flushChain(let c):
                try c.validate()
            case .addRule(let rule):
                try rule.validate()
                for expression in rule.expressions {
                    guard let name = expression.setReference, let set = declared[key(rule.table, name)] else { continue }
                    try check(expression, against: set, rule: rule)
                }
            case .deleteRule(let t, let chain, _):
                try t.validate()
                try validateName(chain, field: "chain name")
            case .addSet(let s):
                try s.validate()
                declared[key(s.table, s.name)] = s
            case .deleteSet(let s), .flushSet(let s):
                try s.table.validate()
                try validateName(s.name, field: "set name")
            case .addElements(let s, let elements), .deleteElements(let s, let elements):
                try s.validate()
                if case .deleteElements = operation {
                    for element in elements {
                        try element.key.check(against: s.keyType, field: "key of \(s.name)", allowIntervals: s.flags.contains(.interval))
                    }
                } else {
                    for element in elements { try s.validate(element) }
                }
            }
        }
    }

    private func check(_ expression: Expression, against set: NFTSet, rule: Rule) throws(ValidationError) {
        let label = "rule in chain \(rule.chain)"
        func keyMatches(_ fields: [Field]) throws(ValidationError) {
            let types = fields.map(\.dataType)
            guard types == set.keyType.components else {
                throw ValidationError(field: label, value: expression.description,
                                      reason: "the key \(types.map(\.rawValue).joined(separator: " . ")) does not match \(set.name)'s key type \(set.keyType.components.map(\.rawValue).joined(separator: " . "))")
            }
        }
        switch expression {
        case .lookup(let fields, _, _):
            try keyMatches(fields)
        case .updateSet(let fields, _, _):
            try keyMatches(fields)
            guard set.flags.contains(.dynamic), !set.isMap else {
                throw ValidationError(field: label, value: expression.description, reason: "\(set.name) must be a set with flags dynamic for rules to update it")
            }
        case .verdictMap(let fields, _):
            try keyMatches(fields)
            guard set.isVerdictMap else { throw ValidationError(field: label, value: expression.description, reason: "\(set.name) is not a verdict map") }
        case .setMarkFromMap(let fields, _):
            try keyMatches(fields)
            guard set.dataType?.components == [.mark] else { throw ValidationError(field: label, value: expression.description, reason: "\(set.name) does not map to mark") }
        case .dnatMap(let fields, _):
            try keyMatches(fields)
            guard set.dataType?.components == [.ipv4Address, .inetService] else {
                throw ValidationError(field: label, value: expression.description, reason: "\(set.name) must map to ipv4_addr . inet_service for dnat")
            }
        default:
            break
        }
    }
}
