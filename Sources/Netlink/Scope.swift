import CMnl
import Addressing
import Netns

/// Where an address or route is valid (`rt_scope_t`, `RT_SCOPE_*`): addresses and routes share it.
public struct RouteScope: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `RT_SCOPE_UNIVERSE` (`global` in `ip`).
    public static let universe = RouteScope(rawValue: UInt8(RT_SCOPE_UNIVERSE.rawValue))
    /// `RT_SCOPE_SITE`.
    public static let site = RouteScope(rawValue: UInt8(RT_SCOPE_SITE.rawValue))
    /// `RT_SCOPE_LINK`: directly on the link (connected routes, link-local addresses).
    public static let link = RouteScope(rawValue: UInt8(RT_SCOPE_LINK.rawValue))
    /// `RT_SCOPE_HOST`: this host only (loopback, local routes).
    public static let host = RouteScope(rawValue: UInt8(RT_SCOPE_HOST.rawValue))
    /// `RT_SCOPE_NOWHERE`: matches any scope in a delete request.
    public static let nowhere = RouteScope(rawValue: UInt8(RT_SCOPE_NOWHERE.rawValue))

    /// The name `ip` prints.
    public var description: String {
        switch self {
        case .universe: "global"
        case .site: "site"
        case .link: "link"
        case .host: "host"
        case .nowhere: "nowhere"
        default: "\(rawValue)"
        }
    }
}

extension IPAddress {
    /// `AF_INET` or `AF_INET6`.
    var family: UInt8 {
        switch self {
        case .v4: Family.AF_INET
        case .v6: Family.AF_INET6
        }
    }

    /// The address from an attribute holding 4 or 16 network-order bytes.
    init?(attribute: NetlinkAttribute) {
        self.init(bytes: attribute.bytes)
    }

    /// The address with every bit past `length` cleared.
    func masked(to length: Int) -> IPAddress {
        var bytes = self.bytes
        for i in 0..<bytes.count {
            let bitsKept = max(0, min(8, length - i * 8))
            bytes[i] &= bitsKept == 0 ? 0 : ~UInt8(0) << UInt8(8 - bitsKept)
        }
        return IPAddress(bytes: bytes)!
    }
}

/// An address family for dumps.
public enum AddressFamily: Sendable, Hashable {
    case ipv4
    case ipv6

    var rawValue: UInt8 {
        switch self {
        case .ipv4: Family.AF_INET
        case .ipv6: Family.AF_INET6
        }
    }
}
