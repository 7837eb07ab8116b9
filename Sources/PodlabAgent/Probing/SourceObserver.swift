#if canImport(Glibc)
import Glibc
#endif
import CNetlink
import Netns
import PodNet

/// What the destination saw: the source address and port, or why it is unknown.
typealias Observation = Result<String, ObservationFailure>

/// Why the source a destination sees could not be read.
struct ObservationFailure: Error, Hashable, Sendable, CustomStringConvertible {
    var description: String
}

/// Reads the source address a destination pod sees for traffic from a source pod.
///
/// A probe's own socket knows only the address it sent from; address translation on the way
/// (a node that masquerades pod traffic) never shows there. The agent holds every pod's
/// namespace, so it listens itself inside the destination pod — on a port of its own, next to
/// whatever the containers serve — has the source pod connect there, and reads the peer address
/// of the connection it accepts: the address the destination pod really saw. One witness per
/// (source pod, destination address, transport) serves all the probes between them. TCP probes
/// whose connection stays open need no witness: the destination's connection table shows
/// them (`ProbeRun.tableReads`); a witness serves only where that table cannot tell.
///
/// Sockets are created on the namespace worker while it is inside each pod (a socket stays in
/// the namespace it was created in), grouped so that each namespace is entered once; binding,
/// connecting and accepting happen afterwards on ordinary threads.
enum SourceObserver {
    /// One connection (or datagram) from a source pod to a socket inside the destination pod.
    struct Witness: Hashable, Sendable {
        var sourceNetns: String
        var destinationNetns: String
        var destination: IPv4Address
        /// A UDP datagram instead of a TCP connection.
        var datagram: Bool
    }

    /// Witnesses in flight per thread: as for probes, few enough that the packets of one burst
    /// never overflow the kernel's per-CPU backlog.
    static let windowPerThread = Prober.windowPerThread

    /// The observation for each job that asks for one (by job index), of the jobs `included`.
    static func observe(_ jobs: [ProbeJob], included: (Int) -> Bool = { _ in true }) -> [Int: Observation] {
        var witnesses: [Witness] = []
        var timeouts: [Int] = []
        var positions: [Witness: Int] = [:]
        var result: [Int: Observation] = [:]
        var waiting: [(job: Int, witness: Int)] = []
        for (index, job) in jobs.enumerated() where job.request.observesSource && included(index) {
            switch job.observeIn {
            case nil:
                result[index] = .failure(ObservationFailure(description: "the agent was not asked to observe the source"))
            case let .failure(failure)?:
                result[index] = .failure(failure)
            case let .success(netns)?:
                let witness = Witness(sourceNetns: job.netns, destinationNetns: netns, destination: job.destination,
                                      datagram: job.request.kind == .udp)
                let position: Int
                if let known = positions[witness] {
                    position = known
                    timeouts[known] = max(timeouts[known], job.request.effectiveTimeoutMillis)
                } else {
                    position = witnesses.count
                    positions[witness] = position
                    witnesses.append(witness)
                    timeouts.append(job.request.effectiveTimeoutMillis)
                }
                waiting.append((index, position))
            }
        }
        guard !witnesses.isEmpty else { return result }
        let observed = run(witnesses, timeouts: timeouts)
        for (job, witness) in waiting { result[job] = observed[witness] }
        return result
    }

    /// Runs the witnesses in batches that fit the descriptor budget (three descriptors each:
    /// the listener, the client and the accepted connection).
    static func run(_ witnesses: [Witness], timeouts: [Int]) -> [Observation] {
        let run = ObservationRun(witnesses, timeouts: timeouts)
        defer { run.release() }
        let batch = max(16, Prober.descriptorBudget() / 3)
        var start = 0
        while start < witnesses.count {
            let range = start..<min(witnesses.count, start + batch)
            run.openSockets(range)
            let threads = min(Prober.threadCount, max(1, range.count / 64))
            Prober.runThreads(threads, name: "observe") { thread in
                var loop = ObservationLoop(run: run, indices: Array(stride(from: range.lowerBound + thread, to: range.upperBound, by: threads)))
                loop.runAll()
            }
            run.closeSockets(range)
            start = range.upperBound
        }
        return run.collect()
    }
}

/// The shared state of the witnesses: per witness the socket in the destination pod (the
/// listener, or the datagram receiver), the socket in the source pod, and the observation.
/// Threads touch disjoint slots only.
final class ObservationRun: @unchecked Sendable {
    let witnesses: [SourceObserver.Witness]
    let timeouts: [Int]
    let listeners: UnsafeMutableBufferPointer<Int32>
    let clients: UnsafeMutableBufferPointer<Int32>
    let results: UnsafeMutableBufferPointer<Observation?>

    init(_ witnesses: [SourceObserver.Witness], timeouts: [Int]) {
        self.witnesses = witnesses
        self.timeouts = timeouts
        listeners = .allocate(capacity: witnesses.count)
        listeners.initialize(repeating: -1)
        clients = .allocate(capacity: witnesses.count)
        clients.initialize(repeating: -1)
        results = .allocate(capacity: witnesses.count)
        results.initialize(repeating: nil)
    }

