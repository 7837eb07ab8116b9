/// Walks a `PolicyRuleset` for one packet of a new connection, as the kernel would: the base
/// chain of a hook, jumps and gotos, set and map lookups, marks. It reports the verdict, the
/// chains and elements it went through, and the policy rules those elements stand for.
public enum PolicyTrace {
    public struct Packet: Hashable, Sendable {
        public var source: IPv4Address
        public var destination: IPv4Address
        /// An IP protocol number (6 TCP, 17 UDP, 1 ICMP).
        public var proto: UInt8
        public var port: UInt16
        public var mark: UInt32
        /// A packet of a connection conntrack already knows (or its reply).
        public var established: Bool

        public init(source: IPv4Address, destination: IPv4Address, proto: UInt8, port: UInt16, mark: UInt32 = 0, established: Bool = false) {
            self.source = source
            self.destination = destination
            self.proto = proto
            self.port = port
            self.mark = mark
            self.established = established
        }
    }

    public struct Result: Hashable, Sendable, CustomStringConvertible {
        public var accepted: Bool
        /// The mark the packet leaves with.
        public var mark: UInt32
        /// `chain #rule` for every rule that acted.
        public var steps: [String]
        /// The policy rules of the elements that allowed it, per direction checked.
        public var allowedBy: [PolicyRuleReference]
        /// `egress` or `ingress`, when a check dropped it.
        public var droppedIn: String?
        /// The log prefixes it was logged with (`PolicyLog`), in order.
        public var logged: [String] = []

        public var description: String {
            (accepted ? "accepted" : "dropped in \(droppedIn ?? "?")") + " via " + steps.joined(separator: ", ")
                + (allowedBy.isEmpty ? "" : "; allowed by " + allowedBy.map(\.description).joined(separator: ", "))
                + (logged.isEmpty ? "" : "; logged as " + logged.map { "\"\($0)\"" }.joined(separator: ", "))
        }
    }

    public struct TraceError: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The packet through the base chain of `hook` (`forward` or `input`); a ruleset without
    /// that chain accepts it unchanged.
    public static func trace(_ ruleset: PolicyRuleset, hook: String, packet: Packet) throws(TraceError) -> Result {
        var result = Result(accepted: true, mark: packet.mark, steps: [], allowedBy: [], droppedIn: nil)
        guard let base = ruleset.chains.first(where: { $0.base?.hook == hook }) else { return result }
        var stack: [(chain: PolicyRuleset.Chain, next: Int)] = []
        var current = (chain: base, next: 0)
        var depth = 0
        func value(_ field: PolicyRuleset.Field) -> PolicyRuleset.Value {
            switch field {
            case .ipSaddr: .address(packet.source)
            case .ipDaddr: .address(packet.destination)
            case .l4proto: .proto(packet.proto)
            case .thDport: .port(packet.port)
            case .mark: .mark(result.mark)
            }
        }
        func key(_ fields: [PolicyRuleset.Field]) -> PolicyRuleset.Value {
            fields.count == 1 ? value(fields[0]) : .concat(fields.map(value))
        }
        func element(_ set: String, _ fields: [PolicyRuleset.Field]) throws(TraceError) -> PolicyRuleset.Element? {
            guard let named = ruleset.set(set) else { throw TraceError(description: "set \(set) is not in the table") }
            let wanted = key(fields)
            return named.elements.first { $0.key == wanted || $0.key.parts == wanted.parts }
        }
        while true {
            depth += 1
            if depth > 10_000 { throw TraceError(description: "the chains loop") }
            guard current.next < current.chain.rules.count else {
                // The end of a chain: back to the caller, or the base chain's policy (accept).
                guard let caller = stack.popLast() else { return result }
                current = caller
                continue
            }
            let index = current.next
            let rule = current.chain.rules[index]
            current.next += 1
            var verdict: PolicyRuleset.Verdict?
            var matched = true
            statements: for statement in rule.statements {
                switch statement {
                case .ctEstablishedOrRelated:
                    if !packet.established { matched = false; break statements }
                case .match(let field, let expected):
                    if value(field) != expected { matched = false; break statements }
                case .lookup(let fields, let set):
                    if try element(set, fields) == nil { matched = false; break statements }
                case .verdictMap(let fields, let map):
                    guard let found = try element(map, fields), case .verdict(let v)? = found.data else { matched = false; break statements }
                    result.allowedBy += ruleset.reasons[.init(set: map, key: found.key)] ?? []
                    verdict = v
                case .setMark(let mark):
                    result.mark = mark
                case .setMarkFromMap(let fields, let map):
                    guard let found = try element(map, fields), case .mark(let mark)? = found.data else { matched = false; break statements }
                    result.mark = mark
                case .counter:
                    break
                case .limit:
                    // A rate limit passes a packet that comes alone.
                    break
                case .log(_, let prefix):
                    result.logged.append(prefix)
                case .verdict(let v):
                    verdict = v
                case .unknown(let text):
                    throw TraceError(description: "chain \(current.chain.name): no way to follow \(text)")
                }
            }
            guard matched else { continue }
            result.steps.append("\(current.chain.name) #\(index)")
            switch verdict {
            case nil: continue
            case .accept?: return result
            case .drop?:
                result.accepted = false
                result.droppedIn = current.chain.name.hasPrefix("egress") ? "egress" : current.chain.name.hasPrefix("ingress") ? "ingress" : current.chain.name
                return result
            case .return?:
                guard let caller = stack.popLast() else { return result }
                current = caller
            case .jump(let name)?:
                guard let target = ruleset.chain(name) else { throw TraceError(description: "chain \(name) is not in the table") }
                stack.append(current)
                current = (target, 0)
            case .goto(let name)?:
                guard let target = ruleset.chain(name) else { throw TraceError(description: "chain \(name) is not in the table") }
                current = (target, 0)
            }
        }
    }
}
