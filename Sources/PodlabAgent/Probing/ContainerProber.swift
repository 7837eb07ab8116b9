#if canImport(Glibc)
import Glibc
#endif
import CNetlink
import Netns
import PodNet

/// Where and how one container's probes run, worked out by the controller when the container
/// starts.
struct ContainerProbeTarget: Sendable {
    var podKey: String
    var podUID: String
    /// The container's status `containerID`: reports name the run they belong to.
    var containerID: String
    var container: Container
    /// The pod's network namespace (a name under /run/netns), where network probes connect from.
    var netns: String
    var podIP: IPv4Address
    /// When the container's process started (monotonic nanoseconds, `Prober.now()`).
    var startedAt: UInt64
    /// How an `exec` probe's command starts, as `podlab exec` starts it; the error when it cannot.
    var exec: @Sendable ([String]) -> Result<SpawnRequest, ProbeSetupError>
}

/// Why a probe could not run (the kubelet's "probe errored": its result does not count).
struct ProbeSetupError: Error, Sendable, CustomStringConvertible {
    var description: String
}

/// What the prober tells the controller: only changes, never a steady success.
struct ContainerProbeReport: Sendable {
    enum Kind: Sendable {
        /// `started` or `ready` changed.
        case status(started: Bool, ready: Bool)
        /// A probe failed (each failure, as the kubelet's `Unhealthy` events), or errored.
        case unhealthy(message: String)
        /// Liveness or startup failed `failureThreshold` times in a row: kill the container.
        case kill(reason: String, gracePeriodSeconds: Int64?)
    }

    var podKey: String
    var podUID: String
    var container: String
    var containerID: String
    var kind: Kind
}

/// Runs the probes of every running container on one thread: a heap of due times (the timer
/// wheel) and one epoll set for everything in flight (TCP and HTTP sockets opened inside the
/// pod's network namespace by the namespace worker, and for `exec` probes the command's output
/// pipe and pidfd). A steady success costs a socket, a connect and a few system calls, and
/// nothing else: the controller hears only of changes and failures. The decisions are
/// `PodNet`'s (`ContainerProbes`).
final class ContainerProber: @unchecked Sendable {
    typealias Reporter = @Sendable (ContainerProbeReport) -> Void

    private enum Command {
        case register(ContainerProbeTarget)
        case unregister(podUID: String, container: String?)
    }

    /// One registered container: its target and its probes' state (the prober thread's only).
    private final class Registration {
        let target: ContainerProbeTarget
        var probes: ContainerProbes
        init(_ target: ContainerProbeTarget) {
            self.target = target
            probes = ContainerProbes(target.container)
        }
    }

    /// One probe in flight.
    private struct Flight {
        enum Action {
            case tcp
            case http(request: [UInt8], sent: Int, answer: [UInt8])
            case exec(child: ChildProcess, pidfd: Int32, output: [UInt8], command: [String])
        }
        var key: ProbeKey
        var registration: Registration
        var fd: Int32
        var action: Action
        var deadline: UInt64
        var destination: String
        var url: String
        var timedOut = false
    }

    private struct ProbeKey: Hashable {
        var podUID: String
        var container: String
        var type: ContainerProbeType
    }

    private let report: Reporter
    private let commands = Locked<[Command]>([])
    /// Written to when commands are posted (read end first).
    private let wake: [Int32]
    private let epoll: Int32
    /// The prober thread's own state.
    private var registrations: [String: Registration] = [:]  // "uid/container"
    private var schedule = DeadlineHeap()
    private var scheduled: [Int: (key: ProbeKey, due: UInt64)] = [:]
    private var slotOfKey: [ProbeKey: Int] = [:]
    private var nextSlot = 1
    private var flights: [Int32: Flight] = [:]  // by the fd epoll reports (socket, pipe, or pidfd)
    private var flightDeadlines = DeadlineHeap()
    /// The most of an answer or of a command's output that is read (the kubelet's limit).
    static let maximumOutput = 10 * 1024

