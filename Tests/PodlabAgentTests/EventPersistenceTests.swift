@testable import AgentTestSupport
import Foundation
import Logging
@testable import PodlabAgent
import PodNet
import Testing

/// Events in the store: kept across an agent restart, dropped an hour after their last
/// occurrence or beyond the count.
@Suite struct EventPersistenceTests {
    static let deployment = ObjectReference(kind: "Deployment", namespace: "default", name: "web", uid: "d-1", apiVersion: "apps/v1")

    static func events(_ controller: Controller, namespace: String? = "default") async throws -> [Event] {
        let data = try await controller.listEvents(namespace: namespace, fieldSelector: nil)
        return try EventList(json: JSONReader.value(from: String(decoding: data, as: UTF8.self))).items
    }

    static func storedEvents(_ controller: Controller) async throws -> [Data] {
        try await controller.store.read { try $0.events() }
    }

    @Test func aRestartedAgentListsTheSameEventsAndDropsExpiredOnes() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            let controller = agent.controller
            await controller.recordEvent(about: Self.deployment, type: .normal, reason: "ScalingReplicaSet",
                                         message: "Scaled up replica set web-1 to 3", source: "deployment-controller")
            await controller.recordEvent(about: Self.deployment, type: .normal, reason: "ScalingReplicaSet",
                                         message: "Scaled up replica set web-1 to 3", source: "deployment-controller")
            await controller.recordEvent(about: Self.deployment, type: .warning, reason: "FailedCreate", message: "quota", source: "replicaset-controller")
            let before = try await Self.events(controller).filter { $0.involvedObject.uid == "d-1" }
            #expect(before.map(\.count) == [2, 1])
            // One stored two hours ago, as by an agent that ran then.
            let old = Event(metadata: ObjectMeta(name: "web.old", namespace: "default", uid: "e-old", resourceVersion: "1"),
                            involvedObject: Self.deployment, reason: "Old", message: "long ago", type: .normal,
                            firstTimestamp: Timestamp(secondsSince1970: Timestamp.now().secondsSince1970 - 7200),
                            lastTimestamp: Timestamp(secondsSince1970: Timestamp.now().secondsSince1970 - 7200))
            try await controller.store.write { tx in
                try tx.putEvent(namespace: "default", name: "web.old", lastSeen: EventRetention.lastSeen(old), json: Data(old.json.jsonText(indent: 0).utf8))
            }
            await controller.stop()  // writes what is not written yet

            // A new agent on the same state.
            let restarted = try Controller(paths: agent.paths, options: AgentOptions(lab: agent.lab, stateRoot: agent.root, registries: .loopback),
                                           logger: Logger(label: "podlab.agent.test.restarted"), runtime: FakeSandboxRuntime(cgroupRoot: "\(agent.root)/no-cgroups"))
            await restarted.start()
            #expect(await restarted.phase == .ready)
            let after = try await Self.events(restarted).filter { $0.involvedObject.uid == "d-1" }
            #expect(after == before)
            #expect(try await !Self.events(restarted, namespace: nil).contains { $0.metadata.name == "web.old" })
            #expect(try await Self.storedEvents(restarted).allSatisfy { !String(decoding: $0, as: UTF8.self).contains("web.old") })
            // A repeat counts up the stored event, with a version after every stored one.
            await restarted.recordEvent(about: Self.deployment, type: .warning, reason: "FailedCreate", message: "quota", source: "replicaset-controller")
            let repeated = try #require(try await Self.events(restarted).first { $0.reason == "FailedCreate" })
            #expect(repeated.count == 2 && repeated.metadata.name == before[1].metadata.name)
            let versions = before.compactMap { Int64($0.metadata.resourceVersion) }
            #expect(Int64(repeated.metadata.resourceVersion)! > versions.max()!)
            await restarted.stop()
        }
    }

    @Test func eventsExpireAnHourAfterTheirLastOccurrenceInMemoryAndInTheStore() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            let controller = agent.controller
            await controller.recordEvent(about: Self.deployment, type: .normal, reason: "ScalingReplicaSet", message: "Scaled up", source: "deployment-controller")
            await controller.writeEvents()
            let stored = try await Self.storedEvents(controller)
            #expect(stored.contains { String(decoding: $0, as: UTF8.self).contains("\"d-1\"") })
            let now = Timestamp.now().secondsSince1970
            await controller.dropEvents(now: Timestamp(secondsSince1970: now + 3599))
            let kept = try await Self.events(controller)
            #expect(kept.contains { $0.involvedObject.uid == "d-1" })
            await controller.dropEvents(now: Timestamp(secondsSince1970: now + 3601 + 60))
            await controller.writeEvents()
            #expect(await !controller.events.values.contains { $0.involvedObject.uid == "d-1" })
            let left = try await Self.storedEvents(controller)
            #expect(!left.contains { String(decoding: $0, as: UTF8.self).contains("\"d-1\"") })
        }
    }

    @Test func atMostTheCountIsKeptTheLeastRecentlySeenGoingFirst() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            let controller = agent.controller
            await controller.setEventRetention(EventRetention(timeToLive: 3600, maximumCount: 3))
            for index in 0..<5 {
                await controller.recordEvent(about: Self.deployment, type: .normal, reason: "Scaled", message: "to \(index)", source: "deployment-controller")
            }
            let kept = try await Self.events(controller, namespace: nil)
            #expect(kept.count == 3)
            #expect(kept.contains { $0.message == "to 4" })
            await controller.writeEvents()
            #expect(try await Self.storedEvents(controller).count == 3)
        }
    }
}
