import Foundation
import KernelTestSupport
import Netns
import PodlabAgent
import PodNet
import Testing

/// A two-layer image built in the test: the second layer deletes a file of the first
/// (whiteout), hides a directory's old contents (opaque) and replaces a page.
struct TestImage {
    var layers: [[UInt8]] = []
    var diffIDs: [ImageDigest] { layers.map { ImageDigest.of($0) } }
    let name: String

    init(name: String, page: String = "<h1>v2</h1>\n") {
        self.name = name
        var base = TarWriter()
        base.add("bin/", type: "5", mode: 0o755)
        base.add("bin/tool", data: Array("#!/bin/true\n".utf8), mode: 0o4755, uid: 0, gid: 0)
        base.add("bin/sh", type: "2", linkName: "tool")
        base.add("bin/hard", type: "1", linkName: "bin/tool")
        base.add("www/", type: "5", mode: 0o755)
        base.add("www/index.html", data: Array("<h1>v1</h1>\n".utf8), uid: 33, gid: 33)
        base.add("etc/passwd", data: Array("root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/www:/bin/false\n".utf8))
        base.add("etc/motd", data: Array("old\n".utf8))
        base.add("var/cache/old", data: Array("old\n".utf8))
        base.add("dev/null", type: "3", mode: 0o666)
        base.end()
        var top = TarWriter()
        top.add("etc/.wh.motd")
        top.add("var/cache/", type: "5", mode: 0o755)
        top.add("var/cache/.wh..wh..opq")
        top.add("var/cache/new", data: Array("new\n".utf8))
        top.add("www/index.html", data: Array(page.utf8), uid: 33, gid: 33)
        top.end()
        layers = [base.bytes, top.bytes]
    }

    var config: [UInt8] {
        let json: JSONValue = [
            "architecture": "amd64", "os": "linux",
            "config": ["Entrypoint": ["/bin/tool"], "Cmd": ["serve"], "Env": ["PATH=/bin"], "WorkingDir": "/www"],
            "rootfs": ["type": "layers", "diff_ids": .array(diffIDs.map { .string($0.description) })],
        ]
        return Array(json.jsonText(indent: 0).utf8)
    }

    /// An OCI layout directory: the first layer as is, the second gzip-compressed.
    func writeLayout(_ directory: String) throws {
        let blobs = "\(directory)/blobs/sha256"
        try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
        func put(_ bytes: [UInt8]) throws -> (ImageDigest, Int) {
            let digest = ImageDigest.of(bytes)
            try Data(bytes).write(to: URL(fileURLWithPath: "\(blobs)/\(digest.hex)"))
            return (digest, bytes.count)
        }
        let plain = "\(directory)/layer.tar"
        try Data(layers[1]).write(to: URL(fileURLWithPath: plain))
        try Command.check("/bin/gzip", ["-n", "-f", plain])
        let compressed = Array(try Data(contentsOf: URL(fileURLWithPath: plain + ".gz")))
        try FileManager.default.removeItem(atPath: plain + ".gz")
        let (first, firstSize) = try put(layers[0])
        let (second, secondSize) = try put(compressed)
        let (config, configSize) = try put(self.config)
        let manifest: JSONValue = [
            "schemaVersion": 2, "mediaType": .string(MediaType.ociManifest),
            "config": ["mediaType": .string(MediaType.ociConfig), "digest": .string(config.description), "size": .integer(Int64(configSize))],
            "layers": [
                ["mediaType": .string(MediaType.ociLayer), "digest": .string(first.description), "size": .integer(Int64(firstSize))],
                ["mediaType": .string(MediaType.ociLayerGzip), "digest": .string(second.description), "size": .integer(Int64(secondSize))],
            ],
        ]
        let (manifestDigest, manifestSize) = try put(Array(manifest.jsonText(indent: 0).utf8))
        let index: JSONValue = ["schemaVersion": 2, "manifests": [[
            "mediaType": .string(MediaType.ociManifest), "digest": .string(manifestDigest.description), "size": .integer(Int64(manifestSize)),
            "annotations": [ImageDescriptor.imageNameAnnotation: .string(name)],
        ]]]
        try index.jsonText(indent: 0).write(toFile: "\(directory)/index.json", atomically: true, encoding: .utf8)
        try #"{"imageLayoutVersion": "1.0.0"}"#.write(toFile: "\(directory)/oci-layout", atomically: true, encoding: .utf8)
    }

    /// A `docker save` archive (its layers uncompressed, as Docker writes them).
    var dockerArchive: [UInt8] {
        var tar = TarWriter()
        let configName = "\(ImageDigest.of(config).hex).json"
        tar.add(configName, data: config)
        for (index, layer) in layers.enumerated() { tar.add("l\(index)/layer.tar", data: layer) }
        let manifest: JSONValue = [["Config": .string(configName), "RepoTags": [.string(name)], "Layers": ["l0/layer.tar", "l1/layer.tar"]]]
        tar.add("manifest.json", data: Array(manifest.jsonText(indent: 0).utf8))
        tar.end()
        return tar.bytes
    }
}

