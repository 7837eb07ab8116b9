/// What NetworkPolicy semantics need to know of a pod: where it is, what it is called, its
/// labels, its address and node, and its named container ports.
public struct PolicyPod: Hashable, Sendable, CustomStringConvertible {
    public var namespace: String
    public var name: String
    public var labels: [String: String]
    public var address: IPv4Address
    public var node: String
    /// Container ports by name and protocol (`http`/TCP → 8080), for named policy ports.
    public var namedPorts: [NamedPort: UInt16]

    public struct NamedPort: Hashable, Sendable, Comparable {
        public var name: String
        public var `protocol`: PortProtocol

        public init(_ name: String, _ protocol: PortProtocol) {
            self.name = name
            self.protocol = `protocol`
        }

        public static func < (a: NamedPort, b: NamedPort) -> Bool { (a.name, a.protocol.rawValue) < (b.name, b.protocol.rawValue) }
    }

    public init(namespace: String, name: String, labels: [String: String] = [:], address: IPv4Address, node: String,
                namedPorts: [NamedPort: UInt16] = [:]) {
        self.namespace = namespace
        self.name = name
        self.labels = labels
        self.address = address
        self.node = node
        self.namedPorts = namedPorts
    }

    /// A pod as the policies see it, when it has an address of its own (nil otherwise: a
    /// host-network pod is its node's address, and a pod without an address takes no traffic).
    public init?(_ pod: Pod) {
        guard !pod.spec.hostNetwork, let address = IPv4Address(pod.status.podIP) else { return nil }
        var ports: [NamedPort: UInt16] = [:]
        for container in pod.spec.containers {
            for port in container.ports where !port.name.isEmpty {
                guard let number = UInt16(exactly: port.containerPort) else { continue }
                ports[NamedPort(port.name, port.protocol ?? .tcp)] = number
            }
        }
        self.init(namespace: pod.metadata.namespace.isEmpty ? "default" : pod.metadata.namespace, name: pod.metadata.name,
                  labels: pod.metadata.labels, address: address, node: pod.spec.nodeName, namedPorts: ports)
    }

    public var description: String { "\(namespace)/\(name)" }
}

/// The lab as policies see it: pods with addresses, namespaces with labels, the policies, and
/// each node's own addresses (traffic a node sends does not cross its forward path, so
/// policies never stop it reaching that node's pods: kubelet probes need that).
public struct PolicyWorld: Hashable, Sendable {
    public var pods: [PolicyPod]
    public var namespaceLabels: [String: [String: String]]
    /// Sorted by namespace and name: the order in which verdicts name the first allowing rule.
    public var policies: [NetworkPolicy]
    public var nodeAddresses: [String: [IPv4Address]]

    public init(pods: [PolicyPod], namespaceLabels: [String: [String: String]], policies: [NetworkPolicy],
                nodeAddresses: [String: [IPv4Address]] = [:]) {
        self.pods = pods.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        self.namespaceLabels = namespaceLabels
        self.policies = policies.sorted { ($0.metadata.namespace, $0.metadata.name) < ($1.metadata.namespace, $1.metadata.name) }
        self.nodeAddresses = nodeAddresses
    }

    /// The pod holding `address`, if any.
    public func pod(at address: IPv4Address) -> PolicyPod? { pods.first { $0.address == address } }

    /// The node owning `address`, if any.
    public func node(at address: IPv4Address) -> String? {
        nodeAddresses.first { $0.value.contains(address) }?.key
    }
}

/// One rule of one policy: `default/allow-web` ingress rule 0.
public struct PolicyRuleReference: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var policy: String
    public var direction: PolicyType
    public var index: Int

    public init(policy: String, direction: PolicyType, index: Int) {
        self.policy = policy
        self.direction = direction
        self.index = index
    }

    public static func < (a: Self, b: Self) -> Bool { (a.policy, a.direction.rawValue, a.index) < (b.policy, b.direction.rawValue, b.index) }

    public var description: String { "\(policy) \(direction.rawValue.lowercased()) rule \(index)" }
}

