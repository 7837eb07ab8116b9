import PodNet

/// A small lab's Services, as node n1 of a two-node lab sees them.
enum ServiceFixture {
    static func ip(_ text: String) -> IPv4Address { IPv4Address(text)! }

    static let n1 = ServiceNode(name: "n1", underlayIP: ip("192.168.200.11"), podCIDR: IPv4Prefix("10.244.1.0/24")!,
                                clusterCIDR: IPv4Prefix("10.244.0.0/16")!, serviceCIDR: IPv4Prefix("10.96.0.0/16")!)
    static let n2 = ServiceNode(name: "n2", underlayIP: ip("192.168.200.12"), podCIDR: IPv4Prefix("10.244.2.0/24")!,
                                clusterCIDR: IPv4Prefix("10.244.0.0/16")!, serviceCIDR: IPv4Prefix("10.96.0.0/16")!)

    static let a = ServiceEndpoint(ip: ip("10.244.1.2"), port: 8080, nodeName: "n1")
    static let b = ServiceEndpoint(ip: ip("10.244.2.2"), port: 8080, nodeName: "n2")
    static let notReady = ServiceEndpoint(ip: ip("10.244.2.3"), port: 8080, nodeName: "n2", ready: false)
    static let draining = ServiceEndpoint(ip: ip("10.244.2.4"), port: 80, nodeName: "n2", ready: false, serving: true, terminating: true)

    static let web = ServiceEntry(name: "web", clusterIP: ip("10.96.0.10"), ports: [ServicePortEntry(name: "http", port: 80, endpoints: [b, a, notReady])])
    static let dns = ServiceEntry(namespace: "kube-system", name: "kube-dns", clusterIP: ip("10.96.0.53"), ports: [
        ServicePortEntry(name: "dns", protocol: .udp, port: 53, endpoints: [ServiceEndpoint(ip: ip("10.244.2.9"), port: 53, nodeName: "n2")]),
        ServicePortEntry(name: "dns-tcp", protocol: .tcp, port: 53, endpoints: [ServiceEndpoint(ip: ip("10.244.2.9"), port: 53, nodeName: "n2")]),
    ])
    static let empty = ServiceEntry(name: "empty", clusterIP: ip("10.96.0.20"), ports: [ServicePortEntry(port: 80, endpoints: [notReady])])
    static let drain = ServiceEntry(name: "drain", clusterIP: ip("10.96.0.21"), ports: [ServicePortEntry(port: 80, endpoints: [notReady, draining])])
    static let sticky = ServiceEntry(name: "sticky", clusterIP: ip("10.96.0.30"), type: .nodePort,
                                     ports: [ServicePortEntry(name: "http", port: 80, nodePort: 30080, endpoints: [a, b])],
                                     sessionAffinity: .clientIP(timeoutSeconds: 10800))
    static let local = ServiceEntry(name: "local", clusterIP: ip("10.96.0.40"), ports: [ServicePortEntry(port: 80, endpoints: [b])],
                                    internalTrafficPolicy: .local)
    static let headless = ServiceEntry(name: "headless", clusterIP: nil, ports: [ServicePortEntry(port: 80, endpoints: [a])])

    static let table = ServiceTable([web, dns, empty, drain, sticky, local, headless])
}
