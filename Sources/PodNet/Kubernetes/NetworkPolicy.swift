/// A network policy (`apiVersion: networking.k8s.io/v1`, `kind: NetworkPolicy`): which
/// connections the pods its `podSelector` picks may accept (ingress) and open (egress).
/// A pod no policy selects for a direction is not isolated in it; several policies selecting
/// one pod allow the union of what each allows.
public struct NetworkPolicy: KubernetesObject, Hashable {
    public static let kind = "NetworkPolicy"
    public static let apiVersion = "networking.k8s.io/v1"

    public var metadata: ObjectMeta
    public var spec: NetworkPolicySpec

    public init(metadata: ObjectMeta = ObjectMeta(), spec: NetworkPolicySpec = NetworkPolicySpec()) {
        self.metadata = metadata
        self.spec = spec
    }

    /// `namespace/name`.
    public var qualifiedName: String { "\(metadata.namespace.isEmpty ? "default" : metadata.namespace)/\(metadata.name)" }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        try reader.typeInformation(of: NetworkPolicy.self)
        metadata = try reader.object("metadata") ?? ObjectMeta()
        spec = try reader.object("spec") ?? NetworkPolicySpec()
        // The API has no status any more (it was removed in 1.28); an empty one is accepted.
        _ = reader.preservedFields(["status"])
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.setTypeInformation(of: NetworkPolicy.self)
        writer.set("metadata", metadata.json)
        writer.set("spec", spec.json)
    }
}

/// `spec.policyTypes[]`.
public struct PolicyType: StringValue {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let ingress: PolicyType = "Ingress"
    public static let egress: PolicyType = "Egress"
    /// In the order Kubernetes lists them in validation messages.
    public static let supported: [PolicyType] = [.ingress, .egress]
}

/// `spec` of a network policy.
public struct NetworkPolicySpec: JSONObjectCodable, Hashable {
    /// The pods of the policy's namespace it applies to; empty selects all of them.
    public var podSelector: LabelSelectorSpec
    /// Missing: the API server defaults it (see `NetworkPolicy.applyingDefaults`).
    public var policyTypes: [PolicyType]
    /// Each rule allows what matches both its `from` and its `ports`; none allows nothing.
    public var ingress: [NetworkPolicyIngressRule]
    public var egress: [NetworkPolicyEgressRule]

    public init(podSelector: LabelSelectorSpec = LabelSelectorSpec(), policyTypes: [PolicyType] = [],
                ingress: [NetworkPolicyIngressRule] = [], egress: [NetworkPolicyEgressRule] = []) {
        self.podSelector = podSelector
        self.policyTypes = policyTypes
        self.ingress = ingress
        self.egress = egress
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        podSelector = try reader.object("podSelector") ?? LabelSelectorSpec()
        policyTypes = try (reader.stringArray("policyTypes") ?? []).map(PolicyType.init(rawValue:))
        ingress = try reader.objects("ingress")
        egress = try reader.objects("egress")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        // The API server always writes the pod selector, `{}` when it selects every pod.
        writer.set("podSelector", podSelector.json)
        writer.set("policyTypes", omittingEmpty: policyTypes.map(\.rawValue))
        writer.set("ingress", omittingEmpty: ingress)
        writer.set("egress", omittingEmpty: egress)
    }

    /// Whether the policy isolates the pods it selects for ingress / egress.
    public var isolatesIngress: Bool { policyTypes.contains(.ingress) }
    public var isolatesEgress: Bool { policyTypes.contains(.egress) }
}

/// One `ingress[]` rule: traffic from any of `from` (missing or empty: from anywhere) to any
/// of `ports` (missing or empty: every port).
public struct NetworkPolicyIngressRule: JSONObjectCodable, Hashable {
    public var ports: [NetworkPolicyPort]
    public var from: [NetworkPolicyPeer]

    public init(ports: [NetworkPolicyPort] = [], from: [NetworkPolicyPeer] = []) {
        self.ports = ports
        self.from = from
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        ports = try reader.objects("ports")
        from = try reader.objects("from")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("ports", omittingEmpty: ports)
        writer.set("from", omittingEmpty: from)
    }
}

/// One `egress[]` rule: traffic to any of `to` (missing or empty: anywhere) on any of `ports`.
public struct NetworkPolicyEgressRule: JSONObjectCodable, Hashable {
    public var ports: [NetworkPolicyPort]
    public var to: [NetworkPolicyPeer]

    public init(ports: [NetworkPolicyPort] = [], to: [NetworkPolicyPeer] = []) {
        self.ports = ports
        self.to = to
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        ports = try reader.objects("ports")
        to = try reader.objects("to")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("ports", omittingEmpty: ports)
        writer.set("to", omittingEmpty: to)
    }
}

/// A peer of a rule: pods (by `podSelector` in the policy's namespace, by `namespaceSelector`
/// in the selected namespaces, or both: those pods in those namespaces), or an `ipBlock`.
/// A missing selector is not an empty one: an empty `podSelector` alone means every pod of
/// the policy's namespace, with a `namespaceSelector` every pod of its namespaces.
public struct NetworkPolicyPeer: JSONObjectCodable, Hashable {
    public var podSelector: LabelSelectorSpec?
    public var namespaceSelector: LabelSelectorSpec?
    public var ipBlock: IPBlock?

