import CMnl
import Netns
import Addressing

/// Who installed a route (`rtm_protocol`, `RTPROT_*`).
public struct RouteProtocol: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `RTPROT_UNSPEC`: any protocol, in a delete.
    public static let unspecified = RouteProtocol(rawValue: UInt8(RTPROT_UNSPEC))
    /// Installed by the kernel (connected and local routes).
    public static let kernel = RouteProtocol(rawValue: UInt8(RTPROT_KERNEL))
    /// Installed by an administrator or tool; what `ip route add` uses.
    public static let boot = RouteProtocol(rawValue: UInt8(RTPROT_BOOT))
    /// `RTPROT_STATIC`: installed by an administrator and meant to stay.
    public static let `static` = RouteProtocol(rawValue: UInt8(RTPROT_STATIC))

    public var description: String {
        switch self {
        case .unspecified: "unspec"
        case .kernel: "kernel"
        case .boot: "boot"
        case .static: "static"
        default: "\(rawValue)"
        }
    }
}

/// The kind of route (`rtm_type`, `RTN_*`).
public struct RouteType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `RTN_UNSPEC`.
    public static let unspecified = RouteType(rawValue: UInt8(RTN_UNSPEC))
    /// A normal gateway or direct route.
    public static let unicast = RouteType(rawValue: UInt8(RTN_UNICAST))
    /// An address of this host (local table).
    public static let local = RouteType(rawValue: UInt8(RTN_LOCAL))
    /// A broadcast address of this host (local table).
    public static let broadcast = RouteType(rawValue: UInt8(RTN_BROADCAST))
    /// A multicast route.
    public static let multicast = RouteType(rawValue: UInt8(RTN_MULTICAST))
    /// Silently drop.
    public static let blackhole = RouteType(rawValue: UInt8(RTN_BLACKHOLE))
    /// Drop with "network unreachable".
    public static let unreachable = RouteType(rawValue: UInt8(RTN_UNREACHABLE))
    /// Drop with "administratively prohibited".
    public static let prohibit = RouteType(rawValue: UInt8(RTN_PROHIBIT))

    public var description: String {
        switch self {
        case .unspecified: "unspec"
        case .unicast: "unicast"
        case .local: "local"
        case .broadcast: "broadcast"
        case .multicast: "multicast"
        case .blackhole: "blackhole"
        case .unreachable: "unreachable"
        case .prohibit: "prohibit"
        default: "\(rawValue)"
        }
    }
}

/// A route (`ip route`).
public struct Route: Sendable, Equatable, CustomStringConvertible {
    /// `AF_INET` or `AF_INET6` routes.
    public var family: AddressFamily
    /// The destination network; nil for the default route.
    public var destination: IPAddress?
    /// The destination's prefix length (0 for the default route).
    public var destinationLength: Int
    /// The next hop (`via`).
    public var gateway: IPAddress?
    /// The output device (`dev`, `RTA_OIF`).
    public var outputIndex: Int32?
    /// Use the gateway even though no address of `dev` covers it (`onlink`, `RTNH_F_ONLINK`).
    /// podlab's pods hold a /32 and reach their gateway this way.
    public var onlink: Bool
    /// `link` for directly connected networks, `universe` for routes via a gateway.
    public var scope: RouteScope
    /// The routing table (`RT_TABLE_MAIN` is 254).
    public var table: UInt32
    /// Who installed the route (`proto`).
    public var routingProtocol: RouteProtocol
    /// The metric (`metric`/`priority`, `RTA_PRIORITY`).
    public var priority: UInt32?
    /// `unicast` for ordinary routes.
    public var type: RouteType
    /// Preferred source address (`src`, `RTA_PREFSRC`).
    public var preferredSource: IPAddress?

    /// The main routing table.
    public static let mainTable = RouteAttribute.RT_TABLE_MAIN
    /// The local table (the kernel's routes to this host's own addresses).
    public static let localTable = RouteAttribute.RT_TABLE_LOCAL

    /// A route of any family.
    /// - Parameter scope: defaults to `link` for a unicast route without gateway (a directly
    ///   connected network, as `ip route add … dev X` does) and `universe` otherwise.
    public init(family: AddressFamily, destination: IPAddress?, destinationLength: Int, gateway: IPAddress? = nil,
                outputIndex: Int32? = nil, onlink: Bool = false, scope: RouteScope? = nil, table: UInt32 = Route.mainTable,
                routingProtocol: RouteProtocol = .boot, priority: UInt32? = nil, type: RouteType = .unicast,
                preferredSource: IPAddress? = nil) {
        self.family = family
        self.destination = destination
        self.destinationLength = destination == nil ? 0 : destinationLength
        self.gateway = gateway
        self.outputIndex = outputIndex
        self.onlink = onlink
        self.scope = scope ?? (gateway == nil && type == .unicast ? .link : .universe)
        self.table = table
        self.routingProtocol = routingProtocol
        self.priority = priority
        self.type = type
        self.preferredSource = preferredSource
    }

