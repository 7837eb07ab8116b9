import Testing
@testable import PodNet

@Suite("port-forward's ports and addresses, as kubectl reads them")
struct PortForwardSpecTests {
    @Test("REMOTE, LOCAL:REMOTE and :REMOTE", arguments: [
        ("80", 80, 80), ("8080:80", 8080, 80), (":80", 0, 80), ("0:5432", 0, 5432), ("65535:1", 65535, 1),
    ] as [(String, UInt16, UInt16)])
    func ports(text: String, local: UInt16, remote: UInt16) throws {
        #expect(try PortForwardSpec.parse(text) == PortForwardSpec(local: local, remote: remote))
    }

    @Test("kubectl's errors", arguments: [
        ("a:b:c", "invalid port format 'a:b:c'"),
        ("abc", "error parsing local port 'abc': strconv.ParseUint: parsing \"abc\": invalid syntax"),
        ("8080:", "error parsing remote port '': strconv.ParseUint: parsing \"\": invalid syntax"),
        ("70000:80", "error parsing local port '70000': strconv.ParseUint: parsing \"70000\": value out of range"),
        ("8080:-1", "error parsing remote port '-1': strconv.ParseUint: parsing \"-1\": invalid syntax"),
        ("8080:0", "remote port must be > 0"),
        ("0", "remote port must be > 0"),
    ])
    func errors(text: String, message: String) {
        #expect(throws: PortForwardSpec.ParseError(description: message)) { try PortForwardSpec.parse(text) }
    }

    @Test("--address: the loopback only; localhost is both families")
    func addresses() throws {
        #expect(try PortForwardSpec.loopbackAddresses("localhost").map(\.text) == ["127.0.0.1", "::1"])
        #expect(try PortForwardSpec.loopbackAddresses("127.0.0.1,localhost").map(\.text) == ["127.0.0.1", "::1"])
        #expect(try PortForwardSpec.loopbackAddresses("::1").map(\.isIPv4) == [false])
        #expect(throws: PortForwardSpec.ParseError(description: "podlab port-forward listens only on the host's loopback: 0.0.0.0 is not localhost, 127.0.0.1 or ::1")) {
            try PortForwardSpec.loopbackAddresses("0.0.0.0")
        }
    }
}