    /// Starts the prober's thread.
    init(report: @escaping Reporter) throws {
        self.report = report
        wake = try ContainerProber.nonblockingPipe()
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else { throw KernelError(operation: "epoll_create1", object: "container prober", errno: .current) }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = wake[0]
        epoll_ctl(epoll, EPOLL_CTL_ADD, wake[0], &event)
        try PlainThread.detach(name: "pod-probes") { self.loop() }
    }

    /// Starts probing a container that just started (a new run: its probes' counts start over).
    func register(_ target: ContainerProbeTarget) {
        guard target.container.hasProbes else { return }
        post(.register(target))
    }

    /// Stops probing a container (its process ended), or every container of a pod.
    func unregister(podUID: String, container: String? = nil) {
        post(.unregister(podUID: podUID, container: container))
    }

    private func post(_ command: Command) {
        commands.withLock { $0.append(command) }
        var byte: UInt8 = 1
        _ = write(wake[1], &byte, 1)
    }

    // MARK: The loop

    private func loop() {
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        while true {
            let now = Prober.now()
            var wait: Int32 = 1000
            for first in [schedule.first?.deadline, flightDeadlines.first?.deadline].compactMap({ $0 }) {
                wait = min(wait, first > now ? Int32(min(1000, (first - now + 999_999) / 1_000_000)) : 0)
            }
            let ready = epoll_wait(epoll, &events, Int32(events.count), wait)
            if ready > 0 {
                for event in events[0..<Int(ready)] {
                    if event.data.fd == wake[0] {
                        var drain = [UInt8](repeating: 0, count: 64)
                        while read(wake[0], &drain, drain.count) > 0 {}
                        applyCommands()
                    } else {
                        handle(fd: event.data.fd, events: event.events)
                    }
                }
            }
            expireFlights()
            runDueProbes()
        }
    }

    private func applyCommands() {
        let pending = commands.withLock { list -> [Command] in
            let taken = list
            list.removeAll()
            return taken
        }
        for command in pending {
            switch command {
            case let .register(target):
                let registration = Registration(target)
                let name = "\(target.podUID)/\(target.container.name)"
                registrations[name] = registration
                for type in registration.probes.workers.keys {
                    let probe = registration.probes.workers[type]!.probe
                    // The first run once `initialDelaySeconds` have passed since the start.
                    scheduleProbe(ProbeKey(podUID: target.podUID, container: target.container.name, type: type),
                                  at: target.startedAt + UInt64(max(0, probe.initialDelaySeconds)) * 1_000_000_000)
                }
            case let .unregister(podUID, container):
                for (name, registration) in registrations where registration.target.podUID == podUID
                    && (container == nil || registration.target.container.name == container) {
                    registrations[name] = nil
                    for type in ContainerProbeType.allCases {
                        let key = ProbeKey(podUID: podUID, container: registration.target.container.name, type: type)
                        if let slot = slotOfKey.removeValue(forKey: key) { scheduled[slot] = nil }
                    }
                }
            }
        }
    }

    private func scheduleProbe(_ key: ProbeKey, at due: UInt64) {
        let slot = slotOfKey[key] ?? {
            let slot = nextSlot
            nextSlot += 1
            slotOfKey[key] = slot
            return slot
        }()
        scheduled[slot] = (key, due)
        schedule.push(due, slot)
    }

    /// Starts the probes whose time has come; each is scheduled again one period on.
    private func runDueProbes() {
        let now = Prober.now()
        while let first = schedule.first, first.deadline <= now {
            schedule.pop()
            // Entries of unregistered or rescheduled probes stay in the heap until they come up.
            guard let entry = scheduled[first.slot], entry.due == first.deadline,
                  let registration = registrations["\(entry.key.podUID)/\(entry.key.container)"],
                  let worker = registration.probes.workers[entry.key.type] else { continue }
            scheduleProbe(entry.key, at: now + UInt64(max(1, worker.probe.periodSeconds)) * 1_000_000_000)
            // One probe of a kind at a time, as the kubelet's worker runs them.
            if flights.values.contains(where: { $0.key == entry.key }) { continue }
            let seconds = Int64((now - registration.target.startedAt) / 1_000_000_000)
            guard registration.probes.isDue(entry.key.type, secondsSinceStart: seconds) else { continue }
            start(entry.key, registration: registration, probe: worker.probe)
        }
    }

