@testable import AgentTestSupport
import Foundation
import Netns
import PodNet
import Testing

/// ReplicaSets and Services through the real controller, with containers faked.
@Suite struct WorkloadControllerTests {
    static let replicaSet = """
        apiVersion: apps/v1
        kind: ReplicaSet
        metadata: {name: web}
        spec:
          replicas: 3
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - {name: nginx, image: nginx}
        """

    @Test func aReplicaSetMakesItsReplicasAndReplacesAPodThatGoes() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            try await agent.create(Self.replicaSet)
            try await agent.wait("3 pods running") { await agent.pods().filter { $0.status.phase == .running }.count == 3 }
            let pods = await agent.pods()
            #expect(pods.allSatisfy { $0.metadata.name.hasPrefix("web-") && $0.metadata.labels["app"] == "web" })
            try await agent.wait("3 ready replicas") { await agent.replicaSet("web")?.status.readyReplicas == 3 }

            let victim = try #require(pods.first).metadata.name
            try await agent.deletePod(victim)
            try await agent.wait("a replacement") {
                let names = await agent.pods().filter { $0.status.phase == .running && $0.metadata.deletionTimestamp == nil }.map(\.metadata.name)
                return names.count == 3 && !names.contains(victim)
            }
        }
    }

    @Test func scalingAReplicaSetDownAndUpDeletesAndCreatesPods() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            try await agent.create(Self.replicaSet)
            try await agent.wait("3 pods running") { await agent.pods().filter { $0.status.phase == .running }.count == 3 }
            var replicaSet = try #require(await agent.replicaSet("web"))
            replicaSet.spec.replicas = 1
            try await agent.replaceReplicaSet(replicaSet)
            try await agent.wait("1 pod left") { await agent.pods().count == 1 }
            try await agent.wait("status says 1") { await agent.replicaSet("web")?.status.replicas == 1 }
            #expect(agent.runtime.sandboxes.filter { $0.hasPrefix("\(agent.lab)_pod_default_web-") }.count == 1)

            replicaSet = try #require(await agent.replicaSet("web"))
            replicaSet.spec.replicas = 2
            try await agent.replaceReplicaSet(replicaSet)
            try await agent.wait("2 pods running") { await agent.pods().filter { $0.status.phase == .running }.count == 2 }
        }
    }

    @Test func endpointSlicesFollowThePodsReadiness() async throws {
        // A back-off long enough for the not-ready endpoint to be seen.
        try await TestAgent.with(backoffSeconds: 0.5, serveAPI: false) { agent in
            try await agent.create("""
                apiVersion: v1
                kind: Service
                metadata: {name: web}
                spec:
                  selector: {app: web}
                  ports:
                  - {port: 80}
                """)
            try await agent.createPod("""
                apiVersion: v1
                kind: Pod
                metadata: {name: web-1, labels: {app: web}}
                spec:
                  containers:
                  - {name: nginx, image: nginx}
                """)
            let pod = try await agent.waitForPod("web-1", "Running") { $0?.status.phase == .running }
            let address = try #require(pod?.status.podIP)
            @Sendable func endpoints() async -> [Endpoint] {
                let slices = await agent.endpointSlices().filter { $0.metadata.labels["kubernetes.io/service-name"] == "web" }
                return slices.flatMap(\.endpoints)
            }
            try await agent.wait("a ready endpoint") {
                let found = await endpoints()
                return found.map(\.addresses) == [[address]] && found.map(\.ready) == [true]
            }
            // The first crash restarts at once; the second waits out a back-off, not ready.
            agent.runtime.exit("web-1", container: "nginx", .exited(1))
            try await agent.waitForPod("web-1", "restarted") { $0?.status[container: "nginx"]?.restartCount == 1 }
            try await agent.wait("running again") { agent.runtime.isRunning("web-1", container: "nginx") }
            agent.runtime.exit("web-1", container: "nginx", .exited(1))
            try await agent.wait("the endpoint not ready") { await endpoints().map(\.ready) == [false] }
            try await agent.wait("ready again after the back-off") { await endpoints().map(\.ready) == [true] }
            // The Service's rules are programmed on every node, with the pod behind it.
            try await agent.wait("Service rules on both nodes") { agent.runtime.servicesSynced.count == 2 }

            try await agent.deletePod("web-1")
            try await agent.wait("no endpoint left") { await endpoints().isEmpty }
        }
    }
}
