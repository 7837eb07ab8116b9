import CMnl
import Netns
import Addressing

/// Names a link in a request: by interface index (preferred: stable across renames), or by
/// name. A reference made from a `Link` carries both, so errors can show the name.
public struct LinkReference: Sendable, Hashable, CustomStringConvertible {
    /// The interface index; when set, requests address the link by it.
    public let index: Int32?
    /// The interface name; used to address the link only when there is no index.
    public let name: String?

    private init(index: Int32?, name: String?) {
        self.index = index
        self.name = name
    }

    /// The link with interface index `index`; `name` only labels errors.
    public static func index(_ index: Int32, name: String? = nil) -> LinkReference { LinkReference(index: index, name: name) }

    /// The link called `name` (looked up by the kernel).
    public static func name(_ name: String) -> LinkReference { LinkReference(index: nil, name: name) }

    public var description: String {
        switch (name, index) {
        case let (name?, _): "link \"\(name)\""
        case let (nil, index?): "link #\(index)"
        case (nil, nil): "link ?"
        }
    }

    func validate() throws(ValidationError) {
        if let index {
            try NetlinkValidation.validate(interfaceIndex: index)
        } else if let name {
            try NetlinkValidation.validate(interfaceName: name)
        } else {
            throw ValidationError(field: "link", value: "", reason: "needs an interface index or a name")
        }
    }

    /// `ifi_index` plus, without an index, `IFLA_IFNAME` as the lookup key.
    func header(flags: UInt32 = 0, change: UInt32 = 0) -> ifinfomsg {
        var message = ifinfomsg()
        message.ifi_family = Family.AF_UNSPEC
        message.ifi_index = index ?? 0
        message.ifi_flags = flags
        message.ifi_change = change
        return message
    }

    func putName(_ writer: inout MessageWriter) {
        if index == nil, let name { writer.put(LinkAttribute.IFLA_IFNAME, string: name) }
    }
}

/// The operational state of a link (RFC 2863, `IF_OPER_*`), as `ip link` shows it after `state`.
public enum OperationalState: UInt8, Sendable, CustomStringConvertible {
    case unknown = 0
    case notPresent = 1
    case down = 2
    case lowerLayerDown = 3
    case testing = 4
    case dormant = 5
    case up = 6

    public var description: String {
        switch self {
        case .unknown: "UNKNOWN"
        case .notPresent: "NOTPRESENT"
        case .down: "DOWN"
        case .lowerLayerDown: "LOWERLAYERDOWN"
        case .testing: "TESTING"
        case .dormant: "DORMANT"
        case .up: "UP"
        }
    }
}

/// A network device as the kernel reports it (`RTM_NEWLINK` reply to a get or dump).
public struct Link: Sendable, Equatable, CustomStringConvertible {
    /// Interface index (`ifi_index`).
    public var index: Int32
    /// Interface name (`IFLA_IFNAME`).
    public var name: String
    /// Device kind from `IFLA_LINKINFO`/`IFLA_INFO_KIND`: `bridge`, `veth`, `vxlan`; nil for
    /// devices without one (such as `lo`).
    public var kind: String?
    /// Kind of the master this link is a port of (`IFLA_INFO_SLAVE_KIND`), e.g. `bridge`.
    public var portKind: String?
    /// `ifi_flags` (`IFF_*`).
    public var flags: UInt32
    /// `IFLA_OPERSTATE`.
    public var operationalState: OperationalState
    /// The bridge (or other master) this link is attached to (`IFLA_MASTER`).
    public var masterIndex: Int32?
    /// Hardware address (`IFLA_ADDRESS`); nil for devices without a 6-byte one.
    public var mac: MACAddress?
    /// `IFLA_MTU`.
    public var mtu: UInt32
    /// `IFLA_LINK`: for a veth, the peer's index (in the peer's namespace).
    public var parentIndex: Int32?
    /// The vxlan settings, for `kind == "vxlan"`.
    public var vxlan: VXLANInfo?
    /// The link's alias (`IFLA_IFALIAS`, `ip link set … alias`); nil when it has none.
    public var alias: String?

