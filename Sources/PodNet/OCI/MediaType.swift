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
    /// podlab can unpack (zstd, or anything else).
    public static func layerCompression(_ mediaType: String) -> LayerCompression? {
        switch mediaType {
        case ociLayer, ociLayerNondistributable: .uncompressed
        case ociLayerGzip, ociLayerNondistributableGzip, dockerLayerGzip, dockerForeignLayerGzip: .gzip
        default: nil
        }
    }
}

/// A layer's compression. `docker save` writes its layers uncompressed whatever the
/// registry served, so the store also sniffs the bytes (`detect`).
public enum LayerCompression: String, Hashable, Sendable {
    case uncompressed
    case gzip

    /// Gzip by its magic bytes (RFC 1952: 1f 8b), else uncompressed.
    public static func detect<Bytes: Collection<UInt8>>(_ prefix: Bytes) -> LayerCompression {
        prefix.starts(with: [0x1F, 0x8B]) ? .gzip : .uncompressed
    }
}
