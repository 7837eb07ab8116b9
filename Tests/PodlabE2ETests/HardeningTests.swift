import Foundation
import KernelTestSupport
import Netns
import PodNet
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The lab's state is root's alone, another user is told so, oversized and abandoned requests
/// leave nothing behind, credentials never reach the log, and a stale pid file names nobody.
@Suite("A lab's state is root's, and hostile requests change nothing", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct HardeningTests {
    /// One path under a lab's state directory as `lstat` sees it.
    struct Entry: CustomStringConvertible {
        var path: String
        var relative: String
        var kind: mode_t
        var mode: mode_t
        var owner: uid_t
        var group: gid_t
        var description: String { String(format: "%04o %d:%d %@", Int(mode), Int(owner), Int(group), relative) }
    }

    /// Every path under `directory`, the directory first; links are not followed.
    static func listing(_ directory: String) -> [Entry] {
        var result: [Entry] = []
        func visit(_ path: String) {
            var info = stat()
            guard lstat(path, &info) == 0 else { return }
            let relative = path == directory ? "." : String(path.dropFirst(directory.count + 1))
            result.append(Entry(path: path, relative: relative, kind: info.st_mode & S_IFMT, mode: info.st_mode & 0o7777,
                                owner: info.st_uid, group: info.st_gid))
            guard info.st_mode & S_IFMT == S_IFDIR else { return }
            for entry in ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() { visit("\(path)/\(entry)") }
        }
        visit(directory)
        return result
    }

    /// What containers reach through bind mounts keeps the kubelet's modes (see `LabStateModes`):
    /// pods' files and volumes, the images' program links, the namespace files (mount points).
    static func isContainerFacing(_ relative: String) -> Bool {
        relative.hasPrefix("pods/") || relative.hasPrefix("images/") || relative.hasPrefix("ns/")
    }

    @Test("every path of a lab (store, WAL, logs, pid file, socket, container logs) is root's, 0700/0600; an older lab's are closed at start; another user is told to use sudo")
    func stateIsRootsAlone() async throws {
        let lab = try TestLab.make()
        defer { lab.tearDown() }
        // What an older podlab left: open directories and files.
        let directory = lab.stateDirectory
        let oldLogs = "\(directory)/logs/default_old_12345678/main"
        try FileManager.default.createDirectory(atPath: oldLogs, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        chmod(directory, 0o755)
        chmod("\(directory)/logs", 0o755)
        _ = FileManager.default.createFile(atPath: "\(oldLogs)/0.log", contents: Data("older\n".utf8), attributes: [.posixPermissions: 0o644])
        _ = FileManager.default.createFile(atPath: "\(directory)/agent.log", contents: Data(), attributes: [.posixPermissions: 0o644])

        try lab.run(["up"])
        try lab.run(["run", "talker", "--image", "busybox", "--restart=Never", "--", "sh", "-c", "echo said-something; sleep 3600"])
        try await lab.eventually("talker logged") { try lab.run(["logs", "talker"], expectSuccess: false).stdout.contains("said-something") }

        let entries = Self.listing(directory)
        print("state of lab \(lab.name) (\(entries.count) paths):\n" + entries.map { "  \($0)" }.joined(separator: "\n"))
        let names = Set(entries.map(\.relative))
        for required in ["agent.pid", "agent.log", "agent.sock", "mesh.sock", "state.db", "state.db-wal", "state.db-shm", "logs", "exits", "keepers"] {
            #expect(names.contains(required), "\(required) is missing from the listing")
        }
        #expect(entries.contains { $0.relative.hasPrefix("logs/default_talker_") && $0.relative.hasSuffix(".log") }, "no container log listed")
        for entry in entries {
            #expect(entry.owner == 0 && entry.group == 0, "\(entry) is not root's")
            if entry.relative == "." {
                // Passable, not listable: containers running as other users reach images/.
                #expect(entry.mode == 0o711, "the lab's directory: \(entry)")
            } else if entry.relative == "mesh.sock" {
                // The mesh's sidecars run as uid 1337: their socket is open to all, behind the
                // mesh's token and for reads of Services and EndpointSlices only (MeshAPIListener).
                #expect(entry.mode == 0o666, "the mesh's socket: \(entry)")
            } else if entry.relative == "images" {
                #expect(entry.mode == 0o755, "the images' program links: \(entry)")
            } else if Self.isContainerFacing(entry.relative) {
                // Behind the lab's 0700 directory; modes as the kubelet's, read by containers' users.
                continue
            } else if entry.kind == S_IFDIR {
                #expect(entry.mode == 0o700, "\(entry)")
            } else if entry.kind == S_IFREG {
                #expect(entry.mode == 0o600, "\(entry)")
            } else {
                #expect(entry.mode & 0o077 == 0, "\(entry)")
            }
        }

        // Another user: told the lab is root's, for a request, for up, status and down alike.
        let expected = "podlab: permission denied: the lab \"\(lab.name)\" is run by root; use sudo\n"
        for arguments in [["get", "pods"], ["up"], ["status"], ["down"]] {
            let result = try Command.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--", lab.podlab] + arguments,
                                         environment: lab.environment)
            #expect(result.status == .exited(1), "podlab \(arguments.joined(separator: " ")) as nobody: \(result.status)")
            #expect(result.stderr == expected, "podlab \(arguments.joined(separator: " ")) as nobody said: \(result.stderr)")
        }
        // And nothing changed for root.
        #expect(try lab.run(["get", "pod", "talker"]).stdout.contains("talker"))
    }

    @Test("an oversized body gets 413 RequestEntityTooLarge; a client gone mid-body leaves no object and no connection behind")
    func oversizedAndAbandonedRequests() async throws {
        try await TestLab.with { lab in
            let agent = try #require(lab.agentPID)
            let create = "POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"

            // Announced: refused from the head, before 200 MB are sent.
            let announced = try #require(try lab.raw(create + "Content-Length: 209715200\r\n\r\n{\"kind\":\"Pod\"", finish: false))
            #expect(announced.code == 413)
            #expect(announced.json?["reason"] as? String == "RequestEntityTooLarge")
            #expect(announced.json?["code"] as? Int == 413)
            #expect(announced.json?["message"] as? String == "Request entity too large: limit is 3145728")

            // Unannounced (chunked): refused once the limit is passed.
            let connection = try RawAPIConnection(socket: lab.agentSocket)
            connection.send(create + "Transfer-Encoding: chunked\r\n\r\n")
            let chunk = String(repeating: "x", count: 1 << 20)
            for _ in 0..<5 where connection.send(String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n") {}
            let chunked = try #require(RawAnswer(connection.readUntilClosed()))
            #expect(chunked.code == 413 && chunked.json?["reason"] as? String == "RequestEntityTooLarge", "\(chunked.code) \(chunked.body)")

            // Gone mid-body: half a pod, then the connection closes.
            let baseline = TestLab.openSockets(agent)
            let pod = #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"halfway"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}"#
            for _ in 0..<20 {
                let partial = try RawAPIConnection(socket: lab.agentSocket)
                partial.send(create + "Content-Length: \(pod.utf8.count)\r\n\r\n" + pod.prefix(pod.utf8.count / 2))
            }
            // Two to spare for the agent's own connections that come and go (the cluster DNS's
            // watch reconnecting); twenty left behind would still show.
            // Up to 90 s: a loaded machine runs the agent late, never a leak back.
            var now = TestLab.openSockets(agent)
            let deadline = ContinuousClock.now + .seconds(90)
            while now > baseline + 2 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
                now = TestLab.openSockets(agent)
            }
            #expect(now <= baseline + 2, "the agent holds \(now) sockets, \(baseline) before the abandoned requests")
            #expect(try lab.run(["get", "pod", "halfway"], expectSuccess: false).stderr.contains("NotFound"))
            #expect(processIsAlive(agent))
            #expect(try lab.run(["get", "pods"]).succeeded)
        }
    }

    @Test("a bearer token sent to the API never appears in the agent's log, even where a log line names it; refused bodies are never logged")
    func credentialsStayOutOfTheLog() async throws {
        let token = "tok-" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let planted = "planted-" + UUID().uuidString.lowercased()
        try await TestLab.with(environment: ["PODLAB_LOG_LEVEL": "trace"]) { lab in
            let bearer = ["Authorization": "Bearer \(token)"]
            #expect(try lab.raw(TestLab.request("GET", "/api/v1/pods", headers: bearer))?.code == 200)
            // Refused bodies carrying the planted value: 400 (not JSON), 422 (invalid), 413 (too large), 404.
            let refusals: [(String, String, Int)] = [
                ("/api/v1/namespaces/default/pods", "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"\(planted)\"", 400),
                ("/api/v1/namespaces/default/pods",
                 #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"Bad_Name"},"spec":{"containers":[{"name":"c","image":"busybox","env":[{"name":"X","value":"\#(planted)"}]}]},"bogus":"\#(planted)"}"#, 400),
                ("/api/v1/namespaces/default/pods",
                 #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"Bad_Name"},"spec":{"containers":[{"name":"c","image":"busybox","env":[{"name":"X","value":"\#(planted)"}]}]}}"#, 422),
                ("/api/v1/namespaces/default/pods", String(repeating: planted, count: (3 << 20) / planted.count + 1), 413),
                ("/api/v1/namespaces/default/nowhere", planted, 404),
            ]
            for (path, body, code) in refusals {
                let answer = try lab.raw(TestLab.request("POST", path, headers: bearer.merging(["Content-Type": "application/json"]) { $1 }, body: body))
                #expect(answer?.code == code, "POST \(path): \(answer?.code ?? 0) \(answer?.body.prefix(200) ?? "")")
            }
            // A pod named like the token: the agent logs its name when its finished sandbox goes.
            let pod = #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(token)"},"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox","command":["true"]}]}}"#
            #expect(try lab.raw(TestLab.request("POST", "/api/v1/namespaces/default/pods", headers: bearer, body: pod))?.code == 201)
            let log = "\(lab.stateDirectory)/agent.log"
            try await lab.eventually("the finished pod's sandbox removal logged") {
                KernelTest.readWholeFile(log).contains("pod default/\(Redaction.placeholder) Succeeded: sandbox removed")
            }
            let text = KernelTest.readWholeFile(log)
            #expect(!text.contains(token), "the token is in the agent's log")
            #expect(!text.contains(planted), "a refused body's value is in the agent's log")
        }
    }

    @Test("a stale agent.pid (an old file, or a pid now someone else's) never makes status or down take that process for the agent")
    func stalePIDFileNamesNobody() async throws {
        let lab = try TestLab.make()
        defer { lab.tearDown() }
        try FileManager.default.createDirectory(atPath: lab.stateDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // A process of no lab, with the default signal mask: any signal sent to it would show.
        let bystander = try Spawner.spawn(SpawnRequest(executable: "/bin/sleep", arguments: ["600"], environment: ["PATH": Spawner.defaultPath],
                                                       stdin: .null, stdout: .null, stderr: .null))
        defer {
            try? bystander.signal(SIGKILL)
            _ = try? bystander.wait()
        }
        let pid = bystander.pid
        let start = try #require(processStartTime(pid).flatMap { UInt64($0) })
        let pidFile = "\(lab.stateDirectory)/agent.pid"

        // The file names the bystander as it is now: taken for an agent that does not answer
        // (the check is real: it recognises the process it names).
        try "\(pid) \(start)\n".write(toFile: pidFile, atomically: true, encoding: .utf8)
        #expect(try lab.run(["status"], expectSuccess: false).stderr.contains("(pid \(pid)) does not answer"))

        for stale in ["\(pid)\n", "\(pid) \(start + 1)\n"] {
            try stale.write(toFile: pidFile, atomically: true, encoding: .utf8)
            let status = try lab.run(["status"], expectSuccess: false)
            #expect(status.stderr.contains("is not running"), "status with agent.pid \(stale.debugDescription): \(status.stderr)")
            let down = try lab.run(["down"], expectSuccess: false)
            #expect(down.succeeded && down.stderr.contains("is not running; nothing to delete"), "down: \(down.stderr)")
            #expect(try bystander.poll() == nil && processStartTime(pid).flatMap { UInt64($0) } == start, "the bystander was signalled")
        }
    }
}