    /// An IPv4 route; `destination` nil is the default route.
    public init(destination: IPv4Prefix?, gateway: IPv4Address? = nil, outputIndex: Int32? = nil, onlink: Bool = false,
                scope: RouteScope? = nil, table: UInt32 = Route.mainTable, routingProtocol: RouteProtocol = .boot,
                priority: UInt32? = nil, type: RouteType = .unicast, preferredSource: IPv4Address? = nil) {
        self.init(family: .ipv4, destination: destination.map { .v4($0.network) }, destinationLength: destination?.length ?? 0,
                  gateway: gateway.map { .v4($0) }, outputIndex: outputIndex, onlink: onlink, scope: scope, table: table,
                  routingProtocol: routingProtocol, priority: priority, type: type, preferredSource: preferredSource.map { .v4($0) })
    }

    /// The default route via `gateway` on device `outputIndex`, `onlink` (a pod's route).
    public static func defaultRoute(via gateway: IPv4Address, outputIndex: Int32, onlink: Bool = true) -> Route {
        Route(destination: nil, gateway: gateway, outputIndex: outputIndex, onlink: onlink)
    }

    /// True for the default route (no destination).
    public var isDefault: Bool { destination == nil || destinationLength == 0 }

    /// Parses the payload of an `RTM_NEWROUTE` message: `struct rtmsg` (12 B) and attributes.
    public init(parsing payload: ArraySlice<UInt8>) throws {
        let reader = PayloadReader(payload: payload)
        guard reader.has(MemoryLayout<rtmsg>.size) else { throw malformed("RTM_NEWROUTE", payload) }
        let family: AddressFamily = reader.u8(0) == Family.AF_INET6 ? .ipv6 : .ipv4
        self.init(family: family, destination: nil, destinationLength: 0, scope: RouteScope(rawValue: reader.u8(6)),
                  table: UInt32(reader.u8(4)), routingProtocol: RouteProtocol(rawValue: reader.u8(5)),
                  type: RouteType(rawValue: reader.u8(7)))
        let length = Int(reader.u8(1))
        onlink = reader.u32(8) & RouteAttribute.RTNH_F_ONLINK != 0
        for attribute in reader.attributes(after: MemoryLayout<rtmsg>.size) {
            switch attribute.type {
            case RouteAttribute.RTA_DST: destination = IPAddress(attribute: attribute)
            case RouteAttribute.RTA_GATEWAY: gateway = IPAddress(attribute: attribute)
            case RouteAttribute.RTA_OIF: outputIndex = attribute.u32.map { Int32(bitPattern: $0) }
            case RouteAttribute.RTA_PRIORITY: priority = attribute.u32
            case RouteAttribute.RTA_TABLE: table = attribute.u32 ?? table
            case RouteAttribute.RTA_PREFSRC: preferredSource = IPAddress(attribute: attribute)
            default: break
            }
        }
        destinationLength = destination == nil ? 0 : length
    }

    public var description: String {
        var text = type == .unicast ? "" : "\(type) "
        if let destination, destinationLength > 0 || family == .ipv6 {
            text += "\(destination)/\(destinationLength)"
        } else {
            text += "default"
        }
        if let gateway { text += " via \(gateway)" }
        if let outputIndex { text += " dev #\(outputIndex)" }
        if table != Route.mainTable { text += " table \(table)" }
        if routingProtocol != .boot { text += " proto \(routingProtocol)" }
        if scope != .universe { text += " scope \(scope)" }
        if let preferredSource { text += " src \(preferredSource)" }
        if let priority { text += " metric \(priority)" }
        if onlink { text += " onlink" }
        return text
    }

    func validate() throws(ValidationError) {
        let familyByte = family.rawValue
        if let destination {
            guard destination.family == familyByte else {
                throw ValidationError(field: "route destination", value: "\(destination)", reason: "is not an \(family) address")
            }
            try NetlinkValidation.validate(prefixLength: destinationLength, for: destination, field: "route destination")
            guard destination.masked(to: destinationLength) == destination else {
                throw ValidationError(field: "route destination", value: "\(destination)/\(destinationLength)",
                                      reason: "host bits are set; did you mean \(destination.masked(to: destinationLength))/\(destinationLength)?")
            }
        }
        if let gateway, gateway.family != familyByte {
            throw ValidationError(field: "route gateway", value: "\(gateway)", reason: "is not an \(family) address like the destination")
        }
        if let preferredSource, preferredSource.family != familyByte {
            throw ValidationError(field: "route source", value: "\(preferredSource)", reason: "is not an \(family) address like the destination")
        }
        if let outputIndex { try NetlinkValidation.validate(interfaceIndex: outputIndex, field: "route device") }
        if onlink && (gateway == nil || outputIndex == nil) {
            throw ValidationError(field: "route", value: description, reason: "onlink needs both a gateway and a device")
        }
    }