@Suite("The image store: load, unpack, names, bad archives", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct ImageStoreTests {
    /// A scratch directory holding a store and the test's inputs, removed afterwards.
    static func withScratch(_ body: (String, ImageStore) throws -> Void) throws {
        let scratch = NSTemporaryDirectory() + KernelTest.uniqueName("imgstore")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try body(scratch, ImageStore(root: "\(scratch)/store"))
    }

    static func lstatOf(_ path: String) -> stat? {
        var status = stat()
        return lstat(path, &status) == 0 ? status : nil
    }

    @Test("an OCI layout directory: named, layers unpacked with modes, owners, links, whiteouts and opaque directories")
    func layout() throws {
        try Self.withScratch { scratch, store in
            let image = TestImage(name: "registry.test/web:1")
            try image.writeLayout("\(scratch)/layout")
            #expect(try store.load(path: "\(scratch)/layout") == ["registry.test/web:1"])
            let images = try store.images()
            #expect(images.map(\.names) == [["registry.test/web:1"]])
            #expect(images.first?.config.entrypoint == ["/bin/tool"])
            #expect(try store.find("registry.test/web:1")?.manifestDigest == images.first?.manifestDigest)
            #expect(try store.find("web:1") == nil)

            let base = store.layerPath(image.diffIDs[0])
            let tool = try #require(Self.lstatOf("\(base)/bin/tool"))
            #expect(tool.st_mode & 0o7777 == 0o4755)
            #expect(Self.lstatOf("\(base)/bin/hard")?.st_ino == tool.st_ino)
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(base)/bin/sh") == "tool")
            #expect(Self.lstatOf("\(base)/www/index.html")?.st_uid == 33)
            #expect(Self.lstatOf("\(base)/www/index.html")?.st_mtim.tv_sec == 1_700_000_000)
            #expect(Self.lstatOf("\(base)/dev/null").map { $0.st_mode & S_IFMT == S_IFCHR } == true)

            let top = store.layerPath(image.diffIDs[1])
            let whiteout = try #require(Self.lstatOf("\(top)/etc/motd"))
            #expect(whiteout.st_mode & S_IFMT == S_IFCHR && whiteout.st_rdev == 0)
            #expect(Self.lstatOf("\(top)/var/cache/.wh..wh..opq") == nil)

            // overlayfs reads the layers as the image's root: in a mount namespace of the test's own.
            let lower = "\(top):\(base)"
            for directory in ["upper", "work", "merged"] { try FileManager.default.createDirectory(atPath: "\(scratch)/\(directory)", withIntermediateDirectories: true) }
            let script = "mount -t overlay overlay -o lowerdir=\(lower),upperdir=\(scratch)/upper,workdir=\(scratch)/work \(scratch)/merged"
                + " && cat \(scratch)/merged/www/index.html && ls \(scratch)/merged/etc \(scratch)/merged/var/cache"
            let output = try Command.check("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", script])
            #expect(output == "<h1>v2</h1>\n\(scratch)/merged/etc:\npasswd\n\n\(scratch)/merged/var/cache:\nnew\n")
        }
    }

    @Test("a docker save archive and a gzip-compressed OCI layout archive; layers shared, not unpacked twice")
    func archives() throws {
        try Self.withScratch { scratch, store in
            let image = TestImage(name: "web:2")
            try Data(image.dockerArchive).write(to: URL(fileURLWithPath: "\(scratch)/docker.tar"))
            #expect(try store.load(path: "\(scratch)/docker.tar") == ["docker.io/library/web:2"])
            let layer = store.layerPath(image.diffIDs[0])
            let before = try #require(Self.lstatOf(layer))

            let layoutImage = TestImage(name: "registry.test/app:3")
            try layoutImage.writeLayout("\(scratch)/layout")
            try Command.check("/bin/tar", ["-C", "\(scratch)/layout", "-czf", "\(scratch)/layout.tar.gz", "."])
            #expect(try store.load(path: "\(scratch)/layout.tar.gz") == ["registry.test/app:3"])
            #expect(Self.lstatOf(layer)?.st_ino == before.st_ino)
            #expect(try store.images().flatMap(\.names) == ["docker.io/library/web:2", "registry.test/app:3"])

            #expect(try store.remove("web:2") == ["docker.io/library/web:2"])
            #expect(throws: OCIImageError("image \"web:2\" not found")) { try store.remove("web:2") }
            let pruned = try store.prune()
            #expect(pruned.blobs == 2)
            #expect(pruned.layers == 0)
            #expect(try store.remove("registry.test/app:3") == ["registry.test/app:3"])
            #expect(try store.prune().layers == 2)
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: "\(scratch)/store/layers")) ?? ["?"]).isEmpty)
        }
    }

    /// Loads `members` as a docker save archive whose only layer is `layer`.
    static func loadLayer(_ layer: [UInt8], store: ImageStore, scratch: String) throws -> [String] {
        let config: JSONValue = ["architecture": "amd64", "os": "linux", "config": ["Cmd": ["/x"]],
                                 "rootfs": ["type": "layers", "diff_ids": [.string(ImageDigest.of(layer).description)]]]
        var tar = TarWriter()
        tar.add("config.json", data: Array(config.jsonText(indent: 0).utf8))
        tar.add("layer.tar", data: layer)
        tar.add("manifest.json", data: Array(#"[{"Config": "config.json", "RepoTags": ["bad:1"], "Layers": ["layer.tar"]}]"#.utf8))
        tar.end()
        try Data(tar.bytes).write(to: URL(fileURLWithPath: "\(scratch)/bad.tar"))
        return try store.load(path: "\(scratch)/bad.tar")
    }

    @Test("layers writing outside the root are refused; nothing is written there, nothing is named")
    func escapes() throws {
        try Self.withScratch { scratch, store throws in
            let victim = "\(scratch)/victim"
            var dotDot = TarWriter()
            dotDot.add("../../victim", data: [1])
            dotDot.end()
            var throughLink = TarWriter()
            throughLink.add("out", type: "2", linkName: scratch)
            throughLink.add("out/victim", data: [1])
            throughLink.end()
            var climbingLink = TarWriter()
            climbingLink.add("a/up", type: "2", linkName: "../../..")
            climbingLink.end()
            var hardLink = TarWriter()
            hardLink.add("passwd", type: "1", linkName: "/etc/passwd")
            hardLink.end()
            let cases: [([UInt8], String)] = [
                (dotDot.bytes, "layer entry \"../../victim\": path escapes the root (\"..\")"),
                (throughLink.bytes, "\"out/victim\": \"out\" is not a directory (a symbolic link is never followed)"),
                (climbingLink.bytes, "symbolic link \"a/up\" -> \"../../..\" escapes the root"),
                (hardLink.bytes, "hard link \"passwd\" to \"/etc/passwd\": the target is not an earlier file of the layer"),
            ]
            for (layer, message) in cases {
                #expect {
                    _ = try Self.loadLayer(layer, store: store, scratch: scratch)
                } throws: { error in
                    (error as? OCIImageError)?.message.hasSuffix(message) == true
                }
                #expect(Self.lstatOf(victim) == nil)
                #expect(try store.images().isEmpty)
                #expect(((try? FileManager.default.contentsOfDirectory(atPath: "\(scratch)/store/layers")) ?? ["?"]).isEmpty)
            }
        }
    }

    @Test("a truncated archive, a corrupted blob and a missing layer: clear errors, the store unchanged")
    func damaged() throws {
        try Self.withScratch { scratch, store in
            let image = TestImage(name: "web:3")
            let archive = image.dockerArchive
            try Data(archive.prefix(archive.count / 2)).write(to: URL(fileURLWithPath: "\(scratch)/cut.tar"))
            #expect(throws: OCIImageError("tar: unexpected end of archive (truncated)")) { try store.load(path: "\(scratch)/cut.tar") }
            // What the failed load stored before it failed is gone again.
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: "\(scratch)/store/blobs/sha256")) ?? ["?"]).isEmpty)

            try image.writeLayout("\(scratch)/layout")
            let config = "\(scratch)/layout/blobs/sha256/\(ImageDigest.of(image.config).hex)"
            try Data("{}".utf8).write(to: URL(fileURLWithPath: config))
            #expect(throws: OCIImageError("\(scratch)/layout: blobs/sha256/\(ImageDigest.of(image.config).hex): digest mismatch: expected sha256:\(ImageDigest.of(image.config).hex), got \(ImageDigest.of(Array("{}".utf8)))")) {
                try store.load(path: "\(scratch)/layout")
            }
            try FileManager.default.removeItem(atPath: config)
            #expect {
                _ = try store.load(path: "\(scratch)/layout")
            } throws: { error in
                (error as? OCIImageError)?.message.hasSuffix("blob \(ImageDigest.of(image.config)) is missing from the archive") == true
            }
            #expect(try store.images().isEmpty)
            var tar = TarWriter()
            tar.add("hello", data: [1])
            tar.end()
            try Data(tar.bytes).write(to: URL(fileURLWithPath: "\(scratch)/nothing"))
            #expect(throws: OCIImageError("\(scratch)/nothing: neither an OCI layout (no index.json) nor a docker save archive (no manifest.json)")) {
                try store.load(path: "\(scratch)/nothing")
            }
        }
    }
}
