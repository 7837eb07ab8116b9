import Addressing
import Netns

// ctnetlink (<linux/netfilter/nfnetlink.h>, <linux/netfilter/nfnetlink_conntrack.h>): conntrack
// entries of one network namespace, listed and deleted over NETLINK_NETFILTER.

/// ctnetlink message types and attributes under their kernel names.
enum Ctnetlink {
    static let NFNL_SUBSYS_CTNETLINK: UInt16 = 1
    static let IPCTNL_MSG_CT_NEW: UInt16 = 0
    static let IPCTNL_MSG_CT_GET: UInt16 = 1
    static let IPCTNL_MSG_CT_DELETE: UInt16 = 2
    static let NFNETLINK_V0: UInt8 = 0

    static let CTA_TUPLE_ORIG: UInt16 = 1
    static let CTA_TUPLE_REPLY: UInt16 = 2
    static let CTA_TUPLE_IP: UInt16 = 1
    static let CTA_TUPLE_PROTO: UInt16 = 2
    static let CTA_IP_V4_SRC: UInt16 = 1
    static let CTA_IP_V4_DST: UInt16 = 2
    static let CTA_PROTO_NUM: UInt16 = 1
    static let CTA_PROTO_SRC_PORT: UInt16 = 2
    static let CTA_PROTO_DST_PORT: UInt16 = 3

    /// `nlmsg_type` of a ctnetlink message: the subsystem in the high byte.
    static func type(_ message: UInt16) -> UInt16 { NFNL_SUBSYS_CTNETLINK << 8 | message }

    static func name(_ type: UInt16) -> String? {
        switch type {
        case Ctnetlink.type(IPCTNL_MSG_CT_NEW): "IPCTNL_MSG_CT_NEW"
        case Ctnetlink.type(IPCTNL_MSG_CT_GET): "IPCTNL_MSG_CT_GET"
        case Ctnetlink.type(IPCTNL_MSG_CT_DELETE): "IPCTNL_MSG_CT_DELETE"
        default: nil
        }
    }
}

/// One direction of a tracked connection: addresses, protocol and ports as the kernel keys it.
public struct ConntrackTuple: Hashable, Sendable, CustomStringConvertible {
    public var source: IPv4Address
    public var destination: IPv4Address
    /// The IP protocol number (6 TCP, 17 UDP).
    public var proto: UInt8
    public var sourcePort: UInt16
    public var destinationPort: UInt16

    public init(source: IPv4Address, destination: IPv4Address, proto: UInt8, sourcePort: UInt16, destinationPort: UInt16) {
        self.source = source
        self.destination = destination
        self.proto = proto
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
    }

    /// `udp 10.244.1.2:40000 → 10.96.0.10:53`
    public var description: String {
        "\(proto == 6 ? "tcp" : proto == 17 ? "udp" : "proto \(proto)") \(source):\(sourcePort) → \(destination):\(destinationPort)"
    }
}

/// A conntrack entry: the original direction (client to the address it asked for) and the
/// reply direction (after NAT: from the endpoint that answers).
public struct ConntrackEntry: Hashable, Sendable {
    public var original: ConntrackTuple
    public var reply: ConntrackTuple

    public init(original: ConntrackTuple, reply: ConntrackTuple) {
        self.original = original
        self.reply = reply
    }
}

extension NetlinkRequest {
    /// `struct nfgenmsg` (4 B): family AF_INET, version, resource id (big-endian, 0).
    private static func nfgenmsg(_ writer: inout MessageWriter) {
        writer.extraHeader((UInt8(2), Ctnetlink.NFNETLINK_V0, UInt16(0)))
    }

    /// Lists the IPv4 conntrack entries of the namespace.
    public static func listConntrack() throws(ValidationError) -> NetlinkRequest {
        try NetlinkRequest(type: Ctnetlink.type(Ctnetlink.IPCTNL_MSG_CT_GET), flags: NetlinkFlags.NLM_F_DUMP, object: "conntrack table") { writer in
            nfgenmsg(&writer)
        }
    }

    /// Deletes the entry whose original direction is `tuple`.
    public static func deleteConntrack(_ tuple: ConntrackTuple) throws(ValidationError) -> NetlinkRequest {
        try NetlinkRequest(type: Ctnetlink.type(Ctnetlink.IPCTNL_MSG_CT_DELETE), flags: NetlinkFlags.NLM_F_ACK, object: "conntrack \(tuple)") { writer in
            nfgenmsg(&writer)
            writer.nest(Ctnetlink.CTA_TUPLE_ORIG) { writer in
                writer.nest(Ctnetlink.CTA_TUPLE_IP) { writer in
                    writer.put(Ctnetlink.CTA_IP_V4_SRC, u32: tuple.source.value.bigEndian)
                    writer.put(Ctnetlink.CTA_IP_V4_DST, u32: tuple.destination.value.bigEndian)
                }
                writer.nest(Ctnetlink.CTA_TUPLE_PROTO) { writer in
                    writer.put(Ctnetlink.CTA_PROTO_NUM, u8: tuple.proto)
                    writer.put(Ctnetlink.CTA_PROTO_SRC_PORT, u16: tuple.sourcePort.bigEndian)
                    writer.put(Ctnetlink.CTA_PROTO_DST_PORT, u16: tuple.destinationPort.bigEndian)
                }
            }
        }
    }
}