/// What one direction's policies decide for a connection.
public enum PolicyDirectionVerdict: Hashable, Sendable, CustomStringConvertible {
    /// No policy selects the pod for this direction: everything passes.
    case notIsolated
    /// The node itself sends to its own pod (kubelet probes), or the traffic does not cross the
    /// pod's node forward path (its own loopback).
    case unaffected(String)
    /// Allowed by these rules (sorted; the first names the verdict).
    case allowed([PolicyRuleReference])
    /// Isolated by these policies, and none of their rules allows it.
    case denied(isolatedBy: [String])

    public var isAllowed: Bool {
        if case .denied = self { return false }
        return true
    }

    public var description: String {
        switch self {
        case .notIsolated: "not isolated"
        case .unaffected(let why): why
        case .allowed(let rules): "allowed by \(rules[0])" + (rules.count > 1 ? " (and \(rules.count - 1) more)" : "")
        case .denied(let policies): "denied: isolated by \(policies.joined(separator: ", ")) and no rule allows it"
        }
    }
}

/// The verdict for one connection: egress at the source, then ingress at the destination.
public struct PolicyVerdict: Hashable, Sendable, CustomStringConvertible {
    public var egress: PolicyDirectionVerdict
    public var ingress: PolicyDirectionVerdict

    public var isAllowed: Bool { egress.isAllowed && ingress.isAllowed }

    public var description: String {
        isAllowed ? "allowed (egress: \(egress); ingress: \(ingress))"
            : "dropped (\(egress.isAllowed ? "ingress: \(ingress)" : "egress: \(egress)"))"
    }
}

/// NetworkPolicy semantics, exactly as Kubernetes defines them: the expected model for tests,
/// and the oracle the generated nftables ruleset is checked against.
public enum PolicyModel {
    /// Where a connection comes from: a pod, or an address (a node, or outside the pods).
    public enum Source: Hashable, Sendable {
        case pod(PolicyPod)
        case address(IPv4Address)

        public var address: IPv4Address {
            switch self {
            case .pod(let pod): pod.address
            case .address(let address): address
            }
        }
    }

    /// Where a connection goes: a pod, or an address that is no pod's (a node's).
    public enum Destination: Hashable, Sendable {
        case pod(PolicyPod)
        case address(IPv4Address)

        public var address: IPv4Address {
            switch self {
            case .pod(let pod): pod.address
            case .address(let address): address
            }
        }
    }

    /// Whether `policy` selects `pod` (same namespace, pod selector matches).
    public static func selects(_ policy: NetworkPolicy, _ pod: PolicyPod) -> Bool {
        policy.metadata.namespace == pod.namespace && policy.spec.podSelector.selector.matches(pod.labels)
    }

    /// Whether `peer` of a rule of a policy in `policyNamespace` matches an endpoint: a pod
    /// by its namespace's and its own labels (and its address, for ipBlock), an address by ipBlock.
    public static func matches(_ peer: NetworkPolicyPeer, policyNamespace: String, address: IPv4Address, pod: PolicyPod?,
                               namespaceLabels: [String: [String: String]]) -> Bool {
        if let block = peer.ipBlock {
            guard let (cidr, except) = block.prefixes else { return false }
            return cidr.contains(address) && !except.contains { $0.contains(address) }
        }
        guard let pod else { return false }
        if let namespaces = peer.namespaceSelector {
            guard namespaces.selector.matches(namespaceLabels[pod.namespace] ?? [:]) else { return false }
        } else if pod.namespace != policyNamespace {
            return false
        }
        return peer.podSelector.map { $0.selector.matches(pod.labels) } ?? true
    }

    /// Whether `port` of a rule matches `proto`/`number` on the pod named-port table `pod`
    /// (a named port that pod does not define matches nothing; an address has no names).
    public static func matches(_ port: NetworkPolicyPort, proto: PortProtocol, number: UInt16, on pod: PolicyPod?) -> Bool {
        guard port.effectiveProtocol == proto else { return false }
        switch port.port {
        case nil: return true
        case .int(let start)?:
            let end = port.endPort ?? start
            return Int32(number) >= start && Int32(number) <= end
        case .string(let name)?:
            return pod?.namedPorts[PolicyPod.NamedPort(name, proto)] == number
        }
    }

