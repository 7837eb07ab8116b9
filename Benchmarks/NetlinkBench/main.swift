// netlink-bench: what it costs to connect N pods to a node bridge, with podlab's netlink code
// and with the same work done by `ip` commands, plus tear-down. Run it through
// scripts/bench-netlink (root, release build). Everything happens inside namespaces the
// benchmark creates under one unique prefix; all of them are removed at the end, on errors,
// and on Ctrl-C.

#if canImport(Glibc)
import Glibc
#endif
import Netlink
import Netns
import PodNet
import Synchronization

/// Set by SIGINT/SIGTERM; the loops stop at the next pod and clean up.
enum Interrupt {
    static let requested = Atomic<Bool>(false)

    static func install() {
        for signal in [SIGINT, SIGTERM] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { _ in Interrupt.requested.store(true, ordering: .relaxed) }
            sigemptyset(&action.sa_mask)
            sigaction(signal, &action, nil)
        }
    }

    static func check() throws {
        if requested.load(ordering: .relaxed) { throw BenchError("interrupted") }
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

struct Options {
    var counts = [100, 250]
    var prefix = "nlb" + String(UInt32.random(in: 0x10_0000...0xFF_FFFF), radix: 16)
    var runIP = true
    /// Also run the agent's pod path: net + UTS + IPC namespaces from one unshare, files for all three.
    var sandbox = true
    /// Run only the agent's path (for scripts/bench-pods' floor).
    var sandboxOnly = false
    /// Idle time between two pods of the sandbox run (0: back to back), to measure one pod
    /// set up from an idle machine (cold caches) rather than in a tight loop.
    var gapMillis = 0
    /// Give each pod a spare network namespace made beforehand (not timed), as the agent does.
    var spare = false
    /// ... and a veth pair already on the bridge in it (`--spare-link`).
    var spareLink = false

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--pods":
                guard let value = rest.popFirst() else { throw BenchError("--pods needs a list such as 100,250") }
                counts = try value.split(separator: ",").map {
                    guard let n = Int($0), (1...1000).contains(n) else { throw BenchError("pod count \($0) must be 1-1000") }
                    return n
                }
            case "--prefix":
                guard let value = rest.popFirst() else { throw BenchError("--prefix needs a name") }
                try NetworkNamespace.validate(name: value + "-n1000-p1000")
                prefix = value
            case "--no-ip": runIP = false
            case "--no-sandbox": sandbox = false
            case "--sandbox-only": sandboxOnly = true
            case "--spare": spare = true
            case "--spare-link": spare = true; spareLink = true
            case "--gap-ms":
                guard let value = rest.popFirst(), let n = Int(value), (0...1000).contains(n) else { throw BenchError("--gap-ms needs 0-1000") }
                gapMillis = n
            case "-h", "--help":
                print("usage: netlink-bench [--pods 100,250] [--prefix NAME] [--no-ip] [--no-sandbox | --sandbox-only] [--gap-ms N] [--spare | --spare-link]")
                exit(0)
            default: throw BenchError("unknown argument \(argument)")
            }
        }
    }
}

/// Every namespace this run created, so that cleanup deletes exactly those.
final class Created {
    var namespaces: [String] = []

