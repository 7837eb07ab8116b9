import Foundation
import Netns
import PodNet

extension ImageStore {
    /// Files of an archive or layout kept in memory rather than stored as blobs.
    static let layoutFiles: Set<String> = ["index.json", "oci-layout", "manifest.json", "repositories"]

    /// Where the blobs of what is being loaded are: by digest, and (for `docker save`'s own
    /// layout) by path in the archive.
    struct LoadedFiles {
        var layout: [String: [UInt8]] = [:]
        var byPath: [String: (digest: ImageDigest, size: Int64)] = [:]
    }

    /// Loads the images of `path`: a `docker save` archive, an OCI layout archive (either may
    /// be gzip-compressed), or an OCI layout directory. Returns the names loaded
    /// (`sha256:<id>` for an image without a name). Nothing is named unless every blob and
    /// layer of the image is in the store, and a load that fails removes the blobs and layers it
    /// added: the store is as it was.
    public func load(path: String) throws(OCIImageError) -> [String] {
        try lockedAllOrNothing { () throws(OCIImageError) -> [String] in try loadLocked(path: path) }
    }

    /// Runs `body` holding the lock; when it fails, the blobs and layers it added (the
    /// directories' entries before and after) are removed again, so the store is as it was.
    func lockedAllOrNothing<T>(_ body: () throws(OCIImageError) -> T) throws(OCIImageError) -> T {
        try locked { () throws(OCIImageError) -> T in
            let blobsBefore = Self.entries(of: blobsDirectory), layersBefore = Self.entries(of: layersDirectory)
            do throws(OCIImageError) {
                return try body()
            } catch {
                for name in Self.entries(of: blobsDirectory).subtracting(blobsBefore) { unlink("\(blobsDirectory)/\(name)") }
                for name in Self.entries(of: layersDirectory).subtracting(layersBefore) { removeLayerDirectory(name) }
                throw error
            }
        }
    }