    /// Administratively up (`IFF_UP`).
    public var isUp: Bool { flags & InterfaceFlags.IFF_UP != 0 }
    /// Carrier present (`IFF_LOWER_UP`).
    public var hasCarrier: Bool { flags & InterfaceFlags.IFF_LOWER_UP != 0 }
    /// A reference to this link by index, labelled with its name.
    public var reference: LinkReference { .index(index, name: name) }

    /// A link value, as tests and callers build one to compare with a dump.
    public init(index: Int32, name: String, kind: String? = nil, portKind: String? = nil, flags: UInt32 = 0,
                operationalState: OperationalState = .unknown, masterIndex: Int32? = nil, mac: MACAddress? = nil,
                mtu: UInt32 = 0, parentIndex: Int32? = nil, vxlan: VXLANInfo? = nil, alias: String? = nil) {
        self.index = index
        self.name = name
        self.kind = kind
        self.portKind = portKind
        self.flags = flags
        self.operationalState = operationalState
        self.masterIndex = masterIndex
        self.mac = mac
        self.mtu = mtu
        self.parentIndex = parentIndex
        self.vxlan = vxlan
        self.alias = alias
    }

    /// Parses the payload of an `RTM_NEWLINK` message: `struct ifinfomsg` (16 B) and attributes.
    public init(parsing payload: ArraySlice<UInt8>) throws {
        let reader = PayloadReader(payload: payload)
        guard reader.has(MemoryLayout<ifinfomsg>.size) else { throw malformed("RTM_NEWLINK", payload) }
        self.init(index: reader.i32(4), name: "", flags: reader.u32(8))
        for attribute in reader.attributes(after: MemoryLayout<ifinfomsg>.size) {
            switch attribute.type {
            case LinkAttribute.IFLA_IFNAME: name = attribute.string
            case LinkAttribute.IFLA_MTU: mtu = attribute.u32 ?? 0
            case LinkAttribute.IFLA_IFALIAS: alias = attribute.string
            case LinkAttribute.IFLA_MASTER: masterIndex = attribute.u32.map { Int32(bitPattern: $0) }
            case LinkAttribute.IFLA_LINK: parentIndex = attribute.u32.map { Int32(bitPattern: $0) }
            case LinkAttribute.IFLA_ADDRESS: mac = try? MACAddress(bytes: attribute.bytes)
            case LinkAttribute.IFLA_OPERSTATE: operationalState = attribute.u8.flatMap(OperationalState.init(rawValue:)) ?? .unknown
            case LinkAttribute.IFLA_LINKINFO:
                var data: [NetlinkAttribute] = []
                for info in attribute.nested {
                    switch info.type {
                    case LinkInfoAttribute.IFLA_INFO_KIND: kind = info.string
                    case LinkInfoAttribute.IFLA_INFO_SLAVE_KIND: portKind = info.string
                    case LinkInfoAttribute.IFLA_INFO_DATA: data = info.nested
                    default: break
                    }
                }
                if kind == "vxlan" { vxlan = VXLANInfo(attributes: data) }
            default: break
            }
        }
    }

    public var description: String {
        var text = "\(index): \(name)"
        if let kind { text += " (\(kind))" }
        text += " mtu \(mtu) state \(operationalState)"
        if isUp { text += " UP" }
        if let masterIndex { text += " master #\(masterIndex)" }
        if let mac { text += " link/ether \(mac)" }
        return text
    }
}

/// Changes to an existing link, applied together in one `RTM_NEWLINK` message.
public struct LinkChanges: Sendable, Equatable {
    /// Bring the link up (`true`) or down (`false`); nil leaves it.
    public var up: Bool?
    /// Attach to the master with this index; `0` detaches it (`nomaster`); nil leaves it.
    public var masterIndex: Int32?
    /// A new MTU (68–65 535); nil leaves it.
    public var mtu: UInt32?
    /// A new unicast MAC; nil leaves it.
    public var mac: MACAddress?
    /// A new name. Only with a reference by index: a second `IFLA_IFNAME` would replace the
    /// lookup key instead, and the kernel would answer ENODEV.
    public var name: String?
    /// How the link makes its IPv6 link-local address (`ip link set … addrgenmode`); nil leaves it.
    /// The kernel applies it after bringing a link up, so change it in an earlier message than `up`.
    public var ipv6AddressGeneration: IPv6AddressGeneration?
    /// A new alias (`ip link set … alias`, at most 255 bytes); nil leaves it.
    public var alias: String?