    func removeAll() {
        for name in namespaces.reversed() { try? NetworkNamespace.delete(name, ignoreMissing: true) }
        namespaces.removeAll()
    }
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

struct Stats {
    var samples: [Double]
    var sorted: [Double] { samples.sorted() }
    var total: Double { samples.reduce(0, +) }
    var median: Double {
        let s = sorted
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
    /// Nearest-rank percentile.
    func percentile(_ p: Double) -> Double {
        let s = sorted
        return s[max(0, min(s.count - 1, Int((p / 100 * Double(s.count)).rounded(.up)) - 1))]
    }
}

/// Milliseconds with two decimals: "1.02 ms".
func ms(_ seconds: Double) -> String {
    let hundredths = Int((seconds * 100_000).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction) ms"
}

func ratio(_ a: Double, _ b: Double) -> String {
    let value = (a / b * 10).rounded() / 10
    return "\(value)×"
}

/// The node every pod hangs off: forwarding on, redirects off, bridge cni0 10.244.0.1/16.
func makeNode(_ name: String, created: Created) throws -> (RouteNetlink, Link) {
    let (namespace, node) = try RouteNetlink.createNamespace(name)
    created.namespaces.append(name)
    try Sysctl.set([Sysctl.ipForwarding, Sysctl.Setting("net/ipv4/conf/all/send_redirects", "0"),
                    Sysctl.Setting("net/ipv4/conf/default/send_redirects", "0")], in: namespace)
    let bridge = try node.createBridge(name: "cni0", up: true)
    try node.addAddress(InterfaceAddress(interfaceIndex: bridge.index, try IPv4Interface(gateway, length: 16)))
    return (node, bridge)
}

let gateway = IPv4Address(10, 244, 0, 1)
func podAddress(_ i: Int) -> IPv4Address { IPv4Address(10, 244, UInt8(1 + i / 250), UInt8(1 + i % 250)) }

/// podlab: namespace + socket in one worker visit, then `setUpPodInterface`.
/// What the `ip` run is compared with.
struct PodlabResult {
    var median: Double
    var total: Double
    var teardown: Double
}

func runPodlab(count: Int, prefix: String, created: Created) throws -> PodlabResult {
    let nodeName = "\(prefix)-n\(count)"
    let (node, bridge) = try makeNode(nodeName, created: created)
    var perPod: [Double] = [], namespaceTimes: [Double] = [], interfaceTimes: [Double] = []
    var pods: [PodInterface] = []
    var podNames: [String] = []
    for i in 0..<count {
        try Interrupt.check()
        let name = "\(prefix)-n\(count)-p\(i)"
        let t0 = now()
        let (namespace, pod) = try RouteNetlink.createNamespace(name)
        created.namespaces.append(name)
        podNames.append(name)
        let t1 = now()
        pods.append(try node.setUpPodInterface(PodInterfaceConfiguration(hostInterfaceName: "vp\(i)", address: podAddress(i), gateway: gateway),
                                               bridge: bridge, pod: pod, podNamespace: namespace))
        let t2 = now()
        perPod.append(t2 - t0)
        namespaceTimes.append(t1 - t0)
        interfaceTimes.append(t2 - t1)
    }
    // Sanity: every host end is on the bridge, every pod has its permanent node entry.
    let ports = try node.links().filter { $0.masterIndex == bridge.index && $0.isUp }.count
    let entries = try node.neighbors(interfaceIndex: bridge.index).filter { $0.state == .permanent }.count
    guard ports == count, entries == count else { throw BenchError("podlab run: \(ports) ports and \(entries) neighbour entries for \(count) pods") }

    let stats = Stats(samples: perPod)
    print("  podlab  per pod: median \(ms(stats.median))  p95 \(ms(stats.percentile(95)))  max \(ms(stats.sorted.last!))  total \(ms(stats.total))")
    print("          of which netns + socket: median \(ms(Stats(samples: namespaceTimes).median)); veth, addresses, route, neighbours: median \(ms(Stats(samples: interfaceTimes).median))")

    // Tear-down: delete the pod namespaces (the kernel removes their veth pairs), and the node's
    // neighbour entries in one batch.
    let t0 = now()
    for name in podNames { try NetworkNamespace.delete(name) }
    try node.removePodInterfaces(pods)
    let t1 = now()
    created.namespaces.removeAll { podNames.contains($0) }
    // The kernel dismantles deleted namespaces asynchronously (their veth pairs with them).
    let remaining = try node.links().filter { $0.kind == "veth" }.count
    var gone: Double?
    for _ in 0..<5000 {
        if try node.links().allSatisfy({ $0.kind != "veth" }) {
            gone = now()
            break
        }
        usleep(1000)
    }
    print("  teardown podlab: \(count) namespaces deleted + node entries removed in \(ms(t1 - t0)) (\(ms((t1 - t0) / Double(count)))/pod)")
    print("                   host veths still present right after: \(remaining); all gone after \(gone.map { ms($0 - t0) } ?? "more than 5 s")")
    return PodlabResult(median: stats.median, total: stats.total, teardown: t1 - t0)
}

/// The agent's path: `NetworkNamespace.createPod` (net + UTS + IPC from one unshare, hostname
/// set, three bind mounts, rtnetlink socket in the same worker visit), then `setUpPodInterface`.
/// The UTS/IPC files go to a temporary directory that is removed afterwards.
func runSandbox(count: Int, prefix: String, created: Created, gapMillis: Int = 0, spare useSpare: Bool = false,
                spareLink useSpareLink: Bool = false) throws {
    let nodeName = "\(prefix)-s\(count)"
    let (node, bridge) = try makeNode(nodeName, created: created)
    var template = Array("/run/podlab-bench-XXXXXX".utf8CString)
    guard let dirPointer = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
        throw BenchError("mkdtemp: \(Errno.current)")
    }
    let directory = String(cString: dirPointer)
    var files: [String] = []
    defer {
        for path in files { try? NamespaceFile.remove(at: path) }
        rmdir(directory)
    }
    var perPod: [Double] = [], namespaceTimes: [Double] = [], interfaceTimes: [Double] = []
    for i in 0..<count {
        try Interrupt.check()
        let spare = useSpare ? try SpareNetworkNamespace.make(openingSocket: .route) : nil
        let spareLink = try useSpareLink ? node.createSparePodLink(hostName: "vsp\(i)", mtu: nil, bridge: bridge, in: spare!) : nil
        if gapMillis > 0 { usleep(UInt32(gapMillis) * 1000) }
        let name = "\(prefix)-s\(count)-p\(i)"
        let uts = "\(directory)/\(i).uts", ipc = "\(directory)/\(i).ipc"
        let t0 = now()
        let (namespace, socket) = try NetworkNamespace.createPod(name, hostname: "pod-\(i)", utsPath: uts, ipcPath: ipc, openingSocket: .route,
                                                                using: spare)
        created.namespaces.append(name)
        files += [uts, ipc]
        let t1 = now()
        let configuration = PodInterfaceConfiguration(hostInterfaceName: "vs\(i)", address: podAddress(i), gateway: gateway,
                                                      podMAC: MACAddress.derived(from: podAddress(i)), ipv6LinkLocal: false)
        if let spareLink {
            _ = try node.attachPodInterface(configuration, spare: spareLink, bridge: bridge, pod: RouteNetlink(transport: socket), podNamespace: namespace)
        } else {
            _ = try node.setUpPodInterface(configuration, bridge: bridge, pod: RouteNetlink(transport: socket), podNamespace: namespace)
        }
        let t2 = now()
        perPod.append(t2 - t0)
        namespaceTimes.append(t1 - t0)
        interfaceTimes.append(t2 - t1)
    }
    let stats = Stats(samples: perPod)
    let gap = (gapMillis > 0 ? ", \(gapMillis) ms idle before each" : "") + (useSpareLink ? ", spare namespace and veth made beforehand" : useSpare ? ", spare namespace made beforehand" : "")
    print("  sandbox per pod: median \(ms(stats.median))  p95 \(ms(stats.percentile(95)))  max \(ms(stats.sorted.last!))  total \(ms(stats.total))  (the agent's path: net+uts+ipc\(gap))")
    print("          of which namespaces + socket: median \(ms(Stats(samples: namespaceTimes).median)); veth, addresses, route, neighbours: median \(ms(Stats(samples: interfaceTimes).median))")
}

/// Runs `ip ARGS…` and returns its stdout; fails on a non-zero exit.
func ip(_ arguments: [String]) throws -> String {
    var out: [Int32] = [0, 0], err: [Int32] = [0, 0]
    guard pipe(&out) == 0 else { throw BenchError("pipe: \(Errno.current)") }
    guard pipe(&err) == 0 else {
        close(out[0]); close(out[1])
        throw BenchError("pipe: \(Errno.current)")
    }
    defer { close(out[0]); close(err[0]) }
    let child: ChildProcess
    do {
        child = try Spawner.spawn(SpawnRequest(executable: "/usr/sbin/ip", arguments: arguments, stdout: .fd(out[1]), stderr: .fd(err[1]), newSession: true))
    } catch {
        close(out[1]); close(err[1])
        throw error
    }
    close(out[1]); close(err[1])
    // Outputs are a few hundred bytes: reading one pipe to its end cannot block the other.
    func drain(_ fd: Int32) -> String {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { data += buffer[0..<n] } else if n == 0 || Errno.current != .interrupted { break }
        }
        return String(decoding: data, as: UTF8.self)
    }
    let output = drain(out[0]), errors = drain(err[0])
    let status = try child.wait()
    guard status == .exited(0) else { throw BenchError("ip \(arguments.joined(separator: " ")) failed (\(status)): \(errors)") }
    return output
}

