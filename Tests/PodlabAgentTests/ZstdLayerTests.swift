import Foundation
import KernelTestSupport
import Netns
@testable import PodlabAgent
import PodNet
import Testing

/// zstd layers: streams made by the `zstd` command decompressed by libzstd into the unpacker,
/// several frames read as one, a truncated or corrupted stream refused, and images whose
/// layer is zstd loaded from an OCI layout and from a docker save archive.
@Suite("zstd layers")
struct ZstdLayerTests {
    static let zstd = "/usr/bin/zstd"

    /// `bytes` compressed by the zstd command line (`arguments` added).
    static func compress(_ bytes: [UInt8], _ arguments: [String] = [], scratch: String) throws -> [UInt8] {
        let plain = "\(scratch)/plain-\(UUID().uuidString)"
        try Data(bytes).write(to: URL(fileURLWithPath: plain))
        defer { unlink(plain); unlink(plain + ".zst") }
        try Command.check(zstd, ["-q", "-f"] + arguments + [plain, "-o", plain + ".zst"])
        return Array(try Data(contentsOf: URL(fileURLWithPath: plain + ".zst")))
    }

    /// Everything a source yields, read in chunks of `chunk` bytes.
    static func drain<Source: TarByteSource>(_ source: inout Source, chunk: Int) throws(OCIImageError) -> [UInt8] {
        var all: [UInt8] = []
        while true {
            let bytes = try source.read(maxCount: chunk)
            if bytes.isEmpty { return all }
            all += bytes
        }
    }

    static func withScratch(_ body: (String) throws -> Void) throws {
        let scratch = NSTemporaryDirectory() + KernelTest.uniqueName("zstd")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try body(scratch)
    }

    /// A layer big enough to take several reads, with some structure so zstd has work to do.
    static let layer: [UInt8] = {
        var tar = TarWriter()
        tar.add("data/", type: "5", mode: 0o755)
        var generator = SystemRandomNumberGenerator()
        let random = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        tar.add("data/random", data: random)
        tar.add("data/text", data: Array(String(repeating: "all work and no play\n", count: 50_000).utf8), mode: 0o640)
        tar.add("data/link", type: "2", linkName: "text")
        tar.end()
        return tar.bytes
    }()

    @Test("a stream made by zstd decompresses to the same bytes, whatever the read size; two frames read as one",
          .enabled(if: access(zstd, X_OK) == 0, "the zstd command is missing: scripts/install-deps installs it"))
    func roundTrip() throws {
        try Self.withScratch { scratch in
            let compressed = try Self.compress(Self.layer, ["-19"], scratch: scratch)
            #expect(LayerCompression.detect(compressed) == .zstd)
            #expect(compressed.count < Self.layer.count / 2)
            for chunk in [1, 4096, 1 << 20] {
                var source = try ZstdByteSource(InMemoryTarSource(compressed), what: "layer")
                #expect(try Self.drain(&source, chunk: chunk) == Self.layer, "read \(chunk) bytes at a time")
            }
            let second = try Self.compress(Array("tail".utf8), scratch: scratch)
            var twoFrames = try ZstdByteSource(InMemoryTarSource(compressed + second), what: "layer")
            #expect(try Self.drain(&twoFrames, chunk: 65536) == Self.layer + Array("tail".utf8))
        }
    }

