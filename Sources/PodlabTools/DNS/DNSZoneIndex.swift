import HashTreeCollections

/// The cluster zone kept name by name, so that a watch event costs the names it touches, not a
/// whole build: each source (a Service with its endpoints, a pod, the zones' SOA records) keeps
/// the records it puts in the zone, a changed source takes its old records out and puts its new
/// ones in, and only the names whose records changed are laid out again. The laid-out answers
/// live in a persistent map (`TreeDictionary`): publishing a zone copies one reference, and a
/// change copies only the paths to the names it touches, so a published zone never changes
/// under the query threads that read it.
///
/// What it holds is what `DNSZone(_:)` builds whole from the same objects, answer for answer
/// (the tests compare the two after random event sequences): records in the order a whole build
/// adds them (services in key order, then pods in key order, the SOA last), a record that two
/// sources add once, and for a PTR name the services' records, or else the first pod's.
struct DNSZoneIndex {
    /// Who adds a record, in the order a whole build adds them.
    struct Source: Hashable, Comparable {
        enum Kind: Int, Comparable {
            case service, pod, apex
            static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }
        }

        var kind: Kind
        /// `namespace/name`.
        var key: String

        static func < (a: Source, b: Source) -> Bool { (a.kind, a.key) < (b.kind, b.key) }
    }

    /// One name: how many sources make it exist, and the records of those that hold some there.
    private struct Owner {
        var claims = 0
        var records: [Source: [UInt16: [DNSZoneBuilder.Record]]] = [:]
    }

    let domain: DNSNameKey
    /// Every name that exists, laid out; shared with the zones published from it.
    private(set) var names: TreeDictionary<DNSNameKey, [UInt16: DNSAnswer]> = [:]
    private var owners: [DNSNameKey: Owner] = [:]
    /// Each source's records by name (a name it only makes exist maps to no types).
    private var sources: [Source: [DNSNameKey: [UInt16: [DNSZoneBuilder.Record]]]] = [:]
    private static let apex = Source(kind: .apex, key: "")

    init(domain: DNSNameKey) {
        self.domain = domain
    }

    /// Replaces the records of one Service (nil: it is gone).
    mutating func update(service key: String, to service: ClusterDNSData.Service?) {
        var builder = DNSZoneBuilder(domain: domain)
        if let service { builder.add(service) }
        replace(Source(kind: .service, key: key), with: builder.records)
    }

    /// Replaces the records of one pod (nil: it is gone, or has no address).
    mutating func update(pod key: String, to pod: ClusterDNSData.Pod?) {
        var builder = DNSZoneBuilder(domain: domain)
        if let pod { builder.add(ClusterDNSData(pods: [pod])) }
        replace(Source(kind: .pod, key: key), with: builder.records)
    }

    /// The SOA records of the forward and reverse zones, with `serial`.
    mutating func update(serial: UInt32) {
        var builder = DNSZoneBuilder(domain: domain)
        builder.addRecord(owner: domain, type: DNSType.soa, rdata: builder.soaData(serial: serial))
        builder.addRecord(owner: DNSZone.reverseZone, type: DNSType.soa, rdata: builder.soaData(serial: serial))
        replace(DNSZoneIndex.apex, with: builder.records)
    }

    private mutating func replace(_ source: Source, with records: [DNSNameKey: [UInt16: [DNSZoneBuilder.Record]]]) {
        let old = sources[source] ?? [:]
        sources[source] = records.isEmpty ? nil : records
        for name in Set(old.keys).union(records.keys) {
            let before = old[name], after = records[name]
            guard before != after else { continue }
            var owner = owners[name] ?? Owner()
            owner.claims += (after == nil ? 0 : 1) - (before == nil ? 0 : 1)
            owner.records[source] = after.flatMap { $0.isEmpty ? nil : $0 }
            owners[name] = owner
            layOut(name)
        }
    }

    /// Lays out one name's answers again from the records its sources hold there.
    private mutating func layOut(_ name: DNSNameKey) {
        guard let owner = owners[name], owner.claims > 0 else {
            owners[name] = nil
            names[name] = nil
            return
        }
        var byType: [UInt16: [DNSZoneBuilder.Record]] = [:]
        for source in owner.records.keys.sorted() {
            for (type, records) in owner.records[source]! {
                if type == DNSType.ptr, source.kind == .pod {
                    // A pod's address points back at it only where no Service (nor an earlier pod) names it.
                    if byType[type] == nil, let first = records.first { byType[type] = [first] }
                    continue
                }
                for record in records where !(byType[type]?.contains(record) ?? false) { byType[type, default: []].append(record) }
            }
        }
        let answers = DNSZoneBuilder.layOut(byType)
        if names[name] != answers { names[name] = answers }
    }
}
