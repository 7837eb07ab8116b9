import CMnl

// Kernel constants under their kernel names, so they grep against the uapi headers
// (<linux/netlink.h>, <linux/rtnetlink.h>, <linux/if_link.h>, <linux/if_addr.h>,
// <linux/neighbour.h>, <linux/veth.h>). The C headers import them as Int, Int32 or wrapper
// structs; these are the same values in the width the wire format uses.

/// Message types, `nlmsghdr.nlmsg_type`.
enum NetlinkType {
    static let RTM_NEWLINK = UInt16(CMnl.RTM_NEWLINK)
    static let RTM_DELLINK = UInt16(CMnl.RTM_DELLINK)
    static let RTM_GETLINK = UInt16(CMnl.RTM_GETLINK)
    static let RTM_SETLINK = UInt16(CMnl.RTM_SETLINK)
    static let RTM_NEWADDR = UInt16(CMnl.RTM_NEWADDR)
    static let RTM_DELADDR = UInt16(CMnl.RTM_DELADDR)
    static let RTM_GETADDR = UInt16(CMnl.RTM_GETADDR)
    static let RTM_NEWROUTE = UInt16(CMnl.RTM_NEWROUTE)
    static let RTM_DELROUTE = UInt16(CMnl.RTM_DELROUTE)
    static let RTM_GETROUTE = UInt16(CMnl.RTM_GETROUTE)
    static let RTM_NEWNEIGH = UInt16(CMnl.RTM_NEWNEIGH)
    static let RTM_DELNEIGH = UInt16(CMnl.RTM_DELNEIGH)
    static let RTM_GETNEIGH = UInt16(CMnl.RTM_GETNEIGH)

    /// The kernel name of a message type, for error messages.
    static func name(_ type: UInt16) -> String {
        switch type {
        case RTM_NEWLINK: "RTM_NEWLINK"
        case RTM_DELLINK: "RTM_DELLINK"
        case RTM_GETLINK: "RTM_GETLINK"
        case RTM_SETLINK: "RTM_SETLINK"
        case RTM_NEWADDR: "RTM_NEWADDR"
        case RTM_DELADDR: "RTM_DELADDR"
        case RTM_GETADDR: "RTM_GETADDR"
        case RTM_NEWROUTE: "RTM_NEWROUTE"
        case RTM_DELROUTE: "RTM_DELROUTE"
        case RTM_GETROUTE: "RTM_GETROUTE"
        case RTM_NEWNEIGH: "RTM_NEWNEIGH"
        case RTM_DELNEIGH: "RTM_DELNEIGH"
        case RTM_GETNEIGH: "RTM_GETNEIGH"
        default: Ctnetlink.name(type) ?? "netlink message type \(type)"
        }
    }
}

/// `nlmsghdr.nlmsg_flags`.
enum NetlinkFlags {
    static let NLM_F_REQUEST = UInt16(CMnl.NLM_F_REQUEST)
    static let NLM_F_ACK = UInt16(CMnl.NLM_F_ACK)
    static let NLM_F_ECHO = UInt16(CMnl.NLM_F_ECHO)
    static let NLM_F_ROOT = UInt16(CMnl.NLM_F_ROOT)
    static let NLM_F_MATCH = UInt16(CMnl.NLM_F_MATCH)
    static let NLM_F_DUMP = UInt16(CMnl.NLM_F_DUMP)
    static let NLM_F_REPLACE = UInt16(CMnl.NLM_F_REPLACE)
    static let NLM_F_EXCL = UInt16(CMnl.NLM_F_EXCL)
    static let NLM_F_CREATE = UInt16(CMnl.NLM_F_CREATE)
    static let NLM_F_APPEND = UInt16(CMnl.NLM_F_APPEND)
}

/// Address families (`ifi_family`, `ifa_family`, `rtm_family`, `ndm_family`).
enum Family {
    static let AF_UNSPEC = UInt8(CMnl.AF_UNSPEC)
    static let AF_INET = UInt8(CMnl.AF_INET)
    static let AF_INET6 = UInt8(CMnl.AF_INET6)
    static let AF_BRIDGE = UInt8(CMnl.AF_BRIDGE)
}

