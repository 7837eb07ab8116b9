/// Per-policy logging of drops: a NetworkPolicy annotated `podlab.dev/log: "true"` has the
/// packets it drops copied, at most `perSecond` a second after a burst of `burst`, by an nftables
/// `log` statement into the nflog group `group` of the node's namespace, with a prefix naming
/// the direction and the policy. The agent reads the group (nfnetlink_log) in each node and
/// keeps the last records per policy. The kernel's own log (printk) is not used: outside the
/// root namespace it needs `nf_log_all_netns`, a sysctl of the root namespace.
///
/// In the ruleset each logged policy is a number (its place among the logged policies, by
/// name, from 1) and two rules in each check chain, just before the drop: `meta mark set N`,
/// then `ip daddr . meta mark @ingress-logged limit … log prefix "ingress ns/name" group 13`.
/// The pods a logged policy isolates are elements (`pod . N`) of the `egress-logged` and
/// `ingress-logged` sets, so a label change still touches elements only; turning logging on or
/// off for a policy changes the chains (the table is rebuilt in one transaction).
public enum PolicyLog {
    public static let annotation = "podlab.dev/log"
    /// The nflog group the rules log into, in every node's namespace.
    public static let group: UInt16 = 13
    public static let perSecond: UInt64 = 10
    public static let burst: UInt32 = 5
    /// `NF_LOG_PREFIXLEN` (128) less its terminating NUL.
    public static let maximumPrefixLength = 127

    /// The qualified names (`namespace/name`) of the policies that log, in their numbering order.
    public static func loggedPolicies(_ policies: some Sequence<NetworkPolicy>) -> [String] {
        policies.filter(\.logsDrops).map(\.qualifiedName).sorted()
    }

    /// `ingress x/deny-all`, cut to what a log prefix holds (on a character boundary).
    public static func prefix(policy: String, direction: PolicyType) -> String {
        var text = "\(direction == .egress ? "egress" : "ingress") \(policy)"
        while text.utf8.count > maximumPrefixLength { text.removeLast() }
        return text
    }

    /// The policy and direction a prefix names, among `logged` (matched against the policies' own
    /// prefixes, as long names are cut); nil for a policy that does not log (any more).
    public static func policy(forPrefix prefix: String, logged: [String]) -> (policy: String, direction: PolicyType)? {
        for policy in logged {
            for direction in [PolicyType.ingress, .egress] where self.prefix(policy: policy, direction: direction) == prefix {
                return (policy, direction)
            }
        }
        return nil
    }

    /// The addresses, protocol and ports of a logged IPv4 packet (the network header on, as
    /// nfnetlink_log copies it); nil when it is not IPv4 or too short.
    public struct Packet: Hashable, Sendable {
        public var source: IPv4Address
        public var destination: IPv4Address
        public var proto: UInt8
        public var sourcePort: UInt16?
        public var destinationPort: UInt16?

        public init(source: IPv4Address, destination: IPv4Address, proto: UInt8, sourcePort: UInt16? = nil, destinationPort: UInt16? = nil) {
            self.source = source
            self.destination = destination
            self.proto = proto
            self.sourcePort = sourcePort
            self.destinationPort = destinationPort
        }

        public init?(ipv4 bytes: [UInt8]) {
            guard bytes.count >= 20, bytes[0] >> 4 == 4 else { return nil }
            let headerLength = Int(bytes[0] & 0x0f) * 4
            guard headerLength >= 20, bytes.count >= headerLength else { return nil }
            source = IPv4Address(bytes[12], bytes[13], bytes[14], bytes[15])
            destination = IPv4Address(bytes[16], bytes[17], bytes[18], bytes[19])
            proto = bytes[9]
            // Ports only in a first fragment (offset 0) of TCP or UDP.
            let fragmentOffset = (UInt16(bytes[6] & 0x1f) << 8) | UInt16(bytes[7])
            if (proto == 6 || proto == 17), fragmentOffset == 0, bytes.count >= headerLength + 4 {
                sourcePort = UInt16(bytes[headerLength]) << 8 | UInt16(bytes[headerLength + 1])
                destinationPort = UInt16(bytes[headerLength + 2]) << 8 | UInt16(bytes[headerLength + 3])
            }
        }

