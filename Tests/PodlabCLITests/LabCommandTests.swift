import Foundation
import PodlabCLI
import Synchronization
import Testing

let readyLab = """
    {"name":"podlab","phase":"Ready","message":"","routing":"host-gw","clusterCIDR":"10.244.0.0/16",
     "serviceCIDR":"10.96.0.0/16","underlayCIDR":"192.168.200.0/24","agent":{"pid":4242,"startTime":"2024-01-01T00:00:00Z"},
     "nodes":[{"name":"podlab-n1","namespace":"podlab-n1","underlayIP":"192.168.200.11","podCIDR":"10.244.1.0/24","gateway":"10.244.1.1","pods":2,"ready":true},
              {"name":"podlab-n2","namespace":"podlab-n2","underlayIP":"192.168.200.12","podCIDR":"10.244.2.0/24","gateway":"10.244.2.1","pods":0,"ready":true}]}
    """

@Suite("Lab verbs against a fake agent")
struct LabCommandTests {
    @Test func status() async throws {
        try await FakeAgent.with({ request in
            switch request.path {
            case "/podlab/v1/lab": .json(200, readyLab)
            case "/healthz": .json(200, "ok")
            case "/api/v1/pods": .json(200, """
                {"kind":"PodList","apiVersion":"v1","metadata":{},"items":[
                 {"metadata":{"name":"a","namespace":"default"},"status":{"phase":"Running"}},
                 {"metadata":{"name":"b","namespace":"default"},"status":{"phase":"Pending"}},
                 {"metadata":{"name":"c","namespace":"team"},"status":{"phase":"Succeeded"}}]}
                """)
            default: .notFound("things", request.path)
            }
        }) { agent in
            let t = agent.context()
            #expect(await t.run(["status"]) == 0)
            #expect(t.stdout.text == """
                LAB      PHASE   HEALTH   AGENT      ROUTING   CLUSTER CIDR    SERVICE CIDR   UNDERLAY CIDR
                podlab   Ready   ok       pid 4242   host-gw   10.244.0.0/16   10.96.0.0/16   192.168.200.0/24

                NODE        STATUS   NAMESPACE   UNDERLAY IP      POD CIDR        GATEWAY      PODS
                podlab-n1   Ready    podlab-n1   192.168.200.11   10.244.1.0/24   10.244.1.1   2
                podlab-n2   Ready    podlab-n2   192.168.200.12   10.244.2.0/24   10.244.2.1   0

                NAMESPACE   PODS   RUNNING   PENDING   SUCCEEDED   FAILED
                default     2      1         1         0           0
                team        1      0         0         1           0

                State: \(agent.root)/podlab  Log: \(agent.root)/podlab/agent.log

                """)
        }
    }

    @Test func statusOfAnotherLabThatIsNotRunning() async throws {
        try await FakeAgent.with({ _ in .json(200, readyLab) }) { agent in
            let t = agent.context()
            #expect(await t.run(["status", "--lab", "other"]) == 1)
            #expect(t.stderr.text == "lab \"other\" is not running (start it with \"podlab up --lab other\")\n")
        }
    }

    @Test func upWhenTheLabIsAlreadyReady() async throws {
        try await FakeAgent.with({ _ in .json(200, readyLab) }) { agent in
            let t = agent.context()
            #expect(await t.run(["up"]) == 0)
            #expect(t.stderr.text == "lab \"podlab\" is already up (agent pid 4242, phase Ready)\n")
            #expect(t.stdout.text.hasPrefix("Lab \"podlab\" is ready: 2 nodes, host-gw routing (agent pid 4242).\n\nNODE "))
            #expect(t.stdout.text.contains("podlab-n2   192.168.200.12   10.244.2.0/24   10.244.2.1\n"))
            #expect(t.stdout.text.contains("  podlab run nginx --image nginx\n"))
        }
    }

    @Test("up FILE on a running lab: the same topology is \"already up\", another one is an error naming the differences")
    func upWithATopologyFile() async throws {
        let lab = """
            {"name":"podlab","phase":"Ready","routing":"host-gw","clusterCIDR":"10.244.0.0/16","serviceCIDR":"10.96.0.0/16",
             "underlayCIDR":"192.168.200.0/24","agent":{"pid":4242},
             "nodes":[{"name":"n1","podCIDR":"10.244.1.0/24"},{"name":"n2","podCIDR":"10.244.2.0/24"}]}
            """
        try await FakeAgent.with({ _ in .json(200, lab) }) { agent in
            let same = agent.root + "/same.yaml", other = agent.root + "/other.yaml"
            try "nodeCount: 2\n".write(toFile: same, atomically: true, encoding: .utf8)
            try "routing: vxlan\nnodeCount: 3\n".write(toFile: other, atomically: true, encoding: .utf8)
            let t = agent.context()
            #expect(await t.run(["up", same]) == 0)
            #expect(t.stderr.text == "lab \"podlab\" is already up (agent pid 4242, phase Ready)\n")

            let u = agent.context()
            #expect(await u.run(["up", other]) == 1)
            #expect(u.stderr.text == """
                error: lab "podlab" is already up with another topology than \(other): routing host-gw (the file: vxlan); \
                nodes n1 10.244.1.0/24, n2 10.244.2.0/24 (the file: n1 10.244.1.0/24, n2 10.244.2.0/24, n3 10.244.3.0/24). \
                Run "podlab down" first, or choose another lab with --lab

                """)
        }
    }

    @Test func upWaitsWhileTheLabIsCreating() async throws {
        let calls = Counter()
        try await FakeAgent.with({ request in
            let n = calls.next()
            let nodes = ["", "podlab-n1", "podlab-n1", "podlab-n2"]
            if n < 4 { return .json(200, #"{"name":"podlab","phase":"Creating","message":"creating node \#(nodes[n])"}"#) }
            return .json(200, readyLab)
        }) { agent in
            let t = agent.context()
            #expect(await t.run(["up"]) == 0)
            #expect(t.stderr.text == """
                lab "podlab" is already up (agent pid ?, phase Creating)
                Creating: creating node podlab-n1
                Creating: creating node podlab-n2

                """)
        }
    }

    @Test func upReportsAFailedLab() async throws {
        try await FakeAgent.with({ _ in .json(200, #"{"name":"podlab","phase":"Failed","message":"RTM_NEWLINK: File exists"}"#) }) { agent in
            try "line 1\nline 2\n".write(toFile: "\(agent.root)/podlab/agent.log", atomically: true, encoding: .utf8)
            let t = agent.context()
            #expect(await t.run(["up"]) == 1)
            #expect(t.stderr.text == """
                lab "podlab" is already up (agent pid ?, phase Failed)
                error: lab "podlab" failed: RTM_NEWLINK: File exists
                Last lines of \(agent.root)/podlab/agent.log:
                  line 1
                  line 2
                Remove what is left with "podlab down".

                """)
        }
    }

    @Test func downWithoutAgentButWithState() async throws {
        try await FakeAgent.with({ _ in .json(200, readyLab) }) { agent in
            try FileManager.default.createDirectory(atPath: "\(agent.root)/old/ns", withIntermediateDirectories: true)
            try "123456789".write(toFile: "\(agent.root)/old/agent.pid", atomically: true, encoding: .utf8)
            try "".write(toFile: "\(agent.root)/old/store.sqlite", atomically: true, encoding: .utf8)
            let t = agent.context()
            #expect(await t.run(["down", "--lab", "old"]) == 1)
            #expect(t.stderr.text.contains("error: lab \"old\" is not running, but its state is still in \(agent.root)/old."))
            #expect(t.stderr.text.contains("run \"podlab up --lab old\", then \"podlab down --lab old\""))
        }
    }

    @Test func downWhenNothingExists() async throws {
        try await FakeAgent.with({ _ in .json(200, readyLab) }) { agent in
            let t = agent.context()
            #expect(await t.run(["down", "--lab", "never"]) == 0)
            #expect(t.stderr.text == "lab \"never\" is not running; nothing to delete\n")
        }
    }

    @Test func downAfterACleanDownFindsNothingToDelete() async throws {
        try await FakeAgent.with({ _ in .json(200, readyLab) }) { agent in
            // What a finished agent leaves: its log, its pid file, an empty directory.
            try FileManager.default.createDirectory(atPath: "\(agent.root)/done/ns", withIntermediateDirectories: true)
            try "999999999\n".write(toFile: "\(agent.root)/done/agent.pid", atomically: true, encoding: .utf8)
            try "lab deleted\n".write(toFile: "\(agent.root)/done/agent.log", atomically: true, encoding: .utf8)
            let t = agent.context()
            #expect(await t.run(["down", "--lab", "done"]) == 0)
            #expect(t.stderr.text == "lab \"done\" is not running; nothing to delete\n")
        }
    }

    @Test func downDeletesAndWaitsUntilTheAPIIsGone() async throws {
        let deleted = Counter()
        try await FakeAgent.with({ request in
            if request.method == "DELETE" { _ = deleted.next(); return .json(202, #"{"name":"podlab","phase":"Deleting"}"#) }
            // This fake names no agent pid: `down` then waits until the lab API stops answering.
            return deleted.value > 0 ? .status(.notFound(resource: "labs", name: "podlab")) : .json(200, #"{"name":"podlab","phase":"Ready"}"#)
        }) { agent in
            let t = agent.context()
            #expect(await t.run(["down"]) == 0)
            #expect(agent.requestLines == ["GET /podlab/v1/lab", "DELETE /podlab/v1/lab", "GET /podlab/v1/lab"])
            #expect(t.stdout.text == "lab \"podlab\" deleted\n")
        }
    }
}

/// A thread-safe counter for fake handlers.
final class Counter: Sendable {
    private let count = Mutex(0)
    func next() -> Int { count.withLock { $0 += 1; return $0 } }
    var value: Int { count.withLock { $0 } }
}

@Suite("The lab's HTTPS API in up, status and kubeconfig")
struct APIServerLineTests {
    static let labWithServer = readyLab.replacingOccurrences(of: #""nodes":"#, with: #""apiServer":"https://127.0.0.1:40123","nodes":"#)

    @Test("status and up name the API server")
    func statusAndUp() async throws {
        try await FakeAgent.with({ request in
            switch request.path {
            case "/podlab/v1/lab": .json(200, Self.labWithServer)
            case "/healthz": .json(200, "ok")
            default: .json(200, #"{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]}"#)
            }
        }) { agent in
            let status = agent.context()
            #expect(await status.run(["status"]) == 0)
            #expect(status.stdout.text.contains("\nAPI server: https://127.0.0.1:40123\n"))
            let up = agent.context()
            #expect(await up.run(["up"]) == 0)
            #expect(up.stdout.text.contains("API server:     https://127.0.0.1:40123 (for kubectl: podlab kubeconfig --merge)\n"))
        }
    }

    @Test("kubeconfig of a lab without credentials says so; --path and --merge exclude each other")
    func kubeconfigRefusals() async throws {
        try await FakeAgent.with({ _ in .json(200, readyLab) }) { agent in
            let missing = agent.context()
            #expect(await missing.run(["kubeconfig"]) == 1)
            #expect(missing.stderr.text.contains("lab \"podlab\" has no HTTPS API credentials"))
            let both = agent.context()
            #expect(await both.run(["kubeconfig", "--path", "--merge"]) == 1)
            #expect(both.stderr.text.contains("--path and --merge cannot be used together"))
        }
    }

    @Test("--merge writes to $KUBECONFIG's first file, else ~/.kube/config")
    func mergeTarget() {
        #expect(KubeconfigCommand.mergeTarget(["KUBECONFIG": "/a/one:/b/two", "HOME": "/home/x"]) == "/a/one")
        #expect(KubeconfigCommand.mergeTarget(["KUBECONFIG": ":/b/two"]) == "/b/two")
        #expect(KubeconfigCommand.mergeTarget(["HOME": "/home/x"]) == "/home/x/.kube/config")
    }
}
