#if canImport(Glibc)
import Glibc
#endif
import CNetlink
import Netns
import PodNet

/// One probe ready to run: the checked request, the pod namespace it runs in, its destination.
struct ProbeJob: Sendable {
    var request: ProbeRequest
    /// The source pod's network namespace (a name under /run/netns).
    var netns: String
    var destination: IPv4Address
    /// With `observeSource`: the network namespace of the pod holding `destination`, where the
    /// source is observed (see `SourceObserver`), or why there is none.
    var observeIn: Result<String, ObservationFailure>?
}

/// What the bare connect loop measured (the benchmark's floor).
struct FloorMeasurement: Sendable {
    var probes: Int
    var connected: Int
    var failed: Int
    /// Opening the sockets inside the pods' namespaces.
    var openMillis: Double
    /// From the first `connect` to the last completion.
    var connectMillis: Double
}

/// The in-agent prober: probes run *inside* the source pod's network namespace without a
/// process per probe.
///
/// A socket stays bound to the network namespace it was created in, so the namespace worker
/// enters each source pod once per batch only to call `socket()` for all of that pod's probes
/// (nothing else runs on the worker). Everything after that — non-blocking `connect`, sends,
/// reads, timeouts — runs on a few ordinary threads, each an `epoll` loop over its share of the
/// probes with a bounded number in flight, so thousands of probes run in parallel.
enum Prober {
    /// Probes in flight per thread: enough to keep the kernel busy, few enough that a target's
    /// listen queue (podlab's servers use 511) never overflows.
    static let windowPerThread = 128
    /// Threads running probe loops.
    static let threadCount = max(1, min(4, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
    /// The most an HTTP answer may be; the rest is not read.
    static let maximumAnswer = 1 << 20
    /// One batch runs at a time: a batch may hold thousands of sockets.
    static let exclusive = PThreadMutex()

    /// Runs `jobs` and returns one result per job, in order. Does not block the caller's thread:
    /// the work happens on threads of its own.
    /// `report`, when given, hears of each result as it comes (from the probe threads: keep it short).
    static func run(_ jobs: [ProbeJob], report: (@Sendable (Int, ProbeResult) -> Void)? = nil) async -> (results: [ProbeResult], timings: ProbeTimings) {
        guard !jobs.isEmpty else { return ([], ProbeTimings()) }
        return await withCheckedContinuation { continuation in
            startThread { runBlocking(jobs, report: report) { continuation.resume(returning: ($0, $1)) } }
        }
    }

    /// The benchmark's floor: the same sockets, opened the same way, then only a non-blocking
    /// `connect` each and a wait for all of them; no per-probe results or timers.
    static func floor(_ jobs: [ProbeJob], timeoutMillis: Int) async -> FloorMeasurement {
        await withCheckedContinuation { continuation in
            startThread { continuation.resume(returning: floorBlocking(jobs, timeoutMillis: timeoutMillis)) }
        }
    }

    /// Runs the probes and hands the results to `deliver` as soon as all are in; the sockets
    /// kept open (see `ProbeRun.keepsOpen`) are closed after that, before the next batch may start.
    /// `budget` caps the sockets of one round (default: `descriptorBudget()`).
    static func runBlocking(_ jobs: [ProbeJob], report: (@Sendable (Int, ProbeResult) -> Void)? = nil, budget: Int? = nil,
                            deliver: ([ProbeResult], ProbeTimings) -> Void) {
        exclusive.lock()
        defer { exclusive.unlock() }
        var timings = ProbeTimings()
        // The sources the destinations see are observed first, so each probe's result carries
        // its observation as soon as it is reported — except where the destination's own
        // connection table shows it once the probes ran (`ProbeRun.tableReads`).
        let observing = now()
        let readsTable = ProbeRun.tableReads(jobs)
        let observations = SourceObserver.observe(jobs) { !readsTable[$0] }
        timings.observeMillis = millis(now() - observing)
        timings.observedByWitness = jobs.indices.filter { index in
            guard !readsTable[index], jobs[index].request.observesSource, case .success? = jobs[index].observeIn else { return false }
            return true
        }.count
        let run = ProbeRun(jobs, observations: observations, readsTable: readsTable, report: report)
        defer { run.release() }
        let batch = budget ?? descriptorBudget()
        // Jobs of finished rounds from here to `start` may still hold sockets (rounds close theirs
        // oldest first).
        var held = 0
        var start = 0
        while start < jobs.count {
            // As many jobs as their sockets (a probe with tries has several) fit in the budget.
            var end = start, sockets = 0
            while end < jobs.count, end == start || sockets + run.socketCount(end) <= batch {
                sockets += run.socketCount(end)
                end += 1
            }
            let range = start..<end
            if held < start {
                // The round needs `sockets` descriptors: that many of the earlier rounds' sockets
                // close now, the rest once the results are delivered. Each close of a kept-open
                // connection sends its reset through the pods' veths and the node: the threads
                // share them.
                var freed = 0, closedTo = held
                while closedTo < start, freed < sockets {
                    freed += run.openSocketCount(closedTo)
                    closedTo += 1
                }
                let closing = held..<closedTo
                held = closedTo
                let closers = min(threadCount, max(1, closing.count / 64))
                runThreads(closers, name: "probe-close") { thread in
                    run.closeSockets(Array(stride(from: closing.lowerBound + thread, to: closing.upperBound, by: closers)))
                }
            }
            let opening = now()
            run.openSockets(range)
            let probing = now()
            let threads = min(threadCount, max(1, range.count / 64))
            runThreads(threads, name: "probe") { thread in
                var loop = ProbeLoop(run: run, indices: Array(stride(from: range.lowerBound + thread, to: range.upperBound, by: threads)))
                loop.runAll()
            }
            let reading = now()
            timings.openMillis += millis(probing - opening)
            timings.probeMillis += millis(reading - probing)
            timings.rounds += 1
            let waiting = range.filter { run.awaitingTable[$0] }.count
            let unknown = run.observeInTables(range)
            timings.observedByLookup += waiting - unknown.count
            timings.observedByWitness += unknown.count
            // Witnesses for what the lookups could not show, while this round's connections
            // are still open (the observer sizes its batches to the descriptors left).
            if !unknown.isEmpty { run.observeByWitness(unknown) }
            timings.observeMillis += millis(now() - reading)
            start = range.upperBound
        }
        deliver(run.collectResults(), timings)
    }

    /// Probes to one address beyond this many close their connection at once instead of at
    /// the end of the run, so no server holds more than this many of them.
    static let keptOpenPerDestination = 128

    static func floorBlocking(_ jobs: [ProbeJob], timeoutMillis: Int) -> FloorMeasurement {
        exclusive.lock()
        defer { exclusive.unlock() }
        let run = ProbeRun(jobs)
        defer { run.release() }
        let range = 0..<min(jobs.count, descriptorBudget())
        let opened = now()
        run.openSockets(range)
        let started = now()
        let threads = min(threadCount, max(1, range.count / 64))
        let counts = ConnectCounts(threads)
        runThreads(threads, name: "probe-floor") { thread in
            counts.connected[thread] = bareConnects(run, Array(stride(from: range.lowerBound + thread, to: range.upperBound, by: threads)),
                                                    timeoutMillis: timeoutMillis).0
        }
        let finished = now()
        let connected = counts.connected.reduce(0, +)
        return FloorMeasurement(probes: range.count, connected: connected, failed: range.count - connected,
                                openMillis: millis(started - opened), connectMillis: millis(finished - started))
    }

    /// `connect` on every socket, then wait until each completed: (connected, failed).
    static func bareConnects(_ run: ProbeRun, _ indices: [Int], timeoutMillis: Int) -> (Int, Int) {
        let epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else { return (0, indices.count) }
        defer { close(epoll) }
        var pending = 0, connected = 0
        for index in indices {
            let fd = run.fds[index]
            guard fd >= 0 else { continue }
            var address = socketAddress(run.jobs[index].destination, port: UInt16(run.jobs[index].request.port ?? 0))
            let rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if rc == 0 {
                connected += 1
            } else if errno == EINPROGRESS {
                var event = epoll_event()
                event.events = EPOLLOUT.rawValue
                event.data.u64 = UInt64(index)
                epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event)
                pending += 1
            }
        }
        var events = [epoll_event](repeating: epoll_event(), count: 512)
        let deadline = now() + UInt64(timeoutMillis) * 1_000_000
        while pending > 0 {
            let left = deadline > now() ? Int32((deadline - now()) / 1_000_000) + 1 : 0
            let n = epoll_wait(epoll, &events, Int32(events.count), left)
            if n == 0 { break }
            if n < 0 { if errno == EINTR { continue } else { break } }
            for event in events[0..<Int(n)] {
                let fd = run.fds[Int(event.data.u64)]
                if socketError(fd) == 0 { connected += 1 }
                epoll_ctl(epoll, EPOLL_CTL_DEL, fd, nil)
                pending -= 1
            }
        }
        return (connected, indices.count - connected)
    }

    // MARK: Helpers

    /// Monotonic nanoseconds.
    @inline(__always)
    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    static func millis(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1_000_000 }

    static func socketAddress(_ address: IPv4Address, port: UInt16) -> sockaddr_in {
        var result = sockaddr_in()
        result.sin_family = sa_family_t(AF_INET)
        result.sin_port = port.bigEndian
        result.sin_addr.s_addr = address.value.bigEndian
        return result
    }

    /// `SO_ERROR` of a socket: the result of a non-blocking connect, or an ICMP error.
    static func socketError(_ fd: Int32) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) == 0 else { return errno }
        return value
    }

    /// The socket's local (or peer) address: `10.244.1.2:43122`, or without the port.
    static func address(of fd: Int32, peer: Bool, withPort: Bool = true) -> String? {
        guard let storage = boundAddress(of: fd, peer: peer) else { return nil }
        let ip = IPv4Address(UInt32(bigEndian: storage.sin_addr.s_addr))
        return withPort ? "\(ip):\(UInt16(bigEndian: storage.sin_port))" : ip.description
    }

    /// The port a socket is bound to (an ephemeral one after `listen` without `bind`).
    static func localPort(of fd: Int32) -> UInt16? {
        boundAddress(of: fd, peer: false).map { UInt16(bigEndian: $0.sin_port) }
    }

    private static func boundAddress(of fd: Int32, peer: Bool) -> sockaddr_in? {
        var storage = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { peer ? getpeername(fd, $0, &length) : getsockname(fd, $0, &length) }
        }
        guard rc == 0, Int32(storage.sin_family) == AF_INET else { return nil }
        return storage
    }

    /// The most sockets one round holds, where the descriptor limit allows: a `podlab test` of
    /// 100 pods with 100 Services × 3 endpoints (30 800 probes of every kind, 34 400 sockets
    /// with the spread checks' tries) then runs in one round. A later round first closes as many
    /// of the earlier rounds' sockets as it opens (thousands of resets in between).
    static let maximumRoundSockets = 49_152

    /// How many sockets one batch may hold: the descriptor limit less what the agent has open
    /// and a reserve, so that the API and the containers' logs keep working.
    static func descriptorBudget() -> Int {
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        var open = 0
        if let directory = opendir("/proc/self/fd") {
            while readdir(directory) != nil { open += 1 }
            closedir(directory)
        }
        let soft = Int(clamping: min(limit.rlim_cur, APIConnectionLimits.wantedDescriptors))
        return max(32, min(maximumRoundSockets, soft - open - 256))
    }

    /// Runs `body(0..<count)` on `count` threads and waits for all of them.
    /// The threads are named `NAME-INDEX` (as `ps -L` and `top -H` show them).
    static func runThreads(_ count: Int, name: String, _ body: @escaping @Sendable (Int) -> Void) {
        PlainThread.runAll(count, name: name, body)
    }

    /// Runs `body` on a new detached thread (created from a thread in the agent's own
    /// namespaces, so it starts there too).
    static func startThread(_ body: @escaping @Sendable () -> Void) {
        PlainThread.detachOrRunHere(name: "prober", body)
    }
}
