#if canImport(Glibc)
import Glibc
#endif
import CNetlink
import Netns
import PodNet

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
        /// When this flight (or its current try) times out.
        var deadline: UInt64 = 0
        /// `http` with tries: the try under way (0 first) and who answered the ones before.
        var attempt = 0
        var answeredBy: [String: Int] = [:]
        /// `dns`: the names to ask for in turn, the one asked now, and the query's id.
        var names: [String] = []
        var nameIndex = 0
        var queryID: UInt16 = 0
        /// `dns`: the first answer that had the name but no address (NODATA), which a resolver
        /// reports if no later name has addresses.
        var noData: DNSQuery.Answer?
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

    /// An event's data is the slot, with the try in the upper half: an event of a try's socket
    /// that arrives in one `epoll_wait` batch with the event that ended that try is stale.
    mutating func handle(_ event: epoll_event) {
        let slot = Int(event.data.u64 & 0xFFFF_FFFF)
        guard let flight = flights[slot], flight.attempt == Int(event.data.u64 >> 32) else { return }
        handle(slot: slot, events: event.events)
    }

    /// Times out the probes whose deadline has passed.
    mutating func expire() {
        let now = Prober.now()
        while let first = deadlines.first, first.deadline <= now {
            deadlines.pop()
            guard let flight = flights[first.slot], flight.deadline == first.deadline else { continue }
            let timeout = run.jobs[flight.index].request.effectiveTimeoutMillis
            let what: String
            switch (run.jobs[flight.index].request.kind, flight.phase) {
            case (.tcp, _), (.http, .connecting): what = "no answer to the connection request"
            case (.http, _): what = "no complete HTTP answer"
            case (.udp, _): what = "no datagram came back"
            case (.icmp, _): what = "no echo reply"
            case (.dns, _): what = "no answer from the nameserver"
            default: what = "no answer"
            }
            let attempt = run.jobs[flight.index].request.effectiveTries > 1 ? "try \(flight.attempt + 1) of \(run.jobs[flight.index].request.effectiveTries): " : ""
            finish(slot: first.slot, .timeout, "\(attempt)\(what) within \(timeout) ms")
        }
    }

    // MARK: Starting

    mutating func start(slot: Int) {
        let index = indices[slot]
        guard run.results[index] == nil else { return }  // failed before it started (no socket)
        let job = run.jobs[index]
        let fd = run.fds[index]
        let started = Prober.now()
        let deadline = started + UInt64(job.request.effectiveTimeoutMillis) * 1_000_000
        flights[slot] = Flight(index: index, fd: fd, started: started, phase: .connecting, deadline: deadline)
        active += 1
        deadlines.push(deadline, slot)
        let port = UInt16(job.request.port ?? 0)
        switch job.request.kind {
        case .bind:
            bind(slot: slot, port: port)
        case .tcp, .http:
            connectStream(slot: slot)
        case .dns:
            startLookup(slot: slot)
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

    /// A non-blocking connect of the flight's TCP socket (`tcp`, `http`, each try of `http`).
    mutating func connectStream(slot: Int) {
        let flight = flights[slot]!
        let job = run.jobs[flight.index]
        let port = UInt16(job.request.port ?? 0)
        if job.request.kind == .http { flights[slot]!.output = Self.httpRequest(job, port: port) }
        var address = Prober.socketAddress(job.destination, port: port)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(flight.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc == 0 {
            connected(slot: slot)
        } else if errno == EINPROGRESS {
            watch(slot: slot, for: EPOLLOUT.rawValue)
        } else {
            failed(slot: slot, errno, during: "connect")
        }
    }

    /// The next try of an `http` probe with tries: on a socket of its own (opened in the pod with
    /// the first), with a deadline of its own.
    mutating func nextAttempt(slot: Int) {
        let flight = flights[slot]!
        let spare = run.spareStarts[flight.index] + flight.attempt
        close(flight.fd)
        let fd = run.spares[spare]
        run.spares[spare] = -1
        run.fds[flight.index] = fd
        let deadline = Prober.now() + UInt64(run.jobs[flight.index].request.effectiveTimeoutMillis) * 1_000_000
        flights[slot]!.fd = fd
        flights[slot]!.attempt += 1
        flights[slot]!.phase = .connecting
        flights[slot]!.sent = 0
        flights[slot]!.input = []
        flights[slot]!.registered = false
        flights[slot]!.deadline = deadline
        deadlines.push(deadline, slot)
        connectStream(slot: slot)
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
        event.data.u64 = UInt64(slot) | UInt64(flights[slot]!.attempt) << 32
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
            switch kind {
            case .http: readAnswer(slot: slot)
            case .dns: readLookup(slot: slot)
            default: readEcho(slot: slot)
            }
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
        let attempt = request.effectiveTries > 1 ? "try \(flights[slot]!.attempt + 1) of \(request.effectiveTries): " : ""
        guard answer.status == status else {
            return finish(slot: slot, .wrongAnswer, "\(attempt)HTTP \(answer.status) (expected \(status))")
        }
        if request.tries != nil {
            let hostname = ServerProgram.answeringHostname(String(decoding: answer.body, as: UTF8.self)) ?? "?"
            flights[slot]!.answeredBy[hostname, default: 0] += 1
            if flights[slot]!.attempt + 1 < request.effectiveTries { return nextAttempt(slot: slot) }
            let counts = flights[slot]!.answeredBy.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }
            return finish(slot: slot, .connected, "\(request.effectiveTries) × HTTP \(answer.status), answered by \(counts.joined(separator: ", "))")
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

    // MARK: DNS

    /// Sends the first query of a lookup from the pod to its nameserver.
    mutating func startLookup(slot: Int) {
        let flight = flights[slot]!
        let job = run.jobs[flight.index]
        var address = Prober.socketAddress(job.destination, port: UInt16(ProbeRequest.dnsPort))
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(flight.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { return failed(slot: slot, errno, during: "connect") }
        var one: Int32 = 1
        setsockopt(flight.fd, Int32(IPPROTO_IP), IP_RECVERR, &one, socklen_t(MemoryLayout<Int32>.size))
        flights[slot]!.names = job.request.queryNames
        flights[slot]!.phase = .receiving
        sendQuery(slot: slot)
        if flights[slot] != nil { watch(slot: slot, for: EPOLLIN.rawValue) }
    }

    mutating func sendQuery(slot: Int) {
        let flight = flights[slot]!
        let id = UInt16(truncatingIfNeeded: flight.index &* 2_654_435_761 &+ flight.nameIndex &+ Int(getpid()))
        flights[slot]!.queryID = id
        let query = DNSQuery.encode(id: id, name: flight.names[flight.nameIndex])
        let sent = query.withUnsafeBytes { send(flight.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if sent != query.count { failed(slot: slot, sent < 0 ? errno : EMSGSIZE, during: "send") }
    }

    /// An answer to the name asked now: the next name of the search list on NXDOMAIN or NODATA,
    /// as a resolver goes on; else the lookup's result.
    mutating func readLookup(slot: Int) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while let flight = flights[slot] {
            let n = buffer.withUnsafeMutableBytes { recv(flight.fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                let code = errno
                if code == EAGAIN || code == EINTR { return }
                return failed(slot: slot, code, during: "recv")
            }
            guard let answer = DNSQuery.decode(Array(buffer[0..<n])), answer.id == flight.queryID else { continue }  // not ours
            let name = flight.names[flight.nameIndex]
            let empty = answer.addresses.isEmpty
            if empty, answer.rcode == 0, flight.noData == nil { flights[slot]!.noData = answer }
            if empty, answer.rcode == 0 || answer.rcode == DNSQuery.nameError, flight.nameIndex + 1 < flight.names.count {
                flights[slot]!.nameIndex += 1
                sendQuery(slot: slot)
                continue
            }
            let final = empty && answer.rcode != 0 ? (flights[slot]!.noData ?? answer) : answer
            return judgeLookup(slot: slot, final, name: name)
        }
    }

    mutating func judgeLookup(slot: Int, _ answer: DNSQuery.Answer, name: String) {
        let request = run.jobs[flights[slot]!.index].request
        let addresses = answer.addresses.sorted().map(\.description)
        let shown = addresses.isEmpty ? "no address" : addresses.joined(separator: ", ")
        let tried = flights[slot]!.names.count > 1 ? " (\(flights[slot]!.nameIndex + 1) of \(flights[slot]!.names.count) names tried)" : ""
        var outcome: ProbeOutcome
        var detail: String
        if answer.rcode != 0 {
            outcome = .wrongAnswer
            detail = "\(answer.rcodeName) for \(flights[slot]!.names.joined(separator: ", "))"
        } else if let expected = request.expectAddresses {
            let matches = Set(addresses) == Set(expected.compactMap(IPv4Address.init).map(\.description))
            outcome = matches ? .connected : .wrongAnswer
            detail = "\(name): \(shown)\(tried)" + (matches ? "" : ", expected \(expected.isEmpty ? "no address" : expected.joined(separator: ", "))")
        } else {
            outcome = addresses.isEmpty ? .wrongAnswer : .connected
            detail = "\(name): \(shown)\(tried)"
        }
        if answer.truncated { detail += " (truncated)" }
        finish(slot: slot, outcome, detail, answers: addresses)
    }

    // MARK: Finishing

    mutating func failed(slot: Int, _ code: Int32, during operation: String) {
        var attempt = ""
        if let flight = flights[slot], run.jobs[flight.index].request.effectiveTries > 1 {
            attempt = "try \(flight.attempt + 1) of \(run.jobs[flight.index].request.effectiveTries): "
        }
        finish(slot: slot, ProbeErrno.outcome(code), "\(attempt)\(operation): \(ProbeErrno.describe(code))")
    }

    mutating func finish(slot: Int, _ outcome: ProbeOutcome, _ detail: String, source: String? = nil, answers: [String]? = nil) {
        guard let flight = flights[slot] else { return }
        let elapsed = Prober.millis(Prober.now() - flight.started)
        let job = run.jobs[flight.index]
        let withPort = job.request.kind != .icmp
        var result = ProbeResult(id: job.request.id, outcome: outcome, latencyMillis: elapsed,
                                 source: source ?? Prober.address(of: flight.fd, peer: false, withPort: withPort),
                                 destination: Prober.address(of: flight.fd, peer: true, withPort: withPort), detail: detail,
                                 answers: answers, answeredBy: job.request.tries != nil ? flight.answeredBy : nil)
        if result.destination == nil, job.request.kind != .bind {
            result.destination = job.request.kind.needsPort ? "\(job.destination):\(job.request.port ?? 0)"
                : job.request.kind == .dns ? "\(job.destination):\(ProbeRequest.dnsPort)" : job.destination.description
        }
        if result.source?.hasPrefix("0.0.0.0") == true, job.request.kind != .bind { result.source = nil }
        if !(outcome == .connected && run.keepsOpen[flight.index]) {
            close(flight.fd)
            run.fds[flight.index] = -1
        } else if flight.registered {
            // Kept open, it leaves the epoll set: the set is level-triggered and a connected
            // socket is always writable, so it would come back from every `epoll_wait`, and
            // thousands of them (a ClusterIP's 100 probes each) filled the event batches with
            // stale entries while the probes in flight waited behind them.
            epoll_ctl(epoll, EPOLL_CTL_DEL, flight.fd, nil)
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
