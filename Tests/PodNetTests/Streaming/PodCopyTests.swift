import Testing
@testable import PodNet

@Suite("cp: kubectl's file specs, directions, tar entry names and where entries land")
struct PodCopyTests {
    @Test("file specs: local without a colon, [[namespace/]pod:]path otherwise", arguments: [
        ("/tmp/a", PodCopy.Location.local("/tmp/a")),
        ("web:/tmp/a", .pod(namespace: nil, name: "web", path: "/tmp/a")),
        ("other/web:dir/a", .pod(namespace: "other", name: "web", path: "dir/a")),
        ("web:", .pod(namespace: nil, name: "web", path: "")),
    ])
    func location(argument: String, expected: PodCopy.Location) throws {
        #expect(try PodCopy.location(argument) == expected)
    }

    @Test("refused specs and directions, in kubectl's words", arguments: [
        (":x", "/tmp/a", PodCopy.formatError),
        ("a/b/c:x", "/tmp/a", PodCopy.formatError),
        ("web:/a", "db:/b", "one of src or dest must be a local file specification"),
        ("/a", "/b", "one of src or dest must be a remote file specification"),
        ("web:", "/b", "filepath can not be empty"),
    ])
    func refused(source: String, destination: String, message: String) {
        #expect(throws: PodCopyError(message)) { try PodCopy.direction(source: source, destination: destination) }
    }

    @Test("directions")
    func directions() throws {
        #expect(try PodCopy.direction(source: "f.txt", destination: "web:/tmp/") == .toPod(local: "f.txt", namespace: nil, pod: "web", path: "/tmp/"))
        #expect(try PodCopy.direction(source: "ns/web:/etc/hosts", destination: ".") == .fromPod(namespace: "ns", pod: "web", path: "/etc/hosts", local: "."))
    }

    @Test("Go's path.Clean, Base and Dir", arguments: [
        ("/tmp//a/./b/", "/tmp/a/b", "b", "/tmp/a"),
        ("a/../../b", "../b", "b", ".."),
        ("/..", "/", "/", "/"),
        ("x", "x", "x", "."),
        ("/x", "/x", "x", "/"),
    ])
    func paths(path: String, cleaned: String, base: String, directory: String) {
        #expect(PodCopy.clean(path) == cleaned)
        #expect(PodCopy.base(path) == base)
        #expect(PodCopy.directory(path) == directory)
    }

    @Test("into a pod: tar unpacks in the destination's directory")
    func unpackCommand() {
        #expect(PodCopy.unpackCommand(destination: "/tmp/in/copied.txt") == ["tar", "-xmf", "-", "-C", "/tmp/in"])
        #expect(PodCopy.unpackCommand(destination: "copied.txt") == ["tar", "-xmf", "-", "-C", "."])
        #expect(PodCopy.unpackCommand(destination: "/tmp/x", noPreserve: true) == ["tar", "--no-same-permissions", "--no-same-owner", "-xmf", "-", "-C", "/tmp"])
    }

    @Test("out of a pod: the entries' prefix, and where each lands", arguments: [
        ("/tmp/in/copied.txt", "tmp/in/copied.txt"),
        ("tmp/dir/", "tmp/dir"),
        ("../../etc/x", "etc/x"),
        ("./a", "a"),
    ])
    func prefix(remote: String, prefix: String) {
        #expect(PodCopy.entryPrefix(remotePath: remote) == prefix)
    }

    @Test("entries land under the destination, `../` and leading slashes dropped as kubectl drops them; one without the prefix is refused")
    func landing() throws {
        #expect(try PodCopy.localPath(entry: "tmp/a.txt", prefix: "tmp/a.txt", local: "/x/back.txt") == "/x/back.txt")
        #expect(try PodCopy.localPath(entry: "tmp/dir/", prefix: "tmp/dir", local: "/x/out") == "/x/out")
        #expect(try PodCopy.localPath(entry: "tmp/dir/sub/f", prefix: "tmp/dir", local: "/x/out") == "/x/out/sub/f")
        #expect(try PodCopy.localPath(entry: "tmp/dir/../../../etc/passwd", prefix: "tmp/dir", local: "/x/out") == "/x/out/etc/passwd")
        #expect(try PodCopy.localPath(entry: "tmp/dir../../x", prefix: "tmp/dir", local: "/x/out") == "/x/out/x")
        #expect(throws: PodCopyError("tar contents corrupted")) { try PodCopy.localPath(entry: "etc/passwd", prefix: "tmp/dir", local: "/x") }
    }
}
