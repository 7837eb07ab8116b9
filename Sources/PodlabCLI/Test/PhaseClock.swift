import PodNet

/// How long each phase of `podlab test` took, for `--timings`: a line on stderr that says where
/// the time goes (listing objects, building the model, probing — with the agent's own phases —
/// and the report).
struct PhaseClock {
    private let clock = ContinuousClock()
    private var last: ContinuousClock.Instant
    private(set) var phases: [(name: String, millis: Double, note: String)] = []

    init() { last = clock.now }

    /// Ends the phase under way, named `name`, and starts the next.
    mutating func lap(_ name: String, _ note: String = "") {
        let now = clock.now
        phases.append((name, Self.millis(now - last), note))
        last = now
    }

    static func millis(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    /// `timings: lab 2 ms, objects 31 ms, model 118 ms (20 412 checks), …, total 1 912 ms`.
    var line: String {
        let total = phases.reduce(0) { $0 + $1.millis }
        let parts = phases.map { phase in "\(phase.name) \(Self.format(phase.millis)) ms" + (phase.note.isEmpty ? "" : " (\(phase.note))") }
        return "timings: " + (parts + ["total \(Self.format(total)) ms"]).joined(separator: ", ")
    }

    /// The agent's phases of a probe batch: `agent: prepare 21 ms, observe 402 ms, …`.
    static func describe(_ timings: ProbeTimings) -> String {
        "agent: prepare \(format(timings.prepareMillis)) ms, observe \(format(timings.observeMillis)) ms "
            + "(\(timings.observedByLookup) by connection lookup, \(timings.observedByWitness) by witness), sockets \(format(timings.openMillis)) ms, "
            + "probes \(format(timings.probeMillis)) ms in \(timings.rounds) round\(timings.rounds == 1 ? "" : "s")"
    }

    static func format(_ millis: Double) -> String { String(Int(millis.rounded())) }
}
