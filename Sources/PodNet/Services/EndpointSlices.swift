/// The endpoints of a service, computed from the pods it selects as the EndpointSlice
/// controller computes them: which pods count, with which conditions, on which ports.
public enum EndpointSlices {
    /// The most endpoints in one slice (the controller's default `--max-endpoints-per-slice`).
    public static let maxEndpointsPerSlice = 100

    /// One slice's content before it has a name: the resolved ports and the endpoints.
    public struct Content: Hashable, Sendable {
        public var ports: [EndpointPort]
        public var endpoints: [Endpoint]
    }

    /// Whether `pod` is an endpoint of a service at all: it has an address and has not
    /// finished. Terminating pods stay, marked `terminating`, so connections can drain.
    public static func counts(_ pod: Pod) -> Bool {
        !pod.status.podIP.isEmpty && !(pod.status.phase?.isTerminal ?? false)
    }

    /// The endpoint `pod` makes: `serving` follows the pod's Ready condition, `ready` is serving
    /// and not terminating; with `publishNotReadyAddresses` every endpoint is ready and serving.
    public static func endpoint(for pod: Pod, publishNotReady: Bool) -> Endpoint {
        let terminating = pod.metadata.deletionTimestamp != nil
        let podReady = pod.status.condition(.ready)?.status == .true
        let serving = publishNotReady || podReady
        return Endpoint(addresses: [pod.status.podIP], ready: publishNotReady || (serving && !terminating), serving: serving,
                        terminating: terminating, nodeName: pod.spec.nodeName,
                        targetRef: ObjectReference(kind: Pod.kind, namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid))
    }

    /// The service's ports as `pod` serves them: a numeric `targetPort` as is, a named one
    /// resolved against the pod's container ports (same name and protocol). A port the pod
    /// does not name is left out for that pod, as Kubernetes does.
    public static func ports(of service: Service, on pod: Pod) -> [EndpointPort] {
        service.spec.ports.compactMap { port in
            let proto = port.effectiveProtocol
            switch port.targetPort ?? .int(port.port) {
            case let .int(number):
                return EndpointPort(name: port.name, protocol: proto, port: number)
            case let .string(name):
                for container in pod.spec.containers {
                    if let match = container.ports.first(where: { $0.name == name && $0.effectiveProtocol == proto }) {
                        return EndpointPort(name: port.name, protocol: proto, port: match.containerPort)
                    }
                }
                return nil
            }
        }
    }

    /// The slices `service` should have, given every pod of the lab: pods with the same
    /// resolved ports share slices of at most `maxEndpointsPerSlice` endpoints, ordered by pod
    /// name. A service that selects no pod has one empty slice (as Kubernetes keeps a
    /// placeholder); a service without a selector has none (its endpoints would be kept by hand),
    /// except `default/kubernetes`, whose one slice has its port and no endpoint
    /// (`APIServerService`: the API is not reachable from the lab).
    public static func desired(for service: Service, pods: some Sequence<Pod>) -> [Content] {
        if APIServerService.isAPIServerService(service) { return [APIServerService.sliceContent] }
        guard !service.spec.selector.isEmpty else { return [] }
        let namespace = service.metadata.namespace
        var groups: [[EndpointPort]: [Endpoint]] = [:]
        var order: [[EndpointPort]] = []
        let selected = pods.filter { pod in
            pod.metadata.namespace == namespace && counts(pod)
                && service.spec.selector.allSatisfy { pod.metadata.labels[$0.key] == $0.value }
        }.sorted { $0.metadata.name < $1.metadata.name }
        for pod in selected {
            let ports = ports(of: service, on: pod)
            if groups[ports] == nil { order.append(ports) }
            groups[ports, default: []].append(endpoint(for: pod, publishNotReady: service.spec.publishNotReadyAddresses))
        }
        guard !order.isEmpty else { return [Content(ports: [], endpoints: [])] }
        var result: [Content] = []
        for ports in order {
            let endpoints = groups[ports] ?? []
            for start in stride(from: 0, to: endpoints.count, by: maxEndpointsPerSlice) {
                result.append(Content(ports: ports, endpoints: Array(endpoints[start..<min(start + maxEndpointsPerSlice, endpoints.count)])))
            }
        }
        return result
    }

