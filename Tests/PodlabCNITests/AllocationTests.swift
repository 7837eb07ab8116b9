import Addressing
import Foundation
import Testing
@testable import PodlabCNI

@Suite("IPAM allocations")
struct AllocationTests {
    let ranges = [AddressRange(subnet: IPv4Prefix("10.0.0.0/29")!)]  // hosts .1–.6, .1 the gateway

    func attachment(_ n: Int) -> ContainerAttachment { ContainerAttachment(containerID: "c\(n)", ifname: "eth0") }

    @Test("Addresses are handed out in order, never the gateway, and not reused at once")
    func order() throws {
        var a = Allocations()
        let first = try (0..<5).map { try a.allocate(attachment($0), portMappings: [], in: ranges, network: "n").address.description }
        #expect(first == ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"])
        #expect(a.release(attachment(1))?.address == IPv4Address("10.0.0.3"))
        #expect(try a.allocate(attachment(9), portMappings: [], in: ranges, network: "n").address == IPv4Address("10.0.0.3"))
    }

    @Test("A released address waits until the range wraps around")
    func noImmediateReuse() throws {
        var a = Allocations()
        _ = try a.allocate(attachment(0), portMappings: [], in: ranges, network: "n")
        _ = try a.allocate(attachment(1), portMappings: [], in: ranges, network: "n")
        _ = a.release(attachment(0))
        #expect(try a.allocate(attachment(2), portMappings: [], in: ranges, network: "n").address == IPv4Address("10.0.0.4"))
    }

    @Test("The same attachment gets the address it holds")
    func idempotent() throws {
        var a = Allocations()
        let x = try a.allocate(attachment(0), portMappings: [], in: ranges, network: "n")
        #expect(try a.allocate(attachment(0), portMappings: [], in: ranges, network: "n") == x)
        #expect(a.records.count == 1)
    }

