/// A slice of a service's endpoints (`apiVersion: discovery.k8s.io/v1`, `kind: EndpointSlice`),
/// kept by the agent from the pods the service selects and their readiness, as the
/// EndpointSlice controller does. The dataplane and DNS read these, not pods.
public struct EndpointSlice: KubernetesObject, Hashable {
    public static let kind = "EndpointSlice"
    public static let apiVersion = "discovery.k8s.io/v1"
    public static let group = "discovery.k8s.io"

    /// The label naming the owning service.
    public static let serviceNameLabel = "kubernetes.io/service-name"
    public static let managedByLabel = "endpointslice.kubernetes.io/managed-by"
    public static let managedBy = "endpointslice-controller.k8s.io"

    public var metadata: ObjectMeta
    /// `IPv4` (podlab's pods have IPv4 addresses only).
    public var addressType: String
    public var endpoints: [Endpoint]
    /// The ports the endpoints serve: one per service port, with the target port resolved.
    public var ports: [EndpointPort]

    public init(metadata: ObjectMeta = ObjectMeta(), addressType: String = "IPv4", endpoints: [Endpoint] = [], ports: [EndpointPort] = []) {
        self.metadata = metadata
        self.addressType = addressType
        self.endpoints = endpoints
        self.ports = ports
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        try reader.typeInformation(of: EndpointSlice.self)
        metadata = try reader.object("metadata") ?? ObjectMeta()
        addressType = try reader.string("addressType") ?? ""
        endpoints = try reader.objects("endpoints")
        ports = try reader.objects("ports")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.setTypeInformation(of: EndpointSlice.self)
        writer.set("metadata", metadata.json)
        writer.set("addressType", .string(addressType))
        // `endpoints: null` when empty, as the API server writes it.
        writer.set("endpoints", endpoints.isEmpty ? .null : .array(endpoints.map(\.json)))
        writer.set("ports", ports.isEmpty ? .null : .array(ports.map(\.json)))
    }

    /// The service this slice belongs to.
    public var serviceName: String { metadata.labels[EndpointSlice.serviceNameLabel] ?? "" }
}

/// One endpoint (a pod) of a slice.
public struct Endpoint: JSONObjectCodable, Hashable {
    public var addresses: [String]
    public var ready: Bool
    public var serving: Bool
    public var terminating: Bool
    public var nodeName: String
    /// The pod: kind, namespace, name, uid.
    public var targetRef: ObjectReference?

    public init(addresses: [String], ready: Bool, serving: Bool, terminating: Bool, nodeName: String = "", targetRef: ObjectReference? = nil) {
        self.addresses = addresses
        self.ready = ready
        self.serving = serving
        self.terminating = terminating
        self.nodeName = nodeName
        self.targetRef = targetRef
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        addresses = try reader.stringArray("addresses") ?? []
        let conditions = try reader.object("conditions", as: Conditions.self) ?? Conditions()
        ready = conditions.ready ?? false
        serving = conditions.serving ?? false
        terminating = conditions.terminating ?? false
        nodeName = try reader.string("nodeName") ?? ""
        targetRef = try reader.object("targetRef")
        _ = reader.preservedFields(["hostname", "zone", "hints", "deprecatedTopology"])
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("addresses", .array(addresses.map(JSONValue.string)))
        writer.set("conditions", .object(["ready": .bool(ready), "serving": .bool(serving), "terminating": .bool(terminating)]))
        writer.set("nodeName", omittingEmpty: nodeName)
        writer.set("targetRef", omittingNil: targetRef)
    }

    struct Conditions: JSONObjectCodable {
        var ready: Bool?
        var serving: Bool?
        var terminating: Bool?
        init() {}
        init(from reader: ObjectReader) throws(ObjectDecodingError) {
            ready = try reader.bool("ready")
            serving = try reader.bool("serving")
            terminating = try reader.bool("terminating")
            _ = reader.preservedFields([])
        }
        func write(to writer: inout ObjectWriter) {}
    }
}

/// A port of an EndpointSlice (or of a `v1 Endpoints` subset).
public struct EndpointPort: JSONObjectCodable, Hashable {
    public var name: String
    public var `protocol`: PortProtocol
    public var port: Int32

    public init(name: String, protocol: PortProtocol, port: Int32) {
        self.name = name
        self.protocol = `protocol`
        self.port = port
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        name = try reader.string("name") ?? ""
        `protocol` = try reader.enumeration("protocol") ?? .tcp
        port = try reader.int32("port") ?? 0
        _ = reader.preservedFields(["appProtocol"])
    }

    public func write(to writer: inout ObjectWriter) {
        // An unnamed port is written with `name: ""`, as the API server does for slices.
        writer.set("name", .string(name))
        writer.set("protocol", .string(`protocol`.rawValue))
        writer.set("port", .integer(Int64(port)))
    }
}

/// The older view of a service's endpoints (`v1 Endpoints`), derived from its slices, for
/// `get endpoints`: ready addresses, not-ready addresses, ports.
public struct Endpoints: KubernetesObject, Hashable {
    public static let kind = "Endpoints"
    public static let apiVersion = "v1"

    public var metadata: ObjectMeta
    public var subsets: [EndpointSubset]

    public init(metadata: ObjectMeta = ObjectMeta(), subsets: [EndpointSubset] = []) {
        self.metadata = metadata
        self.subsets = subsets
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        try reader.typeInformation(of: Endpoints.self)
        metadata = try reader.object("metadata") ?? ObjectMeta()
        subsets = try reader.objects("subsets")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.setTypeInformation(of: Endpoints.self)
        writer.set("metadata", metadata.json)
        writer.set("subsets", omittingEmpty: subsets)
    }
}

/// A set of addresses that serve the same ports.
public struct EndpointSubset: JSONObjectCodable, Hashable {
    public struct Address: JSONObjectCodable, Hashable {
        public var ip: String
        public var nodeName: String
        public var targetRef: ObjectReference?

        public init(ip: String, nodeName: String, targetRef: ObjectReference?) {
            self.ip = ip
            self.nodeName = nodeName
            self.targetRef = targetRef
        }

        public init(from reader: ObjectReader) throws(ObjectDecodingError) {
            ip = try reader.string("ip") ?? ""
            nodeName = try reader.string("nodeName") ?? ""
            targetRef = try reader.object("targetRef")
            _ = reader.preservedFields(["hostname"])
        }

        public func write(to writer: inout ObjectWriter) {
            writer.set("ip", .string(ip))
            writer.set("nodeName", omittingEmpty: nodeName)
            writer.set("targetRef", omittingNil: targetRef)
        }
    }

    public var addresses: [Address]
    public var notReadyAddresses: [Address]
    public var ports: [EndpointPort]

    public init(addresses: [Address], notReadyAddresses: [Address], ports: [EndpointPort]) {
        self.addresses = addresses
        self.notReadyAddresses = notReadyAddresses
        self.ports = ports
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        addresses = try reader.objects("addresses")
        notReadyAddresses = try reader.objects("notReadyAddresses")
        ports = try reader.objects("ports")
        _ = reader.preservedFields([])
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("addresses", omittingEmpty: addresses)
        writer.set("notReadyAddresses", omittingEmpty: notReadyAddresses)
        writer.set("ports", omittingEmpty: ports)
    }
}
