/// The Service `default/kubernetes`, as kube-apiserver keeps it in every cluster: the first
/// address of the service CIDR (10.96.0.1 by default), port 443 named `https` over TCP, no
/// selector, the labels `component: apiserver` and `provider: kubernetes`. It is made at the
/// lab's start and again whenever it is deleted, and its address is reserved: no other Service
/// may take it, asked for or picked at random.
///
/// Its endpoint is where a real cluster differs. podlab's API is served by the agent on the
/// host's loopback (`https://127.0.0.1:<port>`, the kubeconfig's server), and no lab namespace
/// is ever connected to the host's, so no pod can reach it. The Service therefore has one
/// EndpointSlice with its port and no endpoint (`kubectl get endpoints kubernetes` shows
/// `<none>`), the dataplane refuses a connection to 10.96.0.1:443 at once (a TCP reset, as
/// for any Service without ready endpoints), and the annotation `podlab.dev/endpoints` says why.
public enum APIServerService {
    public static let name = "kubernetes"
    public static let namespace = "default"
    public static let qualifiedName = "default/kubernetes"
    public static let portName = "https"
    public static let port: Int32 = 443
    public static let labels = ["component": "apiserver", "provider": "kubernetes"]
    public static let endpointsAnnotation = "podlab.dev/endpoints"
    public static let endpointsExplanation =
        "none: the API is served by the agent on the host's loopback (the lab's kubeconfig), which no namespace of the lab reaches; "
        + "a connection to this Service is refused"

    /// The service CIDR's first address (its network address + 1), nil for a range without one.
    public static func address(serviceCIDR: IPv4Prefix) -> IPv4Address? {
        serviceCIDR.size > 2 ? serviceCIDR.address(at: 1) : nil
    }

    /// The Service as created (before the API server's defaults), nil when the CIDR has no
    /// first address.
    public static func service(serviceCIDR: IPv4Prefix) -> Service? {
        guard let address = address(serviceCIDR: serviceCIDR) else { return nil }
        var metadata = ObjectMeta(name: name, namespace: namespace, labels: labels)
        metadata.annotations = [endpointsAnnotation: endpointsExplanation]
        var spec = ServiceSpec(type: .clusterIP, ports: [ServicePort(name: portName, protocol: .tcp, port: port, targetPort: .int(port))],
                               clusterIP: address.description)
        spec.sessionAffinity = SessionAffinity.none
        return Service(metadata: metadata, spec: spec)
    }

    /// Whether `service` is the one this type describes (by namespace and name: a Service of
    /// that name can only be this one, which the agent makes).
    public static func isAPIServerService(_ service: Service) -> Bool {
        service.metadata.name == name && (service.metadata.namespace == namespace || service.metadata.namespace.isEmpty)
    }

    /// The content of its one EndpointSlice: the port, no endpoint.
    public static let sliceContent = EndpointSlices.Content(ports: [EndpointPort(name: portName, protocol: .tcp, port: port)], endpoints: [])
}
