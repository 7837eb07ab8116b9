/// The objects the DNS server follows (services, endpoint slices, pods), as the agent's list and
/// watch answers give them, reduced to what names need.
struct ClusterDNSState: Sendable, Equatable {
    /// The kinds the server watches, with their list paths on the agent's API.
    enum Kind: String, CaseIterable, Sendable {
        case services, endpointSlices, pods

        var path: String {
            switch self {
            case .services: "/api/v1/services"
            case .endpointSlices: "/apis/discovery.k8s.io/v1/endpointslices"
            case .pods: "/api/v1/pods"
            }
        }
    }

    struct Slice: Sendable, Equatable {
        var namespace: String
        var serviceName: String
        var endpoints: [ClusterDNSData.Endpoint]
    }

    private(set) var services: [String: ClusterDNSData.Service] = [:]
    private(set) var slices: [String: Slice] = [:]
    private(set) var pods: [String: ClusterDNSData.Pod] = [:]
    /// The keys of each Service's slices (`namespace/serviceName` → slice keys).
    private var slicesByService: [String: Set<String>] = [:]
    /// Since the last `takeChanges()`: the Services whose names may have changed (the Service or
    /// one of its slices did), and the pods.
    private var changedServices: Set<String> = []
    private var changedPods: Set<String> = []

    /// The key of an object: `namespace/name`; nil when the object has no name.
    static func key(_ object: MiniJSON) -> String? {
        guard let name = object["metadata"]?["name"]?.string, !name.isEmpty else { return nil }
        return (object["metadata"]?["namespace"]?.string ?? "") + "/" + name
    }

    /// Replaces every object of `kind` with the items of a list answer (what is unchanged stays
    /// unchanged: a relist after a reconnect changes no name that did not change).
    mutating func replace(_ kind: Kind, items: [MiniJSON]) {
        var listed = ClusterDNSState()
        for item in items { listed.apply(kind, type: "ADDED", object: item) }
        switch kind {
        case .services:
            for key in Set(services.keys).union(listed.services.keys) { set(service: key, listed.services[key]) }
        case .endpointSlices:
            for key in Set(slices.keys).union(listed.slices.keys) { set(slice: key, listed.slices[key]) }
        case .pods:
            for key in Set(pods.keys).union(listed.pods.keys) { set(pod: key, listed.pods[key]) }
        }
    }

    /// Applies one watch event (`ADDED`, `MODIFIED`, `DELETED`).
    mutating func apply(_ kind: Kind, type: String, object: MiniJSON) {
        guard let key = ClusterDNSState.key(object) else { return }
        let namespace = object["metadata"]?["namespace"]?.string ?? ""
        let name = object["metadata"]?["name"]?.string ?? ""
        let deleted = type == "DELETED"
        switch kind {
        case .services:
            if deleted { set(service: key, nil); return }
            let clusterIP = object["spec"]?["clusterIP"]?.string
            set(service: key, ClusterDNSData.Service(
                namespace: namespace, name: name,
                clusterIP: clusterIP == nil || clusterIP == "None" || clusterIP == "" ? nil : clusterIP,
                ports: ClusterDNSState.ports(object["spec"]?["ports"]), endpoints: []))
        case .endpointSlices:
            guard !deleted, let serviceName = object["metadata"]?["labels"]?["kubernetes.io/service-name"]?.string else {
                set(slice: key, nil)
                return
            }
            let ports = ClusterDNSState.ports(object["ports"])
            var endpoints: [ClusterDNSData.Endpoint] = []
            for endpoint in object["endpoints"]?.array ?? [] {
                // Kubernetes: a missing `ready` condition means ready.
                let ready = endpoint["conditions"]?["ready"]?.bool ?? true
                let hostname = endpoint["hostname"]?.string
                for address in endpoint["addresses"]?.array ?? [] {
                    if let ip = address.string { endpoints.append(.init(ip: ip, hostname: hostname, ready: ready, ports: ports)) }
                }
            }
            set(slice: key, Slice(namespace: namespace, serviceName: serviceName, endpoints: endpoints))
        case .pods:
            // A pod has a name while it has an address: finished pods give theirs back.
            let phase = object["status"]?["phase"]?.string ?? ""
            guard !deleted, let ip = object["status"]?["podIP"]?.string, !ip.isEmpty, phase != "Succeeded", phase != "Failed" else {
                set(pod: key, nil)
                return
            }
            set(pod: key, ClusterDNSData.Pod(namespace: namespace, name: name, ip: ip))
        }
    }

    private mutating func set(service key: String, _ service: ClusterDNSData.Service?) {
        guard services[key] != service else { return }
        services[key] = service
        changedServices.insert(key)
    }

    private mutating func set(slice key: String, _ slice: Slice?) {
        let old = slices[key]
        guard old != slice else { return }
        slices[key] = slice
        if let old {
            let service = old.namespace + "/" + old.serviceName
            slicesByService[service]?.remove(key)
            if slicesByService[service]?.isEmpty == true { slicesByService[service] = nil }
            changedServices.insert(service)
        }
        if let slice {
            let service = slice.namespace + "/" + slice.serviceName
            slicesByService[service, default: []].insert(key)
            changedServices.insert(service)
        }
    }

    private mutating func set(pod key: String, _ pod: ClusterDNSData.Pod?) {
        guard pods[key] != pod else { return }
        pods[key] = pod
        changedPods.insert(key)
    }

    /// What changed since the last call: the keys of the Services and pods to look at again.
    mutating func takeChanges() -> (services: Set<String>, pods: Set<String>) {
        defer {
            changedServices = []
            changedPods = []
        }
        return (changedServices, changedPods)
    }

