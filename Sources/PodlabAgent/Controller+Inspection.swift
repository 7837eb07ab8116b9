import Foundation
import Netlink
import Netns
import PodNet

extension Controller: InspectionBackend {
    public func inspectNetwork(kind: String, name: String?, namespace: String) async throws -> Data {
        let inventory = try inspectionInventory()
        let kinds: Set<NamespaceKind>
        if kind == "all" {
            if name != nil { throw APIStatus.badRequest("a name needs kind=pod or kind=node") }
            kinds = Set(NamespaceKind.allCases)
        } else if let wanted = NamespaceKind(rawValue: kind) {
            if name != nil, wanted == .underlay { throw APIStatus.badRequest("the underlay has no name: ask for kind=underlay without one") }
            kinds = [wanted]
        } else {
            throw APIStatus.badRequest("unknown kind \"\(kind)\": use pod, node, underlay or all")
        }
        return try Controller.encode(try inspect(inventory, kinds: kinds, name: name, namespace: namespace))
    }

    public func meshStatus(namespace: String?) async throws -> Data {
        try Controller.encode(meshStatusReport(namespace: namespace))
    }

    public func ipamReport() async throws -> Data {
        var report = IPAMReport(try inspectionInventory())
        report.services = services.count
        return try Controller.encode(report)
    }

    public func whois(address text: String, from: String?, namespace: String) async throws -> Data {
        guard let address = IPAddress(text) else {
            throw APIStatus.badRequest("\"\(text)\" is not an IP address")
        }
        let inventory = try inspectionInventory()
        var source: PodFacts?
        if let from {
            guard let pod = inventory.pod(namespace: namespace, name: from) else { throw APIStatus.notFound(resource: "pods", name: from) }
            guard case .v4 = address else {
                throw APIStatus.badRequest("paths are traced for IPv4 destinations only; \(address) is IPv6")
            }
            source = pod
        }
        let network = try inspect(inventory, kinds: Set(NamespaceKind.allCases), name: nil, namespace: namespace)
        var owner = AddressOwner.find(address, inventory: inventory, network: network)
        var path: PacketPath?
        if owner.kind == .service, case let .v4(destination) = address {
            // A service's address: its name, and with a source, what its node's rules do to it.
            guard let service = services.values.first(where: { $0.spec.clusterIP == destination.description }) else {
                return try Controller.encode(WhoisAnswer(lab: paths.lab, address: address, owner: owner))
            }
            owner.detail = "\(service.qualifiedName) (\(ServiceTables.ports(service.spec.ports)))"
            var traces: [String]?
            if let from, let pod = pods["\(namespace)/\(from)"] {
                traces = try service.spec.ports.flatMap { port in
                    try serviceTraces(from: pod, to: destination, port: UInt16(clamping: port.port),
                                      protocol: port.effectiveProtocol == .udp ? .udp : .tcp).map(\.description)
                }
            }
            return try Controller.encode(WhoisAnswer(lab: paths.lab, address: address, owner: owner, serviceTraces: traces))
        }
        if let source, case let .v4(destination) = address {
            do {
                path = try PacketPath.trace(from: source, to: destination, inventory: inventory, network: network)
            } catch {
                throw APIStatus.badRequest(error.description)
            }
        }
        return try Controller.encode(WhoisAnswer(lab: paths.lab, address: address, owner: owner, path: path))
    }

    /// How Service rules treat a packet from `pod` to `destination:port`: first its own node's
    /// (the chains, map elements and endpoints it meets, and the verdict, over the same ruleset
    /// value the node is programmed with), then, for another node's address that the first
    /// node leaves unchanged (a NodePort), that node's, where the packet arrives.
    func serviceTraces(from pod: Pod, to destination: IPv4Address, port: UInt16, protocol proto: ServiceProtocol) throws -> [ServiceTrace] {
        guard let plan, let node = plan.node(named: pod.spec.nodeName) else {
            throw APIStatus.badRequest("pod \(pod.qualifiedName) is on no node of the lab")
        }
        guard let source = IPv4Address(pod.status.podIP) else {
            throw APIStatus.badRequest("pod \(pod.qualifiedName) has no address yet")
        }
        let table = ServiceTable(services: services.values, slices: endpointSlices.values, pods: pods.values)
        let packet = ServiceTrace.Packet(source: source, destination: destination, port: port, protocol: proto)
        func trace(on node: NodePlan, entry: ServiceTrace.Entry) throws -> ServiceTrace {
            let serviceNode = ServiceNode(node, in: plan)
            do {
                return try ServiceTrace.trace(packet, through: ServiceRules.generate(for: table, node: serviceNode), node: serviceNode,
                                              table: table, entry: entry)
            } catch {
                throw APIStatus.badRequest("\(error)")
            }
        }
        // A host-network pod's packets leave through the node's own output hook.
        let first = try trace(on: node, entry: pod.spec.hostNetwork ? .output : .prerouting)
        if case .unchanged = first.verdict, let target = plan.nodes.first(where: { $0.underlayAddress.address == destination }), target.name != node.name {
            return [first, try trace(on: target, entry: .prerouting)]
        }
        return [first]
    }

