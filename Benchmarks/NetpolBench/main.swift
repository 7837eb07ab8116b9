// The NetworkPolicy dataplane's figures (issue 13, "Performance"): for N pods and N policies
// with mixed selectors, the time to compute a node's ruleset and to program it whole through
// `PolicyDataplane` (one nftables transaction), then one pod's label change through the path the
// agent takes (identities kept, element diff, one transaction); and TCP connect latency from a
// pod to a pod through the node with no policy and with N policies selecting the destination.
// Needs root; everything happens in namespaces it creates under unique names and removes on
// every path.
//
//   netpol-bench [--pods N] [--policies N] [--connects N] [--runs R] [--changes N] [--index-only | --changes-only]
//
// `--index-only` runs only the index's part of a label change (no root needed);
// `--changes-only` that and the label change to the first connection it decides.

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
    var changes = 50
    var indexOnly = false
    var changesOnly = false

    init(_ arguments: [String]) {
        var iterator = arguments.makeIterator()
        while let flag = iterator.next() {
            if flag == "--index-only" || flag == "--changes-only" {
                indexOnly = indexOnly || flag == "--index-only"
                changesOnly = changesOnly || flag == "--changes-only"
                continue
            }
            guard let value = iterator.next(), let number = Int(value), number > 0 else {
                print("usage: netpol-bench [--pods N] [--policies N] [--connects N] [--runs R] [--changes N] [--index-only | --changes-only]")
                exit(2)
            }
            switch flag {
            case "--pods": pods = number
            case "--policies": policies = number
            case "--connects": connects = max(10, number)
            case "--runs": runs = number
            case "--changes": changes = number
            default:
                print("usage: netpol-bench [--pods N] [--policies N] [--connects N] [--runs R] [--changes N] [--index-only | --changes-only]")
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
/// The calling thread's CPU time, in seconds.
func threadCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

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
    var generate: [Double] = [], indexed: [Double] = [], program: [Double] = [], change: [Double] = [], changeSync: [Double] = []
    var elements = 0, changed = 0
    for _ in 0..<options.runs {
        try await withNamespace { namespace in
            var podList = pods(options.pods)
            let clock = ContinuousClock()
            var start = clock.now
            let first = world(pods: podList, policies: options.policies)
            let ruleset = PolicyRules.generate(first, node: "n1", identities: PolicyRules.identities(of: first))
            generate.append(seconds(clock.now - start))
            // What the agent does at its first sync: the index built whole, the node's ruleset read out.
            start = clock.now
            var index = PolicyIndex(first)
            let desired = index.ruleset(node: "n1")
            indexed.append(seconds(clock.now - start))
            elements = desired.elementCount
            guard elements == ruleset.elementCount else { throw BenchError("the index holds \(elements) elements, a full generation \(ruleset.elementCount)") }
            let dataplane = PolicyDataplane()
            start = clock.now
            _ = try await dataplane.sync(node: "n1", namespace: namespace, desired: desired)
            program.append(seconds(clock.now - start))

            // One pod of n1 takes another app label: the index works out the elements, one transaction sends them.
            podList[0].labels["app"] = "app-7"
            start = clock.now
            index.updatePod(namespace: podList[0].namespace, name: podList[0].name, podList[0])
            let delta = index.takeDelta(node: "n1")
            let syncStart = clock.now
            let report = try await dataplane.apply(node: "n1", namespace: namespace, delta: delta)
            changeSync.append(seconds(clock.now - syncStart))
            change.append(seconds(clock.now - start))
            changed = (report?.addedElements ?? -1) + (report?.deletedElements ?? 0)
        }
    }
    print("  ruleset computed whole  \(ms(median(generate))) (PolicyRules.generate), \(ms(median(indexed))) (PolicyIndex built whole)   (\(elements) elements, \(PolicyRules.chains.count) chains)")
    print("  programmed whole        \(ms(median(program)))")
    print("  one label change        \(ms(median(change))) (index + one transaction), of which the transaction \(ms(median(changeSync))); \(changed) elements changed")
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

// MARK: A label change, to the first connection it decides

/// A non-blocking TCP socket in the client pod, made before the change is timed (making it goes
/// through the namespace worker, which is not part of a label change).
func clientSocket(_ lab: LatencyLab) throws -> Int32 {
    let fd: Int32 = try lab.client.perform { socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0) }
    try check(fd, "socket")
    return fd
}

/// Whether a new connection from the client pod's socket `fd` to the server gets through within
/// `timeout`, and when it was issued and when it got through. Closes `fd`.
func tryConnect(_ fd: Int32, listener: Int32, port: UInt16, timeout: Duration)
    throws -> (issued: ContinuousClock.Instant, connected: ContinuousClock.Instant?) {
    defer {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close(fd)
    }
    var target = socketAddress(LatencyLab.serverAddress, port)
    let result = withUnsafePointer(to: &target) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    let connectErrno = errno
    let issued = ContinuousClock.now
    guard result == 0 || connectErrno == EINPROGRESS else { throw BenchError("connect: errno \(connectErrno)") }
    var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
    let millis = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
    guard poll(&entry, 1, millis) == 1 else { return (issued, nil) }
    let connected = ContinuousClock.now
    var error: Int32 = 0
    var length = socklen_t(MemoryLayout<Int32>.size)
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
    guard error == 0 else { throw BenchError("connect: error \(error)") }
    let accepted = accept(listener, nil, nil)
    try check(accepted, "accept")
    close(accepted)
    return (issued, connected)
}

func percentile(_ values: [Double], _ p: Int) -> Double { values.sorted()[min(values.count - 1, values.count * p / 100)] }

/// How a label change's delta reaches the node: `keptSocket` through `PolicyDataplane.apply` (the
/// node's netfilter socket kept open), else as the dataplane did before, a socket opened in the
/// node's namespace for the transaction and closed after it.
enum Delivery: CustomStringConvertible {
    case socketPerTransaction, keptSocket
    var description: String { self == .keptSocket ? "kept socket (now)" : "socket per transaction (before)" }
}

/// The client pod's `role` label toggles between `client` (a policy selecting the server admits
/// it on 8080) and `none`, among N other pods and N policies: each change goes through the
/// agent's path (`PolicyIndex.updatePod`, `takeDelta`, one transaction), timed from the change
/// to the first new connection it decides; once with each `Delivery`, in the same run.
/// The world of `labelChanges`: the client (labelled `role: none`), the server, the benchmark's
/// pods a few subnets up, its policies and one admitting the client to the server.
func labelChangeWorld(_ options: Options, client: PolicyPod, serverPort port: UInt16) -> PolicyWorld {
    let server = PolicyPod(namespace: "ns0", name: "server", labels: ["app": "server"], address: LatencyLab.serverAddress, node: "n1",
                           namedPorts: [.init("http", .tcp): port])
    // The other pods a few subnets up, clear of the two real ones.
    let others = pods(options.pods).map { pod in
        var pod = pod
        pod.address = IPv4Address(pod.address.value + 1024)
        return pod
    }
    let admitClient = NetworkPolicy(metadata: ObjectMeta(name: "admit-client", namespace: "ns0"), spec: NetworkPolicySpec(
        podSelector: LabelSelectorSpec(matchLabels: ["app": "server"]),
        ingress: [NetworkPolicyIngressRule(ports: [NetworkPolicyPort(protocol: .tcp, port: .int(Int32(port)))],
                                           from: [NetworkPolicyPeer(podSelector: LabelSelectorSpec(matchLabels: ["role": "client"]))])])).applyingDefaults()
    let base = world(pods: others, policies: options.policies)
    return PolicyWorld(pods: base.pods + [client, server], namespaceLabels: base.namespaceLabels,
                       policies: base.policies + [admitClient], nodeAddresses: base.nodeAddresses)
}

/// The index's part of `labelChanges` alone: each change gives the client an identity of its own
/// (`role: client`) or takes it back into a shared one, so an identity comes or goes every time.
func indexChanges(_ options: Options) {
    let changes = max(50, options.changes)
    var client = PolicyPod(namespace: "ns0", name: "client", labels: ["role": "none"], address: LatencyLab.clientAddress, node: "n1")
    var index = PolicyIndex(labelChangeWorld(options, client: client, serverPort: 8080))
    var times: [Double] = [], cpu: [Double] = [], elements = 0
    for step in 0..<(2 * changes) {
        client.labels["role"] = step % 2 == 0 ? "client" : "none"
        let start = ContinuousClock.now, startCPU = threadCPUSeconds()
        index.updatePod(namespace: "ns0", name: "client", client)
        let delta = index.takeDelta(node: "n1")
        times.append(seconds(ContinuousClock.now - start))
        cpu.append(threadCPUSeconds() - startCPU)
        elements = delta.count        // The other nodes' deltas, as the agent takes them after n1's (their work is already done in `updatePod`).
        for node in index.nodeNames where node != "n1" { _ = index.takeDelta(node: node) }
    }
    print("a label change's index work (an identity comes or goes; \(options.pods) pods, \(options.policies + 1) policies, \(changes) each way): "
        + "\(ms(percentile(times, 50))) / \(ms(percentile(times, 99))) p50 / p99, \(elements) elements; "
        + "CPU time \(ms(percentile(cpu, 50))) / \(ms(percentile(cpu, 99))) (what a loaded machine's wall times hide)")
}

func labelChanges(_ options: Options) async throws {
    let changes = max(50, options.changes)
    print("a label change among \(options.pods) pods and \(options.policies + 1) policies, to the first new connection (\(changes) each way, p50 / p99)")
    let lab = try LatencyLab.make()
    defer { lab.remove() }
    let port: UInt16 = 8080
    let listener = try lab.listen(port: port)
    defer { close(listener) }
    var client = PolicyPod(namespace: "ns0", name: "client", labels: ["role": "none"], address: LatencyLab.clientAddress, node: "n1")
    var index = PolicyIndex(labelChangeWorld(options, client: client, serverPort: port))
    let declarations = index.ruleset(node: "n1").sets.map(\.declaration)
    _ = try await PolicyDataplane().sync(node: "n1", namespace: lab.node, desired: index.ruleset(node: "n1"))
    guard try tryConnect(clientSocket(lab), listener: listener, port: port, timeout: .milliseconds(300)).connected == nil else {
        throw BenchError("the client got through before any label change")
    }
    for delivery in [Delivery.socketPerTransaction, .keptSocket] {
        // A new dataplane reads the node's table on its first sync and finds nothing to send.
        let dataplane = PolicyDataplane()
        _ = try await dataplane.sync(node: "n1", namespace: lab.node, desired: index.ruleset(node: "n1"))
        var allowed: [Double] = [], denied: [Double] = [], sent: [Double] = [], indexed: [Double] = [], elements = 0
        for step in 0..<(2 * changes) {
            let admit = step % 2 == 0
            client.labels["role"] = admit ? "client" : "none"
            let fd = try clientSocket(lab)
            let start = ContinuousClock.now
            index.updatePod(namespace: "ns0", name: "client", client)
            let delta = index.takeDelta(node: "n1")
            indexed.append(seconds(ContinuousClock.now - start))
            switch delivery {
            case .socketPerTransaction:
                try NFTablesConnection(namespace: lab.node).apply(PolicyDataplane.transaction(for: delta, declarations: declarations))
            case .keptSocket:
                guard try await dataplane.apply(node: "n1", namespace: lab.node, delta: delta) != nil else { throw BenchError("the delta did not fit the node") }
            }
            sent.append(seconds(ContinuousClock.now - start))
            elements = delta.count
            let attempt = try tryConnect(fd, listener: listener, port: port, timeout: .milliseconds(admit ? 1000 : 200))
            if admit {
                guard let connected = attempt.connected else { throw BenchError("change \(step): the admitted client did not get through") }
                allowed.append(seconds(connected - start))
            } else {
                guard attempt.connected == nil else { throw BenchError("change \(step): the client got through after its label was taken away") }
                // A dropped SYN shows only as silence: timed to the connect that met it.
                denied.append(seconds(attempt.issued - start))
            }
            // The other nodes' deltas, as the agent sends them after n1's (their work is done in `updatePod`).
            for node in index.nodeNames where node != "n1" { _ = index.takeDelta(node: node) }
        }
        print("  \(delivery), \(elements) elements a change:")
        print("    change → transaction committed        \(ms(percentile(sent, 50))) / \(ms(percentile(sent, 99)))  (of which the index \(ms(percentile(indexed, 50))) / \(ms(percentile(indexed, 99))))")
        print("    change → first allowed connection     \(ms(percentile(allowed, 50))) / \(ms(percentile(allowed, 99)))  (connected)")
        print("    change → first denied connection      \(ms(percentile(denied, 50))) / \(ms(percentile(denied, 99)))  (its SYN sent; no answer within 200 ms)")
    }
}

/// Where one small transaction's time goes: a socket opened in the node's namespace (through the
/// namespace worker), the commit itself (BEGIN, the element messages each acked, END: all handled
/// inside one sendmsg), and the socket's close; against the same commit on a kept socket, and
/// (the other suspects) an interval set (rbtree) changed by as many elements, and a chain
/// flushed and its rules added again.
func transactionCosts(_ options: Options) async throws {
    let rounds = max(20, options.changes)
    print("one small transaction, where the time goes (\(rounds) rounds, p50 / p99)")
    try await withNamespace { namespace in
        let table = Table(.ip, "costs")
        let hash = NFTSet(table, "hash", key: .typeof([.ipDaddr, .mark, .l4proto, .thDport]), data: .verdict)
        let interval = NFTSet(table, "interval", key: .typeof([.ipDaddr]), flags: .interval)
        let chain = Chain(table, "check")
        let rules = [Rule(chain, [.verdictMap([.ipDaddr, .mark, .l4proto, .thDport], .named("hash"))]), Rule(chain, [.counter, .verdict(.drop)])]
        var setup = Transaction()
        setup.add(table)
        setup.add(hash)
        setup.add(interval)
        setup.add(chain)
        setup.add(rules)
        func hashElement(_ i: Int) -> SetElement {
            SetElement(.concat([.ipv4(IPv4Address(IPv4Address(10, 1, 0, 0).value + UInt32(i))), .mark(UInt32(i % 50)), .inetProtocol(.tcp), .port(80)]), .verdict(.return))
        }
        func prefix(_ i: Int) -> SetElement { SetElement(.ipv4Prefix(try! IPv4Prefix(IPv4Address(IPv4Address(10, 0, 0, 0).value + UInt32(i) * 16), length: 28))) }
        setup.add((0..<12_000).map(hashElement), to: hash)
        setup.add((0..<12_000).map(prefix), to: interval)
        let kept = try NFTablesConnection(namespace: namespace)
        try kept.apply(setup)
        // 20 elements out and 20 in, as a label change's delta.
        func toggle(_ round: Int, _ make: (Int) -> SetElement, _ set: NFTSet) -> Transaction {
            var transaction = Transaction()
            let (out, into) = round % 2 == 0 ? (0..<20, 20_000..<20_020) : (20_000..<20_020, 0..<20)
            transaction.delete(out.map(make), from: set)
            transaction.add(into.map(make), to: set)
            return transaction
        }
        var open: [Double] = [], commit: [Double] = [], closing: [Double] = [], keptCommit: [Double] = [], intervalCommit: [Double] = [], chainCommit: [Double] = []
        let clock = ContinuousClock()
        for round in 0..<rounds {
            let start = clock.now
            var opened = start, committed = start
            do {
                let connection = try NFTablesConnection(namespace: namespace)
                opened = clock.now
                try withExtendedLifetime(connection) {
                    try connection.apply(toggle(round, hashElement, hash))
                    committed = clock.now
                }
            }
            // The socket was released after its last use: its close is done by now.
            let closed = clock.now
            open.append(seconds(opened - start))
            commit.append(seconds(committed - opened))
            closing.append(seconds(closed - committed))
        }
        for round in 0..<rounds {
            keptCommit.append(seconds(clock.measure { try? kept.apply(toggle(round, hashElement, hash)) }))
            intervalCommit.append(seconds(clock.measure { try? kept.apply(toggle(round, prefix, interval)) }))
            var replace = Transaction()
            replace.flush(chain)
            replace.add(rules)
            chainCommit.append(seconds(clock.measure { try? kept.apply(replace) }))
        }
        print("  socket per transaction: open \(ms(percentile(open, 50))) / \(ms(percentile(open, 99))), "
            + "commit \(ms(percentile(commit, 50))) / \(ms(percentile(commit, 99))), close \(ms(percentile(closing, 50))) / \(ms(percentile(closing, 99)))")
        print("  kept socket, hash map (12 000 elements) ±40 elements: \(ms(percentile(keptCommit, 50))) / \(ms(percentile(keptCommit, 99)))")
        print("  kept socket, interval set (rbtree, 12 000) ±40:        \(ms(percentile(intervalCommit, 50))) / \(ms(percentile(intervalCommit, 99)))")
        print("  kept socket, a chain flushed and its 2 rules added:    \(ms(percentile(chainCommit, 50))) / \(ms(percentile(chainCommit, 99)))")
    }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
do {
    indexChanges(options)
    if options.indexOnly { exit(0) }
    if options.changesOnly {
        try await labelChanges(options)
        exit(0)
    }
    try await programming(options)
    try await transactionCosts(options)
    try await labelChanges(options)
    try await latency(options)
} catch {
    print("netpol-bench: \(error)")
    exit(1)
}
