/// The changes that turn an installed Service ruleset into the desired one: only the elements,
/// chains and sets that differ. The agent sends them as one transaction, in the order
/// `ServiceRulesetDiff` lists them in `description` (declarations before what refers to them,
/// references removed before what they name).
///
/// Elements of dynamic sets (`affinity`, filled by the kernel) are never compared. A table
/// whose base chains or set declarations differ from the desired ones is rebuilt whole: that
/// only happens when the layout itself changes.
public struct ServiceRulesetDiff: Hashable, Sendable, CustomStringConvertible {
    /// One set's elements to add or delete.
    public struct ElementChange: Hashable, Sendable {
        public var set: ServiceRuleset.NamedSet
        public var elements: [ServiceRuleset.Element]
    }

    public var family: String
    public var table: String
    /// The table is missing: create it (and everything in it).
    public var createsTable = false
    /// The table exists but cannot be changed into the desired one piece by piece: delete it first.
    public var rebuildsTable = false
    public var addedSets: [ServiceRuleset.NamedSet] = []
    public var deletedSets: [ServiceRuleset.NamedSet] = []
    /// New chains, with their rules.
    public var addedChains: [ServiceRuleset.Chain] = []
    /// Existing chains whose rules change: flushed and filled again.
    public var replacedChains: [ServiceRuleset.Chain] = []
    public var deletedChains: [ServiceRuleset.Chain] = []
    public var addedElements: [ElementChange] = []
    public var deletedElements: [ElementChange] = []

    public init(family: String, table: String) {
        self.family = family
        self.table = table
    }

    /// Nothing to send.
    public var isEmpty: Bool {
        !createsTable && !rebuildsTable && addedSets.isEmpty && deletedSets.isEmpty && addedChains.isEmpty && replacedChains.isEmpty
            && deletedChains.isEmpty && addedElements.isEmpty && deletedElements.isEmpty
    }

    public var addedElementCount: Int { addedElements.reduce(0) { $0 + $1.elements.count } }
    public var deletedElementCount: Int { deletedElements.reduce(0) { $0 + $1.elements.count } }

    /// The changes from `installed` (nil: no table) to `desired`.
    public static func between(installed: ServiceRuleset?, desired: ServiceRuleset) -> ServiceRulesetDiff {
        var diff = ServiceRulesetDiff(family: desired.family, table: desired.table)
        guard var installed, installed.family == desired.family, installed.table == desired.table, compatible(installed, desired) else {
            if installed == nil { diff.createsTable = true } else { diff.rebuildsTable = true }
            diff.addedSets = desired.sets.map(\.declaration)
            diff.addedChains = desired.chains
            diff.addedElements = desired.sets.filter { !$0.isDynamic && !$0.elements.isEmpty }.map { ElementChange(set: $0.declaration, elements: $0.elements) }
            return diff
        }
        // Sets.
        for set in desired.sets where installed.set(set.name) == nil {
            diff.addedSets.append(set.declaration)
            installed.sets.append(set.declaration)
        }
        diff.deletedSets = installed.sets.filter { desired.set($0.name) == nil }.map(\.declaration)
        for set in desired.sets where !set.isDynamic {
            let (added, deleted) = elementChanges(have: installed.set(set.name)?.elements ?? [], want: set.elements)
            if !added.isEmpty { diff.addedElements.append(ElementChange(set: set.declaration, elements: added)) }
            if !deleted.isEmpty { diff.deletedElements.append(ElementChange(set: set.declaration, elements: deleted)) }
        }
        // Chains.
        for chain in desired.chains {
            if let have = installed.chain(chain.name) {
                if have.rules != chain.rules { diff.replacedChains.append(chain) }
            } else {
                diff.addedChains.append(chain)
            }
        }
        diff.deletedChains = installed.chains.filter { desired.chain($0.name) == nil }.map(\.declaration)
        return diff
    }

    /// What to add and delete to turn `have` into `want`: both walked in key order. A changed
    /// value is a delete and an add: the kernel refuses to overwrite an element.
    static func elementChanges(have: [ServiceRuleset.Element], want: [ServiceRuleset.Element])
        -> (added: [ServiceRuleset.Element], deleted: [ServiceRuleset.Element]) {
        let have = inKeyOrder(have), want = inKeyOrder(want)
        var added: [ServiceRuleset.Element] = [], deleted: [ServiceRuleset.Element] = []
        var i = 0, j = 0
        while i < have.count || j < want.count {
            if j == want.count || (i < have.count && have[i].key < want[j].key) {
                deleted.append(have[i].element)
                i += 1
            } else if i == have.count || want[j].key < have[i].key {
                added.append(want[j].element)
                j += 1
            } else {
                if have[i].element != want[j].element {
                    deleted.append(have[i].element)
                    added.append(want[j].element)
                }
                i += 1
                j += 1
            }
        }
        return (added, deleted)
    }

