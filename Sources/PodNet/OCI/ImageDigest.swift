/// A content digest as the OCI image spec writes it (`sha256:<64 lowercase hex digits>`).
/// Only sha256 is accepted: it is the only algorithm registries and `docker save` produce, and
/// the store names its blobs by it.
public struct ImageDigest: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The 64 lowercase hex digits.
    public let hex: String

    public static let algorithm = "sha256"

    /// Parses `sha256:<hex>`; `field` names where the text came from, for the error.
    public init(parsing text: String, field: String = "digest") throws(OCIImageError) {
        guard text.hasPrefix("sha256:") else {
            let algorithm = text.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
            throw OCIImageError(text.contains(":")
                ? "\(field): unsupported digest algorithm \"\(algorithm)\" in \"\(text)\" (only sha256)"
                : "\(field): invalid digest \"\(text)\": expected sha256:<64 hex digits>")
        }
        let hex = String(text.dropFirst("sha256:".count))
        try self.init(hex: hex, field: field)
    }

    /// A digest from its 64 lowercase hex digits.
    public init(hex: String, field: String = "digest") throws(OCIImageError) {
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            throw OCIImageError("\(field): invalid digest \"sha256:\(hex)\": expected 64 lowercase hex digits")
        }
        self.hex = hex
    }

    /// A digest from its 32 bytes.
    public init(bytes: [UInt8]) {
        let digits = Array("0123456789abcdef")
        hex = String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] })
    }

    /// The sha256 of `bytes` (small documents: manifests, configs; the store hashes blobs
    /// with a streaming implementation).
    public static func of<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> ImageDigest {
        ImageDigest(bytes: SHA256.digest(bytes))
    }

    /// `sha256:<hex>`.
    public var description: String { "sha256:\(hex)" }

    /// The first 12 hex digits, as `docker images` shows an image ID.
    public var shortID: String { String(hex.prefix(12)) }

    public static func < (lhs: ImageDigest, rhs: ImageDigest) -> Bool { lhs.hex < rhs.hex }

    /// Throws unless `bytes` hash to this digest: a blob or document is only trusted once its
    /// bytes are checked against the descriptor that named it.
    public func verify<Bytes: Collection<UInt8>>(_ bytes: Bytes, what: String) throws(OCIImageError) {
        let actual = ImageDigest.of(bytes)
        guard actual == self else {
            throw OCIImageError("\(what): digest mismatch: expected \(self), got \(actual)")
        }
    }
}
