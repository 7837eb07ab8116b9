/// A packet traced through a node's Service ruleset: which chains and rules it passes, which
/// map elements it hits, which endpoints it may be sent to, and what happens to it — computed
/// from the ruleset value alone, without a kernel (`podlab trace SRC DST:PORT`).
///
/// The walk follows every branch a packet could take: `numgen random` matches both ways, a DNAT
/// through a map keyed by `numgen random mod N` reaches each of the N elements. A dynamic set
/// (`affinity`) is taken as empty: the trace shows a new client's first connection. A rule shape
/// the tracer does not know fails the trace rather than being guessed at.
public struct ServiceTrace: Hashable, Sendable, CustomStringConvertible {
    public struct Packet: Hashable, Sendable, CustomStringConvertible {
        public var source: IPv4Address
        public var destination: IPv4Address
        public var port: UInt16
        public var `protocol`: ServiceProtocol

        public init(source: IPv4Address, destination: IPv4Address, port: UInt16, protocol proto: ServiceProtocol = .tcp) {
            self.source = source
            self.destination = destination
            self.port = port
            self.protocol = proto
        }

        public var description: String { "\(source) → \(destination):\(port)/\(self.protocol)" }
    }

    /// Where the packet meets the node: arriving from a pod or the network, or sent by the node itself.
    public enum Entry: String, Hashable, Sendable {
        case prerouting, output
    }

    /// One rule the packet reached, and what it found there.
    public struct Step: Hashable, Sendable, CustomStringConvertible {
        public var chain: String
        public var rule: String
        /// The map element hit, the branch taken, or why the rule did not apply.
        public var notes: [String]

        public var description: String {
            ([ "\(chain): \(rule)" ] + notes.map { "    \($0)" }).joined(separator: "\n")
        }
    }

    /// An endpoint a packet is sent to, and whether its source address is masqueraded on the way.
    public struct Target: Hashable, Sendable, CustomStringConvertible {
        public var address: IPv4Address
        public var port: UInt16
        public var masqueraded: Bool

        public var description: String { "\(address):\(port)" + (masqueraded ? " (source masqueraded)" : "") }
    }

    public enum Verdict: Hashable, Sendable, CustomStringConvertible {
        /// DNAT to one of the targets (chosen at random, or by affinity).
        case dnat([Target])
        case reject(ServiceRuleset.Reject)
        case drop
        /// No Service rule applies: the packet goes on unchanged.
        case unchanged

        public var description: String {
            switch self {
            case .dnat(let targets) where targets.count == 1: "DNAT to \(targets[0])"
            case .dnat(let targets): "DNAT to one of " + targets.map(\.description).joined(separator: ", ")
            case .reject(.tcpReset): "reject: TCP reset (connection refused)"
            case .reject(.icmpPortUnreachable): "reject: ICMP port unreachable (connection refused)"
            case .drop: "drop"
            case .unchanged: "no Service rule applies: the packet goes on unchanged"
            }
        }
    }

    public var packet: Packet
    public var node: String
    public var entry: Entry
    /// `default/web port http 80/tcp`, when the destination is a Service's (and the table was given).
    public var service: String?
    public var steps: [Step]
    public var verdict: Verdict

