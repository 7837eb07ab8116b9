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

    public func ipamReport() async throws -> Data {
        try Controller.encode(IPAMReport(try inspectionInventory()))
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
        let owner = AddressOwner.find(address, inventory: inventory, network: network)
        var path: PacketPath?
        if let source, case let .v4(destination) = address {
            do {
                path = try PacketPath.trace(from: source, to: destination, inventory: inventory, network: network)
            } catch {
                throw APIStatus.badRequest(error.description)
            }
        }
        return try Controller.encode(WhoisAnswer(lab: paths.lab, address: address, owner: owner, path: path))
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