    /// What to store so the service's slices hold `desired`: slices whose content is unchanged
    /// are left alone, changed ones keep their names, new ones are named by `newName`
    /// (`<service>-<random>`), and slices no longer needed are deleted.
    public static func reconcile(service: Service, desired: [Content], existing: [EndpointSlice],
                                 newName: () -> String) -> (write: [EndpointSlice], delete: [EndpointSlice]) {
        var unmatched = existing.sorted { $0.metadata.name < $1.metadata.name }
        var pending: [Content] = []
        // Slices that already hold exactly a wanted content stay.
        for content in desired {
            if let index = unmatched.firstIndex(where: { $0.ports == content.ports && $0.endpoints == content.endpoints && labelsMatch($0, service) }) {
                unmatched.remove(at: index)
            } else {
                pending.append(content)
            }
        }
        var writes: [EndpointSlice] = []
        for content in pending {
            // Reuse a slice with the same ports first (its endpoints changed), then any left over.
            let index = unmatched.firstIndex { $0.ports == content.ports } ?? unmatched.indices.first
            var slice: EndpointSlice
            if let index {
                slice = unmatched.remove(at: index)
            } else {
                slice = EndpointSlice(metadata: ObjectMeta(name: newName(), namespace: service.metadata.namespace))
                slice.metadata.preservedFields["generateName"] = .string(service.metadata.name + "-")
            }
            slice.metadata.labels = labels(for: service)
            slice.metadata.preservedFields["ownerReferences"] = .array([.object([
                "apiVersion": .string(Service.apiVersion), "kind": .string(Service.kind), "name": .string(service.metadata.name),
                "uid": .string(service.metadata.uid), "controller": .bool(true), "blockOwnerDeletion": .bool(true),
            ])])
            slice.ports = content.ports
            slice.endpoints = content.endpoints
            writes.append(slice)
        }
        return (writes, unmatched)
    }

    /// The labels of a service's slices: the service's own, its name, who manages them, and
    /// `service.kubernetes.io/headless` for a headless service.
    public static func labels(for service: Service) -> [String: String] {
        var labels = service.metadata.labels
        labels[EndpointSlice.serviceNameLabel] = service.metadata.name
        labels[EndpointSlice.managedByLabel] = EndpointSlice.managedBy
        if service.isHeadless { labels["service.kubernetes.io/headless"] = "" }
        return labels
    }

    static func labelsMatch(_ slice: EndpointSlice, _ service: Service) -> Bool {
        slice.metadata.labels == labels(for: service)
    }

    /// The `v1 Endpoints` view of a service's slices: ready addresses and not-ready ones (not
    /// terminating pods, which the Endpoints controller leaves out), grouped by ports.
    public static func endpoints(for service: Service, slices: [EndpointSlice]) -> Endpoints {
        var subsets: [EndpointSubset] = []
        for slice in slices.sorted(by: { $0.metadata.name < $1.metadata.name }) where !slice.endpoints.isEmpty {
            func address(_ endpoint: Endpoint) -> EndpointSubset.Address {
                EndpointSubset.Address(ip: endpoint.addresses.first ?? "", nodeName: endpoint.nodeName, targetRef: endpoint.targetRef)
            }
            let ready = slice.endpoints.filter(\.ready).map(address)
            let notReady = slice.endpoints.filter { !$0.ready && !$0.terminating }.map(address)
            guard !ready.isEmpty || !notReady.isEmpty else { continue }
            if let index = subsets.firstIndex(where: { $0.ports == slice.ports }) {
                subsets[index].addresses += ready
                subsets[index].notReadyAddresses += notReady
            } else {
                subsets.append(EndpointSubset(addresses: ready, notReadyAddresses: notReady, ports: slice.ports))
            }
        }
        var metadata = ObjectMeta(name: service.metadata.name, namespace: service.metadata.namespace, labels: service.metadata.labels)
        metadata.creationTimestamp = service.metadata.creationTimestamp
        return Endpoints(metadata: metadata, subsets: subsets)
    }
}
