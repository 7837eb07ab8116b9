import HashTreeCollections

/// What the cluster DNS serves, taken from the agent's services, endpoint slices and pods: plain
/// values, so the zone is computed and tested without a server.
struct ClusterDNSData: Sendable, Equatable {
    struct Port: Sendable, Equatable, Hashable {
        var name: String
        /// `TCP`, `UDP` or `SCTP`, as Kubernetes spells it.
        var proto: String
        var port: UInt16
    }

    struct Endpoint: Sendable, Equatable {
        var ip: String
        /// The endpoint's `hostname` (a pod with `spec.hostname` and `spec.subdomain`).
        var hostname: String?
        var ready: Bool
        /// The endpoint slice's ports (the pods' ports, named as the service names them).
        var ports: [Port]
    }

    struct Service: Sendable, Equatable {
        var namespace: String
        var name: String
        /// The ClusterIP; nil for a headless service (`clusterIP: None`).
        var clusterIP: String?
        var ports: [Port]
        var endpoints: [Endpoint]
    }

    struct Pod: Sendable, Equatable {
        var namespace: String
        var name: String
        var ip: String
    }

    /// A fixed name and address (`podlab-dns --hosts FILE`, the benchmark's names).
    struct Host: Sendable, Equatable {
        var name: String
        var ip: String
    }

    var services: [Service] = []
    var pods: [Pod] = []
    var hosts: [Host] = []
}

/// One precomputed answer: the sections after the question, ready to copy into a message.
/// Owners in the answer section are a pointer to the question's name (offset 12), so the
/// answer repeats the name as the client spelled it.
struct DNSAnswer: Sendable, Equatable {
    var rcode: UInt16
    var authoritative = true
    var answer: [UInt8] = []
    var answerCount: UInt16 = 0
    var authority: [UInt8] = []
    var authorityCount: UInt16 = 0
    var additional: [UInt8] = []
    var additionalCount: UInt16 = 0

    /// Names outside the served zones: this server forwards nothing (it never sends a packet
    /// out of the lab), so it refuses, as an authoritative-only server does.
    static let refused = DNSAnswer(rcode: DNSRcode.refused, authoritative: false)
}

/// The cluster's names, answered from a map built once per change: `cluster.local` (services,
/// endpoints, pods) and `in-addr.arpa` (PTR for service and pod addresses). A lookup is one
/// hash of the name and one of the type.
final class DNSZone: Sendable {
    /// Time to live of every record and of negative answers: CoreDNS's default for the
    /// kubernetes plugin, so clients see changes within seconds.
    static let ttl: UInt32 = 5

    static let reverseZone = DNSNameKey("in-addr.arpa")!

    let domain: DNSNameKey
    let reverseZone: DNSNameKey
    /// Every name that exists, with its answers by type (and `ANY`); names holding no record
    /// (`svc.cluster.local`, a namespace's `ns.svc.cluster.local`) map to an empty dictionary,
    /// so they answer NODATA, not NXDOMAIN.
    let names: TreeDictionary<DNSNameKey, [UInt16: DNSAnswer]>
    private let forwardNoData: DNSAnswer, forwardNameError: DNSAnswer
    private let reverseNoData: DNSAnswer, reverseNameError: DNSAnswer
    let serial: UInt32

    /// The answer for `name` and `type` (class IN).
    func answer(name: DNSNameKey, type: UInt16) -> DNSAnswer {
        let forward = name.isWithin(domain)
        guard forward || name.isWithin(reverseZone) else { return .refused }
        if let records = names[name] {
            if let answer = records[type] { return answer }
            return forward ? forwardNoData : reverseNoData
        }
        return forward ? forwardNameError : reverseNameError
    }

    /// The zone for `data`. `serial` numbers the version (the SOA's serial).
    convenience init(_ data: ClusterDNSData, domain domainText: String = "cluster.local", serial: UInt32 = 1) {
        let domain = DNSNameKey(domainText) ?? DNSNameKey("cluster.local")!
        let reverseZone = DNSZone.reverseZone
        var builder = DNSZoneBuilder(domain: domain)
        builder.add(data)
        builder.addRecord(owner: domain, type: DNSType.soa, rdata: builder.soaData(serial: serial))
        builder.addRecord(owner: reverseZone, type: DNSType.soa, rdata: builder.soaData(serial: serial))
        self.init(names: builder.answers(), domain: domain, serial: serial)
    }

