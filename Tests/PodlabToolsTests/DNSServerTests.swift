@testable import PodlabTools
import Testing

/// A query message as a stub resolver sends it.
func dnsQuery(_ name: String, type: UInt16, id: UInt16 = 0x1234, flags: UInt16 = 0x0100, edns: (size: UInt16, version: UInt8)? = nil) -> [UInt8] {
    var bytes: [UInt8] = []
    for value in [id, flags, 1, 0, 0, edns == nil ? 0 : 1] { bytes.appendBigEndian(UInt16(value)) }
    bytes += DNSName.wire(name)!
    bytes.appendBigEndian(type)
    bytes.appendBigEndian(DNSClass.internet)
    if let edns {
        bytes += [0]
        bytes.appendBigEndian(DNSType.opt)
        bytes.appendBigEndian(edns.size)
        bytes += [0, edns.version, 0, 0, 0, 0]
    }
    return bytes
}

/// A decoded answer, read with the parser's own name reader (pointers resolved).
struct DecodedAnswer {
    struct Record: Equatable {
        var name: String
        var type: UInt16
        var ttl: UInt32
        var rdata: [UInt8]
    }

    var id: UInt16
    var flags: UInt16
    var rcode: UInt16 { flags & 0x0F }
    var question: String
    var answers: [Record] = []
    var authority: [Record] = []
    var additional: [Record] = []

    var truncated: Bool { flags & DNSFlag.truncated != 0 }
    var authoritative: Bool { flags & DNSFlag.authoritative != 0 }

    init(_ m: [UInt8]) throws {
        let u16 = { (i: Int) in UInt16(m[i]) << 8 | UInt16(m[i + 1]) }
        id = u16(0)
        flags = u16(2)
        #expect(u16(4) == 1, "one question")
        let (qname, afterName) = try #require(DNSName.read(m, at: 12))
        question = DNSName.text(qname)
        var index = afterName + 4
        func records(_ count: UInt16) throws -> [Record] {
            var list: [Record] = []
            for _ in 0..<count {
                let (owner, after) = try #require(DNSName.read(m, at: index))
                let ttl = UInt32(u16(after + 4)) << 16 | UInt32(u16(after + 6))
                let length = Int(u16(after + 8))
                list.append(Record(name: DNSName.text(owner), type: u16(after), ttl: ttl, rdata: Array(m[(after + 10)..<(after + 10 + length)])))
                index = after + 10 + length
            }
            return list
        }
        answers = try records(u16(6))
        authority = try records(u16(8))
        additional = try records(u16(10))
        #expect(index == m.count, "no bytes after the last record")
    }
}

/// The lab of the tests: a ClusterIP service with named ports, a headless one with two ready
/// endpoints and one not ready, pods.
let testCluster: ClusterDNSData = {
    var data = ClusterDNSData()
    data.services.append(.init(namespace: "default", name: "web", clusterIP: "10.96.0.20",
                               ports: [.init(name: "http", proto: "TCP", port: 80), .init(name: "", proto: "TCP", port: 8080)], endpoints: []))
    let dbPorts = [ClusterDNSData.Port(name: "pg", proto: "TCP", port: 5432)]
    data.services.append(.init(namespace: "data", name: "db", clusterIP: nil, ports: dbPorts, endpoints: [
        .init(ip: "10.244.1.7", hostname: nil, ready: true, ports: dbPorts),
        .init(ip: "10.244.2.3", hostname: "db-0", ready: true, ports: dbPorts),
        .init(ip: "10.244.2.9", hostname: nil, ready: false, ports: dbPorts),
    ]))
    data.services.append(.init(namespace: "data", name: "empty", clusterIP: nil, ports: dbPorts, endpoints: []))
    data.pods = [.init(namespace: "default", name: "client", ip: "10.244.1.5"), .init(namespace: "data", name: "db-a", ip: "10.244.1.7")]
    return data
}()

