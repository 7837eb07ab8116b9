import Netlink
import Netns
import Addressing
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("Kernel replies become errors naming the operation and object")
struct ErrorMappingTests {
    @Test("a failed reply names the message, object, namespace, errno and extended ack")
    func singleFailure() {
        let transport = RecordingTransport(namespace: "lab-n1") { _, _ in (EEXIST, "Device already exists") }
        let netlink = RouteNetlink(transport: transport)
        #expect {
            try netlink.createVeth(VethConfiguration(name: "h1", peer: .init(name: "p1")))
        } throws: { error in
            guard let error = error as? KernelError else { return false }
            return error.operation == "RTM_NEWLINK" && error.object == "veth \"h1\" (peer \"p1\")" && error.namespace == "lab-n1"
                && error.errno == .fileExists && error.detail == "Device already exists"
                && error.description == "RTM_NEWLINK veth \"h1\" (peer \"p1\") in netns \"lab-n1\": File exists (EEXIST): Device already exists"
        }
    }

    @Test("EPERM says that podlab needs root")
    func permission() {
        let netlink = RouteNetlink(transport: RecordingTransport { _, _ in (EPERM, nil) })
        #expect { try netlink.setUp(.name("lo")) } throws: { "\($0)".contains("podlab needs root") && Errno.notPermitted ~= $0 }
    }

    @Test("a failed get is reported under its own message type and object")
    func getFailure() throws {
        final class Failing: NetlinkTransport, @unchecked Sendable {
            let namespace: String? = "pod"
            let portID: UInt32 = 1
            func nextSequence() -> UInt32 { 1 }
            func transact(_ request: [UInt8], expectedReplies: Int) throws -> [NetlinkReply] { [] }
            func dump(_ request: [UInt8]) throws -> [NetlinkMessage] {
                throw KernelError(operation: "dump", object: "netlink(route)", namespace: "pod", errno: .noSuchDevice)
            }
        }
        #expect {
            try RouteNetlink(transport: Failing()).link(named: "eth9")
        } throws: { error in
            guard let error = error as? KernelError else { return false }
            return error.operation == "RTM_GETLINK" && error.object == "link \"eth9\"" && error.errno == .noSuchDevice
        }
        #expect(try RouteNetlink(transport: Failing()).linkIfPresent(named: "eth9") == nil)
    }

    @Test("a failing batch names the message that failed, its position and the other failures")
    func batchFailure() throws {
        // Messages 4 (route) and 5 (neighbour) of each batch fail; the kernel applies and acks the others.
        let transport = RecordingTransport { index, _ in
            switch index % 5 {
            case 3: (ENETDOWN, "Nexthop device is not up")
            case 4: (EINVAL, nil)
            default: (0, nil)
            }
        }
        let netlink = RouteNetlink(transport: transport)
        let gateway = IPv4Address(10, 244, 1, 1)
        let requests: [NetlinkRequest] = [
            try .setLink(.name("lo"), LinkChanges(up: true)),
            try .addAddress(InterfaceAddress(interfaceIndex: 2, try IPv4Interface(parsing: "10.244.1.2/32"))),
            try .setLink(.index(2, name: "eth0"), LinkChanges(up: true)),
            try .addRoute(.defaultRoute(via: gateway, outputIndex: 2)),
            try .replaceNeighbor(Neighbor(interfaceIndex: 2, address: gateway, mac: .derived(from: gateway))),
        ]
        #expect {
            try netlink.perform(batch: requests)
        } throws: { error in
            guard let error = error as? KernelError else { return false }
            return error.operation == "RTM_NEWROUTE" && error.object == "route default via 10.244.1.1 dev #2 onlink"
                && error.errno == Errno(ENETDOWN)
                && error.detail == "Nexthop device is not up; message 4 of 5 in one batch; also failed: message 5 (RTM_NEWNEIGH neighbour 10.244.1.1 on link #2: EINVAL)"
        }
        let outcomes = try netlink.performIndividually(batch: requests)
        #expect(outcomes.map { $0?.errno } == [nil, nil, nil, Errno(ENETDOWN), .invalidArgument])
    }

    @Test("a message the kernel never acknowledged is an error, not a silent success")
    func missingAck() {
        final class Silent: NetlinkTransport, @unchecked Sendable {
            let namespace: String? = nil
            let portID: UInt32 = 1
            func nextSequence() -> UInt32 { 7 }
            func transact(_ request: [UInt8], expectedReplies: Int) throws -> [NetlinkReply] { [] }
            func dump(_ request: [UInt8]) throws -> [NetlinkMessage] { [] }
        }
        #expect { try RouteNetlink(transport: Silent()).setUp(.name("lo")) } throws: { Errno(EIO) ~= $0 }
    }
}
