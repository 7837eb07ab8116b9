// The Service dataplane's figures (issue 11, "Performance"): full syncs of N Services × 2
// endpoints through `ServiceDataplane` (model → ruleset → one nftables transaction), the
// kube-proxy nftables layout loaded with `nft -f` beside it, and TCP connect latency through a
// ClusterIP against the pod address directly. Needs root; everything happens in namespaces it
// creates under unique names and removes on every path.
//
// One Service changed at the largest count through the incremental path the agent takes, and
// network programming latency: a pod turning Ready behind a Service with 10 000 others present,
// until it answers through the ClusterIP (polled from a pod), before and after.
//
//   services-bench [--services N,N,...] [--kube-proxy N] [--latency N,N] [--connects N] [--runs R]
//                  [--programming N] [--transitions T] [--dns-names N]
//   services-bench --lab NAME [--lab-services N] [--lab-transitions T]   (LabProgramming.swift)

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Netlink
import Netns
import NFTables
import PodlabAgent
import PodNet
import PodlabTools

struct Options {
    var serviceCounts = [1_000, 10_000, 20_000]
    var kubeProxyCount = 1_000
    var latencyCounts = [10, 10_000]
    var connects = 2_000
    var runs = 3
    var programmingCount = 10_000
    var transitions = 200
    /// A lab brought up for the benchmark: measure programming latency through its agent.
    var lab: String?
    var labServices = 10_000
    var labTransitions = 100
    var dnsNames = 10_000

