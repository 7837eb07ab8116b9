import Foundation
import Testing
@testable import PodNet

@Suite("IPv4Prefix")
struct IPv4PrefixTests {
    @Test("parses CIDR text", arguments: [
        ("0.0.0.0/0", "0.0.0.0", 0, "0.0.0.0", "255.255.255.255"),
        ("10.244.0.0/16", "10.244.0.0", 16, "255.255.0.0", "10.244.255.255"),
        ("10.244.1.0/24", "10.244.1.0", 24, "255.255.255.0", "10.244.1.255"),
        ("10.0.0.0/31", "10.0.0.0", 31, "255.255.255.254", "10.0.0.1"),
        ("10.0.0.7/32", "10.0.0.7", 32, "255.255.255.255", "10.0.0.7"),
        ("255.255.255.255/32", "255.255.255.255", 32, "255.255.255.255", "255.255.255.255"),
        ("128.0.0.0/1", "128.0.0.0", 1, "128.0.0.0", "255.255.255.255"),
    ])
    func parses(text: String, network: String, length: Int, netmask: String, last: String) throws {
        let prefix = try IPv4Prefix(parsing: text)
        #expect(prefix.network.description == network)
        #expect(prefix.length == length)
        #expect(prefix.netmask.description == netmask)
        #expect(prefix.lastAddress.description == last)
        #expect(prefix.description == text)
        #expect(IPv4Prefix(text) == prefix)
    }

    @Test("rejects malformed CIDR text", arguments: [
        ("10.0.0.0", "expected ADDRESS/LENGTH"),
        ("10.0.0.0/", "prefix length '' must be a number 0-32"),
        ("10.0.0.0/33", "prefix length '33' must be a number 0-32"),
        ("10.0.0.0/-1", "prefix length '-1' must be a number 0-32"),
        ("10.0.0.0/+8", "prefix length '+8' must be a number 0-32"),
        ("10.0.0.0/08", "prefix length '08' has a leading zero"),
        ("10.0.0.0/008", "prefix length '008' must be a number 0-32"),
        ("10.0.0.0/8/8", "expected ADDRESS/LENGTH"),
        ("10.0.0.0/ 8", "prefix length ' 8' must be a number 0-32"),
        ("10.0.0/8", "address part: invalid IP address \"10.0.0\": expected four dot-separated octets"),
        ("/8", "address part: invalid IP address \"\": expected four dot-separated octets"),
        ("10.0.0.1/24", "host bits are set; did you mean 10.0.0.0/24?"),
        ("0.0.0.1/0", "host bits are set; did you mean 0.0.0.0/0?"),
    ])
    func rejects(text: String, reason: String) {
        #expect(throws: AddressError.invalidPrefix(text, reason: reason)) { try IPv4Prefix(parsing: text) }
        #expect(IPv4Prefix(text) == nil)
    }

    @Test("non-strict parsing clears host bits")
    func lenient() throws {
        #expect(try IPv4Prefix(parsing: "10.244.1.77/24", strict: false).description == "10.244.1.0/24")
        #expect(try IPv4Prefix(IPv4Address(10, 1, 2, 3), length: 8).description == "10.0.0.0/8")
        #expect(throws: AddressError.self) { try IPv4Prefix(IPv4Address(10, 1, 2, 3), length: 33) }
        #expect(throws: AddressError.self) { try IPv4Prefix(IPv4Address(10, 1, 2, 3), length: -1) }
    }

    @Test("mask(_:) for every length", arguments: 0...32)
    func mask(length: Int) {
        let mask = IPv4Prefix.mask(length)
        #expect(mask.nonzeroBitCount == length)
        #expect(mask.leadingZeroBitCount == 0 || length == 0)
        #expect(mask.trailingZeroBitCount == 32 - length)
    }

    @Test("size and host count", arguments: [
        ("0.0.0.0/0", UInt64(1) << 32, (UInt64(1) << 32) - 2),
        ("10.0.0.0/8", 16_777_216, 16_777_214),
        ("10.244.1.0/24", 256, 254),
        ("10.0.0.0/30", 4, 2),
        ("10.0.0.0/31", 2, 2),
        ("10.0.0.0/32", 1, 1),
    ])
    func counts(text: String, size: UInt64, hosts: UInt64) throws {
        let prefix = try IPv4Prefix(parsing: text)
        #expect(prefix.size == size)
        #expect(prefix.hostCount == hosts)
    }