/// The conntrack table of one network namespace (a node's: where a Service's NAT happens).
///
/// Used when a Service endpoint goes away: a UDP client keeps sending to the address it was
/// translated to for as long as its entry lives (30 s idle, 120 s once it saw replies), so the
/// entries whose replies come from the gone endpoint are deleted, as kube-proxy does. TCP is
/// left alone: a connection to a gone endpoint ends with a reset or a timeout of its own.
public final class Conntrack: Sendable {
    private let netlink: RouteNetlink

    /// Uses an existing NETLINK_NETFILTER transport (a socket, or a recorder in tests).
    public init(transport: any NetlinkTransport) {
        netlink = RouteNetlink(transport: transport)
    }

    /// Opens a netfilter netlink socket inside `namespace`.
    public convenience init(namespace: NetworkNamespace) throws {
        self.init(transport: try namespace.openSocket(.netfilter))
    }

    /// The IPv4 entries of the namespace (those with both tuples and ports; ICMP ones are left out).
    public func entries() throws -> [ConntrackEntry] {
        try netlink.fetch(.listConntrack()).compactMap { message in
            guard message.type == Ctnetlink.type(Ctnetlink.IPCTNL_MSG_CT_NEW) else { return nil }
            return Conntrack.entry(PayloadReader(payload: message.payload[...]).attributes(after: 4))
        }
    }

    /// Deletes the entries `matching` selects; returns those deleted. An entry that is gone by
    /// the time it is deleted (it expired) is not an error.
    @discardableResult
    public func delete(where matching: (ConntrackEntry) -> Bool) throws -> [ConntrackEntry] {
        let chosen = try entries().filter(matching)
        guard !chosen.isEmpty else { return [] }
        var deleted: [ConntrackEntry] = []
        // Acks for many deletes fit in one read: send them in datagrams of a few hundred.
        for start in stride(from: 0, to: chosen.count, by: 256) {
            let batch = Array(chosen[start..<min(start + 256, chosen.count)])
            let outcomes = try netlink.performIndividually(batch: try batch.map { try NetlinkRequest.deleteConntrack($0.original) })
            for (entry, error) in zip(batch, outcomes) {
                if let error, error.errno != .noSuchFileOrDirectory { throw error }
                if error == nil { deleted.append(entry) }
            }
        }
        return deleted
    }

    /// The UDP entries of clients sent to `address:port` and answered by `endpoint:endpointPort`.
    public static func udpFlows(to address: IPv4Address, port: UInt16, answeredBy endpoint: IPv4Address, endpointPort: UInt16) -> (ConntrackEntry) -> Bool {
        { entry in
            entry.original.proto == 17 && entry.original.destination == address && entry.original.destinationPort == port
                && entry.reply.source == endpoint && entry.reply.sourcePort == endpointPort
        }
    }

    static func entry(_ attributes: [NetlinkAttribute]) -> ConntrackEntry? {
        var original: ConntrackTuple?, reply: ConntrackTuple?
        for attribute in attributes {
            switch attribute.type {
            case Ctnetlink.CTA_TUPLE_ORIG: original = tuple(attribute.nested)
            case Ctnetlink.CTA_TUPLE_REPLY: reply = tuple(attribute.nested)
            default: break
            }
        }
        guard let original, let reply else { return nil }
        return ConntrackEntry(original: original, reply: reply)
    }

    static func tuple(_ attributes: [NetlinkAttribute]) -> ConntrackTuple? {
        var source: IPv4Address?, destination: IPv4Address?, proto: UInt8?, sourcePort: UInt16?, destinationPort: UInt16?
        for attribute in attributes {
            switch attribute.type {
            case Ctnetlink.CTA_TUPLE_IP:
                for ip in attribute.nested {
                    switch ip.type {
                    case Ctnetlink.CTA_IP_V4_SRC: source = ip.u32.map { IPv4Address(UInt32(bigEndian: $0)) }
                    case Ctnetlink.CTA_IP_V4_DST: destination = ip.u32.map { IPv4Address(UInt32(bigEndian: $0)) }
                    default: break
                    }
                }
            case Ctnetlink.CTA_TUPLE_PROTO:
                for part in attribute.nested {
                    switch part.type {
                    case Ctnetlink.CTA_PROTO_NUM: proto = part.u8
                    case Ctnetlink.CTA_PROTO_SRC_PORT: sourcePort = part.u16.map { UInt16(bigEndian: $0) }
                    case Ctnetlink.CTA_PROTO_DST_PORT: destinationPort = part.u16.map { UInt16(bigEndian: $0) }
                    default: break
                    }
                }
            default: break
            }
        }
        guard let source, let destination, let proto, let sourcePort, let destinationPort else { return nil }
        return ConntrackTuple(source: source, destination: destination, proto: proto, sourcePort: sourcePort, destinationPort: destinationPort)
    }
}
