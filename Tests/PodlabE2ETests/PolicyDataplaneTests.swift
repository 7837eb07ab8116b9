import Foundation
import KernelTestSupport
import Netns
@testable import PodlabAgent
import PodNet
import Testing

/// The policy table in a real node namespace: read back equal to what was programmed, element
/// diffs for a label change.
@Suite("Policy dataplane", .enabled(if: KernelTest.isRoot && KernelTest.hasNft, "needs root and nft"), .rootNamespaceUnchanged)
struct PolicyDataplaneTests {
    static func world(label: String) -> PolicyWorld {
        let pods = [
            PolicyPod(namespace: "x", name: "a", labels: ["pod": "a"], address: IPv4Address("10.244.1.2")!, node: "n1", namedPorts: [.init("http", .tcp): 8080]),
            PolicyPod(namespace: "x", name: "b", labels: ["pod": label], address: IPv4Address("10.244.1.3")!, node: "n1"),
            PolicyPod(namespace: "y", name: "c", labels: ["pod": "c"], address: IPv4Address("10.244.2.2")!, node: "n2"),
        ]
        let policy = try! NetworkPolicy(json: YAMLReader.value(from: """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: p, namespace: x}
            spec:
              podSelector: {matchLabels: {pod: a}}
              policyTypes: [Ingress, Egress]
              ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}], ports: [{port: http}, {port: 80, endPort: 82}]}]
              egress: [{to: [{ipBlock: {cidr: 10.244.0.0/16, except: [10.244.2.0/24]}}], ports: [{protocol: UDP}]}]
            """)).applyingDefaults()
        return PolicyWorld(pods: pods, namespaceLabels: ["x": [:], "y": [:]], policies: [policy],
                           nodeAddresses: ["n1": [IPv4Address("10.244.1.1")!], "n2": [IPv4Address("10.244.2.1")!]])
    }

    @Test("programmed, read back equal; a restarted dataplane sends nothing; a label change sends only elements")
    func roundTrip() async throws {
        try await KernelTest.withNamespaces(1, prefix: "plnp") { namespaces in
            let namespace = namespaces[0]
            let first = PolicyRules.generate(Self.world(label: "b"), node: "n1")
            let dataplane = PolicyDataplane()
            let report = try await dataplane.sync(node: "n1", namespace: namespace, desired: first)
            #expect(report.rebuilt)
            let installed = try #require(try PolicyDataplane.installed(in: namespace))
            #expect(installed == first.kernelView, "read back:\n\(installed)\nwanted:\n\(first.kernelView)")

            // A fresh dataplane (an agent restarted) reads the table and finds nothing to do.
            let restarted = PolicyDataplane()
            #expect(try await restarted.sync(node: "n1", namespace: namespace, desired: first).isEmpty)

            let second = PolicyRules.generate(Self.world(label: "other"), node: "n1")
            let change = try await restarted.sync(node: "n1", namespace: namespace, desired: second)
            #expect(!change.rebuilt)
            #expect(change.addedElements + change.deletedElements > 0)
            #expect(try PolicyDataplane.installed(in: namespace) == second.kernelView)
        }
    }

    @Test("a logged policy's rate limit and log statement are read back as programmed; logging off rebuilds the table")
    func loggedRoundTrip() async throws {
        try await KernelTest.withNamespaces(1, prefix: "plnl") { namespaces in
            let namespace = namespaces[0]
            var world = Self.world(label: "b")
            world.policies[0].metadata.annotations[PolicyLog.annotation] = "true"
            let logged = PolicyRules.generate(world, node: "n1")
            #expect(logged.set("ingress-logged")?.elements.isEmpty == false)
            let dataplane = PolicyDataplane()
            _ = try await dataplane.sync(node: "n1", namespace: namespace, desired: logged)
            let installed = try #require(try PolicyDataplane.installed(in: namespace))
            #expect(installed == logged.kernelView, "read back:\n\(installed)\nwanted:\n\(logged.kernelView)")
            let listed = try Command.run("nft", ["list", "chain", "ip", "podlab-policy", "ingress-check"], netns: namespace.name).stdout
            // nft leaves out a burst of 5 packets, its default.
            #expect(listed.contains("ip daddr . meta mark @ingress-logged limit rate 10/second log prefix \"ingress x/p\" group 13"), "\(listed)")
            #expect(try await PolicyDataplane().sync(node: "n1", namespace: namespace, desired: logged).isEmpty)

            let quiet = PolicyRules.generate(Self.world(label: "b"), node: "n1")
            #expect(try await dataplane.sync(node: "n1", namespace: namespace, desired: quiet).rebuilt)
            #expect(try PolicyDataplane.installed(in: namespace) == quiet.kernelView)
        }
    }

