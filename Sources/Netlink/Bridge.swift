import CMnl
import Netns
import PodNet

extension NetlinkRequest {
    /// `RTM_NEWLINK` with `NLM_F_CREATE | NLM_F_EXCL` for a device of `kind`; `data` writes its
    /// `IFLA_INFO_DATA` (nothing for kinds without settings).
    static func createLink(kind: String, name: String, object: String, mtu: UInt32?, mac: MACAddress?, masterIndex: Int32?,
                           up: Bool, data: ((inout MessageWriter) -> Void)? = nil) throws(ValidationError) -> NetlinkRequest {
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
            w.nest(LinkAttribute.IFLA_LINKINFO) { w in
                w.put(LinkInfoAttribute.IFLA_INFO_KIND, string: kind)
                if let data { w.nest(LinkInfoAttribute.IFLA_INFO_DATA, data) }
            }
        }
    }

    /// `RTM_NEWLINK` creating a bridge (`ip link add NAME type bridge`).
    public static func createBridge(name: String, mtu: UInt32? = nil, mac: MACAddress? = nil, up: Bool = false) throws(ValidationError) -> NetlinkRequest {
        try createLink(kind: "bridge", name: name, object: "bridge \"\(name)\"", mtu: mtu, mac: mac, masterIndex: nil, up: up)
    }
}

extension RouteNetlink {
    /// Creates a bridge and returns it as the kernel reports it (index, MAC).
    /// - Parameters:
    ///   - mtu: the bridge's MTU; without one the kernel follows its ports.
    ///   - mac: a fixed MAC; without one the kernel picks a random one.
    ///   - up: bring it up in the same message.
    @discardableResult
    public func createBridge(name: String, mtu: UInt32? = nil, mac: MACAddress? = nil, up: Bool = false) throws -> Link {
        try perform(.createBridge(name: name, mtu: mtu, mac: mac, up: up))
        return try link(named: name)
    }
}
