extension ServiceTable {
    /// The dataplane's view of the lab's Services and their EndpointSlices: every Service with a
    /// virtual address (headless ones have none to program), each port with the endpoints its
    /// slices list for it (matched by port name and protocol, with the resolved target port).
    public init(services: some Sequence<Service>, slices: some Sequence<EndpointSlice>) {
        var byService: [String: [EndpointSlice]] = [:]
        for slice in slices { byService["\(slice.metadata.namespace)/\(slice.serviceName)", default: []].append(slice) }
        var entries: [ServiceEntry] = []
        for service in services.sorted(by: { $0.qualifiedName < $1.qualifiedName }) {
            guard !service.isHeadless, let clusterIP = IPv4Address(service.spec.clusterIP) else { continue }
            let serviceSlices = (byService["\(service.metadata.namespace)/\(service.metadata.name)"] ?? []).sorted { $0.metadata.name < $1.metadata.name }
            let ports: [ServicePortEntry] = service.spec.ports.compactMap { port in
                guard let proto = ServiceProtocol(rawValue: port.effectiveProtocol.rawValue.lowercased()),
                      let number = UInt16(exactly: port.port) else { return nil }
                var endpoints: [ServiceEndpoint] = []
                for slice in serviceSlices {
                    guard let resolved = slice.ports.first(where: { $0.name == port.name && $0.protocol == port.effectiveProtocol }),
                          let target = UInt16(exactly: resolved.port) else { continue }
                    for endpoint in slice.endpoints {
                        for address in endpoint.addresses {
                            guard let ip = IPv4Address(address) else { continue }
                            endpoints.append(ServiceEndpoint(ip: ip, port: target, nodeName: endpoint.nodeName.isEmpty ? nil : endpoint.nodeName,
                                                             ready: endpoint.ready, serving: endpoint.serving, terminating: endpoint.terminating))
                        }
                    }
                }
                endpoints.sort { ($0.ip, $0.port) < ($1.ip, $1.port) }
                return ServicePortEntry(name: port.name, protocol: proto, port: number,
                                        nodePort: port.nodePort == 0 ? nil : UInt16(exactly: port.nodePort), endpoints: endpoints)
            }
            let affinity: ServiceEntry.SessionAffinity = service.spec.sessionAffinity == .clientIP
                ? .clientIP(timeoutSeconds: UInt32(service.spec.affinityTimeoutSeconds ?? ServiceSpec.defaultAffinityTimeout))
                : .none
            entries.append(ServiceEntry(namespace: service.metadata.namespace, name: service.metadata.name, clusterIP: clusterIP,
                                        type: service.spec.effectiveType == .nodePort ? .nodePort : .clusterIP, ports: ports,
                                        sessionAffinity: affinity,
                                        internalTrafficPolicy: service.spec.internalTrafficPolicy == .local ? .local : .cluster))
        }
        self.init(entries)
    }
}
