import CMnl
import Netns
import Addressing

/// An IP address on an interface (`ip addr`).
public struct InterfaceAddress: Sendable, Equatable, CustomStringConvertible {
    /// The interface the address is on.
    public var interfaceIndex: Int32
    /// The address itself (`IFA_LOCAL`, or `IFA_ADDRESS` when there is no local one).
    public var address: IPAddress
    /// The subnet's prefix length (`/32` for a pod address).
    public var prefixLength: Int
    /// `host` for loopback, `link` for link-local, `universe` (global) otherwise.
    public var scope: RouteScope
    /// The IPv4 broadcast address (`IFA_BROADCAST`), when one is set.
    public var broadcast: IPv4Address?
    /// The label (`IFA_LABEL`), usually the interface name.
    public var label: String?
    /// `IFA_F_*` flags; see `InterfaceAddress.noDAD`.
    public var flags: UInt32

    /// `IFA_F_NODAD`: an IPv6 address usable at once, without duplicate address detection.
    public static let noDAD = AddressFlagBits.IFA_F_NODAD
    /// `IFA_F_PERMANENT`: set by the kernel on addresses configured by hand.
    public static let permanent = AddressFlagBits.IFA_F_PERMANENT

    /// An address of either family on interface `interfaceIndex`.
    public init(interfaceIndex: Int32, address: IPAddress, prefixLength: Int, scope: RouteScope = .universe,
                broadcast: IPv4Address? = nil, label: String? = nil, flags: UInt32 = 0) {
        self.interfaceIndex = interfaceIndex
        self.address = address
        self.prefixLength = prefixLength
        self.scope = scope
        self.broadcast = broadcast
        self.label = label
        self.flags = flags
    }

    /// An IPv4 address with its prefix length, such as `10.244.1.2/32`.
    public init(interfaceIndex: Int32, _ interface: IPv4Interface, scope: RouteScope = .universe, broadcast: IPv4Address? = nil) {
        self.init(interfaceIndex: interfaceIndex, address: .v4(interface.address), prefixLength: interface.length,
                  scope: scope, broadcast: broadcast)
    }

    /// Parses the payload of an `RTM_NEWADDR` message: `struct ifaddrmsg` (8 B) and attributes.
    public init(parsing payload: ArraySlice<UInt8>) throws {
        let reader = PayloadReader(payload: payload)
        guard reader.has(MemoryLayout<ifaddrmsg>.size) else { throw malformed("RTM_NEWADDR", payload) }
        var local: IPAddress?
        var address: IPAddress?
        var broadcast: IPv4Address?
        var label: String?
        var flags = UInt32(reader.u8(2))
        for attribute in reader.attributes(after: MemoryLayout<ifaddrmsg>.size) {
            switch attribute.type {
            case AddressAttribute.IFA_LOCAL: local = IPAddress(attribute: attribute)
            case AddressAttribute.IFA_ADDRESS: address = IPAddress(attribute: attribute)
            case AddressAttribute.IFA_LABEL: label = attribute.string
            case AddressAttribute.IFA_FLAGS: flags = attribute.u32 ?? flags
            case AddressAttribute.IFA_BROADCAST:
                if case let .v4(value)? = IPAddress(attribute: attribute) { broadcast = value }
            default: break
            }
        }
        guard let value = local ?? address else {
            throw KernelError(operation: "parse", object: "RTM_NEWADDR", errno: .invalidArgument, detail: "address message without IFA_LOCAL or IFA_ADDRESS")
        }
        self.init(interfaceIndex: Int32(bitPattern: reader.u32(4)), address: value, prefixLength: Int(reader.u8(1)),
                  scope: RouteScope(rawValue: reader.u8(3)), broadcast: broadcast, label: label, flags: flags)
    }

    public var description: String {
        var text = "\(address)/\(prefixLength)"
        if let broadcast { text += " brd \(broadcast)" }
        text += " scope \(scope) dev #\(interfaceIndex)"
        return text
    }

    func validate() throws(ValidationError) {
        try NetlinkValidation.validate(interfaceIndex: interfaceIndex)
        try NetlinkValidation.validate(prefixLength: prefixLength, for: address)
        if broadcast != nil, case .v6 = address {
            throw ValidationError(field: "broadcast", value: "\(broadcast!)", reason: "IPv6 addresses have no broadcast address")
        }
        if let label { try NetlinkValidation.validate(interfaceName: label, field: "address label") }
    }

