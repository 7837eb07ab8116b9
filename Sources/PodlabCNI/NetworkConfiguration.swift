import Addressing
import Netlink
import Netns

/// How a container's interface is addressed.
public enum AttachmentMode: String, Sendable, Equatable {
    /// As the reference `bridge` plugin: the container holds its address with the subnet's
    /// prefix and reaches its neighbours on the bridge directly.
    case bridged
    /// podlab's pods: the container holds a /32, routes everything via the gateway (onlink), and
    /// the node routes between containers; permanent neighbour entries both ways, so no
    /// dynamic ARP fills the kernel's global neighbour table (design.md, "Kernel limits").
    case routed
}

/// One address range of the IPAM configuration (`ranges[0][i]`), with host-local's defaults
/// filled in.
public struct AddressRange: Sendable, Equatable {
    public var subnet: IPv4Prefix
    public var rangeStart: IPv4Address
    public var rangeEnd: IPv4Address
    public var gateway: IPv4Address

    public init(subnet: IPv4Prefix, rangeStart: IPv4Address? = nil, rangeEnd: IPv4Address? = nil, gateway: IPv4Address? = nil) {
        self.subnet = subnet
        self.gateway = gateway ?? subnet.host(1) ?? subnet.network
        self.rangeStart = rangeStart ?? subnet.host(1) ?? subnet.network
        self.rangeEnd = rangeEnd ?? IPv4Address(subnet.lastAddress.value &- 1)
    }

    /// True when `address` may be handed out: inside the range, not the gateway, the network or
    /// the broadcast address.
    public func isAllocatable(_ address: IPv4Address) -> Bool {
        address >= rangeStart && address <= rangeEnd && address != gateway && address != subnet.network && address != subnet.lastAddress
    }
}

/// A port mapping from `runtimeConfig.portMappings` (the `portMappings` capability).
public struct PortMapping: Sendable, Hashable, CustomStringConvertible {
    public enum TransportProtocol: String, Sendable, Hashable {
        case tcp, udp, sctp
    }
    public var hostPort: UInt16
    public var containerPort: UInt16
    public var transport: TransportProtocol

    public init(hostPort: UInt16, containerPort: UInt16, transport: TransportProtocol) {
        self.hostPort = hostPort
        self.containerPort = containerPort
        self.transport = transport
    }

    /// `tcp:8080:80`, the record's spelling.
    public var description: String { "\(transport.rawValue):\(hostPort):\(containerPort)" }

    public init?(record: Substring) {
        let parts = record.split(separator: ":")
        guard parts.count == 3, let t = TransportProtocol(rawValue: String(parts[0])), let h = UInt16(parts[1]), let c = UInt16(parts[2]) else { return nil }
        self.init(hostPort: h, containerPort: c, transport: t)
    }
}

/// An entry of `cni.dev/valid-attachments` (GC).
public struct ContainerAttachment: Sendable, Hashable {
    public var containerID: String
    public var ifname: String
    public init(containerID: String, ifname: String) {
        self.containerID = containerID
        self.ifname = ifname
    }
}

/// The network configuration podlab-cni reads from stdin: the reference `bridge` plugin's
/// fields, host-local's `ipam` (as type `podlab`), the `portMappings` capability, and
/// podlab's routed mode.
public struct NetworkConfiguration: Sendable {
    public var cniVersion: String
    public var name: String
    public var bridge: String
    public var isGateway: Bool
    /// Bridged mode: a default route via the gateway when `ipam.routes` gives none (routed mode
    /// always has one).
    public var isDefaultGateway: Bool
    public var ipMasq: Bool
    public var hairpinMode: Bool
    public var mtu: UInt32?
    public var mode: AttachmentMode
    public var ranges: [AddressRange]
    /// Destinations routed via the gateway in the container (`ipam.routes`).
    public var routes: [IPv4Prefix]
    public var dataDir: String
    public var portMappings: [PortMapping]
    /// The result of the plugins before this one in a chain, as given.
    public var prevResult: CNIResult?
    /// GC: the attachments the runtime still holds (nil when the key is absent).
    public var validAttachments: [ContainerAttachment]?

    /// Where host-local keeps its state, per network: podlab-cni uses the same default.
    public static let defaultDataDirectory = "/var/lib/cni/networks"

    /// The subnet every range lies in.
    public var subnet: IPv4Prefix { ranges[0].subnet }
    public var gateway: IPv4Address { ranges[0].gateway }

