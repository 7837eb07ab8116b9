import Addressing

/// A CNI result (SPEC.md, "Success"): interfaces, IP configurations, routes and DNS. One value
/// for every version; `json(version:)` writes the requested version's shape.
public struct CNIResult: Sendable, Equatable {
    public struct Interface: Sendable, Equatable {
        public var name: String
        public var mac: String
        /// The container's namespace path; nil for an interface on the host.
        public var sandbox: String?
        /// CNI 1.1: the interface's MTU, when known.
        public var mtu: UInt32?

        public init(name: String, mac: String, sandbox: String? = nil, mtu: UInt32? = nil) {
            self.name = name
            self.mac = mac
            self.sandbox = sandbox
            self.mtu = mtu
        }
    }

    public struct IPConfig: Sendable, Equatable {
        /// The address with its prefix length, as the interface holds it.
        public var address: IPv4Interface
        public var gateway: IPv4Address?
        /// Index into `interfaces`.
        public var interface: Int?

        public init(address: IPv4Interface, gateway: IPv4Address?, interface: Int?) {
            self.address = address
            self.gateway = gateway
            self.interface = interface
        }
    }

    public struct RouteEntry: Sendable, Equatable {
        public var destination: IPv4Prefix
        public var gateway: IPv4Address?

        public init(destination: IPv4Prefix, gateway: IPv4Address? = nil) {
            self.destination = destination
            self.gateway = gateway
        }
    }

    public var interfaces: [Interface]
    public var ips: [IPConfig]
    public var routes: [RouteEntry]
    /// `dns` as given (podlab-cni sets none of its own; a prevResult's is passed on).
    public var dns: JSON

    public init(interfaces: [Interface] = [], ips: [IPConfig] = [], routes: [RouteEntry] = [], dns: JSON = .object([])) {
        self.interfaces = interfaces
        self.ips = ips
        self.routes = routes
        self.dns = dns
    }

    /// The result in `version`'s format. 0.3.x and 0.4.0 give each IP a `"version": "4"`;
    /// 1.0.0 dropped it; 1.1.0 adds an interface's `mtu`.
    public func json(version: String) -> JSON {
        let legacy = CNIVersion.isOlder(version, than: "1.0.0")
        let withMTU = !CNIVersion.isOlder(version, than: "1.1.0")
        var members: [(String, JSON)] = [("cniVersion", .string(version))]
        if !interfaces.isEmpty {
            members.append(("interfaces", .array(interfaces.map { i in
                var o: [(String, JSON)] = [("name", .string(i.name)), ("mac", .string(i.mac))]
                if withMTU, let mtu = i.mtu { o.append(("mtu", .number(Double(mtu)))) }
                if let sandbox = i.sandbox { o.append(("sandbox", .string(sandbox))) }
                return .object(o)
            })))
        }
        if !ips.isEmpty {
            members.append(("ips", .array(ips.map { ip in
                var o: [(String, JSON)] = []
                if legacy { o.append(("version", .string("4"))) }
                if let index = ip.interface { o.append(("interface", .number(Double(index)))) }
                o.append(("address", .string(ip.address.description)))
                if let gw = ip.gateway { o.append(("gateway", .string(gw.description))) }
                return .object(o)
            })))
        }
        if !routes.isEmpty {
            members.append(("routes", .array(routes.map { r in
                var o: [(String, JSON)] = [("dst", .string(r.destination.description))]
                if let gw = r.gateway { o.append(("gw", .string(gw.description))) }
                return .object(o)
            })))
        }
        members.append(("dns", dns))
        return .object(members)
    }

    /// Reads a result of any supported version (a `prevResult`). IPv6 entries of another
    /// plugin are kept out: podlab-cni models IPv4 only and does not pass them on.
    public init(parsing json: JSON) throws(CNIError) {
        func bad(_ details: String) -> CNIError { CNIError(.decodingFailure, "failed to parse prevResult", details: details) }
        guard case .object = json else { throw bad("expected an object, found \(json.kindName)") }
        if let version = json["cniVersion"] {
            guard let text = version.stringValue, CNIVersion.parse(text) != nil else { throw bad("cniVersion: not a version") }
        }
        interfaces = []
        if let list = json["interfaces"] {
            guard let items = list.arrayValue else { throw bad("interfaces: expected an array, found \(list.kindName)") }
            for (i, item) in items.enumerated() {
                guard let name = item["name"]?.stringValue else { throw bad("interfaces[\(i)].name: required, a string") }
                let mtu = item["mtu"]?.numberValue.flatMap { UInt32(exactly: $0) }
                interfaces.append(Interface(name: name, mac: item["mac"]?.stringValue ?? "", sandbox: item["sandbox"]?.stringValue, mtu: mtu))
            }
        }
        ips = []
        if let list = json["ips"] {
            guard let items = list.arrayValue else { throw bad("ips: expected an array, found \(list.kindName)") }
            for (i, item) in items.enumerated() {
                guard let text = item["address"]?.stringValue else { throw bad("ips[\(i)].address: required, a string") }
                if text.contains(":") { continue }
                guard let address = IPv4Interface(text) else { throw bad("ips[\(i)].address \"\(text)\": not an address with a prefix length") }
                var gateway: IPv4Address?
                if let gw = item["gateway"]?.stringValue {
                    guard let a = IPv4Address(gw) else { throw bad("ips[\(i)].gateway \"\(gw)\": not an IPv4 address") }
                    gateway = a
                }
                let index = item["interface"]?.numberValue.flatMap { Int(exactly: $0) }
                if let index, index < 0 || index >= interfaces.count { throw bad("ips[\(i)].interface \(index): no such interface") }
                ips.append(IPConfig(address: address, gateway: gateway, interface: index))
            }
        }
        routes = []
        if let list = json["routes"] {
            guard let items = list.arrayValue else { throw bad("routes: expected an array, found \(list.kindName)") }
            for (i, item) in items.enumerated() {
                guard let dst = item["dst"]?.stringValue else { throw bad("routes[\(i)].dst: required, a string") }
                if dst.contains(":") { continue }
                guard let prefix = try? IPv4Prefix(parsing: dst, strict: false) else { throw bad("routes[\(i)].dst \"\(dst)\": not a prefix") }
                routes.append(RouteEntry(destination: prefix, gateway: item["gw"]?.stringValue.flatMap(IPv4Address.init)))
            }
        }
        dns = json["dns"] ?? .object([])
    }
}
