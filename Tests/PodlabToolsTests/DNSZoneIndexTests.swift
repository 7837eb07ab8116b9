@testable import PodlabTools
import Testing

/// Watch events as the agent sends them, drawn at random from a small world (few names,
/// addresses that collide), so services, slices and pods keep meeting at the same names: a
/// pod's address that is also an endpoint's or a ClusterIP, two pods with one address, slices
/// of a Service that does not exist (yet), headless Services gaining and losing endpoints.
struct RandomDNSEvents {
    var random: SplitMix

    mutating func pick<T>(_ values: [T]) -> T { values[Int(random.next() % UInt64(values.count))] }
    mutating func chance(_ percent: UInt64) -> Bool { random.next() % 100 < percent }

    func metadata(_ name: String, _ namespace: String, labels: [String: String] = [:]) -> MiniJSON {
        var fields: [String: MiniJSON] = ["name": .string(name), "namespace": .string(namespace)]
        if !labels.isEmpty { fields["labels"] = .object(labels.mapValues { .string($0) }) }
        return .object(fields)
    }

    mutating func address() -> String { "10.244.1.\(random.next() % 6 + 2)" }

    mutating func ports() -> MiniJSON {
        let all: [MiniJSON] = [
            .object(["name": .string("http"), "port": .number(80), "protocol": .string("TCP")]),
            .object(["name": .string("dns"), "port": .number(53), "protocol": .string("UDP")]),
            .object(["name": .string(""), "port": .number(8080), "protocol": .string("TCP")]),
        ]
        return .array(all.filter { _ in chance(60) })
    }

    /// One event: the kind, `ADDED`/`MODIFIED`/`DELETED`, the object.
    mutating func next() -> (ClusterDNSState.Kind, String, MiniJSON) {
        let namespace = pick(["default", "shop"])
        let type = chance(25) ? "DELETED" : pick(["ADDED", "MODIFIED"])
        switch random.next() % 3 {
        case 0:
            let clusterIP: MiniJSON = chance(40) ? .string("None") : .string(pick(["10.96.0.20", "10.96.0.21", "10.244.1.3"]))
            return (.services, type, .object(["metadata": metadata(pick(["web", "db", "api"]), namespace),
                                              "spec": .object(["clusterIP": clusterIP, "ports": ports()])]))
        case 1:
            let service = pick(["web", "db", "api"])
            var endpoints: [MiniJSON] = []
            for _ in 0..<(random.next() % 4) {
                var endpoint: [String: MiniJSON] = ["addresses": .array([.string(address())])]
                if chance(30) { endpoint["hostname"] = .string(pick(["a-0", "a-1"])) }
                if chance(70) { endpoint["conditions"] = .object(["ready": .bool(chance(70))]) }
                endpoints.append(.object(endpoint))
            }
            return (.endpointSlices, type, .object(["metadata": metadata(service + "-" + pick(["x", "y"]), namespace, labels: ["kubernetes.io/service-name": service]),
                                                    "endpoints": .array(endpoints), "ports": ports()]))
        default:
            var status: [String: MiniJSON] = ["phase": .string(pick(["Running", "Running", "Pending", "Succeeded"]))]
            if chance(85) { status["podIP"] = .string(address()) }
            return (.pods, type, .object(["metadata": metadata(pick(["p", "q", "r", "s"]), namespace), "status": .object(status)]))
        }
    }
}

@Suite("cluster DNS: the zone kept name by name")
struct DNSZoneIndexTests {
    /// The zone as a whole build makes it from the same state.
    func wholeBuild(_ state: ClusterDNSState, serial: UInt32) -> DNSZone { DNSZone(state.data, serial: serial) }

    @Test("after random event sequences, the zone kept name by name is the whole build's, answer for answer", arguments: 0..<40)
    func incrementalEqualsWhole(seed: UInt64) {
        var events = RandomDNSEvents(random: SplitMix(seed: seed))
        let source = ClusterDNSSource(domain: "cluster.local")
        var state = ClusterDNSState()
        for _ in 0..<60 {
            // Events arrive one at a time or several together (one zone for a batch).
            let batch = (0..<(events.random.next() % 3 + 1)).map { _ in events.next() }
            if events.chance(5), let (kind, _, _) = batch.first {
                // A relist after a reconnect.
                let items = batch.filter { $0.0 == kind && $0.1 != "DELETED" }.map(\.2)
                source.update { $0.replace(kind, items: items) }
                state.replace(kind, items: items)
            } else {
                source.update { s in for (kind, type, object) in batch { s.apply(kind, type: type, object: object) } }
                for (kind, type, object) in batch { state.apply(kind, type: type, object: object) }
            }
            let zone = source.zone
            let whole = wholeBuild(state, serial: zone.serial)
            if zone.names != whole.names {
                let ours = Set(zone.names.keys.map(\.text)), theirs = Set(whole.names.keys.map(\.text))
                let differing = zone.names.keys.filter { whole.names[$0] != nil && whole.names[$0] != zone.names[$0] }.map(\.text).sorted()
                Issue.record("seed \(seed): only incremental: \(ours.subtracting(theirs).sorted()), only whole: \(theirs.subtracting(ours).sorted()), differing: \(differing)")
                return
            }
        }
    }

    @Test("a Service's PTR wins over a pod's; when the Service goes, the pod's address names the pod again")
    func pointerPrecedence() throws {
        let source = ClusterDNSSource(domain: "cluster.local")
        let service = MiniJSON.object(["metadata": .object(["name": .string("odd"), "namespace": .string("default")]),
                                       "spec": .object(["clusterIP": .string("10.244.1.5")])])
        let pod = MiniJSON.object(["metadata": .object(["name": .string("client"), "namespace": .string("default")]),
                                   "status": .object(["phase": .string("Running"), "podIP": .string("10.244.1.5")])])
        source.update { $0.apply(.pods, type: "ADDED", object: pod) }
        let reverse = "5.1.244.10.in-addr.arpa"
        #expect(try ask(reverse, DNSType.ptr, zone: source.zone).answers.map(\.rdata) == [DNSName.wire("10-244-1-5.default.pod.cluster.local")!])
        source.update { $0.apply(.services, type: "ADDED", object: service) }
        #expect(try ask(reverse, DNSType.ptr, zone: source.zone).answers.map(\.rdata) == [DNSName.wire("odd.default.svc.cluster.local")!])
        source.update { $0.apply(.services, type: "DELETED", object: service) }
        #expect(try ask(reverse, DNSType.ptr, zone: source.zone).answers.map(\.rdata) == [DNSName.wire("10-244-1-5.default.pod.cluster.local")!])
        #expect(try ask("odd.default.svc.cluster.local", DNSType.a, zone: source.zone).rcode == DNSRcode.nameError)
    }

    @Test("a published zone does not change when the next one is made")
    func publishedZonesStay() throws {
        let source = ClusterDNSSource(domain: "cluster.local")
        let pod = MiniJSON.object(["metadata": .object(["name": .string("a"), "namespace": .string("default")]),
                                   "status": .object(["phase": .string("Running"), "podIP": .string("10.244.1.9")])])
        source.update { $0.apply(.pods, type: "ADDED", object: pod) }
        let held = source.zone
        source.update { $0.apply(.pods, type: "DELETED", object: pod) }
        #expect(try ask("10-244-1-9.default.pod.cluster.local", DNSType.a, zone: held).answers.count == 1)
        #expect(try ask("10-244-1-9.default.pod.cluster.local", DNSType.a, zone: source.zone).rcode == DNSRcode.nameError)
        #expect(source.zone.serial > held.serial)
    }
}