    fileprivate func header() -> ifaddrmsg {
        var message = ifaddrmsg()
        message.ifa_family = address.family
        message.ifa_prefixlen = UInt8(prefixLength)
        message.ifa_flags = UInt8(truncatingIfNeeded: flags)
        message.ifa_scope = scope.rawValue
        message.ifa_index = UInt32(bitPattern: interfaceIndex)
        return message
    }

    fileprivate func object(_ interfaceName: String?) -> String {
        "address \(address)/\(prefixLength) on " + (interfaceName.map { "\"\($0)\"" } ?? "link #\(interfaceIndex)")
    }
}

extension NetlinkRequest {
    static func writeAddress(_ address: InterfaceAddress, mode: WriteMode, interfaceName: String?) throws(ValidationError) -> NetlinkRequest {
        try address.validate()
        return try NetlinkRequest(type: NetlinkType.RTM_NEWADDR, flags: mode.flags, object: address.object(interfaceName)) { w in
            w.extraHeader(address.header())
            // As `ip addr add` does for an address without a peer: local and address are the same.
            w.put(AddressAttribute.IFA_LOCAL, bytes: address.address.bytes)
            w.put(AddressAttribute.IFA_ADDRESS, bytes: address.address.bytes)
            if let broadcast = address.broadcast { w.put(AddressAttribute.IFA_BROADCAST, bytes: broadcast.octets) }
            if let label = address.label { w.put(AddressAttribute.IFA_LABEL, string: label) }
            if address.flags > 0xFF { w.put(AddressAttribute.IFA_FLAGS, u32: address.flags) }
        }
    }

    /// `RTM_NEWADDR` with `NLM_F_EXCL` (`ip addr add`); EEXIST if the address is there.
    /// - Parameter interfaceName: labels errors only.
    public static func addAddress(_ address: InterfaceAddress, interfaceName: String? = nil) throws(ValidationError) -> NetlinkRequest {
        try writeAddress(address, mode: .create, interfaceName: interfaceName)
    }

    /// `RTM_NEWADDR` with `NLM_F_REPLACE` (`ip addr replace`).
    public static func replaceAddress(_ address: InterfaceAddress, interfaceName: String? = nil) throws(ValidationError) -> NetlinkRequest {
        try writeAddress(address, mode: .replace, interfaceName: interfaceName)
    }

    /// `RTM_DELADDR` (`ip addr del`).
    public static func deleteAddress(_ address: InterfaceAddress, interfaceName: String? = nil) throws(ValidationError) -> NetlinkRequest {
        try address.validate()
        return try NetlinkRequest(type: NetlinkType.RTM_DELADDR, flags: NetlinkFlags.NLM_F_ACK, object: address.object(interfaceName)) { w in
            w.extraHeader(address.header())
            w.put(AddressAttribute.IFA_LOCAL, bytes: address.address.bytes)
            w.put(AddressAttribute.IFA_ADDRESS, bytes: address.address.bytes)
        }
    }

    /// `RTM_GETADDR` dump of one family's addresses.
    public static func dumpAddresses(family: AddressFamily) throws(ValidationError) -> NetlinkRequest {
        var header = ifaddrmsg()
        header.ifa_family = family.rawValue
        return try NetlinkRequest(type: NetlinkType.RTM_GETADDR, flags: NetlinkFlags.NLM_F_DUMP, object: "addresses") { w in
            w.extraHeader(header)
        }
    }
}

extension RouteNetlink {
    /// Adds an address (`ip addr add`); EEXIST if it is already there.
    public func addAddress(_ address: InterfaceAddress, interfaceName: String? = nil) throws {
        try perform(.addAddress(address, interfaceName: interfaceName))
    }

    /// Adds or updates an address (`ip addr replace`).
    public func replaceAddress(_ address: InterfaceAddress, interfaceName: String? = nil) throws {
        try perform(.replaceAddress(address, interfaceName: interfaceName))
    }

    /// Removes an address (`ip addr del`); EADDRNOTAVAIL if it is not there.
    public func deleteAddress(_ address: InterfaceAddress, interfaceName: String? = nil) throws {
        try perform(.deleteAddress(address, interfaceName: interfaceName))
    }

    /// The addresses of `family`, on one interface when `interfaceIndex` is given.
    public func addresses(family: AddressFamily = .ipv4, interfaceIndex: Int32? = nil) throws -> [InterfaceAddress] {
        try fetch(.dumpAddresses(family: family))
            .filter { $0.type == NetlinkType.RTM_NEWADDR }
            .map { try InterfaceAddress(parsing: $0.payload[...]) }
            .filter { interfaceIndex == nil || $0.interfaceIndex == interfaceIndex }
    }
}