    /// One Service with the endpoints of its slices (in slice key order); nil when there is no
    /// such Service (slices may name one that does not exist).
    func service(_ key: String) -> ClusterDNSData.Service? {
        guard var service = services[key] else { return nil }
        service.endpoints = (slicesByService[key] ?? []).sorted().flatMap { slices[$0]!.endpoints }
        return service
    }

    static func ports(_ list: MiniJSON?) -> [ClusterDNSData.Port] {
        (list?.array ?? []).compactMap { port in
            guard let number = port["port"]?.number, number > 0, number <= 65535 else { return nil }
            return ClusterDNSData.Port(name: port["name"]?.string ?? "", proto: port["protocol"]?.string ?? "TCP", port: UInt16(number))
        }
    }

    /// The joined view: each service with the endpoints of its slices; in a stable order, so
    /// the same state gives the same zone.
    var data: ClusterDNSData {
        var endpointsByService: [String: [ClusterDNSData.Endpoint]] = [:]
        for key in slices.keys.sorted() {
            let slice = slices[key]!
            endpointsByService[slice.namespace + "/" + slice.serviceName, default: []] += slice.endpoints
        }
        var data = ClusterDNSData()
        for key in services.keys.sorted() {
            var service = services[key]!
            service.endpoints = endpointsByService[key] ?? []
            data.services.append(service)
        }
        data.pods = pods.keys.sorted().map { pods[$0]! }
        return data
    }
}

/// A small, strict JSON reader for the agent's answers (the images' programs use no
/// Foundation). Numbers are kept as Double; depth is bounded.
enum MiniJSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([MiniJSON])
    case object([String: MiniJSON])

    subscript(key: String) -> MiniJSON? {
        if case let .object(fields) = self { return fields[key] }
        return nil
    }

    var string: String? { if case let .string(value) = self { value } else { nil } }
    var bool: Bool? { if case let .bool(value) = self { value } else { nil } }
    var array: [MiniJSON]? { if case let .array(value) = self { value } else { nil } }
    var number: Int? {
        if case let .number(value) = self, value.rounded() == value, abs(value) < 1e15 { return Int(value) }
        return nil
    }

    struct ParseError: Error, CustomStringConvertible {
        var offset: Int
        var reason: String
        var description: String { "invalid JSON at byte \(offset): \(reason)" }
    }

    static func parse<Bytes: Collection<UInt8>>(_ bytes: Bytes) throws(ParseError) -> MiniJSON {
        var reader = Reader(bytes: Array(bytes))
        reader.skipSpace()
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.index == reader.bytes.count else { throw ParseError(offset: reader.index, reason: "trailing bytes") }
        return value
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        func fail(_ reason: String) -> ParseError { ParseError(offset: index, reason: reason) }

        mutating func expect(_ literal: String) throws(ParseError) {
            for byte in literal.utf8 {
                guard index < bytes.count, bytes[index] == byte else { throw fail("expected \(literal)") }
                index += 1
            }
        }

        mutating func value(depth: Int) throws(ParseError) -> MiniJSON {
            guard depth < 128 else { throw fail("nested too deep") }
            guard index < bytes.count else { throw fail("unexpected end") }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                var fields: [String: MiniJSON] = [:]
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(fields) }
                while true {
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                    let key = try string()
                    skipSpace()
                    try expect(":")
                    skipSpace()
                    fields[key] = try value(depth: depth + 1)
                    skipSpace()
                    guard index < bytes.count else { throw fail("unexpected end") }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(fields) }
                    throw fail("expected , or }")
                }
            case UInt8(ascii: "["):
                index += 1
                var items: [MiniJSON] = []
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard index < bytes.count else { throw fail("unexpected end") }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
                    throw fail("expected , or ]")
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"):
                try expect("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try expect("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try expect("null")
                return .null
            default:
                let start = index
                while index < bytes.count, "+-0123456789.eE".utf8.contains(bytes[index]) { index += 1 }
                guard index > start, let number = Double(String(decoding: bytes[start..<index], as: UTF8.self)) else {
                    throw fail("unexpected character")
                }
                return .number(number)
            }
        }

        mutating func hex4() throws(ParseError) -> UInt32 {
            guard index + 4 <= bytes.count, let value = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16) else {
                throw fail("bad \\u escape")
            }
            index += 4
            return value
        }

        mutating func string() throws(ParseError) -> String {
            index += 1  // the opening quote
            var run = index
            var text = ""
            while true {
                guard index < bytes.count else { throw fail("unterminated string") }
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    text += String(decoding: bytes[run..<index], as: UTF8.self)
                    index += 1
                    return text
                }
                guard byte >= 0x20 else { throw fail("control character in string") }
                guard byte == UInt8(ascii: "\\") else { index += 1; continue }
                text += String(decoding: bytes[run..<index], as: UTF8.self)
                index += 1
                guard index < bytes.count else { throw fail("unterminated escape") }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "\""): text += "\""
                case UInt8(ascii: "\\"): text += "\\"
                case UInt8(ascii: "/"): text += "/"
                case UInt8(ascii: "b"): text += "\u{8}"
                case UInt8(ascii: "f"): text += "\u{C}"
                case UInt8(ascii: "n"): text += "\n"
                case UInt8(ascii: "r"): text += "\r"
                case UInt8(ascii: "t"): text += "\t"
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code), index + 2 <= bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw fail("bad surrogate pair") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    text.unicodeScalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
                default:
                    throw fail("bad escape")
                }
                run = index
            }
        }
    }
}
