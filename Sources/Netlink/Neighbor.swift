import CMnl
import Netns
import Addressing

/// Neighbour entry states (`ndm_state`, `NUD_*`).
public struct NeighborState: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// `NUD_INCOMPLETE`: resolution in progress.
    public static let incomplete = NeighborState(rawValue: UInt16(NUD_INCOMPLETE))
    /// `NUD_REACHABLE`: confirmed recently.
    public static let reachable = NeighborState(rawValue: UInt16(NUD_REACHABLE))
    /// `NUD_STALE`: usable, to be confirmed.
    public static let stale = NeighborState(rawValue: UInt16(NUD_STALE))
    /// `NUD_DELAY`: waiting before a probe.
    public static let delay = NeighborState(rawValue: UInt16(NUD_DELAY))
    /// `NUD_PROBE`: being probed.
    public static let probe = NeighborState(rawValue: UInt16(NUD_PROBE))
    /// `NUD_FAILED`: resolution failed.
    public static let failed = NeighborState(rawValue: UInt16(NUD_FAILED))
    /// `NUD_NOARP`: valid without resolution (a `static` bridge FDB entry).
    public static let noARP = NeighborState(rawValue: UInt16(NUD_NOARP))
    /// `NUD_PERMANENT`: never expires, and is exempt from the (global) neighbour table limit.
    public static let permanent = NeighborState(rawValue: UInt16(NUD_PERMANENT))

    public var description: String {
        let names: [(NeighborState, String)] = [(.incomplete, "INCOMPLETE"), (.reachable, "REACHABLE"), (.stale, "STALE"), (.delay, "DELAY"),
                                                (.probe, "PROBE"), (.failed, "FAILED"), (.noARP, "NOARP"), (.permanent, "PERMANENT")]
        let set = names.filter { contains($0.0) }.map(\.1)
        return set.isEmpty ? "NONE" : set.joined(separator: ",")
    }
}

/// Neighbour entry flags (`ndm_flags`, `NTF_*`).
public struct NeighborFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `NTF_SELF`: the entry lives in the device's own table (a vxlan's FDB, a bridge's local entries).
    public static let device = NeighborFlags(rawValue: UInt8(NTF_SELF))
    /// `NTF_MASTER`: the entry lives in the table of the device's master (the bridge of a port).
    public static let master = NeighborFlags(rawValue: UInt8(NTF_MASTER))
    /// `NTF_PROXY`: a proxy-ARP entry.
    public static let proxy = NeighborFlags(rawValue: UInt8(NTF_PROXY))
    /// `NTF_EXT_LEARNED`: learned by an external control plane.
    public static let externallyLearned = NeighborFlags(rawValue: UInt8(NTF_EXT_LEARNED))
    /// `NTF_ROUTER` (IPv6).
    public static let router = NeighborFlags(rawValue: UInt8(NTF_ROUTER))
}

/// An IP neighbour (ARP / NDP) entry: IP address → MAC on an interface (`ip neigh`).
public struct Neighbor: Sendable, Equatable, CustomStringConvertible {
    /// The interface the entry is on.
    public var interfaceIndex: Int32
    /// The neighbour's IP address (`NDA_DST`).
    public var address: IPAddress
    /// The link-layer address; nil for unresolved entries.
    public var mac: MACAddress?
    /// `NUD_*` state; podlab programs `.permanent` entries.
    public var state: NeighborState
    /// `NTF_*` flags.
    public var flags: NeighborFlags

    /// An entry; `permanent` by default, which is what podlab programs (node→pod, pod→gateway).
    public init(interfaceIndex: Int32, address: IPAddress, mac: MACAddress?, state: NeighborState = .permanent, flags: NeighborFlags = []) {
        self.interfaceIndex = interfaceIndex
        self.address = address
        self.mac = mac
        self.state = state
        self.flags = flags
    }

    /// A permanent IPv4 entry.
    public init(interfaceIndex: Int32, address: IPv4Address, mac: MACAddress, state: NeighborState = .permanent) {
        self.init(interfaceIndex: interfaceIndex, address: .v4(address), mac: mac, state: state)
    }

    /// Parses the payload of an `RTM_NEWNEIGH` message of family `AF_INET`/`AF_INET6`.
    public init(parsing payload: ArraySlice<UInt8>) throws {
        let entry = try NeighborMessage(parsing: payload)
        guard let address = entry.destination else {
            throw KernelError(operation: "parse", object: "RTM_NEWNEIGH", errno: .invalidArgument, detail: "neighbour without NDA_DST")
        }
        self.init(interfaceIndex: entry.index, address: address, mac: entry.mac, state: entry.state, flags: entry.flags)
    }

