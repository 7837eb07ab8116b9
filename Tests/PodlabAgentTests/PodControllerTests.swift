@testable import AgentTestSupport
import Foundation
import Netns
@testable import PodlabAgent
import PodNet
import Testing

/// The controller's decisions for one pod — scheduling, starting, restarting by policy with
/// back-off, init containers in order, deletion — with the kernel's part faked: containers
/// "run" until the test ends them with an exit status.
@Suite struct PodControllerTests {
    static func pod(_ name: String, restartPolicy: String = "Always", containers: [String] = ["app"], initContainers: [String] = []) -> String {
        func list(_ names: [String]) -> String {
            names.map { "  - name: \($0)\n    image: busybox\n    command: [\"sleep\", \"3600\"]\n" }.joined()
        }
        var text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \(name)\n  labels:\n    app: \(name)\nspec:\n  restartPolicy: \(restartPolicy)\n"
        if !initContainers.isEmpty { text += "  initContainers:\n" + list(initContainers) }
        return text + "  containers:\n" + list(containers)
    }

    @Test func aCreatedPodIsScheduledGivenAnAddressAndRuns() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            let created = try await agent.createPod(Self.pod("web"))
            #expect(created.status.phase == .pending)
            #expect(created.status.condition(.podScheduled)?.status == .true)
            #expect(!created.spec.nodeName.isEmpty)
            let pod = try await agent.waitForPod("web", "Running") { $0?.status.phase == .running }
            let status = try #require(pod?.status[container: "app"])
            #expect(status.state.running != nil)
            #expect(status.ready && status.started == true)
            #expect(status.restartCount == 0)
            #expect(status.containerID.hasPrefix("podlab://"))
            #expect(pod?.status.condition(.ready)?.status == .true)
            #expect(pod?.status.podIP.hasPrefix("10.244.") == true)
            #expect(agent.runtime.hasSandbox(netns: "\(agent.lab)_pod_default_web"))
            let run = try #require(agent.runtime.latest("web", container: "app"))
            #expect(run.argv == ["sleep", "3600"])
            #expect(run.environment["HOSTNAME"] == "web")
            let reasons = try await agent.events(of: "web").map(\.reason)
            #expect(reasons == [EventReason.scheduled, EventReason.pulled, EventReason.created, EventReason.started])
        }
    }

    @Test func twoPodsGetDistinctAddresses() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            let a = try await agent.createPod(Self.pod("a"))
            let b = try await agent.createPod(Self.pod("b"))
            #expect(a.status.podIP != b.status.podIP)
            #expect(a.metadata.uid != b.metadata.uid)
        }
    }

    @Test func restartPolicyAlwaysRestartsAfterSuccessAndBacksOffAfterRepeatedCrashes() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            try await agent.createPod(Self.pod("loop"))
            try await agent.waitForPod("loop", "Running") { $0?.status.phase == .running }
            #expect(agent.runtime.exit("loop", container: "app", .exited(0)))
            // The first restart is at once.
            var pod = try await agent.waitForPod("loop", "first restart") { $0?.status[container: "app"]?.restartCount == 1 && $0?.status[container: "app"]?.state.running != nil }
            #expect(pod?.status[container: "app"]?.lastState.terminated?.reason == "Completed")
            #expect(pod?.status[container: "app"]?.lastState.terminated?.exitCode == 0)
            for restarts in 2...4 {
                try await agent.wait("container running again") { agent.runtime.isRunning("loop", container: "app") }
                #expect(agent.runtime.exit("loop", container: "app", .exited(3)))
                pod = try await agent.waitForPod("loop", "restart \(restarts)") { $0?.status[container: "app"]?.restartCount == Int32(restarts) }
            }
            #expect(pod?.status[container: "app"]?.lastState.terminated?.exitCode == 3)
            #expect(pod?.status[container: "app"]?.lastState.terminated?.reason == "Error")
            #expect(agent.runtime.started.filter { $0.pod == "loop" }.map(\.restart) == [0, 1, 2, 3, 4])
            // After the first restart, each waits out a back-off, which the pod's events say.
            let backOffs = try await agent.events(of: "loop").filter { $0.reason == EventReason.backOff }
            #expect(backOffs.count == 1)
            #expect(backOffs.first?.count ?? 0 >= 2)
            #expect(backOffs.first?.message.hasPrefix("Back-off restarting failed container app in pod loop_default(") == true)
        }
    }

    @Test func aCrashLoopWaitsInCrashLoopBackOff() async throws {
        // A back-off long enough to be seen: 0.5 s doubling.
        try await TestAgent.with(backoffSeconds: 0.5, serveAPI: false) { agent in
            try await agent.createPod(Self.pod("crash"))
            try await agent.waitForPod("crash", "Running") { $0?.status.phase == .running }
            agent.runtime.exit("crash", container: "app", .exited(1))
            try await agent.waitForPod("crash", "first restart") { $0?.status[container: "app"]?.restartCount == 1 }
            try await agent.wait("container running again") { agent.runtime.isRunning("crash", container: "app") }
            agent.runtime.exit("crash", container: "app", .exited(1))
            let pod = try await agent.waitForPod("crash", "CrashLoopBackOff") { $0?.status[container: "app"]?.state.waiting?.reason == "CrashLoopBackOff" }
            let waiting = try #require(pod?.status[container: "app"]?.state.waiting)
            #expect(waiting.message.hasPrefix("back-off 500ms restarting failed container=app pod=crash_default("))
            #expect(pod?.status[container: "app"]?.ready == false)
            // It runs again once the back-off is over, counted as a restart.
            try await agent.waitForPod("crash", "second restart") { $0?.status[container: "app"]?.restartCount == 2 && $0?.status[container: "app"]?.state.running != nil }
        }
    }

    @Test func restartPolicyOnFailureRestartsFailuresAndFinishesOnSuccess() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            try await agent.createPod(Self.pod("job", restartPolicy: "OnFailure"))
            try await agent.waitForPod("job", "Running") { $0?.status.phase == .running }
            agent.runtime.exit("job", container: "app", .exited(2))
            try await agent.waitForPod("job", "restart after failure") { $0?.status[container: "app"]?.restartCount == 1 && $0?.status[container: "app"]?.state.running != nil }
            agent.runtime.exit("job", container: "app", .exited(0))
            let pod = try await agent.waitForPod("job", "Succeeded") { $0?.status.phase == .succeeded }
            #expect(pod?.status[container: "app"]?.state.terminated?.reason == "Completed")
            #expect(pod?.status[container: "app"]?.restartCount == 1)
            // A finished pod's sandbox goes and its address is free; the pod stays.
            try await agent.wait("sandbox removed") { !agent.runtime.hasSandbox(netns: "\(agent.lab)_pod_default_job") }
            #expect(await agent.pod("job") != nil)
        }
    }

    @Test func restartPolicyNeverLeavesAFailedContainerExited() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            try await agent.createPod(Self.pod("once", restartPolicy: "Never"))
            try await agent.waitForPod("once", "Running") { $0?.status.phase == .running }
            agent.runtime.exit("once", container: "app", .signaled(9))
            let pod = try await agent.waitForPod("once", "Failed") { $0?.status.phase == .failed }
            let terminated = try #require(pod?.status[container: "app"]?.state.terminated)
            #expect(terminated.exitCode == 137)
            #expect(terminated.signal == 9)
            #expect(terminated.reason == "Error")
            #expect(pod?.status[container: "app"]?.restartCount == 0)
            #expect(agent.runtime.started.filter { $0.pod == "once" }.count == 1)
        }
    }

    @Test func initContainersRunOneAtATimeBeforeTheAppContainers() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            try await agent.createPod(Self.pod("init", containers: ["app", "helper"], initContainers: ["first", "second"]))
            let pending = try await agent.waitForPod("init", "first init container running") { $0?.status[container: "first"]?.state.running != nil }
            #expect(pending?.status.phase == .pending)
            #expect(pending?.status[container: "app"]?.state.waiting?.reason == "PodInitializing")
            #expect(agent.runtime.started.filter { $0.pod == "init" }.map(\.container) == ["first"])
            agent.runtime.exit("init", container: "first", .exited(0))
            try await agent.waitForPod("init", "second init container running") { $0?.status[container: "second"]?.state.running != nil }
            #expect(agent.runtime.started.filter { $0.pod == "init" }.map(\.container) == ["first", "second"])
            agent.runtime.exit("init", container: "second", .exited(0))
            let pod = try await agent.waitForPod("init", "Running") { $0?.status.phase == .running }
            #expect(Set(agent.runtime.started.filter { $0.pod == "init" }.map(\.container).suffix(2)) == ["app", "helper"])
            #expect(pod?.status.condition(.initialized)?.status == .true)
            #expect(pod?.status[container: "first"]?.state.terminated?.reason == "Completed")
        }
    }

    @Test func aFailedInitContainerUnderNeverFailsThePodWithoutStartingTheApp() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            try await agent.createPod(Self.pod("badinit", restartPolicy: "Never", initContainers: ["setup"]))
            try await agent.waitForPod("badinit", "init container running") { $0?.status[container: "setup"]?.state.running != nil }
            agent.runtime.exit("badinit", container: "setup", .exited(1))
            let pod = try await agent.waitForPod("badinit", "Failed") { $0?.status.phase == .failed }
            #expect(pod?.status[container: "setup"]?.state.terminated?.exitCode == 1)
            #expect(pod?.status[container: "app"]?.state.running == nil)
            #expect(agent.runtime.started.filter { $0.pod == "badinit" }.map(\.container) == ["setup"])
        }
    }

    @Test func deletionStopsTheContainersRemovesTheSandboxAndForgetsThePod() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            try await agent.createPod(Self.pod("gone"))
            try await agent.waitForPod("gone", "Running") { $0?.status.phase == .running }
            try await agent.deletePod("gone")
            try await agent.waitForPod("gone", "deleted") { $0 == nil }
            #expect(!agent.runtime.isRunning("gone", container: "app"))
            #expect(!agent.runtime.hasSandbox(netns: "\(agent.lab)_pod_default_gone"))
            // The container stopped by the deletion is not restarted.
            #expect(agent.runtime.started.filter { $0.pod == "gone" }.count == 1)
            let killing = try await agent.events(of: "gone").filter { $0.reason == EventReason.killing }
            #expect(killing.map(\.message) == ["Stopping container app"])
            // Its address is free again: a new pod of the same name is created.
            try await agent.createPod(Self.pod("gone"))
        }
    }

    /// kubectl's `delete` lists the terminating pod, then watches from the list's version for
    /// its DELETED event; the pod may be gone before the watch opens.
    @Test func aWatchFromAListsVersionGetsTheDeletionThatCameBetween() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            try await agent.createPod(Self.pod("gone"))
            try await agent.waitForPod("gone", "Running") { $0?.status.phase == .running }
            let listed = try await agent.controller.listPods(namespace: "default", options: ListOptions(labelSelector: nil, watch: false, resourceVersion: nil))
            let version = try #require(Int64(JSONReader.value(from: String(decoding: listed, as: UTF8.self))["metadata"]?["resourceVersion"]?.stringValue ?? ""))
            try await agent.deletePod("gone")
            try await agent.waitForPod("gone", "deleted") { $0 == nil }
            let events = try await agent.controller.watchPods(namespace: "default",
                                                              options: ListOptions(labelSelector: nil, watch: true, resourceVersion: String(version)))
            let deletedVersion = try await withThrowingTaskGroup(of: Int64?.self) { group in
                group.addTask {
                    for await line in events.eachLine {
                        let event = try JSONReader.value(from: String(decoding: line, as: UTF8.self))
                        if event["type"]?.stringValue == "DELETED" {
                            return Int64(event["object"]?["metadata"]?["resourceVersion"]?.stringValue ?? "") ?? 0
                        }
                    }
                    return nil
                }
                group.addTask { try await Task.sleep(for: .seconds(10)); return nil }
                defer { group.cancelAll() }
                return try await group.next() ?? nil
            }
            let deleted = try #require(deletedVersion, "the watch from the list's version never reported the deletion")
            #expect(deleted > version, "the DELETED event carries the version the deletion took")
        }
    }

    /// The first lines of a watch, decoded.
    static func firstLines(_ count: Int, of stream: WatchLines) async throws -> [JSONValue] {
        try await stream.first(count).map { try JSONReader.value(from: String(decoding: $0, as: UTF8.self)) }
    }

    /// client-go's streaming list: the current pods, then a bookmark at the store's version
    /// annotated as the end of them; a watch from a version that is no longer known gets one
    /// ERROR event, kube-apiserver's 410; "0" starts with the current pods too.
    @Test func watchStartsAsTheAPIServersDo() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            try await agent.createPod(Self.pod("a"))
            try await agent.createPod(Self.pod("b"))
            let initial = try await agent.controller.watchPods(namespace: "default", options: ListOptions(
                labelSelector: nil, watch: true, resourceVersion: nil, allowWatchBookmarks: true, sendInitialEvents: true, resourceVersionMatch: "NotOlderThan"))
            let lines = try await Self.firstLines(3, of: initial)
            #expect(lines.map { $0["type"]?.stringValue } == ["ADDED", "ADDED", "BOOKMARK"])
            #expect(lines.prefix(2).map { $0["object"]?["metadata"]?["name"]?.stringValue } == ["a", "b"])
            let bookmark = try #require(lines.last?["object"])
            #expect(bookmark["kind"]?.stringValue == "Pod" && bookmark["apiVersion"]?.stringValue == "v1")
            #expect(bookmark["metadata"]?["annotations"]?["k8s.io/initial-events-end"]?.stringValue == "true")
            let newest = lines.prefix(2).compactMap { Int64($0["object"]?["metadata"]?["resourceVersion"]?.stringValue ?? "") }.max() ?? 0
            #expect((Int64(bookmark["metadata"]?["resourceVersion"]?.stringValue ?? "") ?? 0) >= newest)

            let zero = try await agent.controller.watchPods(namespace: "default", options: ListOptions(labelSelector: nil, watch: true, resourceVersion: "0"))
            #expect(try await Self.firstLines(2, of: zero).map { $0["type"]?.stringValue } == ["ADDED", "ADDED"])

            // timeoutSeconds ends the watch.
            let timed = try await agent.controller.watchPods(namespace: "default", options: ListOptions(
                labelSelector: nil, watch: true, resourceVersion: nil, timeoutSeconds: 1))
            let ended = try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    var types: [String] = []
                    for await line in timed.eachLine { types.append((try? JSONReader.value(from: String(decoding: line, as: UTF8.self)))?["type"]?.stringValue ?? "") }
                    #expect(!types.contains("BOOKMARK"), "a watch that did not ask for bookmarks got one: \(types)")
                    #expect(types.prefix(2) == ["ADDED", "ADDED"])
                    return true
                }
                group.addTask { try await Task.sleep(for: .seconds(20)); return false }
                defer { group.cancelAll() }
                return try await group.next() ?? false
            }
            #expect(ended, "a watch with timeoutSeconds=1 was still open after 20 s")

            // A new agent on the same store knows nothing from before it started.
            await agent.controller.hub.start(at: Int64.max / 2)
            let expired = try await agent.controller.watchPods(namespace: "default", options: ListOptions(labelSelector: nil, watch: true, resourceVersion: "1"))
            let error = try #require(try await Self.firstLines(1, of: expired).first)
            #expect(error["type"]?.stringValue == "ERROR")
            #expect(error["object"]?["kind"]?.stringValue == "Status")
            #expect(error["object"]?["code"] == .integer(410))
            #expect(error["object"]?["reason"]?.stringValue == "Expired")
            #expect(error["object"]?["message"]?.stringValue?.hasPrefix("too old resource version: 1 (") == true)
        }
    }

    @Test func aSandboxThatFailsToBuildIsReportedOnThePod() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            agent.runtime.failSandboxes(1)
            try await agent.createPod(Self.pod("nosandbox"))
            let pod = try await agent.waitForPod("nosandbox", "FailedCreatePodSandBox") { $0?.status.reason == "FailedCreatePodSandBox" }
            #expect(pod?.status.message.hasPrefix("Failed to create pod sandbox: injected failure") == true)
            #expect(pod?.status[container: "app"]?.state.waiting?.reason == "ContainerCreating")
            #expect(agent.runtime.started.filter { $0.pod == "nosandbox" }.isEmpty)
        }
    }

    @Test func anUnknownImageWaitsInErrImagePull() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            try await agent.createPod("""
                apiVersion: v1
                kind: Pod
                metadata: {name: noimage}
                spec:
                  containers:
                  - {name: app, image: example.com/not-an-image:1}
                """)
            let pod = try await agent.waitForPod("noimage", "ErrImagePull") { $0?.status[container: "app"]?.state.waiting?.reason == ContainerReason.errImagePull }
            #expect(pod?.status.phase == .pending)
            #expect(agent.runtime.started.filter { $0.pod == "noimage" }.isEmpty)
            let failed = try await agent.events(of: "noimage").filter { $0.reason == EventReason.failed }.map(\.message)
            #expect(failed.contains("Error: ErrImagePull"))
        }
    }
}
