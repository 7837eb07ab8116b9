import Addressing
import Testing
@testable import PodlabCNI

@Suite("CNI results and errors, byte for byte")
struct ResultEncodingTests {
    static let result = CNIResult(
        interfaces: [.init(name: "cni0", mac: "0a:58:0a:58:00:01", mtu: 1500),
                     .init(name: "veth1a2b3c4d", mac: "6e:53:86:2e:ac:29", mtu: 1500),
                     .init(name: "eth0", mac: "a2:cf:63:3e:55:dc", sandbox: "/var/run/netns/c1", mtu: 1500)],
        ips: [.init(address: IPv4Interface("10.88.0.2/24")!, gateway: IPv4Address("10.88.0.1"), interface: 2)],
        routes: [.init(destination: IPv4Prefix("0.0.0.0/0")!)])

    // The 0.4.0 text is the shape the reference bridge plugin prints (checked against Debian's
    // containernetworking-plugins 1.1.1): "version" per IP, interfaces without mtu.
    static let golden040 = """
    {
        "cniVersion": "0.4.0",
        "interfaces": [
            {
                "name": "cni0",
                "mac": "0a:58:0a:58:00:01"
            },
            {
                "name": "veth1a2b3c4d",
                "mac": "6e:53:86:2e:ac:29"
            },
            {
                "name": "eth0",
                "mac": "a2:cf:63:3e:55:dc",
                "sandbox": "/var/run/netns/c1"
            }
        ],
        "ips": [
            {
                "version": "4",
                "interface": 2,
                "address": "10.88.0.2/24",
                "gateway": "10.88.0.1"
            }
        ],
        "routes": [
            {
                "dst": "0.0.0.0/0"
            }
        ],
        "dns": {}
    }
    """

    @Test("0.3.1 and 0.4.0: each IP carries its version")
    func legacy() {
        #expect(Self.result.json(version: "0.4.0").serialized(pretty: true) == Self.golden040)
        #expect(Self.result.json(version: "0.3.1").serialized(pretty: true) == Self.golden040.replacingOccurrences("0.4.0", "0.3.1"))
    }