    public var description: String {
        "\(address) dev #\(interfaceIndex)" + (mac.map { " lladdr \($0)" } ?? "") + " \(state)"
    }

    func validate() throws(ValidationError) {
        try NetlinkValidation.validate(interfaceIndex: interfaceIndex)
    }

    fileprivate var object: String { "neighbour \(address) on link #\(interfaceIndex)" }

    fileprivate func header() -> ndmsg {
        var message = ndmsg()
        message.ndm_family = address.family
        message.ndm_ifindex = interfaceIndex
        message.ndm_state = state.rawValue
        message.ndm_flags = flags.rawValue
        return message
    }
}

/// A bridge forwarding database entry: MAC → port, or for a vxlan device MAC → remote VTEP
/// (`bridge fdb`).
public struct FDBEntry: Sendable, Equatable, CustomStringConvertible {
    /// The bridge port or vxlan device.
    public var interfaceIndex: Int32
    /// The MAC; all zeros is a vxlan's default (flood) entry.
    public var mac: MACAddress
    /// The remote VTEP (`dst`) for a vxlan entry.
    public var destination: IPAddress?
    /// The VNI (`vni`) when it differs from the device's.
    public var vni: UInt32?
    /// The VLAN (`NDA_VLAN`), on VLAN-filtering bridges.
    public var vlan: UInt16?
    /// The bridge, for entries that live in the master's table (reported by dumps).
    public var masterIndex: Int32?
    /// `.permanent` (`bridge fdb … permanent`) or `.noARP` (`static`).
    public var state: NeighborState
    /// `.device` (`NTF_SELF`) for the vxlan's own table, `.master` (`NTF_MASTER`) for the bridge's.
    public var flags: NeighborFlags

    /// An entry; permanent and in the device's own table (`self`) by default, as a vxlan needs.
    public init(interfaceIndex: Int32, mac: MACAddress, destination: IPAddress? = nil, vni: UInt32? = nil, vlan: UInt16? = nil,
                masterIndex: Int32? = nil, state: NeighborState = .permanent, flags: NeighborFlags = .device) {
        self.interfaceIndex = interfaceIndex
        self.mac = mac
        self.destination = destination
        self.vni = vni
        self.vlan = vlan
        self.masterIndex = masterIndex
        self.state = state
        self.flags = flags
    }

    /// Parses the payload of an `RTM_NEWNEIGH` message of family `AF_BRIDGE`.
    public init(parsing payload: ArraySlice<UInt8>) throws {
        let entry = try NeighborMessage(parsing: payload)
        guard let mac = entry.mac else {
            throw KernelError(operation: "parse", object: "RTM_NEWNEIGH", errno: .invalidArgument, detail: "FDB entry without NDA_LLADDR")
        }
        self.init(interfaceIndex: entry.index, mac: mac, destination: entry.destination, vni: entry.vni, vlan: entry.vlan,
                  masterIndex: entry.master, state: entry.state, flags: entry.flags)
    }

    /// The all-zeros MAC a vxlan uses for broadcast, unknown-unicast and multicast frames.
    public static let floodMAC = try! MACAddress(bytes: [0, 0, 0, 0, 0, 0])

    public var description: String {
        var text = "\(mac) dev #\(interfaceIndex)"
        if let destination { text += " dst \(destination)" }
        if let vni { text += " vni \(vni)" }
        if let vlan { text += " vlan \(vlan)" }
        if flags.contains(.device) { text += " self" }
        if flags.contains(.master) { text += " master" }
        return text + " \(state)"
    }

    func validate() throws(ValidationError) {
        try NetlinkValidation.validate(interfaceIndex: interfaceIndex)
        if let vni { try NetlinkValidation.validate(vxlanID: vni) }
        if let vlan, !(1...4094).contains(vlan) {
            throw ValidationError(field: "fdb vlan", value: "\(vlan)", reason: "must be between 1 and 4094")
        }
    }

    fileprivate var object: String {
        "fdb entry \(mac)" + (destination.map { " dst \($0)" } ?? "") + " on link #\(interfaceIndex)"
    }