    /// Changes to apply; every nil field is left as it is.
    public init(up: Bool? = nil, masterIndex: Int32? = nil, mtu: UInt32? = nil, mac: MACAddress? = nil, name: String? = nil,
                ipv6AddressGeneration: IPv6AddressGeneration? = nil, alias: String? = nil) {
        self.up = up
        self.masterIndex = masterIndex
        self.mtu = mtu
        self.mac = mac
        self.name = name
        self.ipv6AddressGeneration = ipv6AddressGeneration
        self.alias = alias
    }
}

/// `IFLA_INET6_ADDR_GEN_MODE` (`enum in6_addr_gen_mode`).
public enum IPv6AddressGeneration: UInt8, Sendable, Equatable, CaseIterable {
    /// A link-local address from the MAC (EUI-64), the kernel's default.
    case eui64 = 0
    /// No link-local address: the link sends no DAD, router solicitation or MLD report.
    case none = 1
    case stablePrivacy = 2
    case random = 3
}

extension NetlinkRequest {
    /// `RTM_GETLINK` for one link (by index, or by `IFLA_IFNAME`), statistics left out.
    public static func getLink(_ link: LinkReference) throws(ValidationError) -> NetlinkRequest {
        try link.validate()
        return try NetlinkRequest(type: NetlinkType.RTM_GETLINK, flags: NetlinkFlags.NLM_F_ACK, object: link.description) { w in
            w.extraHeader(link.header())
            link.putName(&w)
            w.put(LinkAttribute.IFLA_EXT_MASK, u32: LinkAttribute.RTEXT_FILTER_SKIP_STATS)
        }
    }

    /// `RTM_GETLINK` dump of every link, statistics left out.
    public static func dumpLinks() throws(ValidationError) -> NetlinkRequest {
        try NetlinkRequest(type: NetlinkType.RTM_GETLINK, flags: NetlinkFlags.NLM_F_DUMP, object: "links") { w in
            w.extraHeader(ifinfomsg())
            w.put(LinkAttribute.IFLA_EXT_MASK, u32: LinkAttribute.RTEXT_FILTER_SKIP_STATS)
        }
    }

    /// `RTM_NEWLINK` without `NLM_F_CREATE`: changes an existing link.
    public static func setLink(_ link: LinkReference, _ changes: LinkChanges) throws(ValidationError) -> NetlinkRequest {
        try link.validate()
        if let mtu = changes.mtu { try NetlinkValidation.validate(mtu: mtu) }
        if let mac = changes.mac { try NetlinkValidation.validate(unicastMAC: mac) }
        if let master = changes.masterIndex, master < 0 {
            throw ValidationError(field: "master index", value: "\(master)", reason: "must be an interface index, or 0 to detach")
        }
        if changes.ipv6AddressGeneration != nil && changes.up != nil {
            throw ValidationError(field: "ipv6 address generation", value: "\(changes.ipv6AddressGeneration!)",
                                  reason: "the kernel applies it after the link comes up; set it in an earlier message than up/down")
        }
        if let name = changes.name {
            try NetlinkValidation.validate(interfaceName: name, field: "new interface name")
            guard link.index != nil else {
                throw ValidationError(field: "link", value: link.description, reason: "renaming needs the link's index (a name would be taken as the lookup key)")
            }
        }
        if let alias = changes.alias, alias.utf8.count > 255 || alias.utf8.contains(0) {
            throw ValidationError(field: "alias", value: alias, reason: "must be at most 255 bytes without NUL (IFALIASZ)")
        }
        let flags = changes.up == true ? InterfaceFlags.IFF_UP : 0
        let change = changes.up == nil ? 0 : InterfaceFlags.IFF_UP
        return try NetlinkRequest(type: NetlinkType.RTM_NEWLINK, flags: NetlinkFlags.NLM_F_ACK, object: link.description) { w in
            w.extraHeader(link.header(flags: flags, change: change))
            link.putName(&w)
            if let name = changes.name { w.put(LinkAttribute.IFLA_IFNAME, string: name) }
            if let mtu = changes.mtu { w.put(LinkAttribute.IFLA_MTU, u32: mtu) }
            if let mac = changes.mac { w.put(LinkAttribute.IFLA_ADDRESS, bytes: mac.bytes) }
            if let master = changes.masterIndex { w.put(LinkAttribute.IFLA_MASTER, u32: UInt32(bitPattern: master)) }
            if let alias = changes.alias { w.put(LinkAttribute.IFLA_IFALIAS, string: alias) }
            if let mode = changes.ipv6AddressGeneration {
                w.nest(LinkAttribute.IFLA_AF_SPEC) { w in
                    w.nest(UInt16(Family.AF_INET6)) { w in w.put(LinkAttribute.IFLA_INET6_ADDR_GEN_MODE, u8: mode.rawValue) }
                }
            }
        }
    }