    public init(podSelector: LabelSelectorSpec? = nil, namespaceSelector: LabelSelectorSpec? = nil, ipBlock: IPBlock? = nil) {
        self.podSelector = podSelector
        self.namespaceSelector = namespaceSelector
        self.ipBlock = ipBlock
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        podSelector = try reader.object("podSelector")
        namespaceSelector = try reader.object("namespaceSelector")
        ipBlock = try reader.object("ipBlock")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("podSelector", omittingNil: podSelector)
        writer.set("namespaceSelector", omittingNil: namespaceSelector)
        writer.set("ipBlock", omittingNil: ipBlock)
    }
}

/// `ipBlock`: addresses in `cidr` but in none of `except`.
public struct IPBlock: JSONObjectCodable, Hashable {
    public var cidr: String
    public var except: [String]

    public init(cidr: String, except: [String] = []) {
        self.cidr = cidr
        self.except = except
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        cidr = try reader.string("cidr") ?? ""
        except = try reader.stringArray("except") ?? []
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("cidr", .string(cidr))
        writer.set("except", omittingEmpty: except)
    }

    /// The block and its exceptions as prefixes (nil when validation would refuse it). Host
    /// bits are allowed, as Kubernetes' parser allows them.
    public var prefixes: (cidr: IPv4Prefix, except: [IPv4Prefix])? {
        guard let block = IPv4Interface(cidr)?.prefix else { return nil }
        var exceptions: [IPv4Prefix] = []
        for text in except {
            guard let prefix = IPv4Interface(text)?.prefix else { return nil }
            exceptions.append(prefix)
        }
        return (block, exceptions)
    }
}

/// One `ports[]` entry: a protocol (default TCP) and a port — a number, optionally up to
/// `endPort`, or a container port's name resolved in each destination pod; no port is every
/// port of the protocol.
public struct NetworkPolicyPort: JSONObjectCodable, Hashable {
    public var `protocol`: PortProtocol?
    public var port: IntOrString?
    public var endPort: Int32?

    public init(protocol: PortProtocol? = nil, port: IntOrString? = nil, endPort: Int32? = nil) {
        self.protocol = `protocol`
        self.port = port
        self.endPort = endPort
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        `protocol` = try reader.enumeration("protocol")
        port = try reader.intOrString("port")
        endPort = try reader.int32("endPort")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("protocol", omittingNil: `protocol`)
        if let port { writer.set("port", port.json) }
        if let endPort { writer.set("endPort", .integer(Int64(endPort))) }
    }

    public var effectiveProtocol: PortProtocol { `protocol` ?? .tcp }

    /// `80/TCP`, `8000-9000/TCP`, `http/TCP`, `<any>/UDP`, as `describe` prints it.
    public var description: String {
        let number: String
        switch (port, endPort) {
        case let (port?, end?): number = "\(port)-\(end)"
        case let (port?, nil): number = port.description
        case (nil, _): number = "<nil>"
        }
        return "\(number)/\(effectiveProtocol.rawValue)"
    }
}

extension NetworkPolicy: KubernetesResource {
    public static let resource = "networkpolicies"
    public static let isNamespaced = true
}

extension NetworkPolicy {
    /// The policy as the API server stores it: `policyTypes` defaults to `[Ingress]`, plus
    /// `Egress` when it has egress rules; port protocols default to TCP.
    public func applyingDefaults() -> NetworkPolicy {
        var policy = self
        if policy.spec.policyTypes.isEmpty {
            policy.spec.policyTypes = [.ingress]
            if !policy.spec.egress.isEmpty { policy.spec.policyTypes.append(.egress) }
        }
        for rule in policy.spec.ingress.indices {
            for port in policy.spec.ingress[rule].ports.indices where policy.spec.ingress[rule].ports[port].protocol == nil {
                policy.spec.ingress[rule].ports[port].protocol = .tcp
            }
        }
        for rule in policy.spec.egress.indices {
            for port in policy.spec.egress[rule].ports.indices where policy.spec.egress[rule].ports[port].protocol == nil {
                policy.spec.egress[rule].ports[port].protocol = .tcp
            }
        }
        return policy
    }

    /// Checks the policy as the API server does (`ValidateNetworkPolicy`), with its messages,
    /// then podlab's refusals (SCTP, IPv6 blocks).
    public func validated() throws(InvalidObjectError) {
        let errors = NetworkPolicyValidation.validate(self)
        if !errors.isEmpty { throw InvalidObjectError(kind: NetworkPolicy.kind, name: metadata.name, errors: errors) }
    }
}

/// `ValidateNetworkPolicy`'s rules.
enum NetworkPolicyValidation {
    static let cidrMessage = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
    static let portRangeMessage = "must be between 1 and 65535, inclusive"

