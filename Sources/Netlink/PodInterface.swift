#if canImport(Glibc)
import Glibc
#endif
import Netns
import Addressing

/// What to build for one pod: a veth pair from the node's bridge into the pod, the pod's /32
/// address, its default route via the gateway, and permanent neighbour entries both ways.
public struct PodInterfaceConfiguration: Sendable, Equatable {
    /// The node-side end of the veth pair (on the bridge).
    public var hostInterfaceName: String
    /// The pod-side end, as the pod sees it.
    public var podInterfaceName: String
    /// The pod's address; the pod holds it as a /32.
    public var address: IPv4Address
    /// The node's address on the bridge, the pod's only next hop.
    public var gateway: IPv4Address
    /// MTU of both ends; nil keeps the kernel's default (1500).
    public var mtu: UInt32?
    /// A fixed MAC for the pod's interface; nil lets the kernel choose one.
    public var podMAC: MACAddress?
    /// Whether the pod's interface gets an IPv6 link-local address (the kernel's default). An
    /// IPv4-only lab turns it off: each link-local address costs DAD, router solicitations and
    /// MLD reports, which the node bridge floods to every other pod.
    public var ipv6LinkLocal: Bool
    /// The length the pod holds its address with: 32 for podlab's routed pods; a subnet's length
    /// for pods that reach their neighbours on the bridge directly (the CNI `bridge` layout).
    public var prefixLength: Int
    /// Destinations routed via the gateway (onlink); the default route unless told otherwise.
    public var routes: [IPv4Prefix]
    /// Whether both sides get permanent neighbour entries (pod → gateway, node → pod). Without
    /// them the pod and node resolve each other by ARP, as on a plain bridge whose gateway may
    /// be elsewhere.
    public var permanentNeighbors: Bool
    /// Whether the pod's `lo` is brought up with the interface (the agent's sandboxes). A CNI
    /// runtime brings `lo` up itself (the `loopback` plugin, or its own code), as the reference
    /// plugins leave it to.
    public var loopbackUp: Bool

    /// Only the default route (0.0.0.0/0).
    public static let defaultRoutes = [try! IPv4Prefix(.any, length: 0)]

    /// A pod interface; the pod side is `eth0` unless told otherwise.
    public init(hostInterfaceName: String, podInterfaceName: String = "eth0", address: IPv4Address, gateway: IPv4Address,
                mtu: UInt32? = nil, podMAC: MACAddress? = nil, ipv6LinkLocal: Bool = true, prefixLength: Int = 32,
                routes: [IPv4Prefix] = PodInterfaceConfiguration.defaultRoutes, permanentNeighbors: Bool = true, loopbackUp: Bool = true) {
        self.hostInterfaceName = hostInterfaceName
        self.podInterfaceName = podInterfaceName
        self.address = address
        self.gateway = gateway
        self.mtu = mtu
        self.podMAC = podMAC
        self.ipv6LinkLocal = ipv6LinkLocal
        self.prefixLength = prefixLength
        self.routes = routes
        self.permanentNeighbors = permanentNeighbors
        self.loopbackUp = loopbackUp
    }
}

/// What `setUpPodInterface` made.
public struct PodInterface: Sendable, Equatable, CustomStringConvertible {
    /// The pod's namespace.
    public var podNamespace: String
    /// The node-side veth end.
    public var hostIndex: Int32
    /// Its name.
    public var hostName: String
    /// Its MAC.
    public var hostMAC: MACAddress?
    /// The pod-side veth end.
    public var podIndex: Int32
    /// Its name inside the pod.
    public var podName: String
    /// Its MAC, which the node's permanent entry for the pod points to.
    public var podMAC: MACAddress
    /// The bridge the host end is attached to.
    public var bridgeIndex: Int32
    /// The pod's address (held as /32).
    public var address: IPv4Address
    /// The pod's next hop, the node's address on the bridge.
    public var gateway: IPv4Address
    /// The bridge's MAC, which the pod's permanent gateway entry points to.
    public var gatewayMAC: MACAddress