    // MARK: Running one probe

    private func start(_ key: ProbeKey, registration: Registration, probe: ContainerProbe) {
        let target = registration.target
        let deadline = Prober.now() + UInt64(max(1, probe.timeoutSeconds)) * 1_000_000_000
        if let exec = probe.exec {
            switch target.exec(exec.command) {
            case let .failure(error): return errored(key, registration, error.description)
            case let .success(request): return startExec(key, registration, request: request, command: exec.command, deadline: deadline)
            }
        }
        let portSpec = probe.httpGet?.port ?? probe.tcpSocket?.port
        guard let port = portSpec?.resolved(in: target.container), (1...65535).contains(port) else {
            return errored(key, registration, "port \(portSpec?.description ?? "") not found")
        }
        let hostText = probe.httpGet?.host ?? probe.tcpSocket?.host ?? ""
        let host = hostText.isEmpty ? target.podIP : (IPv4Address(hostText) ?? target.podIP)
        let destination = "\(host):\(port)"
        let fd: Int32
        do {
            // errno is the worker's: it comes back as the negative result.
            fd = try NetworkNamespace(unchecked: target.netns).perform {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                return fd >= 0 ? fd : -errno
            }
        } catch {
            return errored(key, registration, "cannot enter the pod's network namespace: \(error)")
        }
        guard fd >= 0 else { return errored(key, registration, "socket: \(ProbeErrno.describe(-fd))") }
        var action = Flight.Action.tcp
        var url = ""
        if let http = probe.httpGet {
            url = "http://\(destination)\(http.path.hasPrefix("/") ? "" : "/")\(http.path)"
            action = .http(request: ContainerProber.httpRequest(http, destination: destination), sent: 0, answer: [])
        }
        var address = Prober.socketAddress(host, port: UInt16(port))
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let code = errno
        if rc != 0, code != EINPROGRESS {
            close(fd)
            return finished(key, registration, success: false, output: ContainerProber.dialFailure(url: url, destination: destination, code))
        }
        flights[fd] = Flight(key: key, registration: registration, fd: fd, action: action, deadline: deadline, destination: destination, url: url)
        flightDeadlines.push(deadline, Int(fd))
        watch(fd, EPOLLOUT.rawValue, add: true)
    }

    private func startExec(_ key: ProbeKey, _ registration: Registration, request: SpawnRequest, command: [String], deadline: UInt64) {
        let fds: [Int32]
        do { fds = try ContainerProber.nonblockingPipe(blockingWriteEnd: true) } catch { return errored(key, registration, "\(error)") }
        var request = request
        request.stdin = .null
        request.stdout = .fd(fds[1])
        request.stderr = .fd(fds[1])
        request.newSession = true
        let child: ChildProcess
        do { child = try Spawner.spawn(request) } catch {
            close(fds[0])
            close(fds[1])
            return errored(key, registration, "\(error)")
        }
        close(fds[1])
        let pidfd = pl_pidfd_open(child.pid)
        guard pidfd >= 0 else {
            // Cannot happen for our own child before it is reaped; do not leave it behind.
            _ = try? child.signal(SIGKILL, group: true)
            _ = try? child.wait()
            close(fds[0])
            return errored(key, registration, "pidfd_open: \(ProbeErrno.describe(-pidfd))")
        }
        // The flight is found by the pidfd; the pipe is drained when the process has ended
        // (and while it runs, so a chatty command never blocks on a full pipe).
        let flight = Flight(key: key, registration: registration, fd: fds[0],
                            action: .exec(child: child, pidfd: pidfd, output: [], command: command), deadline: deadline,
                            destination: "", url: "")
        flights[pidfd] = flight
        flights[fds[0]] = flight
        flightDeadlines.push(deadline, Int(pidfd))
        watch(pidfd, EPOLLIN.rawValue, add: true)
        watch(fds[0], EPOLLIN.rawValue, add: true)
    }

    private func watch(_ fd: Int32, _ events: UInt32, add: Bool) {
        var event = epoll_event()
        event.events = events
        event.data.fd = fd
        epoll_ctl(epoll, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &event)
    }