    /// The bridge's address: the gateway with the subnet's length.
    public var gatewayInterface: IPv4Interface { try! IPv4Interface(gateway, length: subnet.length) }

    /// The container's address length: /32 when routed, the subnet's when bridged.
    public var containerPrefixLength: Int { mode == .routed ? 32 : subnet.length }
}

extension NetworkConfiguration {
    /// Reads a configuration: malformed JSON is a decoding failure (6), a field of the wrong type
    /// or value an invalid configuration (7) naming the field, a version podlab-cni does not speak
    /// an incompatible version (1).
    public init(parsing bytes: [UInt8]) throws(CNIError) {
        let root: JSON
        do {
            root = try JSON(parsing: bytes)
        } catch {
            throw CNIError(.decodingFailure, "failed to parse the network configuration", details: error.description)
        }
        guard case .object = root else {
            throw CNIError(.decodingFailure, "failed to parse the network configuration", details: "expected an object, found \(root.kindName)")
        }
        let reader = FieldReader(root)

        if let offered = try reader.stringArray("cniVersions") {
            guard let chosen = CNIVersion.negotiate(offered) else {
                throw CNIError(.incompatibleVersion, "incompatible CNI versions",
                               details: "cniVersions offers [\(offered.joined(separator: " "))], plugin supports [\(CNIVersion.supported.joined(separator: " "))]")
            }
            cniVersion = chosen
        } else {
            guard let version = try reader.string("cniVersion") else {
                throw CNIError(.invalidNetworkConfig, "invalid network configuration", details: "cniVersion: required")
            }
            try CNIVersion.validate(version)
            cniVersion = version
        }

        guard let name = try reader.string("name"), !name.isEmpty else {
            throw CNIError(.invalidNetworkConfig, "invalid network configuration", details: "name: required")
        }
        guard name.utf8.allSatisfy({ Self.isNameByte($0) }), let first = name.utf8.first, Self.isAlnum(first) else {
            throw CNIError(.invalidNetworkConfig, "invalid network configuration",
                           details: "name \"\(name)\": must start with a letter or digit and contain only letters, digits, '_', '.' and '-'")
        }
        self.name = name

        bridge = try reader.string("bridge") ?? "cni0"
        do {
            try NetlinkValidation.validate(interfaceName: bridge, field: "bridge")
        } catch {
            throw CNIError(.invalidNetworkConfig, "invalid network configuration", details: error.description)
        }
        let modeText = try reader.string("mode") ?? "bridged"
        guard let mode = AttachmentMode(rawValue: modeText) else {
            throw CNIError(.invalidNetworkConfig, "invalid network configuration", details: "mode \"\(modeText)\": must be \"bridged\" or \"routed\"")
        }
        self.mode = mode
        isGateway = try reader.bool("isGateway") ?? (mode == .routed)
        if mode == .routed && !isGateway {
            throw CNIError(.invalidNetworkConfig, "invalid network configuration",
                           details: "isGateway: false: in routed mode the bridge is every container's gateway")
        }
        isDefaultGateway = try reader.bool("isDefaultGateway") ?? false
        // As the reference bridge plugin: a default gateway is a gateway.
        if isDefaultGateway { isGateway = true }
        ipMasq = try reader.bool("ipMasq") ?? false
        hairpinMode = try reader.bool("hairpinMode") ?? false
        if let mtu = try reader.integer("mtu") {
            guard (Int(NetlinkValidation.minimumMTU)...Int(NetlinkValidation.maximumMTU)).contains(mtu) else {
                throw CNIError(.invalidNetworkConfig, "invalid network configuration",
                               details: "mtu \(mtu): must be between \(NetlinkValidation.minimumMTU) and \(NetlinkValidation.maximumMTU)")
            }
            self.mtu = UInt32(mtu)
        }

        guard let ipam = root["ipam"], case .object = ipam else {
            throw CNIError(.invalidNetworkConfig, "invalid network configuration", details: "ipam: required, an object")
        }
        let ipamReader = FieldReader(ipam, path: "ipam.")
        let ipamType = try ipamReader.string("type") ?? ""
        guard ipamType == "podlab" else {
            throw CNIError(.invalidNetworkConfig, "invalid network configuration",
                           details: "ipam.type \"\(ipamType)\": podlab-cni allocates itself; use \"podlab\" (host-local's fields)")
        }
        ranges = try Self.parseRanges(ipam, reader: ipamReader)
        routes = try Self.parseRoutes(ipam, gateway: ranges[0].gateway)
        let base = try ipamReader.string("dataDir") ?? Self.defaultDataDirectory
        guard base.hasPrefix("/") else {
            throw CNIError(.invalidNetworkConfig, "invalid network configuration", details: "ipam.dataDir \"\(base)\": must be an absolute path")
        }
        dataDir = base + "/" + name

        portMappings = []
        if let runtime = root["runtimeConfig"], let mappings = runtime["portMappings"] {
            portMappings = try Self.parsePortMappings(mappings)
        }

        if let prev = root["prevResult"], !prev.isNull {
            do {
                prevResult = try CNIResult(parsing: prev)
            } catch {
                throw CNIError(.decodingFailure, "failed to parse prevResult", details: error.details.isEmpty ? error.msg : error.details)
            }
        }

        if let valid = root["cni.dev/valid-attachments"] {
            guard let items = valid.arrayValue else {
                throw CNIError(.invalidNetworkConfig, "invalid network configuration", details: "cni.dev/valid-attachments: expected an array, found \(valid.kindName)")
            }
            validAttachments = try items.enumerated().map { (i, item) throws(CNIError) in
                let r = FieldReader(item, path: "cni.dev/valid-attachments[\(i)].")
                guard let id = try r.string("containerID"), let ifname = try r.string("ifname") else {
                    throw CNIError(.invalidNetworkConfig, "invalid network configuration",
                                   details: "cni.dev/valid-attachments[\(i)]: containerID and ifname are required")
                }
                return ContainerAttachment(containerID: id, ifname: ifname)
            }
        }
    }

