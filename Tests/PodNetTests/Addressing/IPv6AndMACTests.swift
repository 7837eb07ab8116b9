import Foundation
import Testing
@testable import PodNet

@Suite("IPv6Address")
struct IPv6AddressTests {
    @Test("parses and prints RFC 5952 form", arguments: [
        ("::", "::"),
        ("::1", "::1"),
        ("fe80::1", "fe80::1"),
        ("FE80:0:0:0:0:0:0:1", "fe80::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:0db8::0001", "2001:db8::1"),
        ("::ffff:10.0.0.1", "::ffff:10.0.0.1"),
    ])
    func parses(text: String, canonical: String) throws {
        let address = try IPv6Address(parsing: text)
        #expect(address.description == canonical)
        #expect(address.bytes.count == 16)
        #expect(IPv6Address(canonical) == address)
    }

    @Test("rejects bad text", arguments: ["", "1.2.3.4", "fe80::1::2", "fe80::g", "12345::", "fe80::1%eth0", ":"])
    func rejects(text: String) {
        #expect(IPv6Address(text) == nil)
        #expect(throws: AddressError.invalidAddress(text, reason: "not an IPv6 address")) { try IPv6Address(parsing: text) }
    }

    @Test("link-local is fe80::/10", arguments: [("fe80::1", true), ("febf::1", true), ("fec0::1", false), ("::1", false)])
    func linkLocal(text: String, expected: Bool) throws {
        #expect(try IPv6Address(parsing: text).isLinkLocal == expected)
    }

    @Test("byte count is checked")
    func bytes() {
        #expect(throws: AddressError.self) { try IPv6Address(bytes: [1, 2, 3]) }
    }

    @Test("IPAddress holds either family")
    func either() throws {
        #expect(IPAddress("10.0.0.1") == .v4(IPv4Address(10, 0, 0, 1)))
        #expect(IPAddress("fe80::1")?.description == "fe80::1")
        #expect(IPAddress("nonsense") == nil)
        #expect(IPAddress(bytes: [10, 0, 0, 1])?.bytes == [10, 0, 0, 1])
        #expect(IPAddress(bytes: Array(repeating: 0, count: 16))?.description == "::")
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
        let data = try JSONEncoder().encode([IPAddress("10.0.0.1"), IPAddress("::1")])
        #expect(try JSONDecoder().decode([IPAddress].self, from: data) == [IPAddress("10.0.0.1"), IPAddress("::1")])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([IPAddress].self, from: Data(#"["x"]"#.utf8)) }
    }

    @Test("Codable round trip")
    func codable() throws {
        let address = try IPv6Address(parsing: "fe80::1")
        let data = try JSONEncoder().encode([address])
        #expect(try JSONDecoder().decode([IPv6Address].self, from: data) == [address])
    }
}

@Suite("MACAddress")
struct MACAddressTests {
    @Test("parses colon or dash separated hex", arguments: [
        ("aa:bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:ff"),
        ("AA:BB:CC:DD:EE:FF", "aa:bb:cc:dd:ee:ff"),
        ("0a-58-0a-f4-01-02", "0a:58:0a:f4:01:02"),
        ("00:00:00:00:00:00", "00:00:00:00:00:00"),
    ])
    func parses(text: String, canonical: String) throws {
        #expect(try MACAddress(parsing: text).description == canonical)
    }

    @Test("rejects bad text", arguments: [
        "", "aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:ff:00", "a:bb:cc:dd:ee:ff", "aaa:bb:cc:dd:ee:ff", "gg:bb:cc:dd:ee:ff",
        "+f:bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:+f", "aa bb cc dd ee ff", "aa:bb-cc:dd:ee:ff", "aa:bb:cc:dd:ee:f\u{0301}",
    ])
    func rejects(text: String) {
        #expect(MACAddress(text) == nil)
        #expect(throws: AddressError.self) { try MACAddress(parsing: text) }
    }

    @Test("derived MACs are locally administered unicast")
    func derived() {
        let mac = MACAddress.derived(from: IPv4Address(10, 244, 1, 2))
        #expect(mac.description == "0a:58:0a:f4:01:02")
        #expect(mac.isLocallyAdministered)
        #expect(!mac.isMulticast)
        #expect(MACAddress("01:00:5e:00:00:01")?.isMulticast == true)
    }

    @Test("byte count is checked")
    func bytes() {
        #expect(throws: AddressError.self) { try MACAddress(bytes: [1, 2, 3, 4, 5]) }
    }

    @Test("Codable round trip")
    func codable() throws {
        let mac = try MACAddress(parsing: "aa:bb:cc:dd:ee:ff")
        let data = try JSONEncoder().encode([mac])
        #expect(String(decoding: data, as: UTF8.self) == #"["aa:bb:cc:dd:ee:ff"]"#)
        #expect(try JSONDecoder().decode([MACAddress].self, from: data) == [mac])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([MACAddress].self, from: Data(#"["aa:bb"]"#.utf8)) }
    }
}
