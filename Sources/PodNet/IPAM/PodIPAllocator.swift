/// Hands out pod addresses from one node's pod CIDR, the way CNI's host-local plugin does:
/// never the network address, the gateway (the first host, on the node's bridge) or the
/// broadcast address; each new address is the next free one after the last handed out,
/// wrapping around, so an address just released is not reused at once (a stale connection to
/// a deleted pod does not reach its successor). An address is never held by two owners.
///
/// A value type: the agent stores `allocations` and `lastAllocated` and rebuilds the
/// allocator with `restore(allocations:lastAllocated:)` after a restart. The search order is
/// `AllocationOrder`'s, which the CNI plugin's allocator uses too.
public struct PodIPAllocator: Hashable, Sendable {
    /// The node whose pod CIDR this is (for messages).
    public let node: String
    /// The node's pod CIDR; pods get addresses from its third host on.
    public let podCIDR: IPv4Prefix
    /// Address → owner (for example `default/web` or a pod UID).
    public private(set) var allocations: [IPv4Address: String]
    /// The address handed out most recently; the search for the next one starts after it.
    public private(set) var lastAllocated: IPv4Address?

    /// An empty allocator for `node`'s pod CIDR.
    public init(node: String, podCIDR: IPv4Prefix) {
        self.node = node
        self.podCIDR = podCIDR
        self.allocations = [:]
        self.lastAllocated = nil
    }

    /// The gateway address (the pod CIDR's first host), never given to a pod.
    public var gateway: IPv4Address? { podCIDR.length <= 30 ? podCIDR.host(1) : nil }

    /// The addresses pods can get: the hosts of the CIDR without the gateway. Empty for /31 and /32.
    var usable: ClosedRange<UInt32>? {
        guard podCIDR.length <= 30 else { return nil }
        // network + 2 ... broadcast - 1
        return (podCIDR.network.value + 2)...(podCIDR.lastAddress.value - 1)
    }

    /// How many pods the CIDR can hold (253 for a /24).
    public var capacity: Int { usable.map { Int($0.upperBound - $0.lowerBound) + 1 } ?? 0 }

    /// How many addresses are still free.
    public var available: Int { capacity - allocations.count }

    /// The address `owner` holds, if any.
    public func address(of owner: String) -> IPv4Address? {
        allocations.first { $0.value == owner }?.key
    }

    /// Why `address` can never be allocated, if it cannot: `the network address`, `the
    /// gateway`, `the broadcast address`.
    public func reservation(of address: IPv4Address) -> String? {
        if address == podCIDR.network { return "the network address" }
        if address == gateway { return "the gateway" }
        if address == podCIDR.lastAddress { return "the broadcast address" }
        return nil
    }

    /// Gives `owner` the next free address after the last one handed out. If `owner` already
    /// holds an address, that address is returned (so a retried request is harmless).
    public mutating func allocate(for owner: String) throws(IPAMError) -> IPv4Address {
        if let held = address(of: owner) { return held }
        // The order is the CNI plugin's too (`AllocationOrder`); the state is the agent's store's.
        guard let usable, let candidate = AllocationOrder.nextFree(
            in: [IPv4Address(usable.lowerBound)...IPv4Address(usable.upperBound)], after: lastAllocated,
            where: { allocations[$0] == nil })
        else { throw .exhausted(node: node, podCIDR: podCIDR, inUse: allocations.count) }
        allocations[candidate] = owner
        lastAllocated = candidate
        return candidate
    }

    /// Gives `owner` exactly `address` (a pod that asks for a fixed IP, or re-adoption).
    public mutating func allocate(specific address: IPv4Address, for owner: String) throws(IPAMError) -> IPv4Address {
        try check(address)
        if let holder = allocations[address] {
            if holder == owner { return address }
            throw .alreadyAllocated(address: address, owner: holder, node: node)
        }
        if let held = self.address(of: owner) {
            throw .ownerHasAddress(owner: owner, address: held, node: node)
        }
        allocations[address] = owner
        lastAllocated = address
        return address
    }

    /// Frees `address`; returns who held it.
    @discardableResult
    public mutating func release(_ address: IPv4Address) -> String? {
        allocations.removeValue(forKey: address)
    }