    public var description: String {
        var lines = ["trace \(packet) on node \(node) (\(entry))"]
        if let service { lines.append("service \(service)") }
        lines += steps.map { "  " + $0.description.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n  ") }
        lines.append("verdict: \(verdict)")
        return lines.joined(separator: "\n")
    }

    /// Traces `packet` through `ruleset` on `node`. `table` names the Service it is addressed to.
    public static func trace(_ packet: Packet, through ruleset: ServiceRuleset, node: ServiceNode, table: ServiceTable? = nil,
                             entry: Entry = .prerouting) throws(ServiceTraceError) -> ServiceTrace {
        let walker = Walker(ruleset: ruleset)
        let base = entry == .prerouting ? ServiceRules.preroutingChain : ServiceRules.outputChain
        let start = Walker.State(packet: packet, mark: 0, steps: [])
        let results = try walker.run(chain: base, start, depth: 0)
        var steps: [Step] = []
        var targets: [Target] = []
        var rejects: [ServiceRuleset.Reject] = []
        var drops = false
        for result in results {
            merge(result.state.steps, into: &steps)
            switch result.terminal {
            case .dnat(let address, let port)?:
                // Source NAT happens in postrouting, for the packet as DNAT left it.
                var after = result.state
                after.packet.destination = address
                after.packet.port = port
                after.steps = []
                let post = try walker.run(chain: ServiceRules.postroutingChain, after, depth: 0)
                for result in post { merge(result.state.steps, into: &steps) }
                let masqueraded = post.contains { if case .masquerade? = $0.terminal { true } else { false } }
                let target = Target(address: address, port: port, masqueraded: masqueraded)
                if !targets.contains(target) { targets.append(target) }
            case .reject(let kind)?:
                if !rejects.contains(kind) { rejects.append(kind) }
            case .drop?:
                drops = true
            case .accept?, .masquerade?, nil:
                break
            }
        }
        let verdict: Verdict
        if !targets.isEmpty {
            verdict = .dnat(targets.sorted { ($0.address.value, $0.port) < ($1.address.value, $1.port) })
        } else if let reject = rejects.first {
            // A TCP packet meets the reset rule first; the ICMP rule answers everything else.
            verdict = .reject(reject)
        } else if drops {
            verdict = .drop
        } else {
            verdict = .unchanged
        }
        let service = table?.service(address: packet.destination, port: packet.port, protocol: packet.protocol, node: node)
            .map { "\($0.0.qualifiedName) port \($0.1.label)" }
        return ServiceTrace(packet: packet, node: node.name, entry: entry, service: service, steps: steps, verdict: verdict)
    }

    private static func merge(_ new: [Step], into steps: inout [Step]) {
        for step in new {
            if let index = steps.firstIndex(where: { $0.chain == step.chain && $0.rule == step.rule }) {
                for note in step.notes where !steps[index].notes.contains(note) { steps[index].notes.append(note) }
            } else {
                steps.append(step)
            }
        }
    }
}

/// A rule the tracer cannot follow.
public struct ServiceTraceError: Error, Hashable, Sendable, CustomStringConvertible {
    public var chain: String
    public var rule: String
    public var reason: String

    public init(chain: String, rule: String, reason: String) {
        self.chain = chain
        self.rule = rule
        self.reason = reason
    }

    public var description: String { "cannot trace chain \(chain), rule \"\(rule)\": \(reason)" }
}

/// The walk itself: every branch, depth-first.
private struct Walker {
    typealias Field = ServiceRuleset.Field
    typealias Value = ServiceRuleset.Value

    struct State {
        var packet: ServiceTrace.Packet
        var mark: UInt32
        var steps: [ServiceTrace.Step]

        mutating func note(_ chain: String, _ rule: ServiceRuleset.Rule, _ text: String? = nil) {
            if let last = steps.last, last.chain == chain, last.rule == rule.description {
                if let text { steps[steps.count - 1].notes.append(text) }
            } else {
                steps.append(ServiceTrace.Step(chain: chain, rule: rule.description, notes: text.map { [$0] } ?? []))
            }
        }
    }

    enum Terminal {
        case dnat(IPv4Address, UInt16)
        case reject(ServiceRuleset.Reject)
        case drop, accept, masquerade
    }

    struct Result {
        var state: State
        /// nil: the chain ended (or returned) without a verdict.
        var terminal: Terminal?
    }

    enum Action {
        case next
        case terminal(Terminal)
        case jump(String), goto(String)
        case `return`
    }

    let ruleset: ServiceRuleset
    static let maximumDepth = 16