    private static func isAlnum(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
    }

    private static func isNameByte(_ b: UInt8) -> Bool {
        isAlnum(b) || b == UInt8(ascii: "_") || b == UInt8(ascii: ".") || b == UInt8(ascii: "-")
    }

    static func invalid(_ details: String) -> CNIError { CNIError(.invalidNetworkConfig, "invalid network configuration", details: details) }

    private static func parseRanges(_ ipam: JSON, reader: FieldReader) throws(CNIError) -> [AddressRange] {
        var objects: [(JSON, String)] = []
        if let sets = ipam["ranges"] {
            guard let outer = sets.arrayValue else { throw invalid("ipam.ranges: expected an array of range sets, found \(sets.kindName)") }
            guard outer.count == 1 else {
                throw invalid("ipam.ranges: podlab-cni gives one IPv4 address per attachment and needs exactly one range set, found \(outer.count)")
            }
            guard let inner = outer[0].arrayValue, !inner.isEmpty else { throw invalid("ipam.ranges[0]: expected a non-empty array of ranges") }
            objects = inner.enumerated().map { ($1, "ipam.ranges[0][\($0)].") }
        } else if ipam["subnet"] != nil {
            objects = [(ipam, "ipam.")]
        } else {
            throw invalid("ipam.ranges: required")
        }
        var ranges: [AddressRange] = []
        for (object, path) in objects {
            let r = FieldReader(object, path: path)
            guard let subnetText = try r.string("subnet") else { throw invalid("\(path)subnet: required") }
            guard let subnet = try? IPv4Prefix(parsing: subnetText, strict: false) else {
                if subnetText.contains(":") { throw invalid("\(path)subnet \"\(subnetText)\": IPv6 is not supported") }
                throw invalid("\(path)subnet \"\(subnetText)\": not an IPv4 prefix")
            }
            guard subnet.length <= 30 else { throw invalid("\(path)subnet \"\(subnetText)\": too small, at most /30") }
            func address(_ key: String) throws(CNIError) -> IPv4Address? {
                guard let text = try r.string(key) else { return nil }
                guard let a = IPv4Address(text) else { throw invalid("\(path)\(key) \"\(text)\": not an IPv4 address") }
                guard subnet.contains(a) else { throw invalid("\(path)\(key) \(a): outside the subnet \(subnet)") }
                return a
            }
            let range = AddressRange(subnet: subnet, rangeStart: try address("rangeStart"), rangeEnd: try address("rangeEnd"), gateway: try address("gateway"))
            guard range.rangeStart <= range.rangeEnd else { throw invalid("\(path)rangeStart \(range.rangeStart): after rangeEnd \(range.rangeEnd)") }
            if let first = ranges.first, first.subnet != subnet || first.gateway != range.gateway {
                throw invalid("\(path)subnet \(subnet): every range must share one subnet and gateway (\(first.subnet) via \(first.gateway)), the bridge's")
            }
            ranges.append(range)
        }
        return ranges
    }

