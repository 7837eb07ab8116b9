import Addressing
import Testing
@testable import PodlabCNI

@Suite("CNI network configuration")
struct ConfigurationTests {
    static let full = """
    {"cniVersion": "1.1.0", "name": "podnet", "type": "podlab-cni", "bridge": "br-pods", "isGateway": true, "ipMasq": true,
     "hairpinMode": true, "mtu": 1450,
     "ipam": {"type": "podlab", "ranges": [[{"subnet": "10.88.0.0/16", "rangeStart": "10.88.1.10", "rangeEnd": "10.88.1.20", "gateway": "10.88.0.1"}]],
              "routes": [{"dst": "0.0.0.0/0"}, {"dst": "192.168.0.0/16", "gw": "10.88.0.1"}], "dataDir": "/run/podlab-cni"},
     "capabilities": {"portMappings": true},
     "runtimeConfig": {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}, {"hostPort": 53, "containerPort": 53, "protocol": "udp", "hostIP": ""}]}}
    """

    func parse(_ text: String) throws(CNIError) -> NetworkConfiguration {
        try NetworkConfiguration(parsing: Array(text.utf8))
    }

    @Test("Every field of a bridge + host-local + portmap configuration is read with its meaning")
    func fullConfiguration() throws {
        let c = try parse(Self.full)
        #expect(c.cniVersion == "1.1.0")
        #expect(c.name == "podnet")
        #expect(c.bridge == "br-pods")
        #expect(c.isGateway && c.ipMasq && c.hairpinMode)
        #expect(c.mtu == 1450)
        #expect(c.mode == .bridged)
        #expect(c.ranges == [AddressRange(subnet: IPv4Prefix("10.88.0.0/16")!, rangeStart: IPv4Address("10.88.1.10"), rangeEnd: IPv4Address("10.88.1.20"),
                                          gateway: IPv4Address("10.88.0.1"))])
        #expect(c.routes == [IPv4Prefix("0.0.0.0/0")!, IPv4Prefix("192.168.0.0/16")!])
        #expect(c.dataDir == "/run/podlab-cni/podnet")
        #expect(c.portMappings == [PortMapping(hostPort: 8080, containerPort: 80, transport: .tcp), PortMapping(hostPort: 53, containerPort: 53, transport: .udp)])
        #expect(c.containerPrefixLength == 16)
    }

    @Test("host-local's defaults: gateway .1, range from .1 to the last host but one, data in /var/lib/cni/networks")
    func defaults() throws {
        let c = try parse(#"{"cniVersion": "0.4.0", "name": "n", "type": "podlab-cni", "ipam": {"type": "podlab", "subnet": "10.22.0.0/24"}}"#)
        #expect(c.bridge == "cni0")
        #expect(!c.isGateway && !c.ipMasq && !c.hairpinMode && c.mtu == nil)
        #expect(c.gateway == IPv4Address("10.22.0.1"))
        #expect(c.ranges[0].rangeStart == IPv4Address("10.22.0.1"))
        #expect(c.ranges[0].rangeEnd == IPv4Address("10.22.0.254"))
        #expect(c.dataDir == "/var/lib/cni/networks/n")
    }

    @Test("Routed mode: a /32 per container and the bridge is the gateway")
    func routedMode() throws {
        let c = try parse(#"{"cniVersion": "1.0.0", "name": "n", "type": "podlab-cni", "mode": "routed", "ipam": {"type": "podlab", "ranges": [[{"subnet": "10.22.0.0/24"}]]}}"#)
        #expect(c.mode == .routed)
        #expect(c.isGateway)
        #expect(c.containerPrefixLength == 32)
    }

    @Test("cniVersions negotiation picks the newest version both sides speak")
    func negotiation() throws {
        let c = try parse(#"{"cniVersions": ["0.4.0", "1.1.0", "2.0.0"], "name": "n", "type": "podlab-cni", "ipam": {"type": "podlab", "subnet": "10.22.0.0/24"}}"#)
        #expect(c.cniVersion == "1.1.0")
    }

    @Test("prevResult of another plugin is read, and kept for the result")
    func previousResult() throws {
        let c = try parse(#"{"cniVersion": "1.0.0", "name": "n", "type": "podlab-cni", "ipam": {"type": "podlab", "subnet": "10.22.0.0/24"}, "prevResult": {"cniVersion": "1.0.0", "interfaces": [{"name": "lo0", "mac": "00:00:00:00:00:00"}], "ips": [{"interface": 0, "address": "10.1.0.5/24"}, {"address": "fd00::5/64"}], "dns": {"nameservers": ["10.1.0.1"]}}}"#)
        #expect(c.prevResult?.interfaces.map(\.name) == ["lo0"])
        #expect(c.prevResult?.ips.map(\.address.description) == ["10.1.0.5/24"])
        #expect(c.prevResult?.dns == .object([("nameservers", .array([.string("10.1.0.1")]))]))
    }

    struct Bad: Sendable, CustomStringConvertible {
        var name: String
        var json: String
        var code: CNIError.Code
        var mentions: String
        var description: String { name }
    }

    static let bad: [Bad] = [
        Bad(name: "malformed JSON", json: #"{"cniVersion": "1.0.0", "#, code: .decodingFailure, mentions: "at byte 24"),
        Bad(name: "not an object", json: "[1]", code: .decodingFailure, mentions: "expected an object"),
        Bad(name: "unknown version", json: #"{"cniVersion": "2.0.0", "name": "n", "ipam": {"type": "podlab", "subnet": "10.0.0.0/24"}}"#, code: .incompatibleVersion, mentions: "2.0.0"),
        Bad(name: "malformed version", json: #"{"cniVersion": "one", "name": "n"}"#, code: .decodingFailure, mentions: "one"),
        Bad(name: "no version", json: #"{"name": "n"}"#, code: .invalidNetworkConfig, mentions: "cniVersion"),
        Bad(name: "no name", json: #"{"cniVersion": "1.0.0"}"#, code: .invalidNetworkConfig, mentions: "name"),
        Bad(name: "name with a slash", json: #"{"cniVersion": "1.0.0", "name": "a/b"}"#, code: .invalidNetworkConfig, mentions: "a/b"),
        Bad(name: "bridge name too long", json: #"{"cniVersion": "1.0.0", "name": "n", "bridge": "a-very-long-bridge-name"}"#, code: .invalidNetworkConfig, mentions: "bridge"),
        Bad(name: "mtu of the wrong type", json: #"{"cniVersion": "1.0.0", "name": "n", "mtu": "1500", "ipam": {"type": "podlab", "subnet": "10.0.0.0/24"}}"#, code: .invalidNetworkConfig, mentions: "mtu: expected an integer"),
        Bad(name: "another IPAM plugin", json: #"{"cniVersion": "1.0.0", "name": "n", "ipam": {"type": "dhcp"}}"#, code: .invalidNetworkConfig, mentions: "ipam.type"),
        Bad(name: "no ranges", json: #"{"cniVersion": "1.0.0", "name": "n", "ipam": {"type": "podlab"}}"#, code: .invalidNetworkConfig, mentions: "ipam.ranges"),
        Bad(name: "IPv6 subnet", json: #"{"cniVersion": "1.0.0", "name": "n", "ipam": {"type": "podlab", "ranges": [[{"subnet": "fd00::/64"}]]}}"#, code: .invalidNetworkConfig, mentions: "IPv6"),
        Bad(name: "rangeStart outside the subnet", json: #"{"cniVersion": "1.0.0", "name": "n", "ipam": {"type": "podlab", "ranges": [[{"subnet": "10.0.0.0/24", "rangeStart": "10.0.1.5"}]]}}"#, code: .invalidNetworkConfig, mentions: "ipam.ranges[0][0].rangeStart"),
        Bad(name: "route via another gateway", json: #"{"cniVersion": "1.0.0", "name": "n", "ipam": {"type": "podlab", "subnet": "10.0.0.0/24", "routes": [{"dst": "0.0.0.0/0", "gw": "10.0.0.9"}]}}"#, code: .unsupportedField, mentions: "ipam.routes[0].gw"),
        Bad(name: "port out of range", json: #"{"cniVersion": "1.0.0", "name": "n", "ipam": {"type": "podlab", "subnet": "10.0.0.0/24"}, "runtimeConfig": {"portMappings": [{"hostPort": 70000, "containerPort": 80}]}}"#, code: .invalidNetworkConfig, mentions: "hostPort 70000"),
        Bad(name: "routed without a gateway", json: #"{"cniVersion": "1.0.0", "name": "n", "mode": "routed", "isGateway": false, "ipam": {"type": "podlab", "subnet": "10.0.0.0/24"}}"#, code: .invalidNetworkConfig, mentions: "isGateway"),
        Bad(name: "prevResult that does not parse", json: #"{"cniVersion": "1.0.0", "name": "n", "ipam": {"type": "podlab", "subnet": "10.0.0.0/24"}, "prevResult": {"ips": [{"address": "10.0.0.300/24"}]}}"#, code: .decodingFailure, mentions: "ips[0].address"),
        Bad(name: "valid-attachments not a list", json: #"{"cniVersion": "1.1.0", "name": "n", "ipam": {"type": "podlab", "subnet": "10.0.0.0/24"}, "cni.dev/valid-attachments": {}}"#, code: .invalidNetworkConfig, mentions: "valid-attachments"),
    ]

    @Test("Bad configuration gets the spec's code and a message naming the field", arguments: bad)
    func badConfiguration(_ bad: Bad) {
        do {
            _ = try parse(bad.json)
            Issue.record("\(bad.name) was accepted")
        } catch {
            #expect(error.code == bad.code, "\(bad.name): \(error)")
            #expect("\(error.msg) \(error.details)".contains(bad.mentions), "\(bad.name): \(error)")
        }
    }
}

@Suite("CNI environment")
struct EnvironmentTests {
    static let base = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "abc123", "CNI_NETNS": "/run/netns/x", "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin"]

    @Test("A complete ADD environment is read")
    func complete() throws {
        let env = try CNIEnvironment(Self.base)
        #expect(env.command == .add)
        #expect(env.attachment == ContainerAttachment(containerID: "abc123", ifname: "eth0"))
    }

    @Test("Missing or malformed variables are an invalid environment (4) naming the variable",
          arguments: [("CNI_NETNS", nil, "CNI_NETNS"), ("CNI_COMMAND", "FLY", "FLY"), ("CNI_COMMAND", nil, "CNI_COMMAND"),
                      ("CNI_IFNAME", "an-interface-name-too-long", "CNI_IFNAME"), ("CNI_CONTAINERID", "a/b", "CNI_CONTAINERID"),
                      ("CNI_NETNS", "relative/path", "CNI_NETNS")] as [(String, String?, String)])
    func bad(_ key: String, _ value: String?, _ mentioned: String) {
        var env = Self.base
        env[key] = value
        do {
            _ = try CNIEnvironment(env)
            Issue.record("accepted \(key)=\(value ?? "(unset)")")
        } catch {
            #expect(error.code == .invalidEnvironment)
            #expect(error.msg.contains(mentioned), "\(error)")
        }
    }

    @Test("DEL does not need CNI_NETNS; VERSION needs nothing but the command")
    func optionalVariables() throws {
        var del = Self.base
        del["CNI_COMMAND"] = "DEL"
        del["CNI_NETNS"] = nil
        #expect(try CNIEnvironment(del).netns == nil)
        #expect(try CNIEnvironment(["CNI_COMMAND": "VERSION"]).command == .version)
    }
}