func ask(_ name: String, _ type: UInt16, zone: DNSZone = DNSZone(testCluster), transport: DNSTransport = .udp,
         edns: (size: UInt16, version: UInt8)? = nil) throws -> DecodedAnswer {
    let query = dnsQuery(name, type: type, edns: edns)
    let answer = try #require(DNSResponder.respond(to: query, zone: zone, transport: transport))
    return try DecodedAnswer(answer)
}

@Suite("cluster DNS answers")
struct DNSAnswerTests {
    @Test("a service name answers its ClusterIP, authoritative, echoing the question's case")
    func serviceA() throws {
        let answer = try ask("Web.Default.SVC.cluster.local", DNSType.a)
        #expect(answer.id == 0x1234)
        #expect(answer.rcode == DNSRcode.noError)
        #expect(answer.authoritative)
        #expect(answer.flags & DNSFlag.response != 0)
        #expect(answer.flags & DNSFlag.recursionDesired != 0, "RD copied")
        #expect(answer.flags & DNSFlag.recursionAvailable == 0, "no recursion offered")
        #expect(answer.question == "Web.Default.SVC.cluster.local.")
        #expect(answer.answers == [.init(name: "Web.Default.SVC.cluster.local.", type: DNSType.a, ttl: DNSZone.ttl, rdata: [10, 96, 0, 20])])
        #expect(answer.authority.isEmpty)
    }

    @Test("a headless service answers one A per ready endpoint, and each endpoint has its own name")
    func headless() throws {
        let answer = try ask("db.data.svc.cluster.local", DNSType.a)
        #expect(answer.rcode == DNSRcode.noError)
        #expect(Set(answer.answers.map(\.rdata)) == [[10, 244, 1, 7], [10, 244, 2, 3]])
        #expect(try ask("db-0.db.data.svc.cluster.local", DNSType.a).answers.map(\.rdata) == [[10, 244, 2, 3]])
        #expect(try ask("10-244-1-7.db.data.svc.cluster.local", DNSType.a).answers.map(\.rdata) == [[10, 244, 1, 7]])
        #expect(try ask("10-244-2-9.db.data.svc.cluster.local", DNSType.a).rcode == DNSRcode.nameError, "not ready: no name")
        let empty = try ask("empty.data.svc.cluster.local", DNSType.a)
        #expect(empty.rcode == DNSRcode.noError && empty.answers.isEmpty && empty.authority.map(\.type) == [DNSType.soa])
    }

    @Test("SRV for a named port: the service as target with its address in the additional section")
    func srvClusterIP() throws {
        let answer = try ask("_http._tcp.web.default.svc.cluster.local", DNSType.srv)
        #expect(answer.rcode == DNSRcode.noError)
        let srv = try #require(answer.answers.first)
        #expect(answer.answers.count == 1)
        #expect(Array(srv.rdata[0..<6]) == [0, 0, 0, 100, 0, 80])
        #expect(DNSName.text(Array(srv.rdata[6...])) == "web.default.svc.cluster.local.")
        #expect(answer.additional == [.init(name: "web.default.svc.cluster.local.", type: DNSType.a, ttl: DNSZone.ttl, rdata: [10, 96, 0, 20])])
        #expect(try ask("_http._udp.web.default.svc.cluster.local", DNSType.srv).rcode == DNSRcode.nameError, "no UDP port of that name")
    }

    @Test("SRV of a headless service names each ready endpoint")
    func srvHeadless() throws {
        let answer = try ask("_pg._tcp.db.data.svc.cluster.local", DNSType.srv)
        let targets = answer.answers.map { DNSName.text(Array($0.rdata[6...])) }
        #expect(Set(targets) == ["db-0.db.data.svc.cluster.local.", "10-244-1-7.db.data.svc.cluster.local."])
        #expect(answer.answers.allSatisfy { Array($0.rdata[4..<6]) == [0x15, 0x38] })
        #expect(answer.additional.count == 2)
    }

