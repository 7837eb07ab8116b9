import Foundation
import KernelTestSupport
import Netlink
import Netns
import Testing
@testable import PodlabCNI

/// A node namespace made by the test, where podlab-cni runs as a runtime would run it (its own
/// network namespace is the host side), and the containers' namespaces.
final class CNITestNode: @unchecked Sendable {
    let node: NetworkNamespace
    var containers: [NetworkNamespace] = []
    let dataDir: String
    let plugin: String
    let subnet: String

    init(subnet: String = "10.77.0.0/24") throws {
        node = try NetworkNamespace.create(KernelTest.uniqueName("cnin"))
        dataDir = "/tmp/\(KernelTest.uniqueName("cniipam"))"
        plugin = try BuiltExecutable.path("podlab-cni")
        self.subnet = subnet
    }

    deinit {
        for ns in containers { try? NetworkNamespace.delete(ns.name, ignoreMissing: true) }
        try? NetworkNamespace.delete(node.name, ignoreMissing: true)
        try? FileManager.default.removeItem(atPath: dataDir)
    }

    func container() throws -> NetworkNamespace {
        let ns = try NetworkNamespace.create(KernelTest.uniqueName("cnic"))
        containers.append(ns)
        return ns
    }

    func config(version: String = "1.1.0", mode: String = "routed", extra: String = "", ranges: String? = nil, name: String = "testnet") -> String {
        """
        {"cniVersion": "\(version)", "name": "\(name)", "type": "podlab-cni", "bridge": "cni0", "isGateway": true, "ipMasq": true, "mode": "\(mode)",
         "ipam": {"type": "podlab", "ranges": \(ranges ?? "[[{\"subnet\": \"\(subnet)\"}]]"), "dataDir": "\(dataDir)"}\(extra)}
        """
    }

    struct Call {
        var result: CommandResult
        var json: JSON? { try? JSON(parsing: result.stdout) }
        var code: Int? { json?["code"]?.numberValue.map { Int($0) } }
        var succeeded: Bool { result.succeeded }
    }

    func environment(_ command: String, _ id: String, _ netns: String?, _ ifname: String) -> [String: String] {
        var env = ["CNI_COMMAND": command, "CNI_CONTAINERID": id, "CNI_IFNAME": ifname, "CNI_PATH": "/usr/lib/cni", "PATH": Spawner.defaultPath]
        env["CNI_NETNS"] = netns
        return env
    }

    /// Executes the plugin like a runtime: environment and stdin, inside the node's namespace.
    @discardableResult
    func call(_ command: String, id: String = "", netns: String? = nil, ifname: String = "eth0", config: String,
              executable: String? = nil, environment override: [String: String]? = nil) throws -> Call {
        let env = override ?? environment(command, id, netns, ifname)
        return Call(result: try Command.run(executable ?? plugin, [], netns: node.name, environment: env, input: config))
    }

    func allocations() throws -> Allocations {
        try IPAMStore(directory: dataDir + "/testnet").read()
    }

    func hostLinks() throws -> [String] {
        try Command.ipJSON(node.name, ["link"]).compactMap { $0["ifname"] as? String }.sorted()
    }

    func nftElements() throws -> String {
        let r = try Command.run("nft", ["list", "table", "ip", "podlab-cni-testnet"], netns: node.name)
        return r.succeeded ? r.stdout : ""
    }
}

