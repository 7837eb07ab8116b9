import Testing
@testable import PodNet

@Suite("Service address and node port allocation")
struct ServiceAllocationTests {
    static let cidr = IPv4Prefix("10.96.0.0/16")!

    static func service(_ name: String, clusterIP: String = "", type: ServiceType = .clusterIP, nodePorts: [Int32] = [0]) -> Service {
        Service(metadata: ObjectMeta(name: name, namespace: "default"),
                spec: ServiceSpec(type: type, selector: ["app": name],
                                  ports: nodePorts.enumerated().map { ServicePort(name: "p\($0.offset)", port: Int32(80 + $0.offset), nodePort: $0.element) },
                                  clusterIP: clusterIP)).applyingDefaults()
    }

    struct Counter: RandomNumberGenerator {
        var state: UInt64 = 0x1234
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state
        }
    }

    @Test("dynamic addresses come from the upper band, never the network or broadcast address")
    func dynamic() throws {
        var allocation = ServiceAllocation(serviceCIDR: Self.cidr)
        var random = Counter()
        var seen: Set<String> = []
        for index in 0..<500 {
            var service = Self.service("s\(index)")
            try allocation.assign(&service, using: &random)
            let address = try #require(IPv4Address(service.spec.clusterIP))
            #expect(Self.cidr.contains(address))
            #expect(address.value >= Self.cidr.network.value + 1 + 256, "dynamic addresses stay out of the static band")
            #expect(service.spec.clusterIPs == [service.spec.clusterIP])
            seen.insert(service.spec.clusterIP)
        }
        #expect(seen.count == 500)
    }

    @Test("a small range fills both bands but its first address, then is full with a 500")
    func full() throws {
        var allocation = ServiceAllocation(serviceCIDR: IPv4Prefix("10.96.0.0/29")!)
        var random = Counter()
        var given: Set<String> = []
        for index in 0..<5 {
            var service = Self.service("s\(index)")
            try allocation.assign(&service, using: &random)
            given.insert(service.spec.clusterIP)
        }
        #expect(given == ["10.96.0.2", "10.96.0.3", "10.96.0.4", "10.96.0.5", "10.96.0.6"])
        var sixth = Self.service("s6")
        #expect(throws: APIStatus.internalError("failed to allocate a serviceIP: range is full")) { try allocation.assign(&sixth, using: &random) }
        // The first address stays for default/kubernetes.
        var api = try #require(APIServerService.service(serviceCIDR: IPv4Prefix("10.96.0.0/29")!)).applyingDefaults()
        try allocation.assign(&api, using: &random)
        #expect(api.spec.clusterIP == "10.96.0.1")
    }

    @Test("the first address is default/kubernetes's: refused to any other Service, asked for or at random, also while it is deleted")
    func reservedForTheAPI() throws {
        var allocation = ServiceAllocation(serviceCIDR: Self.cidr)
        var random = Counter()
        #expect(allocation.reservedAddress == IPv4Address("10.96.0.1"))
        var other = Self.service("web", clusterIP: "10.96.0.1")
        do {
            try allocation.assign(&other, using: &random)
            Issue.record("the API's address was given to another Service")
        } catch {
            #expect(error.message == #"Service "web" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.1"}: failed to allocate IP 10.96.0.1: provided IP is already allocated"#)
        }
        #expect(allocation.clusterIPs.isEmpty)
        var api = try #require(APIServerService.service(serviceCIDR: Self.cidr)).applyingDefaults()
        try allocation.assign(&api, using: &random)
        #expect(allocation.clusterIPs[IPv4Address("10.96.0.1")!] == "default/kubernetes")
        allocation.release(api)
        do {
            try allocation.assign(&other, using: &random)
            Issue.record("the API's address was given away while its Service was deleted")
        } catch {
            #expect(error.message.hasSuffix("provided IP is already allocated"))
        }
        // A kubernetes Service in another namespace is an ordinary one.
        var elsewhere = Self.service("kubernetes", clusterIP: "10.96.0.1")
        elsewhere.metadata.namespace = "team"
        #expect(throws: APIStatus.self) { try allocation.assign(&elsewhere, using: &random) }
    }

    @Test("a requested address must be in range and free; a failed assignment changes nothing")
    func requested() throws {
        var allocation = ServiceAllocation(serviceCIDR: Self.cidr)
        var random = Counter()
        var dns = Self.service("kube-dns", clusterIP: "10.96.0.10")
        try allocation.assign(&dns, using: &random)
        #expect(dns.spec.clusterIP == "10.96.0.10")
        var again = Self.service("other", clusterIP: "10.96.0.10")
        do {
            try allocation.assign(&again, using: &random)
            Issue.record("a taken address was assigned")
        } catch {
            #expect(error.message == #"Service "other" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.10"}: failed to allocate IP 10.96.0.10: provided IP is already allocated"#)
        }
        var outside = Self.service("outside", clusterIP: "10.0.0.1")
        do {
            try allocation.assign(&outside, using: &random)
            Issue.record("an address outside the range was assigned")
        } catch {
            #expect(error.message == #"Service "outside" is invalid: spec.clusterIPs: Invalid value: []string{"10.0.0.1"}: failed to allocate IP 10.0.0.1: the provided IP (10.0.0.1) is not in the valid range. The range of valid IPs is 10.96.0.0/16"#)
        }
        #expect(allocation.clusterIPs.count == 1)
        allocation.release(dns)
        try allocation.assign(&again, using: &random)
        #expect(again.spec.clusterIP == "10.96.0.10")
    }

    @Test("node ports: requested, taken, out of range, dynamic, kept on update")
    func nodePorts() throws {
        var allocation = ServiceAllocation(serviceCIDR: Self.cidr)
        var random = Counter()
        var web = Self.service("web", type: .nodePort, nodePorts: [30080, 0])
        try allocation.assign(&web, using: &random)
        #expect(web.spec.ports[0].nodePort == 30080)
        #expect(ServiceAllocation.nodePortRange.contains(web.spec.ports[1].nodePort))
        #expect(web.spec.ports[1].nodePort != 30080)

        var clash = Self.service("clash", type: .nodePort, nodePorts: [30080])
        #expect(throws: APIStatus.self) { try allocation.assign(&clash, using: &random) }
        var low = Self.service("low", type: .nodePort, nodePorts: [80])
        do {
            try allocation.assign(&low, using: &random)
            Issue.record("port 80 was assigned as a node port")
        } catch {
            #expect(error.message == #"Service "low" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"#)
        }

        // An update that leaves the node ports out keeps them; turning the service into a
        // ClusterIP one frees them.
        var update = Self.service("web", type: .nodePort, nodePorts: [0, 0])
        update.spec.clusterIP = ""
        try allocation.assign(&update, old: web, using: &random)
        #expect(update.spec.ports.map(\.nodePort) == web.spec.ports.map(\.nodePort))
        #expect(update.spec.clusterIP == web.spec.clusterIP)
        var plain = Self.service("web", nodePorts: [0, 0])
        try allocation.assign(&plain, old: update, using: &random)
        #expect(plain.spec.ports.allSatisfy { $0.nodePort == 0 })
        #expect(allocation.nodePorts.isEmpty)
    }

    @Test("allocations are rebuilt from stored services")
    func restored() throws {
        var allocation = ServiceAllocation(serviceCIDR: Self.cidr)
        var random = Counter()
        var web = Self.service("web", type: .nodePort)
        try allocation.assign(&web, using: &random)
        let restored = ServiceAllocation(serviceCIDR: Self.cidr, services: [web])
        #expect(restored.clusterIPs == allocation.clusterIPs)
        #expect(restored.nodePorts == allocation.nodePorts)
    }
}
