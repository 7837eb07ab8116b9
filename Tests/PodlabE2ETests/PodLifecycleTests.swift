import Foundation
import KernelTestSupport
import Netns
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What Kubernetes does with a pod over its life, end to end: server dry runs that change
/// nothing, an image update of a restartPolicy Never pod, image pull back-off, exec into
/// containers that do not run, and the sandbox of a finished pod going away.
@Suite("Pod lifecycle end to end", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct PodLifecycleTests {
    static let keep = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: keep
          labels:
            dryrun: "yes"
        spec:
          nodeName: n1
          containers:
          - name: web
            image: nginx
        """

    @Test("--dry-run=server on run, apply and delete answers like the real request and changes nothing")
    func serverDryRun() async throws {
        try await TestLab.with { lab in
            try lab.apply(Self.keep, as: "keep.yaml")
            try await lab.eventually("keep Running") { try lab.allRunning(count: 1) }
            // A watch on the pod: its first line (the listing) says it is subscribed.
            let watchOutput = lab.stateRoot + "/watch.out"
            let watcher = try Spawner.spawn(SpawnRequest(executable: lab.podlab, arguments: ["get", "pods", "-l", "dryrun=yes", "-w", "-o", "name"],
                                                         environment: lab.environment, stdin: .null, stdout: .file(watchOutput), stderr: .file(watchOutput)))
            defer { try? watcher.signal(SIGKILL) }
            try await lab.eventually("the watch listed keep") { (try? String(contentsOfFile: watchOutput, encoding: .utf8)) == "pod/keep\n" }
            let before = try lab.state()
            let ipam = try lab.run(["ipam", "-o", "json"]).stdout
            let processes = try lab.containerPIDs("keep")
            let maxVersion = try lab.pods().compactMap { ($0["metadata"] as? [String: Any])?["resourceVersion"] as? String }.compactMap(Int.init).max() ?? 0

            // run: the pod as it would be stored, scheduled, with a uid, but no resourceVersion and no address.
            let run = try lab.run(["run", "dry", "--image", "nginx", "--labels", "dryrun=yes", "--dry-run=server", "-o", "json"])
            let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
            let metadata = object["metadata"] as? [String: Any] ?? [:]
            let spec = object["spec"] as? [String: Any] ?? [:]
            let status = object["status"] as? [String: Any] ?? [:]
            #expect(metadata["name"] as? String == "dry" && metadata["namespace"] as? String == "default")
            #expect((metadata["uid"] as? String)?.isEmpty == false && metadata["resourceVersion"] == nil)
            #expect(["n1", "n2"].contains(spec["nodeName"] as? String ?? ""), "not scheduled: \(spec)")
            #expect(spec["restartPolicy"] as? String == "Always" && spec["terminationGracePeriodSeconds"] as? Int == 30, "not defaulted")
            #expect(status["phase"] as? String == "Pending" && status["podIP"] == nil)
            #expect(try lab.run(["run", "dry", "--image", "nginx", "--dry-run=server"]).stdout == "pod/dry created (server dry run)\n")
            #expect(try lab.run(["get", "pod", "dry"], expectSuccess: false).stderr.contains("(NotFound): pods \"dry\" not found"))

            // Refusals come as for the real request.
            let taken = try lab.run(["run", "keep", "--image", "nginx", "--dry-run=server"], expectSuccess: false)
            #expect(taken.status == .exited(1) && taken.stderr == "Error from server (AlreadyExists): pods \"keep\" already exists\n")
            let elsewhere = lab.stateRoot + "/elsewhere.yaml"
            try Self.keep.replacingOccurrences(of: "name: keep", with: "name: elsewhere").replacingOccurrences(of: "nodeName: n1", with: "nodeName: n9")
                .write(toFile: elsewhere, atomically: true, encoding: .utf8)
            let unknownNode = try lab.run(["apply", "-f", elsewhere, "--dry-run=server"], expectSuccess: false)
            #expect(unknownNode.status == .exited(1) && unknownNode.stderr.contains("spec.nodeName"), "stderr: \(unknownNode.stderr)")

            // apply of a changed image: configured, but the container is not replaced.
            let changed = lab.stateRoot + "/keep-httpd.yaml"
            try Self.keep.replacingOccurrences(of: "image: nginx", with: "image: httpd").write(toFile: changed, atomically: true, encoding: .utf8)
            #expect(try lab.run(["apply", "-f", changed, "--dry-run=server"]).stdout == "pod/keep configured (server dry run)\n")

            // delete: said, not done; nothing to wait for.
            #expect(try lab.run(["delete", "pod", "keep", "--dry-run=server"]).stdout == "pod \"keep\" deleted (server dry run)\n")
            #expect(try lab.run(["delete", "pod", "keep", "--dry-run=client"]).stdout == "pod \"keep\" deleted (dry run)\n")

            // An unknown dryRun value: the API server's 422, nothing created.
            let refused = try lab.request("POST", "/api/v1/namespaces/default/pods?dryRun=Some",
                                          body: #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"some"},"spec":{"containers":[{"name":"a","image":"nginx"}]}}"#)
            #expect(refused.code == 422)
            #expect(refused.body.contains(#"CreateOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{\"Some\"}: supported values: \"All\""#),
                    "body: \(refused.body)")

            try await Task.sleep(for: .milliseconds(500))
            #expect(try lab.state() == before, "pods, resourceVersions, IPs or namespaces changed")
            #expect(try lab.run(["ipam", "-o", "json"]).stdout == ipam, "an address was allocated")
            #expect(try lab.containerPIDs("keep") == processes, "keep's container was replaced")
            #expect(try lab.containerStatus("keep", "web")["image"] as? String == "nginx")
            #expect(try lab.pod("keep")["metadata"].map { ($0 as? [String: Any])?["deletionTimestamp"] == nil } == true)
            #expect((try? String(contentsOfFile: watchOutput, encoding: .utf8)) == "pod/keep\n", "a watch event was sent")
            // The store's revision did not move: the next real write takes the next number.
            let real = try lab.run(["run", "real", "--image", "nginx", "-o", "json"]).stdout
            let realVersion = try #require((try JSONSerialization.jsonObject(with: Data(real.utf8)) as? [String: Any])?["metadata"] as? [String: Any])["resourceVersion"]
            #expect(realVersion as? String == String(maxVersion + 1))
        }
    }

    @Test("a new image for a restartPolicy Never pod replaces its container; the pod stays Running")
    func neverPodImageUpdate() async throws {
        try await TestLab.with { lab in
            let manifest = """
                apiVersion: v1
                kind: Pod
                metadata:
                  name: once
                spec:
                  restartPolicy: Never
                  containers:
                  - name: main
                    image: busybox
                    command: ["sleep", "3600"]
                """
            try lab.apply(manifest, as: "once.yaml")
            try await lab.eventually("once Running") { try lab.allRunning(count: 1) }
            let before = try #require(try lab.containerPIDs("once")["sleep"])

            try lab.apply(manifest.replacingOccurrences(of: "image: busybox", with: "image: busybox:1.36"), as: "once.yaml")
            try await lab.eventually("the new container runs") {
                let status = try lab.containerStatus("once", "main")
                return status["restartCount"] as? Int == 1 && (status["state"] as? [String: Any])?["running"] != nil
            }
            let status = try lab.containerStatus("once", "main")
            #expect(status["image"] as? String == "busybox:1.36" && status["ready"] as? Bool == true)
            #expect((status["lastState"] as? [String: Any])?["terminated"] != nil)
            // Still Running a moment later: the replaced container did not end the pod.
            try await Task.sleep(for: .seconds(1))
            let pod = try lab.pod("once")["status"] as? [String: Any] ?? [:]
            #expect(pod["phase"] as? String == "Running")
            #expect(try lab.run(["get", "pods"]).stdout.contains("once   1/1     Running   1 "))
            let after = try #require(try lab.containerPIDs("once")["sleep"])
            #expect(after != before)
            #expect(NetworkNamespace.exists("\(lab.name)_pod_default_once"))
        }
    }

    @Test("an image that cannot be pulled: ErrImagePull, then ImagePullBackOff between retries; a known image recovers")
    func imagePullBackOff() async throws {
        // Back-off base 1 s: retries at 1 s, 3 s, 7 s … after the first failure.
        try await TestLab.with(backoff: 1) { lab in
            let manifest = """
                apiVersion: v1
                kind: Pod
                metadata:
                  name: ghost
                spec:
                  containers:
                  - name: main
                    image: nosuchimage:1.0
                """
            try lab.apply(manifest, as: "ghost.yaml")
            // The sequence ErrImagePull, ImagePullBackOff, ErrImagePull again is read from the pod's
            // events, which count every pull that failed: polling the state may miss the short
            // ErrImagePull spells when the whole suite shares the machine.
            try await lab.eventually("ErrImagePull, ImagePullBackOff, then ErrImagePull again", timeout: .seconds(90)) {
                let text = try lab.run(["describe", "pod", "ghost"]).stdout
                let events = text.range(of: "Events:").map { String(text[$0.lowerBound...]) } ?? ""
                let failures = events.split(separator: "\n").first { $0.contains("Error: ErrImagePull") }
                return events.contains(#"Back-off pulling image "nosuchimage:1.0""#) && failures?.contains("(x") == true
            }
            try await lab.eventually("ImagePullBackOff with the last error") {
                let waiting = (try lab.containerStatus("ghost", "main")["state"] as? [String: Any])?["waiting"] as? [String: Any] ?? [:]
                return waiting["reason"] as? String == "ImagePullBackOff"
                    && (waiting["message"] as? String ?? "").hasPrefix("Back-off pulling image \"nosuchimage:1.0\": ErrImagePull: Failed to pull image")
            }
            // The next pull may have begun meanwhile (ErrImagePull again): wait for the back-off's turn.
            try await lab.eventually("get pods shows the back-off") {
                try lab.run(["get", "pods"]).stdout.contains("ghost   0/1     ImagePullBackOff   0")
            }
            #expect(try lab.pod("ghost")["status"].map { ($0 as? [String: Any])?["phase"] as? String } == "Pending")

            try lab.apply(manifest.replacingOccurrences(of: "nosuchimage:1.0", with: "nginx"), as: "ghost.yaml")
            try await lab.eventually("ghost Running") { try lab.allRunning(count: 1) }
            // It never ran before: this is its first start, not a restart.
            #expect(try lab.containerStatus("ghost", "main")["restartCount"] as? Int == 0)
        }
    }

    @Test("a container that keeps failing waits ever longer: back-off 1 s, 2 s, 4 s (base 1 s)")
    func restartBackOffDoubles() async throws {
        try await TestLab.with(backoff: 1) { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: crash
                spec:
                  containers:
                  - name: main
                    image: busybox
                    command: ["false"]
                """, as: "crash.yaml")
            var delays: [String] = []
            // The whole suite's labs share two cores: the samples come slowly then, while the
            // back-off itself is timed by the agent.
            try await lab.eventually("three back-offs", timeout: .seconds(180)) {
                let waiting = (try lab.containerStatus("crash", "main")["state"] as? [String: Any])?["waiting"] as? [String: Any]
                if waiting?["reason"] as? String == "CrashLoopBackOff", let message = waiting?["message"] as? String,
                   let delay = message.split(separator: " ").dropFirst().first.map(String.init), delays.last != delay {
                    delays.append(delay)
                }
                return delays.count >= 3
            }
            // Polling can miss short waits on a busy machine, the first ones too (the whole suite
            // has been seen to start sampling at 8 s): what is seen must be three steps of the
            // doubling sequence, in order (the exact sequence is PodNet's BackoffTests'). A
            // back-off that does not grow never shows three different waits.
            let doubling = ["1s", "2s", "4s", "8s", "16s", "32s", "64s", "128s", "256s", "300s"]
            #expect(delays.allSatisfy(doubling.contains)
                    && zip(delays, delays.dropFirst()).allSatisfy { doubling.firstIndex(of: $0)! < doubling.firstIndex(of: $1)! },
                    "back-offs seen: \(delays)")
        }
    }

    @Test("exec into a container that waits for its image or has exited is refused like kubectl; a running one works")
    func execNeedsARunningContainer() async throws {
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: mixed
                spec:
                  restartPolicy: Never
                  containers:
                  - name: web
                    image: nginx
                  - name: done
                    image: busybox
                    command: ["true"]
                  - name: ghost
                    image: nosuchimage:1.0
                """, as: "mixed.yaml")
            try await lab.eventually("web running, done exited, ghost waiting") {
                let states = try ["web", "done", "ghost"].map { (try lab.containerStatus("mixed", $0)["state"] as? [String: Any]) ?? [:] }
                return states[0]["running"] != nil && states[1]["terminated"] != nil && states[2]["waiting"] != nil
            }
            for container in ["ghost", "done"] {
                let refused = try lab.run(["exec", "mixed", "-c", container, "--", "hostname"], expectSuccess: false)
                #expect(refused.status == .exited(1))
                #expect(refused.stderr == "error: unable to upgrade connection: container not found (\"\(container)\")\n")
                #expect(refused.stdout.isEmpty, "something ran in \(container): \(refused.stdout)")
            }
            let unknown = try lab.run(["exec", "mixed", "-c", "nope", "--", "hostname"], expectSuccess: false)
            #expect(unknown.status == .exited(1))
            #expect(unknown.stderr == "Error from server (BadRequest): container nope is not valid for pod mixed\n")
            #expect(try lab.run(["exec", "mixed", "-c", "web", "--", "hostname"]).stdout == "mixed\n")
        }
    }

    @Test("a finished pod's sandbox is removed and its address released; its status, logs and deletion still work, also across an agent restart")
    func finishedPodReleasesItsSandbox() async throws {
        try await TestLab.with { lab in
            try lab.apply(Self.keep, as: "keep.yaml")
            try await lab.eventually("keep Running") { try lab.allRunning(count: 1) }
            // The background sleep outlives the container's shell: it must not keep the network alive.
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: done
                spec:
                  nodeName: n1
                  restartPolicy: Never
                  containers:
                  - name: main
                    image: busybox
                    command: ["bash", "-c", "sleep 300 & echo finished"]
                ---
                apiVersion: v1
                kind: Pod
                metadata:
                  name: failed
                spec:
                  nodeName: n2
                  restartPolicy: Never
                  containers:
                  - name: main
                    image: busybox
                    command: ["bash", "-c", "echo ok; exit 3"]
                """, as: "done.yaml")
            for (name, phase) in [("done", "Succeeded"), ("failed", "Failed")] {
                try await lab.eventually("\(name) \(phase)") { try (lab.pod(name)["status"] as? [String: Any])?["phase"] as? String == phase }
            }
            let ips = try ["done", "failed"].map { try lab.podIP($0) }
            #expect(ips.allSatisfy { !$0.isEmpty }, "the finished pods' status lost its podIP")
            try await lab.eventually("the finished pods' namespaces gone") {
                try lab.podNamespaces() == ["\(lab.name)_pod_default_keep"]
            }
            try await lab.eventually("the left-behind sleep stopped") { lab.containerProcesses(pod: "done").isEmpty }
            func allocated() throws -> [String] {
                let report = try JSONSerialization.jsonObject(with: Data(try lab.run(["ipam", "-o", "json"]).stdout.utf8)) as? [String: Any]
                return (report?["allocations"] as? [[String: Any]] ?? []).compactMap { $0["ip"] as? String }
            }
            try await lab.eventually("only keep's address allocated") { try allocated() == [try lab.podIP("keep")] }
            try await lab.eventually("each node holds only its running pods' veths") {
                try lab.nodeVeths("n1").count == 1 && lab.nodeVeths("n2").isEmpty
            }
            #expect(try lab.run(["logs", "done"]).stdout == "finished\n")
            let table = try lab.run(["get", "pods"]).stdout
            #expect(table.contains("done     0/1     Completed   0") && table.contains("failed   0/1     Error       0"), "get pods:\n\(table)")

            // Restarted, the agent neither rebuilds the finished pods nor fails on them.
            try await lab.killAgent()
            try lab.run(["up"])
            try await lab.eventually("keep Running again") { try (lab.pod("keep")["status"] as? [String: Any])?["phase"] as? String == "Running" }
            try await Task.sleep(for: .seconds(1))
            #expect(try lab.podNamespaces() == ["\(lab.name)_pod_default_keep"])
            #expect(try allocated() == [try lab.podIP("keep")])
            #expect(try ["done", "failed"].map { try lab.podIP($0) } == ips)
            #expect(try (lab.pod("done")["status"] as? [String: Any])?["phase"] as? String == "Succeeded")
            #expect(try lab.run(["logs", "failed"]).stdout == "ok\n")

            // Deleting them later frees nothing twice: keep keeps its neighbour entry and traffic.
            #expect(try lab.run(["delete", "pod", "done", "failed"]).stdout == "pod \"done\" deleted\npod \"failed\" deleted\n")
            #expect(try allocated() == [try lab.podIP("keep")])
            try await lab.expectConsistent()
        }
    }
}

extension TestLab {
    /// One raw request to the lab's agent over its socket: the status code and the body.
    func request(_ method: String, _ path: String, body: String = "") throws -> (code: Int, body: String) {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CocoaError(.fileReadUnknown) }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let socketPath = "\(stateRoot)/\(name)/agent.sock"
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in socketPath.utf8.prefix(raw.count - 1).enumerated() { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw CocoaError(.fileReadUnknown) }
        let text = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        _ = text.withCString { send(fd, $0, strlen($0), 0) }
        var response = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        let answer = String(decoding: response, as: UTF8.self)
        let code = answer.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
        let bodyText = answer.range(of: "\r\n\r\n").map { String(answer[$0.upperBound...]) } ?? ""
        return (code, bodyText)
    }
}