    /// `RTM_DELLINK`. Deleting one end of a veth pair deletes both.
    public static func deleteLink(_ link: LinkReference) throws(ValidationError) -> NetlinkRequest {
        try link.validate()
        return try NetlinkRequest(type: NetlinkType.RTM_DELLINK, flags: NetlinkFlags.NLM_F_ACK, object: link.description) { w in
            w.extraHeader(link.header())
            link.putName(&w)
        }
    }
}

extension RouteNetlink {
    /// The link called `name`; throws ENODEV if there is none.
    public func link(named name: String) throws -> Link {
        try link(.name(name))
    }

    /// The link with interface index `index`; throws ENODEV if there is none.
    public func link(index: Int32) throws -> Link {
        try link(.index(index))
    }

    /// The referenced link (`RTM_GETLINK`); throws ENODEV if there is none.
    public func link(_ reference: LinkReference) throws -> Link {
        let messages = try fetch(.getLink(reference))
        guard let message = messages.first(where: { $0.type == NetlinkType.RTM_NEWLINK }) else {
            throw KernelError(operation: "RTM_GETLINK", object: reference.description, namespace: namespace, errno: .noSuchDevice, detail: "the kernel sent no link")
        }
        return try Link(parsing: message.payload[...])
    }

    /// The link called `name`, or nil when there is none.
    public func linkIfPresent(named name: String) throws -> Link? {
        do {
            return try link(named: name)
        } catch Errno.noSuchDevice {
            return nil
        }
    }

    /// Every link in the namespace, in the kernel's order (by index).
    public func links() throws -> [Link] {
        try fetch(.dumpLinks()).filter { $0.type == NetlinkType.RTM_NEWLINK }.map { try Link(parsing: $0.payload[...]) }
    }

    /// Applies `changes` to the link in one message.
    public func setLink(_ link: LinkReference, _ changes: LinkChanges) throws {
        try perform(.setLink(link, changes))
    }

    /// Brings the link up (`ip link set … up`).
    public func setUp(_ link: LinkReference) throws {
        try setLink(link, LinkChanges(up: true))
    }

    /// Brings the link down.
    public func setDown(_ link: LinkReference) throws {
        try setLink(link, LinkChanges(up: false))
    }

    /// Attaches the link to a bridge (`master`), or detaches it with nil (`nomaster`).
    public func setMaster(_ link: LinkReference, master: Int32?) throws {
        try setLink(link, LinkChanges(masterIndex: master ?? 0))
    }

    /// Sets the link's MTU (`ip link set … mtu`).
    public func setMTU(_ link: LinkReference, mtu: UInt32) throws {
        try setLink(link, LinkChanges(mtu: mtu))
    }

    /// Sets the link's MAC (`ip link set … address`).
    public func setMAC(_ link: LinkReference, mac: MACAddress) throws {
        try setLink(link, LinkChanges(mac: mac))
    }

    /// Renames the link with interface index `index` (the link must be down).
    public func rename(index: Int32, to name: String) throws {
        try setLink(.index(index), LinkChanges(name: name))
    }

    /// Deletes the link (`RTM_DELLINK`). The kernel waits for an RCU grace period per device:
    /// remove pods by deleting their namespace, not link by link.
    public func deleteLink(_ link: LinkReference) throws {
        try perform(.deleteLink(link))
    }
}