    /// A record of a pod's interface (for instance one read back from storage, for tear-down).
    public init(podNamespace: String, hostIndex: Int32, hostName: String, hostMAC: MACAddress?, podIndex: Int32, podName: String,
                podMAC: MACAddress, bridgeIndex: Int32, address: IPv4Address, gateway: IPv4Address, gatewayMAC: MACAddress) {
        self.podNamespace = podNamespace
        self.hostIndex = hostIndex
        self.hostName = hostName
        self.hostMAC = hostMAC
        self.podIndex = podIndex
        self.podName = podName
        self.podMAC = podMAC
        self.bridgeIndex = bridgeIndex
        self.address = address
        self.gateway = gateway
        self.gatewayMAC = gatewayMAC
    }

    public var description: String {
        "\(hostName)(#\(hostIndex)) ↔ \(podNamespace)/\(podName)(#\(podIndex)) \(address)/32 \(podMAC) via \(gateway)"
    }

    /// The node's permanent entry for the pod: pod IP → pod MAC on the bridge.
    public var nodeNeighbor: Neighbor { Neighbor(interfaceIndex: bridgeIndex, address: address, mac: podMAC) }
}

extension RouteNetlink {
    /// Connects a pod to the node's bridge. Call it on the node namespace's `RouteNetlink`.
    ///
    /// 1. One `RTM_NEWLINK` in the node creates the veth pair: the host end on the bridge and up,
    ///    the peer born inside the pod's namespace under `podInterfaceName`; one queue per end.
    /// 2. The pod end's index from the host end's echo (`IFLA_LINK`) when the pod's MAC is given;
    ///    otherwise an `RTM_GETLINK` in the pod (its index and the MAC the kernel chose).
    /// 3. One datagram in the pod: `lo` up, the address as /32, (without `ipv6LinkLocal`: IPv6
    ///    address generation off,) the interface up (the peer cannot be brought up at creation:
    ///    ENOTCONN), `default via GATEWAY dev eth0 onlink`, and a permanent neighbour entry
    ///    gateway → bridge MAC.
    /// 4. In the node, a permanent neighbour entry pod IP → pod MAC on the bridge.
    ///
    /// Permanent entries are exempt from the global neighbour-table limit, so no pod or node ever
    /// needs dynamic ARP (see design.md "Kernel limits"). The node must forward (`ip_forward`)
    /// for pods to reach each other.
    ///
    /// If a step fails, the veth pair is deleted again (which also removes everything configured on
    /// the pod end) and the error is rethrown; nothing is left in the node. Settings that do not
    /// live on the veth (`lo` up) stay in the pod's namespace: deleting that namespace after a
    /// failure is the caller's job, as is creating it.
    ///
    /// - Parameters:
    ///   - bridge: the node's bridge, as `link(named:)` returns it. Its MAC is the gateway's and
    ///     must be fixed (`createBridge` fixes it): a bridge that takes its ports' MACs changes
    ///     it when ports come and go, and flushes the permanent entries with it.
    ///   - pod: a `RouteNetlink` bound to the pod's namespace (for instance from
    ///     `RouteNetlink.createNamespace`, which opens it for free while creating the namespace).
    ///   - podNamespace: the pod's namespace, where the peer is created.
    /// - Returns: indices and MACs of what was created.
    public func setUpPodInterface(_ configuration: PodInterfaceConfiguration, bridge: Link, pod: RouteNetlink,
                                  podNamespace: NetworkNamespace) throws -> PodInterface {
        let c = configuration
        guard let gatewayMAC = bridge.mac else {
            throw ValidationError(field: "bridge", value: bridge.name, reason: "has no MAC address to use as the gateway's")
        }
        guard c.address != c.gateway else {
            throw ValidationError(field: "pod address", value: "\(c.address)", reason: "is the gateway's address")
        }
        if let podSide = pod.namespace, podSide != podNamespace.name {
            throw ValidationError(field: "pod netlink", value: podSide, reason: "is bound to another namespace than \"\(podNamespace.name)\"")
        }
        let veth = VethConfiguration(name: c.hostInterfaceName, mtu: c.mtu, masterIndex: bridge.index, up: true,
                                     peer: .init(name: c.podInterfaceName, mtu: c.mtu, mac: c.podMAC), queues: 1)
        // Validate everything that does not depend on the kernel's answers before changing anything.
        _ = try NetlinkRequest.createVeth(veth, peerNamespaceFD: 0)
        _ = try NetlinkRequest.addAddress(InterfaceAddress(interfaceIndex: 1, try IPv4Interface(c.address, length: c.prefixLength)))
        _ = try NetlinkRequest.replaceNeighbor(Neighbor(interfaceIndex: bridge.index, address: c.address, mac: gatewayMAC))

        let host = try createVeth(veth, peerNamespace: podNamespace)
        do {
            // The echoed host end names its peer's index (`IFLA_LINK`, an index in the pod's
            // namespace); with the pod's MAC chosen here too, nothing needs asking the pod.
            let podLink: Link
            if let podMAC = c.podMAC, let peerIndex = host.parentIndex, peerIndex > 0 {
                podLink = Link(index: peerIndex, name: c.podInterfaceName, mac: podMAC)
            } else {
                podLink = try pod.link(named: c.podInterfaceName)
            }
            guard let podMAC = podLink.mac else {
                throw KernelError(operation: "RTM_GETLINK", object: "link \"\(c.podInterfaceName)\"", namespace: pod.namespace,
                                  errno: .invalidArgument, detail: "the pod's interface has no MAC address")
            }
            try pod.perform(batch: try Self.podSideRequests(c, podLink: podLink.reference, index: podLink.index, name: podLink.name,
                                                            gatewayMAC: gatewayMAC))
            let result = PodInterface(podNamespace: podNamespace.name, hostIndex: host.index, hostName: host.name, hostMAC: host.mac,
                                      podIndex: podLink.index, podName: podLink.name, podMAC: podMAC, bridgeIndex: bridge.index,
                                      address: c.address, gateway: c.gateway, gatewayMAC: gatewayMAC)
            if c.permanentNeighbors { try replaceNeighbor(result.nodeNeighbor) }
            return result
        } catch {
            // Deleting one end removes both, and with them the pod end's address, route and neighbour.
            try? deleteLink(.name(c.hostInterfaceName))
            throw error
        }
    }

