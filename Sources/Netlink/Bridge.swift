import CMnl
import Netns
import Addressing

extension NetlinkRequest {
    /// `RTM_NEWLINK` with `NLM_F_CREATE | NLM_F_EXCL` for a device of `kind`; `data` writes its
    /// `IFLA_INFO_DATA` (nothing for kinds without settings).
    static func createLink(kind: String, name: String, object: String, mtu: UInt32?, mac: MACAddress?, masterIndex: Int32?,
                           up: Bool, attributes: ((inout MessageWriter) -> Void)? = nil,
                           data: ((inout MessageWriter) -> Void)? = nil) throws(ValidationError) -> NetlinkRequest {
        try NetlinkValidation.validate(interfaceName: name)
        if let mtu { try NetlinkValidation.validate(mtu: mtu) }
        if let mac { try NetlinkValidation.validate(unicastMAC: mac) }
        if let masterIndex { try NetlinkValidation.validate(interfaceIndex: masterIndex, field: "master index") }
        var header = ifinfomsg()
        header.ifi_family = Family.AF_UNSPEC
        if up {
            header.ifi_flags = InterfaceFlags.IFF_UP
            header.ifi_change = InterfaceFlags.IFF_UP
        }
        let flags = NetlinkFlags.NLM_F_ACK | NetlinkFlags.NLM_F_CREATE | NetlinkFlags.NLM_F_EXCL
        return try NetlinkRequest(type: NetlinkType.RTM_NEWLINK, flags: flags, object: object) { w in
            w.extraHeader(header)
            w.put(LinkAttribute.IFLA_IFNAME, string: name)
            if let mtu { w.put(LinkAttribute.IFLA_MTU, u32: mtu) }
            if let mac { w.put(LinkAttribute.IFLA_ADDRESS, bytes: mac.bytes) }
            if let masterIndex { w.put(LinkAttribute.IFLA_MASTER, u32: UInt32(bitPattern: masterIndex)) }
            attributes?(&w)
            w.nest(LinkAttribute.IFLA_LINKINFO) { w in
                w.put(LinkInfoAttribute.IFLA_INFO_KIND, string: kind)
                if let data { w.nest(LinkInfoAttribute.IFLA_INFO_DATA, data) }
            }
        }
    }

    /// `RTM_NEWLINK` creating a bridge (`ip link add NAME type bridge address MAC`).
    ///
    /// The bridge always gets a fixed MAC (a random locally administered one unless `mac` is
    /// given). A bridge without one takes the lowest MAC of its ports and changes it as ports
    /// come and go; each change flushes every neighbour entry on the bridge, permanent ones
    /// included (`NETDEV_CHANGEADDR`), and leaves the pods' permanent gateway entries pointing
    /// at a MAC the bridge no longer answers to.
    public static func createBridge(name: String, mtu: UInt32? = nil, mac: MACAddress = .randomLocallyAdministered(),
                                    up: Bool = false) throws(ValidationError) -> NetlinkRequest {
        try createLink(kind: "bridge", name: name, object: "bridge \"\(name)\"", mtu: mtu, mac: mac, masterIndex: nil, up: up)
    }
}

extension NetlinkRequest {
    /// `bridge link set dev PORT hairpin on|off`: `RTM_SETLINK` of family `AF_BRIDGE` with
    /// `IFLA_PROTINFO { IFLA_BRPORT_MODE }`, so the bridge sends a port's frames back out of the
    /// same port (a container reaching itself through a DNAT). The kernel finds the port by
    /// index only.
    public static func setBridgePortHairpin(index: Int32, name: String? = nil, _ on: Bool) throws(ValidationError) -> NetlinkRequest {
        try NetlinkValidation.validate(interfaceIndex: index)
        var header = ifinfomsg()
        header.ifi_family = Family.AF_BRIDGE
        header.ifi_index = index
        return try NetlinkRequest(type: NetlinkType.RTM_SETLINK, flags: NetlinkFlags.NLM_F_ACK, object: "bridge port \(name ?? "#\(index)")") { w in
            w.extraHeader(header)
            // libmnl marks the nest NLA_F_NESTED, which the bridge needs to read the new format.
            w.nest(LinkAttribute.IFLA_PROTINFO) { w in w.put(LinkAttribute.IFLA_BRPORT_MODE, u8: on ? 1 : 0) }
        }
    }
}

extension RouteNetlink {
    /// Turns hairpin mode of a bridge port on or off.
    public func setBridgePortHairpin(index: Int32, name: String? = nil, _ on: Bool) throws {
        try perform(.setBridgePortHairpin(index: index, name: name, on))
    }
}

extension MACAddress {
    /// A random unicast, locally administered MAC (as the kernel's `eth_random_addr`).
    public static func randomLocallyAdministered() -> MACAddress {
        var bytes = (0..<6).map { _ in UInt8.random(in: 0...255) }
        bytes[0] = (bytes[0] & 0xFE) | 0x02
        return try! MACAddress(bytes: bytes)
    }
}

extension RouteNetlink {
    /// Creates a bridge and returns it as the kernel reports it (index, MAC).
    /// - Parameters:
    ///   - mtu: the bridge's MTU; without one the kernel follows its ports.
    ///   - mac: the bridge's fixed MAC (see `NetlinkRequest.createBridge`); random by default.
    ///   - up: bring it up in the same message.
    @discardableResult
    public func createBridge(name: String, mtu: UInt32? = nil, mac: MACAddress = .randomLocallyAdministered(), up: Bool = false) throws -> Link {
        try createLink(.createBridge(name: name, mtu: mtu, mac: mac, up: up), name: name)
    }

    /// Sends a create request and returns the new link. The kernel echoes the link's
    /// `RTM_NEWLINK` to the requester (`NLM_F_ECHO`), which saves an `RTM_GETLINK`; a kernel
    /// that does not echo gets the get. The echo is sent before a master is attached, so
    /// `masterIndex` may still be nil in it.
    func createLink(_ request: NetlinkRequest, name: String) throws -> Link {
        let echoed = try performEchoing(request).first { $0.type == NetlinkType.RTM_NEWLINK }
        if let echoed, let link = try? Link(parsing: echoed.payload[...]), link.name == name {
            return link
        }
        return try link(named: name)
    }
}
