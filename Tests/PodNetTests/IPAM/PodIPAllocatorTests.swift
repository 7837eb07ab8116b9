import Foundation
import Testing
@testable import PodNet

/// A small deterministic generator (SplitMix64) so random sequences are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Pod IP allocator")
struct PodIPAllocatorTests {
    static let n1 = IPv4Prefix(validLength: 24, address: IPv4Address(10, 244, 1, 0))

    @Test("hands out .2, .3, ... and never the network, gateway or broadcast address")
    func sequence() throws {
        var allocator = PodIPAllocator(node: "n1", podCIDR: Self.n1)
        #expect(allocator.capacity == 253)
        #expect(allocator.gateway?.description == "10.244.1.1")
        #expect(try allocator.allocate(for: "default/a").description == "10.244.1.2")
        #expect(try allocator.allocate(for: "default/b").description == "10.244.1.3")
        #expect(try allocator.allocate(for: "default/a").description == "10.244.1.2", "a retried request gets the same address")
        #expect(allocator.available == 251)
        var all: Set<IPv4Address> = [IPv4Address(10, 244, 1, 2), IPv4Address(10, 244, 1, 3)]
        for index in 2..<253 { all.insert(try allocator.allocate(for: "pod-\(index)")) }
        #expect(all.count == 253)
        #expect(!all.contains(IPv4Address(10, 244, 1, 0)))
        #expect(!all.contains(IPv4Address(10, 244, 1, 1)))
        #expect(!all.contains(IPv4Address(10, 244, 1, 255)))
        #expect(throws: IPAMError.exhausted(node: "n1", podCIDR: Self.n1, inUse: 253)) { try allocator.allocate(for: "one-too-many") }
        #expect(IPAMError.exhausted(node: "n1", podCIDR: Self.n1, inUse: 253).description
            == #"no free IP addresses in pod CIDR 10.244.1.0/24 of node "n1" (253 in use)"#)
    }

    @Test("a released address is not reused until the range wraps")
    func noImmediateReuse() throws {
        var allocator = PodIPAllocator(node: "n1", podCIDR: try IPv4Prefix(parsing: "10.244.1.0/29"))
        #expect(allocator.capacity == 5) // .2 ... .6
        let a = try allocator.allocate(for: "a"), b = try allocator.allocate(for: "b")
        #expect(allocator.release(a) == "a")
        #expect(try allocator.allocate(for: "c") == IPv4Address(10, 244, 1, 4))
        #expect(allocator.release(owner: "b") == b)
        #expect(try allocator.allocate(for: "d") == IPv4Address(10, 244, 1, 5))
        #expect(try allocator.allocate(for: "e") == IPv4Address(10, 244, 1, 6))
        // Wrapped: the lowest free address now comes back.
        #expect(try allocator.allocate(for: "f") == IPv4Address(10, 244, 1, 2))
        #expect(try allocator.allocate(for: "g") == IPv4Address(10, 244, 1, 3))
        #expect(throws: IPAMError.self) { try allocator.allocate(for: "h") }
        #expect(allocator.release(IPv4Address(10, 244, 1, 200)) == nil)
        #expect(allocator.release(owner: "nobody") == nil)
    }

