// The NetworkPolicy dataplane's figures (issue 13, "Performance"): for N pods and N policies
// with mixed selectors, the time to compute a node's ruleset and to program it whole through
// `PolicyDataplane` (one nftables transaction), then one pod's label change through the path the
// agent takes (identities kept, element diff, one transaction); and TCP connect latency from a
// pod to a pod through the node with no policy and with N policies selecting the destination.
// Needs root; everything happens in namespaces it creates under unique names and removes on
// every path.
//
//   netpol-bench [--pods N] [--policies N] [--connects N] [--runs R]

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Netlink
import Netns
import NFTables
import PodlabAgent
import PodNet

struct Options {
    var pods = 1_000
    var policies = 1_000
    var connects = 2_000
    var runs = 3

    init(_ arguments: [String]) {
        var iterator = arguments.makeIterator()
        while let flag = iterator.next() {
            guard let value = iterator.next(), let number = Int(value), number > 0 else {
                print("usage: netpol-bench [--pods N] [--policies N] [--connects N] [--runs R]")
                exit(2)
            }
            switch flag {
            case "--pods": pods = number
            case "--policies": policies = number
            case "--connects": connects = max(10, number)
            case "--runs": runs = number
            default:
                print("usage: netpol-bench [--pods N] [--policies N] [--connects N] [--runs R]")
                exit(2)
            }
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func seconds(_ duration: Duration) -> Double { Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18 }
func ms(_ s: Double) -> String { String((s * 100_000).rounded() / 100) + " ms" }
func us(_ s: Double) -> String { String((s * 10_000_000).rounded() / 10) + " µs" }
func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

let namespaces = (0..<10).map { "ns\($0)" }

/// `count` pods over 10 namespaces and 2 nodes, labelled `app: app-<i % 50>`, `tier: <i % 3>`.
func pods(_ count: Int) -> [PolicyPod] {
    (0..<count).map { i in
        PolicyPod(namespace: namespaces[i % namespaces.count], name: "pod-\(i)", labels: ["app": "app-\(i % 50)", "tier": "t\(i % 3)"],
                  address: IPv4Address(IPv4Address(10, 244, 0, 0).value + UInt32(i % 2 == 0 ? 256 : 512) + UInt32(i / 2) + 2),
                  node: i % 2 == 0 ? "n1" : "n2", namedPorts: [.init("http", .tcp): 8080])
    }
}

/// Policy `i`: a pod selector by app; ingress from a pod selector, a namespace selector, both,
/// or an ipBlock, on a port, a named port or a range; every fifth with an egress rule.
func policy(_ i: Int, namespace: String) -> NetworkPolicy {
    let peers: [NetworkPolicyPeer] = switch i % 4 {
    case 0: [NetworkPolicyPeer(podSelector: LabelSelectorSpec(matchLabels: ["app": "app-\((i + 1) % 50)"]))]
    case 1: [NetworkPolicyPeer(namespaceSelector: LabelSelectorSpec(matchLabels: ["name": namespaces[(i + 3) % namespaces.count]]))]
    case 2: [NetworkPolicyPeer(podSelector: LabelSelectorSpec(matchLabels: ["tier": "t\(i % 3)"]),
                               namespaceSelector: LabelSelectorSpec(matchExpressions: [LabelSelectorRequirementSpec(key: "name", operator: "In", values: ["ns1", "ns2"])]))]
    default: [NetworkPolicyPeer(ipBlock: IPBlock(cidr: "10.244.0.0/16", except: ["10.244.1.0/28"]))]
    }
    let ports: [NetworkPolicyPort] = switch i % 3 {
    case 0: [NetworkPolicyPort(protocol: .tcp, port: .int(80))]
    case 1: [NetworkPolicyPort(protocol: .tcp, port: .string("http"))]
    default: [NetworkPolicyPort(protocol: .tcp, port: .int(8000), endPort: 8003)]
    }
    var spec = NetworkPolicySpec(podSelector: LabelSelectorSpec(matchLabels: ["app": "app-\(i % 50)"]), ingress: [NetworkPolicyIngressRule(ports: ports, from: peers)])
    if i % 5 == 0 { spec.egress = [NetworkPolicyEgressRule(ports: [NetworkPolicyPort(protocol: .udp, port: .int(53))])] }
    return NetworkPolicy(metadata: ObjectMeta(name: "policy-\(i)", namespace: namespace), spec: spec).applyingDefaults()
}

func world(pods: [PolicyPod], policies: Int) -> PolicyWorld {
    PolicyWorld(pods: pods, namespaceLabels: Dictionary(uniqueKeysWithValues: namespaces.map { ($0, ["name": $0]) }),
                policies: (0..<policies).map { policy($0, namespace: namespaces[$0 % namespaces.count]) },
                nodeAddresses: ["n1": [IPv4Address(10, 244, 1, 1), IPv4Address(192, 168, 200, 11)],
                                "n2": [IPv4Address(10, 244, 2, 1), IPv4Address(192, 168, 200, 12)]])
}

func withNamespace<T>(_ body: (NetworkNamespace) async throws -> T) async throws -> T {
    let namespace = try NetworkNamespace.create("plnpb" + String(UInt32.random(in: 0...UInt32.max), radix: 16))
    defer { try? NetworkNamespace.delete(namespace.name, ignoreMissing: true) }
    return try await body(namespace)
}

func programming(_ options: Options) async throws {
    print("\(options.pods) pods, \(options.policies) policies (mixed selectors), node n1, \(options.runs) runs: median")
    var generate: [Double] = [], program: [Double] = [], change: [Double] = [], changeSync: [Double] = []
    var elements = 0, changed = 0
    for _ in 0..<options.runs {
        try await withNamespace { namespace in
            var podList = pods(options.pods)
            let clock = ContinuousClock()
            var start = clock.now
            let first = world(pods: podList, policies: options.policies)
            let identities = PolicyRules.identities(of: first)
            let ruleset = PolicyRules.generate(first, node: "n1", identities: identities)
            generate.append(seconds(clock.now - start))
            elements = ruleset.elementCount
            let dataplane = PolicyDataplane()
            start = clock.now
            _ = try await dataplane.sync(node: "n1", namespace: namespace, desired: ruleset)
            program.append(seconds(clock.now - start))

            // One pod of n1 takes another app label: regenerate with the kept identities, send the diff.
            podList[0].labels["app"] = "app-7"
            start = clock.now
            let second = world(pods: podList, policies: options.policies)
            let next = PolicyRules.generate(second, node: "n1", identities: PolicyRules.identities(of: second, previous: identities))
            let syncStart = clock.now
            let report = try await dataplane.sync(node: "n1", namespace: namespace, desired: next)
            changeSync.append(seconds(clock.now - syncStart))
            change.append(seconds(clock.now - start))
            changed = report.addedElements + report.deletedElements
        }
    }
    print("  ruleset computed        \(ms(median(generate)))   (\(elements) elements, \(PolicyRules.chains.count) chains)")
    print("  programmed whole        \(ms(median(program)))")
    print("  one label change        \(ms(median(change))) end to end (compute + diff + kernel), of which the transaction \(ms(median(changeSync))); \(changed) elements changed")
}

// MARK: Connect latency

/// A node with a client pod and a server pod, as the lab wires them.
struct LatencyLab {
    var node: NetworkNamespace
    var client: NetworkNamespace
    var server: NetworkNamespace
    var names: [String]
    static let clientAddress = IPv4Address(10, 244, 1, 2)
    static let serverAddress = IPv4Address(10, 244, 1, 3)

    static func make() throws -> LatencyLab {
        let prefix = "plnpl" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        var names: [String] = []
        do {
            let (nodeNamespace, nodeNetlink) = try RouteNetlink.createNamespace(prefix + "n")
            names.append(nodeNamespace.name)
            try Sysctl.set([Sysctl.ipForwarding, Sysctl.Setting("net/ipv4/conf/all/send_redirects", "0"),
                            Sysctl.Setting("net/ipv4/conf/default/send_redirects", "0")], in: nodeNamespace)
            let gateway = IPv4Address(10, 244, 1, 1)
            let bridge = try nodeNetlink.createBridge(name: "cni0", up: true)
            try nodeNetlink.addAddress(InterfaceAddress(interfaceIndex: bridge.index, try IPv4Interface(gateway, length: 24)))
            try nodeNetlink.setUp(.name("lo"))
            var pods: [NetworkNamespace] = []
            for (index, address) in [clientAddress, serverAddress].enumerated() {
                let (namespace, pod) = try RouteNetlink.createNamespace(prefix + "p\(index)")
                names.append(namespace.name)
                _ = try nodeNetlink.setUpPodInterface(PodInterfaceConfiguration(hostInterfaceName: "vb\(index)", address: address, gateway: gateway),
                                                      bridge: bridge, pod: pod, podNamespace: namespace)
                pods.append(namespace)
            }
            return LatencyLab(node: nodeNamespace, client: pods[0], server: pods[1], names: names)
        } catch {
            for name in names { try? NetworkNamespace.delete(name, ignoreMissing: true) }
            throw error
        }
    }

    func remove() {
        for name in names { try? NetworkNamespace.delete(name, ignoreMissing: true) }
    }

    func listen(port: UInt16) throws -> Int32 {
        let listener: Int32 = try server.perform { socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        try check(listener, "socket")
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var any = socketAddress(IPv4Address.any, port)
        do {
            try check(withUnsafePointer(to: &any) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }, "bind")
            try check(Glibc.listen(listener, 1024), "listen")
        } catch {
            close(listener)
            throw error
        }
        return listener
    }
}

func check(_ result: Int32, _ what: String) throws {
    guard result >= 0 else { throw BenchError("\(what): errno \(errno)") }
}

func socketAddress(_ address: IPv4Address, _ port: UInt16) -> sockaddr_in {
    var socketAddress = sockaddr_in()
    socketAddress.sin_family = sa_family_t(AF_INET)
    socketAddress.sin_port = port.bigEndian
    socketAddress.sin_addr.s_addr = address.value.bigEndian
    return socketAddress
}

/// Median and p99 of `count` blocking TCP connects from the client pod to the server pod.
func connectTimes(_ lab: LatencyLab, listener: Int32, port: UInt16, count: Int) throws -> (median: Double, p99: Double) {
    var times: [Double] = []
    let clock = ContinuousClock()
    var target = socketAddress(LatencyLab.serverAddress, port)
    var done = 0
    while done < count {
        let sockets: [Int32] = try lab.client.perform {
            (0..<min(200, count - done)).map { _ in socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        }
        for fd in sockets {
            try check(fd, "socket")
            let start = clock.now
            let result = withUnsafePointer(to: &target) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            let elapsed = clock.now - start
            try check(result, "connect")
            times.append(seconds(elapsed))
            let accepted = accept(listener, nil, nil)
            try check(accepted, "accept")
            close(accepted)
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            close(fd)
        }
        done += sockets.count
    }
    times.sort()
    return (times[times.count / 2], times[min(times.count - 1, times.count * 99 / 100)])
}

func latency(_ options: Options) async throws {
    print("TCP connect pod → pod through the node (\(options.connects) connects, median / p99)")
    let lab = try LatencyLab.make()
    defer { lab.remove() }
    let port: UInt16 = 8080
    let listener = try lab.listen(port: port)
    defer { close(listener) }
    let client = PolicyPod(namespace: "ns0", name: "client", labels: ["role": "client"], address: LatencyLab.clientAddress, node: "n1")
    let server = PolicyPod(namespace: "ns0", name: "server", labels: ["app": "server"], address: LatencyLab.serverAddress, node: "n1",
                           namedPorts: [.init("http", .tcp): port])
    let dataplane = PolicyDataplane()
    for count in [0, options.policies] {
        // `count` policies select the server; each allows the client on another port, the last on 8080.
        let policies = (0..<count).map { i in
            NetworkPolicy(metadata: ObjectMeta(name: "p\(i)", namespace: "ns0"), spec: NetworkPolicySpec(
                podSelector: LabelSelectorSpec(matchLabels: ["app": "server"]),
                ingress: [NetworkPolicyIngressRule(ports: [NetworkPolicyPort(protocol: .tcp, port: .int(i == count - 1 ? Int32(port) : Int32(10_000 + i)))],
                                                   from: [NetworkPolicyPeer(podSelector: LabelSelectorSpec(matchLabels: ["role": "client"]))])])).applyingDefaults()
        }
        let world = PolicyWorld(pods: [client, server], namespaceLabels: ["ns0": [:]], policies: policies,
                                nodeAddresses: ["n1": [IPv4Address(10, 244, 1, 1)]])
        _ = try await dataplane.sync(node: "n1", namespace: lab.node, desired: PolicyRules.generate(world, node: "n1"))
        _ = try connectTimes(lab, listener: listener, port: port, count: 100)  // warm up
        let measured = try connectTimes(lab, listener: listener, port: port, count: options.connects)
        print("  \(count) policies selecting the server: \(us(measured.median)) / \(us(measured.p99))")
    }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
do {
    try await programming(options)
    try await latency(options)
} catch {
    print("netpol-bench: \(error)")
    exit(1)
}