    /// Frees the address `owner` holds; returns it.
    @discardableResult
    public mutating func release(owner: String) -> IPv4Address? {
        guard let held = address(of: owner) else { return nil }
        allocations[held] = nil
        return held
    }

    /// Replaces the state with one read from the store, after checking it: every address inside
    /// the CIDR and not reserved, no owner twice. On error nothing changes.
    public mutating func restore(allocations: [IPv4Address: String], lastAllocated: IPv4Address?) throws(IPAMError) {
        var owners: [String: IPv4Address] = [:]
        for address in allocations.keys.sorted() {
            try check(address)
            let owner = allocations[address] ?? ""
            if let other = owners[owner] { throw .ownerHasAddress(owner: owner, address: other, node: node) }
            owners[owner] = address
        }
        if let lastAllocated, !podCIDR.contains(lastAllocated) {
            throw .outsideCIDR(address: lastAllocated, node: node, podCIDR: podCIDR)
        }
        self.allocations = allocations
        self.lastAllocated = lastAllocated
    }

    private func check(_ address: IPv4Address) throws(IPAMError) {
        guard podCIDR.contains(address) else { throw .outsideCIDR(address: address, node: node, podCIDR: podCIDR) }
        if let reason = reservation(of: address) {
            throw .reserved(address: address, reason: reason, node: node, podCIDR: podCIDR)
        }
        if podCIDR.length > 30 { throw .exhausted(node: node, podCIDR: podCIDR, inUse: allocations.count) }
    }
}

extension PodIPAllocator: Codable {
    private enum CodingKeys: String, CodingKey {
        case node, podCIDR, allocations, lastAllocated
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        node = try container.decode(String.self, forKey: .node)
        podCIDR = try container.decode(IPv4Prefix.self, forKey: .podCIDR)
        let stored = try container.decode([String: String].self, forKey: .allocations)
        var allocations: [IPv4Address: String] = [:]
        for (text, owner) in stored {
            guard let address = IPv4Address(text) else {
                throw DecodingError.dataCorruptedError(forKey: .allocations, in: container, debugDescription: "invalid IP address \"\(text)\"")
            }
            allocations[address] = owner
        }
        let lastAllocated = try container.decodeIfPresent(IPv4Address.self, forKey: .lastAllocated)
        self.allocations = [:]
        self.lastAllocated = nil
        do {
            try restore(allocations: allocations, lastAllocated: lastAllocated)
        } catch {
            throw DecodingError.dataCorruptedError(forKey: .allocations, in: container, debugDescription: error.description)
        }
    }

    /// Allocations are written as `{"10.244.1.2": "default/web"}`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(node, forKey: .node)
        try container.encode(podCIDR, forKey: .podCIDR)
        try container.encode(Dictionary(uniqueKeysWithValues: allocations.map { ($0.key.description, $0.value) }), forKey: .allocations)
        try container.encodeIfPresent(lastAllocated, forKey: .lastAllocated)
    }
}

/// Why an address could not be allocated or restored.
public enum IPAMError: Error, Hashable, Sendable, CustomStringConvertible {
    case exhausted(node: String, podCIDR: IPv4Prefix, inUse: Int)
    case outsideCIDR(address: IPv4Address, node: String, podCIDR: IPv4Prefix)
    case reserved(address: IPv4Address, reason: String, node: String, podCIDR: IPv4Prefix)
    case alreadyAllocated(address: IPv4Address, owner: String, node: String)
    case ownerHasAddress(owner: String, address: IPv4Address, node: String)

    public var description: String {
        switch self {
        case let .exhausted(node, podCIDR, inUse):
            "no free IP addresses in pod CIDR \(podCIDR) of node \"\(node)\" (\(inUse) in use)"
        case let .outsideCIDR(address, node, podCIDR):
            "\(address) is not in pod CIDR \(podCIDR) of node \"\(node)\""
        case let .reserved(address, reason, node, podCIDR):
            "\(address) is reserved in pod CIDR \(podCIDR) of node \"\(node)\": it is \(reason)"
        case let .alreadyAllocated(address, owner, node):
            "\(address) is already allocated to \"\(owner)\" on node \"\(node)\""
        case let .ownerHasAddress(owner, address, node):
            "\"\(owner)\" already holds \(address) on node \"\(node)\""
        }
    }
}