    @Test("specific addresses", arguments: [
        ("10.244.1.9", "p", "10.244.1.9" as String?, nil as String?),
        ("10.244.1.0", "p", nil, #"10.244.1.0 is reserved in pod CIDR 10.244.1.0/24 of node "n1": it is the network address"#),
        ("10.244.1.1", "p", nil, #"10.244.1.1 is reserved in pod CIDR 10.244.1.0/24 of node "n1": it is the gateway"#),
        ("10.244.1.255", "p", nil, #"10.244.1.255 is reserved in pod CIDR 10.244.1.0/24 of node "n1": it is the broadcast address"#),
        ("10.244.2.9", "p", nil, #"10.244.2.9 is not in pod CIDR 10.244.1.0/24 of node "n1""#),
        ("10.244.1.5", "other", nil, #"10.244.1.5 is already allocated to "holder" on node "n1""#),
        ("10.244.1.5", "holder", "10.244.1.5", nil),
        ("10.244.1.6", "holder", nil, #""holder" already holds 10.244.1.5 on node "n1""#),
    ])
    func specific(address: String, owner: String, expected: String?, error: String?) throws {
        var allocator = PodIPAllocator(node: "n1", podCIDR: Self.n1)
        _ = try allocator.allocate(specific: IPv4Address(10, 244, 1, 5), for: "holder")
        do {
            let result = try allocator.allocate(specific: try IPv4Address(parsing: address), for: owner)
            #expect(result.description == expected)
            #expect(allocator.allocations[result] == owner)
        } catch let thrown {
            #expect("\(thrown)" == error)
        }
    }

    @Test("after a specific allocation the next one continues after it")
    func continuesAfterSpecific() throws {
        var allocator = PodIPAllocator(node: "n1", podCIDR: Self.n1)
        _ = try allocator.allocate(specific: IPv4Address(10, 244, 1, 100), for: "fixed")
        #expect(try allocator.allocate(for: "next") == IPv4Address(10, 244, 1, 101))
    }

    @Test("restore from stored state, checked, and continue after the last allocation")
    func restore() throws {
        var allocator = PodIPAllocator(node: "n1", podCIDR: Self.n1)
        try allocator.restore(allocations: [IPv4Address(10, 244, 1, 2): "a", IPv4Address(10, 244, 1, 7): "b"], lastAllocated: IPv4Address(10, 244, 1, 7))
        #expect(allocator.address(of: "b") == IPv4Address(10, 244, 1, 7))
        #expect(try allocator.allocate(for: "c") == IPv4Address(10, 244, 1, 8))

        let before = allocator
        #expect(throws: IPAMError.reserved(address: IPv4Address(10, 244, 1, 1), reason: "the gateway", node: "n1", podCIDR: Self.n1)) {
            try allocator.restore(allocations: [IPv4Address(10, 244, 1, 1): "x"], lastAllocated: nil)
        }
        #expect(throws: IPAMError.outsideCIDR(address: IPv4Address(10, 9, 9, 9), node: "n1", podCIDR: Self.n1)) {
            try allocator.restore(allocations: [IPv4Address(10, 9, 9, 9): "x"], lastAllocated: nil)
        }
        #expect(throws: IPAMError.ownerHasAddress(owner: "x", address: IPv4Address(10, 244, 1, 3), node: "n1")) {
            try allocator.restore(allocations: [IPv4Address(10, 244, 1, 3): "x", IPv4Address(10, 244, 1, 4): "x"], lastAllocated: nil)
        }
        #expect(throws: IPAMError.self) { try allocator.restore(allocations: [:], lastAllocated: IPv4Address(1, 1, 1, 1)) }
        #expect(allocator == before, "a failed restore changes nothing")
    }

    @Test("Codable state round trip, checked on decode")
    func codable() throws {
        var allocator = PodIPAllocator(node: "n1", podCIDR: Self.n1)
        _ = try allocator.allocate(for: "default/web")
        _ = try allocator.allocate(for: "default/db")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(allocator)
        #expect(String(decoding: data, as: UTF8.self)
            == #"{"allocations":{"10.244.1.2":"default/web","10.244.1.3":"default/db"},"lastAllocated":"10.244.1.3","node":"n1","podCIDR":"10.244.1.0/24"}"#)
        #expect(try JSONDecoder().decode(PodIPAllocator.self, from: data) == allocator)
        let bad = Data(#"{"allocations":{"10.244.1.1":"x"},"node":"n1","podCIDR":"10.244.1.0/24"}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(PodIPAllocator.self, from: bad) }
    }

    @Test("tiny CIDRs", arguments: [("10.0.0.0/30", 1), ("10.0.0.0/31", 0), ("10.0.0.0/32", 0), ("10.0.0.0/29", 5)])
    func tiny(cidr: String, capacity: Int) throws {
        var allocator = PodIPAllocator(node: "n", podCIDR: try IPv4Prefix(parsing: cidr))
        #expect(allocator.capacity == capacity)
        for index in 0..<capacity { _ = try allocator.allocate(for: "p\(index)") }
        #expect(throws: IPAMError.self) { try allocator.allocate(for: "extra") }
        #expect(throws: IPAMError.self) { try allocator.allocate(specific: IPv4Address(10, 0, 0, 0), for: "extra") }
    }

    /// The allocator against a plain reference model, over random allocate/release sequences.
    @Test("random allocate/release sequences match a reference model", arguments: [UInt64(1), 2, 3, 42, 2026])
    func againstModel(seed: UInt64) throws {
        var random = SplitMix64(state: seed)
        let cidr = try IPv4Prefix(parsing: "10.244.7.0/27")
        var allocator = PodIPAllocator(node: "n7", podCIDR: cidr)
        // Reference: usable addresses in order, owner per address, and the search start.
        let usable = (2...30).map { IPv4Address(10, 244, 7, UInt8($0)) }
        var owners: [IPv4Address: String] = [:]
        var nextIndex = 0
        var counter = 0
        for _ in 0..<3000 {
            let action = Int.random(in: 0..<10, using: &random)
            if action < 6 {
                counter += 1
                let owner = "pod-\(counter)"
                let expected = (0..<usable.count).map { usable[(nextIndex + $0) % usable.count] }.first { owners[$0] == nil }
                do {
                    let address = try allocator.allocate(for: owner)
                    #expect(address == expected)
                    #expect(owners[address] == nil, "an address is never given twice")
                    #expect(allocator.reservation(of: address) == nil && cidr.contains(address))
                    owners[address] = owner
                    if let index = usable.firstIndex(of: address) { nextIndex = index + 1 }
                } catch {
                    #expect(expected == nil, "exhausted only when the model is full")
                    #expect(owners.count == usable.count)
                }
            } else if action < 9, let victim = owners.keys.sorted().randomElement(using: &random) {
                #expect(allocator.release(victim) == owners[victim])
                owners[victim] = nil
            } else if let victim = owners.randomElement(using: &random) {
                // Retrying an owner's allocation returns its address and changes nothing.
                #expect(try allocator.allocate(for: victim.value) == victim.key)
            }
            #expect(allocator.allocations == owners)
            #expect(Set(allocator.allocations.values).count == allocator.allocations.count)
        }
    }
}
