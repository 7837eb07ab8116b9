import Foundation
import KernelTestSupport
import Netns
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Init containers and native sidecars end to end, as the kubelet runs them: one at a time in
/// order before the app containers, a failure failing the pod under `Never` and crash-looping
/// it otherwise, a sidecar serving its pod over localhost and stopped once the app is done,
/// and initialization carried on by an agent that was killed halfway.
@Suite("Init containers end to end", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct InitContainerTests {
    /// Two init containers that each take 2 s, then an app container.
    static let sequence = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: seq
        spec:
          nodeName: n1
          initContainers:
          - name: first
            image: busybox
            command: ["sh", "-c", "echo first starts; sleep 4; echo first done"]
          - name: second
            image: busybox
            command: ["sh", "-c", "echo second starts; sleep 4; echo second done"]
          containers:
          - name: app
            image: busybox
            command: ["sh", "-c", "echo app starts; sleep 3600"]
          - name: helper
            image: busybox
            command: ["sleep", "3600"]
        """

    static func date(_ text: Any?) -> Date? {
        (text as? String).flatMap { ISO8601DateFormatter().date(from: $0) }
    }

    @Test("two init containers run one after the other, then the app; STATUS goes Init:0/2, Init:1/2, Running")
    func sequence() async throws {
        try await TestLab.with { lab in
            try lab.apply(Self.sequence, as: "seq.yaml")
            var seen: [String] = []
            try await lab.eventually("seq Running", timeout: .seconds(60)) {
                let status = try lab.podColumn("seq", 2)
                if seen.last != status { seen.append(status) }
                return status == "Running"
            }
            // Polling sees what a busy machine lets it see: Init:0/2 first (the first container runs
            // 4 s), any Init:1/2 after it, Running last; the timestamps below prove the order, and
            // PodNet's printing tests every STATUS on the way.
            let order = ["Pending", "Init:0/2", "Init:1/2", "PodInitializing", "Running"]
            let positions = seen.map { order.firstIndex(of: $0) ?? -1 }
            #expect(seen.contains("Init:0/2") && seen.last == "Running" && !positions.contains(-1) && positions == positions.sorted(),
                    "STATUS went \(seen)")
            if let first = seen.firstIndex(of: "Init:0/2"), let second = seen.firstIndex(of: "Init:1/2") {
                #expect(first < second, "STATUS went \(seen)")
            }
            #expect(try lab.podColumn("seq", 1) == "2/2")

            // Each started after the one before it had finished: the first ran its 4 s alone.
            let status = try #require(try lab.pod("seq")["status"] as? [String: Any])
            let inits = try #require(status["initContainerStatuses"] as? [[String: Any]])
            #expect(inits.map { $0["name"] as? String } == ["first", "second"])
            func terminated(_ index: Int) -> [String: Any] { (inits[index]["state"] as? [String: Any])?["terminated"] as? [String: Any] ?? [:] }
            let firstStarted = try #require(Self.date(terminated(0)["startedAt"]))
            let firstFinished = try #require(Self.date(terminated(0)["finishedAt"]))
            let secondStarted = try #require(Self.date(terminated(1)["startedAt"]))
            let secondFinished = try #require(Self.date(terminated(1)["finishedAt"]))
            let apps = try #require(status["containerStatuses"] as? [[String: Any]])
            let app = try #require(apps.first)
            let appStarted = try #require(Self.date(((app["state"] as? [String: Any])?["running"] as? [String: Any])?["startedAt"]))
            #expect(firstFinished.timeIntervalSince(firstStarted) >= 4)
            #expect(secondStarted >= firstFinished && appStarted >= secondFinished, "\(firstFinished) \(secondStarted) \(secondFinished) \(appStarted)")
            for index in 0..<2 {
                #expect(terminated(index)["exitCode"] as? Int == 0 && terminated(index)["reason"] as? String == "Completed")
                #expect(inits[index]["ready"] as? Bool == true && inits[index]["restartCount"] as? Int == 0)
            }
            let conditions = (status["conditions"] as? [[String: Any]] ?? []).map { "\($0["type"] ?? "")=\($0["status"] ?? "")" }
            #expect(conditions == ["Initialized=True", "Ready=True", "ContainersReady=True", "PodScheduled=True"])

            // Each container's log; `logs` without -c picks the first app container and says
            // so, as kubectl does; the API itself wants a name, as the API server does.
            #expect(try lab.run(["logs", "seq", "-c", "first"]).stdout == "first starts\nfirst done\n")
            #expect(try lab.run(["logs", "seq", "second"]).stdout == "second starts\nsecond done\n")
            let logs = try lab.run(["logs", "seq"])
            #expect(logs.stdout == "app starts\n")
            #expect(logs.stderr == "Defaulted container \"app\" out of: app, helper, first (init), second (init)\n")
            let unnamed = try lab.request("GET", "/api/v1/namespaces/default/pods/seq/log")
            #expect(unnamed.code == 400)
            #expect(unnamed.body.contains("a container name must be specified for pod seq, choose one of: [app helper] or one of the init containers: [first second]"),
                    "body: \(unnamed.body)")
            let unknown = try lab.run(["logs", "seq", "-c", "third"], expectSuccess: false)
            #expect(unknown.stderr == "Error from server (BadRequest): container third is not valid for pod seq\n")
            let describe = try lab.run(["describe", "pod", "seq"]).stdout
            #expect(describe.contains("Init Containers:\n  first:\n"), "describe:\n\(describe)")
            #expect(describe.contains("\nContainers:\n  app:\n"), "describe:\n\(describe)")
        }
    }

    @Test("a failing init container under restartPolicy Never fails the pod: Init:Error, the app never starts, the sidecar is stopped")
    func failingNever() async throws {
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: broken
                spec:
                  restartPolicy: Never
                  initContainers:
                  - name: proxy
                    image: busybox
                    restartPolicy: Always
                    command: ["sleep", "3600"]
                  - name: check
                    image: busybox
                    command: ["sh", "-c", "echo precondition not met; exit 3"]
                  containers:
                  - name: app
                    image: busybox
                    command: ["sleep", "3600"]
                """, as: "broken.yaml")
            try await lab.eventually("broken Failed") { try lab.phase("broken") == "Failed" }
            #expect(try lab.podColumn("broken", 2) == "Init:Error")
            try await lab.eventually("the sidecar stopped") {
                (try lab.initContainerStatus("broken", "proxy")["state"] as? [String: Any])?["terminated"] != nil
            }
            #expect(try lab.podColumn("broken", 1) == "0/2")
            #expect(try lab.initContainerStatus("broken", "proxy")["restartCount"] as? Int == 0, "the sidecar was restarted")
            let status = try #require(try lab.pod("broken")["status"] as? [String: Any])
            let check = try #require((status["initContainerStatuses"] as? [[String: Any]])?.last)
            let exit = (check["state"] as? [String: Any])?["terminated"] as? [String: Any]
            #expect(exit?["exitCode"] as? Int == 3 && exit?["reason"] as? String == "Error")
            #expect(check["restartCount"] as? Int == 0)
            let app = try #require((status["containerStatuses"] as? [[String: Any]])?.first)
            #expect(((app["state"] as? [String: Any])?["waiting"] as? [String: Any])?["reason"] as? String == "PodInitializing")
            #expect(try lab.run(["logs", "broken", "-c", "check"]).stdout == "precondition not met\n")
            try await lab.eventually("the sandbox of the failed pod is gone") { !NetworkNamespace.exists(lab.podNamespace("broken")) }
            #expect(lab.containerProcesses(pod: "broken").isEmpty)
        }
    }

    @Test("a failing init container under restartPolicy OnFailure is restarted with back-off: Init:CrashLoopBackOff")
    func failingOnFailure() async throws {
        try await TestLab.with(backoff: 0.5) { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: looping
                spec:
                  restartPolicy: OnFailure
                  initContainers:
                  - name: check
                    image: busybox
                    command: ["sh", "-c", "echo not yet; exit 1"]
                  containers:
                  - name: app
                    image: busybox
                    command: ["sleep", "3600"]
                """, as: "looping.yaml")
            try await lab.eventually("looping in Init:CrashLoopBackOff after restarts") {
                let check = try lab.initContainerStatus("looping", "check")
                return try lab.podColumn("looping", 2) == "Init:CrashLoopBackOff" && (check["restartCount"] as? Int ?? 0) >= 2
            }
            #expect(try lab.phase("looping") == "Pending")
            let check = try lab.initContainerStatus("looping", "check")
            #expect(((check["lastState"] as? [String: Any])?["terminated"] as? [String: Any])?["exitCode"] as? Int == 1)
            // RESTARTS, read a moment after the status: the same count, or one more if the
            // container ran again in between.
            let restarts = Int(try lab.podColumn("looping", 3).prefix { $0.isNumber }) ?? -1
            let counted = check["restartCount"] as? Int ?? -2
            #expect(restarts == counted || restarts == counted + 1, "RESTARTS \(restarts), restartCount \(counted)")
            #expect(try lab.containerStatus("looping", "app")["containerID"] == nil, "the app container started")
            #expect(try lab.run(["logs", "looping", "-c", "check", "--previous"]).stdout == "not yet\n")
        }
    }

    @Test("an init container whose image cannot be pulled holds the pod in Init:ErrImagePull; a new image lets it go on")
    func unknownImage() async throws {
        // ErrImagePull shows for one back-off period after each failed pull: 2 s is long enough
        // for polling through the CLI to see it on a loaded machine, 0.5 s was not.
        try await TestLab.with(backoff: 2) { lab in
            let manifest = """
                apiVersion: v1
                kind: Pod
                metadata:
                  name: pull
                spec:
                  initContainers:
                  - name: fetch
                    image: example.com/missing:1
                    command: ["sh", "-c", "echo fetched"]
                  containers:
                  - name: app
                    image: busybox
                    command: ["sleep", "3600"]
                """
            try lab.apply(manifest, as: "pull.yaml")
            try await lab.eventually("pull in Init:ErrImagePull") { try lab.podColumn("pull", 2) == "Init:ErrImagePull" }
            try await lab.eventually("pull in Init:ImagePullBackOff") { try lab.podColumn("pull", 2) == "Init:ImagePullBackOff" }
            #expect(try lab.phase("pull") == "Pending")
            #expect(try lab.containerStatus("pull", "app")["containerID"] == nil, "the app container started")

            try lab.apply(manifest.replacingOccurrences(of: "example.com/missing:1", with: "busybox"), as: "pull.yaml")
            try await lab.eventually("pull Running") { try lab.phase("pull") == "Running" }
            let fetch = try lab.initContainerStatus("pull", "fetch")
            #expect(((fetch["state"] as? [String: Any])?["terminated"] as? [String: Any])?["reason"] as? String == "Completed")
            #expect(fetch["restartCount"] as? Int == 0 && fetch["image"] as? String == "busybox")
            #expect(try lab.run(["logs", "pull", "-c", "fetch"]).stdout == "fetched\n")
        }
    }

    @Test("a native sidecar serves the app over localhost while the app runs; READY counts it")
    func sidecarServes() async throws {
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: meshed
                spec:
                  nodeName: n2
                  initContainers:
                  - name: proxy
                    image: nginx
                    restartPolicy: Always
                  containers:
                  - name: app
                    image: busybox
                    command: ["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://localhost:80/ && break; sleep 1; done; sleep 3600"]
                """, as: "meshed.yaml")
            try await lab.eventually("meshed Running 2/2") { try lab.podColumn("meshed", 1) == "2/2" && lab.podColumn("meshed", 2) == "Running" }
            try await lab.eventually("the app fetched the page from its sidecar") {
                try lab.run(["logs", "meshed", "-c", "app"]).stdout.contains("Welcome to nginx!")
            }
            let proxy = try lab.initContainerStatus("meshed", "proxy")
            #expect((proxy["state"] as? [String: Any])?["running"] != nil && proxy["started"] as? Bool == true && proxy["ready"] as? Bool == true)
            // It runs beside the app, in the pod's network namespace, and answers there.
            #expect(try lab.run(["exec", "meshed", "-c", "app", "--", "wget", "-q", "-O", "-", "http://127.0.0.1/"]).stdout.contains("Welcome to nginx!"))
            let page = try Command.check(try BuiltExecutable.path("podlab-tools"), ["curl", "-s", "http://127.0.0.1/"], netns: lab.podNamespace("meshed"))
            #expect(page.contains("Welcome to nginx!"))
        }
    }

    @Test("a pod whose app exits 0 beside a sidecar becomes Succeeded; the sidecar is stopped, not restarted")
    func sidecarStopsWhenAppCompletes() async throws {
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: job
                spec:
                  restartPolicy: Never
                  terminationGracePeriodSeconds: 5
                  initContainers:
                  - name: logger
                    image: busybox
                    restartPolicy: Always
                    command: ["sleep", "3600"]
                  containers:
                  - name: work
                    image: busybox
                    command: ["sh", "-c", "until [ -e \(lab.stateRoot)/finish ]; do sleep 0.2; done; echo work done"]
                """, as: "job.yaml")
            try await lab.eventually("job Running with its sidecar") { try lab.podColumn("job", 1) == "2/2" }
            #expect(FileManager.default.createFile(atPath: "\(lab.stateRoot)/finish", contents: nil))
            try await lab.eventually("job Succeeded") { try lab.phase("job") == "Succeeded" }
            #expect(try lab.podColumn("job", 2) == "Completed")
            let logger = try lab.initContainerStatus("job", "logger")
            #expect((logger["state"] as? [String: Any])?["terminated"] != nil, "the sidecar was not stopped: \(logger)")
            #expect(logger["restartCount"] as? Int == 0)
            let work = try lab.containerStatus("job", "work")
            #expect(((work["state"] as? [String: Any])?["terminated"] as? [String: Any])?["exitCode"] as? Int == 0)
            #expect(try lab.run(["logs", "job"]).stdout == "work done\n")
            try await lab.eventually("nothing of the pod runs any more") { lab.containerProcesses(pod: "job").isEmpty }
        }
    }

    @Test("an agent killed during and after initialization: completed init containers do not run again, running ones are adopted")
    func adoptionDuringInitialization() async throws {
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: slow
                spec:
                  nodeName: n1
                  initContainers:
                  - name: fast
                    image: busybox
                    command: ["sh", "-c", "echo fast ran"]
                  - name: slow
                    image: busybox
                    command: ["sh", "-c", "echo slow ran; sleep 3600"]
                  containers:
                  - name: app
                    image: busybox
                    command: ["sleep", "3600"]
                ---
                apiVersion: v1
                kind: Pod
                metadata:
                  name: ready
                spec:
                  nodeName: n2
                  initContainers:
                  - name: setup
                    image: busybox
                    command: ["sh", "-c", "echo setup ran"]
                  - name: proxy
                    image: nginx
                    restartPolicy: Always
                  containers:
                  - name: app
                    image: busybox
                    command: ["sh", "-c", "echo app ran; sleep 3600"]
                """, as: "pods.yaml")
            try await lab.eventually("slow's second init container runs") { try lab.podColumn("slow", 2) == "Init:1/2" }
            try await lab.eventually("ready Running 2/2") { try lab.podColumn("ready", 1) == "2/2" }
            let before = ["slow": lab.containerProcesses(pod: "slow"), "ready": lab.containerProcesses(pod: "ready")]
            #expect(before.values.allSatisfy { !$0.isEmpty })
            try await lab.killAgent()
            #expect(before.values.joined().allSatisfy(processIsAlive), "a container died with the agent")
            try lab.run(["up"])

            // The new agent watches the same processes and starts nothing again.
            try await Task.sleep(for: .seconds(1))
            #expect(try lab.podColumn("slow", 2) == "Init:1/2")
            #expect(try lab.podColumn("ready", 2) == "Running" && lab.podColumn("ready", 1) == "2/2")
            for pod in ["slow", "ready"] {
                #expect(Set(lab.containerProcesses(pod: pod)) == Set(before[pod] ?? []), "\(pod)'s processes changed")
            }
            #expect(try lab.run(["logs", "slow", "-c", "fast"]).stdout == "fast ran\n")
            #expect(try lab.run(["logs", "slow", "-c", "slow"]).stdout == "slow ran\n")
            #expect(try lab.run(["logs", "ready", "-c", "setup"]).stdout == "setup ran\n")
            #expect(try lab.run(["logs", "ready", "app"]).stdout == "app ran\n")
            for (pod, container) in [("slow", "fast"), ("slow", "slow"), ("ready", "setup"), ("ready", "proxy")] {
                #expect(try lab.initContainerStatus(pod, container)["restartCount"] as? Int == 0, "\(pod)/\(container)")
            }
            #expect(try (lab.initContainerStatus("slow", "slow")["state"] as? [String: Any])?["running"] != nil)
            #expect(try lab.containerStatus("slow", "app")["containerID"] == nil, "the app started before initialization finished")
        }
    }
}

extension TestLab {
    /// Column `index` (0-based) of `podlab get pod NAME --no-headers`: 1 READY, 2 STATUS, 3 RESTARTS.
    func podColumn(_ pod: String, _ index: Int) throws -> String {
        let line = try run(["get", "pod", pod, "--no-headers"]).stdout
        let columns = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        return index < columns.count ? columns[index].trimmingCharacters(in: .whitespacesAndNewlines) : ""
    }

    func phase(_ pod: String) throws -> String {
        (try self.pod(pod)["status"] as? [String: Any])?["phase"] as? String ?? ""
    }

    func initContainerStatus(_ pod: String, _ container: String) throws -> [String: Any] {
        let statuses = ((try self.pod(pod))["status"] as? [String: Any])?["initContainerStatuses"] as? [[String: Any]] ?? []
        return statuses.first { $0["name"] as? String == container } ?? [:]
    }
}