    @Test("pod A records exist for the pods of that namespace only")
    func podA() throws {
        #expect(try ask("10-244-1-5.default.pod.cluster.local", DNSType.a).answers.map(\.rdata) == [[10, 244, 1, 5]])
        #expect(try ask("10-244-1-5.data.pod.cluster.local", DNSType.a).rcode == DNSRcode.nameError)
        #expect(try ask("10-244-1-99.default.pod.cluster.local", DNSType.a).rcode == DNSRcode.nameError)
    }

    @Test("PTR: a service address names the service, an endpoint its endpoint name, a pod its pod name")
    func ptr() throws {
        func target(_ name: String) throws -> String? {
            try ask(name, DNSType.ptr).answers.first.map { DNSName.text($0.rdata) }
        }
        #expect(try target("20.0.96.10.in-addr.arpa") == "web.default.svc.cluster.local.")
        #expect(try target("5.1.244.10.in-addr.arpa") == "10-244-1-5.default.pod.cluster.local.")
        #expect(try target("3.2.244.10.in-addr.arpa") == "db-0.db.data.svc.cluster.local.")
        let unknown = try ask("9.9.9.9.in-addr.arpa", DNSType.ptr)
        #expect(unknown.rcode == DNSRcode.nameError && unknown.authority.first?.name == "in-addr.arpa.")
    }

    @Test("NXDOMAIN and NODATA carry the zone's SOA; empty non-terminals are NODATA")
    func negative() throws {
        let missing = try ask("nope.default.svc.cluster.local", DNSType.a)
        #expect(missing.rcode == DNSRcode.nameError)
        #expect(missing.authoritative)
        #expect(missing.answers.isEmpty)
        let soa = try #require(missing.authority.first)
        #expect(soa.name == "cluster.local." && soa.type == DNSType.soa && missing.authority.count == 1)
        let noAAAA = try ask("web.default.svc.cluster.local", DNSType.aaaa)
        #expect(noAAAA.rcode == DNSRcode.noError && noAAAA.answers.isEmpty && noAAAA.authority.map(\.type) == [DNSType.soa])
        #expect(try ask("svc.cluster.local", DNSType.a).rcode == DNSRcode.noError)
        #expect(try ask("default.svc.cluster.local", DNSType.a).rcode == DNSRcode.noError)
        let emptyNonTerminal = try ask("_tcp.web.default.svc.cluster.local", DNSType.srv)
        #expect(emptyNonTerminal.rcode == DNSRcode.noError && emptyNonTerminal.answers.isEmpty)
        #expect(try ask("1.244.10.in-addr.arpa", DNSType.ptr).rcode == DNSRcode.noError, "an address's parent exists")
        #expect(try ask("unknowntype.cluster.local", 999).rcode == DNSRcode.nameError)
        #expect(try ask("web.default.svc.cluster.local", 999).rcode == DNSRcode.noError)
        #expect(try ask("cluster.local", DNSType.soa).answers.map(\.type) == [DNSType.soa])
    }

    @Test("names outside the cluster are refused, not forwarded")
    func refused() throws {
        for name in ["example.com", "cluster.local.example.com", "local", "."] {
            let answer = try ask(name, DNSType.a)
            #expect(answer.rcode == DNSRcode.refused, "\(name)")
            #expect(!answer.authoritative)
        }
        #expect(try ask("web.default.svc.cluster.local", DNSType.axfr, transport: .tcp).rcode == DNSRcode.refused)
    }

    @Test("ANY answers every record of the name")
    func any() throws {
        #expect(try ask("web.default.svc.cluster.local", DNSType.any).answers.map(\.type) == [DNSType.a])
    }