/// `ifinfomsg.ifi_flags` bits (`enum net_device_flags`).
enum InterfaceFlags {
    static let IFF_UP = UInt32(CMnl.IFF_UP.rawValue)
    static let IFF_BROADCAST = UInt32(CMnl.IFF_BROADCAST.rawValue)
    static let IFF_LOOPBACK = UInt32(CMnl.IFF_LOOPBACK.rawValue)
    static let IFF_RUNNING = UInt32(CMnl.IFF_RUNNING.rawValue)
    static let IFF_LOWER_UP = UInt32(CMnl.IFF_LOWER_UP.rawValue)
}

/// Link attributes (`IFLA_*`, `struct ifinfomsg` messages).
enum LinkAttribute {
    static let IFLA_ADDRESS = UInt16(CMnl.IFLA_ADDRESS)
    static let IFLA_IFNAME = UInt16(CMnl.IFLA_IFNAME)
    static let IFLA_MTU = UInt16(CMnl.IFLA_MTU)
    static let IFLA_LINK = UInt16(CMnl.IFLA_LINK)
    static let IFLA_MASTER = UInt16(CMnl.IFLA_MASTER)
    static let IFLA_OPERSTATE = UInt16(CMnl.IFLA_OPERSTATE)
    static let IFLA_IFALIAS = UInt16(CMnl.IFLA_IFALIAS)
    static let IFLA_LINKINFO = UInt16(CMnl.IFLA_LINKINFO)
    static let IFLA_NET_NS_FD = UInt16(CMnl.IFLA_NET_NS_FD)
    static let IFLA_EXT_MASK = UInt16(CMnl.IFLA_EXT_MASK)
    static let IFLA_LINK_NETNSID = UInt16(CMnl.IFLA_LINK_NETNSID)
    static let IFLA_AF_SPEC = UInt16(CMnl.IFLA_AF_SPEC)
    static let IFLA_PROTINFO = UInt16(CMnl.IFLA_PROTINFO)
    /// Nested in `IFLA_PROTINFO` of a bridge port (`<linux/if_link.h>`): hairpin mode.
    static let IFLA_BRPORT_MODE = UInt16(CMnl.IFLA_BRPORT_MODE)
    static let IFLA_NUM_TX_QUEUES = UInt16(CMnl.IFLA_NUM_TX_QUEUES)
    static let IFLA_NUM_RX_QUEUES = UInt16(CMnl.IFLA_NUM_RX_QUEUES)
    /// Nested in `IFLA_AF_SPEC` › `AF_INET6` (`<linux/if_link.h>`).
    static let IFLA_INET6_ADDR_GEN_MODE = UInt16(CMnl.IFLA_INET6_ADDR_GEN_MODE)
    /// `IFLA_EXT_MASK` value that leaves the (large) statistics out of link replies.
    static let RTEXT_FILTER_SKIP_STATS = UInt32(CMnl.RTEXT_FILTER_SKIP_STATS)
}

/// Attributes nested in `IFLA_LINKINFO`.
enum LinkInfoAttribute {
    static let IFLA_INFO_KIND = UInt16(CMnl.IFLA_INFO_KIND)
    static let IFLA_INFO_DATA = UInt16(CMnl.IFLA_INFO_DATA)
    static let IFLA_INFO_SLAVE_KIND = UInt16(CMnl.IFLA_INFO_SLAVE_KIND)
}

/// `IFLA_INFO_DATA` of a veth (`<linux/veth.h>`).
enum VethAttribute {
    static let VETH_INFO_PEER = UInt16(CMnl.VETH_INFO_PEER)
}

/// `IFLA_INFO_DATA` of a vxlan device.
enum VXLANAttribute {
    static let IFLA_VXLAN_ID = UInt16(CMnl.IFLA_VXLAN_ID)
    static let IFLA_VXLAN_GROUP = UInt16(CMnl.IFLA_VXLAN_GROUP)
    static let IFLA_VXLAN_LINK = UInt16(CMnl.IFLA_VXLAN_LINK)
    static let IFLA_VXLAN_LOCAL = UInt16(CMnl.IFLA_VXLAN_LOCAL)
    static let IFLA_VXLAN_TTL = UInt16(CMnl.IFLA_VXLAN_TTL)
    static let IFLA_VXLAN_LEARNING = UInt16(CMnl.IFLA_VXLAN_LEARNING)
    static let IFLA_VXLAN_PORT = UInt16(CMnl.IFLA_VXLAN_PORT)
}