    func run(chain name: String, _ state: State, depth: Int) throws(ServiceTraceError) -> [Result] {
        guard let chain = ruleset.chain(name) else { throw ServiceTraceError(chain: name, rule: "", reason: "no such chain in table \(ruleset.table)") }
        guard depth < Walker.maximumDepth else { throw ServiceTraceError(chain: name, rule: "", reason: "more than \(Walker.maximumDepth) nested jumps") }
        return try run(chain, from: 0, state, depth: depth)
    }

    private func run(_ chain: ServiceRuleset.Chain, from index: Int, _ state: State, depth: Int) throws(ServiceTraceError) -> [Result] {
        guard index < chain.rules.count else { return [Result(state: state, terminal: nil)] }
        var results: [Result] = []
        for (branch, action) in try evaluate(chain.rules[index], in: chain.name, state) {
            switch action {
            case .next:
                results += try run(chain, from: index + 1, branch, depth: depth)
            case .terminal(let terminal):
                results.append(Result(state: branch, terminal: terminal))
            case .jump(let target):
                for result in try run(chain: target, branch, depth: depth + 1) {
                    if result.terminal == nil {
                        results += try run(chain, from: index + 1, result.state, depth: depth)
                    } else {
                        results.append(result)
                    }
                }
            case .goto(let target):
                results += try run(chain: target, branch, depth: depth + 1)
            case .return:
                results.append(Result(state: branch, terminal: nil))
            }
        }
        return results
    }

    /// Every way one rule can go for the packet.
    private func evaluate(_ rule: ServiceRuleset.Rule, in chain: String, _ start: State) throws(ServiceTraceError) -> [(State, Action)] {
        func fail(_ reason: String) -> ServiceTraceError { ServiceTraceError(chain: chain, rule: rule.description, reason: reason) }
        var branches: [State] = [start]
        var finished: [(State, Action)] = []
        for statement in rule.statements {
            var next: [State] = []
            for var state in branches {
                switch statement {
                case .match(.numgen(let modulus, let offset), .integer(let value)) where modulus > 1:
                    // Random: both outcomes are possible.
                    var taken = state
                    taken.note(chain, rule, "\(ServiceRuleset.Field.numgen(modulus: modulus, offset: offset)) gives \(value), with probability 1/\(modulus): taken")
                    next.append(taken)
                    state.note(chain, rule, "otherwise: next rule")
                    finished.append((state, .next))
                case .match(let field, let value):
                    guard let actual = try read(field, state, fail) else { throw fail("\(field) cannot be compared here") }
                    if actual == value {
                        next.append(state)
                    } else {
                        state.note(chain, rule)
                        finished.append((state, .next))
                    }
                case .lookup(let fields, let setName):
                    guard let set = ruleset.set(setName) else { throw fail("no set \(setName)") }
                    if set.isDynamic {
                        state.note(chain, rule, "@\(setName) is filled by traffic: a new client has no entry, next rule")
                        finished.append((state, .next))
                        continue
                    }
                    let key = try self.key(fields, state, fail)
                    if set.elements.contains(where: { $0.key == key }) {
                        state.note(chain, rule, "\(key) is in @\(setName)")
                        next.append(state)
                    } else {
                        state.note(chain, rule)
                        finished.append((state, .next))
                    }
                case .verdictMap(let fields, let mapName):
                    guard let map = ruleset.set(mapName) else { throw fail("no map \(mapName)") }
                    // A random key component (a new client's choice of endpoint) reaches every element it can form.
                    let keys = try keys(fields, state, fail)
                    var hit = false
                    for key in keys {
                        guard let element = map.elements.first(where: { $0.key == key }), case .verdict(let verdict)? = element.data else { continue }
                        hit = true
                        var taken = state
                        taken.note(chain, rule, "@\(mapName) element \(element)")
                        finished.append((taken, action(verdict)))
                    }
                    if !hit {
                        state.note(chain, rule, keys.count == 1 ? "no element \(keys[0]) in @\(mapName): next rule" : "no element in @\(mapName): next rule")
                        finished.append((state, .next))
                    }
                case .dnatMap(let fields, let mapName):
                    guard let map = ruleset.set(mapName) else { throw fail("no map \(mapName)") }
                    var hit = false
                    for key in try keys(fields, state, fail) {
                        guard let element = map.elements.first(where: { $0.key == key }) else { continue }
                        guard case .concat(let parts)? = element.data, parts.count == 2, case .address(let address) = parts[0], case .port(let port) = parts[1] else {
                            throw fail("element \(element) of @\(mapName) is not address . port")
                        }
                        hit = true
                        var taken = state
                        taken.note(chain, rule, "@\(mapName) element \(element)")
                        finished.append((taken, .terminal(.dnat(address, port))))
                    }
                    if !hit {
                        state.note(chain, rule, "no element in @\(mapName): next rule")
                        finished.append((state, .next))
                    }
                case .update(let fields, let setName, let timeout):
                    let key = try self.key(fields, state, fail)
                    state.note(chain, rule, "records \(key) in @\(setName) for \(timeout) s")
                    next.append(state)
                case .setMark(let mark):
                    state.mark = mark
                    state.note(chain, rule)
                    next.append(state)
                case .masquerade:
                    state.note(chain, rule, "source becomes the node's address on the way out")
                    finished.append((state, .terminal(.masquerade)))
                case .reject(let kind):
                    state.note(chain, rule)
                    finished.append((state, .terminal(.reject(kind))))
                case .verdict(let verdict):
                    state.note(chain, rule)
                    finished.append((state, action(verdict)))
                case .unknown(let text):
                    throw fail("unknown statement \(text)")
                }
            }
            branches = next
        }
        // A rule without a verdict that matched goes on to the next one.
        return finished + branches.map { ($0, Action.next) }
    }

