/// The capture a meshed pod's network namespace carries: `table ip podlab-mesh`, what Istio's
/// init container does with iptables, in one nftables table. The agent lowers it
/// (`PodlabAgent/Mesh/MeshCapture.swift`) before the pod's containers start; it lives and dies
/// with the pod's namespace, so nothing removes it but the pod.
///
/// ```
/// table ip podlab-mesh
///   chain output      nat output priority dstnat (-100)
///     meta skuid 1337 return               the proxy's own connections leave as they are
///     oifname "lo" return                  loopback, and the pod's own address (routed over lo)
///     tcp dport <excluded> return          podlab.dev/exclude-ports
///     meta l4proto tcp redirect to :15001  everything else: the outbound listener
///   chain prerouting  nat prerouting priority dstnat (-100)
///     tcp dport <proxy ports> return       15001, 15006, 15090, 15021 reach the proxy itself
///     tcp dport <excluded> return
///     meta l4proto tcp redirect to :15006  everything else: the inbound listener
/// ```
///
/// Only TCP is captured: UDP (DNS among it) goes where the application sends it.
public struct MeshCaptureRules: Hashable, Sendable, CustomStringConvertible {
    public static let table = "podlab-mesh"
    public static let outputChain = "output"
    public static let preroutingChain = "prerouting"
    /// nftables' `dstnat` priority, where NAT on the destination belongs.
    public static let priority: Int32 = -100

    /// What one rule matches on.
    public enum Condition: Hashable, Sendable, CustomStringConvertible {
        /// `meta skuid UID`: the packet's socket belongs to the user.
        case socketUser(UInt32)
        /// `oifname "NAME"`: it leaves through the interface.
        case outputInterface(String)
        /// `tcp dport PORT`.
        case tcpDestinationPort(UInt16)
        /// `meta l4proto tcp`.
        case tcp

        public var description: String {
            switch self {
            case let .socketUser(uid): "meta skuid \(uid)"
            case let .outputInterface(name): "oifname \"\(name)\""
            case let .tcpDestinationPort(port): "tcp dport \(port)"
            case .tcp: "meta l4proto tcp"
            }
        }
    }

    /// What a matching rule does.
    public enum Action: Hashable, Sendable, CustomStringConvertible {
        /// Leave the chain: the packet is not captured.
        case `return`
        /// `redirect to :PORT`: to the pod's own address (loopback for its own traffic), port PORT.
        case redirect(UInt16)

        public var description: String {
            switch self {
            case .return: "return"
            case let .redirect(port): "redirect to :\(port)"
            }
        }
    }

    public struct Rule: Hashable, Sendable, CustomStringConvertible {
        public var conditions: [Condition]
        public var action: Action

        public init(_ conditions: [Condition], _ action: Action) {
            self.conditions = conditions
            self.action = action
        }

        public var description: String { (conditions.map(\.description) + [action.description]).joined(separator: " ") }
    }

    public struct Chain: Hashable, Sendable {
        public var name: String
        /// The netfilter hook (`output`, `prerouting`); every chain is a `nat` base chain.
        public var hook: String
        public var rules: [Rule]
    }

    public var chains: [Chain]

    /// The capture for a pod whose `podlab.dev/exclude-ports` names `excludedPorts`.
    public init(excludedPorts: [UInt16]) {
        let excluded = excludedPorts.map { Rule([.tcpDestinationPort($0)], .return) }
        chains = [
            Chain(name: Self.outputChain, hook: "output", rules: [
                Rule([.socketUser(MeshProxy.uid)], .return),
                Rule([.outputInterface("lo")], .return),
            ] + excluded + [Rule([.tcp], .redirect(MeshProxy.outboundPort))]),
            Chain(name: Self.preroutingChain, hook: "prerouting",
                  rules: MeshProxy.ports.map { Rule([.tcpDestinationPort($0.port)], .return) } + excluded
                      + [Rule([.tcp], .redirect(MeshProxy.inboundPort))]),
        ]
    }

    /// The capture a pod gets, or nil when it is not meshed (it has no sidecar).
    public static func forPod(_ pod: Pod) -> MeshCaptureRules? {
        guard pod.spec.containers.contains(where: { $0.name == MeshProxy.containerName && $0.image == MeshProxy.image }),
              !pod.spec.hostNetwork else { return nil }
        return MeshCaptureRules(excludedPorts: MeshInjection.excludedPorts(pod.metadata.annotations))
    }

    /// As `nft list table` lays it out.
    public var description: String {
        var lines = ["table ip \(Self.table) {"]
        for chain in chains {
            lines.append("\tchain \(chain.name) {")
            lines.append("\t\ttype nat hook \(chain.hook) priority dstnat; policy accept;")
            for rule in chain.rules { lines.append("\t\t\(rule)") }
            lines.append("\t}")
        }
        lines.append("}")
        return lines.joined(separator: "\n")
    }
}