    private func handle(fd: Int32, events: UInt32) {
        guard var flight = flights[fd] else { return }
        switch flight.action {
        case .tcp:
            let code = Prober.socketError(fd)
            // An immediate reset ends the connection: no FIN exchange, no TIME_WAIT in the pod.
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            end(fd)
            finished(flight.key, flight.registration, success: code == 0,
                     output: code == 0 ? "" : ContainerProber.dialFailure(url: "", destination: flight.destination, code))
        case .http(let request, var sent, var answer):
            if sent < request.count {
                // Writable: the connection is made (or failed); then the request goes out.
                let code = Prober.socketError(fd)
                guard code == 0 else {
                    end(fd)
                    return finished(flight.key, flight.registration, success: false,
                                    output: ContainerProber.dialFailure(url: flight.url, destination: flight.destination, code))
                }
                let n = request.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
                if n < 0 {
                    let code = errno
                    if code == EAGAIN || code == EINTR { return }
                    end(fd)
                    return finished(flight.key, flight.registration, success: false, output: "Get \"\(flight.url)\": \(ContainerProber.goError(code))")
                }
                sent += n
                flight.action = .http(request: request, sent: sent, answer: answer)
                flights[fd] = flight
                if sent == request.count { watch(fd, EPOLLIN.rawValue, add: false) }
                return
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n > 0 {
                    answer.append(contentsOf: chunk[0..<n])
                    // The status decides; the body does not matter.
                    if let parsed = HTTPAnswer(answer) {
                        end(fd)
                        return judge(flight, parsed)
                    }
                    if answer.count < ContainerProber.maximumOutput { continue }
                }
                if n < 0, errno == EAGAIN || errno == EINTR {
                    flight.action = .http(request: request, sent: sent, answer: answer)
                    flights[fd] = flight
                    return
                }
                end(fd)
                return finished(flight.key, flight.registration, success: false,
                                output: "Get \"\(flight.url)\": " + (answer.isEmpty ? "EOF" : "malformed HTTP response"))
            }
        case .exec(let child, let pidfd, var output, let command):
            let pipe = flight.fd
            drain(pipe, into: &output)
            guard fd == pidfd else {
                flight.action = .exec(child: child, pidfd: pidfd, output: output, command: command)
                flights[pipe] = flight
                flights[pidfd] = flight
                return
            }
            let status = (try? child.poll()) ?? nil
            end(pipe)
            end(pidfd)
            if flight.timedOut {
                return finished(flight.key, flight.registration, success: false,
                                output: "command \(FieldError.goQuoted(command.joined(separator: " "))) timed out")
            }
            let text = String(decoding: output.prefix(ContainerProber.maximumOutput), as: UTF8.self)
            finished(flight.key, flight.registration, success: status == .exited(0), output: text)
        }
    }

    private func judge(_ flight: Flight, _ answer: HTTPAnswer) {
        if (200..<400).contains(answer.status) {
            finished(flight.key, flight.registration, success: true, output: "")
        } else {
            finished(flight.key, flight.registration, success: false, output: "HTTP probe failed with statuscode: \(answer.status)")
        }
    }