    private func action(_ verdict: ServiceRuleset.Verdict) -> Action {
        switch verdict {
        case .accept: .terminal(.accept)
        case .drop: .terminal(.drop)
        case .return: .return
        case .jump(let chain): .jump(chain)
        case .goto(let chain): .goto(chain)
        }
    }

    /// The value a deterministic field has for the packet (a numgen field of modulus 1 is its offset).
    private func read(_ field: Field, _ state: State, _ fail: (String) -> ServiceTraceError) throws(ServiceTraceError) -> Value? {
        switch field {
        case .ipSaddr: .address(state.packet.source)
        case .ipDaddr: .address(state.packet.destination)
        case .l4proto: .transport(state.packet.protocol)
        case .thDport: .port(state.packet.port)
        case .mark: .mark(state.mark)
        case .numgen(1, let offset): .integer(offset)
        case .numgen: nil
        }
    }

    private func key(_ fields: [Field], _ state: State, _ fail: (String) -> ServiceTraceError) throws(ServiceTraceError) -> Value {
        let all = try keys(fields, state, fail)
        guard all.count == 1, let key = all.first else { throw fail("a random key where one value is needed") }
        return key
    }

    /// Every key the fields can form: one, or one per value of a random component.
    private func keys(_ fields: [Field], _ state: State, _ fail: (String) -> ServiceTraceError) throws(ServiceTraceError) -> [Value] {
        var keys: [[Value]] = [[]]
        for field in fields {
            let values: [Value]
            if case .numgen(let modulus, let offset) = field, modulus > 1 {
                values = (0..<modulus).map { .integer(offset + $0) }
            } else if let value = try read(field, state, fail) {
                values = [value]
            } else {
                throw fail("\(field) has no value here")
            }
            keys = keys.flatMap { prefix in values.map { prefix + [$0] } }
        }
        return keys.map { $0.count == 1 ? $0[0] : .concat($0) }
    }
}