/// The same pod setup with `ip`: 9 commands per pod, spawned with posix_spawn.
func runIP(count: Int, prefix: String, created: Created, podlab: PodlabResult) throws {
    let nodeName = "\(prefix)-i\(count)"
    let (_, bridge) = try makeNode(nodeName, created: created)
    guard let bridgeMAC = bridge.mac else { throw BenchError("bridge without MAC") }
    var perPod: [Double] = []
    var podNames: [String] = []
    for i in 0..<count {
        try Interrupt.check()
        let name = "\(prefix)-i\(count)-p\(i)"
        let address = podAddress(i)
        let t0 = now()
        _ = try ip(["netns", "add", name])
        created.namespaces.append(name)
        podNames.append(name)
        _ = try ip(["-n", nodeName, "link", "add", "vp\(i)", "master", "cni0", "up", "type", "veth", "peer", "name", "eth0", "netns", name])
        _ = try ip(["-n", name, "link", "set", "lo", "up"])
        _ = try ip(["-n", name, "addr", "add", "\(address)/32", "dev", "eth0"])
        _ = try ip(["-n", name, "link", "set", "eth0", "up"])
        _ = try ip(["-n", name, "route", "add", "default", "via", "\(gateway)", "dev", "eth0", "onlink"])
        _ = try ip(["-n", name, "neigh", "replace", "\(gateway)", "lladdr", "\(bridgeMAC)", "dev", "eth0", "nud", "permanent"])
        // `ip -br link show eth0`: "eth0@if5  UP  aa:bb:cc:dd:ee:ff <…>"
        let fields = try ip(["-n", name, "-br", "link", "show", "eth0"]).split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 3, let podMAC = MACAddress(String(fields[2])) else { throw BenchError("cannot read eth0's MAC in \(name)") }
        _ = try ip(["-n", nodeName, "neigh", "replace", "\(address)", "lladdr", "\(podMAC)", "dev", "cni0", "nud", "permanent"])
        perPod.append(now() - t0)
    }
    let stats = Stats(samples: perPod)
    print("  ip      per pod: median \(ms(stats.median))  p95 \(ms(stats.percentile(95)))  max \(ms(stats.sorted.last!))  total \(ms(stats.total))  (9 execs/pod)")
    print("  ratio   ip / podlab: median \(ratio(stats.median, podlab.median)), total \(ratio(stats.total, podlab.total))")

    let t0 = now()
    for (i, name) in podNames.enumerated() {
        try Interrupt.check()
        _ = try ip(["netns", "del", name])
        _ = try ip(["-n", nodeName, "neigh", "del", "\(podAddress(i))", "dev", "cni0"])
    }
    let t1 = now()
    created.namespaces.removeAll { podNames.contains($0) }
    print("  teardown ip: ip netns del + ip neigh del ×\(count) in \(ms(t1 - t0)) (\(ms((t1 - t0) / Double(count)))/pod); \(ratio(t1 - t0, podlab.teardown)) podlab's")
}

Interrupt.install()
let created = Created()
var failed = false
do {
    let options = try Options(Array(CommandLine.arguments.dropFirst()))
    guard geteuid() == 0 else { throw BenchError("needs root (creates network namespaces)") }
    print("netlink-bench: namespaces \(options.prefix)-*")
    for count in options.counts {
        print("N = \(count) pods")
        if options.sandboxOnly {
            try runSandbox(count: count, prefix: options.prefix, created: created, gapMillis: options.gapMillis, spare: options.spare,
                           spareLink: options.spareLink)
            created.removeAll()
            continue
        }
        let podlab = try runPodlab(count: count, prefix: options.prefix, created: created)
        if options.sandbox { try runSandbox(count: count, prefix: options.prefix, created: created) }
        if options.runIP { try runIP(count: count, prefix: options.prefix, created: created, podlab: podlab) }
        created.removeAll()
    }
} catch {
    print("netlink-bench: \(error)")
    failed = true
}
created.removeAll()
exit(failed ? 1 : 0)
