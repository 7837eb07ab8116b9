import Foundation
import KernelTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A container's environment and argv as the kubelet builds them: `$(VAR)` expanded, the
/// downward API resolved to the pod's real name, uid, node and addresses.
@Suite("Container environment", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct EnvironmentTests {
    /// The `env` and `resources` of each container, indented as a container's fields.
    static let env = [
        "env:",
        "- {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}",
        "- {name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}",
        "- {name: POD_UID, valueFrom: {fieldRef: {fieldPath: metadata.uid}}}",
        "- {name: APP, valueFrom: {fieldRef: {fieldPath: \"metadata.labels['app']\"}}}",
        "- {name: NODE_NAME, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}",
        "- {name: ACCOUNT, valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}}",
        "- {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}",
        "- {name: POD_IPS, valueFrom: {fieldRef: {fieldPath: status.podIPs}}}",
        "- {name: HOST_IP, valueFrom: {fieldRef: {fieldPath: status.hostIP}}}",
        "- {name: CPU_MILLIS, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}}",
        "- {name: MEMORY_REQUEST_MI, valueFrom: {resourceFieldRef: {resource: requests.memory, divisor: 1Mi}}}",
        "- {name: GREETING, value: \"hello $(POD_NAME) on $(NODE_NAME), not $(LATER)\"}",
        "- {name: LATER, value: later}",
        "resources: {requests: {memory: 48Mi}}",
    ].map { "    " + $0 }.joined(separator: "\n")

    static let manifest = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: downward
          labels: {app: shop}
        spec:
          restartPolicy: Never
          containers:
          - name: show
            image: busybox
            command: [echo]
            args: ["ip=$(POD_IP)", "node=$(NODE_NAME)", "uid=$(POD_UID)", "escaped=$$(POD_IP)", "undefined=$(NOPE)",
                   "hostname=$(HOSTNAME)", "greeting=$(GREETING)", "unclosed=$(POD_IP"]
        \(env)
          - name: env
            image: busybox
            command: [env]
        \(env)
          - name: idle
            image: busybox
            command: [sleep, "3600"]
        \(env)
        """

    @Test("args expand $(VAR); env carries the pod's name, uid, node and addresses; exec sees the same")
    func downwardAPI() async throws {
        try await TestLab.with { lab in
            try lab.apply(Self.manifest, as: "downward.yaml")
            try await lab.eventually("show and env exited") {
                ["show", "env"].allSatisfy { name in
                    (((try? lab.containerStatus("downward", name))?["state"] as? [String: Any])?["terminated"] as? [String: Any])?["exitCode"] as? Int == 0
                }
            }
            let pod = try lab.pod("downward")
            let metadata = pod["metadata"] as? [String: Any] ?? [:]
            let status = pod["status"] as? [String: Any] ?? [:]
            let uid = try #require(metadata["uid"] as? String)
            let node = try #require((pod["spec"] as? [String: Any])?["nodeName"] as? String)
            let podIP = try #require(status["podIP"] as? String)
            let hostIP = try #require(status["hostIP"] as? String)
            #expect(!uid.isEmpty && podIP.hasPrefix("10.244.") && hostIP.hasPrefix("192.168."))

            let shown = try lab.run(["logs", "downward", "-c", "show"]).stdout
            #expect(shown == "ip=\(podIP) node=\(node) uid=\(uid) escaped=$(POD_IP) undefined=$(NOPE) hostname=$(HOSTNAME) "
                + "greeting=hello downward on \(node), not $(LATER) unclosed=$(POD_IP\n")

            // The node's capacity, as `get node` reports it, is what limits.cpu resolves to.
            let nodeObject = try JSONSerialization.jsonObject(with: Data(try lab.run(["get", "node", node, "-o", "json"]).stdout.utf8)) as? [String: Any]
            let capacity = (nodeObject?["status"] as? [String: Any])?["allocatable"] as? [String: Any] ?? [:]
            let cpus = try #require((capacity["cpu"] as? String).flatMap(Int.init))
            #expect(cpus == Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
            #expect(capacity["memory"] is String)

            let expected = [
                "POD_NAME=downward", "POD_NAMESPACE=default", "POD_UID=\(uid)", "APP=shop", "NODE_NAME=\(node)", "ACCOUNT=default",
                "POD_IP=\(podIP)", "POD_IPS=\(podIP)", "HOST_IP=\(hostIP)", "CPU_MILLIS=\(cpus * 1000)", "MEMORY_REQUEST_MI=48",
                "GREETING=hello downward on \(node), not $(LATER)", "LATER=later", "HOSTNAME=downward",
            ]
            let environment = Set(try lab.run(["logs", "downward", "-c", "env"]).stdout.split(separator: "\n").map(String.init))
            for line in expected { #expect(environment.contains(line), "env lacks \(line): \(environment.sorted())") }

            let exec = Set(try lab.run(["exec", "downward", "-c", "idle", "--", "env"]).stdout.split(separator: "\n").map(String.init))
            for line in expected { #expect(exec.contains(line), "exec env lacks \(line): \(exec.sorted())") }
        }
    }

    @Test("a resource reference to a container the pod lacks leaves it waiting in CreateContainerConfigError")
    func configError() async throws {
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: broken}
                spec:
                  containers:
                  - name: app
                    image: busybox
                    command: [sleep, "3600"]
                    env: [{name: X, valueFrom: {resourceFieldRef: {containerName: nope, resource: limits.cpu}}}]
                """, as: "broken.yaml")
            try await lab.eventually("CreateContainerConfigError") {
                let waiting = ((try lab.containerStatus("broken", "app"))["state"] as? [String: Any])?["waiting"] as? [String: Any]
                return waiting?["reason"] as? String == "CreateContainerConfigError" && waiting?["message"] as? String == "container nope not found"
            }
        }
    }
}
