import Foundation
import Testing
@testable import PodNet

@Suite("IPv4Address")
struct IPv4AddressTests {
    @Test("parses dotted quads", arguments: [
        ("0.0.0.0", UInt32(0)),
        ("255.255.255.255", UInt32.max),
        ("10.244.1.2", 0x0AF4_0102),
        ("127.0.0.1", 0x7F00_0001),
        ("192.168.200.11", 0xC0A8_C80B),
        ("1.0.0.0", 0x0100_0000),
        ("0.0.0.1", 1),
    ])
    func parses(text: String, value: UInt32) throws {
        let address = try IPv4Address(parsing: text)
        #expect(address.value == value)
        #expect(address.description == text)
        #expect(IPv4Address(text) == address)
        #expect(IPv4Address(dottedQuad: Array(text.utf8)[...]) == address)
    }

    @Test("rejects malformed text", arguments: [
        ("", "expected four dot-separated octets"),
        ("1.2.3", "expected four dot-separated octets"),
        ("1.2.3.4.5", "expected four dot-separated octets"),
        ("1.2.3.", "octet '' is not a decimal number 0-255"),
        (".1.2.3", "octet '' is not a decimal number 0-255"),
        ("1..2.3", "octet '' is not a decimal number 0-255"),
        ("256.0.0.1", "octet '256' is larger than 255"),
        ("1.2.3.999", "octet '999' is larger than 255"),
        ("01.2.3.4", "octet '01' has a leading zero"),
        ("1.2.3.00", "octet '00' has a leading zero"),
        ("1.2.3.0004", "octet '0004' is not a decimal number 0-255"),
        ("1.2.3.-4", "octet '-4' is not a decimal number 0-255"),
        ("1.2.3.+4", "octet '+4' is not a decimal number 0-255"),
        (" 1.2.3.4", "octet ' 1' is not a decimal number 0-255"),
        ("1.2.3.4 ", "octet '4 ' is not a decimal number 0-255"),
        ("a.b.c.d", "octet 'a' is not a decimal number 0-255"),
        ("1.2.3.0x1", "octet '0x1' is not a decimal number 0-255"),
        ("1.2.3.4/24", "octet '4/24' is not a decimal number 0-255"),
        ("1.2.3.\u{0663}", "octet '\u{0663}' is not a decimal number 0-255"),
        ("1.2.3.1\u{0301}", "octet '1\u{0301}' is not a decimal number 0-255"),
        ("::1", "expected four dot-separated octets"),
    ])
    func rejects(text: String, reason: String) {
        #expect(throws: AddressError.invalidAddress(text, reason: reason)) { try IPv4Address(parsing: text) }
        #expect(IPv4Address(text) == nil)
        #expect(IPv4Address(dottedQuad: Array(text.utf8)[...]) == nil, "the byte parser accepted \(text)")
    }

    @Test("error text names the input and the reason")
    func errorText() {
        let error = AddressError.invalidAddress("01.2.3.4", reason: "octet '01' has a leading zero")
        #expect(error.description == "invalid IP address \"01.2.3.4\": octet '01' has a leading zero")
    }

    @Test("octets are in network order")
    func octets() {
        #expect(IPv4Address(10, 244, 1, 2).octets == [10, 244, 1, 2])
        #expect(IPv4Address.broadcast.octets == [255, 255, 255, 255])
        #expect(IPv4Address.any.octets == [0, 0, 0, 0])
    }

    @Test("advanced(by:) stays inside the address space", arguments: [
        ("10.0.0.255", Int64(1), "10.0.1.0" as String?),
        ("10.0.1.0", -1, "10.0.0.255"),
        ("0.0.0.0", -1, nil),
        ("255.255.255.255", 1, nil),
        ("255.255.255.254", 1, "255.255.255.255"),
        ("0.0.0.1", -1, "0.0.0.0"),
        ("0.0.0.0", Int64(UInt32.max), "255.255.255.255"),
        ("0.0.0.1", Int64(UInt32.max), nil),
        ("1.2.3.4", Int64.max, nil),
        ("1.2.3.4", Int64.min, nil),
        ("1.2.3.4", 0, "1.2.3.4"),
    ])
    func advanced(start: String, by n: Int64, expected: String?) throws {
        let address = try IPv4Address(parsing: start)
        #expect(address.advanced(by: n)?.description == expected)
    }

    @Test("orders numerically, not textually")
    func ordering() throws {
        let addresses = try ["10.0.0.10", "10.0.0.9", "9.255.255.255", "10.0.0.100"].map { try IPv4Address(parsing: $0) }
        #expect(addresses.sorted().map(\.description) == ["9.255.255.255", "10.0.0.9", "10.0.0.10", "10.0.0.100"])
    }

    @Test("loopback is 127.0.0.0/8", arguments: [("127.0.0.1", true), ("127.255.0.3", true), ("128.0.0.1", false), ("10.0.0.1", false)])
    func loopback(text: String, expected: Bool) throws {
        #expect(try IPv4Address(parsing: text).isLoopback == expected)
    }

    @Test("Codable round trip as a JSON string")
    func codable() throws {
        let address = IPv4Address(10, 244, 1, 2)
        let data = try JSONEncoder().encode([address])
        #expect(String(decoding: data, as: UTF8.self) == #"["10.244.1.2"]"#)
        #expect(try JSONDecoder().decode([IPv4Address].self, from: data) == [address])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([IPv4Address].self, from: Data(#"["10.244.1.256"]"#.utf8)) }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([IPv4Address].self, from: Data("[167772161]".utf8)) }
    }
}
