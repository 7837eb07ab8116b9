import Foundation
import KernelTestSupport
import Testing

/// `podlab cp` and `kubectl cp`, files and directories both ways: `tar` runs in the container.
@Suite("cp into and out of a pod", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct CopyTests {
    /// A tree with a nested file, an empty directory and a name over tar's 100 bytes.
    static func makeTree(_ root: String) throws -> [String: String] {
        let long = String(repeating: "long-name-", count: 12) + ".txt"
        let files = ["a.txt": "alpha\n", "sub/b.txt": (0..<500).map { "line \($0)\n" }.joined(), "sub/\(long)": "long\n"]
        for (path, content) in files {
            try FileManager.default.createDirectory(atPath: (root + "/" + path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try content.write(toFile: root + "/" + path, atomically: true, encoding: .utf8)
        }
        try FileManager.default.createDirectory(atPath: root + "/empty", withIntermediateDirectories: true)
        return files
    }

    static func contents(_ root: String) -> [String: String] {
        var found: [String: String] = [:]
        for case let path as String in FileManager.default.enumerator(atPath: root) ?? FileManager.DirectoryEnumerator() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            found[path] = (try? String(contentsOfFile: root + "/" + path, encoding: .utf8)) ?? "?"
        }
        return found
    }

    @Test("podlab cp: a file and a directory into a pod and back; kubectl cp the same; kubectl's refusals")
    func copyBothWays() async throws {
        try await TestLab.with { lab in
            try lab.run(["run", "shell", "--image", "busybox", "--", "sleep", "3600"])
            try await lab.eventually("shell Running") {
                (try lab.pod("shell")["status"] as? [String: Any])?["phase"] as? String == "Running"
            }
            // Containers of the built-in images share the host's file system: the files live in a
            // directory of this test's own.
            let directory = NSTemporaryDirectory() + "podlab-cp-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: directory + "/in", withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let content = (0..<2000).map { "line \($0) of a file copied by podlab cp\n" }.joined()
            try content.write(toFile: directory + "/local.txt", atomically: true, encoding: .utf8)

            // A file: to a new name, then into an existing directory under its own name.
            #expect(try lab.run(["cp", directory + "/local.txt", "shell:\(directory)/in/copied.txt"]).stdout == "")
            #expect(try lab.run(["exec", "shell", "--", "cat", "\(directory)/in/copied.txt"]).stdout == content)
            try lab.run(["cp", directory + "/local.txt", "shell:\(directory)/in"])
            #expect(try lab.run(["exec", "shell", "--", "cat", "\(directory)/in/local.txt"]).stdout == content)
            try lab.run(["cp", "default/shell:\(directory)/in/copied.txt", directory + "/back.txt"])
            #expect(try String(contentsOfFile: directory + "/back.txt", encoding: .utf8) == content)

            // A directory, into an existing one (it lands under its own name), and back out.
            let files = try Self.makeTree(directory + "/tree")
            try lab.run(["cp", directory + "/tree", "shell:\(directory)/in/"])
            #expect(try lab.run(["exec", "shell", "--", "cat", "\(directory)/in/tree/sub/b.txt"]).stdout == files["sub/b.txt"])
            #expect(try lab.run(["exec", "shell", "--", "test", "-d", "\(directory)/in/tree/empty"]).succeeded)
            try lab.run(["cp", "shell:\(directory)/in/tree", directory + "/tree-back"])
            #expect(Self.contents(directory + "/tree-back") == files)

            // kubectl's words for what it refuses.
            let missing = try lab.run(["cp", directory + "/nope.txt", "shell:/tmp/x"], expectSuccess: false)
            #expect(missing.stderr.contains("\(directory)/nope.txt doesn't exist in local filesystem"), "\(missing.stderr)")
            #expect(try lab.run(["cp", "/a", "/b"], expectSuccess: false).stderr.contains("one of src or dest must be a remote file specification"))
            #expect(try lab.run(["cp", "shell:/a", "shell:/b"], expectSuccess: false).stderr.contains("one of src or dest must be a local file specification"))
            let absent = try lab.run(["cp", directory + "/local.txt", "nope:/tmp/x"], expectSuccess: false)
            #expect(absent.stderr.contains(#"pods "nope" not found"#), "\(absent.stderr)")
            let outOfPod = try lab.run(["cp", "shell:\(directory)/in/no-such-file", directory + "/x"], expectSuccess: false)
            #expect(!outOfPod.succeeded)

            // kubectl cp of the directory, both ways, through the API's exec.
            for binary in KubectlBinary.found {
                let kubectl = try KubectlTests.kubectl(binary, for: lab)
                defer { try? FileManager.default.removeItem(atPath: kubectl.cacheDirectory) }
                let target = "\(directory)/in/kubectl-\(binary.version)"
                try kubectl.run(["cp", directory + "/tree", "shell:\(target)"])
                #expect(Self.contents(target) == files, "kubectl \(binary.version) into the pod")
                try kubectl.run(["cp", "shell:\(target)", directory + "/kubectl-back-\(binary.version)"])
                #expect(Self.contents(directory + "/kubectl-back-\(binary.version)") == files, "kubectl \(binary.version) out of the pod")
            }
        }
    }

    /// The pid of the container's `tar cf - PATH` (its own process, not the shell around it).
    static func tarProcess(archiving path: String) -> Int32? {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
            let arguments = data.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }.filter { !$0.isEmpty }
            if arguments.count >= 4, arguments.last == path, arguments[arguments.count - 3] == "cf", arguments[arguments.count - 2] == "-" { return pid }
        }
        return nil
    }

    /// Copies `remote` out of pod `shell` to `local` with `podlab cp EXTRA…`, and kills the
    /// container's tar mid-way: the CLI is stopped as soon as the copy begins to land (so tar
    /// blocks on a full pipe, its archive unfinished), tar is killed, and the CLI goes on.
    /// nil when the copy finished before tar could be caught (the caller tries again).
    struct CopyRun {
        var succeeded: Bool
        var stdout: String
        var stderr: String
    }

    static func copyKillingTar(_ lab: TestLab, remote: String, local: String, size: Int, extra: [String]) throws -> CopyRun? {
        try? FileManager.default.removeItem(atPath: local)
        let output = local + ".out", errors = local + ".err"
        FileManager.default.createFile(atPath: output, contents: nil)
        FileManager.default.createFile(atPath: errors, contents: nil)
        let cli = Process()
        cli.executableURL = URL(fileURLWithPath: lab.podlab)
        cli.arguments = ["cp"] + extra + ["shell:\(remote)", local]
        cli.environment = lab.environment
        cli.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        cli.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errors))
        try cli.run()
        let pid = cli.processIdentifier
        var stopped = false
        defer {
            if stopped { kill(pid, SIGCONT) }
            if cli.isRunning { kill(pid, SIGKILL) }
            cli.waitUntilExit()
        }
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: local), cli.isRunning, Date() < deadline { usleep(200) }
        guard cli.isRunning, kill(pid, SIGSTOP) == 0 else { return nil }
        stopped = true
        guard let tar = Self.tarProcess(archiving: remote),
              let landed = try? FileManager.default.attributesOfItem(atPath: local)[.size] as? Int, landed < size / 2 else { return nil }
        kill(tar, SIGKILL)
        kill(pid, SIGCONT)
        stopped = false
        cli.waitUntilExit()
        return CopyRun(succeeded: cli.terminationReason == .exit && cli.terminationStatus == 0,
                       stdout: (try? String(contentsOfFile: output, encoding: .utf8)) ?? "",
                       stderr: (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")
    }

    @Test("podlab cp --retries: a copy out of a pod whose tar is killed mid-way resumes where it broke and completes; without, it fails")
    func resumeBrokenCopy() async throws {
        try await TestLab.with { lab in
            try lab.run(["run", "shell", "--image", "busybox", "--", "sleep", "3600"])
            try await lab.eventually("shell Running") {
                (try lab.pod("shell")["status"] as? [String: Any])?["phase"] as? String == "Running"
            }
            let directory = NSTemporaryDirectory() + "podlab-cp-retries-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            // Random bytes: a resumed stream that skipped or repeated any would not compare equal.
            let size = 48 << 20
            let big = directory + "/big.bin"
            try #require(try Command.run("/bin/sh", ["-c", "head -c \(size) /dev/urandom > \(big)"]).succeeded)
            let original = try #require(FileManager.default.contents(atPath: big))

            var resumed: CopyRun?
            for _ in 0..<3 where resumed == nil {
                resumed = try Self.copyKillingTar(lab, remote: big, local: directory + "/back.bin", size: size, extra: ["--retries", "3"])
            }
            let result = try #require(resumed, "tar was never caught mid-way")
            #expect(result.succeeded, "\(result.stderr)")
            #expect(result.stdout.contains("Resuming copy at ") && result.stdout.contains(" bytes, retry 1/3\n"), "\(result.stdout)")
            #expect(FileManager.default.contents(atPath: directory + "/back.bin") == original, "the resumed copy differs from the file in the pod")

            // Without --retries the same break fails the copy (kubectl's plain `tar cf -`).
            var broken: CopyRun?
            for _ in 0..<3 where broken == nil {
                broken = try Self.copyKillingTar(lab, remote: big, local: directory + "/broken.bin", size: size, extra: [])
            }
            let failed = try #require(broken, "tar was never caught mid-way")
            #expect(!failed.succeeded)
            #expect(failed.stderr.contains("unexpected end of archive"), "\(failed.stderr)")
            #expect(!failed.stdout.contains("Resuming"))

            // An unbroken copy with retries reads the stream once, through tail, and says nothing.
            let whole = try lab.run(["cp", "--retries=-1", "shell:\(big)", directory + "/whole.bin"])
            #expect(whole.stdout.isEmpty, "\(whole.stdout)")
            #expect(FileManager.default.contents(atPath: directory + "/whole.bin") == original)
            for binary in KubectlBinary.found where !binary.version.hasPrefix("v1.20") {
                let kubectl = try KubectlTests.kubectl(binary, for: lab)
                defer { try? FileManager.default.removeItem(atPath: kubectl.cacheDirectory) }
                try kubectl.run(["cp", "--retries", "2", "shell:\(big)", directory + "/kubectl.bin"])
                #expect(FileManager.default.contents(atPath: directory + "/kubectl.bin") == original, "kubectl \(binary.version) cp --retries")
            }
        }
    }
}
