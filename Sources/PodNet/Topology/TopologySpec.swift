/// How pod traffic crosses between nodes.
public enum RoutingMode: String, Hashable, Sendable, Codable, CaseIterable {
    /// Each node routes every peer's pod CIDR via the peer's underlay address.
    case hostGateway = "host-gw"
    /// Each node has a VXLAN device; peers are reached through FDB and neighbour entries.
    case vxlan
}

/// One node as a topology file lists it.
public struct TopologyNode: JSONObjectCodable, Hashable {
    /// The node name (an RFC 1123 label, unique in the lab).
    public var name: String
    /// The node's pod CIDR; derived from the cluster CIDR when not given.
    public var podCIDR: String?

    public init(name: String, podCIDR: String? = nil) {
        self.name = name
        self.podCIDR = podCIDR
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        name = try reader.string("name") ?? ""
        podCIDR = try reader.string("podCIDR")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("name", .string(name))
        writer.set("podCIDR", omittingNil: podCIDR)
    }
}

/// A lab topology file (`topologies/*.yaml`), as written: every field optional except the
/// nodes. `plan()` checks it and derives the addresses and names of everything.
///
/// ```yaml
/// name: podlab            # ≤ 12 of [a-z0-9-]; namespaces are <name>-u, <name>-n1, ...
/// routing: host-gw        # or vxlan
/// clusterCIDR: 10.244.0.0/16
/// nodeCIDRLength: 24
/// serviceCIDR: 10.96.0.0/16
/// underlayCIDR: 192.168.200.0/24
/// mtu: 1500
/// nodes:                  # or nodeCount: 2 (nodes n1, n2, ...)
/// - name: n1
/// - name: n2
///   podCIDR: 10.244.2.0/24
/// pods: []                # Pod manifests created by `podlab up`
/// ```
public struct TopologySpec: JSONObjectCodable, Hashable {
    /// Lab name, default `podlab`.
    public var name: String?
    /// The nodes, in order (node i gets subnet i of the cluster CIDR and underlay host 10+i).
    public var nodes: [TopologyNode]?
    /// Instead of `nodes`: that many nodes named `n1`, `n2`, ...
    public var nodeCount: Int64?
    /// `host-gw` (default) or `vxlan`.
    public var routing: String?
    /// All pod addresses, default `10.244.0.0/16`.
    public var clusterCIDR: String?
    /// Prefix length of each node's pod CIDR, default 24.
    public var nodeCIDRLength: Int64?
    /// Service (ClusterIP) addresses, default `10.96.0.0/16`.
    public var serviceCIDR: String?
    /// The network linking the nodes, default `192.168.200.0/24`.
    public var underlayCIDR: String?
    /// Link MTU, default 1500.
    public var mtu: Int64?
    /// VXLAN network identifier for `routing: vxlan`, default 1.
    public var vxlanID: Int64?
    /// Pod manifests to create when the lab comes up.
    public var pods: [Pod]

    public static let defaultName = "podlab"
    public static let defaultRouting = RoutingMode.hostGateway
    public static let defaultClusterCIDR = "10.244.0.0/16"
    public static let defaultNodeCIDRLength = 24
    public static let defaultServiceCIDR = "10.96.0.0/16"
    public static let defaultUnderlayCIDR = "192.168.200.0/24"
    public static let defaultMTU = 1500
    /// flannel's VNI, used when `routing: vxlan` gives no `vxlanID`.
    public static let defaultVXLANID = 1

    /// A topology from values; `nil` fields take their defaults in `plan()`.
    public init(name: String? = nil, nodes: [TopologyNode]? = nil, nodeCount: Int64? = nil, routing: String? = nil,
                clusterCIDR: String? = nil, nodeCIDRLength: Int64? = nil, serviceCIDR: String? = nil, underlayCIDR: String? = nil,
                mtu: Int64? = nil, vxlanID: Int64? = nil, pods: [Pod] = []) {
        self.name = name
        self.nodes = nodes
        self.nodeCount = nodeCount
        self.routing = routing
        self.clusterCIDR = clusterCIDR
        self.nodeCIDRLength = nodeCIDRLength
        self.serviceCIDR = serviceCIDR
        self.underlayCIDR = underlayCIDR
        self.mtu = mtu
        self.vxlanID = vxlanID
        self.pods = pods
    }

    /// Reads a topology file; unknown fields are rejected, naming them (`nodes[0].nmae`).
    public init(yaml text: String) throws(TopologyError) {
        let value: JSONValue
        do { value = try YAMLReader.value(from: text) } catch { throw .syntax(error) }
        do { self = try TopologySpec(json: value) } catch { throw .decoding(error) }
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        name = try reader.string("name")
        nodes = reader.contains("nodes") ? try reader.objects("nodes") : nil
        nodeCount = try reader.int64("nodeCount")
        routing = try reader.string("routing")
        clusterCIDR = try reader.string("clusterCIDR")
        nodeCIDRLength = try reader.int64("nodeCIDRLength")
        serviceCIDR = try reader.string("serviceCIDR")
        underlayCIDR = try reader.string("underlayCIDR")
        mtu = try reader.int64("mtu")
        vxlanID = try reader.int64("vxlanID")
        pods = try reader.objects("pods")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("name", omittingNil: name)
        if let nodes { writer.set("nodes", .array(nodes.map(\.json))) }
        writer.set("nodeCount", omittingNil: nodeCount)
        writer.set("routing", omittingNil: routing)
        writer.set("clusterCIDR", omittingNil: clusterCIDR)
        writer.set("nodeCIDRLength", omittingNil: nodeCIDRLength)
        writer.set("serviceCIDR", omittingNil: serviceCIDR)
        writer.set("underlayCIDR", omittingNil: underlayCIDR)
        writer.set("mtu", omittingNil: mtu)
        writer.set("vxlanID", omittingNil: vxlanID)
        writer.set("pods", omittingEmpty: pods)
    }
}
