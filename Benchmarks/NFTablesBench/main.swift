// Loads set elements and services (in design.md's layout) into throwaway network namespaces,
// once through NFTables (libnftnl batches) and once through `nft -f` with the same content,
// and prints the times. Needs root; touches nothing outside the namespaces it creates.
//
//   nftables-bench [--services N,N,...] [--elements N,N,...] [--runs R]

#if canImport(Glibc)
import Glibc
#endif
import Netns
import NFTables
import PodNet

struct Options {
    var elementCounts = [1_000, 10_000]
    var serviceCounts = [1_000, 10_000]
    var runs = 3

    init(_ arguments: [String]) {
        var index = 0
        func list(_ text: String) -> [Int] { text.split(separator: ",").compactMap { Int($0) } }
        while index < arguments.count {
            let argument = arguments[index]
            let value = index + 1 < arguments.count ? arguments[index + 1] : ""
            switch argument {
            case "--elements": elementCounts = list(value); index += 1
            case "--services": serviceCounts = list(value); index += 1
            case "--runs": runs = max(1, Int(value) ?? 3); index += 1
            default:
                print("usage: nftables-bench [--elements N,N] [--services N,N] [--runs R]")
                exit(2)
            }
            index += 1
        }
    }
}

/// The layout of design.md: one `service-ips` verdict map into shared `lb-tcp-K` chains that
/// DNAT through one `backends` map keyed by (vip . proto . port . numgen random mod K).
enum Layout {
    static let table = Table(.ip, "podlab")
    static let prerouting = Chain(table, "nat-prerouting", type: .nat, hook: .prerouting, priority: Priority.dstnat)
    static let serviceIPs = NFTSet(table, "service-ips", key: .type(.ipv4Address, .inetProtocol, .inetService), data: .verdict)
    static let backends = NFTSet(table, "backends", key: .typeof(.ipDaddr, .l4proto, .thDport, .numgenRandom(modulus: 4)), data: .typeof(.ipDaddr, .thDport))
    static let maxEndpoints: UInt32 = 4

    static func lbChain(_ endpoints: UInt32) -> Chain { Chain(table, "lb-tcp-\(endpoints)") }

    /// Table, maps, chains and rules, without elements.
    static func skeleton() -> Transaction {
        var tx = Transaction()
        tx.deleteIfExists(table)
        tx.add(table)
        tx.add(serviceIPs)
        tx.add(backends)
        tx.add(prerouting)
        tx.add(Rule(prerouting, [.verdictMap([.ipDaddr, .l4proto, .thDport], .named(serviceIPs.name))]))
        for k in 1...maxEndpoints {
            tx.add(lbChain(k))
            tx.add(Rule(lbChain(k), [.dnatMap([.ipDaddr, .l4proto, .thDport, .numgenRandom(modulus: k)], map: backends.name)]))
        }
        return tx
    }

    static func vip(_ i: Int) -> IPv4Address { IPv4Address(IPv4Address("10.96.0.0")!.value + UInt32(i)) }
    static func endpoints(_ i: Int) -> UInt32 { UInt32(i % Int(maxEndpoints)) + 1 }

    static func serviceElement(_ i: Int) -> SetElement {
        SetElement(.concat([.ipv4(vip(i)), .inetProtocol(.tcp), .port(80)]), .jump(lbChain(endpoints(i)).name))
    }

    static func backendElements(_ i: Int) -> [SetElement] {
        (0..<endpoints(i)).map { j in
            let pod = IPv4Address(IPv4Address("10.244.0.0")!.value + UInt32((i * 4 + Int(j)) % 65_536))
            return SetElement(.concat([.ipv4(vip(i)), .inetProtocol(.tcp), .port(80), .integer(j)]), .concat([.ipv4(pod), .port(8080)]))
        }
    }

    /// Skeleton plus `services` services with 1–4 endpoints each, in one transaction.
    static func services(_ count: Int) -> (Transaction, backendCount: Int) {
        var tx = skeleton()
        tx.add((0..<count).map(serviceElement), to: serviceIPs)
        let backendElements = (0..<count).flatMap(backendElements)
        tx.add(backendElements, to: backends)
        return (tx, backendElements.count)
    }

    /// Skeleton plus `count` elements in the service-ips map.
    static func elements(_ count: Int) -> Transaction {
        var tx = skeleton()
        tx.add((0..<count).map(serviceElement), to: serviceIPs)
        return tx
    }
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1_000 + Double(duration.components.attoseconds) / 1e15
}

