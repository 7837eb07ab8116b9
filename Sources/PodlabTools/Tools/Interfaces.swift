#if canImport(Glibc)
import Glibc
#endif

/// One network interface of the process's network namespace, read with `getifaddrs` and
/// `SIOCGIF*` ioctls (no netlink needed).
struct NetworkInterface {
    struct IPv4 { var address: String; var prefixLength: Int; var broadcast: String? }
    struct IPv6 { var address: String; var prefixLength: Int }

    var name: String
    var index: UInt32
    var flags: UInt32
    var mtu: Int32 = 0
    var txQueueLength: Int32 = 0
    /// `sll_hatype`: ARPHRD_ETHER (1), ARPHRD_LOOPBACK (772), …
    var hardwareType: UInt16 = 0
    var hardwareAddress: [UInt8] = []
    var ipv4: [IPv4] = []
    var ipv6: [IPv6] = []
    /// `struct rtnl_link_stats` counters, in kernel order; empty when unavailable.
    var statistics: [UInt32] = []

    static let IFF_LOWER_UP: UInt32 = 0x10000
    static let ARPHRD_ETHER: UInt16 = 1
    static let ARPHRD_LOOPBACK: UInt16 = 772
    static let SIOCGIFMTU: UInt = 0x8921
    static let SIOCGIFTXQLEN: UInt = 0x8942

    var isUp: Bool { flags & UInt32(IFF_UP) != 0 }
    var isLoopback: Bool { flags & UInt32(IFF_LOOPBACK) != 0 }

    func statistic(_ index: Int) -> UInt32 { index < statistics.count ? statistics[index] : 0 }
}