    /// The elements with their keys' numbers, sorted by them (generated sets already are;
    /// listed ones come in the kernel's hash order).
    private static func inKeyOrder(_ elements: [ServiceRuleset.Element]) -> [(key: ElementKey, element: ServiceRuleset.Element)] {
        var keyed = elements.map { (key: $0.key.sortKey, element: $0) }
        let sorted = zip(keyed, keyed.dropFirst()).allSatisfy { !($1.key < $0.key) }
        if !sorted { keyed.sort { $0.key < $1.key } }
        return keyed
    }

    /// Base chains and the declarations of sets present in both agree: everything else can change in place.
    private static func compatible(_ installed: ServiceRuleset, _ desired: ServiceRuleset) -> Bool {
        for chain in installed.chains {
            let wanted = desired.chain(chain.name)
            if chain.base != nil || wanted?.base != nil, wanted.map({ $0.base != chain.base }) ?? true { return false }
        }
        for chain in desired.chains where chain.base != nil && installed.chain(chain.name) == nil { return false }
        for set in installed.sets {
            if let wanted = desired.set(set.name), wanted.declaration != set.declaration { return false }
        }
        return true
    }

    /// The changes as an nft script, in the order they are sent.
    public var description: String {
        let prefix = "\(family) \(table)"
        var lines: [String] = []
        if rebuildsTable { lines.append("delete table \(prefix)") }
        if createsTable || rebuildsTable { lines.append("add table \(prefix)") }
        for set in addedSets { lines.append("add \(set.isMap ? "map" : "set") \(prefix) \(set.name) { typeof \(ServiceRuleset.Field.key(set.key))\(set.data.map { " : \($0)" } ?? ""); }") }
        for chain in addedChains { lines.append("add chain \(prefix) \(chain.name)" + (chain.base.map { " { \($0) }" } ?? "")) }
        for change in deletedElements {
            lines.append("delete element \(prefix) \(change.set.name) { " + change.elements.map { "\($0.key)" }.joined(separator: ", ") + " }")
        }
        for chain in replacedChains + deletedChains { lines.append("flush chain \(prefix) \(chain.name)") }
        for chain in addedChains + replacedChains {
            for rule in chain.rules { lines.append("add rule \(prefix) \(chain.name) \(rule)") }
        }
        for change in addedElements {
            lines.append("add element \(prefix) \(change.set.name) { " + change.elements.map(\.description).joined(separator: ", ") + " }")
        }
        for chain in deletedChains { lines.append("delete chain \(prefix) \(chain.name)") }
        for set in deletedSets { lines.append("delete \(set.isMap ? "map" : "set") \(prefix) \(set.name)") }
        return lines.joined(separator: "\n")
    }
}

extension ServiceRulesetDiff {
    /// A UDP endpoint that stops serving a virtual address and port.
    public struct RemovedUDPBackend: Hashable, Sendable, CustomStringConvertible {
        /// The ClusterIP (or the node's address, for a NodePort) and port clients send to.
        public var address: IPv4Address
        public var port: UInt16
        public var endpoint: IPv4Address
        public var endpointPort: UInt16

        public init(address: IPv4Address, port: UInt16, endpoint: IPv4Address, endpointPort: UInt16) {
            self.address = address
            self.port = port
            self.endpoint = endpoint
            self.endpointPort = endpointPort
        }

        /// `10.96.0.10:53/udp → 10.244.1.2:53`
        public var description: String { "\(address):\(port)/udp → \(endpoint):\(endpointPort)" }
    }

    /// The UDP endpoints this diff takes away from a virtual address and port: in a deleted
    /// `backends` element and in no added one for the same address and port (an endpoint that
    /// only moves to another index stays). Their clients' conntrack entries must go, or they keep
    /// sending to the gone endpoint until the entry times out.
    public var removedUDPBackends: [RemovedUDPBackend] {
        func backends(_ changes: [ElementChange]) -> Set<RemovedUDPBackend> {
            var result = Set<RemovedUDPBackend>()
            for change in changes where change.set.name == ServiceRules.backends {
                for element in change.elements {
                    let key = element.key.parts, data = element.data?.parts ?? []
                    guard key.count == 4, data.count == 2, case .address(let address) = key[0], case .proto(17) = key[1], case .port(let port) = key[2],
                          case .address(let endpoint) = data[0], case .port(let endpointPort) = data[1] else { continue }
                    result.insert(RemovedUDPBackend(address: address, port: port, endpoint: endpoint, endpointPort: endpointPort))
                }
            }
            return result
        }
        return backends(deletedElements).subtracting(backends(addedElements))
            .sorted { ($0.address.value, $0.port, $0.endpoint.value, $0.endpointPort) < ($1.address.value, $1.port, $1.endpoint.value, $1.endpointPort) }
    }
}
