import Foundation
import KernelTestSupport
import Netns
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The lab's keeper: `podlab up` starts it and it starts the agent, so the containers a killed
/// agent leaves re-parent to it. It reaps them (no zombie) and records how they ended, and the
/// next agent reports that status, not a guess. `podlab down` leaves no keeper behind.
@Suite("Lab keeper: no zombie, no lost exit code", .serialized, .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct KeeperTests {
    @Test("kill -9, restart, delete an adopted container's pod: its parent was the keeper, which reaps it (no zombie)")
    func adoptedContainerIsReaped() async throws {
        try await TestLab.with { lab in
            try lab.apply(Self.pod("adopted", command: ["sleep", "3600"]), as: "pod.yaml")
            try await lab.eventually("adopted Running") { try lab.allRunning(count: 1) }
            let sleeper = try #require(try lab.containerPIDs("adopted")["sleep"])
            let agent = try #require(lab.agentPID)
            let keeper = try #require(lab.keepers.first { $0.agent == agent }, "no keeper started agent \(agent): \(lab.keepers)")
            #expect(processState(sleeper)?.parent == agent, "the container is the agent's child while the agent runs")

            try await lab.killAgent()
            try await lab.eventually("the container re-parented to the keeper") { processState(sleeper)?.parent == keeper.pid }
            try lab.run(["up"])
            try await lab.eventually("adopted Running again") { try lab.allRunning(count: 1) }
            #expect(try lab.containerPIDs("adopted")["sleep"] == sleeper, "the container was replaced, not adopted")

            try lab.run(["delete", "pod", "adopted"])
            #expect(!(try lab.run(["get", "pod", "adopted"], expectSuccess: false).succeeded))
            // Reaped at once by its parent: gone, not a zombie waiting for someone to reap it.
            try await lab.eventually("the old container reaped") { processState(sleeper) == nil }
            // The old keeper also holds the cluster DNS server, started by the killed agent too.
            try lab.run(["delete", "pod", "podlab-dns", "-n", "kube-system"])
            // The new agent is the keeper's child too; the old keeper had only the containers left.
            try await lab.eventually("the old keeper exited once it held nothing") { processStartTime(keeper.pid) != keeper.startTime }
            #expect(try lab.exitRecords().isEmpty, "the agent took the record and removed it")
        }
    }

    @Test("a container that exits with 7 while no agent runs: Terminated with exit code 7 (Never), lastState 7 (OnFailure)")
    func exitCodeWhileAgentIsDown() async throws {
        try await TestLab.with { lab in
            // The containers exit once this file exists (a pod sees the host's file system), which
            // the test makes only after the agent is gone, however slow the machine.
            let go = "\(lab.stateRoot)/exit-now"
            let command = ["sh", "-c", "until [ -e \(go) ]; do sleep 0.2; done; exit 7"]
            try lab.apply(Self.pod("never", policy: "Never", command: command) + "---\n"
                          + Self.pod("onfailure", policy: "OnFailure", command: command), as: "pods.yaml")
            try await lab.eventually("both pods Running") { try lab.allRunning(count: 2) }
            let shells = try ["never", "onfailure"].map { try #require(try lab.containerPIDs($0)["sh"], "\($0) has no sh") }
            try await lab.killAgent()
            #expect(shells.allSatisfy(processIsAlive), "a container ended before the agent was killed: nothing to test")
            #expect(FileManager.default.createFile(atPath: go, contents: nil))
            for pid in shells {
                let deadline = ContinuousClock.now + .seconds(60)
                while processState(pid) != nil && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
                if processState(pid) != nil {
                    Issue.record("container \(pid) not reaped by the keeper in 60 s: \(processReport(pid)); the file it waits for exists: \(FileManager.default.fileExists(atPath: go)); exit records: \((try? lab.exitRecords()) ?? [:])\n\(lab.diagnosis())")
                    return
                }
            }
            // Written down while no agent runs.
            #expect(try lab.exitRecords().values.map { $0.split(separator: " ").first } == ["exited", "exited"])
            #expect(try lab.exitRecords().values.allSatisfy { $0.hasPrefix("exited 7 ") })
            // A record of a process no pod has (a stray stopped at adoption leaves one): nobody reads it.
            try "exited 1 1\n".write(toFile: "\(lab.stateRoot)/\(lab.name)/exits/4194000-12345", atomically: true, encoding: .utf8)
            try await Task.sleep(for: .seconds(2))
            let restarted = Date()

            try lab.run(["up"])
            try await lab.eventually("the Never pod Failed") { try lab.phase("never") == "Failed" }
            let never = try lab.containerStatus("never", "main")
            let terminated = (never["state"] as? [String: Any])?["terminated"] as? [String: Any] ?? [:]
            #expect(terminated["exitCode"] as? Int == 7, "\(never)")
            #expect(terminated["reason"] as? String == "Error")
            #expect(terminated["message"] == nil, "no 'exit status unknown': \(terminated)")
            // When it ended, not when the next agent heard of it.
            let finishedAt = try #require((terminated["finishedAt"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) })
            #expect(finishedAt < restarted.addingTimeInterval(-1), "finishedAt \(finishedAt) is the restart's time, not the exit's")
            #expect(never["restartCount"] as? Int == 0)

            try await lab.eventually("the OnFailure container restarted") {
                try (lab.containerStatus("onfailure", "main")["restartCount"] as? Int ?? 0) >= 1
            }
            let onFailure = try lab.containerStatus("onfailure", "main")
            let last = (onFailure["lastState"] as? [String: Any])?["terminated"] as? [String: Any] ?? [:]
            #expect(last["exitCode"] as? Int == 7, "\(onFailure)")
            #expect(last["reason"] as? String == "Error")
            try await lab.eventually("the records taken and removed, the stray one too") { try lab.exitRecords().isEmpty }
        }
    }

    @Test("an init container that finishes while no agent runs is recorded with its real code: 0 lets the app start, 3 fails the pod")
    func initContainerWhileAgentIsDown() async throws {
        try await TestLab.with { lab in
            // The init containers end once this file exists, which the test makes only after
            // the agent is gone, however slow the machine.
            let go = "\(lab.stateRoot)/exit-now"
            let manifest = """
                apiVersion: v1
                kind: Pod
                metadata:
                  name: init-ok
                spec:
                  initContainers:
                  - name: setup
                    image: busybox
                    command: ["sh", "-c", "until [ -e \(go) ]; do sleep 0.2; done; exit 0"]
                  containers:
                  - name: app
                    image: busybox
                    command: ["sleep", "3600"]
                ---
                apiVersion: v1
                kind: Pod
                metadata:
                  name: init-fails
                spec:
                  restartPolicy: Never
                  initContainers:
                  - name: setup
                    image: busybox
                    command: ["sh", "-c", "until [ -e \(go) ]; do sleep 0.2; done; exit 3"]
                  containers:
                  - name: app
                    image: busybox
                    command: ["sleep", "3600"]
                """
            try lab.apply(manifest, as: "pods.yaml")
            var shells: [Int32] = []
            for pod in ["init-ok", "init-fails"] {
                try await lab.eventually("\(pod)'s init container runs") { try lab.containerPIDs(pod)["sh"] != nil }
                shells.append(try #require(try lab.containerPIDs(pod)["sh"]))
            }
            try await lab.killAgent()
            #expect(shells.allSatisfy(processIsAlive), "an init container ended before the agent was killed: nothing to test")
            #expect(FileManager.default.createFile(atPath: go, contents: nil))
            for pid in shells {
                try await lab.eventually("init container \(pid) reaped by the keeper") { processState(pid) == nil }
            }
            try lab.run(["up"])

            try await lab.eventually("init-ok Running") { try lab.phase("init-ok") == "Running" }
            let setup = try lab.initContainerStatus("init-ok", "setup")
            let completed = (setup["state"] as? [String: Any])?["terminated"] as? [String: Any] ?? [:]
            #expect(completed["exitCode"] as? Int == 0 && completed["reason"] as? String == "Completed", "\(setup)")
            #expect(setup["restartCount"] as? Int == 0, "the init container ran again")
            #expect(try (lab.containerStatus("init-ok", "app")["state"] as? [String: Any])?["running"] != nil)

            try await lab.eventually("init-fails Failed") { try lab.phase("init-fails") == "Failed" }
            let failed = try lab.initContainerStatus("init-fails", "setup")
            let error = (failed["state"] as? [String: Any])?["terminated"] as? [String: Any] ?? [:]
            #expect(error["exitCode"] as? Int == 3 && error["reason"] as? String == "Error", "\(failed)")
            #expect(try lab.podColumn("init-fails", 2) == "Init:Error")
            #expect(try lab.containerStatus("init-fails", "app")["containerID"] == nil, "the app started after a failed init container")
        }
    }

    @Test("podlab down ends every keeper of the lab, the one of a killed agent too; the agent's exit ends its keeper")
    func downLeavesNoKeeper() async throws {
        try await TestLab.with { lab in
            try lab.apply(Self.pod("sleeper", command: ["sleep", "3600"]), as: "pod.yaml")
            try await lab.eventually("sleeper Running") { try lab.allRunning(count: 1) }
            try await lab.killAgent()
            try lab.run(["up"])
            try await lab.eventually("sleeper Running again") { try lab.allRunning(count: 1) }
            let keepers = lab.keepers
            #expect(keepers.count == 2, "the killed agent's keeper (holding the container) and the new agent's: \(keepers)")
            #expect(keepers.allSatisfy { processStartTime($0.pid) == $0.startTime }, "a keeper is not running: \(keepers)")
            // The keeper enters no namespace: it holds none of the lab's.
            for keeper in keepers {
                for kind in ["net", "mnt", "uts", "ipc"] {
                    let own = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/\(kind)")
                    #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(keeper.pid)/ns/\(kind)") == own,
                            "keeper \(keeper.pid) is in another \(kind) namespace")
                }
            }

            let down = try lab.run(["down"])
            #expect(down.stdout == "lab \"\(lab.name)\" deleted\n")
            #expect(!down.stderr.contains("still held processes"), "a keeper had to be signalled: \(down.stderr)")
            for keeper in keepers {
                #expect(!processIsAlive(keeper.pid) || processStartTime(keeper.pid) != keeper.startTime, "keeper \(keeper.pid) outlived the lab")
            }
            #expect(!FileManager.default.fileExists(atPath: "\(lab.stateRoot)/\(lab.name)/keepers"))
            #expect(!FileManager.default.fileExists(atPath: "\(lab.stateRoot)/\(lab.name)/exits"))
        }
    }

    @Test("a process that left its container's session outlives the agent's tear-down in the keeper: down makes the keeper end it")
    func downEndsWhatLeftTheContainers() async throws {
        try await TestLab.with { lab in
            try lab.apply(Self.pod("escaper", command: ["sh", "-c", "setsid sleep 3600 & exec sleep 3601"]), as: "pod.yaml")
            try await lab.eventually("escaper Running") { try lab.allRunning(count: 1) }
            var escaped: Int32?
            try await lab.eventually("the process in a session of its own runs") {
                escaped = try lab.netnsPIDs("escaper").first { pid in
                    (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) == "sleep\u{0}3600\u{0}"
                }
                return escaped != nil
            }
            let pid = try #require(escaped)
            let keeper = try #require(lab.keepers.first)

            let down = try lab.run(["down"])
            #expect(down.stdout == "lab \"\(lab.name)\" deleted\n")
            #expect(down.stderr.contains("The keeper of lab \"\(lab.name)\" (pid \(keeper.pid)) still held processes after the agent exited: ended them"),
                    "\(down.stderr)")
            #expect(processState(pid) == nil, "the escaped process is still there (or a zombie)")
            #expect(!processIsAlive(keeper.pid) || processStartTime(keeper.pid) != keeper.startTime, "keeper \(keeper.pid) outlived the lab")
        }
    }

    @Test("a keeper killed while its agent runs: the agent goes on (starts, reports and deletes pods) and down still works")
    func agentOutlivesItsKeeper() async throws {
        try await TestLab.with { lab in
            let agent = try #require(lab.agentPID)
            let keeper = try #require(lab.keepers.first { $0.agent == agent })
            #expect(kill(keeper.pid, SIGKILL) == 0)
            try await lab.eventually("keeper gone") { !processIsAlive(keeper.pid) }
            #expect(processIsAlive(agent), "the agent died with its keeper")

            try lab.apply(Self.pod("five", policy: "Never", command: ["sh", "-c", "exit 5"]), as: "pod.yaml")
            try await lab.eventually("five Failed") { try lab.phase("five") == "Failed" }
            let state = (try lab.containerStatus("five", "main")["state"] as? [String: Any])?["terminated"] as? [String: Any] ?? [:]
            #expect(state["exitCode"] as? Int == 5, "the agent reaps its own children: \(state)")
            try lab.run(["delete", "pod", "five"])
            #expect(try lab.run(["down"]).stdout == "lab \"\(lab.name)\" deleted\n")
            #expect(!processIsAlive(agent))
        }
    }

    /// One pod with one container `main` running `command` in busybox.
    static func pod(_ name: String, policy: String = "Always", command: [String]) -> String {
        """
        apiVersion: v1
        kind: Pod
        metadata:
          name: \(name)
        spec:
          restartPolicy: \(policy)
          containers:
          - name: main
            image: busybox
            command: [\(command.map { "\"\($0)\"" }.joined(separator: ", "))]

        """
    }
}

/// State letter and parent of a process (fields 3 and 4 of /proc/PID/stat); nil when there is no such process.
/// A process, its children and its parent as /proc shows them, for a test that waited in vain.
func processReport(_ pid: Int32) -> String {
    func stat(_ pid: Int32) -> String {
        ((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? "gone").split(separator: " ").prefix(8).joined(separator: " ")
    }
    let children = ((try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? "")
        .split(separator: " ").compactMap { Int32($0) }
    let parent = processState(pid)?.parent ?? 0
    return "process [\(stat(pid))], children \(children.map { "[\(stat($0))]" }), parent [\(stat(parent))]"
}

func processState(_ pid: Int32) -> (state: String, parent: Int32)? {
    guard let fields = statFields(of: pid), fields.count > 1, let parent = Int32(fields[1]) else { return nil }
    return (String(fields[0]), parent)
}

extension TestLab {
    /// The exit records the keeper wrote (`<state>/<lab>/exits`): file name → content.
    func exitRecords() throws -> [String: String] {
        let directory = "\(stateRoot)/\(name)/exits"
        var records: [String: String] = [:]
        for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where !file.hasPrefix(".") {
            records[file] = try String(contentsOfFile: "\(directory)/\(file)", encoding: .utf8)
        }
        return records
    }
}