    static func validate(_ policy: NetworkPolicy) -> [FieldError] {
        let spec = policy.spec
        let path = FieldPath("spec")
        var errors = ObjectMetaValidation.validate(policy.metadata, nameErrors: KubernetesNames.dns1123SubdomainErrors)
        errors += spec.podSelector.validate(path: path.child("podSelector"))
        for (index, rule) in spec.ingress.enumerated() {
            let rulePath = path.child("ingress").index(index)
            for (portIndex, port) in rule.ports.enumerated() { errors += validate(port, path: rulePath.child("ports").index(portIndex)) }
            for (peerIndex, peer) in rule.from.enumerated() { errors += validate(peer, path: rulePath.child("from").index(peerIndex)) }
        }
        for (index, rule) in spec.egress.enumerated() {
            let rulePath = path.child("egress").index(index)
            for (portIndex, port) in rule.ports.enumerated() { errors += validate(port, path: rulePath.child("ports").index(portIndex)) }
            for (peerIndex, peer) in rule.to.enumerated() { errors += validate(peer, path: rulePath.child("to").index(peerIndex)) }
        }
        if spec.policyTypes.count > PolicyType.supported.count {
            // Kubernetes prints the Go pointer to the slice here; its value is what helps.
            errors.append(.invalid(path.child("policyTypes"), .strings(spec.policyTypes.map(\.rawValue)), "may not specify more than two policyTypes"))
            return errors
        }
        for (index, type) in spec.policyTypes.enumerated() where !PolicyType.supported.contains(type) {
            errors.append(.notSupported(path.child("policyTypes").index(index), type.rawValue, supported: PolicyType.supported.map(\.rawValue)))
        }
        return errors
    }

    static func validate(_ port: NetworkPolicyPort, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        if let proto = port.protocol {
            if ![PortProtocol.tcp, .udp, .sctp].contains(proto) {
                errors.append(.notSupported(path.child("protocol"), proto.rawValue, supported: ["TCP", "UDP", "SCTP"]))
            } else if proto == .sctp {
                errors.append(.forbidden(path.child("protocol"), PodSupport.notSupported + ": the lab's policies carry TCP and UDP"))
            }
        }
        switch port.port {
        case let .int(number)?:
            if !(1...65535).contains(number) { errors.append(.invalid(path.child("port"), .integer(Int64(number)), portRangeMessage)) }
            if let end = port.endPort {
                if end < number {
                    errors.append(.invalid(path.child("endPort"), .integer(Int64(number)), "must be greater than or equal to `port`"))
                }
                if !(1...65535).contains(end) { errors.append(.invalid(path.child("endPort"), .integer(Int64(end)), portRangeMessage)) }
            }
        case let .string(name)?:
            if let end = port.endPort {
                errors.append(.invalid(path.child("endPort"), .integer(Int64(end)), "may not be specified when `port` is non-numeric"))
            }
            errors += KubernetesNames.portNameErrors(name).map { .invalid(path.child("port"), .string(name), $0) }
        case nil:
            if let end = port.endPort {
                errors.append(.invalid(path.child("endPort"), .integer(Int64(end)), "may not be specified when `port` is not specified"))
            }
        }
        return errors
    }

    static func validate(_ peer: NetworkPolicyPeer, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        var count = 0
        if let selector = peer.podSelector {
            count += 1
            errors += selector.validate(path: path.child("podSelector"))
        }
        if let selector = peer.namespaceSelector {
            count += 1
            errors += selector.validate(path: path.child("namespaceSelector"))
        }
        if let block = peer.ipBlock {
            count += 1
            errors += validate(block, path: path.child("ipBlock"))
        }
        if count == 0 {
            errors.append(.required(path, "must specify a peer"))
        } else if count > 1, peer.ipBlock != nil {
            errors.append(.forbidden(path, "may not specify both ipBlock and another peer"))
        }
        return errors
    }

    static func validate(_ block: IPBlock, path: FieldPath) -> [FieldError] {
        if block.cidr.isEmpty { return [.required(path.child("cidr"))] }
        if isIPv6CIDR(block.cidr) { return [.forbidden(path.child("cidr"), PodSupport.notSupported + ": the lab is IPv4-only")] }
        guard let cidr = IPv4Interface(block.cidr)?.prefix else { return [.invalid(path.child("cidr"), .string(block.cidr), cidrMessage)] }
        var errors: [FieldError] = []
        for (index, text) in block.except.enumerated() {
            let field = path.child("except").index(index)
            guard let except = IPv4Interface(text)?.prefix else {
                errors.append(isIPv6CIDR(text) ? .invalid(field, .string(text), "must be a strict subset of `cidr`") : .invalid(field, .string(text), cidrMessage))
                continue
            }
            if !cidr.contains(except.network) || cidr.length >= except.length {
                errors.append(.invalid(field, .string(text), "must be a strict subset of `cidr`"))
            }
        }
        return errors
    }

    /// An IPv6 CIDR is valid to Kubernetes; podlab says why it refuses it instead of calling it malformed.
    static func isIPv6CIDR(_ text: String) -> Bool {
        guard let slash = text.firstIndex(of: "/") else { return false }
        return IPv6Address(String(text[..<slash])) != nil
    }
}
