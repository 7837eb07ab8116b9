import Foundation
import KernelTestSupport
import Netns
import PodNet
import Testing

@Suite("Images with zstd layers", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct ZstdImageTests {
    @Test("the busybox web image with its layer compressed by the zstd command: loaded, run by runc, serves its page",
          .enabled(if: access("/usr/bin/zstd", X_OK) == 0, "the zstd command is missing: scripts/install-deps installs it"))
    func zstdLayer() async throws {
        try #require(access("/usr/sbin/runc", X_OK) == 0, "runc is missing: scripts/install-deps installs it")
        try await TestLab.with { lab in
            let image = try BusyboxWebImage(page: "<h1>from a zstd layer</h1>\n")
            let plain = "\(lab.stateRoot)/layer.tar"
            try Data(image.layer).write(to: URL(fileURLWithPath: plain))
            try Command.check("/usr/bin/zstd", ["-q", "-f", "-19", plain, "-o", plain + ".zst"])
            let layer = Array(try Data(contentsOf: URL(fileURLWithPath: plain + ".zst")))
            #expect(layer.starts(with: [0x28, 0xB5, 0x2F, 0xFD]))

            let directory = "\(lab.stateRoot)/layout"
            let blobs = "\(directory)/blobs/sha256"
            try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
            let manifest: JSONValue = [
                "schemaVersion": 2, "mediaType": .string(MediaType.ociManifest),
                "config": ["mediaType": .string(MediaType.ociConfig), "digest": .string(ImageDigest.of(image.config).description),
                           "size": .integer(Int64(image.config.count))],
                "layers": [["mediaType": .string(MediaType.ociLayerZstd), "digest": .string(ImageDigest.of(layer).description),
                            "size": .integer(Int64(layer.count))]],
            ]
            let manifestBytes = Array(manifest.jsonText(indent: 0).utf8)
            for blob in [layer, image.config, manifestBytes] { try Data(blob).write(to: URL(fileURLWithPath: "\(blobs)/\(ImageDigest.of(blob).hex)")) }
            let index: JSONValue = ["schemaVersion": 2, "manifests": [[
                "mediaType": .string(MediaType.ociManifest), "digest": .string(ImageDigest.of(manifestBytes).description),
                "size": .integer(Int64(manifestBytes.count)), "annotations": [ImageDescriptor.imageNameAnnotation: "registry.test/zstd-web:1"],
            ]]]
            try index.jsonText(indent: 0).write(toFile: "\(directory)/index.json", atomically: true, encoding: .utf8)
            try #"{"imageLayoutVersion": "1.0.0"}"#.write(toFile: "\(directory)/oci-layout", atomically: true, encoding: .utf8)

            #expect(try lab.run(["image", "load", "-i", directory]).stdout == "Loaded image: registry.test/zstd-web:1\n")
            try lab.run(["run", "web", "--image", "registry.test/zstd-web:1"])
            try await lab.eventually("web Running") { (try lab.pod("web")["status"] as? [String: Any])?["phase"] as? String == "Running" }
            let status = try lab.containerStatus("web", "web")
            #expect(status["imageID"] as? String == "registry.test/zstd-web@\(ImageDigest.of(manifestBytes))")
            try await lab.eventually("the page over the pod's address") {
                try lab.run(["exec", "web", "--", "/bin/busybox", "wget", "-q", "-O", "-", "http://\(try lab.podIP("web"))/"], expectSuccess: false)
                    .stdout == "<h1>from a zstd layer</h1>\n"
            }
        }
    }

    @Test("skopeo pushes the image with its layer recompressed as zstd (OCI manifest); podlab image pull takes it and a pod runs it",
          .enabled(if: RegistryPullTests.toolsPresent, "docker-registry and skopeo are missing: scripts/install-deps installs them"))
    func pulledZstdLayer() async throws {
        try #require(access("/usr/sbin/runc", X_OK) == 0, "runc is missing: scripts/install-deps installs it")
        try await TestLab.with { lab in
            let registry = try await LocalRegistry.start(directory: "\(lab.stateRoot)/registry")
            defer { registry.stop() }
            let image = try BusyboxWebImage(page: "<h1>pulled zstd</h1>\n")
            try image.writeDockerArchive("\(lab.stateRoot)/web.tar", tag: "web:1")
            let destination = "docker://\(registry.host)/team/zweb:1"
            try Command.check("/usr/bin/skopeo", ["--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false", "--format", "oci",
                                                  "--dest-compress-format", "zstd", "docker-archive:\(lab.stateRoot)/web.tar", destination])
            let raw = try Command.check("/usr/bin/skopeo", ["inspect", "--raw", "--tls-verify=false", destination])
            let manifest = try JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any]
            let layers = try #require(manifest?["layers"] as? [[String: Any]])
            #expect(layers.map { $0["mediaType"] as? String } == [MediaType.ociLayerZstd], "\(raw)")

            try lab.run(["image", "pull", "\(registry.host)/team/zweb:1"])
            try lab.run(["run", "web", "--image", "\(registry.host)/team/zweb:1"])
            try await lab.eventually("web Running") { (try lab.pod("web")["status"] as? [String: Any])?["phase"] as? String == "Running" }
            try await lab.eventually("the page over the pod's address") {
                try lab.run(["exec", "web", "--", "/bin/busybox", "wget", "-q", "-O", "-", "http://\(try lab.podIP("web"))/"], expectSuccess: false)
                    .stdout == "<h1>pulled zstd</h1>\n"
            }
        }
    }
}