enum Interfaces {
    /// Every interface, in ifindex order.
    static func list() -> [NetworkInterface] {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0 else { return [] }
        defer { freeifaddrs(head) }
        var byName: [String: NetworkInterface] = [:]
        var cursor = head
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            let name = String(cString: entry.pointee.ifa_name)
            var interface = byName[name] ?? NetworkInterface(name: name, index: if_nametoindex(name), flags: entry.pointee.ifa_flags)
            interface.flags = entry.pointee.ifa_flags
            guard let address = entry.pointee.ifa_addr else { byName[name] = interface; continue }
            switch Int32(address.pointee.sa_family) {
            case AF_INET:
                let ip = text(address)
                let prefix = entry.pointee.ifa_netmask.map(prefixLength) ?? 32
                var broadcast: String?
                // Without IFA_BROADCAST, getifaddrs reports the address itself here: no broadcast set.
                if interface.flags & UInt32(IFF_BROADCAST) != 0, let b = entry.pointee.ifa_ifu.ifu_broadaddr, text(b) != ip { broadcast = text(b) }
                interface.ipv4.append(.init(address: ip, prefixLength: prefix, broadcast: broadcast))
            case AF_INET6:
                interface.ipv6.append(.init(address: text(address), prefixLength: entry.pointee.ifa_netmask.map(prefixLength) ?? 128))
            case AF_PACKET:
                // struct sockaddr_ll: sll_hatype at 8, sll_halen at 11, sll_addr at 12.
                let raw = UnsafeRawPointer(address)
                interface.hardwareType = raw.loadUnaligned(fromByteOffset: 8, as: UInt16.self)
                let length = Int(raw.load(fromByteOffset: 11, as: UInt8.self))
                interface.hardwareAddress = (0..<min(length, 8)).map { raw.load(fromByteOffset: 12 + $0, as: UInt8.self) }
                if let data = entry.pointee.ifa_data {
                    // struct rtnl_link_stats: 24 __u32 counters (rx_packets, tx_packets, rx_bytes, …).
                    interface.statistics = (0..<24).map { data.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self) }
                }
            default:
                break
            }
            byName[name] = interface
        }
        let probe = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { if probe >= 0 { close(probe) } }
        return byName.values.map { interface in
            var copy = interface
            if probe >= 0 {
                copy.mtu = ioctlInt(probe, NetworkInterface.SIOCGIFMTU, interface.name)
                copy.txQueueLength = ioctlInt(probe, NetworkInterface.SIOCGIFTXQLEN, interface.name)
            }
            return copy
        }.sorted { $0.index < $1.index }
    }

    /// The first IPv4 address of an up, non-loopback interface: the pod IP.
    static func primaryIPv4() -> String? {
        list().first { $0.isUp && !$0.isLoopback && !$0.ipv4.isEmpty }?.ipv4.first?.address
    }

    /// An `int`-valued `SIOCGIF*` ioctl on `struct ifreq` (name at 0, value at 16).
    private static func ioctlInt(_ fd: Int32, _ request: UInt, _ name: String) -> Int32 {
        var request40 = [UInt8](repeating: 0, count: 40)
        for (i, byte) in name.utf8.prefix(15).enumerated() { request40[i] = byte }
        return request40.withUnsafeMutableBytes { raw -> Int32 in
            guard ioctl(fd, request, raw.baseAddress!) == 0 else { return 0 }
            return raw.load(fromByteOffset: 16, as: Int32.self)
        }
    }

    private static func text(_ address: UnsafeMutablePointer<sockaddr>) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let raw = UnsafeRawPointer(address)
        if Int32(address.pointee.sa_family) == AF_INET {
            _ = inet_ntop(AF_INET, raw + 4, &buffer, socklen_t(buffer.count))
        } else {
            _ = inet_ntop(AF_INET6, raw + 8, &buffer, socklen_t(buffer.count))
        }
        return String(nulTerminated: buffer)
    }

    private static func prefixLength(_ mask: UnsafeMutablePointer<sockaddr>) -> Int {
        let raw = UnsafeRawPointer(mask)
        let (offset, count) = Int32(mask.pointee.sa_family) == AF_INET6 ? (8, 16) : (4, 4)
        return (0..<count).reduce(0) { $0 + raw.load(fromByteOffset: offset + $1, as: UInt8.self).nonzeroBitCount }
    }

    static func macText(_ bytes: [UInt8], uppercase: Bool) -> String {
        bytes.map { byte in
            let hex = String(byte, radix: 16, uppercase: uppercase)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
    }

    static func ipv4Mask(_ prefix: Int) -> String {
        let mask: UInt32 = prefix == 0 ? 0 : UInt32.max << UInt32(32 - prefix)
        return "\(mask >> 24).\(mask >> 16 & 0xFF).\(mask >> 8 & 0xFF).\(mask & 0xFF)"
    }

    static func ipv6Scope(_ address: String) -> String {
        if address == "::1" { return "host" }
        if address.lowercased().hasPrefix("fe8") || address.lowercased().hasPrefix("fe9") || address.lowercased().hasPrefix("fea") || address.lowercased().hasPrefix("feb") { return "link" }
        return "global"
    }

    // MARK: ifconfig

    /// BusyBox `ifconfig [-a] [IFACE]`.
    static func ifconfig(_ context: ToolContext) -> Int32 {
        var all = false
        var only: String?
        for argument in context.arguments {
            if argument == "-a" { all = true } else if argument.hasPrefix("-") {
                context.stderr.line("ifconfig: unrecognized option '\(argument)'")
                return 1
            } else if only == nil { only = argument } else {
                context.stderr.line("ifconfig: podlab's ifconfig only shows interfaces; it does not change them")
                return 1
            }
        }
        let interfaces = list().filter { interface in only.map { interface.name == $0 } ?? (all || interface.isUp) }
        if let only, interfaces.isEmpty {
            context.stderr.line("ifconfig: \(only): error fetching interface information: Device not found")
            return 1
        }
        context.stdout.write(interfaces.map(ifconfigBlock).joined())
        return 0
    }

    static func ifconfigBlock(_ interface: NetworkInterface) -> String {
        func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count) }
        var text = pad(interface.name, 10)
        if interface.hardwareType == NetworkInterface.ARPHRD_LOOPBACK || interface.isLoopback {
            text += "Link encap:Local Loopback  \n"
        } else if interface.hardwareType == NetworkInterface.ARPHRD_ETHER {
            text += "Link encap:Ethernet  HWaddr \(macText(interface.hardwareAddress, uppercase: true))  \n"
        } else {
            text += "Link encap:UNSPEC  \n"
        }
        let indent = String(repeating: " ", count: 10)
        for v4 in interface.ipv4 {
            text += "\(indent)inet addr:\(v4.address)"
            if interface.flags & UInt32(IFF_BROADCAST) != 0 { text += "  Bcast:\(v4.broadcast ?? "0.0.0.0")" }
            text += "  Mask:\(ipv4Mask(v4.prefixLength))\n"
        }
        for v6 in interface.ipv6 {
            let scope = ipv6Scope(v6.address)
            text += "\(indent)inet6 addr: \(v6.address)/\(v6.prefixLength) Scope:\(scope.prefix(1).uppercased() + scope.dropFirst())\n"
        }
        var flagNames: [String] = []
        let flags = interface.flags
        for (bit, name) in [(IFF_UP, "UP"), (IFF_BROADCAST, "BROADCAST"), (IFF_LOOPBACK, "LOOPBACK"), (IFF_POINTOPOINT, "POINTOPOINT"),
                            (IFF_RUNNING, "RUNNING"), (IFF_NOARP, "NOARP"), (IFF_PROMISC, "PROMISC"), (IFF_MULTICAST, "MULTICAST")]
            where flags & UInt32(bit) != 0 {
            flagNames.append(name)
        }
        text += "\(indent)\(flagNames.joined(separator: " "))  MTU:\(interface.mtu)  Metric:1\n"
        let s = interface.statistic
        text += "\(indent)RX packets:\(s(0)) errors:\(s(4)) dropped:\(s(6)) overruns:\(s(14)) frame:\(s(13))\n"
        text += "\(indent)TX packets:\(s(1)) errors:\(s(5)) dropped:\(s(7)) overruns:\(s(18)) carrier:\(s(17))\n"
        text += "\(indent)collisions:\(s(9)) txqueuelen:\(interface.txQueueLength) \n"
        text += "\(indent)RX bytes:\(s(2)) (\(humanBytes(s(2))))  TX bytes:\(s(3)) (\(humanBytes(s(3))))\n\n"
        return text
    }

    private static func humanBytes(_ value: UInt32) -> String {
        var amount = Double(value)
        var unit = 0
        let units = ["B", "KiB", "MiB", "GiB"]
        while amount >= 1024 && unit < units.count - 1 { amount /= 1024; unit += 1 }
        let tenths = Int((amount * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }

    // MARK: ip

    /// `ip [-4|-6] [-br] addr|link|route [show [dev IFACE]]`, read-only.
    static func ip(_ context: ToolContext) -> Int32 {
        var arguments = context.arguments
        var family: Int32?
        var brief = false
        while let first = arguments.first, first.hasPrefix("-") {
            switch first {
            case "-4": family = AF_INET
            case "-6": family = AF_INET6
            case "-br", "-brief": brief = true
            case "-o", "-oneline", "-c", "-color": break
            default:
                context.stderr.line("Option \"\(first)\" is unknown, try \"ip -help\".")
                return 255
            }
            arguments.removeFirst()
        }
        guard let object = arguments.first else {
            context.stderr.line("Usage: ip [ OPTIONS ] { address | link | route } [ show [ dev IFACE ] ]")
            return 255
        }
        var rest = Array(arguments.dropFirst())
        if rest.first == "show" || rest.first == "list" || rest.first == "ls" { rest.removeFirst() }
        if rest.first == "dev" { rest.removeFirst() }
        let device = rest.first
        if let verb = rest.first, ["add", "del", "delete", "change", "replace", "set", "flush"].contains(verb) {
            context.stderr.line("ip: podlab's ip only shows; \"\(verb)\" is not supported")
            return 2
        }
        switch object {
        case "a", "addr", "address":
            return show(context, device: device, addresses: true, family: family, brief: brief)
        case "l", "link":
            return show(context, device: device, addresses: false, family: family, brief: brief)
        case "r", "ro", "route":
            return routes(context, family: family)
        default:
            context.stderr.line("Object \"\(object)\" is unknown, try \"ip help\".")
            return 255
        }
    }

    private static func show(_ context: ToolContext, device: String?, addresses: Bool, family: Int32?, brief: Bool) -> Int32 {
        let interfaces = list().filter { device == nil || $0.name == device }
        if let device, interfaces.isEmpty {
            context.stderr.line("Device \"\(device)\" does not exist.")
            return 1
        }
        var text = ""
        for interface in interfaces {
            let lowerUp = interface.flags & NetworkInterface.IFF_LOWER_UP != 0
            let state = interface.isLoopback ? "UNKNOWN" : (interface.isUp && lowerUp ? "UP" : "DOWN")
            let mac = macText(interface.hardwareAddress.isEmpty ? [0, 0, 0, 0, 0, 0] : interface.hardwareAddress, uppercase: false)
            if brief {
                let name = interface.name + String(repeating: " ", count: max(1, 17 - interface.name.count))
                let stateColumn = state + String(repeating: " ", count: max(1, 15 - state.count))
                if addresses {
                    var list: [String] = []
                    if family != AF_INET6 { list += interface.ipv4.map { "\($0.address)/\($0.prefixLength)" } }
                    if family != AF_INET { list += interface.ipv6.map { "\($0.address)/\($0.prefixLength)" } }
                    text += "\(name)\(stateColumn)\(list.joined(separator: " ")) \n"
                } else {
                    text += "\(name)\(stateColumn)\(mac) <\(flagList(interface).joined(separator: ","))> \n"
                }
                continue
            }
            text += "\(interface.index): \(interface.name): <\(flagList(interface).joined(separator: ","))> mtu \(interface.mtu) state \(state) qlen \(interface.txQueueLength)\n"
            if interface.isLoopback || interface.hardwareType == NetworkInterface.ARPHRD_LOOPBACK {
                text += "    link/loopback \(mac) brd 00:00:00:00:00:00\n"
            } else if interface.hardwareType == NetworkInterface.ARPHRD_ETHER {
                text += "    link/ether \(mac) brd ff:ff:ff:ff:ff:ff\n"
            } else {
                text += "    link/none \n"
            }
            guard addresses else { continue }
            if family != AF_INET6 {
                for v4 in interface.ipv4 {
                    let scope = v4.address.hasPrefix("127.") ? "host" : "global"
                    let broadcast = v4.broadcast.map { " brd \($0)" } ?? ""
                    text += "    inet \(v4.address)/\(v4.prefixLength)\(broadcast) scope \(scope) \(interface.name)\n"
                    text += "       valid_lft forever preferred_lft forever\n"
                }
            }
            if family != AF_INET {
                for v6 in interface.ipv6 {
                    text += "    inet6 \(v6.address)/\(v6.prefixLength) scope \(ipv6Scope(v6.address)) \n"
                    text += "       valid_lft forever preferred_lft forever\n"
                }
            }
        }
        context.stdout.write(text)
        return 0
    }

    private static func flagList(_ interface: NetworkInterface) -> [String] {
        var names: [String] = []
        let flags = interface.flags
        for (bit, name) in [(UInt32(IFF_LOOPBACK), "LOOPBACK"), (UInt32(IFF_BROADCAST), "BROADCAST"), (UInt32(IFF_POINTOPOINT), "POINTOPOINT"),
                            (UInt32(IFF_MULTICAST), "MULTICAST"), (UInt32(IFF_NOARP), "NOARP"), (UInt32(IFF_UP), "UP"),
                            (NetworkInterface.IFF_LOWER_UP, "LOWER_UP")] where flags & bit != 0 {
            names.append(name)
        }
        return names
    }

    /// IPv4 routes of the main table from `/proc/net/route` (per network namespace).
    private static func routes(_ context: ToolContext, family: Int32?) -> Int32 {
        guard family != AF_INET6 else { return 0 }
        let fd = open("/proc/net/route", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            context.stderr.line("ip: can't open '/proc/net/route': \(String(cString: strerror(errno)))")
            return 1
        }
        defer { close(fd) }
        let table = String(decoding: (try? readAll(fd: fd)) ?? [], as: UTF8.self)
        context.stdout.write(formatRoutes(procNetRoute: table))
        return 0
    }

    /// Formats `/proc/net/route` the way `ip route` prints routes.
    static func formatRoutes(procNetRoute table: String) -> String {
        func address(_ hex: Substring) -> String {
            // Little-endian hex of the address in network order.
            guard let value = UInt32(hex, radix: 16) else { return "?" }
            return "\(value & 0xFF).\(value >> 8 & 0xFF).\(value >> 16 & 0xFF).\(value >> 24)"
        }
        var text = ""
        for line in table.split(separator: "\n").dropFirst() {
            let columns = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard columns.count >= 8, let flags = UInt32(columns[3], radix: 16), let metric = Int(columns[6]),
                  let mask = UInt32(columns[7], radix: 16) else { continue }
            let prefix = mask.nonzeroBitCount
            let destination = columns[1] == "00000000" && prefix == 0 ? "default" : "\(address(columns[1]))/\(prefix)"
            var route = destination == "default" || prefix == 32 ? destination.replacingSuffix("/32") : destination
            if flags & 0x2 != 0 { route += " via \(address(columns[2]))" }
            route += " dev \(columns[0])"
            if flags & 0x2 == 0 { route += " scope link" }
            if metric != 0 { route += " metric \(metric)" }
            text += route + " \n"
        }
        return text
    }
}

extension String {
    fileprivate func replacingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