    init(_ arguments: [String]) {
        var index = 0
        func list(_ text: String) -> [Int] { text.split(separator: ",").compactMap { Int($0) } }
        while index < arguments.count {
            let value = index + 1 < arguments.count ? arguments[index + 1] : ""
            switch arguments[index] {
            case "--services": serviceCounts = list(value)
            case "--kube-proxy": kubeProxyCount = Int(value) ?? 0
            case "--latency": latencyCounts = list(value)
            case "--connects": connects = max(10, Int(value) ?? 2_000)
            case "--runs": runs = max(1, Int(value) ?? 3)
            case "--programming": programmingCount = Int(value) ?? 0
            case "--transitions": transitions = max(10, Int(value) ?? 200)
            case "--dns-names": dnsNames = max(0, Int(value) ?? 10_000)
            case "--lab": lab = value
            case "--lab-services": labServices = max(0, Int(value) ?? 10_000)
            case "--lab-transitions": labTransitions = max(1, Int(value) ?? 100)
            default:
                print("usage: services-bench [--services N,N] [--kube-proxy N] [--latency N,N] [--connects N] [--runs R] [--programming N] [--transitions T] [--dns-names N]")
                print("       services-bench --lab NAME [--lab-services N] [--lab-transitions T]")
                exit(2)
            }
            index += 2
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

let node = ServiceNode(name: "n1", underlayIP: IPv4Address(192, 168, 200, 11), podCIDR: IPv4Prefix("10.244.1.0/24")!,
                       clusterCIDR: IPv4Prefix("10.244.0.0/16")!, serviceCIDR: IPv4Prefix("10.96.0.0/12")!)

func vip(_ i: Int) -> IPv4Address { IPv4Address(IPv4Address(10, 96, 0, 0).value + UInt32(i) + 1) }
func endpointAddress(_ i: Int, _ j: Int) -> IPv4Address { IPv4Address(IPv4Address(10, 244, 0, 0).value + UInt32((i * 2 + j) % 65_000) + 2) }

/// N Services with 2 ready endpoints each; `extra` comes first (the ones traffic uses).
func serviceTable(_ count: Int, extra: [ServiceEntry] = []) -> ServiceTable {
    ServiceTable(extra + (0..<count).map { i in
        ServiceEntry(name: "svc-\(i)", clusterIP: vip(i), ports: [ServicePortEntry(name: "http", port: 80, endpoints: (0..<2).map { j in
            ServiceEndpoint(ip: endpointAddress(i, j), port: 8080, nodeName: "n\(j + 1)")
        })])
    })
}

/// CPU time of the process (user and system: the kernel's work on a batch happens in the
/// sending thread's system call). On a machine shared with other work it shows what a sync
/// costs when wall-clock time also counts waiting for a CPU.
func processCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

func seconds(_ duration: Duration) -> Double { Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18 }
func ms(_ s: Double) -> String { String((s * 100_000).rounded() / 100) + " ms" }
func us(_ s: Double) -> String { String((s * 10_000_000).rounded() / 10) + " µs" }
func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count) }

/// A namespace under a unique name, deleted afterwards.
func withNamespace<T>(_ body: (NetworkNamespace) async throws -> T) async throws -> T {
    let namespace = try NetworkNamespace.create("plsvcb" + String(UInt32.random(in: 0...UInt32.max), radix: 16))
    defer { try? NetworkNamespace.delete(namespace.name, ignoreMissing: true) }
    return try await body(namespace)
}

// MARK: Full syncs

func fullSyncs(_ options: Options) async throws {
    print("full sync into an empty node namespace, N Services × 2 endpoints (median of \(options.runs); generate = model → ruleset value, apply = diff + lowering + batch + kernel; wall-clock, and the process's CPU time)")
    var perService: [Double] = []
    for count in options.serviceCounts {
        let table = serviceTable(count)
        var generate: [Double] = [], apply: [Double] = [], diff: [Double] = [], kernel: [Double] = [], cpu: [Double] = [], elements = 0
        for _ in 0..<options.runs {
            try await withNamespace { namespace in
                let dataplane = ServiceDataplane()
                let cpuBefore = processCPUSeconds()
                let report = try await dataplane.sync(node: node, namespace: namespace, table: table)
                cpu.append(processCPUSeconds() - cpuBefore)
                generate.append(report.generateSeconds)
                apply.append(report.applySeconds)
                diff.append(report.diffSeconds)
                kernel.append(report.kernelSeconds)
                elements = report.diff.addedElementCount
            }
        }
        let total = median(zip(generate, apply).map { $0 + $1 })
        perService.append(total / Double(count))
        print("  " + pad("\(count) services (\(elements) elements)", 36) + "total " + pad(ms(total), 12) + "generate " + pad(ms(median(generate)), 12)
              + "apply " + pad(ms(median(apply)), 12) + us(total / Double(count)) + "/service")
        print("  " + pad("", 36) + "of apply: diff + lowering " + pad(ms(median(diff)), 12) + "batch + kernel " + pad(ms(median(kernel)), 12)
              + "CPU time of the whole sync " + ms(median(cpu)))
    }
    if let first = perService.first, let last = perService.last, perService.count > 1 {
        print("  linearity: per-service cost at the largest count is \(String((last / first * 100).rounded() / 100))× that at the smallest")
    }
    // One endpoint replaced at the largest count: what a pod turning Ready costs the node.
    if let count = options.serviceCounts.max() {
        try await withNamespace { namespace in
            let dataplane = ServiceDataplane()
            var table = serviceTable(count)
            try await dataplane.sync(node: node, namespace: namespace, table: table)
            var times: [Double] = []
            var kernel: [Double] = []
            for run in 0..<max(options.runs, 5) {
                // The second endpoint (the higher address, on another node) moves to a higher one: its index stays.
                table.services[run].ports[0].endpoints[1] = ServiceEndpoint(ip: IPv4Address(10, 245, 0, UInt8(run + 1)), port: 8080, nodeName: "n2")
                let start = ContinuousClock.now
                let report = try await dataplane.apply(ServiceRules.generate(for: table, node: node), node: node.name, namespace: namespace)
                times.append(seconds(ContinuousClock.now - start))
                kernel.append(report.kernelSeconds)
                guard report.diff.addedElementCount == 1, report.diff.deletedElementCount == 1 else { throw BenchError("replace sent \(report.diff)") }
            }
            print("  " + pad("replace one endpoint at \(count) services", 36) + "total " + pad(ms(median(times)), 12)
                  + "of which batch + kernel " + ms(median(kernel)) + " (the whole model regenerated and diffed; 1 element out, 1 in)")
        }
        try await incrementalChanges(count: count, runs: max(options.runs * 40, 100))
    }
}

/// Network programming as the agent does it: the changed Service's key passed down, only its
/// fragment generated again and its elements sent. p50 / p99 over `runs` changes of each kind.
func incrementalChanges(count: Int, runs: Int) async throws {
    try await withNamespace { namespace in
        let dataplane = ServiceDataplane()
        let table = serviceTable(count)
        var services = Dictionary(uniqueKeysWithValues: table.services.map { ($0.qualifiedName, $0) })
        try await dataplane.sync(node: node, namespace: namespace, services: services, hostPorts: [], changed: services.keys)
        func percentile(_ values: [Double], _ p: Int) -> Double { values.sorted()[min(values.count - 1, values.count * p / 100)] }
        var replace: [Double] = [], kernel: [Double] = [], grow: [Double] = [], shrink: [Double] = []
        for run in 0..<runs {
            let key = "default/svc-\(run % count)"
            // One endpoint replaced (its index stays), as a pod replaced behind a Service.
            services[key]?.ports[0].endpoints[1] = ServiceEndpoint(ip: IPv4Address(IPv4Address(10, 245, 0, 1).value + UInt32(run)), port: 8080, nodeName: "n2")
            var report = try await dataplane.sync(node: node, namespace: namespace, services: services, hostPorts: [], changed: [key])
            guard report.attempts == 1, report.diff.addedElementCount == 1, report.diff.deletedElementCount == 1 else { throw BenchError("incremental replace sent \(report.diff)") }
            replace.append(report.generateSeconds + report.applySeconds)
            kernel.append(report.kernelSeconds)
            // A third endpoint turns ready (the Service moves to lb-tcp-3), then goes again.
            services[key]?.ports[0].endpoints.append(ServiceEndpoint(ip: IPv4Address(10, 246, 0, 1), port: 8080, nodeName: "n1"))
            report = try await dataplane.sync(node: node, namespace: namespace, services: services, hostPorts: [], changed: [key])
            grow.append(report.generateSeconds + report.applySeconds)
            services[key]?.ports[0].endpoints.removeLast()
            report = try await dataplane.sync(node: node, namespace: namespace, services: services, hostPorts: [], changed: [key])
            shrink.append(report.generateSeconds + report.applySeconds)
        }
        print("  " + pad("incremental, one Service changed at \(count) services (\(runs) each, p50 / p99)", 36))
        print("  " + pad("  endpoint replaced", 36) + "total " + pad(ms(percentile(replace, 50)) + " / " + ms(percentile(replace, 99)), 24)
              + "of which batch + kernel " + ms(percentile(kernel, 50)))
        print("  " + pad("  endpoint added (lb-tcp-3)", 36) + "total " + ms(percentile(grow, 50)) + " / " + ms(percentile(grow, 99)))
        print("  " + pad("  endpoint removed (lb-tcp-2)", 36) + "total " + ms(percentile(shrink, 50)) + " / " + ms(percentile(shrink, 99)))
    }
}

// MARK: kube-proxy's layout through nft -f

/// kube-proxy's nftables layout (pkg/proxy/nftables): a chain per Service with an anonymous
/// `numgen random mod N vmap`, a chain per endpoint, masquerade marks.
func kubeProxyScript(_ count: Int) -> String {
    var lines = [
        "add table ip kube-proxy",
        "add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority -100 ; }",
        "add chain ip kube-proxy services",
        "add chain ip kube-proxy mark-for-masquerade",
        "add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }",
        "add rule ip kube-proxy mark-for-masquerade meta mark set meta mark or 0x4000",
        "add rule ip kube-proxy nat-prerouting jump services",
        "add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips",
    ]
    for i in 0..<count {
        let service = "service-\(String(i, radix: 36))-default/svc-\(i)/tcp/http"
        var targets: [String] = []
        for j in 0..<2 {
            let endpoint = "endpoint-\(String(i, radix: 36))-\(j)-default/svc-\(i)/tcp/http__\(endpointAddress(i, j))/8080"
            lines.append("add chain ip kube-proxy \(endpoint)")
            lines.append("add rule ip kube-proxy \(endpoint) ip saddr \(endpointAddress(i, j)) jump mark-for-masquerade")
            lines.append("add rule ip kube-proxy \(endpoint) meta l4proto tcp dnat to \(endpointAddress(i, j)):8080")
            targets.append("\(j) : goto \(endpoint)")
        }
        lines.append("add chain ip kube-proxy \(service)")
        lines.append("add rule ip kube-proxy \(service) ip daddr \(vip(i)) tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade")
        lines.append("add rule ip kube-proxy \(service) numgen random mod 2 vmap { \(targets.joined(separator: " , ")) }")
        lines.append("add element ip kube-proxy service-ips { \(vip(i)) . tcp . 80 : goto \(service) }")
    }
    return lines.joined(separator: "\n") + "\n"
}

func kubeProxy(_ count: Int, runs: Int) async throws {
    let path = "/tmp/podlab-services-bench-\(getpid()).nft"
    guard let file = fopen(path, "w") else { throw BenchError("cannot write \(path)") }
    fputs(kubeProxyScript(count), file)
    fclose(file)
    defer { unlink(path) }
    var times: [Double] = []
    for _ in 0..<runs {
        try await withNamespace { namespace in
            let clock = ContinuousClock()
            var status: TerminationStatus = .exited(0)
            let duration = try clock.measure {
                let child = try Spawner.spawn(SpawnRequest(executable: "nft", arguments: ["-f", path], environment: ["PATH": Spawner.defaultPath],
                                                           stderr: .inherit, networkNamespace: namespace.name, newSession: false))
                status = try child.wait()
            }
            guard status == .exited(0) else { throw BenchError("nft -f exited with \(status)") }
            times.append(seconds(duration))
        }
    }
    print("  " + pad("kube-proxy layout, \(count) services, nft -f", 36) + "total " + ms(median(times)) + " (exec + parse + kernel)")
}

// MARK: Connect latency

/// A node with a client pod and a server pod, as the lab wires them.
struct LatencyLab {
    var node: NetworkNamespace
    var client: NetworkNamespace
    var server: NetworkNamespace
    var serverAddress: IPv4Address
    var names: [String]

