#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Netns
import PodNet

/// `podlab test --scenario mesh`: the mesh's claims on the user's lab, in two namespaces of its
/// own (`MeshScenario`): captured traffic, STRICT refusing plain text, 403 for an identity the
/// MeshPolicy does not admit, retries hiding a backend that fails half its requests, a 90/10
/// split over 1 000 requests. Every request is made by curl run inside a client pod (as `podlab
/// exec` runs it: the pod's namespaces, the container's user, so the pod's capture rules send
/// it through its sidecar); nothing is sent from the host's namespace. One line per case with
/// its figure; everything it made goes with its namespaces, on failure too (unless `--keep`).
struct MeshScenarioRun {
    let client: APIClient
    let context: CommandContext
    let namespace: String
    let outsider: String
    /// The flaky Route's retries (`MeshScenario.retryAttempts`; fewer only to see the case fail).
    let retryAttempts: Int
    var readyTimeout: Duration = .seconds(120)
    /// How long the sidecars may take to learn the scenario's Services, Routes and peers.
    var settleTimeout: Duration = .seconds(30)

    init(client: APIClient, context: CommandContext, retryAttempts: Int) {
        self.client = client
        self.context = context
        self.retryAttempts = retryAttempts
        let suffix = SafeAlphabet.random()
        namespace = MeshScenario.namespace(suffix: suffix)
        outsider = MeshScenario.outsiderNamespace(suffix: suffix)
    }

    struct Report {
        var verdicts: [MeshScenario.Verdict]
        var setUpSeconds: Double
        var totalSeconds: Double
        var passed: Bool { !verdicts.isEmpty && verdicts.allSatisfy(\.passed) }
    }

    /// What the cases need to know about the lab's objects.
    struct Addresses {
        var clusterIPs: [String: String] = [:]
        var podIPs: [String: String] = [:]

        func url(_ service: String, path: String = "/") -> String { "http://\(clusterIPs[service] ?? "0.0.0.0")\(path)" }
    }

    // MARK: Running

    static func execute(client: APIClient, context: CommandContext, json: Bool, keep: Bool, retryAttempts: Int) async throws -> Int32 {
        let run = MeshScenarioRun(client: client, context: context, retryAttempts: retryAttempts)
        var progress = ProgressLine(context.stderr)
        let report: Report
        do {
            report = try await run.run(progress: &progress)
        } catch {
            progress.finish()
            if keep { context.stderr.line("kept namespaces \(run.namespace), \(run.outsider)") } else { await run.remove() }
            throw error
        }
        progress.finish()
        run.print(report, json: json)
        if keep { context.stderr.line("kept namespaces \(run.namespace), \(run.outsider)") } else { await run.remove() }
        return report.passed ? 0 : 1
    }

    func run(progress: inout ProgressLine) async throws -> Report {
        let started = ContinuousClock.now
        progress.update("mesh: creating namespaces \(namespace) and \(outsider)")
        try await post(Namespace.collectionPath(namespace: nil), MeshScenario.namespaceObject(namespace))
        try await post(Namespace.collectionPath(namespace: nil), MeshScenario.namespaceObject(outsider))
        progress.update("mesh: creating Services, Routes, a MeshPolicy and the backends")
        for object in MeshScenario.backendObjects(namespace: namespace, retryAttempts: retryAttempts) {
            try await post(Self.collectionPath(of: object, namespace: namespace), object)
        }
        progress.update("mesh: starting the clients")
        try await post(APIPath.pods(namespace), MeshScenario.clientPod(MeshScenario.client, namespace: namespace, meshed: true))
        try await post(APIPath.pods(namespace), MeshScenario.clientPod(MeshScenario.plainClient, namespace: namespace, meshed: false))
        try await post(APIPath.pods(outsider), MeshScenario.clientPod(MeshScenario.client, namespace: outsider, meshed: true))
        let addresses = try await waitForPods(progress: &progress)
        try await settle(addresses, progress: &progress)
        let setUp = Self.seconds(since: started)

        var verdicts: [MeshScenario.Verdict] = []
        progress.update("mesh: captured traffic")
        verdicts.append(try await timed { try await captured(addresses) })
        progress.update("mesh: STRICT against plain text")
        verdicts.append(try await timed { try await strict(addresses) })
        progress.update("mesh: MeshPolicy")
        verdicts.append(try await timed { try await authorization(addresses) })
        progress.update("mesh: \(MeshScenario.flakyRequests + MeshScenario.retriedRequests) requests to the flaky backend, "
                        + "\(MeshScenario.splitRequests) through the split")
        // Independent Services from one client: the two batches run side by side.
        async let retries = timed { try await self.retries(addresses) }
        async let split = timed { try await self.split(addresses) }
        verdicts.append(try await retries)
        verdicts.append(try await split)
        return Report(verdicts: verdicts, setUpSeconds: setUp, totalSeconds: Self.seconds(since: started))
    }

