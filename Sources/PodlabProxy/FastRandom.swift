import Synchronization

/// The sidecar's random numbers: request ids, weighted splits, fault rolls, retry jitter and
/// least-request's two choices. None is a secret, and each request needs some: the standard
/// library's `SystemRandomNumberGenerator` makes a `getrandom` system call for every 64 bits
/// (a request id alone was 16 of them), so these come from xoshiro256** in memory, seeded once
/// per process from the system's generator.
public struct FastRandom: RandomNumberGenerator, Sendable {
    private static let state = Mutex(Xoshiro256StarStar(seed: {
        var system = SystemRandomNumberGenerator()
        return (system.next(), system.next(), system.next(), system.next())
    }()))

    public init() {}

    public mutating func next() -> UInt64 { Self.state.withLock { $0.next() } }
}

/// xoshiro256** (Blackman and Vigna): 256 bits of state, period 2^256 − 1.
struct Xoshiro256StarStar {
    private var s0, s1, s2, s3: UInt64

    init(seed: (UInt64, UInt64, UInt64, UInt64)) {
        (s0, s1, s2, s3) = seed
        // An all-zero state would stay zero.
        if s0 | s1 | s2 | s3 == 0 { s0 = 0x9E37_79B9_7F4A_7C15 }
    }

    mutating func next() -> UInt64 {
        let result = (s1 &* 5).rotatedLeft(by: 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3.rotatedLeft(by: 45)
        return result
    }
}

extension UInt64 {
    fileprivate func rotatedLeft(by count: UInt64) -> UInt64 { (self << count) | (self >> (64 - count)) }
}