    static func make() throws -> LatencyLab {
        let prefix = "plsvcl" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
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
            for (index, address) in [IPv4Address(10, 244, 1, 2), IPv4Address(10, 244, 1, 3)].enumerated() {
                let (namespace, pod) = try RouteNetlink.createNamespace(prefix + "p\(index)")
                names.append(namespace.name)
                _ = try nodeNetlink.setUpPodInterface(PodInterfaceConfiguration(hostInterfaceName: "vb\(index)", address: address, gateway: gateway),
                                                      bridge: bridge, pod: pod, podNamespace: namespace)
                pods.append(namespace)
            }
            return LatencyLab(node: nodeNamespace, client: pods[0], server: pods[1], serverAddress: IPv4Address(10, 244, 1, 3), names: names)
        } catch {
            for name in names { try? NetworkNamespace.delete(name, ignoreMissing: true) }
            throw error
        }
    }

    func remove() {
        for name in names { try? NetworkNamespace.delete(name, ignoreMissing: true) }
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

/// Median and p99 of `count` blocking TCP connects from the client pod to `address:port`
/// (each accepted and closed on the server's side; sockets made beforehand, outside the timing).
extension LatencyLab {
    /// A TCP listener on `port` in the server's namespace (the caller closes it).
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

/// Blocking TCP connects from the client pod, alternating between `targets` (one connect to
/// each in turn, so both see the same machine. Measured one block after the other, the
/// difference of medians followed what the machine did meanwhile: +1.2 µs at 10 Services, then
/// −15 µs at 10 Services again after 10 000, in one run). Each connect is accepted and closed on the server's side; sockets are
/// made beforehand, outside the timing. Returns each target's sorted times, in order.
func connectTimes(_ lab: LatencyLab, listener: Int32, to targets: [(address: IPv4Address, port: UInt16)], count: Int) throws -> [[Double]] {
    var times: [[Double]] = targets.map { _ in [] }
    let clock = ContinuousClock()
    var addresses = targets.map { socketAddress($0.address, $0.port) }
    let batch = 200
    var done = 0
    while done < count {
        let rounds = min(batch, count - done)
        let sockets: [Int32] = try lab.client.perform {
            (0..<rounds * targets.count).map { _ in socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        }
        for (position, fd) in sockets.enumerated() {
            let which = position % targets.count
            try check(fd, "socket")
            let start = clock.now
            let result = withUnsafePointer(to: &addresses[which]) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            let elapsed = clock.now - start
            try check(result, "connect \(targets[which].address):\(targets[which].port)")
            times[which].append(seconds(elapsed))
            let accepted = accept(listener, nil, nil)
            try check(accepted, "accept")
            close(accepted)
            // RST instead of FIN: no TIME_WAIT piles up on the client's ports.
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            close(fd)
        }
        done += rounds
    }
    return times.map { $0.sorted() }
}

func latency(_ options: Options) async throws {
    print("TCP connect from a pod, through the node: ClusterIP against the pod address (\(options.connects) connects each, alternating, median / p99)")
    let lab = try LatencyLab.make()
    defer { lab.remove() }
    let port: UInt16 = 8080
    let listener = try lab.listen(port: port)
    defer { close(listener) }
    let serviceIP = IPv4Address(10, 96, 255, 254)
    let measured = ServiceEntry(name: "measured", clusterIP: serviceIP, ports: [ServicePortEntry(port: 80, endpoints: [
        ServiceEndpoint(ip: lab.serverAddress, port: port, nodeName: "n1"),
    ])])
    let dataplane = ServiceDataplane()
    let targets = [(address: lab.serverAddress, port: port), (address: serviceIP, port: UInt16(80))]
    func percentile(_ sorted: [Double], _ p: Int) -> Double { sorted[min(sorted.count - 1, sorted.count * p / 100)] }
    for count in options.latencyCounts {
        try await dataplane.sync(node: node, namespace: lab.node, table: serviceTable(count, extra: [measured]))
        _ = try connectTimes(lab, listener: listener, to: targets, count: 200)  // warm up both paths
        let times = try connectTimes(lab, listener: listener, to: targets, count: options.connects)
        let direct = times[0], service = times[1]
        print("  " + pad("\(count) services", 16) + "pod IP " + pad(us(percentile(direct, 50)) + " / " + us(percentile(direct, 99)), 24)
              + "ClusterIP " + pad(us(percentile(service, 50)) + " / " + us(percentile(service, 99)), 24)
              + "difference of medians " + us(percentile(service, 50) - percentile(direct, 50)))
    }
}

// MARK: Network programming latency

/// A thread that connects from the client pod to `address:port` again and again (each refused
/// connect costs a fresh socket, made beforehand in the pod's namespace) until one succeeds, and
/// reports when.
final class ConnectPoller: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private(set) var connectedAt: ContinuousClock.Instant?
    private(set) var attempts = 0

    init(client: NetworkNamespace, address: IPv4Address, port: UInt16, deadline: Duration = .seconds(10)) {
        Thread.detachNewThread { [self] in
            var target = socketAddress(address, port)
            let end = ContinuousClock.now + deadline
            polling: while ContinuousClock.now < end {
                let sockets: [Int32] = (try? client.perform {
                    (0..<500).map { _ in socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
                }) ?? []
                defer { for fd in sockets where fd >= 0 { close(fd) } }
                for fd in sockets where fd >= 0 {
                    attempts += 1
                    let result = withUnsafePointer(to: &target) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
                    if result == 0 {
                        connectedAt = .now
                        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                        break polling
                    }
                }
            }
            done.signal()
        }
    }

    func wait() { done.wait() }
}

/// A pod turning Ready behind one Service while `count` others are present: its endpoint goes
/// into the Service's entry, the node is synced, and a client pod polls with connects through the
/// ClusterIP until the pod answers (before: refused at once, the Service had no endpoint). Timed
/// from the change handed to the dataplane to the first accepted connect; then the endpoint goes
/// again (not Ready). Once through the full regeneration every change cost before (the whole
/// table generated and diffed), once through the incremental path the agent now takes.
func programmingLatency(count: Int, transitions: Int) async throws {
    print("network programming latency: a pod turns Ready behind a Service → it answers through the ClusterIP (connects polled from a pod), "
          + "\(count) other services present, \(transitions) transitions each (p50 / p99 / max)")
    let lab = try LatencyLab.make()
    defer { lab.remove() }
    let port: UInt16 = 8080
    let listener = try lab.listen(port: port)
    defer { close(listener) }
    let serviceIP = IPv4Address(10, 96, 255, 254)
    func measured(_ endpoints: [ServiceEndpoint]) -> ServiceEntry {
        ServiceEntry(name: "measured", clusterIP: serviceIP, ports: [ServicePortEntry(port: 80, endpoints: endpoints)])
    }
    let ready = [ServiceEndpoint(ip: lab.serverAddress, port: port, nodeName: "n1")]
    let key = "default/measured"
    func percentile(_ values: [Double], _ p: Int) -> Double { values.sorted()[min(values.count - 1, values.count * p / 100)] }

    for incremental in [false, true] {
        let dataplane = ServiceDataplane()
        var services = Dictionary(uniqueKeysWithValues: serviceTable(count).services.map { ($0.qualifiedName, $0) })
        services[key] = measured([])
        func sync() async throws -> ServiceDataplane.SyncReport {
            if incremental { return try await dataplane.sync(node: node, namespace: lab.node, services: services, hostPorts: [], changed: [key]) }
            // What every change cost before: the whole model generated and diffed.
            let table = ServiceTable(services.sorted { $0.key < $1.key }.map(\.value))
            return try await dataplane.apply(ServiceRules.generate(for: table, node: node), node: node.name, namespace: lab.node)
        }
        if incremental {
            try await dataplane.sync(node: node, namespace: lab.node, services: services, hostPorts: [], changed: services.keys)
        } else {
            _ = try await sync()
        }
        var latencies: [Double] = [], syncs: [Double] = [], attempts: [Int] = []
        for _ in 0..<transitions {
            services[key] = measured(ready)
            let start = ContinuousClock.now
            let poller = ConnectPoller(client: lab.client, address: serviceIP, port: 80)
            _ = try await sync()
            let synced = ContinuousClock.now
            poller.wait()
            guard let connected = poller.connectedAt else { throw BenchError("no connect succeeded in \(poller.attempts) attempts") }
            latencies.append(seconds(connected - start))
            syncs.append(seconds(synced - start))
            attempts.append(poller.attempts)
            let accepted = accept(listener, nil, nil)
            try check(accepted, "accept")
            close(accepted)
            services[key] = measured([])
            _ = try await sync()
        }
        print("  " + pad(incremental ? "after: incremental (changed key)" : "before: full regeneration", 36)
              + "ready → answering " + pad(ms(percentile(latencies, 50)) + " / " + ms(percentile(latencies, 99)) + " / " + ms(latencies.max() ?? 0), 36)
              + "sync " + ms(percentile(syncs, 50)) + " / " + ms(percentile(syncs, 99)) + "   refused connects before it answered: median \(attempts.sorted()[attempts.count / 2])")
    }
}

// MARK: Cluster DNS zone

func dnsZone(services: Int) {
    let cost = ClusterDNSZoneCost.measure(services: services, events: 200)
    func percentile(_ values: [Double], _ p: Int) -> Double { values.sorted()[min(values.count - 1, values.count * p / 100)] }
    print("cluster DNS zone: \(services) Services and \(services) pods (\(cost.names) names), one Service's address changed per event")
    print("  " + pad("before: the zone built whole per event", 44) + ms(cost.wholeBuildSeconds))
    print("  " + pad("after: the changed names, published", 44) + ms(percentile(cost.eventSeconds, 50)) + " / " + ms(percentile(cost.eventSeconds, 99))
          + " (p50 / p99 of \(cost.eventSeconds.count))")
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
guard geteuid() == 0 else {
    print("services-bench needs root (it creates network namespaces)")
    exit(1)
}
do {
    if let lab = options.lab {
        try await labProgrammingLatency(lab: lab, services: options.labServices, transitions: options.labTransitions)
        exit(0)
    }
    if !options.serviceCounts.isEmpty { try await fullSyncs(options) }
    if options.kubeProxyCount > 0 { try await kubeProxy(options.kubeProxyCount, runs: options.runs) }
    if !options.latencyCounts.isEmpty { try await latency(options) }
    if options.programmingCount > 0 { try await programmingLatency(count: options.programmingCount, transitions: options.transitions) }
    if options.dnsNames > 0 { dnsZone(services: options.dnsNames) }
} catch {
    print("services-bench: \(error)")
    exit(1)
}