    /// A zone of names laid out elsewhere (`DNSZoneIndex`, which keeps them up to date with
    /// SOA records of this `serial`).
    init(names: TreeDictionary<DNSNameKey, [UInt16: DNSAnswer]>, domain: DNSNameKey, serial: UInt32) {
        let builder = DNSZoneBuilder(domain: domain)
        self.domain = domain
        self.reverseZone = DNSZone.reverseZone
        self.serial = serial
        self.names = names
        let forwardSOA = builder.soaRecord(owner: domain, serial: serial)
        let reverseSOA = builder.soaRecord(owner: reverseZone, serial: serial)
        forwardNoData = DNSAnswer(rcode: DNSRcode.noError, authority: forwardSOA, authorityCount: 1)
        forwardNameError = DNSAnswer(rcode: DNSRcode.nameError, authority: forwardSOA, authorityCount: 1)
        reverseNoData = DNSAnswer(rcode: DNSRcode.noError, authority: reverseSOA, authorityCount: 1)
        reverseNameError = DNSAnswer(rcode: DNSRcode.nameError, authority: reverseSOA, authorityCount: 1)
    }
}

/// Collects records by owner and type, then lays each (name, type) out as wire bytes.
struct DNSZoneBuilder {
    struct Record: Equatable {
        var rdata: [UInt8]
        /// Records for the additional section (an SRV target's address).
        var additional: [(owner: DNSNameKey, type: UInt16, rdata: [UInt8])]

        static func == (a: Record, b: Record) -> Bool {
            a.rdata == b.rdata && a.additional.count == b.additional.count
                && zip(a.additional, b.additional).allSatisfy { $0.owner == $1.owner && $0.type == $1.type && $0.rdata == $1.rdata }
        }
    }

    let domain: DNSNameKey
    private(set) var records: [DNSNameKey: [UInt16: [Record]]] = [:]

    init(domain: DNSNameKey) { self.domain = domain }

    /// `labels` under the zone's domain, built as wire bytes directly (this runs for every
    /// name of every rebuild); nil when a label is empty or too long, or the name too long.
    func name(_ labels: [String]) -> DNSNameKey? {
        var wire: [UInt8] = []
        wire.reserveCapacity(64)
        for label in labels {
            let count = label.utf8.count
            guard count > 0, count <= DNSLimit.maximumLabelLength else { return nil }
            wire.append(UInt8(count))
            wire.append(contentsOf: label.utf8)
        }
        wire.append(contentsOf: domain.bytes)
        guard wire.count <= DNSLimit.maximumNameLength else { return nil }
        return DNSNameKey(wire: DNSName.lowercased(wire))
    }

    /// Adds a record and makes every ancestor up to the zone's apex exist (empty non-terminals).
    mutating func addRecord(owner: DNSNameKey, type: UInt16, rdata: [UInt8], additional: [(owner: DNSNameKey, type: UInt16, rdata: [UInt8])] = []) {
        let record = Record(rdata: rdata, additional: additional)
        if records[owner] == nil {
            addEmpty(owner)
            // A name outside the served zones is not kept.
            if records[owner] == nil { return }
        }
        // In place: a copy taken out and stored back would copy the list on every append.
        if records[owner]![type, default: []].contains(record) { return }
        records[owner]![type, default: []].append(record)
    }

    mutating func add(_ data: ClusterDNSData) {
        // Roughly: a service's name, its PTR and SRV names, a pod's name and PTR.
        records.reserveCapacity(data.services.count * 4 + data.pods.count * 2 + data.hosts.count * 2 + 64)
        for service in data.services { add(service) }
        for host in data.hosts {
            // Only names of the zone: the server answers nothing else.
            guard let address = IPv4Bytes(host.ip), let owner = DNSNameKey(host.name), owner.isWithin(domain) else { continue }
            addRecord(owner: owner, type: DNSType.a, rdata: address.bytes)
            if let reverse = reverseName(address), records[reverse]?[DNSType.ptr] == nil {
                addRecord(owner: reverse, type: DNSType.ptr, rdata: owner.bytes)
            }
        }
        for pod in data.pods {
            guard let address = IPv4Bytes(pod.ip), let owner = name([dashed(address), pod.namespace, "pod"]) else { continue }
            addRecord(owner: owner, type: DNSType.a, rdata: address.bytes)
            // A pod's own address points back at its pod name, unless a service already named
            // it (services' PTRs are added first and win).
            if let reverse = reverseName(address), records[reverse]?[DNSType.ptr] == nil {
                addRecord(owner: reverse, type: DNSType.ptr, rdata: owner.bytes)
            }
        }
    }