    @Test("a UDP answer over 512 bytes without EDNS is truncated; with EDNS or over TCP it is whole")
    func truncation() throws {
        var data = ClusterDNSData()
        let endpoints = (1...60).map { ClusterDNSData.Endpoint(ip: "10.244.3.\($0)", hostname: nil, ready: true, ports: []) }
        data.services = [.init(namespace: "default", name: "big", clusterIP: nil, ports: [], endpoints: endpoints)]
        let zone = DNSZone(data)
        let udp = try ask("big.default.svc.cluster.local", DNSType.a, zone: zone)
        #expect(udp.truncated)
        #expect(udp.answers.isEmpty)
        let raw = try #require(DNSResponder.respond(to: dnsQuery("big.default.svc.cluster.local", type: DNSType.a), zone: zone, transport: .udp))
        #expect(raw.count <= 512)
        let withEDNS = try ask("big.default.svc.cluster.local", DNSType.a, zone: zone, edns: (4096, 0))
        #expect(!withEDNS.truncated && withEDNS.answers.count == 60)
        let opt = try #require(withEDNS.additional.last)
        #expect(opt.type == DNSType.opt && opt.name == ".")
        let tcp = try ask("big.default.svc.cluster.local", DNSType.a, zone: zone, transport: .tcp)
        #expect(!tcp.truncated && tcp.answers.count == 60)
        // A small EDNS size below 512 counts as 512.
        #expect(try ask("big.default.svc.cluster.local", DNSType.a, zone: zone, edns: (100, 0)).truncated)
    }

    @Test("the additional section is dropped before an answer is truncated")
    func additionalDroppedFirst() throws {
        var data = ClusterDNSData()
        let ports = [ClusterDNSData.Port(name: "p", proto: "TCP", port: 1)]
        let endpoints = (1...12).map { ClusterDNSData.Endpoint(ip: "10.244.3.\($0)", hostname: "host-number-\($0)", ready: true, ports: ports) }
        data.services = [.init(namespace: "default", name: "s", clusterIP: nil, ports: ports, endpoints: endpoints)]
        let answer = try ask("_p._tcp.s.default.svc.cluster.local", DNSType.srv, zone: DNSZone(data), edns: (1232, 0))
        #expect(!answer.truncated)
        #expect(answer.answers.count == 12)
        #expect(answer.additional.map(\.type) == [DNSType.opt], "the targets' addresses did not fit")
    }

    @Test("EDNS: the OPT is answered with the server's size; an unknown version is BADVERS")
    func edns() throws {
        let answer = try ask("web.default.svc.cluster.local", DNSType.a, edns: (4096, 0))
        let opt = try #require(answer.additional.first)
        #expect(opt.type == DNSType.opt && opt.ttl == 0)
        let badVersion = try ask("web.default.svc.cluster.local", DNSType.a, edns: (4096, 1))
        #expect(badVersion.answers.isEmpty)
        let badOPT = try #require(badVersion.additional.first)
        #expect(badOPT.ttl >> 24 == 1, "extended rcode 16 = BADVERS")
        #expect(badVersion.rcode == 0)
    }
}

@Suite("cluster DNS: bad packets")
struct DNSBadPacketTests {
    let zone = DNSZone(testCluster)

    func rcode(_ bytes: [UInt8]) -> UInt16? {
        DNSResponder.respond(to: bytes, zone: zone, transport: .udp).map { UInt16($0[3] & 0x0F) }
    }

    @Test("short packets and responses get no answer")
    func dropped() {
        #expect(rcode([]) == nil)
        #expect(rcode([1, 2, 3]) == nil)
        #expect(rcode(Array(repeating: 0, count: 11)) == nil)
        var response = dnsQuery("web.default.svc.cluster.local", type: DNSType.a)
        response[2] |= 0x80
        #expect(rcode(response) == nil)
    }