    private static func parseRoutes(_ ipam: JSON, gateway: IPv4Address) throws(CNIError) -> [IPv4Prefix] {
        guard let value = ipam["routes"] else { return [] }
        guard let items = value.arrayValue else { throw invalid("ipam.routes: expected an array, found \(value.kindName)") }
        var routes: [IPv4Prefix] = []
        for (i, item) in items.enumerated() {
            let r = FieldReader(item, path: "ipam.routes[\(i)].")
            guard let dst = try r.string("dst") else { throw invalid("ipam.routes[\(i)].dst: required") }
            guard let prefix = try? IPv4Prefix(parsing: dst, strict: false) else { throw invalid("ipam.routes[\(i)].dst \"\(dst)\": not an IPv4 prefix") }
            if let gw = try r.string("gw"), IPv4Address(gw) != gateway {
                throw CNIError(.unsupportedField, "unsupported field", details: "ipam.routes[\(i)].gw \"\(gw)\": podlab-cni routes only via the gateway \(gateway)")
            }
            routes.append(prefix)
        }
        return routes
    }

    private static func parsePortMappings(_ value: JSON) throws(CNIError) -> [PortMapping] {
        guard let items = value.arrayValue else { throw invalid("runtimeConfig.portMappings: expected an array, found \(value.kindName)") }
        var result: [PortMapping] = []
        for (i, item) in items.enumerated() {
            let path = "runtimeConfig.portMappings[\(i)]."
            let r = FieldReader(item, path: path)
            func port(_ key: String) throws(CNIError) -> UInt16 {
                guard let p = try r.integer(key) else { throw invalid("\(path)\(key): required") }
                guard (1...65_535).contains(p) else { throw invalid("\(path)\(key) \(p): must be between 1 and 65535") }
                return UInt16(p)
            }
            let protoText = (try r.string("protocol") ?? "tcp").lowercased()
            guard let proto = PortMapping.TransportProtocol(rawValue: protoText) else {
                throw invalid("\(path)protocol \"\(protoText)\": must be tcp, udp or sctp")
            }
            if let hostIP = try r.string("hostIP"), !hostIP.isEmpty, hostIP != "0.0.0.0" {
                throw CNIError(.unsupportedField, "unsupported field", details: "\(path)hostIP \"\(hostIP)\": podlab-cni publishes on every address of the host")
            }
            let mapping = PortMapping(hostPort: try port("hostPort"), containerPort: try port("containerPort"), transport: proto)
            if result.contains(where: { $0.transport == mapping.transport && $0.hostPort == mapping.hostPort }) {
                throw invalid("\(path)hostPort \(mapping.hostPort): mapped twice for \(proto.rawValue)")
            }
            result.append(mapping)
        }
        return result
    }
}

/// Typed access to an object's members, with errors naming the field's path.
struct FieldReader {
    let object: JSON
    let path: String

    init(_ object: JSON, path: String = "") {
        self.object = object
        self.path = path
    }

    func wrongType(_ key: String, _ expected: String, _ found: JSON) -> CNIError {
        NetworkConfiguration.invalid("\(path)\(key): expected \(expected), found \(found.kindName)")
    }

    func string(_ key: String) throws(CNIError) -> String? {
        guard let v = object[key], !v.isNull else { return nil }
        guard let s = v.stringValue else { throw wrongType(key, "a string", v) }
        return s
    }

    func bool(_ key: String) throws(CNIError) -> Bool? {
        guard let v = object[key], !v.isNull else { return nil }
        guard let b = v.boolValue else { throw wrongType(key, "a boolean", v) }
        return b
    }

    func integer(_ key: String) throws(CNIError) -> Int? {
        guard let v = object[key], !v.isNull else { return nil }
        guard let n = v.numberValue, n.rounded() == n, abs(n) < 1e15 else { throw wrongType(key, "an integer", v) }
        return Int(n)
    }

    func stringArray(_ key: String) throws(CNIError) -> [String]? {
        guard let v = object[key], !v.isNull else { return nil }
        guard let items = v.arrayValue else { throw wrongType(key, "an array of strings", v) }
        var result: [String] = []
        for item in items {
            guard let s = item.stringValue else { throw wrongType(key, "an array of strings", item) }
            result.append(s)
        }
        return result
    }
}
