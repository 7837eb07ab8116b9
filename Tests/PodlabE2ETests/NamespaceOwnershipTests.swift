import Foundation
import KernelTestSupport
import Netns
import Testing

/// A lab's namespace names never collide with another object's, of the same lab or of another,
/// and a lab adopts or deletes a namespace only when it is its own (labelled by it).
@Suite("Namespaces belong to one lab", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct NamespaceOwnershipTests {
    /// A lab name short enough that `<name>-pod` is a lab name too (at most 12 characters).
    static func shortName() -> String { "v" + KernelTest.uniqueName("").prefix(6) }

    static func phase(_ lab: TestLab, _ pod: String, namespace: String = "default") throws -> String {
        let result = try lab.run(["get", "pod", pod, "-n", namespace, "-o", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
        return (object["status"] as? [String: Any])?["phase"] as? String ?? ""
    }

    @Test("lab v1 with pod u beside lab v1-pod: the second builds its own underlay, and its down leaves the first's pod running")
    func labsWithPrefixNames() async throws {
        let name = Self.shortName()
        try await TestLab.with(name: name) { first in
            try await first.start([PinnedPod("u", on: "n1", "web", image: "nginx")])
            let podNetns = first.podNamespace("u")
            let inode = try NetworkNamespace.open(podNetns).inode()

            try await TestLab.with(name: name + "-pod") { second in
                #expect(NetworkNamespace.exists(second.underlayNamespace))
                #expect(second.underlayNamespace != podNetns)
                let down = try second.run(["down"])
                #expect(down.succeeded)
                #expect(!NetworkNamespace.exists(second.underlayNamespace))
            }

            #expect(try NetworkNamespace.open(podNetns).inode() == inode, "the first lab's pod keeps its namespace")
            #expect(try Self.phase(first, "u") == "Running")
            #expect(try first.run(["exec", "u", "--", "curl", "-s", "http://127.0.0.1/"]).stdout.contains("Welcome to nginx!"))
            try await first.expectConsistent()
        }
    }

    @Test("pod other.o1 in default and pod o1 in namespace other get two namespaces; deleting one leaves the other")
    func namespaceAndDottedName() async throws {
        try await TestLab.with { lab in
            let manifest = lab.stateRoot + "/pods.yaml"
            try """
                apiVersion: v1
                kind: Namespace
                metadata: {name: other}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: other.o1}
                spec: {containers: [{name: web, image: nginx}]}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: o1, namespace: other}
                spec: {containers: [{name: web, image: httpd}]}
                """.write(toFile: manifest, atomically: true, encoding: .utf8)
            try lab.run(["apply", "-f", manifest])
            try await lab.eventually("both Running") {
                try Self.phase(lab, "other.o1") == "Running" && Self.phase(lab, "o1", namespace: "other") == "Running"
            }
            let dotted = lab.podNamespace("other.o1"), other = lab.podNamespace("o1", in: "other")
            #expect(dotted != other)
            let dottedInode = try NetworkNamespace.open(dotted).inode()
            #expect(try NetworkNamespace.open(other).inode() != dottedInode)

            try lab.run(["delete", "pod", "o1", "-n", "other", "--grace-period", "1"])
            try await lab.eventually("o1 gone") { !NetworkNamespace.exists(other) }
            #expect(try NetworkNamespace.open(dotted).inode() == dottedInode)
            #expect(try Self.phase(lab, "other.o1") == "Running")
        }
    }

    @Test("a namespace of the pod's name that the lab did not make is neither used nor deleted")
    func foreignPodNamespace() async throws {
        try await TestLab.with { lab in
            let name = lab.podNamespace("ghost")
            let foreign = try NetworkNamespace.create(name)
            defer { try? NetworkNamespace.delete(foreign.name, ignoreMissing: true) }
            let inode = try foreign.inode()

            try lab.run(["run", "ghost", "--image", "nginx"])
            try await lab.eventually("the pod reports the failed sandbox") {
                let status = (try lab.pod("ghost"))["status"] as? [String: Any] ?? [:]
                return status["reason"] as? String == "FailedCreatePodSandBox" && (status["message"] as? String ?? "").contains("exists")
            }
            #expect(try lab.run(["delete", "pod", "ghost", "--grace-period", "1"]).succeeded)
            try await lab.eventually("the pod is gone") { !(try lab.run(["get", "pods"]).stdout.contains("ghost")) }
            #expect(try NetworkNamespace.open(name).inode() == inode, "the test's namespace is still there")

            // An agent restart does not take it for an orphan of the lab either.
            try await lab.killAgent()
            try lab.run(["get", "pods"], expectSuccess: false)
            try lab.run(["status"], expectSuccess: false)
            try lab.run(["up"])
            #expect(try NetworkNamespace.open(name).inode() == inode)
        }
    }

    @Test("up refuses an underlay namespace that another made, names it, and leaves it; down leaves it too")
    func foreignUnderlay() async throws {
        let lab = try TestLab.make()
        let foreign = try NetworkNamespace.create(lab.underlayNamespace)
        defer {
            lab.tearDown()
            try? NetworkNamespace.delete(foreign.name, ignoreMissing: true)
        }
        let inode = try foreign.inode()
        let up = try lab.run(["up"], expectSuccess: false)
        #expect(!up.succeeded)
        #expect((up.stderr + up.stdout).contains("network namespace \"\(lab.underlayNamespace)\" exists but is not this lab's"), "\(up.stderr)\(up.stdout)")
        _ = try lab.run(["down"], expectSuccess: false)
        #expect(try NetworkNamespace.open(lab.underlayNamespace).inode() == inode)
        #expect(!NetworkNamespace.exists(lab.nodeNamespace("n1")), "nothing was built past the refusal")
    }

    @Test("a node deleted and added again lives in a namespace of its name again; each namespace carries the lab's label")
    func nodeNamespaceFollowsName() async throws {
        try await TestLab.with { lab in
            #expect(try lab.run(["node", "delete", "n2"]).succeeded)
            #expect(!NetworkNamespace.exists(lab.nodeNamespace("n2")))
            #expect(try lab.run(["node", "add", "n2"]).succeeded)
            #expect(NetworkNamespace.exists(lab.nodeNamespace("n2")))
            try lab.run(["run", "p", "--image", "nginx"])
            try await lab.eventually("p Running") { try Self.phase(lab, "p") == "Running" }
            var labels: Set<String> = []
            for namespace in [lab.underlayNamespace, lab.nodeNamespace("n1"), lab.nodeNamespace("n2"), lab.podNamespace("p")] {
                let lo = try #require(try Command.ipJSON(namespace, ["link", "show", "lo"]).first)
                labels.insert(lo["ifalias"] as? String ?? "")
            }
            #expect(labels.count == 1 && labels.first?.hasPrefix("podlab lab=\(lab.name) id=") == true, "\(labels)")
        }
    }
}
