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
}