    @Test("host(n) counts usable addresses from 1", arguments: [
        ("10.244.1.0/24", UInt64(1), "10.244.1.1" as String?),
        ("10.244.1.0/24", 254, "10.244.1.254"),
        ("10.244.1.0/24", 255, nil),
        ("10.244.1.0/24", 0, nil),
        ("10.0.0.0/30", 1, "10.0.0.1"),
        ("10.0.0.0/30", 2, "10.0.0.2"),
        ("10.0.0.0/30", 3, nil),
        ("10.0.0.0/31", 1, "10.0.0.0"),
        ("10.0.0.0/31", 2, "10.0.0.1"),
        ("10.0.0.0/31", 3, nil),
        ("10.0.0.9/32", 1, "10.0.0.9"),
        ("10.0.0.9/32", 2, nil),
        ("0.0.0.0/0", 1, "0.0.0.1"),
        ("0.0.0.0/0", (UInt64(1) << 32) - 2, "255.255.255.254"),
        ("0.0.0.0/0", (UInt64(1) << 32) - 1, nil),
        ("255.255.255.254/31", 2, "255.255.255.255"),
    ])
    func host(text: String, n: UInt64, expected: String?) throws {
        #expect(try IPv4Prefix(parsing: text).host(n)?.description == expected)
    }

    @Test("address(at:) counts from the network address")
    func addressAt() throws {
        let prefix = try IPv4Prefix(parsing: "10.244.1.0/24")
        #expect(prefix.address(at: 0)?.description == "10.244.1.0")
        #expect(prefix.address(at: 255)?.description == "10.244.1.255")
        #expect(prefix.address(at: 256) == nil)
        let all = try IPv4Prefix(parsing: "0.0.0.0/0")
        #expect(all.address(at: UInt64(UInt32.max))?.description == "255.255.255.255")
        #expect(all.address(at: UInt64(UInt32.max) + 1) == nil)
    }

    @Test("hosts sequence lists every usable address once")
    func hostsSequence() throws {
        #expect(try IPv4Prefix(parsing: "10.0.0.0/29").hosts.map(\.description) == (1...6).map { "10.0.0.\($0)" })
        #expect(try IPv4Prefix(parsing: "10.0.0.0/31").hosts.map(\.description) == ["10.0.0.0", "10.0.0.1"])
        #expect(try IPv4Prefix(parsing: "10.0.0.5/32").hosts.map(\.description) == ["10.0.0.5"])
        #expect(try Array(IPv4Prefix(parsing: "10.0.0.0/24").hosts).count == 254)
    }

    @Test("contains addresses", arguments: [
        ("10.244.1.0/24", "10.244.1.0", true),
        ("10.244.1.0/24", "10.244.1.255", true),
        ("10.244.1.0/24", "10.244.2.0", false),
        ("10.244.1.0/24", "10.244.0.255", false),
        ("0.0.0.0/0", "255.255.255.255", true),
        ("0.0.0.0/0", "0.0.0.0", true),
        ("10.0.0.1/32", "10.0.0.1", true),
        ("10.0.0.1/32", "10.0.0.2", false),
        ("10.0.0.0/31", "10.0.0.1", true),
        ("10.0.0.0/31", "10.0.0.2", false),
    ])
    func containsAddress(prefix: String, address: String, expected: Bool) throws {
        #expect(try IPv4Prefix(parsing: prefix).contains(IPv4Address(parsing: address)) == expected)
    }

    @Test("containment and overlap of prefixes", arguments: [
        // outer, inner, outer contains inner, overlap
        ("10.244.0.0/16", "10.244.1.0/24", true, true),
        ("10.244.1.0/24", "10.244.0.0/16", false, true),
        ("10.244.0.0/16", "10.244.0.0/16", true, true),
        ("10.244.0.0/16", "10.245.0.0/16", false, false),
        ("10.244.0.0/16", "10.96.0.0/16", false, false),
        ("0.0.0.0/0", "192.168.200.0/24", true, true),
        ("192.168.200.0/24", "0.0.0.0/0", false, true),
        ("10.0.0.0/31", "10.0.0.1/32", true, true),
        ("10.0.0.0/31", "10.0.0.2/32", false, false),
        ("10.0.0.1/32", "10.0.0.1/32", true, true),
        ("10.0.0.0/8", "11.0.0.0/8", false, false),
        ("10.244.1.0/24", "10.244.2.0/24", false, false),
    ])
    func containsPrefix(outer: String, inner: String, contains: Bool, overlaps: Bool) throws {
        let a = try IPv4Prefix(parsing: outer), b = try IPv4Prefix(parsing: inner)
        #expect(a.contains(b) == contains)
        #expect(a.overlaps(b) == overlaps)
        #expect(b.overlaps(a) == overlaps, "overlap is symmetric")
    }

