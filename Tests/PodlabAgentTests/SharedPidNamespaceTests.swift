@testable import AgentTestSupport
import Foundation
import Netns
@testable import PodlabAgent
import PodNet
import Testing

/// `shareProcessNamespace`: the controller's side of the pod's pid namespace — a pause process
/// started with the sandbox, every container born in its namespace, a new one (and the
/// kubelet's `SandboxChanged`) when it ended, and none left after the pod — with the kernel's
/// part faked.
@Suite struct SharedPidNamespaceTests {
    static func pod(_ name: String, shared: Bool?, restartPolicy: String = "Always") -> String {
        var text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \(name)\nspec:\n  restartPolicy: \(restartPolicy)\n"
        if let shared { text += "  shareProcessNamespace: \(shared)\n" }
        return text + "  containers:\n"
            + ["a", "b"].map { "  - name: \($0)\n    image: busybox\n    command: [\"sleep\", \"3600\"]\n" }.joined()
    }

    @Test func everyContainerIsBornInThePauseProcesssNamespace() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            try await agent.createPod(Self.pod("shared", shared: true))
            try await agent.waitForPod("shared", "Running") { $0?.status.phase == .running }
            let pause = try #require(agent.runtime.pauses.first)
            #expect(agent.runtime.pauses.count == 1)
            #expect(agent.runtime.isAlive(pause))
            for container in ["a", "b"] {
                #expect(agent.runtime.latest("shared", container: container)?.pidNamespace == "/proc/\(pause.pid)/ns/pid")
            }
            // Recorded with the pod's processes, for a restarted agent.
            let uid = try #require(await agent.pod("shared")?.metadata.uid)
            #expect(try await agent.controller.store.read { try $0.processes(podUID: uid) }[PodPause.recordName] == pause)
        }
    }

    @Test(arguments: [false, nil] as [Bool?])
    func withoutTheFieldThereIsNoPauseProcess(shared: Bool?) async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            try await agent.createPod(Self.pod("own", shared: shared))
            try await agent.waitForPod("own", "Running") { $0?.status.phase == .running }
            #expect(agent.runtime.pauses.isEmpty)
            #expect(agent.runtime.latest("own", container: "a")?.pidNamespace == nil)
        }
    }

    @Test func aPauseProcessThatDiedIsMadeAgainAndTheContainersRestartInItsNamespace() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            try await agent.createPod(Self.pod("phoenix", shared: true))
            try await agent.waitForPod("phoenix", "Running") { $0?.status.phase == .running }
            let first = try #require(agent.runtime.pauses.first)
            // The kernel kills the namespace's processes with its init.
            #expect(agent.runtime.killPause(first))
            let pod = try await agent.waitForPod("phoenix", "both restarted") { pod in
                ["a", "b"].allSatisfy { pod?.status[container: $0]?.restartCount == 1 && pod?.status[container: $0]?.state.running != nil }
            }
            #expect(pod?.status[container: "a"]?.lastState.terminated?.exitCode == 137)
            #expect(agent.runtime.pauses.count == 2)
            let second = try #require(agent.runtime.pauses.last)
            #expect(agent.runtime.isAlive(second))
            for container in ["a", "b"] {
                #expect(agent.runtime.latest("phoenix", container: container)?.pidNamespace == "/proc/\(second.pid)/ns/pid")
            }
            let changed = try await agent.events(of: "phoenix").filter { $0.reason == EventReason.sandboxChanged }
            #expect(changed.map(\.message) == ["Pod sandbox changed, it will be killed and re-created."])
            #expect(changed.first?.type == .normal)
            let uid = try #require(pod?.metadata.uid)
            #expect(try await agent.controller.store.read { try $0.processes(podUID: uid) }[PodPause.recordName] == second)
        }
    }

    @Test func deletionStopsThePauseProcessAfterTheContainers() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            try await agent.createPod(Self.pod("gone", shared: true))
            try await agent.waitForPod("gone", "Running") { $0?.status.phase == .running }
            let pause = try #require(agent.runtime.pauses.first)
            try await agent.deletePod("gone")
            try await agent.waitForPod("gone", "deleted") { $0 == nil }
            #expect(!agent.runtime.isAlive(pause))
            #expect(agent.runtime.pauses.count == 1)
            // Not a container: no "Stopping container" event for it, and no SandboxChanged.
            let reasons = try await agent.events(of: "gone")
            #expect(reasons.filter { $0.reason == EventReason.killing }.map(\.message).sorted() == ["Stopping container a", "Stopping container b"])
            #expect(!reasons.contains { $0.reason == EventReason.sandboxChanged })
        }
    }

    @Test func aFinishedPodsPauseProcessStops() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            try await agent.createPod(Self.pod("done", shared: true, restartPolicy: "Never"))
            try await agent.waitForPod("done", "Running") { $0?.status.phase == .running }
            let pause = try #require(agent.runtime.pauses.first)
            agent.runtime.exit("done", container: "a", .exited(0))
            agent.runtime.exit("done", container: "b", .exited(0))
            try await agent.waitForPod("done", "Succeeded") { $0?.status.phase == .succeeded }
            try await agent.wait("pause stopped") { !agent.runtime.isAlive(pause) }
            #expect(agent.runtime.pauses.count == 1)
        }
    }
}