    @Test("an index's deltas, applied one transaction each, keep the kernel equal to the index; a delta that does not fit sends nothing")
    func deltas() async throws {
        try await KernelTest.withNamespaces(1, prefix: "plnp") { namespaces in
            let namespace = namespaces[0]
            var world = Self.world(label: "b")
            var index = PolicyIndex(world)
            let dataplane = PolicyDataplane()
            #expect(try await dataplane.apply(node: "n1", namespace: namespace, delta: index.takeDelta(node: "n1")) == nil,
                    "nothing known of the node yet: the whole ruleset is wanted")
            _ = try await dataplane.sync(node: "n1", namespace: namespace, desired: index.ruleset(node: "n1"))

            // x/b leaves the peer (its identity changes), then comes back; y/c goes.
            for label in ["other", "b"] {
                var pod = world.pods.first { $0.name == "b" }!
                pod.labels["pod"] = label
                index.updatePod(namespace: "x", name: "b", pod)
                let delta = index.takeDelta(node: "n1")
                #expect(!delta.isEmpty)
                let report = try #require(try await dataplane.apply(node: "n1", namespace: namespace, delta: delta))
                #expect(!report.rebuilt && report.addedElements + report.deletedElements == delta.count)
                #expect(try PolicyDataplane.installed(in: namespace) == index.ruleset(node: "n1").kernelView)
            }
            index.updatePod(namespace: "y", name: "c", nil)
            world.pods.removeAll { $0.name == "c" }
            let removal = index.takeDelta(node: "n1")
            _ = try #require(try await dataplane.apply(node: "n1", namespace: namespace, delta: removal))
            #expect(try PolicyDataplane.installed(in: namespace) == index.ruleset(node: "n1").kernelView)
            #expect(try PolicyDataplane.installed(in: namespace) == PolicyRules.generate(world, node: "n1", identities: index.identities).kernelView)

            // The same delta again removes what is gone: refused whole, the kernel untouched.
            #expect(try await dataplane.apply(node: "n1", namespace: namespace, delta: removal) == nil)
            #expect(try PolicyDataplane.installed(in: namespace) == index.ruleset(node: "n1").kernelView)
        }
    }

    @Test("a failed transaction leaves the previous rules in force; the next sync reads the kernel and succeeds")
    func failureLeavesRules() async throws {
        try await KernelTest.withNamespaces(1, prefix: "plnp") { namespaces in
            let namespace = namespaces[0]
            let dataplane = PolicyDataplane()
            let first = PolicyRules.generate(Self.world(label: "b"), node: "n1")
            _ = try await dataplane.sync(node: "n1", namespace: namespace, desired: first)
            // Behind the dataplane's back, an element it believes installed disappears.
            _ = try Command.check("nft", ["delete", "element", "ip", PolicyRules.table, "ingress-pods", "{ 10.244.1.2 }"], netns: namespace.name)
            let tampered = try #require(try PolicyDataplane.installed(in: namespace))

            // The next change deletes that element: the kernel refuses the whole batch.
            let second = PolicyRules.generate(Self.world(label: "b"), node: "n2")
            await #expect(throws: (any Error).self) { try await dataplane.sync(node: "n1", namespace: namespace, desired: second) }
            #expect(try PolicyDataplane.installed(in: namespace) == tampered, "nothing of the failed batch applied")

            // Its state now unknown, the dataplane reads the kernel again and gets there.
            _ = try await dataplane.sync(node: "n1", namespace: namespace, desired: second)
            #expect(try PolicyDataplane.installed(in: namespace) == second.kernelView)
        }
    }
}
