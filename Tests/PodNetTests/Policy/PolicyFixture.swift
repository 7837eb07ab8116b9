@testable import PodNet

/// A small lab for policy tests: namespaces x, y, z (labelled `ns: <name>`), pods a, b, c in
/// each (labelled `pod: <name>`), a serving `serve-80-tcp` on 80, spread over two nodes.
enum PolicyFixture {
    static let namespaces = ["x", "y", "z"]
    static let podNames = ["a", "b", "c"]

    static func pod(_ namespace: String, _ name: String) -> PolicyPod {
        let n = namespaces.firstIndex(of: namespace)!, p = podNames.firstIndex(of: name)!
        let node = (n + p) % 2 == 0 ? "n1" : "n2"
        return PolicyPod(namespace: namespace, name: name, labels: ["pod": name],
                         address: IPv4Address("10.244.\(node == "n1" ? 1 : 2).\(10 + n * 3 + p)")!, node: node,
                         namedPorts: [.init("serve-80-tcp", .tcp): 80, .init("serve-81-udp", .udp): 81])
    }

    static var pods: [PolicyPod] { namespaces.flatMap { ns in podNames.map { pod(ns, $0) } } }

    static let nodeAddresses: [String: [IPv4Address]] = [
        "n1": [IPv4Address("192.168.200.11")!, IPv4Address("10.244.1.1")!],
        "n2": [IPv4Address("192.168.200.12")!, IPv4Address("10.244.2.1")!],
    ]

    static func world(_ policies: [NetworkPolicy], pods: [PolicyPod] = pods) -> PolicyWorld {
        PolicyWorld(pods: pods, namespaceLabels: Dictionary(uniqueKeysWithValues: namespaces.map { ($0, ["ns": $0, Namespace.nameLabel: $0]) }),
                    policies: policies.map { $0.applyingDefaults() }, nodeAddresses: nodeAddresses)
    }

    static func policy(_ namespace: String, _ name: String, _ spec: String) -> NetworkPolicy {
        try! NetworkPolicy(json: YAMLReader.value(from: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: \(name), namespace: \"\(namespace)\"}\nspec: \(spec)"))
            .applyingDefaults()
    }

    /// The e2e suite's truth table for TCP to `port`: `.` reachable, `X` blocked, rows from, columns to.
    static func truthTable(_ world: PolicyWorld, proto: PortProtocol = .tcp, port: UInt16 = 80) -> String {
        let all = world.pods
        var lines = ["-\t" + all.map { "\($0.namespace)/\($0.name)" }.joined(separator: "\t")]
        for from in all {
            let cells = all.map { to in
                PolicyModel.verdict(in: world, from: .pod(from), to: .pod(to), proto: proto, port: port).isAllowed ? "." : "X"
            }
            lines.append("\(from.namespace)/\(from.name)\t" + cells.joined(separator: "\t"))
        }
        return lines.joined(separator: "\n")
    }

    static func allowed(_ world: PolicyWorld, _ from: String, _ to: String, proto: PortProtocol? = .tcp, port: UInt16 = 80) -> Bool {
        let f = from.split(separator: "/"), t = to.split(separator: "/")
        return PolicyModel.verdict(in: world, from: .pod(pod(String(f[0]), String(f[1]))), to: .pod(pod(String(t[0]), String(t[1]))),
                                   proto: proto, port: port).isAllowed
    }
}
