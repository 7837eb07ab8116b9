import CMnl
import Netns
import Addressing

/// A VXLAN device to create (`ip link add NAME type vxlan id ID local … dstport … dev …`).
public struct VXLANConfiguration: Sendable, Equatable {
    /// The device's name.
    public var name: String
    /// VXLAN network identifier, 0–16 777 215.
    public var id: UInt32
    /// Source address of the tunnel (`local`).
    public var local: IPv4Address?
    /// Default remote or multicast group (`remote`/`group`); nil for FDB-driven unicast.
    public var group: IPv4Address?
    /// UDP destination port (`dstport`); the IANA port by default.
    public var port: UInt16
    /// The underlay device (`dev`), by index.
    public var underlyingIndex: Int32?
    /// Learn remote MACs from received packets; podlab turns it off and programs the FDB.
    public var learning: Bool
    /// TTL of the outer packets; nil leaves the kernel default (the route's hop limit).
    public var ttl: UInt8?
    /// MTU; leave room for the 50-byte VXLAN header.
    public var mtu: UInt32?
    /// A fixed MAC.
    public var mac: MACAddress?
    /// A bridge to attach the device to.
    public var masterIndex: Int32?
    /// Bring it up at creation.
    public var up: Bool

    /// A VXLAN device; learning on and port 4789 unless told otherwise.
    public init(name: String, id: UInt32, local: IPv4Address? = nil, group: IPv4Address? = nil, port: UInt16 = 4789,
                underlyingIndex: Int32? = nil, learning: Bool = true, ttl: UInt8? = nil, mtu: UInt32? = nil,
                mac: MACAddress? = nil, masterIndex: Int32? = nil, up: Bool = false) {
        self.name = name
        self.id = id
        self.local = local
        self.group = group
        self.port = port
        self.underlyingIndex = underlyingIndex
        self.learning = learning
        self.ttl = ttl
        self.mtu = mtu
        self.mac = mac
        self.masterIndex = masterIndex
        self.up = up
    }
}

/// The settings of an existing VXLAN device, from `IFLA_INFO_DATA` of a link dump.
public struct VXLANInfo: Sendable, Equatable {
    /// `IFLA_VXLAN_ID`.
    public var id: UInt32?
    /// `IFLA_VXLAN_LOCAL`.
    public var local: IPv4Address?
    /// `IFLA_VXLAN_GROUP` (remote or multicast group).
    public var group: IPv4Address?
    /// `IFLA_VXLAN_PORT`, in host order.
    public var port: UInt16?
    /// `IFLA_VXLAN_LINK`.
    public var underlyingIndex: Int32?
    /// `IFLA_VXLAN_LEARNING`.
    public var learning: Bool?
    /// `IFLA_VXLAN_TTL` (0: the route's default hop limit).
    public var ttl: UInt8?

    /// Settings to compare with a dump.
    public init(id: UInt32? = nil, local: IPv4Address? = nil, group: IPv4Address? = nil, port: UInt16? = nil,
                underlyingIndex: Int32? = nil, learning: Bool? = nil, ttl: UInt8? = nil) {
        self.id = id
        self.local = local
        self.group = group
        self.port = port
        self.underlyingIndex = underlyingIndex
        self.learning = learning
        self.ttl = ttl
    }

    init(attributes: [NetlinkAttribute]) {
        self.init()
        func ipv4(_ attribute: NetlinkAttribute) -> IPv4Address? {
            guard attribute.value.count == 4 else { return nil }
            let b = attribute.bytes
            return IPv4Address(b[0], b[1], b[2], b[3])
        }
        for attribute in attributes {
            switch attribute.type {
            case VXLANAttribute.IFLA_VXLAN_ID: id = attribute.u32
            case VXLANAttribute.IFLA_VXLAN_LOCAL: local = ipv4(attribute)
            case VXLANAttribute.IFLA_VXLAN_GROUP: group = ipv4(attribute)
            // __be16 on the wire.
            case VXLANAttribute.IFLA_VXLAN_PORT: port = attribute.u16.map { UInt16(bigEndian: $0) }
            case VXLANAttribute.IFLA_VXLAN_LINK: underlyingIndex = attribute.u32.map { Int32(bitPattern: $0) }
            case VXLANAttribute.IFLA_VXLAN_LEARNING: learning = attribute.u8.map { $0 != 0 }
            case VXLANAttribute.IFLA_VXLAN_TTL: ttl = attribute.u8
            default: break
            }
        }
    }
}

extension NetlinkRequest {
    /// `RTM_NEWLINK` creating a VXLAN device.
    public static func createVXLAN(_ vxlan: VXLANConfiguration) throws(ValidationError) -> NetlinkRequest {
        try NetlinkValidation.validate(vxlanID: vxlan.id)
        guard vxlan.port != 0 else {
            throw ValidationError(field: "vxlan port", value: "0", reason: "must be a UDP port 1-65535")
        }
        if let index = vxlan.underlyingIndex { try NetlinkValidation.validate(interfaceIndex: index, field: "vxlan underlying device") }
        return try createLink(kind: "vxlan", name: vxlan.name, object: "vxlan \"\(vxlan.name)\" id \(vxlan.id)", mtu: vxlan.mtu,
                              mac: vxlan.mac, masterIndex: vxlan.masterIndex, up: vxlan.up, data: { w in
            w.put(VXLANAttribute.IFLA_VXLAN_ID, u32: vxlan.id)
            if let group = vxlan.group { w.put(VXLANAttribute.IFLA_VXLAN_GROUP, bytes: group.octets) }
            if let index = vxlan.underlyingIndex { w.put(VXLANAttribute.IFLA_VXLAN_LINK, u32: UInt32(bitPattern: index)) }
            if let local = vxlan.local { w.put(VXLANAttribute.IFLA_VXLAN_LOCAL, bytes: local.octets) }
            if let ttl = vxlan.ttl { w.put(VXLANAttribute.IFLA_VXLAN_TTL, u8: ttl) }
            w.put(VXLANAttribute.IFLA_VXLAN_LEARNING, u8: vxlan.learning ? 1 : 0)
            w.put(VXLANAttribute.IFLA_VXLAN_PORT, u16: vxlan.port.bigEndian)
        })
    }
}

extension RouteNetlink {
    /// Creates a VXLAN device and returns it as the kernel reports it.
    @discardableResult
    public func createVXLAN(_ vxlan: VXLANConfiguration) throws -> Link {
        try createLink(.createVXLAN(vxlan), name: vxlan.name)
    }
}