    @Test("1.0.0 drops the IP version; 1.1.0 adds the interfaces' MTU")
    func current() {
        #expect(Self.result.json(version: "1.0.0").serialized() == """
        {"cniVersion":"1.0.0","interfaces":[{"name":"cni0","mac":"0a:58:0a:58:00:01"},{"name":"veth1a2b3c4d","mac":"6e:53:86:2e:ac:29"},\
        {"name":"eth0","mac":"a2:cf:63:3e:55:dc","sandbox":"/var/run/netns/c1"}],"ips":[{"interface":2,"address":"10.88.0.2/24","gateway":"10.88.0.1"}],\
        "routes":[{"dst":"0.0.0.0/0"}],"dns":{}}
        """)
        #expect(Self.result.json(version: "1.1.0").serialized() == """
        {"cniVersion":"1.1.0","interfaces":[{"name":"cni0","mac":"0a:58:0a:58:00:01","mtu":1500},{"name":"veth1a2b3c4d","mac":"6e:53:86:2e:ac:29","mtu":1500},\
        {"name":"eth0","mac":"a2:cf:63:3e:55:dc","mtu":1500,"sandbox":"/var/run/netns/c1"}],"ips":[{"interface":2,"address":"10.88.0.2/24","gateway":"10.88.0.1"}],\
        "routes":[{"dst":"0.0.0.0/0"}],"dns":{}}
        """)
    }

    @Test("A result read back as a prevResult is the same result, in every version", arguments: CNIVersion.supported)
    func roundTrip(_ version: String) throws {
        #expect(try CNIResult(parsing: Self.result.json(version: version)).ips == Self.result.ips)
        #expect(try CNIResult(parsing: Self.result.json(version: version)).interfaces.map(\.name) == Self.result.interfaces.map(\.name))
    }

    @Test("Errors: cniVersion, code, msg and details")
    func error() {
        let e = CNIError(.tryAgainLater, "no IP addresses available in network n", details: "every address of 10.0.0.2-10.0.0.3 is allocated")
        #expect(e.json(cniVersion: "1.1.0").serialized() == #"{"cniVersion":"1.1.0","code":11,"msg":"no IP addresses available in network n","details":"every address of 10.0.0.2-10.0.0.3 is allocated"}"#)
        #expect(CNIError(.unknownContainer, "gone").json(cniVersion: "0.4.0").serialized() == #"{"cniVersion":"0.4.0","code":3,"msg":"gone"}"#)
    }

    @Test("The spec's well-known codes keep their numbers")
    func codes() {
        let codes: [(CNIError.Code, Int)] = [(.incompatibleVersion, 1), (.unsupportedField, 2), (.unknownContainer, 3), (.invalidEnvironment, 4),
                                            (.ioFailure, 5), (.decodingFailure, 6), (.invalidNetworkConfig, 7), (.tryAgainLater, 11),
                                            (.pluginNotAvailable, 50), (.limitedConnectivity, 51)]
        for (code, number) in codes { #expect(code.rawValue == number) }
    }
}

@Suite("podlab-cni's verbs without the kernel")
struct PluginRunTests {
    @Test("VERSION lists every supported version, in the version asked for")
    func version() {
        let out = Plugin.run(environment: ["CNI_COMMAND": "VERSION"], stdin: Array(#"{"cniVersion": "0.4.0"}"#.utf8))
        #expect(out.exitCode == 0)
        #expect(out.stdout == """
        {
            "cniVersion": "0.4.0",
            "supportedVersions": [
                "0.3.0",
                "0.3.1",
                "0.4.0",
                "1.0.0",
                "1.1.0"
            ]
        }

        """)
    }

    @Test("An error goes to stdout as JSON with a non-zero exit, in the config's version")
    func errorOutcome() throws {
        let env = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c", "CNI_IFNAME": "eth0", "CNI_PATH": "/x"]
        let out = Plugin.run(environment: env, stdin: Array(#"{"cniVersion": "0.4.0", "name": "n"}"#.utf8))
        #expect(out.exitCode == 1)
        let json = try JSON(parsing: out.stdout)
        #expect(json["cniVersion"] == .string("0.4.0"))
        #expect(json["code"] == .number(4))
        #expect(json["msg"] == .string("required env variables [CNI_NETNS] missing"))
    }

    @Test("CHECK needs 0.4.0, GC and STATUS 1.1.0: older configurations get code 1", arguments: [("CHECK", "0.3.1"), ("GC", "1.0.0"), ("STATUS", "0.4.0")])
    func versionGates(_ command: String, _ version: String) throws {
        let env = ["CNI_COMMAND": command, "CNI_CONTAINERID": "c", "CNI_IFNAME": "eth0", "CNI_PATH": "/x", "CNI_NETNS": "/proc/self/ns/net"]
        let config = #"{"cniVersion": "\#(version)", "name": "n", "ipam": {"type": "podlab", "subnet": "10.0.0.0/24", "dataDir": "/nonexistent-podlab"}}"#
        let out = Plugin.run(environment: env, stdin: Array(config.utf8))
        #expect(out.exitCode == 1)
        #expect(try JSON(parsing: out.stdout)["code"] == .number(1))
    }

    @Test("Host veth names are stable, distinct per attachment and fit IFNAMSIZ")
    func hostNames() {
        let a = Plugin.hostInterfaceName(ContainerAttachment(containerID: "c1", ifname: "eth0"))
        #expect(a == Plugin.hostInterfaceName(ContainerAttachment(containerID: "c1", ifname: "eth0")))
        #expect(a != Plugin.hostInterfaceName(ContainerAttachment(containerID: "c1", ifname: "eth1")))
        #expect(a.utf8.count == 12 && a.hasPrefix("veth"))
    }
}

@Suite("JSON reading and writing")
struct JSONTests {
    @Test("Escapes, unicode, numbers and nesting survive a round trip")
    func roundTrip() throws {
        let text = #"{"a":"q\"\\\n\u00e9\ud83d\ude00","b":[1,-2.5,1e3,true,false,null],"c":{}}"#
        let value = try JSON(parsing: text)
        #expect(value["a"] == .string("q\"\\\né😀"))
        #expect(value["b"] == .array([.number(1), .number(-2.5), .number(1000), .bool(true), .bool(false), .null]))
        #expect(try JSON(parsing: value.serialized()) == value)
    }

    @Test("Malformed text is refused with the offset", arguments: ["", "{", "[1,]", "{\"a\" 1}", "01x", "\"\u{01}\"", "[1] 2", "tru"])
    func malformed(_ text: String) {
        #expect(throws: JSONSyntaxError.self) { try JSON(parsing: text) }
    }
}

extension String {
    func replacingOccurrences(_ a: String, _ b: String) -> String {
        split(separator: a, omittingEmptySubsequences: false).joined(separator: b)
    }
}