    private func timed(_ body: () async throws -> MeshScenario.Verdict) async throws -> MeshScenario.Verdict {
        let started = ContinuousClock.now
        var verdict = try await body()
        verdict.seconds = Self.seconds(since: started)
        return verdict
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    private func post(_ path: String, _ object: JSONValue) async throws {
        _ = try await client.send(.POST, path, body: Data(object.jsonText(indent: 0).utf8))
    }

    static func collectionPath(of object: JSONValue, namespace: String) -> String {
        switch object["kind"]?.stringValue {
        case "Service": Service.collectionPath(namespace: namespace)
        case MeshRoute.kind: MeshRoute.collectionPath(namespace: namespace)
        case MeshPolicy.kind: MeshPolicy.collectionPath(namespace: namespace)
        default: APIPath.pods(namespace)
        }
    }

    /// Waits until every pod of the scenario is Ready (its sidecar too); their addresses and the
    /// Services' ClusterIPs.
    private func waitForPods(progress: inout ProgressLine) async throws -> Addresses {
        let wanted = MeshScenario.pods(namespace: namespace, outsider: outsider)
        let deadline = ContinuousClock.now + readyTimeout
        var addresses = Addresses()
        while true {
            let pods = try await client.get(PodList.self, APIPath.pods(namespace)).items + client.get(PodList.self, APIPath.pods(outsider)).items
            let ready = pods.filter { $0.status.condition(.ready)?.status == .true && !$0.status.podIP.isEmpty }
            for pod in ready { addresses.podIPs["\(pod.metadata.namespace)/\(pod.metadata.name)"] = pod.status.podIP }
            if wanted.allSatisfy({ addresses.podIPs[$0] != nil }) { break }
            guard ContinuousClock.now < deadline else {
                let missing = wanted.filter { addresses.podIPs[$0] == nil }
                throw CLIError("mesh scenario: \(missing.joined(separator: ", ")) not ready in \(readyTimeout.components.seconds)s")
            }
            progress.update("mesh: waiting for the pods: \(ready.count)/\(wanted.count) ready")
            try await context.pause()
        }
        for service in [MeshScenario.web, MeshScenario.flaky, MeshScenario.flakyRetried, MeshScenario.split] {
            let object = try await client.get(Service.self, Service.path(namespace: namespace, name: service))
            guard !object.spec.clusterIP.isEmpty else { throw CLIError("mesh scenario: service \(namespace)/\(service) has no ClusterIP") }
            addresses.clusterIPs[service] = object.spec.clusterIP
        }
        return addresses
    }

    /// The sidecars learn Services, endpoints, peers and Routes by watch: each client asks until
    /// its answers show they know them (requests made meanwhile are not counted).
    private func settle(_ addresses: Addresses, progress: inout ProgressLine) async throws {
        let client = MeshScenario.client, plain = MeshScenario.plainClient
        let v1 = addresses.podIPs["\(namespace)/v1"] ?? ""
        let checks: [(what: String, namespace: String, pod: String, urls: [String], required: Bool, done: ([MeshScenario.Answer]) -> Bool)] = [
            ("the meshed client reaches web", namespace, client, [addresses.url(MeshScenario.web)], true, { $0.allSatisfy(\.succeeded) }),
            ("the outsider reaches web's sidecar", outsider, client, [addresses.url(MeshScenario.web)], true, { $0.allSatisfy { $0.status != "000" } }),
            ("the unmeshed client reaches v1", namespace, plain, ["http://\(v1):\(MeshScenario.echoPort)/"], true, { $0.allSatisfy(\.succeeded) }),
            ("both versions answer through the split", namespace, client, (1...20).map { addresses.url(MeshScenario.split, path: "/settle\($0)") }, true,
             { $0.allSatisfy(\.succeeded) }),
            // Unshaped until the sidecar knows the Route: 20 answers in a row are then all but never
            // all 200. Not required: a Route whose retries do not work is what the case shows.
            ("the retry Route is in force", namespace, client, (1...20).map { addresses.url(MeshScenario.flakyRetried, path: "/settle\($0)") }, false,
             { $0.allSatisfy(\.succeeded) }),
        ]
        for check in checks {
            progress.update("mesh: waiting until \(check.what)")
            let deadline = ContinuousClock.now + (check.required ? settleTimeout : .seconds(5))
            while true {
                let (_, output) = try await curl(check.namespace, check.pod, ["-s", "-m", "2", "-w", MeshScenario.writeOut] + check.urls)
                let answers = MeshScenario.answers(output)
                if answers.count == check.urls.count, check.done(answers) { break }
                guard ContinuousClock.now < deadline else {
                    if !check.required { break }
                    throw CLIError("mesh scenario: not in \(settleTimeout.components.seconds)s: \(check.what) "
                        + "(last answers: \(answers.prefix(5).map(\.status).joined(separator: " ")))")
                }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    // MARK: The cases

    private func captured(_ addresses: Addresses) async throws -> MeshScenario.Verdict {
        let url = addresses.url(MeshScenario.web, path: "/captured")
        let (_, output) = try await curl(namespace, MeshScenario.client, ["-s", "-m", "5", "-w", MeshScenario.writeOut, url])
        return MeshScenario.captured(MeshScenario.answers(output).first, clientIP: addresses.podIPs["\(namespace)/\(MeshScenario.client)"] ?? "?",
                                     service: "\(MeshScenario.web) (\(addresses.clusterIPs[MeshScenario.web] ?? "?"):80)")
    }

    private func strict(_ addresses: Addresses) async throws -> MeshScenario.Verdict {
        let web = "\(addresses.podIPs["\(namespace)/\(MeshScenario.web)"] ?? "0.0.0.0"):\(MeshScenario.echoPort)"
        let v1 = "\(addresses.podIPs["\(namespace)/v1"] ?? "0.0.0.0"):\(MeshScenario.echoPort)"
        let (status, refused) = try await curl(namespace, MeshScenario.plainClient, ["-s", "-m", "5", "-w", MeshScenario.writeOut, "http://\(web)/strict"])
        let (_, control) = try await curl(namespace, MeshScenario.plainClient, ["-s", "-m", "5", "-w", MeshScenario.writeOut, "http://\(v1)/permissive"])
        return MeshScenario.strict(refused: MeshScenario.answers(refused).first, curlStatus: status, control: MeshScenario.answers(control).first,
                                   target: web, controlTarget: "v1 \(v1)")
    }

    private func authorization(_ addresses: Addresses) async throws -> MeshScenario.Verdict {
        let url = addresses.url(MeshScenario.web, path: "/authorization")
        let (_, denied) = try await curl(outsider, MeshScenario.client, ["-s", "-m", "5", "-w", MeshScenario.writeOut, url])
        let (_, allowed) = try await curl(namespace, MeshScenario.client, ["-s", "-m", "5", "-w", MeshScenario.writeOut, url])
        return MeshScenario.authorization(outsider: MeshScenario.answers(denied).first, outsiderNamespace: outsider,
                                          allowed: MeshScenario.answers(allowed).first, namespace: namespace)
    }

    private func retries(_ addresses: Addresses) async throws -> MeshScenario.Verdict {
        let without = try await requests(addresses.url(MeshScenario.flaky), count: MeshScenario.flakyRequests)
        // Three clients at once: each retry waits its back-off (25 ms and more) and a new
        // connection, and the sidecar's retry budget lets 3 requests retry at a time whatever
        // else is in flight.
        let base = addresses.url(MeshScenario.flakyRetried), third = MeshScenario.retriedRequests / 3
        async let first = requests(base, range: 1...third)
        async let second = requests(base, range: third + 1...2 * third)
        async let last = requests(base, range: 2 * third + 1...MeshScenario.retriedRequests)
        let with = try await first + second + last
        let (_, metrics) = try await curl(namespace, MeshScenario.client, ["-s", "-m", "5", "http://127.0.0.1:\(MeshProxy.metricsPort)/metrics"])
        return MeshScenario.retries(without: without, with: with, attempts: retryAttempts,
                                    retries: MeshScenario.retriesMade(metrics: metrics, route: "\(namespace)/\(MeshScenario.flakyRetried)"))
    }

    private func split(_ addresses: Addresses) async throws -> MeshScenario.Verdict {
        MeshScenario.split(try await requests(addresses.url(MeshScenario.split), count: MeshScenario.splitRequests))
    }

    /// `count` GETs from the meshed client, one curl for all (one kept-alive connection, as curl
    /// reuses it for the URLs of one command; the sidecar routes each request on its own).
    private func requests(_ base: String, count: Int) async throws -> [MeshScenario.Answer] {
        try await requests(base, range: 1...count)
    }

    private func requests(_ base: String, range: ClosedRange<Int>) async throws -> [MeshScenario.Answer] {
        let urls = range.map { "\(base)r\($0)" }
        let (_, output) = try await curl(namespace, MeshScenario.client, ["-s", "-m", "10", "-w", MeshScenario.writeOut] + urls)
        return MeshScenario.answers(output)
    }

    // MARK: curl in a pod

    /// Runs the image's curl in `pod`'s container of the same name, as `podlab exec` does;
    /// its exit status and standard output.
    func curl(_ namespace: String, _ pod: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let pipe = try Copy.makePipe()
        let child: ChildProcess
        do {
            child = try await Exec.start(["curl"] + arguments, pod: pod, container: pod, quiet: true, tty: false, namespace: namespace,
                                         client: client, context: context, stdin: .null, stdout: .fd(pipe[1]), stderr: .null)
        } catch {
            close(pipe[0])
            close(pipe[1])
            throw error
        }
        close(pipe[1])
        let output = await Self.readAll(pipe[0])
        let status = try await child.exitStatus()
        return (status.shellCode, output)
    }

    /// Everything until end of file, read on a thread of its own (the pipe must be drained while
    /// curl writes), then closed.
    static func readAll(_ fd: Int32) async -> String {
        await withCheckedContinuation { (done: CheckedContinuation<String, Never>) in
            PlainThread.detachOrRunHere(name: "mesh-scenario-read") {
                var bytes: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 65_536)
                while true {
                    let count = read(fd, &buffer, buffer.count)
                    if count > 0 {
                        bytes += buffer[0..<count]
                    } else if count < 0, errno == EINTR {
                        continue
                    } else {
                        break
                    }
                }
                close(fd)
                done.resume(returning: String(decoding: bytes, as: UTF8.self))
            }
        }
    }

    // MARK: Output and removal

    func print(_ report: Report, json: Bool) {
        let passed = report.verdicts.filter(\.passed).count
        if json {
            let cases: [JSONValue] = report.verdicts.map { verdict in
                ["name": .string(verdict.name), "passed": .bool(verdict.passed), "detail": .string(verdict.detail),
                 "seconds": .number((verdict.seconds * 1000).rounded() / 1000)]
            }
            let value: JSONValue = [
                "scenario": .string(MeshScenario.name), "namespaces": [.string(namespace), .string(outsider)],
                "passed": .integer(Int64(passed)), "cases": .integer(Int64(report.verdicts.count)),
                "setUpSeconds": .number((report.setUpSeconds * 1000).rounded() / 1000),
                "seconds": .number((report.totalSeconds * 1000).rounded() / 1000), "results": .array(cases),
            ]
            context.stdout.line(value.jsonText(indent: 2))
            return
        }
        for verdict in report.verdicts { context.stdout.line(verdict.line) }
        context.stdout.line("mesh: \(passed) of \(report.verdicts.count) cases passed in \(String(format: "%.1f", report.totalSeconds))s "
            + "(namespaces \(namespace) and \(outsider), ready in \(String(format: "%.1f", report.setUpSeconds))s)")
    }

    /// Deletes both namespaces (and so everything in them) and waits until they are gone.
    /// Failures are reported, not thrown: the result of the run stands.
    func remove() async {
        for name in [namespace, outsider] {
            do { _ = try await client.send(.DELETE, Namespace.path(namespace: "", name: name)) } catch let error as APIError where error.isNotFound {
                continue
            } catch {
                context.stderr.line("warning: removing namespace \(name) of the mesh scenario: \(error)")
            }
        }
        let deadline = ContinuousClock.now + .seconds(60)
        for name in [namespace, outsider] {
            while ContinuousClock.now < deadline {
                do { _ = try await client.send(.GET, Namespace.path(namespace: "", name: name)) } catch let error as APIError where error.isNotFound {
                    break
                } catch {
                    context.stderr.line("warning: removing namespace \(name) of the mesh scenario: \(error)")
                    break
                }
                try? await context.pause()
            }
        }
        if ContinuousClock.now >= deadline { context.stderr.line("warning: the mesh scenario's namespaces are still being deleted") }
    }
}
