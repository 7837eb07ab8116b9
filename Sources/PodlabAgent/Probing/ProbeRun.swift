#if canImport(Glibc)
import Glibc
#endif
import CNetlink
import Netns
import PodNet

/// Per-thread tallies of the floor loop (each thread writes its own slot).
final class ConnectCounts: @unchecked Sendable {
    let connected: UnsafeMutableBufferPointer<Int>

    init(_ count: Int) {
        connected = .allocate(capacity: count)
        connected.initialize(repeating: 0)
    }

    deinit { connected.deallocate() }
}

/// A mutex for plain threads (Swift concurrency locks would suspend, not block).
final class PThreadMutex: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
}

/// The shared state of one run: the jobs (read-only), one socket and one result slot per job.
/// Threads touch disjoint slots only.
final class ProbeRun: @unchecked Sendable {
    let jobs: [ProbeJob]
    let fds: UnsafeMutableBufferPointer<Int32>
    let results: UnsafeMutableBufferPointer<ProbeResult?>
    let report: (@Sendable (Int, ProbeResult) -> Void)?
    /// What the destination saw of each job's source, for jobs that asked (by job index).
    let observations: [Int: Observation]

    /// The sockets of an `http` probe's further tries (`ProbeRequest.tries`), opened in the
    /// source pod with its first: job `i` has `spareCounts[i]` of them from `spareStarts[i]` on.
    let spares: UnsafeMutableBufferPointer<Int32>
    let spareStarts: [Int]
    let spareCounts: [Int]

    /// TCP probes whose connection stays open (reset) until the run's results are delivered,
    /// instead of being reset as soon as it is established: the resets then cost nothing while
    /// the matrix is timed. Only for destinations with at most `keptOpenPerDestination` of them.
    let keepsOpen: [Bool]

    /// Probes whose source is observed in the destination pod's connection table (see
    /// `tableReads`) rather than by a witness connection.
    let readsTable: [Bool]
    /// Per job: connected, and its result waits for the destination's connection table.
    let awaitingTable: UnsafeMutableBufferPointer<Bool>

    init(_ jobs: [ProbeJob], observations: [Int: Observation] = [:], readsTable: [Bool]? = nil,
         report: (@Sendable (Int, ProbeResult) -> Void)? = nil) {
        self.jobs = jobs
        self.observations = observations
        self.readsTable = readsTable ?? Array(repeating: false, count: jobs.count)
        self.report = report
        awaitingTable = .allocate(capacity: max(1, jobs.count))
        awaitingTable.initialize(repeating: false)
        fds = .allocate(capacity: jobs.count)
        fds.initialize(repeating: -1)
        results = .allocate(capacity: jobs.count)
        results.initialize(repeating: nil)
        spareCounts = jobs.map { $0.request.kind == .http ? max(0, $0.request.effectiveTries - 1) : 0 }
        var starts: [Int] = [], total = 0
        for count in spareCounts {
            starts.append(total)
            total += count
        }
        spareStarts = starts
        spares = .allocate(capacity: max(1, total))
        spares.initialize(repeating: -1)
        keepsOpen = Self.keptOpen(jobs)
    }

    /// Which TCP probes keep their connection open until the results are delivered.
    static func keptOpen(_ jobs: [ProbeJob]) -> [Bool] {
        var perDestination: [IPv4Address: Int] = [:]
        for job in jobs where job.request.kind == .tcp { perDestination[job.destination, default: 0] += 1 }
        return jobs.map { $0.request.kind == .tcp && perDestination[$0.destination, default: 0] <= Prober.keptOpenPerDestination }
    }

    /// The TCP probes that observe their source in the destination pod's own connection table:
    /// their connection stays open after the handshake, so once the probes ran, the destination
    /// pod's kernel shows whom it came from. One table read per destination pod instead of a
    /// witness connection per source and destination (the other probes that observe their
    /// source keep the witness).
    static func tableReads(_ jobs: [ProbeJob]) -> [Bool] {
        let kept = keptOpen(jobs)
        return jobs.indices.map { index in
            guard kept[index], jobs[index].request.observesSource, case .success? = jobs[index].observeIn else { return false }
            return true
        }
    }