@Suite("podlab-cni executed as a runtime does", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct PluginKernelTests {
    @Test("ADD two containers that reach each other; CHECK; DEL; DEL again")
    func lifecycle() throws {
        let lab = try CNITestNode()
        let a = try lab.container(), b = try lab.container()
        let config = lab.config(extra: #", "runtimeConfig": {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]}"#)
        let addA = try lab.call("ADD", id: "ctr-a", netns: a.path, config: config)
        #expect(addA.succeeded, "\(addA.result.stdout)\(addA.result.stderr)")
        let addB = try lab.call("ADD", id: "ctr-b", netns: b.path, config: lab.config())
        #expect(addB.succeeded, "\(addB.result.stdout)")
        let ipA = try #require(addA.json?["ips"]?.arrayValue?.first?["address"]?.stringValue)
        let ipB = try #require(addB.json?["ips"]?.arrayValue?.first?["address"]?.stringValue)
        #expect(ipA == "10.77.0.2/32" && ipB == "10.77.0.3/32")
        #expect(addA.json?["interfaces"]?.arrayValue?[2]["sandbox"] == .string(a.path))

        // Traffic both ways, and to the published port from the node.
        let ping = try Command.run("busybox", ["ping", "-c", "1", "-W", "2", "10.77.0.3"], netns: a.name)
        #expect(ping.succeeded, "\(ping.stdout)\(ping.stderr)")
        let server = try Spawner.spawn(SpawnRequest(executable: "busybox", arguments: ["nc", "-l", "-p", "80", "-e", "echo", "from-a"],
                                                    environment: ["PATH": Spawner.defaultPath], stdin: .null, stdout: .null, stderr: .null,
                                                    networkNamespace: a.name, newSession: false))
        defer { kill(server.pid, SIGKILL); _ = try? server.wait() }
        var answer = ""
        for _ in 0..<50 where !answer.contains("from-a") {
            answer = (try? Command.run("busybox", ["nc", "-w", "2", "10.77.0.1", "8080"], netns: lab.node.name))?.stdout ?? ""
            if !answer.contains("from-a") { usleep(50_000) }
        }
        #expect(answer.contains("from-a"), "the published port 8080 did not reach container a's port 80")

        #expect(try lab.call("CHECK", id: "ctr-a", netns: a.path, config: config).succeeded)
        // Take the neighbour entry away: CHECK says so.
        try Command.check("ip", ["-n", a.name, "neigh", "del", "10.77.0.1", "dev", "eth0"])
        let broken = try lab.call("CHECK", id: "ctr-a", netns: a.path, config: config)
        #expect(broken.code == 100)
        #expect(broken.json?["details"]?.stringValue?.contains("no permanent neighbour entry for the gateway 10.77.0.1") == true)
        #expect(try lab.call("CHECK", id: "ctr-unknown", netns: a.path, config: config).code == 3)

        #expect(try lab.call("DEL", id: "ctr-a", netns: a.path, config: config).succeeded)
        #expect(try lab.allocations().records.map(\.attachment.containerID) == ["ctr-b"])
        #expect(!(try lab.hostLinks()).contains(Plugin.hostInterfaceName(ContainerAttachment(containerID: "ctr-a", ifname: "eth0"))))
        let table = try lab.nftElements()
        #expect(!table.contains("10.77.0.2") && table.contains("10.77.0.3"), "\(table)")
        let again = try lab.call("DEL", id: "ctr-a", netns: a.path, config: config)
        #expect(again.succeeded && again.result.stdout.isEmpty)
        // DEL after the runtime removed the namespace, and without CNI_NETNS.
        try NetworkNamespace.delete(b.name)
        #expect(try lab.call("DEL", id: "ctr-b", netns: b.path, config: lab.config()).succeeded)
        #expect(try lab.call("DEL", id: "ctr-b", config: lab.config()).succeeded)
        #expect(try lab.allocations().records.isEmpty)
        #expect(try lab.hostLinks() == ["cni0", "lo"])
    }

    @Test("Results come in the version asked for", arguments: ["0.3.1", "0.4.0", "1.0.0", "1.1.0"])
    func versions(_ version: String) throws {
        let lab = try CNITestNode()
        let c = try lab.container()
        let add = try lab.call("ADD", id: "c", netns: c.path, config: lab.config(version: version, mode: "bridged", extra: #", "hairpinMode": true"#))
        #expect(add.json?["cniVersion"] == .string(version))
        let port = Plugin.hostInterfaceName(ContainerAttachment(containerID: "c", ifname: "eth0"))
        let bridgePort = try Command.check("bridge", ["-n", lab.node.name, "-d", "-j", "link", "show", "dev", port])
        #expect(bridgePort.contains(#""hairpin":true"#), "\(bridgePort)")
        let ip = try #require(add.json?["ips"]?.arrayValue?.first)
        #expect(ip["address"] == .string("10.77.0.2/24"))
        #expect((ip["version"] != nil) == CNIVersion.isOlder(version, than: "1.0.0"))
        let held = try Command.ipJSON(c.name, ["addr", "show", "eth0"]).first?["addr_info"] as? [[String: Any]]
        #expect(held?.contains { $0["local"] as? String == "10.77.0.2" && $0["prefixlen"] as? Int == 24 } == true)
    }

    @Test("GC keeps the valid attachments and removes the rest; STATUS reports an exhausted range")
    func gcAndStatus() throws {
        let lab = try CNITestNode(subnet: "10.77.0.0/29")  // .2–.6: five containers
        var namespaces: [NetworkNamespace] = []
        for n in 0..<3 {
            let c = try lab.container()
            namespaces.append(c)
            #expect(try lab.call("ADD", id: "c\(n)", netns: c.path, config: lab.config()).succeeded)
        }
        #expect(try lab.call("STATUS", config: lab.config()).succeeded)
        let keep = #", "cni.dev/valid-attachments": [{"containerID": "c1", "ifname": "eth0"}]"#
        let gc = try lab.call("GC", config: lab.config(extra: keep))
        #expect(gc.succeeded, "\(gc.result.stdout)")
        #expect(try lab.allocations().records.map(\.attachment.containerID) == ["c1"])
        #expect(try lab.hostLinks().filter { $0.hasPrefix("veth") } == [Plugin.hostInterfaceName(ContainerAttachment(containerID: "c1", ifname: "eth0"))])
        #expect(try Command.ipJSON(namespaces[0].name, ["link"]).compactMap { $0["ifname"] as? String } == ["lo"])
        #expect(try lab.call("CHECK", id: "c1", netns: namespaces[1].path, config: lab.config()).succeeded)

        for n in 3..<7 {
            let c = try lab.container()
            #expect(try lab.call("ADD", id: "c\(n)", netns: c.path, config: lab.config()).succeeded)
        }
        let status = try lab.call("STATUS", config: lab.config())
        #expect(status.code == 50, "\(status.result.stdout)")
        let full = try lab.call("ADD", id: "c9", netns: try lab.container().path, config: lab.config())
        #expect(full.code == 11)
    }

    @Test("50 plugin processes at once get 50 distinct addresses")
    func concurrentAdds() throws {
        let lab = try CNITestNode(subnet: "10.77.0.0/24")
        let configPath = lab.dataDir + "-config.json"
        try lab.config().write(toFile: configPath, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: configPath) }
        let namespaces = try (0..<50).map { _ in try lab.container() }
        let outputs = (0..<50).map { lab.dataDir + "-out-\($0)" }
        defer { for o in outputs { try? FileManager.default.removeItem(atPath: o) } }
        var children: [ChildProcess] = []
        for n in 0..<50 {
            children.append(try Spawner.spawn(SpawnRequest(executable: lab.plugin, arguments: [],
                                                           environment: lab.environment("ADD", "ctr\(n)", namespaces[n].path, "eth0"),
                                                           stdin: .file(configPath), stdout: .file(outputs[n], append: false), stderr: .null,
                                                           networkNamespace: lab.node.name, newSession: false)))
        }
        let statuses = try children.map { try $0.wait() }
        #expect(statuses.allSatisfy { $0 == .exited(0) })
        let addresses = try outputs.map { try JSON(parsing: String(contentsOfFile: $0, encoding: .utf8))["ips"]?.arrayValue?.first?["address"]?.stringValue ?? "" }
        #expect(Set(addresses).count == 50)
        #expect(try lab.allocations().records.count == 50)
        // The table was made once, with its five rules, whoever came first.
        let rules = try lab.nftElements().split(separator: "\n").filter { $0.contains("masquerade") && $0.contains("ip saddr") || $0.contains("dnat ip to") }
        #expect(rules.count == 5)
    }

    @Test("A container reaches its own published port, and the node reaches it on 127.0.0.1 (hairpin and localhost SNAT)",
          arguments: ["routed", "bridged"])
    func hairpinAndLocalhost(_ mode: String) throws {
        let lab = try CNITestNode()
        try Command.check("ip", ["-n", lab.node.name, "link", "set", "lo", "up"])
        let a = try lab.container(), b = try lab.container()
        let config = lab.config(mode: mode, extra: #", "hairpinMode": true, "runtimeConfig": {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]}"#)
        let add = try lab.call("ADD", id: "ctr-a", netns: a.path, config: config)
        #expect(add.succeeded, "\(add.result.stdout)")
        #expect(try lab.call("ADD", id: "ctr-b", netns: b.path, config: lab.config(mode: mode)).succeeded)
        let server = try Spawner.spawn(SpawnRequest(executable: "busybox", arguments: ["nc", "-ll", "-p", "80", "-e", "echo", "from-a"],
                                                    environment: ["PATH": Spawner.defaultPath], stdin: .null, stdout: .null, stderr: .null,
                                                    networkNamespace: a.name, newSession: false))
        defer { kill(server.pid, SIGKILL); _ = try? server.wait() }
        func ask(_ namespace: String, _ host: String) -> String {
            var answer = ""
            for _ in 0..<40 where !answer.contains("from-a") {
                answer = (try? Command.run("busybox", ["nc", "-w", "2", host, "8080"], netns: namespace))?.stdout ?? ""
                if !answer.contains("from-a") { usleep(50_000) }
            }
            return answer
        }
        // Hairpin: container a, through the node's published port, back to itself.
        #expect(ask(a.name, "10.77.0.1").contains("from-a"), "container a did not reach its own published port through the node (hairpin)")
        // Another container, and the node itself on loopback.
        #expect(ask(b.name, "10.77.0.1").contains("from-a"), "container b did not reach a's published port")
        #expect(ask(lab.node.name, "127.0.0.1").contains("from-a"), "the node did not reach the published port on 127.0.0.1")
        let localnet = try Command.check("ip", ["netns", "exec", lab.node.name, "cat", "/proc/sys/net/ipv4/conf/cni0/route_localnet"])
        #expect(localnet.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        #expect(try lab.nftElements().contains("10.77.0.2 . 10.77.0.2"))
        #expect(try lab.call("CHECK", id: "ctr-a", netns: a.path, config: config).succeeded)
        #expect(try lab.call("DEL", id: "ctr-a", netns: a.path, config: config).succeeded)
        #expect(!(try lab.nftElements()).contains("10.77.0.2 . 10.77.0.2"))
    }

    @Test("A network's table deleted behind the plugin's back is made again from the store by the next ADD")
    func tableRebuiltFromStore() throws {
        let lab = try CNITestNode()
        let mapped = lab.config(extra: #", "runtimeConfig": {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]}"#)
        #expect(try lab.call("ADD", id: "c0", netns: try lab.container().path, config: mapped).succeeded)
        #expect(try lab.call("ADD", id: "c1", netns: try lab.container().path, config: lab.config()).succeeded)
        try Command.check("nft", ["delete", "table", "ip", "podlab-cni-testnet"], netns: lab.node.name)
        let c2 = try lab.container()
        #expect(try lab.call("ADD", id: "c2", netns: c2.path, config: lab.config()).succeeded)
        let table = try lab.nftElements()
        for element in ["10.77.0.2", "10.77.0.3", "10.77.0.4", "10.77.0.2 . 10.77.0.2", "tcp . 8080 : 10.77.0.2 . 80"] {
            #expect(table.contains(element), "\(element) missing from the rebuilt table:\n\(table)")
        }
        #expect(try lab.call("CHECK", id: "c2", netns: c2.path, config: lab.config()).succeeded)
    }

    struct BadInput: Sendable, CustomStringConvertible {
        var name: String
        var code: Int
        var description: String { name }
    }

    @Test("Bad input gets the spec's code and leaves no link, address, allocation or rule", arguments: [
        BadInput(name: "malformed JSON", code: 6), BadInput(name: "missing CNI_NETNS", code: 4), BadInput(name: "netns that does not exist", code: 4),
        BadInput(name: "netns that is not a network namespace", code: 4), BadInput(name: "unknown cniVersion", code: 1),
        BadInput(name: "exhausted range", code: 11), BadInput(name: "ifname too long", code: 4), BadInput(name: "ifname taken", code: 4),
        BadInput(name: "ifname taken on a network in use", code: 4),
        BadInput(name: "bridge name of a non-bridge link", code: 7), BadInput(name: "prevResult that does not parse", code: 6),
    ])
    func badInput(_ bad: BadInput) throws {
        let lab = try CNITestNode()
        let c = try lab.container()
        var config = lab.config()
        var env = lab.environment("ADD", "bad", c.path, "eth0")
        switch bad.name {
        case "malformed JSON": config = String(config.dropLast(3))
        case "missing CNI_NETNS": env["CNI_NETNS"] = nil
        case "netns that does not exist": env["CNI_NETNS"] = "/run/netns/" + KernelTest.uniqueName("nope")
        case "netns that is not a network namespace": env["CNI_NETNS"] = "/proc/self/ns/mnt"
        case "unknown cniVersion": config = lab.config(version: "1.9.0")
        case "exhausted range": config = lab.config(ranges: #"[[{"subnet": "10.77.0.0/24", "rangeStart": "10.77.0.9", "rangeEnd": "10.77.0.9"}]]"#)
            let other = try lab.container()
            #expect(try lab.call("ADD", id: "first", netns: other.path, config: config).succeeded)
        case "ifname too long": env["CNI_IFNAME"] = "eth0-much-too-long"
        case "ifname taken": try Command.check("ip", ["-n", c.name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"])
        case "ifname taken on a network in use":  // the bridge exists: the veth's creation finds it
            let other = try lab.container()
            #expect(try lab.call("ADD", id: "first", netns: other.path, config: config).succeeded)
            try Command.check("ip", ["-n", c.name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"])
        case "bridge name of a non-bridge link": try Command.check("ip", ["-n", lab.node.name, "link", "add", "cni0", "type", "veth", "peer", "name", "cni0p"])
        case "prevResult that does not parse": config = lab.config(extra: #", "prevResult": {"ips": [{"address": "10.1.2.3"}]}"#)
        default: Issue.record("unknown case")
        }
        let linksBefore = try lab.hostLinks()
        let recordsBefore = (try? lab.allocations().records.count) ?? 0
        let tableBefore = try lab.nftElements()
        let call = try lab.call("ADD", config: config, environment: env)
        #expect(!call.succeeded)
        #expect(call.code == bad.code, "\(bad.name): \(call.result.stdout)")
        #expect(call.json?["msg"]?.stringValue?.isEmpty == false)
        #expect(try lab.hostLinks() == linksBefore)
        #expect(((try? lab.allocations().records.count) ?? 0) == recordsBefore)
        #expect(try lab.nftElements() == tableBefore)
        let podLinks = try Command.ipJSON(c.name, ["addr"])
        #expect(!podLinks.contains { ($0["addr_info"] as? [[String: Any]] ?? []).contains { ($0["local"] as? String ?? "").hasPrefix("10.77.") } })
    }
}

@Suite("A socket opened from the only thread, or through the worker", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct OnlyThreadSocketTests {
    @Test("In a process with several threads the socket is opened through the worker, inside the namespace")
    func fallsBackToWorker() throws {
        try KernelTest.withNamespacesSync(1, prefix: "cnis") { namespaces in
            let ns = namespaces[0]
            try Command.check("ip", ["-n", ns.name, "link", "add", "probe0", "type", "veth", "peer", "name", "probe1"])
            let netlink = RouteNetlink(transport: try ns.openSocketFromOnlyThread(.route))
            #expect(try netlink.linkIfPresent(named: "probe0") != nil)
            #expect(try RouteNetlink(transport: try NetlinkSocket(bus: .route)).linkIfPresent(named: "probe0") == nil)
            #expect(netlink.namespace == ns.name)
        }
    }
}
