/// The media types of image documents and layers: the OCI image spec's and Docker's image
/// manifest v2, schema 2 (which `docker save` and most registries still serve).
public enum MediaType {
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociConfig = "application/vnd.oci.image.config.v1+json"
    public static let ociLayer = "application/vnd.oci.image.layer.v1.tar"
    public static let ociLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let ociLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
    public static let ociLayerNondistributable = "application/vnd.oci.image.layer.nondistributable.v1.tar"
    public static let ociLayerNondistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"

    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
    public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    public static let dockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

    /// Media types of documents that list manifests per platform.
    public static let indexTypes: Set<String> = [ociIndex, dockerManifestList]
    /// Media types of documents that name one config and its layers.
    public static let manifestTypes: Set<String> = [ociManifest, dockerManifest]
    /// Media types of image configs.
    public static let configTypes: Set<String> = [ociConfig, dockerConfig]

    /// How a layer's bytes are compressed, by its media type; nil for a type that is not a layer
    /// podlab can unpack.
    public static func layerCompression(_ mediaType: String) -> LayerCompression? {
        switch mediaType {
        case ociLayer, ociLayerNondistributable: .uncompressed
        case ociLayerGzip, ociLayerNondistributableGzip, dockerLayerGzip, dockerForeignLayerGzip: .gzip
        case ociLayerZstd, ociLayerNondistributableZstd: .zstd
        default: nil
        }
    }

    public static let ociLayerNondistributableZstd = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
}

/// A layer's compression. `docker save` writes its layers uncompressed whatever the
/// registry served, so the store also sniffs the bytes (`detect`).
public enum LayerCompression: String, Hashable, Sendable {
    case uncompressed
    case gzip
    case zstd

    /// How many bytes `detect` looks at.
    public static let magicLength = 4

    /// Gzip (RFC 1952: 1f 8b) or zstd (RFC 8878: a frame's magic 28 b5 2f fd, little-endian
    /// 0xFD2FB528) by its magic bytes, else uncompressed.
    public static func detect<Bytes: Collection<UInt8>>(_ prefix: Bytes) -> LayerCompression {
        if prefix.starts(with: [0x1F, 0x8B]) { return .gzip }
        if prefix.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) { return .zstd }
        return .uncompressed
    }

    /// The OCI media type of a layer stored this way.
    public var ociMediaType: String {
        switch self {
        case .uncompressed: MediaType.ociLayer
        case .gzip: MediaType.ociLayerGzip
        case .zstd: MediaType.ociLayerZstd
        }
    }
}