/// Address attributes (`IFA_*`, `struct ifaddrmsg` messages).
enum AddressAttribute {
    static let IFA_ADDRESS = UInt16(CMnl.IFA_ADDRESS)
    static let IFA_LOCAL = UInt16(CMnl.IFA_LOCAL)
    static let IFA_LABEL = UInt16(CMnl.IFA_LABEL)
    static let IFA_BROADCAST = UInt16(CMnl.IFA_BROADCAST)
    static let IFA_FLAGS = UInt16(CMnl.IFA_FLAGS)
}

/// Route attributes (`RTA_*`, `struct rtmsg` messages).
enum RouteAttribute {
    static let RTA_DST = UInt16(CMnl.RTA_DST.rawValue)
    static let RTA_OIF = UInt16(CMnl.RTA_OIF.rawValue)
    static let RTA_GATEWAY = UInt16(CMnl.RTA_GATEWAY.rawValue)
    static let RTA_PRIORITY = UInt16(CMnl.RTA_PRIORITY.rawValue)
    static let RTA_PREFSRC = UInt16(CMnl.RTA_PREFSRC.rawValue)
    static let RTA_TABLE = UInt16(CMnl.RTA_TABLE.rawValue)
    /// `rtm_flags` bit: the gateway is on the link even though no prefix says so.
    static let RTNH_F_ONLINK = UInt32(CMnl.RTNH_F_ONLINK)
    static let RT_TABLE_UNSPEC = UInt32(CMnl.RT_TABLE_UNSPEC.rawValue)
    static let RT_TABLE_MAIN = UInt32(CMnl.RT_TABLE_MAIN.rawValue)
    static let RT_TABLE_LOCAL = UInt32(CMnl.RT_TABLE_LOCAL.rawValue)
}

/// Neighbour attributes (`NDA_*`, `struct ndmsg` messages) and `ndm_flags`.
enum NeighborAttribute {
    static let NDA_DST = UInt16(CMnl.NDA_DST)
    static let NDA_LLADDR = UInt16(CMnl.NDA_LLADDR)
    static let NDA_VLAN = UInt16(CMnl.NDA_VLAN)
    static let NDA_PORT = UInt16(CMnl.NDA_PORT)
    static let NDA_VNI = UInt16(CMnl.NDA_VNI)
    static let NDA_MASTER = UInt16(CMnl.NDA_MASTER)
}

/// `ifa_flags` / `IFA_FLAGS` bits (`<linux/if_addr.h>`).
enum AddressFlagBits {
    static let IFA_F_NODAD = UInt32(CMnl.IFA_F_NODAD)
    static let IFA_F_PERMANENT = UInt32(CMnl.IFA_F_PERMANENT)
}

/// How a create request treats an object that already exists.
enum WriteMode: Sendable {
    /// `NLM_F_CREATE | NLM_F_EXCL`: fail with EEXIST.
    case create
    /// `NLM_F_CREATE | NLM_F_REPLACE`: overwrite it.
    case replace
    /// `NLM_F_CREATE | NLM_F_APPEND`: add another (routes, vxlan FDB remotes).
    case append

    var flags: UInt16 {
        switch self {
        case .create: NetlinkFlags.NLM_F_ACK | NetlinkFlags.NLM_F_CREATE | NetlinkFlags.NLM_F_EXCL
        case .replace: NetlinkFlags.NLM_F_ACK | NetlinkFlags.NLM_F_CREATE | NetlinkFlags.NLM_F_REPLACE
        case .append: NetlinkFlags.NLM_F_ACK | NetlinkFlags.NLM_F_CREATE | NetlinkFlags.NLM_F_APPEND
        }
    }
}
