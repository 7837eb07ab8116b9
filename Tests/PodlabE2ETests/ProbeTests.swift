import Foundation
import KernelTestSupport
import Netns
import Testing

/// Container probes as the kubelet runs them, end to end: readiness flips READY and the
/// pod's conditions, a failing liveness probe restarts the container (RESTARTS, lastState,
/// the Unhealthy and Killing events), a startup probe holds readiness back, and a tcpSocket
/// probe finds a named port.
@Suite("Container probes end to end", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct ProbeTests {
    @Test("readiness follows a file: an httpGet probe on BusyBox httpd and an exec probe, each flipping READY and the Ready condition")
    func readinessFlips() async throws {
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: ready
                spec:
                  volumes:
                  - name: flags
                    emptyDir: {}
                  containers:
                  - name: web
                    image: busybox
                    command: ["httpd", "-f", "-p", "8080", "-h", "/flags"]
                    volumeMounts: [{name: flags, mountPath: /flags}]
                    readinessProbe:
                      httpGet: {path: /ready, port: 8080}
                      periodSeconds: 1
                      failureThreshold: 1
                  - name: worker
                    image: busybox
                    command: ["sleep", "3600"]
                    volumeMounts: [{name: flags, mountPath: /flags}]
                    readinessProbe:
                      exec: {command: ["test", "-f", "/flags/ok"]}
                      periodSeconds: 1
                      failureThreshold: 1
                """, as: "ready.yaml")
            try await lab.eventually("both containers running") {
                try ["web", "worker"].allSatisfy { (try lab.containerStatus("ready", $0)["state"] as? [String: Any])?["running"] != nil }
            }
            // Running, but neither probe has succeeded: not ready, and it stays so.
            try await Task.sleep(for: .seconds(2))
            #expect(try lab.podColumn("ready", 1) == "0/2")
            #expect(try lab.podColumn("ready", 2) == "Running")
            #expect(try lab.condition("ready", "Ready") == "False")

            // The files are made in the containers' own emptyDir, which the exec probe must see
            // through the container's mount namespace.
            try lab.run(["exec", "ready", "-c", "web", "--", "touch", "/flags/ready"])
            try await lab.eventually("web ready") { try lab.podColumn("ready", 1) == "1/2" }
            #expect(try lab.containerStatus("ready", "web")["ready"] as? Bool == true)
            #expect(try lab.containerStatus("ready", "worker")["ready"] as? Bool == false)
            try lab.run(["exec", "ready", "-c", "worker", "--", "touch", "/flags/ok"])
            try await lab.eventually("both ready") { try lab.podColumn("ready", 1) == "2/2" }
            #expect(try lab.condition("ready", "Ready") == "True")
            #expect(try lab.condition("ready", "ContainersReady") == "True")

            try lab.run(["exec", "ready", "-c", "web", "--", "rm", "/flags/ready"])
            try await lab.eventually("web unready again") { try lab.podColumn("ready", 1) == "1/2" }
            #expect(try lab.condition("ready", "Ready") == "False")
            // Readiness never restarts anything.
            #expect(try lab.podColumn("ready", 3) == "0")
            let described = try lab.run(["describe", "pod", "ready"]).stdout
            #expect(described.hasLine("Readiness:", "http-get http://:8080/ready delay=0s timeout=1s period=1s #success=1 #failure=1"), "\(described)")
            #expect(described.hasLine("Readiness:", "exec [test -f /flags/ok] delay=0s timeout=1s period=1s #success=1 #failure=1"), "\(described)")
            #expect(described.contains("Readiness probe failed: HTTP probe failed with statuscode: 404"), "\(described)")
        }
    }

    @Test("a failing liveness probe kills and restarts the container: RESTARTS counts, lastState shows the exit, events say why")
    func livenessRestarts() async throws {
        try await TestLab.with(backoff: 1) { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: alive
                spec:
                  containers:
                  - name: web
                    image: nginx
                    livenessProbe:
                      httpGet: {path: /healthz, port: 80}
                      periodSeconds: 1
                      failureThreshold: 2
                      terminationGracePeriodSeconds: 2
                """, as: "alive.yaml")
            try await lab.eventually("two restarts", timeout: .seconds(90)) {
                (try lab.containerStatus("alive", "web")["restartCount"] as? Int ?? 0) >= 2
            }
            let status = try lab.containerStatus("alive", "web")
            let last = (status["lastState"] as? [String: Any])?["terminated"] as? [String: Any]
            // nginx ends on SIGTERM with 0, as the real one does: `Completed`.
            #expect(last?["finishedAt"] as? String != nil, "no lastState.terminated in \(status)")
            #expect(last?["reason"] as? String == ((last?["exitCode"] as? Int ?? 0) == 0 ? "Completed" : "Error"), "\(status)")
            #expect(Int(try lab.podColumn("alive", 3)) ?? 0 >= 2)

            let described = try lab.run(["describe", "pod", "alive"]).stdout
            #expect(described.hasLine("Liveness:", "http-get http://:80/healthz delay=0s timeout=1s period=1s #success=1 #failure=2"), "\(described)")
            #expect(described.hasLine("Last State:", "Terminated"), "\(described)")
            #expect(described.range(of: #"Warning\s+Unhealthy\s+.*kubelet\s+Liveness probe failed: HTTP probe failed with statuscode: 404"#,
                                    options: .regularExpression) != nil, "\(described)")
            #expect(described.range(of: #"Normal\s+Killing\s+.*kubelet\s+Container web failed liveness probe, will be restarted"#,
                                    options: .regularExpression) != nil, "\(described)")
            let events = try lab.run(["get", "events"]).stdout
            #expect(events.contains("Unhealthy") && events.contains("pod/alive"), "\(events)")
        }
    }

    @Test("restartPolicy Never: an exec liveness probe that times out kills the container for good; the pod fails")
    func livenessUnderNever() async throws {
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: once
                spec:
                  restartPolicy: Never
                  terminationGracePeriodSeconds: 1
                  containers:
                  - name: app
                    image: busybox
                    command: ["sleep", "3600"]
                    livenessProbe:
                      exec: {command: ["sleep", "5"]}
                      timeoutSeconds: 1
                      periodSeconds: 1
                      failureThreshold: 1
                """, as: "once.yaml")
            try await lab.eventually("the pod failed", timeout: .seconds(60)) { try lab.phase("once") == "Failed" }
            let status = try lab.containerStatus("once", "app")
            #expect(status["restartCount"] as? Int == 0, "\(status)")
            let terminated = (status["state"] as? [String: Any])?["terminated"] as? [String: Any]
            #expect(terminated?["exitCode"] as? Int == 143, "\(status)")
            let described = try lab.run(["describe", "pod", "once"]).stdout
            #expect(described.contains(#"Liveness probe failed: command "sleep 5" timed out"#), "\(described)")
            #expect(described.range(of: #"Killing\s+.*kubelet\s+Container app failed liveness probe\n"#, options: .regularExpression) != nil,
                    "\(described)")
        }
    }

    @Test("after kill -9 of the agent, the new one probes the containers it adopts")
    func probesAfterAgentRestart() async throws {
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: kept
                spec:
                  volumes:
                  - name: flags
                    emptyDir: {}
                  containers:
                  - name: web
                    image: busybox
                    command: ["httpd", "-f", "-p", "8080", "-h", "/flags"]
                    volumeMounts: [{name: flags, mountPath: /flags}]
                    readinessProbe:
                      httpGet: {path: /ready, port: 8080}
                      periodSeconds: 1
                      failureThreshold: 1
                """, as: "kept.yaml")
            try await lab.eventually("web running") {
                (try lab.containerStatus("kept", "web")["state"] as? [String: Any])?["running"] != nil
            }
            try lab.run(["exec", "kept", "--", "touch", "/flags/ready"])
            try await lab.eventually("ready") { try lab.podColumn("kept", 1) == "1/1" }
            try await lab.killAgent()
            try lab.run(["up"])
            try await lab.eventually("ready again under the new agent") { try lab.podColumn("kept", 1) == "1/1" }
            try lab.run(["exec", "kept", "--", "rm", "/flags/ready"])
            try await lab.eventually("unready: the new agent probes") { try lab.podColumn("kept", 1) == "0/1" }
            #expect(try lab.podColumn("kept", 3) == "0")
        }
    }

    @Test("a sidecar's startup probe holds the next init container back until it succeeds")
    func sidecarStartupGatesInitialization() async throws {
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: gated
                spec:
                  volumes:
                  - name: root
                    emptyDir: {}
                  initContainers:
                  - name: proxy
                    image: busybox
                    restartPolicy: Always
                    command: ["sh", "-c", "until [ -e \(lab.stateRoot)/listen-now ]; do sleep 0.2; done; exec httpd -f -p 9000 -h /www"]
                    volumeMounts: [{name: root, mountPath: /www}]
                    startupProbe:
                      tcpSocket: {port: 9000}
                      periodSeconds: 1
                      failureThreshold: 120
                  - name: setup
                    image: busybox
                    command: ["true"]
                  containers:
                  - name: app
                    image: busybox
                    command: ["sleep", "3600"]
                """, as: "gated.yaml")
            try await lab.eventually("proxy running") {
                (try lab.initContainerStatus("gated", "proxy")["state"] as? [String: Any])?["running"] != nil
            }
            // Not started yet (it listens only when the test says so): setup waits. One read for
            // both statuses, so they are of one moment.
            let statuses = ((try lab.pod("gated"))["status"] as? [String: Any])?["initContainerStatuses"] as? [[String: Any]] ?? []
            let proxy = statuses.first { $0["name"] as? String == "proxy" } ?? [:]
            let setup = statuses.first { $0["name"] as? String == "setup" } ?? [:]
            #expect(proxy["started"] as? Bool == false)
            if proxy["started"] as? Bool == false {
                #expect((setup["state"] as? [String: Any])?["waiting"] != nil)
                #expect(try lab.podColumn("gated", 2) == "Init:0/2")
            }
            #expect(FileManager.default.createFile(atPath: "\(lab.stateRoot)/listen-now", contents: nil))
            try await lab.eventually("initialized, app running", timeout: .seconds(60)) { try lab.podColumn("gated", 1) == "2/2" }
            #expect(try lab.initContainerStatus("gated", "proxy")["started"] as? Bool == true)
            #expect((try lab.initContainerStatus("gated", "setup")["state"] as? [String: Any])?["terminated"] != nil)
        }
    }

    @Test("a startup probe holds readiness back until the server listens on the named port; then tcpSocket readiness passes")
    func startupDelaysReadiness() async throws {
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: slow
                spec:
                  volumes:
                  - name: root
                    emptyDir: {}
                  containers:
                  - name: app
                    image: busybox
                    command: ["sh", "-c", "until [ -e \(lab.stateRoot)/listen-now ]; do sleep 0.2; done; exec httpd -f -p 8080 -h /www"]
                    ports: [{name: web, containerPort: 8080}]
                    volumeMounts: [{name: root, mountPath: /www}]
                    startupProbe:
                      tcpSocket: {port: web}
                      periodSeconds: 1
                      failureThreshold: 120
                    readinessProbe:
                      tcpSocket: {port: web}
                      periodSeconds: 1
                """, as: "slow.yaml")
            try await lab.eventually("app running") {
                (try lab.containerStatus("slow", "app")["state"] as? [String: Any])?["running"] != nil
            }
            // While the server waits for the test's word: running, not started, not ready, and
            // the startup probe already failed (refused).
            try await lab.eventually("a failed startup probe") {
                try lab.run(["describe", "pod", "slow"]).stdout.contains("Startup probe failed: dial tcp ")
            }
            let early = try lab.containerStatus("slow", "app")
            #expect(early["started"] as? Bool == false, "\(early)")
            #expect(early["ready"] as? Bool == false, "\(early)")
            #expect(FileManager.default.createFile(atPath: "\(lab.stateRoot)/listen-now", contents: nil))
            try await lab.eventually("started and ready", timeout: .seconds(60)) {
                let status = try lab.containerStatus("slow", "app")
                return status["started"] as? Bool == true && status["ready"] as? Bool == true
            }
            #expect(try lab.podColumn("slow", 1) == "1/1")
            #expect(try lab.podColumn("slow", 3) == "0")
            let ip = try lab.podIP("slow")
            let described = try lab.run(["describe", "pod", "slow"]).stdout
            #expect(described.hasLine("Startup:", "tcp-socket :web delay=0s timeout=1s period=1s #success=1 #failure=120"), "\(described)")
            #expect(described.contains("Startup probe failed: dial tcp \(ip):8080: connect: connection refused"), "\(described)")
        }
    }
}

extension TestLab {
    /// The status (`True`, `False`) of one of the pod's conditions.
    func condition(_ pod: String, _ type: String) throws -> String {
        let conditions = (try self.pod(pod)["status"] as? [String: Any])?["conditions"] as? [[String: Any]] ?? []
        return conditions.first { $0["type"] as? String == type }?["status"] as? String ?? ""
    }
}

extension String {
    /// True when a line reads `label` then, after the alignment's spaces, `value`.
    func hasLine(_ label: String, _ value: String) -> Bool {
        split(separator: "\n").contains { line in
            let trimmed = line.drop { $0 == " " }
            guard trimmed.hasPrefix(label) else { return false }
            return trimmed.dropFirst(label.count).drop { $0 == " " || $0 == "\t" } == Substring(value)
        }
    }
}
