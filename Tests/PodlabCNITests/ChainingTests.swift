import Foundation
import KernelTestSupport
import Netns
import Testing
@testable import PodlabCNI

/// The reference plugins (Debian's containernetworking-plugins) chained after podlab-cni, as a
/// runtime runs a conflist: each gets the previous result as `prevResult`.
@Suite("Reference plugins chained after podlab-cni", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct ChainingTests {
    static let referenceDirectory = "/usr/lib/cni"
    static let available = FileManager.default.isExecutableFile(atPath: referenceDirectory + "/portmap")
        && FileManager.default.isExecutableFile(atPath: referenceDirectory + "/tuning")

    /// A plugin's configuration in a conflist: the network's name and version, then its own fields.
    func chained(_ type: String, _ fields: String, prevResult: String) -> String {
        #"{"cniVersion": "1.0.0", "name": "testnet", "type": "\#(type)"\#(fields), "prevResult": \#(prevResult)}"#
    }

    @Test("tuning and portmap take podlab-cni's result and pass it on; the mapping and the MTU apply",
          .enabled(if: available, "needs containernetworking-plugins (scripts/install-deps installs it)"))
    func portmapAndTuning() throws {
        let lab = try CNITestNode()
        let c = try lab.container()
        let add = try lab.call("ADD", id: "chain", netns: c.path, config: lab.config(version: "1.0.0"))
        #expect(add.succeeded, "\(add.result.stdout)")
        let podlabResult = add.result.stdout

        let tuning = try lab.call("ADD", id: "chain", netns: c.path,
                                  config: chained("tuning", #", "mtu": 1400"#, prevResult: podlabResult),
                                  executable: Self.referenceDirectory + "/tuning")
        #expect(tuning.succeeded, "\(tuning.result.stdout)\(tuning.result.stderr)")
        let afterTuning = try CNIResult(parsing: try #require(tuning.json))
        #expect(afterTuning.ips == (try CNIResult(parsing: try #require(add.json))).ips)
        let mtu = try Command.ipJSON(c.name, ["link", "show", "eth0"]).first?["mtu"] as? Int
        #expect(mtu == 1400)

        let mappings = #", "capabilities": {"portMappings": true}, "runtimeConfig": {"portMappings": [{"hostPort": 9090, "containerPort": 80, "protocol": "tcp"}]}"#
        let portmap = try lab.call("ADD", id: "chain", netns: c.path, config: chained("portmap", mappings, prevResult: tuning.result.stdout),
                                   executable: Self.referenceDirectory + "/portmap")
        #expect(portmap.succeeded, "\(portmap.result.stdout)\(portmap.result.stderr)")
        #expect(try CNIResult(parsing: try #require(portmap.json)).ips == afterTuning.ips)

        let server = try Spawner.spawn(SpawnRequest(executable: "busybox", arguments: ["nc", "-l", "-p", "80", "-e", "echo", "chained"],
                                                    environment: ["PATH": Spawner.defaultPath], stdin: .null, stdout: .null, stderr: .null,
                                                    networkNamespace: c.name, newSession: false))
        defer { kill(server.pid, SIGKILL); _ = try? server.wait() }
        var answer = ""
        for _ in 0..<50 where !answer.contains("chained") {
            answer = (try? Command.run("busybox", ["nc", "-w", "2", "10.77.0.1", "9090"], netns: lab.node.name))?.stdout ?? ""
            if !answer.contains("chained") { usleep(50_000) }
        }
        #expect(answer.contains("chained"), "portmap's mapping to podlab-cni's address did not answer")

        // DEL in reverse order, as a runtime does; podlab-cni's DEL removes the rest.
        #expect(try lab.call("DEL", id: "chain", netns: c.path, config: chained("portmap", mappings, prevResult: portmap.result.stdout),
                             executable: Self.referenceDirectory + "/portmap").succeeded)
        #expect(try lab.call("DEL", id: "chain", netns: c.path, config: chained("tuning", #", "mtu": 1400"#, prevResult: podlabResult),
                             executable: Self.referenceDirectory + "/tuning").succeeded)
        #expect(try lab.call("DEL", id: "chain", netns: c.path, config: lab.config(version: "1.0.0")).succeeded)
        #expect(try lab.allocations().records.isEmpty)
    }
}
