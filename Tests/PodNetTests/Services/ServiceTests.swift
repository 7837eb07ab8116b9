import Testing
@testable import PodNet

@Suite("Service objects")
struct ServiceTests {
    static func service(_ yaml: String) throws -> Service {
        try Service(json: YAMLReader.value(from: yaml))
    }

    static func errors(_ service: Service) -> [String] {
        ServiceValidation.validate(service.applyingDefaults()).map(\.description)
    }

    static func web(ports: [ServicePort] = [ServicePort(port: 80)], type: ServiceType? = nil) -> Service {
        Service(metadata: ObjectMeta(name: "web", namespace: "default"), spec: ServiceSpec(type: type, selector: ["app": "web"], ports: ports))
    }

    @Test("decodes, defaults and writes back like the API server")
    func roundTrip() throws {
        let service = try Self.service("""
            apiVersion: v1
            kind: Service
            metadata: {name: web}
            spec:
              selector: {app: web}
              sessionAffinity: ClientIP
              ports:
              - {name: http, port: 80, targetPort: http}
              - {name: dns, port: 53, protocol: UDP}
            """).applyingDefaults()
        #expect(service.spec.effectiveType == .clusterIP)
        #expect(service.spec.ports[0].targetPort == .string("http"))
        #expect(service.spec.ports[1].targetPort == .int(53))
        #expect(service.spec.ports[0].protocol == .tcp)
        #expect(service.spec.affinityTimeoutSeconds == 10800)
        #expect(service.spec.internalTrafficPolicy == .cluster)
        #expect(service.spec.externalTrafficPolicy == nil)
        let json = service.json
        #expect(json["spec"]?["sessionAffinityConfig"]?["clientIP"]?["timeoutSeconds"] == .integer(10800))
        #expect(json["status"]?["loadBalancer"] == .object([:]))
        #expect(try Service(json: json) == service)
        #expect(Self.errors(service).isEmpty)
    }

    @Test("unknown fields are refused, not dropped")
    func strict() {
        #expect(throws: ObjectDecodingError.self) {
            try Self.service("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 80, tragetPort: 8080}]}")
        }
    }

    static let validationCases: [(String, Service, [String])] = [
        ("a name starting with a digit", Service(metadata: ObjectMeta(name: "1web", namespace: "default"), spec: web().spec),
         [#"metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"#]),
        ("no ports", web(ports: []), ["spec.ports: Required value"]),
        ("port 0", web(ports: [ServicePort(port: 0)]), ["spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                                                        "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive"]),
        ("unnamed ports among several", web(ports: [ServicePort(name: "a", port: 80), ServicePort(port: 81)]), ["spec.ports[1].name: Required value"]),
        ("duplicate names", web(ports: [ServicePort(name: "a", port: 80), ServicePort(name: "a", port: 81)]), [#"spec.ports[1].name: Duplicate value: "a""#]),
        ("duplicate port and protocol", web(ports: [ServicePort(name: "a", port: 80), ServicePort(name: "b", port: 80)]),
         [#"spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}"#]),
        ("same port over TCP and UDP", web(ports: [ServicePort(name: "a", port: 53), ServicePort(name: "b", protocol: .udp, port: 53)]), []),
        ("an invalid protocol", web(ports: [ServicePort(protocol: "ICMP", port: 80)]), [#"spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP""#]),
        ("SCTP", web(ports: [ServicePort(protocol: .sctp, port: 80)]), ["spec.ports[0].protocol: Forbidden: not supported by podlab yet: services carry TCP and UDP"]),
        ("a target port out of range", web(ports: [ServicePort(port: 80, targetPort: .int(70000))]), ["spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive"]),
        ("a node port on a ClusterIP service", web(ports: [ServicePort(port: 80, nodePort: 30080)]), ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]),
        ("a LoadBalancer", web(type: .loadBalancer), ["spec.type: Forbidden: not supported by podlab yet: the lab has no load balancer or external DNS; use ClusterIP or NodePort"]),
        ("an unknown type", web(type: "Magic"), [#"spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort""#]),
    ]

    @Test("validation, with the API server's messages", arguments: validationCases)
    func validation(_ name: String, _ service: Service, expected: [String]) {
        #expect(Self.errors(service) == expected, "\(name)")
    }

    @Test("headless services need no ports; NodePort may not be headless")
    func headless() {
        var headless = Self.web(ports: [])
        headless.spec.clusterIP = "None"
        #expect(Self.errors(headless).isEmpty)
        headless.spec.type = .nodePort
        headless.spec.ports = [ServicePort(port: 80)]
        #expect(Self.errors(headless) == [#"spec.clusterIPs[0]: Invalid value: "None": may not be set to 'None' for LoadBalancer or NodePort services"#])
    }

    @Test("session affinity timeout and unsupported fields")
    func affinityAndRefusals() {
        var service = Self.web()
        service.spec.sessionAffinity = .clientIP
        service.spec.affinityTimeoutSeconds = 0
        #expect(Self.errors(service) == ["spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than 86400"])
        service = Self.web()
        service.spec.affinityTimeoutSeconds = 60
        #expect(Self.errors(service) == ["spec.sessionAffinityConfig: Forbidden: must not be set when `sessionAffinity` is None"])
        service = Self.web()
        service.spec.preservedFields["externalIPs"] = .array([.string("1.2.3.4")])
        #expect(Self.errors(service) == ["spec.externalIPs: Forbidden: not supported by podlab yet"])
        service = Self.web(type: .nodePort)
        service.spec.externalTrafficPolicy = .local
        #expect(Self.errors(service) == ["spec.externalTrafficPolicy: Forbidden: not supported by podlab yet: NodePorts reach the endpoints of every node"])
    }

    @Test("a changed clusterIP is refused on update")
    func immutableClusterIP() {
        var old = Self.web().applyingDefaults()
        old.spec.clusterIP = "10.96.1.1"
        var new = old
        new.spec.clusterIP = "10.96.1.2"
        #expect(throws: InvalidObjectError.self) { try new.validatedUpdate(from: old) }
        #expect(throws: Never.self) { try old.validatedUpdate(from: old) }
    }
}
