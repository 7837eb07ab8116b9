import CNetlink
import Crypto
import Foundation
import Netns
import PodNet

/// A lab's OCI images: `<state>/<lab>/image-store/`, one store per lab (the lab's state is
/// its own; removing the lab removes its images).
///
/// ```
/// blobs/sha256/<hex>     content-addressed: manifests, configs, layers as received
/// layers/<diff-id hex>/  each layer unpacked once (an overlayfs lower directory)
/// ingest/<hex>/          a blob being pulled: `data` (what arrived), `total` (its size)
/// refs.json              image name → manifest digest
/// tmp/                   work in progress, emptied by the next writer
/// lock                   flock: one writer at a time
/// ```
///
/// Every blob and layer is written under `tmp/` and renamed into place when complete, and
/// `refs.json` is replaced by rename last, so a writer killed at any point leaves a consistent
/// store (at worst unreferenced blobs, which `prune` removes).
public struct ImageStore: Sendable {
    public let root: String

    public init(root: String) {
        self.root = root
    }

    public init(paths: LabPaths) {
        self.init(root: paths.imageStore)
    }

    var blobsDirectory: String { "\(root)/blobs/sha256" }
    var layersDirectory: String { "\(root)/layers" }
    var temporaryDirectory: String { "\(root)/tmp" }
    var refsFile: String { "\(root)/refs.json" }

    public func blobPath(_ digest: ImageDigest) -> String { "\(blobsDirectory)/\(digest.hex)" }
    public func layerPath(_ diffID: ImageDigest) -> String { "\(layersDirectory)/\(diffID.hex)" }

    /// An image of the store.
    public struct Image: Hashable, Sendable {
        /// The names it is stored under (`docker.io/library/web:1`), sorted.
        public var names: [String]
        public var manifestDigest: ImageDigest
        public var manifest: ImageManifest
        public var config: ImageConfig
        public var configDigest: ImageDigest { manifest.config.digest }
        /// The size of its blobs as stored (config and layers).
        public var size: Int64 { manifest.config.size + manifest.layers.reduce(0) { $0 + $1.size } }
    }

    // MARK: Names

    /// The name an image is stored and looked up under: the normalized reference.
    public static func storedName(_ reference: String) throws(OCIImageError) -> String {
        do {
            return try ImageReference(parsing: reference).description
        } catch {
            throw OCIImageError("\(error)")
        }
    }

    func readRefs() throws(OCIImageError) -> [String: ImageDigest] {
        guard let data = FileManager.default.contents(atPath: refsFile) else { return [:] }
        let json: JSONValue
        do {
            json = try JSONReader.value(from: String(decoding: data, as: UTF8.self))
        } catch {
            throw OCIImageError("\(refsFile): \(error)")
        }
        var refs: [String: ImageDigest] = [:]
        for (name, value) in json["images"]?.objectValue ?? [:] {
            refs[name] = try ImageDigest(parsing: value.stringValue ?? "", field: "\(refsFile): \(name)")
        }
        return refs
    }

    func writeRefs(_ refs: [String: ImageDigest]) throws(OCIImageError) {
        let json: JSONValue = ["images": .object(refs.mapValues { .string($0.description) })]
        try writeAtomically(Array((json.jsonText(indent: 2) + "\n").utf8), to: refsFile)
    }

    // MARK: Reading

    /// The images, by manifest digest, with their names.
    public func images() throws(OCIImageError) -> [Image] {
        var byDigest: [ImageDigest: [String]] = [:]
        for (name, digest) in try readRefs() { byDigest[digest, default: []].append(name) }
        var result: [Image] = []
        for (digest, names) in byDigest {
            result.append(try image(digest, names: names.sorted()))
        }
        return result.sorted { ($0.names.first ?? "", $0.manifestDigest) < ($1.names.first ?? "", $1.manifestDigest) }
    }

    func image(_ digest: ImageDigest, names: [String]) throws(OCIImageError) -> Image {
        let manifestBytes = try readBlob(digest, what: "manifest \(digest)")
        guard case let .manifest(manifest) = try ImageDocument.parse(manifestBytes, what: "manifest \(digest)") else {
            throw OCIImageError("manifest \(digest): an index where a manifest was stored")
        }
        let config = try ImageConfig.parse(try readBlob(manifest.config.digest, what: "config \(manifest.config.digest)"))
        return Image(names: names, manifestDigest: digest, manifest: manifest, config: config)
    }

