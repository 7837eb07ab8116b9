import CMnl
import Netns
import Addressing
#if canImport(Glibc)
import Glibc
#endif

/// A veth pair to create: the host end here, the peer here or directly inside another namespace.
public struct VethConfiguration: Sendable, Equatable {
    /// The end created in the namespace the request is sent to.
    public var name: String
    /// This end's MTU.
    public var mtu: UInt32?
    /// This end's MAC; nil lets the kernel choose.
    public var mac: MACAddress?
    /// Attach this end to a bridge at creation (`IFLA_MASTER`).
    public var masterIndex: Int32?
    /// Bring this end up at creation (works together with `masterIndex`).
    public var up: Bool
    /// The other end.
    public var peer: Peer
    /// Transmit and receive queues of each end; nil lets the kernel choose (one per CPU, which
    /// veth then cuts back to one after registering both: sysfs work and an RCU grace period
    /// per end that a pod interface does not need).
    public var queues: UInt32?

    /// The other end. It cannot be brought up at creation: the kernel opens the peer before the
    /// pair is linked and answers ENOTCONN. Bring it up afterwards, from its namespace's socket.
    public struct Peer: Sendable, Equatable {
        /// Its name (in its namespace).
        public var name: String
        /// Its MTU.
        public var mtu: UInt32?
        /// Its MAC; nil lets the kernel choose.
        public var mac: MACAddress?

        /// A peer called `name`.
        public init(name: String, mtu: UInt32? = nil, mac: MACAddress? = nil) {
            self.name = name
            self.mtu = mtu
            self.mac = mac
        }
    }

    /// A pair whose first end is `name`; down and unattached unless told otherwise.
    public init(name: String, mtu: UInt32? = nil, mac: MACAddress? = nil, masterIndex: Int32? = nil, up: Bool = false, peer: Peer,
                queues: UInt32? = nil) {
        self.name = name
        self.mtu = mtu
        self.mac = mac
        self.masterIndex = masterIndex
        self.up = up
        self.peer = peer
        self.queues = queues
    }
}

extension NetlinkRequest {
    /// `RTM_NEWLINK` creating a veth pair (`ip link add NAME type veth peer name PEER netns NS`).
    ///
    /// With `peerNamespaceFD`, `IFLA_NET_NS_FD` goes *inside* `VETH_INFO_PEER`, so the kernel
    /// creates the peer directly in that namespace. Moving an existing link into a namespace
    /// instead costs about 19 ms of kernel synchronisation per link.
    /// - Parameters:
    ///   - peerNamespaceFD: an open fd of the peer's network namespace, or nil for this one.
    ///   - peerNamespaceName: the peer namespace's name, for error messages.
    public static func createVeth(_ veth: VethConfiguration, peerNamespaceFD: Int32? = nil, peerNamespaceName: String? = nil) throws(ValidationError) -> NetlinkRequest {
        try NetlinkValidation.validate(interfaceName: veth.peer.name, field: "peer interface name")
        if let mtu = veth.peer.mtu { try NetlinkValidation.validate(mtu: mtu, field: "peer mtu") }
        if let mac = veth.peer.mac { try NetlinkValidation.validate(unicastMAC: mac, field: "peer mac address") }
        if let fd = peerNamespaceFD, fd < 0 {
            throw ValidationError(field: "peer namespace fd", value: "\(fd)", reason: "must be an open file descriptor")
        }
        if peerNamespaceFD == nil && veth.peer.name == veth.name {
            throw ValidationError(field: "peer interface name", value: veth.peer.name, reason: "both ends of a veth pair in one namespace need different names")
        }
        if let queues = veth.queues, !(1...4096).contains(queues) {
            throw ValidationError(field: "queues", value: "\(queues)", reason: "must be 1-4096")
        }
        var object = "veth \"\(veth.name)\" (peer \"\(veth.peer.name)\""
        if let peerNamespaceName { object += " in netns \"\(peerNamespaceName)\"" }
        object += ")"
        var peerHeader = ifinfomsg()
        peerHeader.ifi_family = Family.AF_UNSPEC
        func putQueues(_ w: inout MessageWriter) {
            guard let queues = veth.queues else { return }
            w.put(LinkAttribute.IFLA_NUM_TX_QUEUES, u32: queues)
            w.put(LinkAttribute.IFLA_NUM_RX_QUEUES, u32: queues)
        }
        return try createLink(kind: "veth", name: veth.name, object: object, mtu: veth.mtu, mac: veth.mac,
                              masterIndex: veth.masterIndex, up: veth.up, attributes: putQueues, data: { w in
            w.nest(VethAttribute.VETH_INFO_PEER) { w in
                w.extraHeader(peerHeader)
                w.put(LinkAttribute.IFLA_IFNAME, string: veth.peer.name)
                if let mtu = veth.peer.mtu { w.put(LinkAttribute.IFLA_MTU, u32: mtu) }
                if let mac = veth.peer.mac { w.put(LinkAttribute.IFLA_ADDRESS, bytes: mac.bytes) }
                if let peerNamespaceFD { w.put(LinkAttribute.IFLA_NET_NS_FD, u32: UInt32(bitPattern: peerNamespaceFD)) }
                putQueues(&w)
            }
        })
    }
}

extension RouteNetlink {
    /// Creates a veth pair; with `peerNamespace`, the peer is born inside that namespace.
    /// - Returns: this end as the kernel reports it right after creation (index, MAC; the master
    ///   is attached just after that report, so `masterIndex` may still be nil).
    @discardableResult
    public func createVeth(_ veth: VethConfiguration, peerNamespace: NetworkNamespace? = nil) throws -> Link {
        let request: NetlinkRequest
        var fd: Int32 = -1
        defer { if fd >= 0 { close(fd) } }
        if let peerNamespace {
            fd = try peerNamespace.openFD()
            request = try .createVeth(veth, peerNamespaceFD: fd, peerNamespaceName: peerNamespace.name)
        } else {
            request = try .createVeth(veth)
        }
        return try createLink(request, name: veth.name)
    }
}