    /// Removes what `setUpPodInterface` left in the node for these pods, in one datagram: the
    /// node's neighbour entry for each pod, and with `deleteHostLinks` the host veth ends.
    /// Entries that are already gone are not an error.
    ///
    /// Prefer deleting the pod's namespace to `deleteHostLinks`: the kernel then removes the veth
    /// pairs asynchronously and in batches, while each `RTM_DELLINK` waits for an RCU grace period.
    public func removePodInterfaces(_ pods: [PodInterface], deleteHostLinks: Bool = false) throws {
        var requests: [NetlinkRequest] = []
        for pod in pods {
            requests.append(try .deleteNeighbor(pod.nodeNeighbor))
            if deleteHostLinks { requests.append(try .deleteLink(.index(pod.hostIndex, name: pod.hostName))) }
        }
        let gone: Set<Errno> = [.noSuchFileOrDirectory, .noSuchDevice]
        for case let error? in try performIndividually(batch: requests) where !gone.contains(error.errno) {
            throw error
        }
    }
}

/// A veth pair made ahead of a pod (see `SpareNetworkNamespace`): the host end on the node's
/// bridge, down, under a temporary name; the peer inside the spare namespace, down.
public struct SparePodLink: Sendable, Equatable {
    public var hostIndex: Int32
    public var hostName: String
    public var hostMAC: MACAddress?
    public var podIndex: Int32
    public var podName: String
    public var bridgeIndex: Int32
}

extension RouteNetlink {
    /// Makes the veth pair of a future pod: the host end `hostName` on `bridge` (down: a link
    /// can only be renamed while down), the peer `podInterfaceName` inside `spare`, one queue
    /// per end. Call it on the node namespace's `RouteNetlink`. Closing the spare namespace
    /// removes the pair with it.
    public func createSparePodLink(hostName: String, podInterfaceName: String = "eth0", mtu: UInt32?, bridge: Link,
                                   in spare: SpareNetworkNamespace) throws -> SparePodLink {
        let veth = VethConfiguration(name: hostName, mtu: mtu, masterIndex: bridge.index, up: false,
                                     peer: .init(name: podInterfaceName, mtu: mtu), queues: 1)
        let host = try spare.withDescriptor { fd in
            try createLink(try .createVeth(veth, peerNamespaceFD: fd, peerNamespaceName: "spare"), name: hostName)
        }
        do {
            let pod = try RouteNetlink(transport: spare.socket).link(named: podInterfaceName)
            return SparePodLink(hostIndex: host.index, hostName: host.name, hostMAC: host.mac, podIndex: pod.index, podName: pod.name,
                                bridgeIndex: bridge.index)
        } catch {
            try? deleteLink(.index(host.index, name: hostName))
            throw error
        }
    }

