import Testing
@testable import PodNet

@Suite("EndpointSlices from pods")
struct EndpointSliceTests {
    static func pod(_ name: String, ip: String = "10.244.1.5", ready: Bool = true, labels: [String: String] = ["app": "web"],
                    namespace: String = "default", phase: PodPhase = .running, terminating: Bool = false, portName: String = "http", port: Int32 = 8080) -> Pod {
        var pod = Pod(metadata: ObjectMeta(name: name, namespace: namespace, labels: labels, uid: "uid-\(name)"))
        pod.spec.nodeName = "n1"
        pod.spec.containers = [Container(name: "c", image: "nginx")]
        pod.spec.containers[0].ports = [ContainerPort(containerPort: port, name: portName)]
        pod.status.phase = phase
        pod.status.podIP = ip
        pod.status.conditions = [PodCondition(type: .ready, status: ready ? .true : .false)]
        if terminating { pod.metadata.deletionTimestamp = .now() }
        return pod
    }

    static func service(targetPort: IntOrString = .string("http"), publishNotReady: Bool = false) -> Service {
        var service = Service(metadata: ObjectMeta(name: "web", namespace: "default", uid: "svc-uid"),
                              spec: ServiceSpec(selector: ["app": "web"], ports: [ServicePort(name: "http", port: 80, targetPort: targetPort)]))
        service.spec.publishNotReadyAddresses = publishNotReady
        return service.applyingDefaults()
    }

    @Test("selected pods with their conditions; finished, address-less and other pods left out")
    func conditions() throws {
        let pods = [
            Self.pod("a", ip: "10.244.1.2"), Self.pod("b", ip: "10.244.1.3", ready: false), Self.pod("c", ip: "10.244.1.4", terminating: true),
            Self.pod("done", ip: "10.244.1.6", phase: .succeeded), Self.pod("new", ip: ""), Self.pod("other", labels: ["app": "db"]),
            Self.pod("elsewhere", namespace: "kube-system"),
        ]
        let slices = EndpointSlices.desired(for: Self.service(), pods: pods)
        let slice = try #require(slices.first)
        #expect(slices.count == 1)
        #expect(slice.ports == [EndpointPort(name: "http", protocol: .tcp, port: 8080)])
        #expect(slice.endpoints.map(\.addresses) == [["10.244.1.2"], ["10.244.1.3"], ["10.244.1.4"]])
        #expect(slice.endpoints.map(\.ready) == [true, false, false])
        #expect(slice.endpoints.map(\.serving) == [true, false, true])
        #expect(slice.endpoints.map(\.terminating) == [false, false, true])
        #expect(slice.endpoints[0].targetRef == ObjectReference(kind: "Pod", namespace: "default", name: "a", uid: "uid-a"))
        let published = EndpointSlices.desired(for: Self.service(publishNotReady: true), pods: pods)
        #expect(published.first?.endpoints.allSatisfy(\.ready) == true)
    }

    @Test("named target ports resolve per pod; pods serving different ports get different slices")
    func namedPorts() {
        let pods = [Self.pod("a", ip: "10.244.1.2", port: 8080), Self.pod("b", ip: "10.244.1.3", port: 9090), Self.pod("c", ip: "10.244.1.4", portName: "other")]
        let slices = EndpointSlices.desired(for: Self.service(), pods: pods)
        #expect(slices.map(\.ports) == [[EndpointPort(name: "http", protocol: .tcp, port: 8080)], [EndpointPort(name: "http", protocol: .tcp, port: 9090)], []])
        let numeric = EndpointSlices.desired(for: Self.service(targetPort: .int(7000)), pods: pods)
        #expect(numeric.count == 1)
        #expect(numeric[0].endpoints.count == 3)
    }

    @Test("a service selecting nothing keeps one empty slice; slices hold at most 100 endpoints")
    func placeholderAndSplit() {
        #expect(EndpointSlices.desired(for: Self.service(), pods: []) == [EndpointSlices.Content(ports: [], endpoints: [])])
        let many = (0..<250).map { Self.pod(String(format: "p%03d", $0), ip: "10.244.\($0 / 200).\($0 % 200 + 2)") }
        #expect(EndpointSlices.desired(for: Self.service(), pods: many).map(\.endpoints.count) == [100, 100, 50])
    }

    @Test("reconcile keeps unchanged slices, reuses names, deletes the rest")
    func reconcile() {
        let service = Self.service()
        var counter = 0
        func name() -> String { counter += 1; return "web-\(counter)" }
        let first = EndpointSlices.reconcile(service: service, desired: EndpointSlices.desired(for: service, pods: [Self.pod("a")]), existing: [], newName: name)
        #expect(first.write.map(\.metadata.name) == ["web-1"])
        #expect(first.write[0].metadata.labels["kubernetes.io/service-name"] == "web")
        #expect(first.delete.isEmpty)
        let same = EndpointSlices.reconcile(service: service, desired: EndpointSlices.desired(for: service, pods: [Self.pod("a")]), existing: first.write, newName: name)
        #expect(same.write.isEmpty && same.delete.isEmpty)
        let changed = EndpointSlices.reconcile(service: service, desired: EndpointSlices.desired(for: service, pods: [Self.pod("a", ready: false)]), existing: first.write, newName: name)
        #expect(changed.write.map(\.metadata.name) == ["web-1"])
        #expect(changed.write[0].endpoints[0].ready == false)
        let split = EndpointSlices.desired(for: service, pods: [Self.pod("a", port: 1), Self.pod("b", port: 2)])
        let grown = EndpointSlices.reconcile(service: service, desired: split, existing: changed.write, newName: name)
        #expect(Set(grown.write.map(\.metadata.name)) == ["web-1", "web-2"])
        let shrunk = EndpointSlices.reconcile(service: service, desired: [EndpointSlices.Content(ports: [], endpoints: [])], existing: grown.write, newName: name)
        #expect(shrunk.write.count == 1 && shrunk.delete.count == 1)
    }

    @Test("v1 Endpoints: ready and not-ready addresses, terminating ones left out")
    func endpoints() {
        let service = Self.service()
        let pods = [Self.pod("a", ip: "10.244.1.2"), Self.pod("b", ip: "10.244.1.3", ready: false), Self.pod("c", ip: "10.244.1.4", terminating: true)]
        let slices = EndpointSlices.reconcile(service: service, desired: EndpointSlices.desired(for: service, pods: pods), existing: [], newName: { "web-x" }).write
        let endpoints = EndpointSlices.endpoints(for: service, slices: slices)
        #expect(endpoints.subsets.count == 1)
        #expect(endpoints.subsets[0].addresses.map(\.ip) == ["10.244.1.2"])
        #expect(endpoints.subsets[0].notReadyAddresses.map(\.ip) == ["10.244.1.3"])
        #expect(EndpointSlices.endpoints(for: service, slices: []).subsets.isEmpty)
    }
}