    @Test("subnets split the prefix in order")
    func subnets() throws {
        let cluster = try IPv4Prefix(parsing: "10.244.0.0/16")
        let nodes = try cluster.subnets(length: 24)
        #expect(nodes.count == 256)
        let list = Array(nodes)
        #expect(list.count == 256)
        #expect(list.first?.description == "10.244.0.0/24")
        #expect(list[1].description == "10.244.1.0/24")
        #expect(list.last?.description == "10.244.255.0/24")
        #expect(cluster.subnet(length: 24, index: 2)?.description == "10.244.2.0/24")
        #expect(cluster.subnet(length: 24, index: 256) == nil)
        #expect(cluster.subnet(length: 15, index: 0) == nil)
        #expect(cluster.subnet(length: 33, index: 0) == nil)
        #expect(try cluster.subnets(length: 16).map(\.description) == ["10.244.0.0/16"])
        #expect(try IPv4Prefix(parsing: "10.0.0.0/30").subnets(length: 32).map(\.description) == ["10.0.0.0/32", "10.0.0.1/32", "10.0.0.2/32", "10.0.0.3/32"])
        let everything = try IPv4Prefix(parsing: "0.0.0.0/0")
        #expect(try everything.subnets(length: 32).count == UInt64(1) << 32)
        #expect(everything.subnet(length: 32, index: UInt64(UInt32.max))?.description == "255.255.255.255/32")
        #expect(everything.subnet(length: 1, index: 1)?.description == "128.0.0.0/1")
    }

    @Test("subnets(length:) rejects lengths outside the prefix")
    func subnetsErrors() throws {
        let cluster = try IPv4Prefix(parsing: "10.244.0.0/16")
        #expect(throws: AddressError.outOfRange("cannot split 10.244.0.0/16 into /8 subnets: length must be 16-32")) { try cluster.subnets(length: 8) }
        #expect(throws: AddressError.self) { try cluster.subnets(length: 33) }
    }

    @Test("Codable round trip as a JSON string; strict on decode")
    func codable() throws {
        let prefix = try IPv4Prefix(parsing: "10.244.0.0/16")
        let data = try JSONEncoder().encode([prefix])
        #expect(String(decoding: data, as: UTF8.self) == #"["10.244.0.0\/16"]"# || String(decoding: data, as: UTF8.self) == #"["10.244.0.0/16"]"#)
        #expect(try JSONDecoder().decode([IPv4Prefix].self, from: data) == [prefix])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([IPv4Prefix].self, from: Data(#"["10.244.0.1/16"]"#.utf8)) }
    }
}

@Suite("IPv4Interface")
struct IPv4InterfaceTests {
    @Test("keeps host bits and knows its subnet", arguments: [
        ("10.244.1.1/24", "10.244.1.1", "10.244.1.0/24"),
        ("10.244.1.2/32", "10.244.1.2", "10.244.1.2/32"),
        ("192.168.200.11/24", "192.168.200.11", "192.168.200.0/24"),
        ("0.0.0.0/0", "0.0.0.0", "0.0.0.0/0"),
        ("255.255.255.255/31", "255.255.255.255", "255.255.255.254/31"),
    ])
    func parses(text: String, address: String, prefix: String) throws {
        let interface = try IPv4Interface(parsing: text)
        #expect(interface.address.description == address)
        #expect(interface.prefix.description == prefix)
        #expect(interface.description == text)
    }

    @Test("rejects bad text", arguments: ["10.244.1.1", "10.244.1.1/33", "10.244.1/24", "10.244.1.1/24/1", "", "/24"])
    func rejects(text: String) {
        #expect(IPv4Interface(text) == nil)
        #expect(throws: AddressError.self) { try IPv4Interface(parsing: text) }
    }

    @Test("length is checked")
    func length() {
        #expect(throws: AddressError.invalidPrefix("10.0.0.1/40", reason: "prefix length must be 0-32")) {
            try IPv4Interface(IPv4Address(10, 0, 0, 1), length: 40)
        }
    }

    @Test("Codable round trip")
    func codable() throws {
        let interface = try IPv4Interface(parsing: "10.244.1.1/24")
        let data = try JSONEncoder().encode([interface])
        #expect(try JSONDecoder().decode([IPv4Interface].self, from: data) == [interface])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([IPv4Interface].self, from: Data(#"["10.244.1.1"]"#.utf8)) }
    }
}
