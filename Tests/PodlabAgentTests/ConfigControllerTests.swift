@testable import AgentTestSupport
import Foundation
@testable import PodlabAgent
import PodNet
import Testing

/// ConfigMaps and Secrets in the controller, with the kernel's part faked: pods that read a
/// missing one wait with the kubelet's reason and go on by themselves once it is created.
@Suite struct ConfigControllerTests {
    static let envPod = """
        apiVersion: v1
        kind: Pod
        metadata: {name: env}
        spec:
          containers:
          - name: app
            image: busybox
            command: [sleep, "3600"]
            envFrom: [{configMapRef: {name: settings}}]
            env: [{name: PASSWORD, valueFrom: {secretKeyRef: {name: creds, key: password}}}]
        """

    @Test func aContainerWaitsForItsConfigMapAndSecretThenStartsWithTheirValues() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            try await agent.createPod(Self.envPod)
            var pod = try await agent.waitForPod("env", "waiting") { $0?.status[container: "app"]?.state.waiting?.reason == "CreateContainerConfigError" }
            #expect(pod?.status[container: "app"]?.state.waiting?.message == #"configmap "settings" not found"#)
            try await agent.create("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {LEVEL: info, 1st: x}")
            pod = try await agent.waitForPod("env", "waiting for the secret") {
                $0?.status[container: "app"]?.state.waiting?.message == #"secret "creds" not found"#
            }
            try await agent.create("apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {password: s3cret}")
            pod = try await agent.waitForPod("env", "Running") { $0?.status.phase == .running }
            let run = try #require(agent.runtime.latest("env", container: "app"))
            #expect(run.environment["LEVEL"] == "info")
            #expect(run.environment["PASSWORD"] == "s3cret")
            #expect(run.environment["1st"] == nil)
            let skipped = try await agent.events(of: "env").filter { $0.reason == EventReason.invalidEnvironmentVariableNames }
            #expect(skipped.first?.message == "Keys [1st] from the EnvFrom configMap default/settings were skipped since they are considered invalid environment variable names.")
        }
    }

    @Test func aVolumeOfAMissingConfigMapFailsToMountUntilItIsCreated() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            try await agent.createPod("""
                apiVersion: v1
                kind: Pod
                metadata: {name: vol}
                spec:
                  volumes: [{name: config, configMap: {name: settings}}]
                  containers:
                  - {name: app, image: busybox, command: [sleep, "3600"], volumeMounts: [{name: config, mountPath: /etc/config}]}
                """)
            let pod = try await agent.waitForPod("vol", "FailedMount") { $0?.status.reason == "FailedMount" }
            #expect(pod?.status[container: "app"]?.state.waiting?.reason == "ContainerCreating")
            let message = #"MountVolume.SetUp failed for volume "config" : configmap "settings" not found"#
            #expect(pod?.status.message == message)
            let failed = try await agent.events(of: "vol").filter { $0.reason == EventReason.failedMount }
            #expect(failed.map(\.message) == [message])
            try await agent.create("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {app.ini: debug}")
            _ = try await agent.waitForPod("vol", "Running") { $0?.status.phase == .running }
        }
    }

    @Test func theAPIValidatesAndKeepsImmutableData() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            let controller = agent.controller
            func body(_ yaml: String) throws -> Data { Data(try YAMLReader.value(from: yaml).jsonText(indent: 0).utf8) }
            await #expect(throws: APIStatus.self) {
                _ = try await controller.createConfigObject(ConfigMap.self, namespace: "default", body: try body("metadata: {name: c}\ndata: {'a b': x}"), dryRun: false)
            }
            _ = try await controller.createConfigObject(ConfigMap.self, namespace: "default", body: try body("metadata: {name: c}\ndata: {a: x}\nimmutable: true"), dryRun: false)
            do {
                _ = try await controller.replaceConfigObject(ConfigMap.self, namespace: "default", name: "c", body: try body("metadata: {name: c}\ndata: {a: z}\nimmutable: true"), dryRun: false)
                Issue.record("an immutable ConfigMap's data changed")
            } catch let status as APIStatus {
                #expect(status.message == #"ConfigMap "c" is invalid: data: Forbidden: field is immutable when `immutable` is set"#)
            }
            let stored = try await controller.configObject(ConfigMap.self, "default", "c")
            #expect(stored.data == ["a": "x"])
            let secret = try await controller.createConfigObject(Secret.self, namespace: "default", body: try body("metadata: {name: s}\nstringData: {k: v}"), dryRun: false)
            let value = try JSONReader.value(from: String(decoding: secret, as: UTF8.self))
            #expect(value["data"]?["k"] == "dg==")
            #expect(value["type"] == "Opaque")
            #expect(value["stringData"] == nil)
        }
    }

    @Test func aWatchOfConfigMapsSeesTheCurrentOnesThenEachChangeAndTheNamespaceTakesThemAlong() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            let controller = agent.controller
            func body(_ yaml: String) throws -> Data { Data(try YAMLReader.value(from: yaml).jsonText(indent: 0).utf8) }
            _ = try await controller.createNamespace(body: try body("apiVersion: v1\nkind: Namespace\nmetadata: {name: team}"), dryRun: false)
            try await agent.create("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: '1'}", namespace: "team")
            let stream = try await controller.watchConfigObjects(ConfigMap.self, namespace: "team", options: ListOptions(labelSelector: nil, watch: true, resourceVersion: nil))
            var lines = stream.eachLine.makeAsyncIterator()
            let added = try JSONReader.value(from: String(decoding: try #require(await lines.next()), as: UTF8.self))
            #expect(added["type"] == "ADDED" && added["object"]?["data"]?["a"] == "1")
            _ = try await controller.replaceConfigObject(ConfigMap.self, namespace: "team", name: "settings",
                                                         body: try body("metadata: {name: settings}\ndata: {a: '2'}"), dryRun: false)
            let modified = try JSONReader.value(from: String(decoding: try #require(await lines.next()), as: UTF8.self))
            #expect(modified["type"] == "MODIFIED" && modified["object"]?["data"]?["a"] == "2")
            _ = try await controller.deleteNamespace(name: "team", dryRun: false)
            let deleted = try JSONReader.value(from: String(decoding: try #require(await lines.next()), as: UTF8.self))
            #expect(deleted["type"] == "DELETED")
            await #expect(throws: APIStatus.self) { _ = try await controller.configObject(ConfigMap.self, "team", "settings") }
        }
    }
}
