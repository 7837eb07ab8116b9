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
    static func run(_ jobs: [ProbeJob], report: (@Sendable (Int, ProbeResult) -> Void)? = nil) async -> [ProbeResult] {
        guard !jobs.isEmpty else { return [] }
        return await withCheckedContinuation { continuation in
            startThread { runBlocking(jobs, report: report) { continuation.resume(returning: $0) } }
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
    static func runBlocking(_ jobs: [ProbeJob], report: (@Sendable (Int, ProbeResult) -> Void)? = nil,
                            deliver: ([ProbeResult]) -> Void) {
        exclusive.lock()
        defer { exclusive.unlock() }
        // The sources the destinations see are observed first, so each probe's result carries
        // its observation as soon as it is reported.
        let run = ProbeRun(jobs, observations: SourceObserver.observe(jobs), report: report)
        defer { run.release() }
        let batch = descriptorBudget()
        var start = 0
        while start < jobs.count {
            let range = start..<min(jobs.count, start + batch)
            run.openSockets(range)
            let threads = min(threadCount, max(1, range.count / 64))
            runThreads(threads, name: "probe") { thread in
                var loop = ProbeLoop(run: run, indices: Array(stride(from: range.lowerBound + thread, to: range.upperBound, by: threads)))
                loop.runAll()
            }
            start = range.upperBound
            // The next batch needs the descriptors.
            if start < jobs.count { run.closeSockets(range) }
        }
        deliver(run.collectResults())
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
        var storage = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { peer ? getpeername(fd, $0, &length) : getsockname(fd, $0, &length) }
        }
        guard rc == 0, Int32(storage.sin_family) == AF_INET else { return nil }
        let ip = IPv4Address(UInt32(bigEndian: storage.sin_addr.s_addr))
        return withPort ? "\(ip):\(UInt16(bigEndian: storage.sin_port))" : ip.description
    }

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
        let soft = Int(clamping: min(limit.rlim_cur, 65_536))
        return max(32, min(16_384, soft - open - 256))
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

    /// TCP probes whose connection stays open (reset) until the run's results are delivered,
    /// instead of being reset as soon as it is established: the resets then cost nothing while
    /// the matrix is timed. Only for destinations with at most `keptOpenPerDestination` of them.
    let keepsOpen: [Bool]

    init(_ jobs: [ProbeJob], observations: [Int: Observation] = [:], report: (@Sendable (Int, ProbeResult) -> Void)? = nil) {
        self.jobs = jobs
        self.observations = observations
        self.report = report
        fds = .allocate(capacity: jobs.count)
        fds.initialize(repeating: -1)
        results = .allocate(capacity: jobs.count)
        results.initialize(repeating: nil)
        var perDestination: [IPv4Address: Int] = [:]
        for job in jobs where job.request.kind == .tcp { perDestination[job.destination, default: 0] += 1 }
        keepsOpen = jobs.map { $0.request.kind == .tcp && perDestination[$0.destination, default: 0] <= Prober.keptOpenPerDestination }
    }

    /// Closes the sockets of `range` that are still open.
    func closeSockets(_ range: Range<Int>) {
        for index in range where fds[index] >= 0 {
            close(fds[index])
            fds[index] = -1
        }
    }

    /// Stores a job's result, with the observation of its source, and passes it on.
    func record(_ index: Int, _ result: ProbeResult) {
        var result = result
        switch observations[index] {
        case let .success(observed)?: result.observedSource = observed
        case let .failure(failure)?: result.observationError = failure.description
        case nil: break
        }
        results[index] = result
        report?(index, result)
    }

    /// Closes what is still open and frees the slots.
    func release() {
        closeSockets(jobs.indices)
        fds.deallocate()
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
        let fds = self.fds
        for netns in order {
            let group = groups[netns]!
            let kinds = group.map { ProbeRun.socketType(jobs[$0].request.kind) }
            do {
                try group.withUnsafeBufferPointer { indices in
                    try kinds.withUnsafeBufferPointer { types in
                        try NetworkNamespace(unchecked: netns).perform {
                            for position in 0..<indices.count {
                                let fd = socket(AF_INET, types[position].type, types[position].protocol)
                                fds[indices[position]] = fd >= 0 ? fd : -errno
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
        for index in range where results[index] == nil && fds[index] < -1 {
            let code = -fds[index]
            record(index, ProbeResult(id: jobs[index].request.id, outcome: .error, detail: "socket: \(ProbeErrno.describe(code))"))
            fds[index] = -1
        }
    }

    static func socketType(_ kind: ProbeKind) -> (type: Int32, protocol: Int32) {
        let flags = Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        switch kind {
        case .udp: return (Int32(SOCK_DGRAM.rawValue) | flags, 0)
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

/// A binary min-heap of (deadline, slot): the next probe to time out.
struct DeadlineHeap {
    private var items: [(deadline: UInt64, slot: Int)] = []

    var first: (deadline: UInt64, slot: Int)? { items.first }

    mutating func push(_ deadline: UInt64, _ slot: Int) {
        items.append((deadline, slot))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].deadline < items[parent].deadline else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() {
        guard !items.isEmpty else { return }
        items.swapAt(0, items.count - 1)
        items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count, items[left].deadline < items[smallest].deadline { smallest = left }
            if right < items.count, items[right].deadline < items[smallest].deadline { smallest = right }
            guard smallest != parent else { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }
}

/// One thread's share of a run: an epoll loop over its probes, at most `windowPerThread` in
/// flight, each a small state machine (connect → send → read, or send → await the echo).
/// Jobs driven by one epoll instance: at most `window` in flight, each with a deadline kept in
/// `deadlines`; the prober's and the source observer's loops.
protocol EpollWindowLoop {
    var epoll: Int32 { get }
    var active: Int { get }
    var deadlines: DeadlineHeap { get }
    /// Puts job `slot` in flight (or finishes it at once).
    mutating func start(slot: Int)
    /// One readiness event of a job in flight.
    mutating func handle(_ event: epoll_event)
    /// Ends the jobs whose deadline has passed.
    mutating func expire()
}

extension EpollWindowLoop {
    /// Starts jobs `0..<count` while fewer than `window` are in flight and waits for their
    /// events (at most until the next deadline), until every job is done.
    mutating func drive(count: Int, window: Int) {
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        var next = 0
        while next < count || active > 0 {
            while active < window && next < count {
                start(slot: next)
                next += 1
            }
            guard active > 0 else { continue }
            let now = Prober.now()
            var wait: Int32 = 1000
            if let first = deadlines.first {
                wait = first.deadline > now ? Int32(min(1000, (first.deadline - now + 999_999) / 1_000_000)) : 0
            }
            let ready = epoll_wait(epoll, &events, Int32(events.count), wait)
            if ready > 0 {
                for event in events[0..<Int(ready)] { handle(event) }
            }
            expire()
        }
    }
}

struct ProbeLoop: EpollWindowLoop {
    enum Phase {
        /// TCP handshake under way (`tcp`, `http`).
        case connecting
        /// `http`: writing the request.
        case sending
        /// `http`: reading the answer; `udp`/`icmp`: waiting for the echo.
        case receiving
    }

    struct Flight {
        var index: Int
        var fd: Int32
        var started: UInt64
        var phase: Phase
        var output: [UInt8] = []
        var sent = 0
        var input: [UInt8] = []
        /// `icmp`: identifier and sequence number of the echo request.
        var echoID: UInt16 = 0
        /// True once the socket is in the epoll set.
        var registered = false
    }

    let run: ProbeRun
    let indices: [Int]
    var flights: [Flight?]
    var deadlines = DeadlineHeap()
    var active = 0
    let epoll: Int32

    init(run: ProbeRun, indices: [Int]) {
        self.run = run
        self.indices = indices
        flights = Array(repeating: nil, count: indices.count)
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
    }

    mutating func runAll() {
        defer { if epoll >= 0 { close(epoll) } }
        guard epoll >= 0 else {
            let code = errno
            for index in indices where run.results[index] == nil {
                run.record(index, ProbeResult(id: run.jobs[index].request.id, outcome: .error, detail: "epoll_create1: \(ProbeErrno.describe(code))"))
            }
            return
        }
        drive(count: indices.count, window: Prober.windowPerThread)
    }

    mutating func handle(_ event: epoll_event) { handle(slot: Int(event.data.u64), events: event.events) }

    /// Times out the probes whose deadline has passed.
    mutating func expire() {
        let now = Prober.now()
        while let first = deadlines.first, first.deadline <= now {
            deadlines.pop()
            guard let flight = flights[first.slot] else { continue }
            let timeout = run.jobs[flight.index].request.effectiveTimeoutMillis
            let what: String
            switch (run.jobs[flight.index].request.kind, flight.phase) {
            case (.tcp, _), (.http, .connecting): what = "no answer to the connection request"
            case (.http, _): what = "no complete HTTP answer"
            case (.udp, _): what = "no datagram came back"
            case (.icmp, _): what = "no echo reply"
            default: what = "no answer"
            }
            finish(slot: first.slot, .timeout, "\(what) within \(timeout) ms")
        }
    }

    // MARK: Starting

    mutating func start(slot: Int) {
        let index = indices[slot]
        guard run.results[index] == nil else { return }  // failed before it started (no socket)
        let job = run.jobs[index]
        let fd = run.fds[index]
        let started = Prober.now()
        flights[slot] = Flight(index: index, fd: fd, started: started, phase: .connecting)
        active += 1
        deadlines.push(started + UInt64(job.request.effectiveTimeoutMillis) * 1_000_000, slot)
        let port = UInt16(job.request.port ?? 0)
        switch job.request.kind {
        case .bind:
            bind(slot: slot, port: port)
        case .tcp, .http:
            if job.request.kind == .http { flights[slot]!.output = Self.httpRequest(job, port: port) }
            var address = Prober.socketAddress(job.destination, port: port)
            let rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if rc == 0 {
                connected(slot: slot)
            } else if errno == EINPROGRESS {
                watch(slot: slot, for: EPOLLOUT.rawValue)
            } else {
                failed(slot: slot, errno, during: "connect")
            }
        case .udp, .icmp:
            // A connected datagram socket takes only its peer's answers, and ICMP errors for it
            // (port unreachable) come back as its socket error.
            var address = Prober.socketAddress(job.destination, port: job.request.kind == .udp ? port : 0)
            let rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else { return failed(slot: slot, errno, during: "connect") }
            // Without IP_RECVERR the kernel keeps "soft" ICMP errors (host unreachable) from
            // datagram and raw sockets; with it they end the wait at once.
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_IP), IP_RECVERR, &one, socklen_t(MemoryLayout<Int32>.size))
            if job.request.kind == .udp {
                flights[slot]!.output = Array("podlab-probe \(index)\n".utf8)
            } else {
                let identifier = UInt16(truncatingIfNeeded: index &* 40_503 &+ Int(getpid()))
                flights[slot]!.echoID = identifier
                flights[slot]!.output = Self.echoRequest(identifier: identifier, sequence: UInt16(truncatingIfNeeded: index >> 16))
            }
            let packet = flights[slot]!.output
            let sent = packet.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent == packet.count else { return failed(slot: slot, sent < 0 ? errno : EMSGSIZE, during: "send") }
            flights[slot]!.phase = .receiving
            watch(slot: slot, for: EPOLLIN.rawValue)
        case .route:
            finish(slot: slot, .error, "route probes are answered from the host's routing table, not from a pod")
        }
    }

    mutating func bind(slot: Int, port: UInt16) {
        let flight = flights[slot]!
        let job = run.jobs[flight.index]
        // SO_REUSEADDR as servers set it: connections lingering in TIME_WAIT do not count, only
        // a socket that holds the port (a listener) does.
        var one: Int32 = 1
        setsockopt(flight.fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = Prober.socketAddress(job.destination, port: port)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(flight.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let local = "\(job.destination):\(port)"
        if rc == 0 {
            finish(slot: slot, .free, "bound \(local) inside the pod and released it", source: local)
        } else if errno == EADDRINUSE {
            finish(slot: slot, .inUse, "bind \(local): \(ProbeErrno.describe(EADDRINUSE))", source: local)
        } else {
            failed(slot: slot, errno, during: "bind")
        }
    }

    /// Adds the socket to the epoll set, or changes what it waits for.
    mutating func watch(slot: Int, for events: UInt32) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = UInt64(slot)
        let registered = flights[slot]!.registered
        if epoll_ctl(epoll, registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, flights[slot]!.fd, &event) != 0 {
            return failed(slot: slot, errno, during: "epoll_ctl")
        }
        flights[slot]!.registered = true
    }

    // MARK: Events

    mutating func handle(slot: Int, events: UInt32) {
        guard let flight = flights[slot] else { return }
        let kind = run.jobs[flight.index].request.kind
        switch flight.phase {
        case .connecting:
            let code = Prober.socketError(flight.fd)
            guard code == 0 else { return failed(slot: slot, code, during: "connect") }
            if events & (EPOLLOUT.rawValue | EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 { connected(slot: slot) }
        case .sending:
            sendRequest(slot: slot)
        case .receiving:
            if kind == .http { readAnswer(slot: slot) } else { readEcho(slot: slot) }
        }
    }

    mutating func connected(slot: Int) {
        let flight = flights[slot]!
        if run.jobs[flight.index].request.kind == .tcp {
            // The probe ends with a reset, as port scanners and health checkers end theirs: one
            // packet instead of a four-packet FIN exchange, and no TIME_WAIT left in the pod.
            // The servers take a reset connection in their stride. The reset goes out when the
            // socket closes: now, or once the run's results are delivered (`keepsOpen`).
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(flight.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            return finish(slot: slot, .connected, "")
        }
        flights[slot]!.phase = .sending
        sendRequest(slot: slot)
    }

    mutating func sendRequest(slot: Int) {
        let flight = flights[slot]!
        let n = flight.output.withUnsafeBytes { raw in
            send(flight.fd, raw.baseAddress! + flight.sent, raw.count - flight.sent, Int32(MSG_NOSIGNAL))
        }
        if n < 0 {
            if errno == EAGAIN { return watch(slot: slot, for: EPOLLOUT.rawValue) }
            return failed(slot: slot, errno, during: "send")
        }
        flights[slot]!.sent += n
        if flights[slot]!.sent < flight.output.count {
            return watch(slot: slot, for: EPOLLOUT.rawValue)
        }
        flights[slot]!.phase = .receiving
        watch(slot: slot, for: EPOLLIN.rawValue)
    }

    mutating func readAnswer(slot: Int) {
        let fd = flights[slot]!.fd
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                flights[slot]!.input.append(contentsOf: chunk[0..<n])
                if let answer = HTTPAnswer(flights[slot]!.input), answer.isComplete || flights[slot]!.input.count >= Prober.maximumAnswer {
                    return judge(slot: slot, answer)
                }
                continue
            }
            if n == 0 {
                guard let answer = HTTPAnswer(flights[slot]!.input) else {
                    return finish(slot: slot, .wrongAnswer, flights[slot]!.input.isEmpty
                                  ? "the server closed the connection without an answer" : "not an HTTP answer")
                }
                return judge(slot: slot, answer)
            }
            let code = errno
            if code == EAGAIN || code == EINTR { return }
            if code == ECONNRESET, let answer = HTTPAnswer(flights[slot]!.input) { return judge(slot: slot, answer) }
            return failed(slot: slot, code, during: "recv")
        }
    }

    mutating func judge(slot: Int, _ answer: HTTPAnswer) {
        let request = run.jobs[flights[slot]!.index].request
        let status = request.expectStatus ?? 200
        guard answer.status == status else {
            return finish(slot: slot, .wrongAnswer, "HTTP \(answer.status) (expected \(status))")
        }
        if let body = request.expectBody, !body.isEmpty {
            let text = String(decoding: answer.body, as: UTF8.self)
            guard text.contains(body) else {
                return finish(slot: slot, .wrongAnswer, "HTTP \(answer.status), but the body lacks \(HTTPAnswer.quote(body)): \(HTTPAnswer.excerpt(text))")
            }
            return finish(slot: slot, .connected, "HTTP \(answer.status), body has \(HTTPAnswer.quote(body))")
        }
        finish(slot: slot, .connected, "HTTP \(answer.status)")
    }

    mutating func readEcho(slot: Int) {
        let flight = flights[slot]!
        let kind = run.jobs[flight.index].request.kind
        var buffer = [UInt8](repeating: 0, count: 2048)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(flight.fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                let code = errno
                if code == EAGAIN || code == EINTR { return }
                return failed(slot: slot, code, during: "recv")
            }
            if kind == .udp {
                if Array(buffer[0..<n]) == flight.output { return finish(slot: slot, .connected, "the datagram came back") }
                return finish(slot: slot, .wrongAnswer, "\(n) bytes came back, not the \(flight.output.count) sent")
            }
            // A raw ICMP socket gets the IP header too; it may see other pods' replies to the
            // same peer, so only the echo reply with this probe's identifier counts.
            let data = buffer[0..<n]
            guard n >= 20 else { continue }
            let headerLength = Int(data[0] & 0x0F) * 4
            guard n >= headerLength + 8 else { continue }
            let type = data[headerLength]
            let identifier = UInt16(data[headerLength + 4]) << 8 | UInt16(data[headerLength + 5])
            if type == 0, identifier == flight.echoID {  // ICMP_ECHOREPLY
                return finish(slot: slot, .connected, "echo reply")
            }
        }
    }

    // MARK: Finishing

    mutating func failed(slot: Int, _ code: Int32, during operation: String) {
        finish(slot: slot, ProbeErrno.outcome(code), "\(operation): \(ProbeErrno.describe(code))")
    }

    mutating func finish(slot: Int, _ outcome: ProbeOutcome, _ detail: String, source: String? = nil) {
        guard let flight = flights[slot] else { return }
        let elapsed = Prober.millis(Prober.now() - flight.started)
        let job = run.jobs[flight.index]
        let withPort = job.request.kind != .icmp
        var result = ProbeResult(id: job.request.id, outcome: outcome, latencyMillis: elapsed,
                                 source: source ?? Prober.address(of: flight.fd, peer: false, withPort: withPort),
                                 destination: Prober.address(of: flight.fd, peer: true, withPort: withPort), detail: detail)
        if result.destination == nil, job.request.kind != .bind {
            result.destination = job.request.kind.needsPort ? "\(job.destination):\(job.request.port ?? 0)" : job.destination.description
        }
        if result.source?.hasPrefix("0.0.0.0") == true, job.request.kind != .bind { result.source = nil }
        if !(outcome == .connected && run.keepsOpen[flight.index]) {
            close(flight.fd)
            run.fds[flight.index] = -1
        }
        flights[slot] = nil
        active -= 1
        run.record(flight.index, result)
    }

    // MARK: Packets

    static func httpRequest(_ job: ProbeJob, port: UInt16) -> [UInt8] {
        let path = job.request.path ?? ProbeRequest.defaultPath
        return Array("GET \(path) HTTP/1.1\r\nHost: \(job.destination):\(port)\r\nUser-Agent: podlab-test\r\nAccept: */*\r\nConnection: close\r\n\r\n".utf8)
    }

    /// An ICMP echo request (type 8) with a 16-byte payload and its checksum.
    static func echoRequest(identifier: UInt16, sequence: UInt16) -> [UInt8] {
        var packet: [UInt8] = [8, 0, 0, 0, UInt8(identifier >> 8), UInt8(identifier & 0xFF), UInt8(sequence >> 8), UInt8(sequence & 0xFF)]
        packet += Array("podlab-probe....".utf8)
        let sum = checksum(packet)
        packet[2] = UInt8(sum >> 8)
        packet[3] = UInt8(sum & 0xFF)
        return packet
    }

    /// The Internet checksum (RFC 1071).
    static func checksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < bytes.count {
            sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum += UInt32(bytes[index]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }
}

/// An HTTP/1.x answer as far as it has arrived.
struct HTTPAnswer {
    var status: Int
    var body: ArraySlice<UInt8>
    /// True when `Content-Length` says the body is all there.
    var isComplete: Bool

    /// Parses the status line and headers; nil until they have all arrived.
    init?(_ bytes: [UInt8]) {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 12, let end = HTTPAnswer.find(separator, in: bytes) else { return nil }
        let head = String(decoding: bytes[0..<end], as: UTF8.self)
        let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.first?.split(separator: " ") ?? []
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else { return nil }
        let body = bytes[(end + 4)...]
        var length: Int?
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].lowercased() == "content-length" {
                length = Int(line[line.index(after: colon)...].filter { $0 != " " && $0 != "\t" })
            }
        }
        self.status = status
        self.body = body
        isComplete = length.map { body.count >= $0 } ?? false
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<start + needle.count]) == needle { return start }
        }
        return nil
    }

    /// `"text"`, or the text as it is when it has quotes of its own.
    static func quote(_ text: String) -> String { text.contains("\"") ? text : "\"\(text)\"" }

    /// The start of a body for a message: one line, printable.
    static func excerpt(_ text: String) -> String {
        let flat = text.map { $0.isNewline || $0 == "\t" ? " " : $0 }
        let cut = String(flat.prefix(80))
        return "\"\(cut)\(flat.count > 80 ? "…" : "")\""
    }
}
