extension ServiceTable {
    /// The dataplane's view of the lab's Services and their EndpointSlices: every Service with a
    /// virtual address (headless ones have none to program), each port with the endpoints its
    /// slices list for it (matched by port name and protocol, with the resolved target port).
    public init(services: some Sequence<Service>, slices: some Sequence<EndpointSlice>, pods: some Sequence<Pod> = [Pod]()) {
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
        self.init(entries, hostPorts: ServiceTable.hostPorts(of: pods))
    }

    /// The `hostPort`s of pods that hold an address of their own and have not finished (a
    /// host-network pod listens on its node's ports itself).
    public static func hostPorts(of pods: some Sequence<Pod>) -> [HostPortEntry] {
        var entries: [HostPortEntry] = []
        for pod in pods where !pod.spec.hostNetwork && !(pod.status.phase?.isTerminal ?? false) {
            guard let ip = IPv4Address(pod.status.podIP) else { continue }
            for container in pod.spec.containers {
                for port in container.ports where port.hostPort != 0 {
                    guard let proto = ServiceProtocol(rawValue: port.effectiveProtocol.rawValue.lowercased()),
                          let hostPort = UInt16(exactly: port.hostPort), let containerPort = UInt16(exactly: port.containerPort) else { continue }
                    entries.append(HostPortEntry(node: pod.spec.nodeName, pod: pod.qualifiedName, protocol: proto, hostPort: hostPort,
                                                 podIP: ip, containerPort: containerPort))
                }
            }
        }
        return entries.sorted { ($0.node, $0.hostPort, $0.protocol.rawValue) < ($1.node, $1.hostPort, $1.protocol.rawValue) }
    }
}
