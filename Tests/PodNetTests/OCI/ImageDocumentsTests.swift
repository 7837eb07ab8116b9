import Testing
@testable import PodNet

@Suite("OCI and Docker image documents: digests, indexes, manifests, configs")
struct ImageDocumentsTests {
    static let digestA = "sha256:" + String(repeating: "a", count: 64)
    static let digestB = "sha256:" + String(repeating: "b", count: 64)
    static let digestC = "sha256:" + String(repeating: "c", count: 64)

    @Test("sha256 of known inputs")
    func digestOf() {
        #expect(ImageDigest.of(Array("".utf8)).description == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(ImageDigest.of(Array("abc".utf8)).description == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test("digest text is checked", arguments: [
        ("sha512:" + String(repeating: "a", count: 128), "digest: unsupported digest algorithm \"sha512\" in \"sha512:\(String(repeating: "a", count: 128))\" (only sha256)"),
        ("abc", "digest: invalid digest \"abc\": expected sha256:<64 hex digits>"),
        ("sha256:ABC", "digest: invalid digest \"sha256:ABC\": expected 64 lowercase hex digits"),
        ("sha256:" + String(repeating: "A", count: 64), "digest: invalid digest \"sha256:\(String(repeating: "A", count: 64))\": expected 64 lowercase hex digits"),
    ])
    func invalidDigest(text: String, message: String) {
        #expect(throws: OCIImageError(message)) { try ImageDigest(parsing: text) }
    }

    @Test("a blob whose bytes do not hash to its descriptor's digest is refused")
    func verify() throws {
        let bytes = Array("{}".utf8)
        try ImageDigest.of(bytes).verify(bytes, what: "config")
        #expect(throws: OCIImageError("config: digest mismatch: expected \(Self.digestA), got \(ImageDigest.of(bytes))")) {
            try ImageDigest(parsing: Self.digestA).verify(bytes, what: "config")
        }
    }

    static let index = """
    {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json", "manifests": [
      {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": "\(digestA)", "size": 528,
       "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
      {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "\(digestC)", "size": 566,
       "platform": {"architecture": "unknown", "os": "unknown"}},
      {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": "\(digestB)", "size": 527,
       "platform": {"architecture": "amd64", "os": "linux"}}
    ]}
    """

    @Test("a manifest list picks linux/amd64; attestation entries never match")
    func platformPick() throws {
        guard case let .index(index) = try ImageDocument.parse(Array(Self.index.utf8)) else {
            Issue.record("not an index")
            return
        }
        #expect(index.manifests.count == 3)
        #expect(try index.manifest().digest.description == Self.digestB)
        #expect(try index.manifest(for: ImagePlatform(os: "linux", architecture: "arm64")).digest.description == Self.digestA)
        #expect(throws: OCIImageError("no matching manifest for linux/s390x in the manifest list entries")) {
            try index.manifest(for: ImagePlatform(os: "linux", architecture: "s390x"))
        }
    }

    @Test("an OCI manifest: config and layers in order; the media type from the shape when absent")
    func manifest() throws {
        let text = """
        {"schemaVersion": 2, "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "\(Self.digestA)", "size": 7023},
         "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "\(Self.digestB)", "size": 32654},
                    {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "\(Self.digestC)", "size": 16724}],
         "annotations": {"org.opencontainers.image.ref.name": "v1"}}
        """
        guard case let .manifest(manifest) = try ImageDocument.parse(Array(text.utf8)) else {
            Issue.record("not a manifest")
            return
        }
        #expect(manifest.mediaType == MediaType.ociManifest)
        #expect(manifest.config.size == 7023)
        #expect(manifest.layers.map(\.digest.description) == [Self.digestB, Self.digestC])
        #expect(manifest.layers.map { MediaType.layerCompression($0.mediaType) } == [.gzip, .uncompressed])
        #expect(manifest.annotations == ["org.opencontainers.image.ref.name": "v1"])
    }

    @Test("layer compression by media type (zstd included) and by magic bytes")
    func layerCompression() {
        #expect(MediaType.layerCompression("application/vnd.oci.image.layer.v1.tar+zstd") == .zstd)
        #expect(MediaType.layerCompression("application/vnd.oci.image.layer.nondistributable.v1.tar+zstd") == .zstd)
        #expect(MediaType.layerCompression("application/vnd.docker.image.rootfs.diff.tar.gzip") == .gzip)
        #expect(MediaType.layerCompression("application/vnd.oci.image.layer.v1.tar+bzip2") == nil)
        #expect(LayerCompression.detect([0x28, 0xB5, 0x2F, 0xFD, 0x24]) == .zstd)
        #expect(LayerCompression.detect([0x1F, 0x8B, 0x08]) == .gzip)
        #expect(LayerCompression.detect([0x28, 0xB5, 0x2F]) == .uncompressed)
        #expect(LayerCompression.detect(Array("bin/".utf8)) == .uncompressed)
        #expect(LayerCompression.zstd.ociMediaType == MediaType.ociLayerZstd)
    }

    @Test("bad documents name the field and the reason", arguments: [
        (#"{"schemaVersion": 1, "name": "x"}"#,
         "manifest: unsupported schemaVersion 1 (schema 1 manifests are deprecated; push the image again with a current client)"),
        (#"{"mediaType": "application/vnd.oci.image.manifest.v1+json"}"#, "manifest: schemaVersion: required"),
        (#"[1]"#, "manifest: expected an object, got array"),
        (#"{"schemaVersion": 2, "layers": []}"#, "manifest.config: required"),
        (#"{"schemaVersion": 2, "config": {"digest": "sha256:aa", "size": 1}, "layers": []}"#,
         "manifest.config.digest: invalid digest \"sha256:aa\": expected 64 lowercase hex digits"),
        (#"{"schemaVersion": 2, "config": {"digest": "\#(digestA)"}, "layers": []}"#, "manifest.config.size: required, a non-negative integer"),
        (#"{"schemaVersion": 2, "config": {"digest": "\#(digestA)", "size": 1}, "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+bzip2", "digest": "\#(digestB)", "size": 2}]}"#,
         "manifest.layers[0].mediaType: unsupported layer media type \"application/vnd.oci.image.layer.v1.tar+bzip2\""),
        (#"{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v1+json"}"#,
         "manifest: unsupported media type \"application/vnd.docker.distribution.manifest.v1+json\""),
    ])
    func badDocuments(text: String, message: String) {
        #expect(throws: OCIImageError(message)) { try ImageDocument.parse(Array(text.utf8)) }
    }

    @Test("a document whose own media type contradicts the one that named it is refused")
    func mediaTypeMismatch() {
        let text = #"{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}"#
        #expect(throws: OCIImageError("manifest: mediaType \"application/vnd.oci.image.index.v1+json\" does not match the expected \"application/vnd.oci.image.manifest.v1+json\"")) {
            try ImageDocument.parse(Array(text.utf8), mediaType: MediaType.ociManifest)
        }
    }

    @Test("an image config: entrypoint, cmd, env, user, working directory, diff IDs")
    func config() throws {
        let text = """
        {"architecture": "amd64", "os": "linux", "config": {"User": "101:101", "Env": ["PATH=/usr/bin", "NGINX_VERSION=1.27"],
         "Entrypoint": ["/docker-entrypoint.sh"], "Cmd": ["nginx", "-g", "daemon off;"], "WorkingDir": "/srv",
         "Labels": {"maintainer": "x"}, "StopSignal": "SIGQUIT"}, "rootfs": {"type": "layers", "diff_ids": ["\(Self.digestA)"]}}
        """
        let config = try ImageConfig.parse(Array(text.utf8))
        #expect(config == ImageConfig(user: "101:101", env: ["PATH=/usr/bin", "NGINX_VERSION=1.27"], entrypoint: ["/docker-entrypoint.sh"],
                                      cmd: ["nginx", "-g", "daemon off;"], workingDir: "/srv", labels: ["maintainer": "x"], stopSignal: "SIGQUIT",
                                      diffIDs: [try ImageDigest(parsing: Self.digestA)]))
        #expect(throws: OCIImageError("image config.config.Cmd: expected an array of strings, got string")) {
            try ImageConfig.parse(Array(#"{"architecture": "amd64", "os": "linux", "config": {"Cmd": "nginx"}}"#.utf8))
        }
        #expect(throws: OCIImageError("image config: os and architecture are required")) { try ImageConfig.parse(Array("{}".utf8)) }
    }

    @Test("docker save's manifest.json")
    func dockerArchive() throws {
        let text = #"[{"Config": "abc.json", "RepoTags": ["web:1"], "Layers": ["l1/layer.tar", "l2/layer.tar"]}]"#
        #expect(try DockerArchiveImage.parse(Array(text.utf8)) == [DockerArchiveImage(config: "abc.json", repoTags: ["web:1"], layers: ["l1/layer.tar", "l2/layer.tar"])])
        #expect(throws: OCIImageError("manifest.json[0].Layers: required")) { try DockerArchiveImage.parse(Array(#"[{"Config": "a"}]"#.utf8)) }
    }

    @Test("image users resolve against the image's passwd and group files", arguments: [
        ("", ImageUser(uid: 0, gid: 0, name: "root")),
        ("www-data", ImageUser(uid: 33, gid: 33, name: "www-data")),
        ("www-data:staff", ImageUser(uid: 33, gid: 50, name: "www-data")),
        ("1234", ImageUser(uid: 1234, gid: 0, name: nil)),
        ("33:7", ImageUser(uid: 33, gid: 7, name: "www-data")),
    ])
    func users(user: String, expected: ImageUser) throws {
        #expect(try ImageUser.resolve(user, passwd: Self.passwd, group: Self.group) == expected)
    }

    @Test("an image user or group missing from the image's files is an error")
    func missingUser() {
        #expect(throws: OCIImageError("unable to find user nginx: no matching entries in passwd file")) {
            try ImageUser.resolve("nginx", passwd: Self.passwd, group: Self.group)
        }
        #expect(throws: OCIImageError("unable to find group wheel: no matching entries in group file")) {
            try ImageUser.resolve("0:wheel", passwd: Self.passwd, group: Self.group)
        }
    }

    static let passwd = "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
    static let group = "root:x:0:\nstaff:x:50:www-data\nwww-data:x:33:\naudio:x:29:www-data,root\n"
}