    /// Finishes a pod's interface on a pair made ahead (`createSparePodLink`), once the spare
    /// namespace is the pod's: in the pod, one datagram sets the MAC (still down), `lo` up, the
    /// address as /32, IPv6 address generation (see `ipv6LinkLocal`), the interface up, the
    /// default route and the gateway's permanent entry; in the node, one datagram renames the
    /// host end to `hostInterfaceName` and brings it up, and adds the pod's permanent entry.
    /// Call it on the node namespace's `RouteNetlink`; `pod` is the spare's socket.
    public func attachPodInterface(_ configuration: PodInterfaceConfiguration, spare link: SparePodLink, bridge: Link,
                                   pod: RouteNetlink, podNamespace: NetworkNamespace) throws -> PodInterface {
        let c = configuration
        guard let gatewayMAC = bridge.mac else {
            throw ValidationError(field: "bridge", value: bridge.name, reason: "has no MAC address to use as the gateway's")
        }
        guard let podMAC = c.podMAC else {
            throw ValidationError(field: "pod mac", value: "", reason: "a pair made ahead needs the pod's MAC address")
        }
        guard link.bridgeIndex == bridge.index else {
            throw ValidationError(field: "spare link", value: link.hostName, reason: "is on another bridge than \(bridge.name)")
        }
        let podRef = LinkReference.index(link.podIndex, name: link.podName)
        let podBatch = try [.setLink(podRef, LinkChanges(mac: podMAC))]
            + Self.podSideRequests(c, podLink: podRef, index: link.podIndex, name: link.podName, gatewayMAC: gatewayMAC)
        let result = PodInterface(podNamespace: podNamespace.name, hostIndex: link.hostIndex, hostName: c.hostInterfaceName, hostMAC: link.hostMAC,
                                  podIndex: link.podIndex, podName: link.podName, podMAC: podMAC, bridgeIndex: bridge.index,
                                  address: c.address, gateway: c.gateway, gatewayMAC: gatewayMAC)
        // Renaming needs the link down; the kernel applies the name before the flags.
        let nodeBatch: [NetlinkRequest] = try [
            .setLink(.index(link.hostIndex, name: link.hostName), LinkChanges(up: true, name: c.hostInterfaceName)),
            .replaceNeighbor(result.nodeNeighbor),
        ]
        do {
            try pod.perform(batch: podBatch)
            try perform(batch: nodeBatch)
            return result
        } catch {
            // By index: whether or not the rename went through. Deleting one end removes both.
            try? deleteLink(.index(link.hostIndex, name: c.hostInterfaceName))
            throw error
        }
    }
}

extension RouteNetlink {
    /// The pod side of a pod interface, in order: `lo` up, the address as /32, (without
    /// `ipv6LinkLocal`: IPv6 address generation off — before `up`, when the link-local address
    /// would be made,) the interface up, the default route via the gateway (onlink) and the
    /// gateway's permanent neighbour entry.
    static func podSideRequests(_ c: PodInterfaceConfiguration, podLink: LinkReference, index: Int32, name: String,
                                gatewayMAC: MACAddress) throws -> [NetlinkRequest] {
        var batch: [NetlinkRequest] = []
        if c.loopbackUp { batch.append(try .setLink(.name("lo"), LinkChanges(up: true))) }
        batch.append(try .addAddress(InterfaceAddress(interfaceIndex: index, try IPv4Interface(c.address, length: c.prefixLength)), interfaceName: name))
        if !c.ipv6LinkLocal { batch.append(try .setLink(podLink, LinkChanges(ipv6AddressGeneration: IPv6AddressGeneration.none))) }
        batch.append(try .setLink(podLink, LinkChanges(up: true)))
        for destination in c.routes {
            batch.append(try .addRoute(Route(destination: destination.length == 0 ? nil : destination, gateway: c.gateway, outputIndex: index, onlink: true)))
        }
        if c.permanentNeighbors {
            batch.append(try .replaceNeighbor(Neighbor(interfaceIndex: index, address: c.gateway, mac: gatewayMAC)))
        }
        return batch
    }
}