    /// Closes the sockets of `range` that are still open.
    func closeSockets(_ range: Range<Int>) { closeSockets(Array(range)) }

    /// Closes the sockets of the jobs `indices` that are still open.
    func closeSockets(_ indices: [Int]) {
        for index in indices {
            if fds[index] >= 0 {
                close(fds[index])
                fds[index] = -1
            }
            for spare in spareStarts[index]..<spareStarts[index] + spareCounts[index] where spares[spare] >= 0 {
                close(spares[spare])
                spares[spare] = -1
            }
        }
    }

    /// The sockets job `index` uses: its own and its spares.
    func socketCount(_ index: Int) -> Int { 1 + spareCounts[index] }

    /// The sockets of job `index` still open.
    func openSocketCount(_ index: Int) -> Int {
        (fds[index] >= 0 ? 1 : 0) + (spareStarts[index]..<spareStarts[index] + spareCounts[index]).filter { spares[$0] >= 0 }.count
    }

    /// Stores a job's result, with the observation of its source, and passes it on; a connected
    /// probe that reads its observation from a connection table waits for it (`observeInTables`).
    func record(_ index: Int, _ result: ProbeResult) {
        var result = result
        switch observations[index] {
        case let .success(observed)?: result.observedSource = observed
        case let .failure(failure)?: result.observationError = failure.description
        case nil: break
        }
        results[index] = result
        if readsTable[index], result.outcome == .connected {
            awaitingTable[index] = true
            return
        }
        report?(index, result)
    }

    /// Completes the results of `range` that wait for their destination's connection table,
    /// while the probes' connections are still open: the destination pod holds a connection
    /// from the probe's own address and port, or it saw another source. Returns the jobs the
    /// tables did not show (a translated source, a server that already closed), still waiting.
    func observeInTables(_ range: Range<Int>) -> [Int] {
        var waiting: [String: [(index: Int, client: SocketEndpoint)]] = [:]
        var unknown: [Int] = []
        for index in range where awaitingTable[index] {
            guard case let .success(netns)? = jobs[index].observeIn, let client = results[index]?.source.flatMap(SocketEndpoint.init) else {
                unknown.append(index)
                continue
            }
            waiting[netns, default: []].append((index, client))
        }
        for (netns, entries) in waiting {
            let connections = entries.map { entry in
                (local: SocketEndpoint(jobs[entry.index].destination, UInt16(jobs[entry.index].request.port ?? 0)), remote: entry.client)
            }
            guard let held = try? SocketTable.holds(netns: netns, connections) else {
                unknown += entries.map(\.index)
                continue
            }
            for (entry, isHeld) in zip(entries, held) {
                if isHeld { complete(entry.index, .success(entry.client.description)) } else { unknown.append(entry.index) }
            }
        }
        return unknown.sorted()
    }

    /// Completes the waiting results of `indices` with witness connections (`SourceObserver`).
    func observeByWitness(_ indices: [Int]) {
        let wanted = Set(indices)
        let observed = SourceObserver.observe(jobs) { wanted.contains($0) }
        for index in indices {
            complete(index, observed[index] ?? .failure(ObservationFailure(description: "the observation did not run")))
        }
    }

    /// Attaches the observation to a waiting result and passes the result on.
    private func complete(_ index: Int, _ observation: Observation) {
        guard awaitingTable[index], var result = results[index] else { return }
        switch observation {
        case let .success(observed): result.observedSource = observed
        case let .failure(failure): result.observationError = failure.description
        }
        results[index] = result
        awaitingTable[index] = false
        report?(index, result)
    }

    /// Closes what is still open and frees the slots.
    func release() {
        closeSockets(jobs.indices)
        fds.deallocate()
        spares.deallocate()
        awaitingTable.deallocate()
        _ = results.deinitialize()
        results.deallocate()
    }

