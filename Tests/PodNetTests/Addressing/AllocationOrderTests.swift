import Testing
@testable import PodNet

@Suite("AllocationOrder")
struct AllocationOrderTests {
    func a(_ text: String) -> IPv4Address { IPv4Address(text)! }
    func range(_ from: String, _ to: String) -> ClosedRange<IPv4Address> { a(from)...a(to) }

    @Test("starts at the first range's start without a last address, or with one in no range")
    func startsAtTheFirstRange() {
        let ranges = [range("10.0.0.2", "10.0.0.4"), range("10.0.1.2", "10.0.1.4")]
        #expect(AllocationOrder.nextFree(in: ranges, after: nil) { _ in true } == a("10.0.0.2"))
        #expect(AllocationOrder.nextFree(in: ranges, after: a("192.168.0.1")) { _ in true } == a("10.0.0.2"))
    }

    @Test("continues after the last address, into the next range, and wraps around to it last")
    func wrapsAround() {
        let ranges = [range("10.0.0.2", "10.0.0.4"), range("10.0.1.2", "10.0.1.4")]
        #expect(AllocationOrder.nextFree(in: ranges, after: a("10.0.0.2")) { _ in true } == a("10.0.0.3"))
        #expect(AllocationOrder.nextFree(in: ranges, after: a("10.0.0.4")) { _ in true } == a("10.0.1.2"))
        #expect(AllocationOrder.nextFree(in: ranges, after: a("10.0.1.4")) { _ in true } == a("10.0.0.2"))
        // Everything else taken: the last address itself is the only candidate left.
        #expect(AllocationOrder.nextFree(in: ranges, after: a("10.0.1.3")) { $0 == a("10.0.1.3") } == a("10.0.1.3"))
        // The whole visiting order from the middle of the second range.
        var seen: [IPv4Address] = []
        _ = AllocationOrder.nextFree(in: ranges, after: a("10.0.1.3")) { seen.append($0); return false }
        #expect(seen == ["10.0.1.4", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.1.2", "10.0.1.3"].map(a))
    }

    @Test("nil when nothing is free; the top of the address space does not overflow")
    func exhausted() {
        #expect(AllocationOrder.nextFree(in: [range("10.0.0.2", "10.0.0.4")], after: a("10.0.0.3")) { _ in false } == nil)
        #expect(AllocationOrder.nextFree(in: [range("255.255.255.254", "255.255.255.255")], after: a("255.255.255.255")) { _ in true }
                == a("255.255.255.254"))
        #expect(AllocationOrder.nextFree(in: [], after: nil) { _ in true } == nil)
    }

    @Test("the agent's allocator follows it: a released address is not reused at once")
    func agentAllocatorUsesIt() throws {
        var allocator = PodIPAllocator(node: "n1", podCIDR: try IPv4Prefix(parsing: "10.244.1.0/29"))
        let first = try allocator.allocate(for: "a")
        #expect(first == a("10.244.1.2"))
        allocator.release(first)
        #expect(try allocator.allocate(for: "b") == a("10.244.1.3"))
        let next = AllocationOrder.nextFree(in: [a("10.244.1.2")...a("10.244.1.6")], after: allocator.lastAllocated) { allocator.allocations[$0] == nil }
        #expect(try allocator.allocate(for: "c") == next)
    }
}