    @Test("malformed queries are FORMERR, other opcodes NOTIMP")
    func formatErrors() {
        var twoQuestions = dnsQuery("a.cluster.local", type: DNSType.a)
        twoQuestions[5] = 2
        #expect(rcode(twoQuestions) == DNSRcode.formatError)
        let cut = Array(dnsQuery("web.default.svc.cluster.local", type: DNSType.a).dropLast(3))
        #expect(rcode(cut) == DNSRcode.formatError)
        // A name that points at itself.
        var loop: [UInt8] = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1]
        #expect(rcode(loop) == DNSRcode.formatError)
        loop[13] = 14  // forward pointer
        #expect(rcode(loop) == DNSRcode.formatError)
        var label64 = [UInt8](repeating: 0, count: 12)
        label64[5] = 1
        label64 += [0x40] + Array(repeating: 0x61, count: 64) + [0, 0, 1, 0, 1]
        #expect(rcode(label64) == DNSRcode.formatError)
        let tooLong = [UInt8](repeating: 0, count: 5) + [1] + [UInt8](repeating: 0, count: 6)
            + Array((0..<5).flatMap { _ in [63] + [UInt8](repeating: 0x61, count: 63) }) + [0, 0, 1, 0, 1]
        #expect(rcode(tooLong) == DNSRcode.formatError)
        var status = dnsQuery("web.default.svc.cluster.local", type: DNSType.a)
        status[2] = 0x10  // opcode 2, STATUS
        #expect(rcode(status) == DNSRcode.notImplemented)
        var twoOPT = dnsQuery("web.default.svc.cluster.local", type: DNSType.a, edns: (1232, 0))
        twoOPT[11] = 2
        twoOPT += [0, 0, 41, 4, 0xD0, 0, 0, 0, 0, 0, 0]
        #expect(rcode(twoOPT) == DNSRcode.formatError)
        #expect(rcode(dnsQuery("web.default.svc.cluster.local", type: DNSType.opt)) == DNSRcode.formatError)
    }

    @Test("a query of another class is refused")
    func otherClass() {
        var chaos = dnsQuery("version.bind", type: 16)
        chaos[chaos.count - 1] = 3
        #expect(rcode(chaos) == DNSRcode.refused)
    }

    @Test("random and mutated packets never crash the responder, and every answer parses")
    func fuzz() throws {
        var random = SplitMix(seed: 11)
        let seeds = [
            dnsQuery("web.default.svc.cluster.local", type: DNSType.a),
            dnsQuery("_pg._tcp.db.data.svc.cluster.local", type: DNSType.srv, edns: (1232, 0)),
            dnsQuery("20.0.96.10.in-addr.arpa", type: DNSType.ptr),
        ]
        var answered = 0
        for round in 0..<30_000 {
            var packet: [UInt8]
            if round % 3 == 0 {
                packet = (0..<Int(random.next() % 80)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            } else {
                packet = seeds[round % seeds.count]
                for _ in 0..<(1 + random.next() % 4) {
                    guard !packet.isEmpty else { break }
                    let index = Int(random.next() % UInt64(packet.count))
                    switch random.next() % 3 {
                    case 0: packet[index] = UInt8(truncatingIfNeeded: random.next())
                    case 1: packet.removeSubrange(index...)
                    default: packet.insert(UInt8(truncatingIfNeeded: random.next()), at: index)
                    }
                }
            }
            for transport in [DNSTransport.udp, .tcp] {
                guard let answer = DNSResponder.respond(to: packet, zone: zone, transport: transport) else { continue }
                answered += 1
                #expect(answer.count >= 12)
                #expect(answer[2] & 0x80 != 0, "a response")
                #expect(Array(answer[0..<2]) == Array(packet[0..<2]), "the query's id")
                if transport == .udp { #expect(answer.count <= DNSLimit.serverUDPPayload) }
            }
        }
        #expect(answered > 10_000)
    }
}

/// A small deterministic generator (SplitMix64), so a failing fuzz case repeats.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("cluster DNS: TCP framing, agent objects, options")
struct DNSServerPartsTests {
    @Test("TCP: length-prefixed queries split across reads are answered in order")
    func tcpFraming() throws {
        let source = ClusterDNSSource(domain: "cluster.local", initial: testCluster)
        let handler = DNSStreamHandler(source: source)
        var stream: [UInt8] = []
        for (id, name) in [(UInt16(1), "web.default.svc.cluster.local"), (2, "nope.default.svc.cluster.local")] {
            let query = dnsQuery(name, type: DNSType.a, id: id)
            stream.appendBigEndian(UInt16(query.count))
            stream += query
        }
        let info = ConnectionInfo(local: SocketAddress(ip: "127.0.0.1", port: 53)!, peer: SocketAddress(ip: "127.0.0.1", port: 40000)!)
        var output = handler.received(Array(stream[0..<7]), on: info).output
        #expect(output.isEmpty)
        output += handler.received(Array(stream[7...]), on: info).output
        var answers: [DecodedAnswer] = []
        var index = 0
        while index + 2 <= output.count {
            let length = Int(output[index]) << 8 | Int(output[index + 1])
            answers.append(try DecodedAnswer(Array(output[(index + 2)..<(index + 2 + length)])))
            index += 2 + length
        }
        #expect(answers.map(\.id) == [1, 2])
        #expect(answers.map(\.rcode) == [DNSRcode.noError, DNSRcode.nameError])
    }

    @Test("services, endpoint slices and pods from the agent's JSON make the zone; DELETED removes")
    func stateFromJSON() throws {
        var state = ClusterDNSState()
        let service = try MiniJSON.parse(Array("""
        {"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"default"},
         "spec":{"clusterIP":"10.96.0.20","ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":8080}]}}
        """.utf8))
        let headless = try MiniJSON.parse(Array("""
        {"metadata":{"name":"db","namespace":"data"},"spec":{"clusterIP":"None","ports":[{"port":5432}]}}
        """.utf8))
        let slice = try MiniJSON.parse(Array("""
        {"metadata":{"name":"db-abc12","namespace":"data","labels":{"kubernetes.io/service-name":"db"}},
         "addressType":"IPv4","endpoints":[{"addresses":["10.244.1.7"],"conditions":{"ready":true}},
         {"addresses":["10.244.1.8"],"conditions":{"ready":false}},{"addresses":["10.244.1.9"]}],
         "ports":[{"name":"","port":5432,"protocol":"TCP"}]}
        """.utf8))
        let pod = try MiniJSON.parse(Array("""
        {"metadata":{"name":"client","namespace":"default"},"status":{"phase":"Running","podIP":"10.244.1.5"}}
        """.utf8))
        state.replace(.services, items: [service, headless])
        state.apply(.endpointSlices, type: "ADDED", object: slice)
        state.apply(.pods, type: "ADDED", object: pod)
        let data = state.data
        #expect(data.services.map(\.name) == ["db", "web"])
        #expect(data.services[0].clusterIP == nil)
        #expect(data.services[0].endpoints.map(\.ready) == [true, false, true])
        #expect(data.services[1].ports == [.init(name: "http", proto: "TCP", port: 80)])
        #expect(data.pods == [.init(namespace: "default", name: "client", ip: "10.244.1.5")])
        let zone = DNSZone(data)
        #expect(try ask("db.data.svc.cluster.local", DNSType.a, zone: zone).answers.count == 2)
        state.apply(.services, type: "DELETED", object: service)
        state.apply(.pods, type: "MODIFIED", object: try MiniJSON.parse(Array("""
        {"metadata":{"name":"client","namespace":"default"},"status":{"phase":"Succeeded","podIP":"10.244.1.5"}}
        """.utf8)))
        #expect(state.data.services.map(\.name) == ["db"])
        #expect(state.data.pods.isEmpty, "a finished pod gave its address back")
    }

    @Test("a change that touches no name keeps the zone; one that does makes a new one")
    func zoneFollowsChanges() throws {
        let source = ClusterDNSSource(domain: "cluster.local")
        let pod = try MiniJSON.parse(Array(#"{"metadata":{"name":"a","namespace":"default"},"status":{"phase":"Running","podIP":"10.244.1.5"}}"#.utf8))
        source.update { $0.apply(.pods, type: "ADDED", object: pod) }
        let first = source.zone
        #expect(first.answer(name: DNSNameKey("10-244-1-5.default.pod.cluster.local")!, type: DNSType.a).answerCount == 1)
        source.update { $0.apply(.pods, type: "MODIFIED", object: pod) }
        #expect(source.zone === first, "nothing changed for DNS")
        source.update { $0.apply(.pods, type: "DELETED", object: pod) }
        #expect(source.zone !== first)
        #expect(source.zone.answer(name: DNSNameKey("10-244-1-5.default.pod.cluster.local")!, type: DNSType.a).rcode == DNSRcode.nameError)
    }

    @Test("IPv4 literals: four decimal octets or nothing")
    func ipv4Literals() {
        #expect(IPv4Bytes("10.96.0.10")?.bytes == [10, 96, 0, 10])
        #expect(IPv4Bytes("255.255.255.255")?.bytes == [255, 255, 255, 255])
        #expect(IPv4Bytes("0.0.0.0")?.bytes == [0, 0, 0, 0])
        for bad in ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "1.2.3.", ".1.2.3", "a.b.c.d", "1234.1.1.1", "::1", "1.2.3.4 "] {
            #expect(IPv4Bytes(bad) == nil, "\(bad)")
        }
        let builder = DNSZoneBuilder(domain: DNSNameKey("cluster.local")!)
        #expect(builder.reverseName(IPv4Bytes("10.244.1.200")!)?.text == "200.1.244.10.in-addr.arpa.")
        #expect(builder.name(["Web", "default", "svc"])?.text == "web.default.svc.cluster.local.")
        #expect(builder.name([String(repeating: "a", count: 64), "default", "svc"]) == nil, "a label over 63 bytes")
        #expect(builder.name(["", "svc"]) == nil)
    }

    @Test("the JSON reader reads escapes and refuses garbage", arguments: ["{", "[1,]", "{\"a\" 1}", "\"\\x\"", "tru", "1 2", "\"\u{1}\""])
    func jsonGarbage(text: String) {
        #expect(throws: MiniJSON.ParseError.self) { try MiniJSON.parse(Array(text.utf8)) }
    }

    @Test("JSON strings with escapes and surrogate pairs")
    func jsonStrings() throws {
        let value = try MiniJSON.parse(Array(#"{"a":"x\"y\\z\n\u00e9\ud83d\ude00","b":[true,false,null,-1.5e2]}"#.utf8))
        #expect(value["a"]?.string == "x\"y\\z\né😀")
        #expect(value["b"] == .array([.bool(true), .bool(false), .null, .number(-150)]))
    }

    @Test("options: a source of names is required; the domain and port are checked")
    func options() throws {
        let none: (String) -> String? = { _ in nil }
        #expect(throws: UsageError.self) { try DNSServer.parse([], environment: none) }
        #expect(throws: UsageError.self) { try DNSServer.parse(["--hosts", "f", "--port", "0"], environment: none) }
        #expect(throws: UsageError.self) { try DNSServer.parse(["--hosts", "f", "--domain", "a..b"], environment: none) }
        let options = try DNSServer.parse(["--port=5353", "--domain", "lab.local."], environment: { $0 == "PODLAB_API_SOCKET" ? "/run/x.sock" : nil })
        #expect(options.apiSocket == "/run/x.sock" && options.port == 5353 && options.domain == "lab.local")
        #expect(DNSServer.hosts("10.1.2.3 a.cluster.local b.cluster.local # c\n# x\n\n10.1.2.4\tc.cluster.local\n").map(\.name)
            == ["a.cluster.local", "b.cluster.local", "c.cluster.local"])
    }
}
