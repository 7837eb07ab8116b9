import Foundation
import KernelTestSupport
import Netns
import PodNet
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `shareProcessNamespace: true` as a user tries it: a pod with a built-in container and one of
/// an OCI image (busybox-static, built here) whose containers see each other's processes, PID 1
/// being the pod's pause process; one signals the other's; a pod without the field keeps them
/// apart. Under runc and crun, across an agent's kill -9, and with the pause process killed.
@Suite("shareProcessNamespace: one pid namespace per pod", .serialized, .enabled(if: KernelTest.isRoot, KernelTest.rootRequired),
       .rootNamespaceUnchanged)
struct SharedProcessNamespaceTests {
    static func manifest(_ name: String, shared: Bool) -> String {
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: \(name)}
        spec:
          shareProcessNamespace: \(shared)
          containers:
          - {name: tools, image: busybox, command: [sleep, "3600"]}
          - {name: web, image: "registry.test/web:1"}
        """
    }

    /// Loads the busybox web image into the lab's store.
    static func loadImage(_ lab: TestLab) throws {
        let image = try BusyboxWebImage(page: "<h1>shared</h1>\n")
        try image.writeLayout("\(lab.stateRoot)/layout", name: "registry.test/web:1")
        try lab.run(["image", "load", "-i", "\(lab.stateRoot)/layout"])
    }

    static func running(_ lab: TestLab, _ pod: String) async throws {
        try await lab.eventually("pod \(pod) Running") { (try lab.pod(pod)["status"] as? [String: Any])?["phase"] as? String == "Running" }
    }

    /// The host's pid of the pod's pause process: the process in the pod's network namespace
    /// whose argv[0] is `/pause`.
    static func pausePID(_ lab: TestLab, _ pod: String) throws -> Int32? {
        try lab.netnsPIDs(pod).first { pid in
            FileManager.default.contents(atPath: "/proc/\(pid)/cmdline").map { $0.split(separator: 0).first == Array("/pause".utf8)[...] } == true
        }
    }

    /// The pid namespace of a process, as `readlink /proc/PID/ns/pid` shows it.
    static func pidNamespace(_ pid: Int32) -> String? { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/pid") }

    /// The `NSpid:` line of a process: its pid in each namespace, outermost first.
    static func nsPIDs(_ pid: Int32) -> [Int32] {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("NSpid:") } ?? ""
        return line.split(whereSeparator: \.isWhitespace).dropFirst().compactMap { Int32($0) }
    }

    static func restartCount(_ lab: TestLab, _ pod: String, _ container: String) throws -> Int {
        try lab.containerStatus(pod, container)["restartCount"] as? Int ?? -1
    }

    /// What both containers of a pod sharing its pid namespace see, and that one signals the other.
    static func expectShared(_ lab: TestLab, _ pod: String, pause: Int32, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        // PID 1 is the pause process, for the built-in container (the pod's /proc) and the OCI one (the runtime's).
        #expect(nsPIDs(pause) == [pause, 1], sourceLocation: sourceLocation)
        #expect(try lab.run(["exec", pod, "-c", "tools", "--", "cat", "/proc/1/cmdline"]).stdout.hasPrefix("/pause\0"),
                sourceLocation: sourceLocation)
        #expect(try lab.run(["exec", pod, "-c", "web", "--", "/bin/busybox", "cat", "/proc/1/cmdline"]).stdout.hasPrefix("/pause\0"),
                sourceLocation: sourceLocation)
        // Each lists the other's process.
        let fromTools = try lab.run(["exec", pod, "-c", "tools", "--", "ps", "-o", "pid,args"]).stdout
        #expect(fromTools.contains("/bin/httpd -f") && fromTools.contains("/pause"), "ps in tools:\n\(fromTools)", sourceLocation: sourceLocation)
        let fromWeb = try lab.run(["exec", pod, "-c", "web", "--", "/bin/busybox", "ps", "-o", "pid,args"]).stdout
        #expect(fromWeb.contains("sleep 3600") && fromWeb.contains("/pause"), "ps in web:\n\(fromWeb)", sourceLocation: sourceLocation)
        // All of the pod's containers are in the pause process's pid namespace.
        let namespace = try #require(pidNamespace(pause), sourceLocation: sourceLocation)
        for pid in try lab.netnsPIDs(pod) where !(FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data()).starts(with: Array("runc".utf8))
            && !(FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data()).starts(with: Array("crun".utf8)) {
            #expect(pidNamespace(pid) == namespace, "pid \(pid) of pod \(pod) is not in its pid namespace", sourceLocation: sourceLocation)
        }

        // The OCI container signals the built-in one's process, which ends and is restarted.
        let before = try restartCount(lab, pod, "tools")
        try lab.run(["exec", pod, "-c", "web", "--", "/bin/sh", "-c", "kill $(/bin/busybox pidof sleep)"])
        try await lab.eventually("tools restarted after web's kill") {
            try restartCount(lab, pod, "tools") == before + 1
                && (try lab.containerStatus(pod, "tools")["state"] as? [String: Any])?["running"] != nil
        }
        let last = (try lab.containerStatus(pod, "tools")["lastState"] as? [String: Any])?["terminated"] as? [String: Any]
        #expect(last?["exitCode"] as? Int == 143, "tools' last state: \(String(describing: last))", sourceLocation: sourceLocation)
    }

    @Test("runc and crun: the containers see and signal each other's processes, PID 1 is the pause process; without the field they are apart; delete leaves nothing",
          arguments: ["runc", "crun"])
    func sharedAndApart(runtime: String) async throws {
        let executable = runtime == "runc" ? "/usr/sbin/runc" : "/usr/bin/crun"
        try #require(access(executable, X_OK) == 0, "\(executable) is missing: scripts/install-deps installs it")
        try await TestLab.with(environment: ["PODLAB_OCI_RUNTIME": runtime]) { lab in
            try Self.loadImage(lab)
            try lab.apply(Self.manifest("shared", shared: true) + "\n---\n" + Self.manifest("apart", shared: false), as: "pods.yaml")
            try await Self.running(lab, "shared")
            try await Self.running(lab, "apart")
            #expect((try lab.containerStatus("shared", "web")["containerID"] as? String)?.hasPrefix("\(runtime)://") == true)
            let pause = try #require(try Self.pausePID(lab, "shared"))
            try await Self.expectShared(lab, "shared", pause: pause)

            // Without the field: no pause process; the image's server is PID 1 of its own
            // namespace and sees nothing of the built-in container; the built-in container
            // stays in the host's pid namespace, as before.
            #expect(try Self.pausePID(lab, "apart") == nil)
            #expect(try lab.run(["exec", "apart", "-c", "web", "--", "/bin/busybox", "cat", "/proc/1/cmdline"]).stdout.hasPrefix("/bin/httpd\0"))
            let apartWeb = try lab.run(["exec", "apart", "-c", "web", "--", "/bin/busybox", "ps", "-o", "pid,args"]).stdout
            #expect(!apartWeb.contains("sleep"), "ps in apart's web:\n\(apartWeb)")
            let signal = try lab.run(["exec", "apart", "-c", "web", "--", "/bin/sh", "-c", "kill $(/bin/busybox pidof sleep)"], expectSuccess: false)
            #expect(signal.status != .exited(0), "web of apart signalled a process it should not see")
            #expect(!(try lab.run(["exec", "apart", "-c", "tools", "--", "cat", "/proc/1/cmdline"]).stdout.hasPrefix("/pause")))
            #expect(try Self.restartCount(lab, "apart", "tools") == 0)

            // Deleting the pod takes its pause process and every process of its namespace.
            let processes = try lab.netnsPIDs("shared")
            #expect(processes.contains(pause))
            try lab.run(["delete", "pod", "shared"])
            #expect(!processIsAlive(pause), "the pause process \(pause) outlived its pod")
            for pid in processes { #expect(!processIsAlive(pid), "process \(pid) outlived its pod") }
            try lab.run(["down"])
            for pid in try lab.netnsPIDs("apart") { #expect(!processIsAlive(pid)) }
            #expect(lab.containerProcesses().isEmpty)
        }
    }

    @Test("agent kill -9 and up: the pause process and the containers are adopted, the pod works on; down leaves no process")
    func adoptedAfterKill() async throws {
        try await TestLab.with { lab in
            try Self.loadImage(lab)
            try lab.apply(Self.manifest("shared", shared: true), as: "pod.yaml")
            try await Self.running(lab, "shared")
            let pause = try #require(try Self.pausePID(lab, "shared"))
            let before = try lab.netnsPIDs("shared")
            try await lab.killAgent()
            #expect(processIsAlive(pause), "the pause process died with the agent")
            try lab.run(["up"])
            try await Self.running(lab, "shared")
            #expect(try Self.pausePID(lab, "shared") == pause, "the pause process was replaced, not adopted")
            #expect(try Self.restartCount(lab, "shared", "tools") == 0 && Self.restartCount(lab, "shared", "web") == 0)
            // A container started by the new agent joins the same namespace.
            try await Self.expectShared(lab, "shared", pause: pause)
            let events = try lab.run(["get", "events"]).stdout
            #expect(!events.contains("SandboxChanged"), "events:\n\(events)")

            let all = Set(before + (try lab.netnsPIDs("shared")))
            try lab.run(["down"])
            #expect(!processIsAlive(pause), "the pause process \(pause) outlived the lab")
            for pid in all { #expect(!processIsAlive(pid), "process \(pid) outlived the lab") }
        }
    }

    @Test("hostNetwork: the pod's pid namespace is its own, with its pause process in the node's network namespace; delete leaves nothing")
    func hostNetwork() async throws {
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: onnode}
                spec:
                  hostNetwork: true
                  shareProcessNamespace: true
                  containers:
                  - {name: one, image: busybox, command: [sleep, "3601"]}
                  - {name: two, image: busybox, command: [sleep, "3602"]}
                """, as: "pod.yaml")
            try await Self.running(lab, "onnode")
            let node = try #require((try lab.pod("onnode")["spec"] as? [String: Any])?["nodeName"] as? String)
            let inNode = try Command.check("ip", ["netns", "pids", lab.nodeNamespace(node)]).split(separator: "\n").compactMap { Int32($0) }
            let pauses = inNode.filter { FileManager.default.contents(atPath: "/proc/\($0)/cmdline")?.starts(with: Array("/pause\0".utf8)) == true }
            #expect(pauses.count == 1)
            let pause = try #require(pauses.first)
            #expect(Self.nsPIDs(pause) == [pause, 1])
            #expect(try lab.run(["exec", "onnode", "-c", "one", "--", "cat", "/proc/1/cmdline"]).stdout.hasPrefix("/pause\0"))
            #expect(try lab.run(["exec", "onnode", "-c", "one", "--", "ps", "-o", "args"]).stdout.contains("sleep 3602"))
            try lab.run(["delete", "pod", "onnode"])
            #expect(!processIsAlive(pause), "the pause process \(pause) outlived its pod")
        }
    }

    @Test("the pause process killed: SandboxChanged, the containers start again in a new pid namespace")
    func pauseKilled() async throws {
        try await TestLab.with { lab in
            try Self.loadImage(lab)
            try lab.apply(Self.manifest("shared", shared: true), as: "pod.yaml")
            try await Self.running(lab, "shared")
            let pause = try #require(try Self.pausePID(lab, "shared"))
            let oldNamespace = Self.pidNamespace(pause)
            // The kernel recycles a freed namespace's inode number: holding the old one open keeps
            // its number taken, so a new namespace cannot show the same one.
            let heldOpen = open("/proc/\(pause)/ns/pid", O_RDONLY | O_CLOEXEC)
            #expect(heldOpen >= 0)
            defer { if heldOpen >= 0 { close(heldOpen) } }
            #expect(kill(pause, SIGKILL) == 0)
            try await lab.eventually("both containers restarted") {
                try Self.restartCount(lab, "shared", "tools") == 1 && Self.restartCount(lab, "shared", "web") == 1
                    && (try lab.pod("shared")["status"] as? [String: Any])?["phase"] as? String == "Running"
                    && (try lab.containerStatus("shared", "web")["state"] as? [String: Any])?["running"] != nil
                    && (try lab.containerStatus("shared", "tools")["state"] as? [String: Any])?["running"] != nil
            }
            let newPause = try #require(try Self.pausePID(lab, "shared"))
            #expect(newPause != pause)
            #expect(Self.pidNamespace(newPause) != oldNamespace)
            let describe = try lab.run(["describe", "pod", "shared"]).stdout
            #expect(describe.contains("SandboxChanged") && describe.contains("Pod sandbox changed, it will be killed and re-created."),
                    "describe:\n\(describe)")
            try await Self.expectShared(lab, "shared", pause: newPause)
            try lab.run(["delete", "pod", "shared"])
            #expect(!processIsAlive(newPause))
        }
    }
}
