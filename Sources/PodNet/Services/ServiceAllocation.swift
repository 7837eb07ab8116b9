/// Which virtual addresses and node ports the lab's services hold, and the choice of new ones,
/// as the API server's allocators make it: a requested value must be free and in range; a
/// dynamic one is picked at random, from the upper part of the range first, so the lower part
/// (10.96.0.1 … 10.96.0.255 in a /16, where `kube-dns` asks for .10) stays for requests. The
/// first address is `default/kubernetes`'s alone (`APIServerService`).
public struct ServiceAllocation: Sendable {
    public static let nodePortRange: ClosedRange<Int32> = 30000...32767

    public let serviceCIDR: IPv4Prefix
    /// Address → the owning service (`namespace/name`).
    public private(set) var clusterIPs: [IPv4Address: String] = [:]
    /// Node port → the owning service. One number is one service's (for all its protocols).
    public private(set) var nodePorts: [Int32: String] = [:]
    /// The service CIDR's first address, kept for `default/kubernetes` (`APIServerService`)
    /// whether or not that Service exists at the moment (it is made again when deleted).
    public let reservedAddress: IPv4Address?

    /// The allocations of `services` (as stored: their addresses and ports already assigned).
    public init(serviceCIDR: IPv4Prefix, services: some Sequence<Service> = [Service]()) {
        self.serviceCIDR = serviceCIDR
        reservedAddress = APIServerService.address(serviceCIDR: serviceCIDR)
        for service in services { record(service) }
    }

    mutating func record(_ service: Service) {
        let owner = service.qualifiedName
        for text in service.spec.clusterIPs + [service.spec.clusterIP] {
            if let address = IPv4Address(text) { clusterIPs[address] = owner }
        }
        for port in service.spec.ports where port.nodePort != 0 { nodePorts[port.nodePort] = owner }
    }

    /// Frees what `service` holds (as recorded: the stored version), looking up only its own
    /// addresses and ports.
    public mutating func release(_ service: Service) {
        let owner = service.qualifiedName
        for text in service.spec.clusterIPs + [service.spec.clusterIP] {
            if let address = IPv4Address(text), clusterIPs[address] == owner { clusterIPs[address] = nil }
        }
        for port in service.spec.ports where port.nodePort != 0 && nodePorts[port.nodePort] == owner { nodePorts[port.nodePort] = nil }
    }

    /// Records `service` (as stored) in place of `old`.
    public mutating func replace(_ old: Service?, with service: Service) {
        if let old { release(old) }
        record(service)
    }

    /// The addresses the range may hand out: all but its network and broadcast addresses.
    var usableAddresses: ClosedRange<UInt32>? {
        guard serviceCIDR.size > 2 else { return nil }
        return (serviceCIDR.network.value + 1)...(serviceCIDR.lastAddress.value - 1)
    }

    /// Kubernetes' reserved lower band for requested addresses: min(max(16, size/16), 256).
    var staticAddressBand: UInt32 {
        UInt32(min(max(16, (serviceCIDR.size - 2) / 16), 256))
    }

    /// Gives `service` its virtual address (unless headless) and its node ports (NodePort
    /// services), keeping what `old` (the stored version, on update) already held, and records
    /// them. Errors are the API server's: 422 naming the field for a taken or out-of-range
    /// request, 500 for a full range. Nothing is recorded when it throws.
    public mutating func assign<R: RandomNumberGenerator>(_ service: inout Service, old: Service? = nil, using random: inout R) throws(APIStatus) {
        try allocate(&service, old: old, using: &random)
        replace(old, with: service)
    }