    /// The image `reference` names (a name, `name@digest`, or an image ID prefix), or nil.
    public func find(_ reference: String) throws(OCIImageError) -> Image? {
        let refs = try readRefs()
        let all = Set(refs.values)
        if let parsed = try? ImageReference(parsing: reference), let digestText = parsed.digest {
            let digest = try ImageDigest(parsing: digestText)
            guard all.contains(digest) else { return nil }
            return try image(digest, names: refs.filter { $0.value == digest }.keys.sorted())
        }
        if let name = try? Self.storedName(reference), let digest = refs[name] {
            return try image(digest, names: refs.filter { $0.value == digest }.keys.sorted())
        }
        // An image ID (the config's digest, `docker images`' IMAGE ID) or a prefix of it.
        let id = reference.hasPrefix("sha256:") ? String(reference.dropFirst(7)) : reference
        guard id.count >= 4, id.allSatisfy(\.isHexDigit) else { return nil }
        let matches = try images().filter { $0.configDigest.hex.hasPrefix(id) || $0.manifestDigest.hex.hasPrefix(id) }
        guard matches.count <= 1 else { throw OCIImageError("\(reference): ambiguous image ID (\(matches.count) images)") }
        return matches.first
    }

    func readBlob(_ digest: ImageDigest, what: String) throws(OCIImageError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: blobPath(digest)) else {
            throw OCIImageError("\(what): blob \(digest) is missing from the store")
        }
        return Array(data)
    }

    // MARK: Writing

    /// Runs `body` holding the store's lock, after emptying `tmp/` (what a killed writer left).
    func locked<T>(_ body: () throws(OCIImageError) -> T) throws(OCIImageError) -> T {
        for directory in [root, "\(root)/blobs", blobsDirectory, layersDirectory, temporaryDirectory] {
            if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw OCIImageError("mkdir \(directory): \(Errno.current)") }
        }
        let fd = open("\(root)/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw OCIImageError("open \(root)/lock: \(Errno.current)") }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { throw OCIImageError("flock \(root)/lock: \(Errno.current)") }
        }
        for leftover in (try? FileManager.default.contentsOfDirectory(atPath: temporaryDirectory)) ?? [] {
            try? FileManager.default.removeItem(atPath: "\(temporaryDirectory)/\(leftover)")
        }
        return try body()
    }

    /// A fresh path under `tmp/`.
    func temporaryPath(_ kind: String) -> String {
        "\(temporaryDirectory)/\(kind)-\(UUID().uuidString.lowercased())"
    }

    func writeAtomically(_ bytes: [UInt8], to path: String) throws(OCIImageError) {
        let temporary = temporaryPath("file")
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes), attributes: [.posixPermissions: 0o600]) else {
            throw OCIImageError("write \(temporary): cannot create the file")
        }
        try fsyncPath(temporary)
        guard rename(temporary, path) == 0 else { throw OCIImageError("rename \(temporary) to \(path): \(Errno.current)") }
    }

    func fsyncPath(_ path: String) throws(OCIImageError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw OCIImageError("open \(path): \(Errno.current)") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw OCIImageError("fsync \(path): \(Errno.current)") }
    }

    /// Flushes the file system holding `path` (a layer's many files at once, before the
    /// rename that publishes them).
    func syncFileSystem(of path: String) throws(OCIImageError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw OCIImageError("open \(path): \(Errno.current)") }
        defer { close(fd) }
        let result = pl_syncfs(fd)
        guard result == 0 else { throw OCIImageError("syncfs \(path): \(Errno(-result))") }
    }

    /// Stores `bytes` under their digest (a manifest or config read whole).
    @discardableResult
    func putBlob(_ bytes: [UInt8]) throws(OCIImageError) -> ImageDigest {
        let digest = ImageDigest(bytes: Array(Crypto.SHA256.hash(data: bytes)))
        if access(blobPath(digest), F_OK) != 0 { try writeAtomically(bytes, to: blobPath(digest)) }
        return digest
    }

    /// Stores the bytes `nextChunk` returns (until it returns none) under their digest,
    /// streaming; returns digest and size.
    func putBlob(what: String, streaming nextChunk: () throws(OCIImageError) -> [UInt8]) throws(OCIImageError) -> (ImageDigest, Int64) {
        let temporary = temporaryPath("blob")
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw OCIImageError("create \(temporary): \(Errno.current)") }
        var hasher = Crypto.SHA256()
        var size: Int64 = 0
        do {
            defer { close(fd) }
            while true {
                let chunk = try nextChunk()
                if chunk.isEmpty { break }
                hasher.update(data: chunk)
                size += Int64(chunk.count)
                var offset = 0
                while offset < chunk.count {
                    let written = chunk.withUnsafeBytes { write(fd, $0.baseAddress! + offset, chunk.count - offset) }
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw OCIImageError("\(what): write \(temporary): \(Errno.current)")
                    }
                    offset += written
                }
            }
            guard fsync(fd) == 0 else { throw OCIImageError("fsync \(temporary): \(Errno.current)") }
        }
        let digest = ImageDigest(bytes: Array(hasher.finalize()))
        if access(blobPath(digest), F_OK) == 0 {
            unlink(temporary)
        } else if rename(temporary, blobPath(digest)) != 0 {
            throw OCIImageError("rename \(temporary) to \(blobPath(digest)): \(Errno.current)")
        }
        return (digest, size)
    }

    /// Unpacks the layer `descriptor` of an image whose config lists `diffID` for it, unless
    /// it is unpacked already: into `tmp/`, checking the uncompressed stream's digest against
    /// the diff ID, then renamed to `layers/<diff-id>`.
    func unpackLayer(_ descriptor: ImageDescriptor, diffID: ImageDigest) throws(OCIImageError) {
        let destination = layerPath(diffID)
        if access(destination, F_OK) == 0 { return }
        let what = "layer \(descriptor.digest)"
        let file = try FileByteSource(path: blobPath(descriptor.digest))
        let prefix = try FileByteSource(path: blobPath(descriptor.digest)).read(maxCount: LayerCompression.magicLength)
        let compression = LayerCompression.detect(prefix)
        let temporary = temporaryPath("layer")
        guard mkdir(temporary, 0o755) == 0 else { throw OCIImageError("mkdir \(temporary): \(Errno.current)") }
        var unpacker = LayerUnpacker(root: temporary, what: what)
        let actual: ImageDigest
        switch compression {
        case .gzip:
            let hashing = HashingByteSource(try GzipByteSource(file, what: what))
            var reader = TarReader(hashing)
            try unpacker.unpack(&reader)
            actual = try hashing.finish()
        case .zstd:
            let hashing = HashingByteSource(try ZstdByteSource(file, what: what))
            var reader = TarReader(hashing)
            try unpacker.unpack(&reader)
            actual = try hashing.finish()
        case .uncompressed:
            let hashing = HashingByteSource(file)
            var reader = TarReader(hashing)
            try unpacker.unpack(&reader)
            actual = try hashing.finish()
        }
        guard actual == diffID else {
            throw OCIImageError("\(what): uncompressed digest \(actual) does not match the config's diff ID \(diffID)")
        }
        try syncFileSystem(of: temporary)
        guard rename(temporary, destination) == 0 else { throw OCIImageError("rename \(temporary) to \(destination): \(Errno.current)") }
    }

    // MARK: Removing

    /// Removes the names `reference` matches (or, for an image ID, all names of that image);
    /// returns the untagged names. Blobs and layers stay until `prune`.
    public func remove(_ reference: String) throws(OCIImageError) -> [String] {
        try locked { () throws(OCIImageError) -> [String] in
            guard let image = try find(reference) else {
                throw OCIImageError("image \"\(reference)\" not found")
            }
            var refs = try readRefs()
            let byName = (try? Self.storedName(reference)).flatMap { refs[$0] != nil ? $0 : nil }
            let removed = byName.map { [$0] } ?? image.names
            for name in removed { refs[name] = nil }
            try writeRefs(refs)
            return removed
        }
    }

    /// Removes blobs and unpacked layers no named image uses, keeping `inUse` layers (those of
    /// running containers), and the ingests of pulls that are not under way. Returns how many
    /// of each it removed.
    public func prune(keepingLayers inUse: Set<ImageDigest> = []) throws(OCIImageError) -> (blobs: Int, layers: Int, ingests: Int) {
        try locked { () throws(OCIImageError) -> (blobs: Int, layers: Int, ingests: Int) in
            var blobs: Set<String> = []
            var layers: Set<String> = Set(inUse.map(\.hex))
            for image in try images() {
                blobs.insert(image.manifestDigest.hex)
                blobs.insert(image.configDigest.hex)
                image.manifest.layers.forEach { blobs.insert($0.digest.hex) }
                image.config.diffIDs.forEach { layers.insert($0.hex) }
            }
            var removed = (blobs: 0, layers: 0, ingests: removeIngests(all: true))
            for name in (try? FileManager.default.contentsOfDirectory(atPath: blobsDirectory)) ?? [] where !blobs.contains(name) {
                if unlink("\(blobsDirectory)/\(name)") == 0 { removed.blobs += 1 }
            }
            for name in (try? FileManager.default.contentsOfDirectory(atPath: layersDirectory)) ?? [] where !layers.contains(name) {
                if removeLayerDirectory(name) { removed.layers += 1 }
            }
            return removed
        }
    }
}

extension ImageStore {
    /// Removes the unpacked layer `name`: renamed out of place first, so a kill mid-removal
    /// leaves no half layer behind.
    @discardableResult
    func removeLayerDirectory(_ name: String) -> Bool {
        let doomed = temporaryPath("removed")
        guard rename("\(layersDirectory)/\(name)", doomed) == 0 else { return false }
        try? FileManager.default.removeItem(atPath: doomed)
        return true
    }
}

extension LabPaths {
    /// The lab's OCI images (`ImageStore`).
    public var imageStore: String { "\(directory)/image-store" }
}
