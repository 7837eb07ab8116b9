import Foundation
import Hummingbird
import Netlink
import Netns
import PodNet

/// What the probe endpoints need from the control plane.
public protocol ProbeBackend: Sendable {
    /// `POST /podlab/v1/probes`: runs a `ProbeBatch` and answers with a `ProbeBatchResult`.
    func runProbes(body: Data) async throws -> Data
    /// `POST /podlab/v1/probes?stream=true`: the same, answered as `ProbeStreamLine`s (one JSON
    /// text per element) while the probes run; with `compact`, the body's probes and the answer's
    /// results are `CompactProbes` lines.
    func streamProbes(body: Data, compact: Bool) async throws -> AsyncStream<Data>
    /// `POST /podlab/v1/probes/floor`: the bare non-blocking connect loop over the batch's TCP
    /// probes, for benchmarks (counts and times only).
    func measureConnectFloor(body: Data) async throws -> Data
}

extension APIServer {
    /// Registers the probe endpoints when `backend` can probe.
    public static func addProbeRoutes(to router: Router<BasicRequestContext>, backend: any APIBackend) {
        guard let prober = backend as? any ProbeBackend else { return }
        router.post(RouterPath(stringLiteral: ProbeBatch.path)) { request, _ in
            try await handle {
                var request = request
                let body = try await request.collectBody(upTo: 64 << 20)
                if request.uri.queryParameters["stream"].map({ $0 == "true" || $0 == "1" }) == true {
                    let format = request.uri.queryParameters["format"].map(String.init) ?? "json"
                    guard format == "json" || format == CompactProbes.format else {
                        throw APIStatus.badRequest("format: \"\(format)\" is not a result format (known: json, \(CompactProbes.format))")
                    }
                    return stream(try await prober.streamProbes(body: Data(buffer: body), compact: format == CompactProbes.format))
                }
                return json(try await prober.runProbes(body: Data(buffer: body)))
            }
        }
        router.post(RouterPath(stringLiteral: ProbeBatch.floorPath)) { request, _ in
            try await handle {
                var request = request
                let body = try await request.collectBody(upTo: 64 << 20)
                return json(try await prober.measureConnectFloor(body: Data(buffer: body)))
            }
        }
    }
}

extension Controller: ProbeBackend {
    /// Decoding, probing and encoding happen off the actor; only the look-up of the pods does not.
    public nonisolated func runProbes(body: Data) async throws -> Data {
        let started = ContinuousClock.now
        let batch = try Controller.decodeProbes(body)
        let (plan, prepared) = try await prepare(batch.probes)
        var results = [ProbeResult?](repeating: nil, count: batch.probes.count)
        for (index, result) in prepared.answered { results[index] = result }
        for (index, result) in Controller.routeResults(prepared.routeChecks, plan: plan) { results[index] = result }
        let probed = await Prober.run(prepared.jobs.map(\.job)).results
        for (position, entry) in prepared.jobs.enumerated() { results[entry.index] = probed[position] }
        let answer = ProbeBatchResult(
            results: results.enumerated().map { index, result in
                result ?? ProbeResult(id: batch.probes[index].id, outcome: .error, detail: "the probe did not run")
            },
            elapsedMillis: Controller.millis(ContinuousClock.now - started))
        return try JSONEncoder().encode(answer)
    }

