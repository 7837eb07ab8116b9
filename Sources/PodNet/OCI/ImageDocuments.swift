/// The platform a manifest is built for (`os`/`architecture`/`variant` of an index entry or
/// an image config).
public struct ImagePlatform: Hashable, Sendable, CustomStringConvertible {
    public var os: String
    public var architecture: String
    public var variant: String

    public init(os: String, architecture: String, variant: String = "") {
        self.os = os
        self.architecture = architecture
        self.variant = variant
    }

    /// The only platform podlab runs: its nodes are the host's namespaces.
    public static let linuxAMD64 = ImagePlatform(os: "linux", architecture: "amd64")

    public var description: String { variant.isEmpty ? "\(os)/\(architecture)" : "\(os)/\(architecture)/\(variant)" }
}

/// A reference from one document to another blob: its media type, digest and size.
public struct ImageDescriptor: Hashable, Sendable {
    public var mediaType: String
    public var digest: ImageDigest
    public var size: Int64
    /// Index entries only.
    public var platform: ImagePlatform?
    public var annotations: [String: String]

    public init(mediaType: String, digest: ImageDigest, size: Int64, platform: ImagePlatform? = nil, annotations: [String: String] = [:]) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.platform = platform
        self.annotations = annotations
    }

    /// `org.opencontainers.image.ref.name`: the tag an OCI layout's index gives a manifest.
    public static let refNameAnnotation = "org.opencontainers.image.ref.name"
    /// containerd's annotation for the full image name in an OCI archive (`docker save` ≥ 25).
    public static let imageNameAnnotation = "io.containerd.image.name"

    init(json: JSONValue, field: String) throws(OCIImageError) {
        guard json.objectValue != nil else { throw OCIImageError("\(field): expected an object, got \(json.typeName)") }
        mediaType = json["mediaType"]?.stringValue ?? ""
        guard let digestText = json["digest"]?.stringValue else { throw OCIImageError("\(field).digest: required") }
        digest = try ImageDigest(parsing: digestText, field: "\(field).digest")
        guard case let .integer(size)? = json["size"], size >= 0 else {
            throw OCIImageError("\(field).size: required, a non-negative integer")
        }
        self.size = size
        if let platform = json["platform"]?.objectValue {
            self.platform = ImagePlatform(os: platform["os"]?.stringValue ?? "", architecture: platform["architecture"]?.stringValue ?? "",
                                          variant: platform["variant"]?.stringValue ?? "")
        } else {
            platform = nil
        }
        annotations = (json["annotations"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
    }
}

/// An OCI image index or a Docker manifest list: manifests per platform.
public struct ImageIndex: Hashable, Sendable {
    public var mediaType: String
    public var manifests: [ImageDescriptor]
    public var annotations: [String: String]

    /// The manifest for `platform`: an exact match, the entry without a variant before one with
    /// a variant. Attestation entries (`unknown/unknown`) never match. The error is Docker's.
    public func manifest(for platform: ImagePlatform = .linuxAMD64) throws(OCIImageError) -> ImageDescriptor {
        let candidates = manifests.filter {
            $0.platform?.os == platform.os && $0.platform?.architecture == platform.architecture
                && (platform.variant.isEmpty || $0.platform?.variant == platform.variant)
        }
        if let match = candidates.first(where: { $0.platform?.variant.isEmpty ?? true }) ?? candidates.first { return match }
        throw OCIImageError("no matching manifest for \(platform) in the manifest list entries")
    }
}

/// An image manifest (OCI or Docker v2 schema 2): the config and the layers, bottom first.
public struct ImageManifest: Hashable, Sendable {
    public var mediaType: String
    public var config: ImageDescriptor
    public var layers: [ImageDescriptor]
    public var annotations: [String: String]
}

/// A document read from a registry or a layout: an index or a single manifest.
public enum ImageDocument: Hashable, Sendable {
    case index(ImageIndex)
    case manifest(ImageManifest)

    /// Parses `bytes` as an index or manifest. The media type comes from the document's own
    /// `mediaType`, else from `mediaType` (a registry's Content-Type or the descriptor that
    /// named it), else from its shape (`manifests` or `layers`), as containerd decides.
    public static func parse<Bytes: Collection<UInt8>>(_ bytes: Bytes, mediaType declared: String? = nil, what: String = "manifest") throws(OCIImageError) -> ImageDocument {
        let json = try ImageJSON.object(bytes, what: what)
        guard case let .integer(schemaVersion)? = json["schemaVersion"] else {
            throw OCIImageError("\(what): schemaVersion: required")
        }
        guard schemaVersion == 2 else {
            throw OCIImageError("\(what): unsupported schemaVersion \(schemaVersion) (schema 1 manifests are deprecated; push the image again with a current client)")
        }
        let own = json["mediaType"]?.stringValue ?? ""
        if !own.isEmpty, let declared, !declared.isEmpty, own != declared {
            throw OCIImageError("\(what): mediaType \"\(own)\" does not match the expected \"\(declared)\"")
        }
        let mediaType = !own.isEmpty ? own : (declared ?? "").isEmpty ? (json["manifests"] != nil ? MediaType.ociIndex : MediaType.ociManifest) : declared!
        let annotations = (json["annotations"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
        if MediaType.indexTypes.contains(mediaType) {
            guard let entries = json["manifests"]?.arrayValue else { throw OCIImageError("\(what).manifests: required") }
            var manifests: [ImageDescriptor] = []
            for (index, entry) in entries.enumerated() {
                manifests.append(try ImageDescriptor(json: entry, field: "\(what).manifests[\(index)]"))
            }
            return .index(ImageIndex(mediaType: mediaType, manifests: manifests, annotations: annotations))
        }
        guard MediaType.manifestTypes.contains(mediaType) else {
            throw OCIImageError("\(what): unsupported media type \"\(mediaType)\"")
        }
        guard let configJSON = json["config"] else { throw OCIImageError("\(what).config: required") }
        let config = try ImageDescriptor(json: configJSON, field: "\(what).config")
        guard let layerList = json["layers"]?.arrayValue else { throw OCIImageError("\(what).layers: required") }
        var layers: [ImageDescriptor] = []
        for (index, entry) in layerList.enumerated() {
            let layer = try ImageDescriptor(json: entry, field: "\(what).layers[\(index)]")
            guard MediaType.layerCompression(layer.mediaType) != nil else {
                throw OCIImageError("\(what).layers[\(index)].mediaType: unsupported layer media type \"\(layer.mediaType)\"")
            }
            layers.append(layer)
        }
        return .manifest(ImageManifest(mediaType: mediaType, config: config, layers: layers, annotations: annotations))
    }
}

/// What an image runs and how it is built (the config blob; `docker inspect`'s `Config`).
public struct ImageConfig: Hashable, Sendable {
    public var platform: ImagePlatform
    /// `User`: `uid`, `uid:gid`, `name`, `name:group` or empty (root).
    public var user: String
    /// `Env`, `NAME=value` each, in order.
    public var env: [String]
    public var entrypoint: [String]
    public var cmd: [String]
    public var workingDir: String
    public var labels: [String: String]
    public var stopSignal: String
    /// `rootfs.diff_ids`: the digests of the uncompressed layers, bottom first.
    public var diffIDs: [ImageDigest]

    public init(platform: ImagePlatform = .linuxAMD64, user: String = "", env: [String] = [], entrypoint: [String] = [], cmd: [String] = [],
                workingDir: String = "", labels: [String: String] = [:], stopSignal: String = "", diffIDs: [ImageDigest] = []) {
        self.platform = platform
        self.user = user
        self.env = env
        self.entrypoint = entrypoint
        self.cmd = cmd
        self.workingDir = workingDir
        self.labels = labels
        self.stopSignal = stopSignal
        self.diffIDs = diffIDs
    }

    public static func parse<Bytes: Collection<UInt8>>(_ bytes: Bytes, what: String = "image config") throws(OCIImageError) -> ImageConfig {
        let json = try ImageJSON.object(bytes, what: what)
        let config = json["config"] ?? .object([:])
        func strings(_ value: JSONValue?, _ field: String) throws(OCIImageError) -> [String] {
            guard let value, value != .null else { return [] }
            guard let list = value.arrayValue else { throw OCIImageError("\(what).\(field): expected an array of strings, got \(value.typeName)") }
            var result: [String] = []
            for item in list {
                guard let text = item.stringValue else { throw OCIImageError("\(what).\(field): expected an array of strings") }
                result.append(text)
            }
            return result
        }
        guard let os = json["os"]?.stringValue, let architecture = json["architecture"]?.stringValue else {
            throw OCIImageError("\(what): os and architecture are required")
        }
        var diffIDs: [ImageDigest] = []
        for (index, text) in try strings(json["rootfs"]?["diff_ids"], "rootfs.diff_ids").enumerated() {
            diffIDs.append(try ImageDigest(parsing: text, field: "\(what).rootfs.diff_ids[\(index)]"))
        }
        return ImageConfig(
            platform: ImagePlatform(os: os, architecture: architecture, variant: json["variant"]?.stringValue ?? ""),
            user: config["User"]?.stringValue ?? "",
            env: try strings(config["Env"], "config.Env"),
            entrypoint: try strings(config["Entrypoint"], "config.Entrypoint"),
            cmd: try strings(config["Cmd"], "config.Cmd"),
            workingDir: config["WorkingDir"]?.stringValue ?? "",
            labels: (config["Labels"]?.objectValue ?? [:]).compactMapValues(\.stringValue),
            stopSignal: config["StopSignal"]?.stringValue ?? "",
            diffIDs: diffIDs)
    }
}

/// One image of a `docker save` archive's `manifest.json`.
public struct DockerArchiveImage: Hashable, Sendable {
    /// The config's path in the archive (`<hex>.json`, or `blobs/sha256/<hex>` since Docker 25).
    public var config: String
    public var repoTags: [String]
    /// The layers' paths in the archive, bottom first.
    public var layers: [String]

    /// Parses `manifest.json`.
    public static func parse<Bytes: Collection<UInt8>>(_ bytes: Bytes) throws(OCIImageError) -> [DockerArchiveImage] {
        let json: JSONValue
        do {
            json = try JSONReader.value(from: String(decoding: bytes, as: UTF8.self))
        } catch {
            throw OCIImageError("manifest.json: \(error)")
        }
        guard let entries = json.arrayValue else { throw OCIImageError("manifest.json: expected an array, got \(json.typeName)") }
        var images: [DockerArchiveImage] = []
        for (index, entry) in entries.enumerated() {
            guard let config = entry["Config"]?.stringValue else { throw OCIImageError("manifest.json[\(index)].Config: required") }
            guard let layers = entry["Layers"]?.arrayValue else { throw OCIImageError("manifest.json[\(index)].Layers: required") }
            images.append(DockerArchiveImage(config: config, repoTags: (entry["RepoTags"]?.arrayValue ?? []).compactMap(\.stringValue),
                                             layers: layers.compactMap(\.stringValue)))
        }
        return images
    }
}

enum ImageJSON {
    static func object<Bytes: Collection<UInt8>>(_ bytes: Bytes, what: String) throws(OCIImageError) -> JSONValue {
        let json: JSONValue
        do {
            json = try JSONReader.value(from: String(decoding: bytes, as: UTF8.self))
        } catch {
            throw OCIImageError("\(what): \(error)")
        }
        guard json.objectValue != nil else { throw OCIImageError("\(what): expected an object, got \(json.typeName)") }
        return json
    }
}