    func release() {
        closeSockets(witnesses.indices)
        listeners.deallocate()
        clients.deallocate()
        _ = results.deinitialize()
        results.deallocate()
    }

    func fail(_ index: Int, _ text: String) {
        if results[index] == nil { results[index] = .failure(ObservationFailure(description: text)) }
    }

    func collect() -> [Observation] {
        witnesses.indices.map { results[$0] ?? .failure(ObservationFailure(description: "the observation did not run")) }
    }

    func closeSockets(_ range: Range<Int>) {
        for index in range {
            if clients[index] >= 0 { close(clients[index]) }
            if listeners[index] >= 0 { close(listeners[index]) }
            clients[index] = -1
            listeners[index] = -1
        }
    }

    /// Creates the sockets of `range`: the destination sides in each destination pod, then the
    /// source sides in each source pod, entering each namespace once.
    func openSockets(_ range: Range<Int>) {
        open(range, in: \.destinationNetns, into: listeners, side: "the destination pod's")
        open(range, in: \.sourceNetns, into: clients, side: "the source pod's")
    }

    private func open(_ range: Range<Int>, in netns: KeyPath<SourceObserver.Witness, String>, into fds: UnsafeMutableBufferPointer<Int32>,
                      side: String) {
        var order: [String] = []
        var groups: [String: [Int]] = [:]
        for index in range where results[index] == nil {
            let name = witnesses[index][keyPath: netns]
            if groups[name] == nil { order.append(name) }
            groups[name, default: []].append(index)
        }
        for name in order {
            let group = groups[name]!
            let types = group.map { witnesses[$0].datagram ? Int32(SOCK_DGRAM.rawValue) : Int32(SOCK_STREAM.rawValue) }
            do {
                try group.withUnsafeBufferPointer { indices in
                    try types.withUnsafeBufferPointer { types in
                        try NetworkNamespace(unchecked: name).perform {
                            let flags = Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
                            for position in 0..<indices.count {
                                let fd = socket(AF_INET, types[position] | flags, 0)
                                fds[indices[position]] = fd >= 0 ? fd : -errno
                            }
                        }
                    }
                }
            } catch {
                for index in group { fail(index, "cannot enter \(side) network namespace: \(error)") }
            }
            for index in group where fds[index] < -1 {
                fail(index, "socket in \(side) namespace: \(ProbeErrno.describe(-fds[index]))")
                fds[index] = -1
            }
        }
    }
}

/// One thread's share of the witnesses: an epoll loop with at most `windowPerThread` in flight.
/// TCP: the destination side listens on an ephemeral port of the destination address, the
/// source side connects there, the accepted connection's peer is the observation. UDP: the
/// destination side is bound the same way, the source side sends one datagram, its sender is
/// the observation.
struct ObservationLoop: EpollWindowLoop {
    let run: ObservationRun
    let indices: [Int]
    /// Per slot: when its witness started (0: not in flight).
    var started: [UInt64]
    /// The datagram each UDP witness sends, to tell it from anything else that arrives.
    var tokens: [[UInt8]]
    var deadlines = DeadlineHeap()
    var active = 0
    let epoll: Int32

    /// Event data: slot * 2 for the destination side, slot * 2 + 1 for the source side.
    static func tag(_ slot: Int, source: Bool) -> UInt64 { UInt64(slot) * 2 + (source ? 1 : 0) }

    init(run: ObservationRun, indices: [Int]) {
        self.run = run
        self.indices = indices
        started = Array(repeating: 0, count: indices.count)
        tokens = Array(repeating: [], count: indices.count)
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
    }

    mutating func runAll() {
        defer { if epoll >= 0 { close(epoll) } }
        guard epoll >= 0 else {
            let code = errno
            for index in indices { run.fail(index, "epoll_create1: \(ProbeErrno.describe(code))") }
            return
        }
        drive(count: indices.count, window: SourceObserver.windowPerThread)
    }

    mutating func handle(_ event: epoll_event) {
        handle(slot: Int(event.data.u64 / 2), source: event.data.u64 % 2 == 1, events: event.events)
    }