    mutating func add(_ service: ClusterDNSData.Service) {
        guard let serviceName = name([service.name, service.namespace, "svc"]) else { return }
        if let clusterIP = service.clusterIP, let address = IPv4Bytes(clusterIP) {
            addRecord(owner: serviceName, type: DNSType.a, rdata: address.bytes)
            if let reverse = reverseName(address) { addRecord(owner: reverse, type: DNSType.ptr, rdata: serviceName.bytes) }
            for port in service.ports where !port.name.isEmpty {
                guard let srvName = name(["_" + port.name, "_" + port.proto.lowercased(), service.name, service.namespace, "svc"]) else { continue }
                addRecord(owner: srvName, type: DNSType.srv, rdata: srvData(weight: 100, port: port.port, target: serviceName),
                          additional: [(serviceName, DNSType.a, address.bytes)])
            }
            return
        }
        // Headless: the name holds every ready endpoint; each endpoint has a name of its own
        // (its hostname, else its dashed address) for SRV targets and PTR.
        let ready = service.endpoints.filter(\.ready)
        addEmpty(serviceName)
        var targets: [(endpoint: ClusterDNSData.Endpoint, name: DNSNameKey, address: IPv4Bytes)] = []
        for endpoint in ready.sorted(by: { ($0.hostname ?? $0.ip, $0.ip) < ($1.hostname ?? $1.ip, $1.ip) }) {
            guard let address = IPv4Bytes(endpoint.ip) else { continue }
            let label = endpoint.hostname.flatMap { $0.isEmpty ? nil : $0 } ?? dashed(address)
            guard let endpointName = name([label, service.name, service.namespace, "svc"]) else { continue }
            addRecord(owner: serviceName, type: DNSType.a, rdata: address.bytes)
            addRecord(owner: endpointName, type: DNSType.a, rdata: address.bytes)
            if let reverse = reverseName(address) { addRecord(owner: reverse, type: DNSType.ptr, rdata: endpointName.bytes) }
            targets.append((endpoint, endpointName, address))
        }
        for port in service.ports where !port.name.isEmpty {
            guard let srvName = name(["_" + port.name, "_" + port.proto.lowercased(), service.name, service.namespace, "svc"]) else { continue }
            if targets.isEmpty { addEmpty(srvName) }
            let weight = UInt16(max(1, 100 / max(1, targets.count)))
            for target in targets {
                // The endpoint's own port of that name (the pod's targetPort), as CoreDNS answers.
                let endpointPort = target.endpoint.ports.first { $0.name == port.name && $0.proto == port.proto }?.port ?? port.port
                addRecord(owner: srvName, type: DNSType.srv, rdata: srvData(weight: weight, port: endpointPort, target: target.name),
                          additional: [(target.name, DNSType.a, target.address.bytes)])
            }
        }
    }

    /// Whether the zone answers for `name`: the cluster domain or `in-addr.arpa` and below.
    func isServed(_ name: DNSNameKey) -> Bool { name.isWithin(domain) || name.isWithin(DNSZone.reverseZone) }

    /// Makes a name exist without records, and its ancestors up to the zone's apex.
    mutating func addEmpty(_ owner: DNSNameKey) {
        // An existing name's ancestors exist already.
        var current: DNSNameKey? = owner
        while let name = current, records[name] == nil, isServed(name) {
            records[name] = [:]
            current = name.parent
        }
    }

    func dashed(_ address: IPv4Bytes) -> String { address.bytes.map(String.init).joined(separator: "-") }