    /// `struct rtmsg`. Tables above 255 go in `RTA_TABLE` with `rtm_table` unspecified.
    fileprivate func header(deleting: Bool) -> rtmsg {
        var message = rtmsg()
        message.rtm_family = family.rawValue
        message.rtm_dst_len = UInt8(destinationLength)
        message.rtm_table = table < 256 ? UInt8(table) : UInt8(RouteAttribute.RT_TABLE_UNSPEC)
        // A delete matches any protocol and scope unless told otherwise (as `ip route del`).
        message.rtm_protocol = deleting ? RouteProtocol.unspecified.rawValue : routingProtocol.rawValue
        message.rtm_scope = deleting ? RouteScope.nowhere.rawValue : scope.rawValue
        message.rtm_type = type.rawValue
        message.rtm_flags = onlink ? RouteAttribute.RTNH_F_ONLINK : 0
        return message
    }

    fileprivate func write(_ w: inout MessageWriter, deleting: Bool) {
        w.extraHeader(header(deleting: deleting))
        if table >= 256 { w.put(RouteAttribute.RTA_TABLE, u32: table) }
        if let destination, destinationLength > 0 { w.put(RouteAttribute.RTA_DST, bytes: destination.bytes) }
        if let preferredSource { w.put(RouteAttribute.RTA_PREFSRC, bytes: preferredSource.bytes) }
        if let gateway { w.put(RouteAttribute.RTA_GATEWAY, bytes: gateway.bytes) }
        if let outputIndex { w.put(RouteAttribute.RTA_OIF, u32: UInt32(bitPattern: outputIndex)) }
        if let priority { w.put(RouteAttribute.RTA_PRIORITY, u32: priority) }
    }
}

extension NetlinkRequest {
    static func writeRoute(_ route: Route, mode: WriteMode) throws(ValidationError) -> NetlinkRequest {
        try route.validate()
        return try NetlinkRequest(type: NetlinkType.RTM_NEWROUTE, flags: mode.flags, object: "route \(route)") { w in
            route.write(&w, deleting: false)
        }
    }

    /// `RTM_NEWROUTE` with `NLM_F_EXCL` (`ip route add`); EEXIST if the route is there.
    public static func addRoute(_ route: Route) throws(ValidationError) -> NetlinkRequest {
        try writeRoute(route, mode: .create)
    }

    /// `RTM_NEWROUTE` with `NLM_F_REPLACE` (`ip route replace`).
    public static func replaceRoute(_ route: Route) throws(ValidationError) -> NetlinkRequest {
        try writeRoute(route, mode: .replace)
    }

    /// `RTM_DELROUTE` (`ip route del`): matches destination, table, and the gateway, device and
    /// metric when given; any protocol and scope.
    public static func deleteRoute(_ route: Route) throws(ValidationError) -> NetlinkRequest {
        try route.validate()
        return try NetlinkRequest(type: NetlinkType.RTM_DELROUTE, flags: NetlinkFlags.NLM_F_ACK, object: "route \(route)") { w in
            route.write(&w, deleting: true)
        }
    }

    /// `RTM_GETROUTE` dump of one family's routes (every table).
    public static func dumpRoutes(family: AddressFamily) throws(ValidationError) -> NetlinkRequest {
        var header = rtmsg()
        header.rtm_family = family.rawValue
        return try NetlinkRequest(type: NetlinkType.RTM_GETROUTE, flags: NetlinkFlags.NLM_F_DUMP, object: "routes") { w in
            w.extraHeader(header)
        }
    }
}

extension RouteNetlink {
    /// Adds a route (`ip route add`); EEXIST if it is there.
    public func addRoute(_ route: Route) throws {
        try perform(.addRoute(route))
    }

    /// Adds or overwrites a route (`ip route replace`).
    public func replaceRoute(_ route: Route) throws {
        try perform(.replaceRoute(route))
    }

    /// Removes a route (`ip route del`); ESRCH if no route matches.
    public func deleteRoute(_ route: Route) throws {
        try perform(.deleteRoute(route))
    }

    /// The routes of `family` in `table` (the main table by default; nil for every table).
    public func routes(family: AddressFamily = .ipv4, table: UInt32? = Route.mainTable) throws -> [Route] {
        try fetch(.dumpRoutes(family: family))
            .filter { $0.type == NetlinkType.RTM_NEWROUTE }
            .map { try Route(parsing: $0.payload[...]) }
            .filter { table == nil || $0.table == table }
    }
}
