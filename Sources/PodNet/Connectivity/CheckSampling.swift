/// `--sample N`: a reproducible random subset of the checks.
public enum CheckSampling {
    /// `count` indices out of `0..<total`, chosen at random from `seed` and returned in
    /// ascending order (so the probe order of the matrix is kept). All of them when `count ≥ total`.
    public static func indices(count: Int, of total: Int, seed: UInt64) -> [Int] {
        guard count < total else { return Array(0..<total) }
        guard count > 0 else { return [] }
        var generator = SplitMix64(seed: seed)
        // Floyd's algorithm: `count` distinct values without shuffling the whole range.
        var chosen: Set<Int> = []
        for j in (total - count)..<total {
            let pick = Int.random(in: 0...j, using: &generator)
            if !chosen.insert(pick).inserted { chosen.insert(j) }
        }
        return chosen.sorted()
    }
}

/// A small seeded generator (Steele, Lea and Flood's SplitMix64), so a sample can be repeated.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