    static func portsMatch(_ ports: [NetworkPolicyPort], proto: PortProtocol?, number: UInt16, on pod: PolicyPod?) -> Bool {
        if ports.isEmpty { return true }
        // Not TCP or UDP (ICMP): only a rule without ports allows it.
        guard let proto else { return false }
        return ports.contains { matches($0, proto: proto, number: number, on: pod) }
    }

    /// The verdict for a new connection from `source` to `destination` with `proto` (nil: a
    /// protocol without ports, such as ICMP) and destination port `port`.
    public static func verdict(in world: PolicyWorld, from source: Source, to destination: Destination,
                               proto: PortProtocol?, port: UInt16) -> PolicyVerdict {
        if case .pod(let from) = source, case .pod(let to) = destination, from.address == to.address {
            return PolicyVerdict(egress: .unaffected("the pod's own loopback"), ingress: .unaffected("the pod's own loopback"))
        }
        let egress: PolicyDirectionVerdict
        if case .pod(let from) = source {
            let isolating = world.policies.filter { $0.spec.isolatesEgress && selects($0, from) }
            if isolating.isEmpty {
                egress = .notIsolated
            } else {
                var allowing: [PolicyRuleReference] = []
                let destinationPod: PolicyPod? = if case .pod(let pod) = destination { pod } else { nil }
                for policy in isolating {
                    for (index, rule) in policy.spec.egress.enumerated() {
                        let peerMatches = rule.to.isEmpty || rule.to.contains {
                            matches($0, policyNamespace: policy.metadata.namespace, address: destination.address, pod: destinationPod,
                                    namespaceLabels: world.namespaceLabels)
                        }
                        if peerMatches, portsMatch(rule.ports, proto: proto, number: port, on: destinationPod) {
                            allowing.append(PolicyRuleReference(policy: policy.qualifiedName, direction: .egress, index: index))
                        }
                    }
                }
                egress = allowing.isEmpty ? .denied(isolatedBy: isolating.map(\.qualifiedName)) : .allowed(allowing.sorted())
            }
        } else {
            egress = .notIsolated
        }
        let ingress: PolicyDirectionVerdict
        switch destination {
        case .address:
            ingress = .notIsolated
        case .pod(let to):
            let isolating = world.policies.filter { $0.spec.isolatesIngress && selects($0, to) }
            if case .address(let address) = source, world.nodeAddresses[to.node]?.contains(address) == true {
                ingress = .unaffected("from the pod's own node")
            } else if isolating.isEmpty {
                ingress = .notIsolated
            } else {
                var allowing: [PolicyRuleReference] = []
                let sourcePod: PolicyPod? = if case .pod(let pod) = source { pod } else { nil }
                for policy in isolating {
                    for (index, rule) in policy.spec.ingress.enumerated() {
                        let peerMatches = rule.from.isEmpty || rule.from.contains {
                            matches($0, policyNamespace: policy.metadata.namespace, address: source.address, pod: sourcePod,
                                    namespaceLabels: world.namespaceLabels)
                        }
                        if peerMatches, portsMatch(rule.ports, proto: proto, number: port, on: to) {
                            allowing.append(PolicyRuleReference(policy: policy.qualifiedName, direction: .ingress, index: index))
                        }
                    }
                }
                ingress = allowing.isEmpty ? .denied(isolatedBy: isolating.map(\.qualifiedName)) : .allowed(allowing.sorted())
            }
        }
        return PolicyVerdict(egress: egress, ingress: ingress)
    }

    /// The verdict between two addresses of the lab, each a pod's or not.
    public static func verdict(in world: PolicyWorld, from source: IPv4Address, to destination: IPv4Address,
                               proto: PortProtocol?, port: UInt16) -> PolicyVerdict {
        let from: Source = world.pod(at: source).map { .pod($0) } ?? .address(source)
        let to: Destination = world.pod(at: destination).map { .pod($0) } ?? .address(destination)
        return verdict(in: world, from: from, to: to, proto: proto, port: port)
    }
}