    fileprivate func write(_ w: inout MessageWriter) {
        var message = ndmsg()
        message.ndm_family = Family.AF_BRIDGE
        message.ndm_ifindex = interfaceIndex
        message.ndm_state = state.rawValue
        message.ndm_flags = flags.rawValue
        w.extraHeader(message)
        w.put(NeighborAttribute.NDA_LLADDR, bytes: mac.bytes)
        if let destination { w.put(NeighborAttribute.NDA_DST, bytes: destination.bytes) }
        if let vlan { w.put(NeighborAttribute.NDA_VLAN, u16: vlan) }
        if let vni { w.put(NeighborAttribute.NDA_VNI, u32: vni) }
    }
}

/// The fields shared by neighbour and FDB messages: `struct ndmsg` (12 B) and `NDA_*`.
struct NeighborMessage {
    var family: UInt8
    var index: Int32
    var state: NeighborState
    var flags: NeighborFlags
    var destination: IPAddress?
    var mac: MACAddress?
    var vni: UInt32?
    var vlan: UInt16?
    var master: Int32?

    init(parsing payload: ArraySlice<UInt8>) throws {
        let reader = PayloadReader(payload: payload)
        guard reader.has(MemoryLayout<ndmsg>.size) else { throw malformed("RTM_NEWNEIGH", payload) }
        family = reader.u8(0)
        index = reader.i32(4)
        state = NeighborState(rawValue: reader.u16(8))
        flags = NeighborFlags(rawValue: reader.u8(10))
        for attribute in reader.attributes(after: MemoryLayout<ndmsg>.size) {
            switch attribute.type {
            case NeighborAttribute.NDA_DST: destination = IPAddress(attribute: attribute)
            case NeighborAttribute.NDA_LLADDR: mac = try? MACAddress(bytes: attribute.bytes)
            case NeighborAttribute.NDA_VNI: vni = attribute.u32
            case NeighborAttribute.NDA_VLAN: vlan = attribute.u16
            case NeighborAttribute.NDA_MASTER: master = attribute.u32.map { Int32(bitPattern: $0) }
            default: break
            }
        }
    }
}

extension NetlinkRequest {
    static func writeNeighbor(_ neighbor: Neighbor, mode: WriteMode) throws(ValidationError) -> NetlinkRequest {
        try neighbor.validate()
        return try NetlinkRequest(type: NetlinkType.RTM_NEWNEIGH, flags: mode.flags, object: neighbor.object) { w in
            w.extraHeader(neighbor.header())
            w.put(NeighborAttribute.NDA_DST, bytes: neighbor.address.bytes)
            if let mac = neighbor.mac { w.put(NeighborAttribute.NDA_LLADDR, bytes: mac.bytes) }
        }
    }

    /// `RTM_NEWNEIGH` with `NLM_F_EXCL` (`ip neigh add`).
    public static func addNeighbor(_ neighbor: Neighbor) throws(ValidationError) -> NetlinkRequest {
        try writeNeighbor(neighbor, mode: .create)
    }

    /// `RTM_NEWNEIGH` with `NLM_F_REPLACE` (`ip neigh replace`): idempotent.
    public static func replaceNeighbor(_ neighbor: Neighbor) throws(ValidationError) -> NetlinkRequest {
        try writeNeighbor(neighbor, mode: .replace)
    }

    /// `RTM_DELNEIGH` (`ip neigh del`).
    public static func deleteNeighbor(_ neighbor: Neighbor) throws(ValidationError) -> NetlinkRequest {
        try neighbor.validate()
        return try NetlinkRequest(type: NetlinkType.RTM_DELNEIGH, flags: NetlinkFlags.NLM_F_ACK, object: neighbor.object) { w in
            w.extraHeader(neighbor.header())
            w.put(NeighborAttribute.NDA_DST, bytes: neighbor.address.bytes)
        }
    }

    /// `RTM_GETNEIGH` dump of one family's neighbour entries.
    public static func dumpNeighbors(family: AddressFamily) throws(ValidationError) -> NetlinkRequest {
        var header = ndmsg()
        header.ndm_family = family.rawValue
        return try NetlinkRequest(type: NetlinkType.RTM_GETNEIGH, flags: NetlinkFlags.NLM_F_DUMP, object: "neighbours") { w in
            w.extraHeader(header)
        }
    }

    static func writeFDB(_ entry: FDBEntry, mode: WriteMode) throws(ValidationError) -> NetlinkRequest {
        try entry.validate()
        return try NetlinkRequest(type: NetlinkType.RTM_NEWNEIGH, flags: mode.flags, object: entry.object) { w in entry.write(&w) }
    }