func format(_ value: Double) -> String {
    let scale = value < 1 ? 1_000.0 : 10.0
    return String((value * scale).rounded() / scale)
}

/// Runs `body` in a fresh namespace `runs` times; returns the times in ms.
func measure(runs: Int, _ body: (NetworkNamespace) throws -> Duration) throws -> [Double] {
    var times: [Double] = []
    for _ in 0..<runs {
        let name = "plbench" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let ns = try NetworkNamespace.create(name)
        defer { try? NetworkNamespace.delete(ns.name, ignoreMissing: true) }
        times.append(milliseconds(try body(ns)))
    }
    return times.sorted()
}

func podlab(_ transaction: Transaction, runs: Int) throws -> [Double] {
    try measure(runs: runs) { ns in
        let nft = try NFTablesConnection(namespace: ns)
        let clock = ContinuousClock()
        return try clock.measure { try nft.apply(transaction) }
    }
}

/// `nft -f FILE` inside the namespace (spawned there directly; the time includes the exec).
func nftFile(_ transaction: Transaction, runs: Int) throws -> [Double] {
    let path = "/tmp/podlab-bench-\(getpid()).nft"
    let script = transaction.description + "\n"
    guard let file = fopen(path, "w") else { throw Errno.current }
    fputs(script, file)
    fclose(file)
    defer { unlink(path) }
    return try measure(runs: runs) { ns in
        let clock = ContinuousClock()
        var status: TerminationStatus = .exited(0)
        let duration = try clock.measure {
            let child = try Spawner.spawn(SpawnRequest(executable: "nft", arguments: ["-f", path], environment: ["PATH": Spawner.defaultPath],
                                                       stderr: .inherit, networkNamespace: ns.name, newSession: false))
            status = try child.wait()
        }
        guard status == .exited(0) else {
            throw KernelError(operation: "nft -f", object: path, errno: .invalidArgument, detail: "nft exited with \(status)")
        }
        return duration
    }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
guard geteuid() == 0 else {
    print("nftables-bench needs root (it creates network namespaces)")
    exit(1)
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}

func row(_ label: String, _ ours: [Double], _ theirs: [Double]?) {
    let median = ours[ours.count / 2]
    var line = pad(label, 58) + "podlab " + pad(format(median) + " ms", 11)
    if let theirs {
        let other = theirs[theirs.count / 2]
        let ratio = other / max(median, 0.001)
        line += "nft -f " + pad(format(other) + " ms", 11) + "(x" + format(ratio) + ")"
    }
    print(line)
}

do {
    print("median of \(options.runs) runs, each in a fresh namespace; times include building the batch (podlab) or exec + parse (nft)")
    for count in options.elementCounts {
        let tx = Layout.elements(count)
        row("\(count) elements into a verdict map (+ skeleton)", try podlab(tx, runs: options.runs), try nftFile(tx, runs: options.runs))
    }
    for count in options.serviceCounts {
        let (tx, backendCount) = Layout.services(count)
        row("\(count) services (\(count) + \(backendCount) elements)", try podlab(tx, runs: options.runs), try nftFile(tx, runs: options.runs))
    }
    if let count = options.serviceCounts.max() {
        // Incremental changes on a loaded table, and reading it back.
        let name = "plbench" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let ns = try NetworkNamespace.create(name)
        defer { try? NetworkNamespace.delete(ns.name, ignoreMissing: true) }
        let nft = try NFTablesConnection(namespace: ns)
        try nft.apply(Layout.services(count).0)
        let clock = ContinuousClock()
        var replace: [Double] = []
        for run in 0..<max(options.runs, 5) {
            let old = Layout.backendElements(run)[0]
            var new = old
            new.data = .concat([.ipv4(IPv4Address("10.244.255.\(run)")!), .port(8080)])
            var tx = Transaction()
            tx.delete([old], from: Layout.backends)
            tx.add([new], to: Layout.backends)
            replace.append(milliseconds(try clock.measure { try nft.apply(tx) }))
        }
        row("replace one endpoint at \(count) services", replace.sorted(), nil)
        var listing: [Double] = []
        var listed = 0
        for _ in 0..<options.runs {
            listing.append(milliseconds(try clock.measure { listed = try nft.ruleset().sets.reduce(0) { $0 + $1.elements.count } }))
        }
        row("list everything back (\(listed) elements)", listing.sorted(), nil)
    }
} catch {
    print("nftables-bench: \(error)")
    exit(1)
}
