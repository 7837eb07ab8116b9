@testable import PodNet

/// A small lab for the connectivity tests. Addresses:
///
///   node n1: gateway 10.244.1.1, underlay 192.168.200.11; pods a (nginx) 10.244.1.2, c (busybox, no listener) 10.244.1.3
///   node n2: gateway 10.244.2.1, underlay 192.168.200.12; pod b (echo on 8080 + httpd on 80) 10.244.2.2
///   pending pod p (no address) and pod d being deleted take no part.
enum Lab {
    static let t0 = Timestamp(secondsSince1970: 1_700_000_000)
    static let n1 = LabSnapshot.Node(name: "n1", gateway: IPv4Address(10, 244, 1, 1), podCIDR: IPv4Prefix("10.244.1.0/24"),
                                     underlayAddress: IPv4Address(192, 168, 200, 11))
    static let n2 = LabSnapshot.Node(name: "n2", gateway: IPv4Address(10, 244, 2, 1), podCIDR: IPv4Prefix("10.244.2.0/24"),
                                     underlayAddress: IPv4Address(192, 168, 200, 12))

    /// A pod with every container running (started at `t0` + its index), or in `states`.
    static func pod(_ name: String, namespace: String = "default", node: String, ip: String, _ containers: [Container],
                    states: [String: ContainerState] = [:], labels: [String: String] = [:], phase: PodPhase = .running) -> Pod {
        var pod = Pod(metadata: ObjectMeta(name: name, namespace: namespace, labels: labels),
                      spec: PodSpec(containers: containers, nodeName: node))
        pod.status = PodStatus(phase: phase, podIP: ip, podIPs: ip.isEmpty ? [] : [PodIP(ip: ip)])
        pod.status.containerStatuses = containers.enumerated().map { index, container in
            ContainerStatus(name: container.name, state: states[container.name] ?? .running(startedAt: t0.adding(seconds: Int64(index))),
                            ready: states[container.name] == nil, image: container.image)
        }
        return pod
    }

    static let a = pod("a", node: "n1", ip: "10.244.1.2", [Container(name: "web", image: "nginx")], labels: ["app": "web"])
    static let b = pod("b", node: "n2", ip: "10.244.2.2", [
        Container(name: "echo", image: "podlab/echo"),
        Container(name: "web", image: "httpd"),
    ], labels: ["app": "echo"])
    static let c = pod("c", node: "n1", ip: "10.244.1.3", [Container(name: "shell", image: "busybox", command: ["sleep", "3600"])])
    static let pending = pod("p", node: "n1", ip: "", [Container(name: "web", image: "nginx")], phase: .pending)
    static let deleting: Pod = {
        var deleted = Lab.pod("d", node: "n2", ip: "10.244.2.9", [Container(name: "web", image: "nginx")])
        deleted.metadata.deletionTimestamp = t0
        return deleted
    }()

    static func snapshot(_ pods: [Pod] = [a, b, c, pending, deleting]) -> LabSnapshot {
        LabSnapshot(lab: "lab", clusterCIDR: IPv4Prefix("10.244.0.0/16")!, serviceCIDR: IPv4Prefix("10.96.0.0/16"),
                    nodes: [n1, n2], pods: pods)
    }
}

extension ConnectivityCheck {
    /// `kind from→to:port`, for compact expectations.
    var line: String {
        guard let probe else { return "model \(to)" }
        return "\(probe.kind.rawValue) \(from)→\(probe.to)\(probe.port.map { ":\($0)" } ?? "") \(expected.rawValue)"
    }
}