    /// `RTM_NEWNEIGH` for `AF_BRIDGE` with `NLM_F_EXCL` (`bridge fdb add`).
    public static func addFDBEntry(_ entry: FDBEntry) throws(ValidationError) -> NetlinkRequest {
        try writeFDB(entry, mode: .create)
    }

    /// `bridge fdb replace`.
    public static func replaceFDBEntry(_ entry: FDBEntry) throws(ValidationError) -> NetlinkRequest {
        try writeFDB(entry, mode: .replace)
    }

    /// `bridge fdb append`: another remote for the same MAC on a vxlan (flood lists).
    public static func appendFDBEntry(_ entry: FDBEntry) throws(ValidationError) -> NetlinkRequest {
        try writeFDB(entry, mode: .append)
    }

    /// `RTM_DELNEIGH` for `AF_BRIDGE` (`bridge fdb del`); with `destination`, only that remote.
    public static func deleteFDBEntry(_ entry: FDBEntry) throws(ValidationError) -> NetlinkRequest {
        try entry.validate()
        return try NetlinkRequest(type: NetlinkType.RTM_DELNEIGH, flags: NetlinkFlags.NLM_F_ACK, object: entry.object) { w in entry.write(&w) }
    }

    /// `RTM_GETNEIGH` dump of `AF_BRIDGE` (every bridge port's and vxlan's FDB).
    public static func dumpFDB() throws(ValidationError) -> NetlinkRequest {
        var header = ndmsg()
        header.ndm_family = Family.AF_BRIDGE
        return try NetlinkRequest(type: NetlinkType.RTM_GETNEIGH, flags: NetlinkFlags.NLM_F_DUMP, object: "fdb") { w in
            w.extraHeader(header)
        }
    }
}

extension RouteNetlink {
    /// Adds a neighbour entry (`ip neigh add`); EEXIST if there is one for the address.
    public func addNeighbor(_ neighbor: Neighbor) throws {
        try perform(.addNeighbor(neighbor))
    }

    /// Adds or overwrites a neighbour entry (`ip neigh replace`).
    public func replaceNeighbor(_ neighbor: Neighbor) throws {
        try perform(.replaceNeighbor(neighbor))
    }

    /// Removes a neighbour entry (`ip neigh del`); ENOENT if there is none.
    public func deleteNeighbor(_ neighbor: Neighbor) throws {
        try perform(.deleteNeighbor(neighbor))
    }

    /// The neighbour entries of `family`, on one interface when `interfaceIndex` is given.
    public func neighbors(family: AddressFamily = .ipv4, interfaceIndex: Int32? = nil) throws -> [Neighbor] {
        try fetch(.dumpNeighbors(family: family))
            .filter { $0.type == NetlinkType.RTM_NEWNEIGH && $0.payload.first == family.rawValue }
            .map { try Neighbor(parsing: $0.payload[...]) }
            .filter { interfaceIndex == nil || $0.interfaceIndex == interfaceIndex }
    }

    /// Adds a bridge FDB entry (`bridge fdb add`).
    public func addFDBEntry(_ entry: FDBEntry) throws {
        try perform(.addFDBEntry(entry))
    }

    /// Adds or overwrites a bridge FDB entry (`bridge fdb replace`).
    public func replaceFDBEntry(_ entry: FDBEntry) throws {
        try perform(.replaceFDBEntry(entry))
    }

    /// Adds another remote for a vxlan FDB entry (`bridge fdb append`).
    public func appendFDBEntry(_ entry: FDBEntry) throws {
        try perform(.appendFDBEntry(entry))
    }

    /// Removes a bridge FDB entry (`bridge fdb del`); ENOENT if there is none.
    public func deleteFDBEntry(_ entry: FDBEntry) throws {
        try perform(.deleteFDBEntry(entry))
    }

    /// The bridge FDB entries, of one device when `interfaceIndex` is given.
    public func fdbEntries(interfaceIndex: Int32? = nil) throws -> [FDBEntry] {
        try fetch(.dumpFDB())
            .filter { $0.type == NetlinkType.RTM_NEWNEIGH && $0.payload.first == Family.AF_BRIDGE }
            .compactMap { try? FDBEntry(parsing: $0.payload[...]) }
            .filter { interfaceIndex == nil || $0.interfaceIndex == interfaceIndex }
    }
}