    @Test("a truncated stream and a corrupted one are refused, naming what was read",
          .enabled(if: access(zstd, X_OK) == 0, "the zstd command is missing: scripts/install-deps installs it"))
    func damaged() throws {
        try Self.withScratch { scratch in
            let compressed = try Self.compress(Self.layer, scratch: scratch)
            var truncated = try ZstdByteSource(InMemoryTarSource(Array(compressed.prefix(compressed.count - 7))), what: "layer x")
            #expect(throws: OCIImageError("layer x: unexpected end of zstd data (truncated)")) { try Self.drain(&truncated, chunk: 65536) }
            var damaged = compressed
            for index in stride(from: 40, to: min(damaged.count, 400), by: 3) { damaged[index] ^= 0x5A }
            var corrupted = try ZstdByteSource(InMemoryTarSource(damaged), what: "layer y")
            #expect {
                _ = try Self.drain(&corrupted, chunk: 65536)
            } throws: { error in
                (error as? OCIImageError)?.message.hasPrefix("layer y: corrupted zstd data (") == true
            }
        }
    }

    /// An OCI layout whose only layer is `compressed` (media type `+zstd`), config naming `diffID`.
    static func writeLayout(_ directory: String, layer compressed: [UInt8], diffID: ImageDigest, name: String) throws {
        let blobs = "\(directory)/blobs/sha256"
        try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
        func put(_ bytes: [UInt8]) throws -> JSONValue {
            try Data(bytes).write(to: URL(fileURLWithPath: "\(blobs)/\(ImageDigest.of(bytes).hex)"))
            return ["digest": .string(ImageDigest.of(bytes).description), "size": .integer(Int64(bytes.count))]
        }
        let config: JSONValue = ["architecture": "amd64", "os": "linux", "config": ["Cmd": ["/x"]],
                                 "rootfs": ["type": "layers", "diff_ids": [.string(diffID.description)]]]
        func typed(_ descriptor: JSONValue, _ type: String) -> JSONValue {
            var fields = descriptor.objectValue ?? [:]
            fields["mediaType"] = .string(type)
            return .object(fields)
        }
        let manifest: JSONValue = ["schemaVersion": 2, "mediaType": .string(MediaType.ociManifest),
                                   "config": typed(try put(Array(config.jsonText(indent: 0).utf8)), MediaType.ociConfig),
                                   "layers": [typed(try put(compressed), MediaType.ociLayerZstd)]]
        let index: JSONValue = ["schemaVersion": 2, "manifests": [
            .object((typed(try put(Array(manifest.jsonText(indent: 0).utf8)), MediaType.ociManifest).objectValue ?? [:])
                .merging(["annotations": [ImageDescriptor.imageNameAnnotation: .string(name)]]) { $1 }),
        ]]
        try index.jsonText(indent: 0).write(toFile: "\(directory)/index.json", atomically: true, encoding: .utf8)
        try #"{"imageLayoutVersion": "1.0.0"}"#.write(toFile: "\(directory)/oci-layout", atomically: true, encoding: .utf8)
    }

    @Test("an image with a zstd layer: loaded from an OCI layout and a docker save archive, unpacked with its modes; a wrong diff ID refused",
          .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .enabled(if: access(zstd, X_OK) == 0, "the zstd command is missing"))
    func store() throws {
        try Self.withScratch { scratch in
            let store = ImageStore(root: "\(scratch)/store")
            let compressed = try Self.compress(Self.layer, scratch: scratch)
            let diffID = ImageDigest.of(Self.layer)
            try Self.writeLayout("\(scratch)/layout", layer: compressed, diffID: diffID, name: "registry.test/zstd:1")
            #expect(try store.load(path: "\(scratch)/layout") == ["registry.test/zstd:1"])
            let root = store.layerPath(diffID)
            #expect(FileManager.default.contents(atPath: "\(root)/data/text") == Data(String(repeating: "all work and no play\n", count: 50_000).utf8))
            var info = stat()
            #expect(stat("\(root)/data/text", &info) == 0 && info.st_mode & 0o7777 == 0o640)
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(root)/data/link") == "text")

            // docker save with a zstd layer file: the manifest made for it names the layer zstd.
            var tar = TarWriter()
            let config: JSONValue = ["architecture": "amd64", "os": "linux", "config": ["Cmd": ["/x"]],
                                     "rootfs": ["type": "layers", "diff_ids": [.string(diffID.description)]]]
            tar.add("config.json", data: Array(config.jsonText(indent: 0).utf8))
            tar.add("layer.tar.zst", data: compressed)
            tar.add("manifest.json", data: Array(#"[{"Config": "config.json", "RepoTags": ["saved-zstd:1"], "Layers": ["layer.tar.zst"]}]"#.utf8))
            tar.end()
            try Data(tar.bytes).write(to: URL(fileURLWithPath: "\(scratch)/saved.tar"))
            #expect(try store.load(path: "\(scratch)/saved.tar") == ["docker.io/library/saved-zstd:1"])
            let saved = try #require(try store.find("saved-zstd:1"))
            #expect(saved.manifest.layers.map(\.mediaType) == [MediaType.ociLayerZstd])

            // The archive itself compressed with zstd loads too.
            let whole = try Self.compress(tar.bytes, scratch: scratch)
            try Data(whole).write(to: URL(fileURLWithPath: "\(scratch)/saved.tar.zst"))
            #expect(try store.load(path: "\(scratch)/saved.tar.zst") == ["docker.io/library/saved-zstd:1"])

            // The uncompressed stream is checked against the config's diff ID, as for gzip.
            var small = TarWriter()
            small.add("x", data: [1, 2, 3])
            small.end()
            let other = try Self.compress(small.bytes, scratch: scratch)
            try Self.writeLayout("\(scratch)/wrong", layer: other, diffID: ImageDigest.of(Array("not this".utf8)), name: "registry.test/zstd:2")
            #expect {
                _ = try store.load(path: "\(scratch)/wrong")
            } throws: { error in
                (error as? OCIImageError)?.message.contains("does not match the config's diff ID") == true
            }
            #expect(try store.images().flatMap(\.names).sorted() == ["docker.io/library/saved-zstd:1", "registry.test/zstd:1"])
        }
    }
}