    static func entries(of directory: String) -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
    }

    func loadLocked(path: String) throws(OCIImageError) -> [String] {
        var status = stat()
        guard stat(path, &status) == 0 else { throw OCIImageError("open \(path): \(Errno.current)") }
        let files = status.st_mode & S_IFMT == S_IFDIR ? try readLayoutDirectory(path) : try readArchive(path)
        if let index = files.layout["index.json"] {
            return try loadLayout(index: index, source: path)
        }
        if let manifest = files.layout["manifest.json"] {
            return try loadDockerArchive(manifest: manifest, files: files, source: path)
        }
        throw OCIImageError("\(path): neither an OCI layout (no index.json) nor a docker save archive (no manifest.json)")
    }

    /// Stores every file of a tar archive: blobs by digest, the layout's own files in memory.
    func readArchive(_ path: String) throws(OCIImageError) -> LoadedFiles {
        let compressed = try FileByteSource(path: path).read(maxCount: LayerCompression.magicLength)
        switch LayerCompression.detect(compressed) {
        case .gzip:
            var reader = TarReader(try GzipByteSource(try FileByteSource(path: path), what: path))
            return try readArchive(&reader, path: path)
        case .zstd:
            var reader = TarReader(try ZstdByteSource(try FileByteSource(path: path), what: path))
            return try readArchive(&reader, path: path)
        case .uncompressed:
            break
        }
        var reader = TarReader(try FileByteSource(path: path))
        return try readArchive(&reader, path: path)
    }

    func readArchive<Source: TarByteSource>(_ reader: inout TarReader<Source>, path: String) throws(OCIImageError) -> LoadedFiles {
        var files = LoadedFiles()
        while let entry = try reader.next() {
            guard entry.kind == .regular else { continue }
            let name = try LayerEntry.normalize(entry.path, what: "\(path): archive entry").joined(separator: "/")
            if Self.layoutFiles.contains(name) {
                guard entry.size <= 16 << 20 else { throw OCIImageError("\(path): \(name) is too large (\(entry.size) bytes)") }
                files.layout[name] = try reader.readAll()
                continue
            }
            let stored = try putBlob(what: "\(path): \(name)") { () throws(OCIImageError) -> [UInt8] in try reader.readChunk(maxCount: 1 << 20) }
            try checkLayoutBlobName(name, stored.0, source: path)
            files.byPath[name] = stored
        }
        return files
    }

    /// A layout's `blobs/sha256/<hex>` must hash to `<hex>`.
    func checkLayoutBlobName(_ name: String, _ digest: ImageDigest, source: String) throws(OCIImageError) {
        guard name.hasPrefix("blobs/sha256/") else { return }
        let named = String(name.dropFirst("blobs/sha256/".count))
        guard named == digest.hex else {
            throw OCIImageError("\(source): \(name): digest mismatch: expected sha256:\(named), got \(digest)")
        }
    }

    /// Stores the blobs an OCI layout directory's index reaches (all of `blobs/sha256`).
    func readLayoutDirectory(_ path: String) throws(OCIImageError) -> LoadedFiles {
        var files = LoadedFiles()
        for name in Self.layoutFiles {
            if let data = FileManager.default.contents(atPath: "\(path)/\(name)") { files.layout[name] = Array(data) }
        }
        guard let layout = files.layout["oci-layout"] else { throw OCIImageError("\(path): not an OCI layout (no oci-layout file)") }
        guard (try? JSONReader.value(from: String(decoding: layout, as: UTF8.self)))?["imageLayoutVersion"]?.stringValue == "1.0.0" else {
            throw OCIImageError("\(path)/oci-layout: imageLayoutVersion must be \"1.0.0\"")
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "\(path)/blobs/sha256")) ?? [] {
            let source = try FileByteSource(path: "\(path)/blobs/sha256/\(name)")
            let stored = try putBlob(what: "\(path)/blobs/sha256/\(name)") { () throws(OCIImageError) -> [UInt8] in try source.read(maxCount: 1 << 20) }
            try checkLayoutBlobName("blobs/sha256/\(name)", stored.0, source: path)
            files.byPath["blobs/sha256/\(name)"] = stored
        }
        return files
    }

    /// Names, verifies and unpacks the images an OCI layout's `index.json` lists.
    func loadLayout(index: [UInt8], source: String) throws(OCIImageError) -> [String] {
        guard case let .index(entries) = try ImageDocument.parse(index, mediaType: MediaType.ociIndex, what: "\(source): index.json") else {
            throw OCIImageError("\(source): index.json is not an image index")
        }
        var loaded: [(name: String?, digest: ImageDigest)] = []
        for entry in entries.manifests {
            let name = entry.annotations[ImageDescriptor.imageNameAnnotation] ?? entry.annotations[ImageDescriptor.refNameAnnotation]
            let manifestDigest = try resolveManifest(entry, source: source)
            try verifyAndUnpack(manifestDigest, source: source)
            loaded.append((try name.flatMap(Self.layoutName), manifestDigest))
        }
        return try name(loaded)
    }

    /// The full reference a layout's annotation gives, or nil for a bare tag (`v1`): a name the
    /// layout does not say.
    static func layoutName(_ annotation: String) throws(OCIImageError) -> String? {
        guard annotation.contains("/") || annotation.contains(":") || annotation.contains("@") else { return nil }
        return try storedName(annotation)
    }

    /// The manifest an index entry leads to: the entry itself, or linux/amd64 of a nested index.
    func resolveManifest(_ entry: ImageDescriptor, source: String) throws(OCIImageError) -> ImageDigest {
        if MediaType.indexTypes.contains(entry.mediaType) {
            let bytes = try readBlob(entry.digest, what: "\(source): index \(entry.digest)")
            guard case let .index(nested) = try ImageDocument.parse(bytes, mediaType: entry.mediaType, what: "\(source): index \(entry.digest)") else {
                throw OCIImageError("\(source): index \(entry.digest): not an index")
            }
            return try resolveManifest(try nested.manifest(for: .linuxAMD64), source: source)
        }
        return entry.digest
    }

    /// Checks a stored manifest, its config and layers (present, sizes as described, linux/amd64,
    /// one diff ID per layer) and unpacks its layers.
    func verifyAndUnpack(_ manifestDigest: ImageDigest, source: String) throws(OCIImageError) {
        let what = "\(source): manifest \(manifestDigest)"
        guard case let .manifest(manifest) = try ImageDocument.parse(try readBlob(manifestDigest, what: what), what: what) else {
            throw OCIImageError("\(what): an index where a manifest was expected")
        }
        for descriptor in [manifest.config] + manifest.layers {
            var status = stat()
            guard stat(blobPath(descriptor.digest), &status) == 0 else {
                throw OCIImageError("\(what): blob \(descriptor.digest) is missing from the archive")
            }
            guard Int64(status.st_size) == descriptor.size else {
                throw OCIImageError("\(what): blob \(descriptor.digest) has \(status.st_size) bytes, the manifest says \(descriptor.size)")
            }
        }
        let config = try ImageConfig.parse(try readBlob(manifest.config.digest, what: "\(what): config"), what: "\(source): config \(manifest.config.digest)")
        guard config.platform.os == ImagePlatform.linuxAMD64.os, config.platform.architecture == ImagePlatform.linuxAMD64.architecture else {
            throw OCIImageError("\(what): image platform \(config.platform) does not match the lab's \(ImagePlatform.linuxAMD64)")
        }
        guard config.diffIDs.count == manifest.layers.count else {
            throw OCIImageError("\(what): \(manifest.layers.count) layers but \(config.diffIDs.count) diff IDs in the config")
        }
        for (layer, diffID) in zip(manifest.layers, config.diffIDs) {
            try unpackLayer(layer, diffID: diffID)
        }
    }

    /// `docker save`: builds an OCI manifest for each image of `manifest.json` from the
    /// archive's files, then stores and unpacks it as a layout's.
    func loadDockerArchive(manifest: [UInt8], files: LoadedFiles, source: String) throws(OCIImageError) -> [String] {
        var loaded: [(name: String?, digest: ImageDigest)] = []
        for image in try DockerArchiveImage.parse(manifest) {
            func file(_ path: String) throws(OCIImageError) -> (digest: ImageDigest, size: Int64) {
                let normalized = try LayerEntry.normalize(path, what: "\(source): manifest.json path").joined(separator: "/")
                guard let stored = files.byPath[normalized] else { throw OCIImageError("\(source): \(path) (named in manifest.json) is missing from the archive") }
                return stored
            }
            let config = try file(image.config)
            var layers: [JSONValue] = []
            for path in image.layers {
                let layer = try file(path)
                let prefix = try FileByteSource(path: blobPath(layer.digest)).read(maxCount: LayerCompression.magicLength)
                layers.append(["mediaType": .string(LayerCompression.detect(prefix).ociMediaType),
                               "digest": .string(layer.digest.description), "size": .integer(layer.size)])
            }
            let document: JSONValue = [
                "schemaVersion": 2, "mediaType": .string(MediaType.ociManifest),
                "config": ["mediaType": .string(MediaType.ociConfig), "digest": .string(config.digest.description), "size": .integer(config.size)],
                "layers": .array(layers),
            ]
            let manifestDigest = try putBlob(Array(document.jsonText(indent: 0).utf8))
            try verifyAndUnpack(manifestDigest, source: source)
            if image.repoTags.isEmpty {
                loaded.append((nil, manifestDigest))
            }
            for tag in image.repoTags { loaded.append((try Self.storedName(tag), manifestDigest)) }
        }
        return try name(loaded)
    }

    /// Points the names at their manifests in one replacement of `refs.json`.
    func name(_ loaded: [(name: String?, digest: ImageDigest)]) throws(OCIImageError) -> [String] {
        var refs = try readRefs()
        for (name, digest) in loaded { refs[name ?? digest.description] = digest }
        try writeRefs(refs)
        return loaded.map { $0.name ?? $0.digest.description }
    }
}