    private func drain(_ fd: Int32, into output: inout [UInt8]) {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return }
            if output.count < ContainerProber.maximumOutput { output.append(contentsOf: chunk[0..<min(n, ContainerProber.maximumOutput - output.count)]) }
        }
    }

    /// Removes a descriptor from the set and closes it.
    private func end(_ fd: Int32) {
        flights[fd] = nil
        epoll_ctl(epoll, EPOLL_CTL_DEL, fd, nil)
        close(fd)
    }

    private func expireFlights() {
        let now = Prober.now()
        while let first = flightDeadlines.first, first.deadline <= now {
            flightDeadlines.pop()
            let fd = Int32(first.slot)
            guard var flight = flights[fd], flight.deadline == first.deadline, !flight.timedOut else { continue }
            switch flight.action {
            case .tcp:
                end(fd)
                finished(flight.key, flight.registration, success: false, output: "dial tcp \(flight.destination): i/o timeout")
            case .http:
                end(fd)
                finished(flight.key, flight.registration, success: false,
                         output: "Get \"\(flight.url)\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
            case let .exec(child, pidfd, _, _):
                // Killed; the result comes with its exit (the pidfd), which reaps it.
                flight.timedOut = true
                flights[pidfd] = flight
                flights[flight.fd] = flight
                _ = try? child.signal(SIGKILL, group: true)
            }
        }
    }

    // MARK: Results

    /// A probe that could not run: its result does not count (the kubelet throws it away).
    private func errored(_ key: ProbeKey, _ registration: Registration, _ message: String) {
        tell(registration, .unhealthy(message: ContainerProbes.errorMessage(key.type, error: message)))
    }

    private func finished(_ key: ProbeKey, _ registration: Registration, success: Bool, output: String) {
        // A container unregistered (or run again) while the probe was in flight: not its result.
        guard registrations["\(key.podUID)/\(key.container)"] === registration else { return }
        if !success { tell(registration, .unhealthy(message: ContainerProbes.failureMessage(key.type, output: output))) }
        switch registration.probes.record(key.type, success ? .success : .failure) {
        case .none:
            break
        case let .status(started, ready):
            tell(registration, .status(started: started, ready: ready))
            // Once started, readiness is probed at once (the kubelet's manual trigger).
            if key.type == .startup, started, registration.probes.workers[.readiness] != nil {
                scheduleProbe(ProbeKey(podUID: key.podUID, container: key.container, type: .readiness), at: Prober.now())
            }
        case let .kill(reason):
            let grace = registration.probes.workers[key.type]?.probe.terminationGracePeriodSeconds
            tell(registration, .kill(reason: reason, gracePeriodSeconds: grace))
        }
    }

    private func tell(_ registration: Registration, _ kind: ContainerProbeReport.Kind) {
        let target = registration.target
        report(ContainerProbeReport(podKey: target.podKey, podUID: target.podUID, container: target.container.name,
                                    containerID: target.containerID, kind: kind))
    }

    /// A pipe whose ends are closed on exec (read end first); the read end does not block, nor
    /// the write end unless a child is to write into it (its output must not fail with EAGAIN).
    static func nonblockingPipe(blockingWriteEnd: Bool = false) throws -> [Int32] {
        var fds: [Int32] = [-1, -1]
        guard fds.withUnsafeMutableBufferPointer({ pipe($0.baseAddress!) }) == 0 else {
            throw KernelError(operation: "pipe", object: "container prober", errno: .current)
        }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
        if !blockingWriteEnd { _ = fcntl(fds[1], F_SETFL, O_NONBLOCK) }
        return fds
    }

    // MARK: Messages and requests

    /// The GET the kubelet sends: its user agent, `Accept: */*`, the header fields asked for
    /// (a `Host` among them replaces the default one).
    static func httpRequest(_ action: HTTPGetAction, destination: String) -> [UInt8] {
        var headers: [(String, String)] = [("Host", destination), ("User-Agent", "kube-probe/1.31"), ("Accept", "*/*")]
        for header in action.httpHeaders {
            if let index = headers.firstIndex(where: { $0.0.lowercased() == header.name.lowercased() }) {
                headers[index] = (header.name, header.value)
            } else {
                headers.append((header.name, header.value))
            }
        }
        let path = action.path.hasPrefix("/") ? action.path : "/" + action.path
        var text = "GET \(path) HTTP/1.1\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        text += "Connection: close\r\n\r\n"
        return Array(text.utf8)
    }

    /// A failed connection as Go's dialer words it (`dial tcp 10.244.1.5:80: connect: connection
    /// refused`), inside the HTTP client's `Get "URL": …` for HTTP probes.
    static func dialFailure(url: String, destination: String, _ code: Int32) -> String {
        let dial = "dial tcp \(destination): connect: \(goError(code))"
        return url.isEmpty ? dial : "Get \"\(url)\": \(dial)"
    }

    /// Go's text of an errno: strerror's, starting in lower case (`connection refused`).
    static func goError(_ code: Int32) -> String {
        let text = String(cString: strerror(code))
        return text.prefix(1).lowercased() + text.dropFirst()
    }
}