    /// `GET /podlab/v1/trace?from=POD&namespace=NS&to=IP&port=P&protocol=tcp|udp`.
    public func trace(from: String, namespace: String, to: String, port: String, protocol proto: String) async throws -> Data {
        guard let pod = pods["\(namespace)/\(from)"] else { throw APIStatus.notFound(resource: "pods", name: from) }
        guard let destination = IPv4Address(to) else { throw APIStatus.badRequest("\"\(to)\" is not an IPv4 address") }
        guard let number = UInt16(port), number > 0 else { throw APIStatus.badRequest("\"\(port)\" is not a port (1-65535)") }
        guard let transport = ServiceProtocol(rawValue: proto.lowercased()) else {
            throw APIStatus.badRequest("\"\(proto)\" is not a protocol a Service carries: use tcp or udp")
        }
        let traces = try serviceTraces(from: pod, to: destination, port: number, protocol: transport)
        let last = traces[traces.count - 1]
        let targets: [(address: IPv4Address, port: UInt16)] = switch last.verdict {
        case .dnat(let targets): targets.map { ($0.address, $0.port) }
        case .unchanged: [(destination, number)]
        case .reject, .drop: []
        }
        let policies = policyTrace(from: pod, to: targets, protocol: transport)
        let text = traces.map(\.description).joined(separator: "\nthen, arriving at node \(last.node):\n") + (policies.text.isEmpty ? "" : "\n" + policies.text)
        let value: JSONValue = .object(["text": .string(text),
                                        "service": traces.compactMap(\.service).first.map(JSONValue.string) ?? .null,
                                        "verdict": .string(last.verdict.description),
                                        "policies": policies.json])
        return Data(value.jsonText(indent: 0).utf8)
    }

    // MARK: Reading

    /// The plan, pods and allocations as the inspection types see them.
    func inspectionInventory() throws -> LabInventory {
        guard let plan else {
            throw APIStatus(message: "the lab is not ready (\(phase): \(message))", reason: "ServiceUnavailable", code: 503)
        }
        let facts = pods.values.sorted { ($0.metadata.namespace, $0.metadata.name) < ($1.metadata.namespace, $1.metadata.name) }.map { pod in
            PodFacts(namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid, ip: IPv4Address(pod.status.podIP),
                     node: pod.spec.nodeName, netns: PodRuntime.network(lab: paths.lab, pod: pod).namespace,
                     containers: pod.spec.containers.map(\.name), phase: pod.status.phase?.rawValue ?? "Pending",
                     hostNetwork: pod.spec.hostNetwork)
        }
        let allocations = try store.read { try $0.allAllocations() }.compactMap { row in
            IPv4Address(row.address).map { IPAllocation(ip: $0, node: row.node, owner: row.owner) }
        }
        return LabInventory(plan: plan, pods: facts, allocations: allocations)
    }

    /// Reads the namespaces of `kinds` (one of them when `name` is given) from the kernel.
    /// Pods whose namespace is not there (yet, or any more) are left out of a listing; a named
    /// one is an error.
    func inspect(_ inventory: LabInventory, kinds: Set<NamespaceKind>, name: String?, namespace: String) throws -> NetworkInspection {
        let plan = inventory.plan
        var wanted: [(name: String, kind: NamespaceKind, node: String?, pod: String?)] = []
        if kinds.contains(.underlay) { wanted.append((plan.underlayNamespace, .underlay, nil, nil)) }
        if kinds.contains(.node) {
            if let name, plan.node(named: name) == nil { throw APIStatus.notFound(resource: "nodes", name: name) }
            for node in plan.nodes where name == nil || node.name == name {
                wanted.append((node.namespace, .node, node.name, nil))
            }
        }
        if kinds.contains(.pod) {
            if let name {
                guard let pod = inventory.pod(namespace: namespace, name: name) else { throw APIStatus.notFound(resource: "pods", name: name) }
                guard NetworkNamespace.exists(pod.netns) else {
                    throw APIStatus(message: "pod \"\(name)\" has no network namespace yet (\(pod.phase))", reason: "BadRequest", code: 400)
                }
                // A host-network pod's interfaces are its node's: shown as the node's namespace.
                wanted.append(pod.hostNetwork ? (pod.netns, .node, pod.node, nil) : (pod.netns, .pod, pod.node, pod.qualifiedName))
            } else {
                // Host-network pods have no namespace of their own: their node's is listed as a node.
                for pod in inventory.pods.sorted(by: { ($0.node, $0.qualifiedName) < ($1.node, $1.qualifiedName) }) where !pod.hostNetwork {
                    wanted.append((pod.netns, .pod, pod.node, pod.qualifiedName))
                }
            }
        }
        var snapshots: [NamespaceSnapshot] = []
        for entry in wanted {
            do {
                snapshots.append(try NamespaceReader.snapshot(entry.name, kind: entry.kind, node: entry.node, pod: entry.pod))
            } catch Errno.noSuchFileOrDirectory where entry.kind == .pod && name == nil {
                continue  // a pod being created or deleted while we read
            }
        }
        return NetworkInspection(lab: paths.lab, namespaces: snapshots)
    }

    static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}