    @Test("An exhausted range is 'try again later' (11), naming the range")
    func exhausted() throws {
        var a = Allocations()
        for n in 0..<5 { _ = try a.allocate(attachment(n), portMappings: [], in: ranges, network: "n") }
        #expect(throws: CNIError(.tryAgainLater, "no IP addresses available in network n",
                                 details: "every address of 10.0.0.1-10.0.0.6 is allocated (5 allocations)")) {
            try a.allocate(attachment(7), portMappings: [], in: ranges, network: "n")
        }
    }

    @Test("A host port already mapped is refused and allocates nothing")
    func portConflict() throws {
        var a = Allocations()
        let web = [PortMapping(hostPort: 8080, containerPort: 80, transport: .tcp)]
        _ = try a.allocate(attachment(0), portMappings: web, in: ranges, network: "n")
        #expect(throws: CNIError.self) { try a.allocate(attachment(1), portMappings: web, in: ranges, network: "n") }
        #expect(a.records.count == 1)
        _ = try a.allocate(attachment(2), portMappings: [PortMapping(hostPort: 8080, containerPort: 80, transport: .udp)], in: ranges, network: "n")
    }

    @Test("rangeStart and rangeEnd bound the addresses, across several ranges")
    func ranges2() throws {
        let two = [AddressRange(subnet: IPv4Prefix("10.0.0.0/24")!, rangeStart: IPv4Address("10.0.0.10"), rangeEnd: IPv4Address("10.0.0.11")),
                   AddressRange(subnet: IPv4Prefix("10.0.0.0/24")!, rangeStart: IPv4Address("10.0.0.20"), rangeEnd: IPv4Address("10.0.0.20"))]
        var a = Allocations()
        let got = try (0..<3).map { try a.allocate(attachment($0), portMappings: [], in: two, network: "n").address.description }
        #expect(got == ["10.0.0.10", "10.0.0.11", "10.0.0.20"])
        #expect(a.nextFree(in: two) == nil)
    }

    @Test("The store's text format reads back what it wrote")
    func fileFormat() throws {
        var a = Allocations()
        _ = try a.allocate(attachment(0), portMappings: [PortMapping(hostPort: 8080, containerPort: 80, transport: .tcp)], in: ranges, network: "n")
        _ = try a.allocate(attachment(1), portMappings: [], in: ranges, network: "n")
        #expect(a.serialized == "last 10.0.0.3\n10.0.0.2 c0 eth0 tcp:8080:80\n10.0.0.3 c1 eth0\n")
        #expect(try Allocations(parsing: a.serialized) == a)
        #expect(throws: CNIError.self) { try Allocations(parsing: "last -\nnot-an-address c eth0\n") }
    }

    @Test("A damaged line is refused, naming it", arguments: [
        "10.0.0.2", "10.0.0.2 ", "10.0.0.2 c0", "10.0.0.2 c0 ", "10.0.0.2  c0 eth0", "10.0.0.2 c0  eth0", "10.0.0.2 c0 eth0 ",
        "10.0.0.2 c0 eth0 tcp:8080", "10.0.0.2 c0 eth0 tcp:8080:80 http:1:2", "10.0.0.256 c0 eth0",
    ])
    func damagedLine(line: String) {
        #expect(throws: CNIError(.ioFailure, "the IPAM store is damaged", details: "line 2: \"\(line)\"")) {
            try Allocations(parsing: "last -\n\(line)\n")
        }
    }

    @Test("Lines are found by container id and interface name as whole fields, and read back as written")
    func lookup() throws {
        let text = "last 10.0.0.4\n10.0.0.2 c1 eth0\n10.0.0.3 c eth1 udp:53:53 tcp:80:8080\n10.0.0.4 c eth0\n"
        var a = try Allocations(parsing: text)
        #expect(a.count == 3)
        #expect(a.record(for: ContainerAttachment(containerID: "c", ifname: "eth0"))?.address == IPv4Address("10.0.0.4"))
        #expect(a.record(for: ContainerAttachment(containerID: "c", ifname: "eth"))  == nil)
        #expect(a.record(for: ContainerAttachment(containerID: "c1", ifname: "eth0"))?.address == IPv4Address("10.0.0.2"))
        #expect(a.record(for: ContainerAttachment(containerID: "c", ifname: "eth1"))?.portMappings
                == [PortMapping(hostPort: 53, containerPort: 53, transport: .udp), PortMapping(hostPort: 80, containerPort: 8080, transport: .tcp)])
        #expect(a.serialized == text)
        #expect(a.release(ContainerAttachment(containerID: "c", ifname: "eth1"))?.address == IPv4Address("10.0.0.3"))
        #expect(a.serialized == "last 10.0.0.4\n10.0.0.2 c1 eth0\n10.0.0.4 c eth0\n")
        // A mapping held by a line read from the file still conflicts.
        var b = try Allocations(parsing: text)
        #expect(throws: CNIError.self) {
            try b.allocate(ContainerAttachment(containerID: "d", ifname: "eth0"), portMappings: [PortMapping(hostPort: 53, containerPort: 5353, transport: .udp)],
                           in: ranges, network: "n")
        }
        #expect(b.count == 3)
    }

    @Test("The store on disk keeps allocations between processes' calls")
    func store() throws {
        let dir = "/tmp/podlab-cni-test-\(UInt32.random(in: 0...UInt32.max))/net"
        defer { removeTree(dir) }
        let store = IPAMStore(directory: dir)
        let first = try store.withLockedAllocations { try $0.allocate(attachment(0), portMappings: [], in: ranges, network: "n") }
        let again = try IPAMStore(directory: dir).withLockedAllocations { try $0.allocate(attachment(1), portMappings: [], in: ranges, network: "n") }
        #expect(first.address != again.address)
        #expect(try store.read().records.count == 2)
    }

    @Test("A copy cut short by a killed writer is ignored: the other copy, the state before, is read")
    func tornWrite() throws {
        let dir = "/tmp/podlab-cni-test-\(UInt32.random(in: 0...UInt32.max))/net"
        defer { removeTree(dir) }
        let store = IPAMStore(directory: dir)
        _ = try store.withLockedAllocations { try $0.allocate(attachment(0), portMappings: [], in: ranges, network: "n") }
        _ = try store.withLockedAllocations { try $0.allocate(attachment(1), portMappings: [], in: ranges, network: "n") }
        #expect(try store.read().records.count == 2)
        // The newest copy (generation 2, in allocations.0... or .1) loses its end line.
        let newest = store.copyPaths.first { (try? String(contentsOfFile: $0, encoding: .utf8))?.hasSuffix("end 2\n") == true }
        let path = try #require(newest)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try String(text.dropLast(6)).write(toFile: path, atomically: false, encoding: .utf8)
        #expect(try store.read().records.map(\.attachment) == [attachment(0)])
        // The next write goes over the damaged copy.
        _ = try store.withLockedAllocations { try $0.allocate(attachment(2), portMappings: [], in: ranges, network: "n") }
        #expect(try store.read().records.count == 2)
    }
}

#if canImport(Glibc)
import Glibc
#endif

func removeTree(_ dir: String) {
    for name in ["allocations.0", "allocations.1", "lock"] { unlink(dir + "/" + name) }
    rmdir(dir)
    if let parent = dir.split(separator: "/").dropLast().joined(separator: "/") as String? { rmdir("/" + parent) }
}