    public nonisolated func streamProbes(body: Data, compact: Bool) async throws -> AsyncStream<Data> {
        let started = ContinuousClock.now
        let batch = try Controller.decodeProbes(body, compact: compact)
        let (plan, prepared) = try await prepare(batch.probes)
        let preparedAt = ContinuousClock.now
        let pending = PendingResults()
        for (index, result) in prepared.answered { pending.add(index, result) }
        for (index, result) in Controller.routeResults(prepared.routeChecks, plan: plan) { pending.add(index, result) }
        let jobs = prepared.jobs
        let (stream, continuation) = AsyncStream<Data>.makeStream()
        Task {
            var (_, timings) = await Prober.run(jobs.map(\.job)) { position, result in pending.add(jobs[position].index, result) }
            timings.prepareMillis = Controller.millis(preparedAt - started)
            pending.finish(timings)
        }
        let writer = Task {
            // Results go out in batches, a few dozen times a second: one JSON line per batch.
            let encoder = JSONEncoder()
            var text: [UInt8] = []
            while true {
                let finished = pending.isFinished
                let entries = pending.drain()
                if !entries.isEmpty {
                    if compact {
                        text.removeAll(keepingCapacity: true)
                        for entry in entries { CompactProbes.append(entry, to: &text) }
                        continuation.yield(Data(text.dropLast()))  // the stream ends each chunk with a newline
                    } else if let line = try? encoder.encode(ProbeStreamLine(results: entries)) {
                        continuation.yield(line)
                    }
                }
                if finished { break }
                // A client that went away stops the stream; the probes in flight still end by their timeouts.
                guard (try? await Task.sleep(for: .milliseconds(25))) != nil else { return }
            }
            let elapsed = Controller.millis(ContinuousClock.now - started)
            if compact {
                text.removeAll(keepingCapacity: true)
                CompactProbes.appendDone(elapsedMillis: elapsed, timings: pending.timings ?? ProbeTimings(), to: &text)
                continuation.yield(Data(text.dropLast()))
            } else if let line = try? encoder.encode(ProbeStreamLine(results: [], done: true, elapsedMillis: elapsed, timings: pending.timings)) {
                continuation.yield(line)
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in writer.cancel() }
        return stream
    }

    public nonisolated func measureConnectFloor(body: Data) async throws -> Data {
        let batch = try Controller.decodeProbes(body)
        guard batch.probes.allSatisfy({ $0.kind == .tcp }) else {
            throw APIStatus.badRequest("the connect floor takes tcp probes only")
        }
        let (_, prepared) = try await prepare(batch.probes)
        let timeout = batch.probes.map(\.effectiveTimeoutMillis).max() ?? ProbeRequest.defaultTimeoutMillis
        let started = ContinuousClock.now
        let floor = await Prober.floor(prepared.jobs.map(\.job), timeoutMillis: timeout)
        let value: JSONValue = .object([
            "probes": .integer(Int64(floor.probes)), "connected": .integer(Int64(floor.connected)), "failed": .integer(Int64(floor.failed)),
            "skipped": .integer(Int64(prepared.answered.count)),
            "openMillis": .number(floor.openMillis), "connectMillis": .number(floor.connectMillis),
            "elapsedMillis": .number(Controller.millis(ContinuousClock.now - started)),
        ])
        return Data(value.jsonText(indent: 0).utf8)
    }

    /// The answers to `route` probes, from one reading of the host's routing table.
    static func routeResults(_ checks: [(index: Int, request: ProbeRequest)], plan: LabPlan) -> [(Int, ProbeResult)] {
        guard !checks.isEmpty else { return [] }
        let table = hostRoutes()
        let ranges = [plan.clusterCIDR, plan.serviceCIDR, plan.underlayCIDR]
        return checks.map { index, request in
            let clock = ContinuousClock.now
            var result: ProbeResult
            switch table {
            case let .success(routes):
                result = HostIsolation.evaluate(target: request.destination ?? .any, labRanges: ranges, routes: routes)
            case let .failure(error):
                result = ProbeResult(outcome: .error, detail: "reading the host's routing table: \(error)")
            }
            result.id = request.id
            result.latencyMillis = millis(ContinuousClock.now - clock)
            return (index, result)
        }
    }

    /// A batch's probes sorted by what happens to them.
    struct PreparedProbes {
        /// Probes that run in pods, with their index in the batch.
        var jobs: [(index: Int, job: ProbeJob)] = []
        /// `route` probes, answered from the host's routing table.
        var routeChecks: [(index: Int, request: ProbeRequest)] = []
        /// Probes answered without running (no such pod, no sandbox).
        var answered: [(index: Int, result: ProbeResult)] = []
    }

    /// The lab's plan and the batch sorted out, once the lab is ready.
    func prepare(_ probes: [ProbeRequest]) throws -> (LabPlan, PreparedProbes) {
        try requireReady()
        guard let plan else { throw APIStatus.internalError("the lab has no network plan") }
        return (plan, try prepare(probes, plan: plan))
    }

    static func decodeProbes(_ body: Data, compact: Bool = false) throws -> ProbeBatch {
        let batch: ProbeBatch
        do {
            if compact {
                batch = ProbeBatch(probes: try CompactProbes.probes([UInt8](body)))
            } else if body.first(where: { !($0 == 32 || $0 == 10 || $0 == 13 || $0 == 9) }) == UInt8(ascii: "[") {
                batch = ProbeBatch(probes: try JSONDecoder().decode([ProbeRequest].self, from: body))
            } else {
                batch = try JSONDecoder().decode(ProbeBatch.self, from: body)
            }
        } catch {
            throw APIStatus.badRequest("the body is not a list of probes: \(error)")
        }
        guard batch.probes.count <= ProbeBatch.maximumCount else {
            throw APIStatus.badRequest("\(batch.probes.count) probes in one request; the limit is \(ProbeBatch.maximumCount)")
        }
        return batch
    }

    /// Checks every probe before any runs: a malformed one is a 400, one that would leave the
    /// lab a 403 — nothing is sent in either case. Probes from pods that are gone or have no
    /// sandbox yet get an error result each.
    func prepare(_ probes: [ProbeRequest], plan: LabPlan) throws -> PreparedProbes {
        var problems: [String] = []
        let boundary = LabBoundary(plan: plan)
        var refusals: [String] = []
        for (index, probe) in probes.enumerated() {
            let found = probe.problems(), refusal = boundary.refusal(for: probe)
            guard !found.isEmpty || refusal != nil else { continue }
            let name = "probe \(index)" + (probe.id.map { " (id \"\($0)\")" } ?? "")
            for problem in found { problems.append("\(name): \(problem)") }
            if let refusal { refusals.append("\(name): \(refusal)") }
        }
        if !problems.isEmpty {
            throw APIStatus.badRequest(Controller.summarize(problems, one: "invalid probe", many: "invalid probes"))
        }
        if !refusals.isEmpty {
            throw APIStatus(message: Controller.summarize(refusals, one: "probe refused", many: "probes refused"), reason: "Forbidden", code: 403)
        }
        var prepared = PreparedProbes()
        var namespaces: [String: Result<String, ProbeSourceError>] = [:]
        let holders = probes.contains(where: \.observesSource) ? podsByAddress() : [:]
        var observationPoints: [IPv4Address: Result<String, ObservationFailure>] = [:]
        for (index, probe) in probes.enumerated() {
            if probe.kind == .route {
                prepared.routeChecks.append((index, probe))
                continue
            }
            guard let source = probe.sourcePod, let destination = probe.destination else { continue }
            let key = "\(source.namespace)/\(source.name)"
            if namespaces[key] == nil { namespaces[key] = sourceNamespace(source.namespace, source.name) }
            switch namespaces[key]! {
            case let .success(netns):
                var job = ProbeJob(request: probe, netns: netns, destination: destination)
                if probe.observesSource {
                    if observationPoints[destination] == nil { observationPoints[destination] = observationNamespace(destination, holders: holders[destination] ?? []) }
                    job.observeIn = observationPoints[destination]
                }
                prepared.jobs.append((index, job))
            case let .failure(error):
                prepared.answered.append((index, ProbeResult(id: probe.id, outcome: .error, detail: error.description)))
            }
        }
        return prepared
    }

    /// The network namespace of a pod that can be probed from.
    func sourceNamespace(_ namespace: String, _ name: String) -> Result<String, ProbeSourceError> {
        guard let pod = pods["\(namespace)/\(name)"] else {
            return .failure(ProbeSourceError(description: "pod \(namespace)/\(name) not found"))
        }
        guard pod.metadata.deletionTimestamp == nil else {
            return .failure(ProbeSourceError(description: "pod \(namespace)/\(name) is being deleted"))
        }
        guard let runtime = runtimes[pod.metadata.uid], sandboxRuntime.sandboxExists(runtime.sandbox) else {
            return .failure(ProbeSourceError(description: "pod \(namespace)/\(name) has no network namespace yet (\(pod.status.phase?.rawValue ?? "Pending"))"))
        }
        return .success(runtime.sandbox.netns)
    }

    /// The pods by address (keys `namespace/name`), for finding where a destination is observed.
    /// A pod with `hostNetwork` holds no address: its podIP is its node's.
    func podsByAddress() -> [IPv4Address: [String]] {
        var result: [IPv4Address: [String]] = [:]
        for (key, pod) in pods.sorted(by: { $0.key < $1.key }) where !pod.spec.hostNetwork {
            guard let address = IPv4Address(pod.status.podIP) else { continue }
            result[address, default: []].append(key)
        }
        return result
    }

    /// The network namespace of the pod holding `destination`, where the agent can observe the
    /// source address the destination sees.
    func observationNamespace(_ destination: IPv4Address, holders: [String]) -> Result<String, ObservationFailure> {
        guard let key = holders.first else {
            return .failure(ObservationFailure(description: "\(destination) is no pod's address: the source is observed inside pods only"))
        }
        guard holders.count == 1 else {
            return .failure(ObservationFailure(description: "\(destination) is held by several pods (\(holders.joined(separator: ", ")))"))
        }
        guard let pod = pods[key], pod.metadata.deletionTimestamp == nil else {
            return .failure(ObservationFailure(description: "pod \(key), which holds \(destination), is being deleted"))
        }
        guard let runtime = runtimes[pod.metadata.uid], sandboxRuntime.sandboxExists(runtime.sandbox) else {
            return .failure(ObservationFailure(description: "pod \(key), which holds \(destination), has no network namespace"))
        }
        return .success(runtime.sandbox.netns)
    }

    /// The first few problems and how many more there are.
    static func summarize(_ problems: [String], one: String, many: String) -> String {
        let shown = problems.prefix(5).joined(separator: "; ")
        let more = problems.count > 5 ? "; and \(problems.count - 5) more" : ""
        return problems.count == 1 ? "\(one): \(shown)" : "\(problems.count) \(many): \(shown)\(more)"
    }

    /// The host's IPv4 routes (every table) with interface names, read from the agent's own
    /// network namespace — the host's root namespace. Reading sends nothing and changes nothing.
    static func hostRoutes() -> Result<[HostIsolation.Route], ProbeSourceError> {
        do {
            let netlink = RouteNetlink(transport: try NetlinkSocket(bus: .route))
            let names = Dictionary(try netlink.links().map { ($0.index, $0.name) }) { a, _ in a }
            let routes = try netlink.routes(family: .ipv4, table: nil).map { route -> HostIsolation.Route in
                var destination: IPv4Prefix?
                if case let .v4(address)? = route.destination, route.destinationLength > 0 {
                    destination = try? IPv4Prefix(address, length: route.destinationLength)
                }
                var gateway: IPv4Address?
                if case let .v4(address)? = route.gateway { gateway = address }
                return HostIsolation.Route(destination: destination, device: route.outputIndex.flatMap { names[$0] }, gateway: gateway,
                                           table: route.table, type: route.type.description)
            }
            return .success(routes)
        } catch {
            return .failure(ProbeSourceError(description: "\(error)"))
        }
    }
}

/// Results waiting to be streamed: added by the probe threads, drained by the writer.
final class PendingResults: @unchecked Sendable {
    private let lock = PThreadMutex()
    private var entries: [ProbeStreamLine.Entry] = []
    private var finished = false
    private var finalTimings: ProbeTimings?

    func add(_ index: Int, _ result: ProbeResult) {
        lock.lock()
        entries.append(ProbeStreamLine.Entry(index: index, result: result))
        lock.unlock()
    }

    func finish(_ timings: ProbeTimings) {
        lock.lock()
        finished = true
        finalTimings = timings
        lock.unlock()
    }

    /// Where the batch's time went, once it is finished.
    var timings: ProbeTimings? {
        lock.lock()
        defer { lock.unlock() }
        return finalTimings
    }

    var isFinished: Bool {
        lock.lock()
        defer { lock.unlock() }
        return finished
    }

    func drain() -> [ProbeStreamLine.Entry] {
        lock.lock()
        defer { lock.unlock() }
        let taken = entries
        entries.removeAll(keepingCapacity: true)
        return taken
    }
}

/// Why a probe cannot run from its source pod.
struct ProbeSourceError: Error, CustomStringConvertible {
    var description: String
}
