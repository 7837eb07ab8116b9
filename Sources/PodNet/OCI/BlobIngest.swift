/// What a pull does with what an earlier transfer left of a blob (its ingest: the bytes that
/// arrived, and the size the manifest gave when it began), as containerd's content store does
/// with `ingest/<ref>/data` and `total`: a blob is never visible as one until its digest is
/// checked, and an ingest is only ever a head start.
public enum BlobIngestPlan: Equatable, Sendable {
    /// Ask the registry for the bytes from `offset` on (`Range: bytes=offset-`), or for the
    /// whole blob at 0; the `offset` bytes held are hashed first, so the digest goes on from them.
    case fetch(from: Int64)
    /// The ingest holds as many bytes as the blob has: hash them; the right digest needs no
    /// transfer at all, a wrong one starts again.
    case verify
    /// What is there cannot be part of this blob: emptied, and the whole blob asked for.
    case restart(reason: String)

    /// Ingests untouched this long are removed (by the next pull, and by any `prune`).
    public static let maximumAge: Duration = .seconds(24 * 60 * 60)

    /// The plan for an ingest that holds `held` bytes, begun for a blob of `recordedTotal`
    /// bytes (nil: not recorded, as after a kill before it was written), for a blob the
    /// manifest says has `size` bytes.
    public static func plan(held: Int64, recordedTotal: Int64?, size: Int64) -> BlobIngestPlan {
        if let recordedTotal, recordedTotal != size {
            return .restart(reason: "begun for \(recordedTotal) bytes, the manifest says \(size)")
        }
        if held > size { return .restart(reason: "holds \(held) bytes, more than the blob's \(size)") }
        if held == size && size > 0 { return .verify }
        return .fetch(from: max(0, held))
    }

    /// Whether an ingest last written `age` ago is past keeping.
    public static func isExpired(age: Duration) -> Bool { age > maximumAge }

    /// The size an ingest's `total` file records: a decimal number, else nil (a file torn by a
    /// kill, or none).
    public static func recordedTotal(_ text: String?) -> Int64? {
        guard let text, let value = Int64(text.filter { !$0.isWhitespace }), value >= 0 else { return nil }
        return value
    }
}

/// How a registry answered a blob request sent with `Range: bytes=N-` (N > 0) or without one.
public enum BlobAnswer: Equatable, Sendable {
    /// `206` whose `Content-Range` starts at N: the rest, appended to what is held.
    case rest
    /// `200`: the whole blob (a registry that serves no ranges, or no range asked): from the start.
    case whole
    /// Anything else: the registry's refusal (or a range not the one asked for).
    case refused

    public static func of(status: Int, contentRange: String?, requestedFrom offset: Int64) -> BlobAnswer {
        if status == 200 { return .whole }
        if status == 206, offset > 0, RegistryResponse.contentRangeStart(contentRange) == offset { return .rest }
        return .refused
    }
}
