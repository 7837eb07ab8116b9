#if canImport(Glibc)
import Glibc
#endif

/// With `PODLAB_CNI_TRACE=1` in the environment, the time each phase of a verb took, written to
/// stderr when the verb ends (stdout belongs to the protocol). Off, it costs one branch a mark.
final class PhaseTrace: @unchecked Sendable {
    static let shared = PhaseTrace()
    var enabled = false
    private var start: UInt64 = 0
    private var last: UInt64 = 0
    private var phases: [(String, UInt64)] = []

    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    func begin() {
        guard enabled else { return }
        start = Self.now()
        last = start
    }

    func mark(_ phase: String) {
        guard enabled else { return }
        let t = Self.now()
        phases.append((phase, t - last))
        last = t
    }

    func report(_ verb: String) {
        guard enabled else { return }
        func ms(_ ns: UInt64) -> String {
            let hundredths = (ns + 5_000) / 10_000
            return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
        }
        let text = "podlab-cni \(verb): " + phases.map { "\($0.0) \(ms($0.1))" }.joined(separator: ", ") + "; total \(ms(last - start)) ms\n"
        _ = text.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    }
}