    func collectResults() -> [ProbeResult] {
        jobs.indices.map { index in
            results[index] ?? ProbeResult(id: jobs[index].request.id, outcome: .error, detail: "the probe did not run")
        }
    }

    /// Opens the sockets of `range`, visiting each source pod's namespace once. The worker
    /// runs nothing but `socket()` while it is inside a pod.
    func openSockets(_ range: Range<Int>) {
        var order: [String] = []
        var groups: [String: [Int]] = [:]
        for index in range {
            let netns = jobs[index].netns
            if groups[netns] == nil { order.append(netns) }
            groups[netns, default: []].append(index)
        }
        let fds = self.fds, spares = self.spares
        for netns in order {
            let group = groups[netns]!
            let kinds = group.map { ProbeRun.socketType(jobs[$0].request.kind) }
            // Slots of the spare sockets, each with its job's socket type.
            var spareSlots: [Int] = [], spareKinds: [(type: Int32, protocol: Int32)] = []
            for (position, index) in group.enumerated() where spareCounts[index] > 0 {
                for slot in spareStarts[index]..<spareStarts[index] + spareCounts[index] {
                    spareSlots.append(slot)
                    spareKinds.append(kinds[position])
                }
            }
            do {
                try group.withUnsafeBufferPointer { indices in
                    try kinds.withUnsafeBufferPointer { types in
                        try spareSlots.withUnsafeBufferPointer { slots in
                            try spareKinds.withUnsafeBufferPointer { slotTypes in
                                try NetworkNamespace(unchecked: netns).perform {
                                    for position in 0..<indices.count {
                                        let fd = socket(AF_INET, types[position].type, types[position].protocol)
                                        fds[indices[position]] = fd >= 0 ? fd : -errno
                                    }
                                    for position in 0..<slots.count {
                                        let fd = socket(AF_INET, slotTypes[position].type, slotTypes[position].protocol)
                                        spares[slots[position]] = fd >= 0 ? fd : -errno
                                    }
                                }
                            }
                        }
                    }
                }
            } catch {
                for index in group {
                    record(index, ProbeResult(id: jobs[index].request.id, outcome: .error, detail: "cannot enter the pod's network namespace: \(error)"))
                }
            }
        }
        for index in range where results[index] == nil {
            let failedSpare = (spareStarts[index]..<spareStarts[index] + spareCounts[index]).first { spares[$0] < -1 }
            guard fds[index] < -1 || failedSpare != nil else { continue }
            let code = fds[index] < -1 ? -fds[index] : -spares[failedSpare!]
            record(index, ProbeResult(id: jobs[index].request.id, outcome: .error, detail: "socket: \(ProbeErrno.describe(code))"))
            if fds[index] >= 0 { close(fds[index]) }
            fds[index] = -1
            for spare in spareStarts[index]..<spareStarts[index] + spareCounts[index] where spares[spare] < -1 { spares[spare] = -1 }
        }
    }

    static func socketType(_ kind: ProbeKind) -> (type: Int32, protocol: Int32) {
        let flags = Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        switch kind {
        case .udp, .dns: return (Int32(SOCK_DGRAM.rawValue) | flags, 0)
        // A raw socket, as ping uses: the ICMP datagram sockets need `ping_group_range` set
        // in every pod, which podlab leaves alone.
        case .icmp: return (Int32(SOCK_RAW.rawValue) | flags, Int32(IPPROTO_ICMP))
        case .tcp, .http, .bind, .route: return (Int32(SOCK_STREAM.rawValue) | flags, 0)
        }
    }
}

/// errno names the probes meet, with `Errno`'s as the fallback.
enum ProbeErrno {
    /// "Connection refused (ECONNREFUSED)".
    static func describe(_ code: Int32) -> String { Errno(code).description }

    /// The outcome a failed connect, send or receive stands for.
    static func outcome(_ code: Int32) -> ProbeOutcome {
        switch code {
        case ECONNREFUSED: .refused
        case ETIMEDOUT: .timeout
        case ENETUNREACH, EHOSTUNREACH, EHOSTDOWN, ENONET: .unreachable
        default: .error
        }
    }
}