    mutating func start(slot: Int) {
        let index = indices[slot]
        guard run.results[index] == nil else { return }  // no sockets
        let witness = run.witnesses[index]
        let listener = run.listeners[index], client = run.clients[index]
        var local = Prober.socketAddress(witness.destination, port: 0)
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            return run.fail(index, "bind \(witness.destination):0 in the destination pod: \(ProbeErrno.describe(errno))")
        }
        if !witness.datagram, listen(listener, 4) != 0 {
            return run.fail(index, "listen in the destination pod: \(ProbeErrno.describe(errno))")
        }
        guard let port = Prober.localPort(of: listener) else {
            return run.fail(index, "getsockname in the destination pod: \(ProbeErrno.describe(errno))")
        }
        started[slot] = Prober.now()
        active += 1
        deadlines.push(started[slot] + UInt64(run.timeouts[index]) * 1_000_000, slot)
        guard watch(listener, Self.tag(slot, source: false), EPOLLIN.rawValue, slot: slot) else { return }
        var remote = Prober.socketAddress(witness.destination, port: port)
        let rc = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 && errno != EINPROGRESS {
            return finish(slot: slot, .failure(ObservationFailure(description: "connect to \(witness.destination):\(port): \(ProbeErrno.describe(errno))")))
        }
        if witness.datagram {
            // Without IP_RECVERR a datagram socket keeps "soft" ICMP errors to itself.
            var one: Int32 = 1
            setsockopt(client, Int32(IPPROTO_IP), IP_RECVERR, &one, socklen_t(MemoryLayout<Int32>.size))
            tokens[slot] = Array("podlab-observe \(index) \(started[slot])\n".utf8)
            let sent = tokens[slot].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent == tokens[slot].count else {
                return finish(slot: slot, .failure(ObservationFailure(description: "send to \(witness.destination):\(port): \(ProbeErrno.describe(sent < 0 ? errno : EMSGSIZE))")))
            }
            // Only errors (EPOLLERR is always reported).
            _ = watch(client, Self.tag(slot, source: true), 0, slot: slot)
        } else {
            _ = watch(client, Self.tag(slot, source: true), EPOLLOUT.rawValue, slot: slot)
        }
    }

    /// Adds `fd` to the epoll set; a failure ends the witness.
    mutating func watch(_ fd: Int32, _ tag: UInt64, _ events: UInt32, slot: Int) -> Bool {
        var event = epoll_event()
        event.events = events
        event.data.u64 = tag
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) == 0 else {
            finish(slot: slot, .failure(ObservationFailure(description: "epoll_ctl: \(ProbeErrno.describe(errno))")))
            return false
        }
        return true
    }

    mutating func handle(slot: Int, source: Bool, events: UInt32) {
        guard started[slot] != 0 else { return }
        let index = indices[slot]
        let witness = run.witnesses[index]
        if source {
            // The source side: a connect that completed (nothing to do until the destination
            // accepts), or an error the network answered with.
            let fd = run.clients[index]
            let code = Prober.socketError(fd)
            if code != 0 {
                return finish(slot: slot, .failure(ObservationFailure(description: "from the source pod to \(witness.destination): \(ProbeErrno.describe(code))")))
            }
            epoll_ctl(epoll, EPOLL_CTL_DEL, fd, nil)
            return
        }
        let fd = run.listeners[index]
        var peer = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        if witness.datagram {
            var buffer = [UInt8](repeating: 0, count: 512)
            while true {
                let n = withUnsafeMutablePointer(to: &peer) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                        buffer.withUnsafeMutableBytes { recvfrom(fd, $0.baseAddress, $0.count, 0, address, &length) }
                    }
                }
                if n < 0 {
                    let code = errno
                    if code == EAGAIN || code == EINTR { return }
                    return finish(slot: slot, .failure(ObservationFailure(description: "recvfrom in the destination pod: \(ProbeErrno.describe(code))")))
                }
                // Anything else that reached the port (it is ephemeral, but not secret) is not the witness.
                if Array(buffer[0..<n]) == tokens[slot] { break }
                length = socklen_t(MemoryLayout<sockaddr_in>.size)
            }
        } else {
            let accepted = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pl_accept_nonblocking(fd, $0, &length) }
            }
            if accepted < 0 {
                if -accepted == EAGAIN || -accepted == EINTR || -accepted == ECONNABORTED { return }
                return finish(slot: slot, .failure(ObservationFailure(description: "accept in the destination pod: \(ProbeErrno.describe(-accepted))")))
            }
            Self.reset(accepted)
        }
        let address = IPv4Address(UInt32(bigEndian: peer.sin_addr.s_addr))
        finish(slot: slot, .success("\(address):\(UInt16(bigEndian: peer.sin_port))"))
    }

    /// Times out the witnesses whose deadline has passed.
    mutating func expire() {
        let now = Prober.now()
        while let first = deadlines.first, first.deadline <= now {
            deadlines.pop()
            guard started[first.slot] != 0 else { continue }
            let index = indices[first.slot]
            let witness = run.witnesses[index]
            let what = witness.datagram ? "no datagram from the source pod arrived" : "no connection from the source pod arrived"
            finish(slot: first.slot, .failure(ObservationFailure(description: "\(what) at \(witness.destination) within \(run.timeouts[index]) ms")))
        }
    }

    mutating func finish(slot: Int, _ observation: Observation) {
        let index = indices[slot]
        if started[slot] != 0 {
            started[slot] = 0
            active -= 1
        }
        run.results[index] = observation
        // A reset from the source side: no FIN exchange and no TIME_WAIT in either pod.
        if run.clients[index] >= 0 {
            if !run.witnesses[index].datagram { Self.reset(run.clients[index], closing: false) }
            close(run.clients[index])
            run.clients[index] = -1
        }
        if run.listeners[index] >= 0 {
            close(run.listeners[index])
            run.listeners[index] = -1
        }
    }

    /// Sets a zero linger time, so closing sends a reset; closes the socket unless told not to.
    static func reset(_ fd: Int32, closing: Bool = true) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        if closing { close(fd) }
    }
}