    func reverseName(_ address: IPv4Bytes) -> DNSNameKey? {
        var wire: [UInt8] = []
        wire.reserveCapacity(30)
        for octet in address.bytes.reversed() {
            let digits: [UInt8] = octet >= 100 ? [48 + octet / 100, 48 + octet / 10 % 10, 48 + octet % 10]
                : octet >= 10 ? [48 + octet / 10, 48 + octet % 10] : [48 + octet]
            wire.append(UInt8(digits.count))
            wire.append(contentsOf: digits)
        }
        wire.append(contentsOf: DNSZone.reverseZone.bytes)
        return DNSNameKey(wire: wire)
    }

    func srvData(weight: UInt16, port: UInt16, target: DNSNameKey) -> [UInt8] {
        var rdata: [UInt8] = []
        rdata.appendBigEndian(UInt16(0))  // priority
        rdata.appendBigEndian(weight)
        rdata.appendBigEndian(port)
        rdata.append(contentsOf: target.bytes)
        return rdata
    }

    /// CoreDNS's SOA for the cluster zone: `ns.dns.<domain> hostmaster.<domain>`, refresh 7200,
    /// retry 1800, expire 86400, minimum = the records' TTL.
    func soaData(serial: UInt32) -> [UInt8] {
        var rdata = (name(["ns", "dns"]) ?? domain).bytes + (name(["hostmaster"]) ?? domain).bytes
        for value in [serial, 7200, 1800, 86400, DNSZone.ttl] { rdata.appendBigEndian(value) }
        return rdata
    }

    /// A whole SOA record for the authority section of negative answers.
    func soaRecord(owner: DNSNameKey, serial: UInt32) -> [UInt8] {
        DNSZoneBuilder.record(owner: owner.bytes, type: DNSType.soa, rdata: soaData(serial: serial))
    }

    static func record(owner: [UInt8], type: UInt16, rdata: [UInt8]) -> [UInt8] {
        var bytes = owner
        bytes.appendBigEndian(type)
        bytes.appendBigEndian(DNSClass.internet)
        bytes.appendBigEndian(DNSZone.ttl)
        bytes.appendBigEndian(UInt16(rdata.count))
        bytes.append(contentsOf: rdata)
        return bytes
    }

    /// Every (name, type) laid out; `ANY` holds all of a name's records.
    func answers() -> TreeDictionary<DNSNameKey, [UInt16: DNSAnswer]> {
        TreeDictionary(uniqueKeysWithValues: records.lazy.map { ($0.key, DNSZoneBuilder.layOut($0.value)) })
    }

    /// One name's records laid out by type; `ANY` holds them all.
    static func layOut(_ byType: [UInt16: [Record]]) -> [UInt16: DNSAnswer] {
        let questionPointer: [UInt8] = [0xC0, 0x0C]
        var answers: [UInt16: DNSAnswer] = [:]
        var all = DNSAnswer(rcode: DNSRcode.noError)
        for type in byType.keys.sorted() {
            var answer = DNSAnswer(rcode: DNSRcode.noError)
            var seenAdditional: Set<[UInt8]> = []
            for record in byType[type]! {
                answer.answer += DNSZoneBuilder.record(owner: questionPointer, type: type, rdata: record.rdata)
                answer.answerCount += 1
                for extra in record.additional {
                    let bytes = DNSZoneBuilder.record(owner: extra.owner.bytes, type: extra.type, rdata: extra.rdata)
                    if seenAdditional.insert(bytes).inserted {
                        answer.additional += bytes
                        answer.additionalCount += 1
                    }
                }
            }
            answers[type] = answer
            all.answer += answer.answer
            all.answerCount += answer.answerCount
        }
        if !byType.isEmpty { answers[DNSType.any] = all }
        return answers
    }
}

/// The four bytes of a dotted IPv4 literal.
struct IPv4Bytes: Equatable {
    var bytes: [UInt8]

    init?(_ text: String) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4)
        var value = 0, digits = 0
        for character in text.utf8 {
            if character == UInt8(ascii: ".") {
                guard digits > 0, bytes.count < 3 else { return nil }
                bytes.append(UInt8(value))
                value = 0
                digits = 0
            } else {
                guard character >= 48, character <= 57, digits < 3 else { return nil }
                value = value * 10 + Int(character - 48)
                digits += 1
                guard value <= 255 else { return nil }
            }
        }
        guard digits > 0, bytes.count == 3 else { return nil }
        bytes.append(UInt8(value))
        self.bytes = bytes
    }
}