    /// What `assign` gives `service`, without recording it (a dry run, or a service recorded with
    /// `replace(_:with:)` once stored). The tables are only read: nothing is copied, which at
    /// 10 000 services would cost more than the rest of a create.
    public func allocate<R: RandomNumberGenerator>(_ service: inout Service, old: Service? = nil, using random: inout R) throws(APIStatus) {
        // What this call claims, on top of the recorded tables (where `old`'s holdings are the same owner's).
        var candidate = ServiceAllocation(serviceCIDR: serviceCIDR)
        let owner = service.qualifiedName
        var spec = service.spec
        var errors: [FieldError] = []

        if !service.isHeadless {
            if spec.clusterIP.isEmpty, let kept = old?.spec.clusterIP, !kept.isEmpty { spec.clusterIP = kept }
            if spec.clusterIP.isEmpty {
                guard let address = randomFreeAddress(using: &random) else {
                    throw APIStatus.internalError("failed to allocate a serviceIP: range is full")
                }
                spec.clusterIP = address.description
            } else if let address = IPv4Address(spec.clusterIP) {
                let field = FieldPath("spec").child("clusterIPs")
                if !serviceCIDR.contains(address) || !(usableAddresses?.contains(address.value) ?? false) {
                    errors.append(.invalid(field, .strings([spec.clusterIP]),
                                           "failed to allocate IP \(address): the provided IP (\(address)) is not in the valid range. The range of valid IPs is \(serviceCIDR)"))
                } else if let holder = clusterIPs[address] ?? holder(ofReserved: address), holder != owner {
                    errors.append(.invalid(field, .strings([spec.clusterIP]), "failed to allocate IP \(address): provided IP is already allocated"))
                }
            }
            spec.clusterIPs = [spec.clusterIP]
        } else {
            spec.clusterIPs = [ServiceSpec.noneClusterIP]
        }

        if spec.effectiveType == .nodePort {
            // A port given on the old version keeps its node port when the update leaves it out.
            for index in spec.ports.indices where spec.ports[index].nodePort == 0 {
                let port = spec.ports[index]
                if let kept = old?.spec.ports.first(where: { $0.port == port.port && $0.effectiveProtocol == port.effectiveProtocol && $0.nodePort != 0 }) {
                    spec.ports[index].nodePort = kept.nodePort
                }
            }
            var claimed: [Int32: String] = [:]
            for (index, port) in spec.ports.enumerated() where port.nodePort != 0 {
                let field = FieldPath("spec").child("ports").index(index).child("nodePort")
                if !Self.nodePortRange.contains(port.nodePort) {
                    errors.append(.invalid(field, .integer(Int64(port.nodePort)),
                                           "provided port is not in the valid range. The range of valid ports is \(Self.nodePortRange.lowerBound)-\(Self.nodePortRange.upperBound)"))
                } else if (nodePorts[port.nodePort].map { $0 != owner } ?? false)
                            || (claimed[port.nodePort].map { $0 == port.effectiveProtocol.rawValue } ?? false) {
                    errors.append(.invalid(field, .integer(Int64(port.nodePort)), "provided port is already allocated"))
                }
                claimed[port.nodePort] = port.effectiveProtocol.rawValue
                candidate.nodePorts[port.nodePort] = owner
            }
            if errors.isEmpty {
                for index in spec.ports.indices where spec.ports[index].nodePort == 0 {
                    // The same port number under TCP and UDP shares one node port, as Kubernetes does.
                    if let sibling = spec.ports.first(where: { $0.port == spec.ports[index].port && $0.nodePort != 0 }),
                       sibling.effectiveProtocol != spec.ports[index].effectiveProtocol {
                        spec.ports[index].nodePort = sibling.nodePort
                        continue
                    }
                    guard let port = randomFreeNodePort(using: &random, alsoTaken: candidate.nodePorts) else {
                        throw APIStatus.internalError("failed to allocate a nodePort: range is full")
                    }
                    spec.ports[index].nodePort = port
                    candidate.nodePorts[port] = owner
                }
            }
        } else {
            for index in spec.ports.indices { spec.ports[index].nodePort = 0 }
        }
        guard errors.isEmpty else { throw InvalidObjectError(kind: Service.kind, name: service.metadata.name, errors: errors).status }
        service.spec = spec
    }

    /// Who `address` is kept for when it is the reserved one.
    func holder(ofReserved address: IPv4Address) -> String? {
        address == reservedAddress ? APIServerService.qualifiedName : nil
    }

    func randomFreeAddress<R: RandomNumberGenerator>(using random: inout R) -> IPv4Address? {
        guard let usable = usableAddresses else { return nil }
        let band = min(staticAddressBand, UInt32(usable.count))
        let lower = usable.lowerBound...(usable.lowerBound + band - 1)
        let upper: ClosedRange<UInt32>? = usable.lowerBound + band <= usable.upperBound ? (usable.lowerBound + band)...usable.upperBound : nil
        for range in [upper, lower].compactMap({ $0 }) {
            if let value = Self.randomFree(in: range, using: &random,
                                           isTaken: { clusterIPs[IPv4Address($0)] != nil || $0 == reservedAddress?.value }) {
                return IPv4Address(value)
            }
        }
        return nil
    }

    func randomFreeNodePort<R: RandomNumberGenerator>(using random: inout R, alsoTaken: [Int32: String] = [:]) -> Int32? {
        let range = Self.nodePortRange
        let size = UInt32(range.upperBound - range.lowerBound + 1)
        let band = UInt32(min(max(16, Int(size) / 32), 128))
        let base = UInt32(range.lowerBound)
        for part in [(base + band)...(base + size - 1), base...(base + band - 1)] {
            if let value = Self.randomFree(in: part, using: &random, isTaken: { nodePorts[Int32($0)] != nil || alsoTaken[Int32($0)] != nil }) { return Int32(value) }
        }
        return nil
    }

    /// A random value of `range` that is not taken: a random start, then the next free one
    /// (wrapping), as Kubernetes' bitmap allocator scans.
    static func randomFree<R: RandomNumberGenerator>(in range: ClosedRange<UInt32>, using random: inout R, isTaken: (UInt32) -> Bool) -> UInt32? {
        let count = UInt64(range.upperBound - range.lowerBound) + 1
        let start = UInt64.random(in: 0..<count, using: &random)
        for step in 0..<count {
            let value = range.lowerBound + UInt32((start + step) % count)
            if !isTaken(value) { return value }
        }
        return nil
    }
}