        public var protocolName: String {
            switch proto {
            case 6: "TCP"
            case 17: "UDP"
            case 1: "ICMP"
            default: "\(proto)"
            }
        }
    }

    /// One dropped packet as the agent keeps it.
    public struct Record: Hashable, Sendable, Codable {
        /// The agent's sequence number, increasing across policies (for `--follow`).
        public var sequence: Int
        /// RFC 3339 with milliseconds, UTC.
        public var time: String
        public var node: String
        /// `namespace/name`.
        public var policy: String
        /// `Ingress` or `Egress`.
        public var direction: String
        /// `namespace/name` of the pods at the packet's addresses, when there were any.
        public var sourcePod: String?
        public var source: String
        public var sourcePort: Int?
        public var destinationPod: String?
        public var destination: String
        public var destinationPort: Int?
        /// `TCP`, `UDP`, `ICMP` or the protocol number.
        public var proto: String
        public var verdict: String

        public init(sequence: Int, time: String, node: String, policy: String, direction: PolicyType, sourcePod: String?, destinationPod: String?,
                    packet: Packet, verdict: String = "DROP") {
            self.sequence = sequence
            self.time = time
            self.node = node
            self.policy = policy
            self.direction = direction.rawValue
            self.sourcePod = sourcePod
            self.source = "\(packet.source)"
            self.sourcePort = packet.sourcePort.map(Int.init)
            self.destinationPod = destinationPod
            self.destination = "\(packet.destination)"
            self.destinationPort = packet.destinationPort.map(Int.init)
            self.proto = packet.protocolName
            self.verdict = verdict
        }

        /// `2026-12-06T15:20:01.123Z n1 x/a 10.244.1.2:43210 → x/b 10.244.2.3:80 TCP DROP (Ingress x/deny-all)`
        public var line: String {
            func endpoint(_ pod: String?, _ address: String, _ port: Int?) -> String {
                (pod.map { "\($0)/" } ?? "") + address + (port.map { ":\($0)" } ?? "")
            }
            return "\(time) \(node) \(endpoint(sourcePod, source, sourcePort)) → \(endpoint(destinationPod, destination, destinationPort)) "
                + "\(proto) \(verdict) (\(direction) \(policy))"
        }
    }

    /// `GET /podlab/v1/policylog`'s answer.
    public struct Answer: Hashable, Sendable, Codable {
        /// `namespace/name`.
        public var policy: String
        /// The policy carries `podlab.dev/log: "true"`.
        public var logging: Bool
        /// The highest sequence number given so far (to ask for what follows).
        public var lastSequence: Int
        public var records: [Record]

        public init(policy: String, logging: Bool, lastSequence: Int, records: [Record]) {
            self.policy = policy
            self.logging = logging
            self.lastSequence = lastSequence
            self.records = records
        }
    }

    /// The last `capacity` records of each policy.
    public struct Book: Sendable {
        public let capacity: Int
        private var records: [String: [Record]] = [:]
        public private(set) var lastSequence = 0

        public init(capacity: Int = 200) { self.capacity = max(1, capacity) }

        /// Numbers the record and keeps it, the policy's oldest going beyond `capacity`.
        public mutating func append(_ make: (Int) -> Record) -> Record {
            lastSequence += 1
            let record = make(lastSequence)
            var list = records[record.policy] ?? []
            list.append(record)
            if list.count > capacity { list.removeFirst(list.count - capacity) }
            records[record.policy] = list
            return record
        }

        /// The policy's records after `sequence`, oldest first.
        public func records(policy: String, after sequence: Int = 0) -> [Record] {
            (records[policy] ?? []).filter { $0.sequence > sequence }
        }

        public mutating func forget(policy: String) { records[policy] = nil }
    }
}

extension NetworkPolicy {
    /// `podlab.dev/log: "true"`: the drops it decides are logged (`PolicyLog`).
    public var logsDrops: Bool { metadata.annotations[PolicyLog.annotation] == "true" }
}
