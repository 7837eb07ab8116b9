import ArgumentParser
import Foundation
import PodNet

/// `podlab test`: checks what can reach what in a lab against what should, from first
/// principles (PodNet's `ReachabilityModel`), with probes the agent runs inside the pods.
public struct ConnectivityTest: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Check pod connectivity: expected against actual reachability.",
        discussion: """
            Builds the expected reachability of the lab — every pod reaches every pod by IP on \
            its listening ports, across nodes; containers reach siblings on localhost; a port \
            nothing listens on is refused; a second listener on a port is impossible; pods reach \
            their gateway; the host reaches no pod; every pod reaches each Service with ready \
            endpoints by ClusterIP, NodePort (on every node) and name (through the cluster DNS its \
            resolv.conf names), a Service without ready endpoints refuses, load spreads over every \
            ready endpoint, ClientIP affinity sticks, a hostPort answers on its node — and checks it \
            with probes run by the agent \
            inside the source pods' network namespaces. Probes never leave the lab: an address \
            outside it is refused. The host's isolation is read from its routing table; no packet \
            is sent from the host.

            Exit status 0 only if every check matched.

            Examples:
              podlab test
              podlab test --from web --to db,10.244.2.7:5432
              podlab test --from app=frontend --sample 200 -o json
              podlab test --scenario seed -o junit > connectivity.xml
              podlab test --scenario services
              podlab test --scenario netpol
              podlab test --scenario mesh
            """)

    @Option(help: "The lab to talk to (default: $PODLAB_LAB or \"podlab\").")
    public var lab: String?

    @Option(name: .shortAndLong, help: "Only pods of this namespace (default: every namespace).")
    public var namespace: String?

    @Option(help: "A built-in scenario instead of the lab's own pods: seed (the pods tutorial's claims), services (a rolling update behind a Service without a failed request), netpol (Kubernetes' network-policy e2e cases with truth tables), mesh (the service mesh's claims: capture, STRICT mTLS, MeshPolicy, retries, a split).")
    public var scenario: String?

    /// The mesh scenario's Route retries: fewer than it needs make its retries case fail, which
    /// is how a test sees that the case can fail.
    @Option(name: .customLong("mesh-retry-attempts"), help: ArgumentHelp("The mesh scenario's retry attempts.", visibility: .hidden))
    public var meshRetryAttempts: Int?

    @Option(help: "Sources: pod names, namespace/name, host, or a label selector (default: all).")
    public var from: String?

    @Option(help: "Targets: pod names, namespace/name, gateway, ADDRESS[:PORT], or a label selector (default: all).")
    public var to: String?

    @Option(help: "Check only N checks chosen at random.")
    public var sample: Int?

    @Option(name: .customLong("random-seed"), help: "The seed for --sample, to repeat a sample (default: random).")
    public var randomSeed: UInt64?

    @Option(help: "Timeout of each probe (e.g. 500ms, 2s).")
    public var timeout: String = "1s"

    @Option(help: "Only these probe kinds: tcp, udp, http, icmp, bind, route, dns (comma-separated).")
    public var kinds: String?

    @Option(name: [.customShort("o"), .customLong("output")], help: "table (default), json, or junit.")
    public var output: String?

    @Flag(name: .customLong("mismatches-only"), help: "In the table, show only the checks that did not match.")
    public var mismatchesOnly = false

    @Flag(help: "Keep the scenario's pods afterwards.")
    public var keep = false

    @Flag(help: "Say on stderr how long each phase took (objects, model, probing inside the agent, report).")
    public var timings = false

    public init() {}

    enum Format: String, CaseIterable {
        case table, json, junit
    }

    public func validate() throws {
        if let sample, sample < 1 { throw ValidationError("--sample must be at least 1") }
        let scenarios = [SeedScenario.name, ServicesScenario.name, NetpolScenario.name, MeshScenario.name]
        if let scenario, !scenarios.contains(scenario) {
            throw ValidationError("unknown scenario \"\(scenario)\" (known: \(scenarios.joined(separator: ", ")))")
        }
        if scenario == MeshScenario.name, sample != nil || kinds != nil || mismatchesOnly || output == Format.junit.rawValue {
            throw ValidationError("--scenario mesh runs its own requests: --sample, --kinds, --mismatches-only and -o junit do not apply")
        }
        if let meshRetryAttempts {
            guard scenario == MeshScenario.name else { throw ValidationError("--mesh-retry-attempts applies to --scenario mesh only") }
            guard (0...10).contains(meshRetryAttempts) else { throw ValidationError("--mesh-retry-attempts must be between 0 and 10") }
        }
        if scenario == NetpolScenario.name, sample != nil || kinds != nil || mismatchesOnly {
            throw ValidationError("--scenario netpol runs its own cases: --sample, --kinds and --mismatches-only do not apply")
        }
        if scenario == ServicesScenario.name, sample != nil || kinds != nil || mismatchesOnly || output == Format.junit.rawValue {
            throw ValidationError("--scenario services runs its own requests: --sample, --kinds, --mismatches-only and -o junit do not apply")
        }
        if scenario != nil, from != nil || to != nil || namespace != nil {
            throw ValidationError("--scenario runs its own pods: --from, --to and --namespace do not apply")
        }
        if let output, Format(rawValue: output) == nil {
            throw ValidationError("unknown output format \"\(output)\" (known: table, json, junit)")
        }
    }

    public func execute(_ context: CommandContext) async throws -> Int32 {
        let format = output.flatMap(Format.init) ?? .table
        let timeoutMillis = try Self.timeoutMillis(timeout)
        let kindFilter = try kinds.map(Self.kinds)
        let sources = try from.map { text in
            do { return try EndpointSelector(parsing: text, namespace: namespace) } catch { throw CLIError("--from: \(error)") }
        } ?? .all
        let targets = try to.map { text in
            do { return try EndpointSelector(parsing: text, namespace: namespace) } catch { throw CLIError("--to: \(error)") }
        } ?? .all

        var clock = PhaseClock()
        let client = context.client(lab)
        let info = try await client.get(LabInfo.self, LabInfo.path)
        guard info.phase == .ready else {
            throw CLIError("lab \"\(info.name)\" is not ready (\(info.phase)\(info.message.map { ": \($0)" } ?? ""))")
        }
        if scenario == ServicesScenario.name {
            return try await ServicesScenarioRun.execute(client: client, context: context, json: format == .json, keep: keep)
        }
        if scenario == MeshScenario.name {
            return try await MeshScenarioRun.execute(client: client, context: context, json: format == .json, keep: keep,
                                                     retryAttempts: meshRetryAttempts ?? MeshScenario.retryAttempts)
        }
        if scenario == NetpolScenario.name {
            return try await NetpolScenarioRun.execute(client: client, context: context, info: info, format: output, keep: keep)
        }
        let plan = try Self.snapshotPlan(info)
        var progress = ProgressLine(context.stderr)
        clock.lap("lab")

        let seed: SeedRun? = scenario == nil ? nil : SeedRun(client: client, context: context)
        if let seed {
            do {
                try await seed.prepare(nodes: plan.nodes.map(\.name), progress: &progress)
            } catch {
                progress.finish()
                if !keep { await seed.remove() }
                throw error
            }
        }
        let result: Int32
        do {
            var pods = try await client.get(PodList.self, APIPath.pods(nil)).items
            let scope = seed != nil ? SeedScenario.namespace : namespace
            if let wait = Self.startupWait(pods.filter { scope == nil || $0.metadata.namespace == scope }, now: Timestamp(context.now())) {
                progress.update("waiting \(wait.components.seconds)s for containers that just started to listen")
                clock.lap("pods")
                try await Task.sleep(for: wait)
                clock.lap("startup wait")
                pods = try await client.get(PodList.self, APIPath.pods(nil)).items
            }
            let services = seed != nil ? [] : try await client.get(ServiceList.self, Service.collectionPath(namespace: nil)).items
            let slices = seed != nil ? [] : try await client.get(EndpointSliceList.self, EndpointSlice.collectionPath(namespace: nil)).items
            clock.lap("objects", "\(pods.count) pods, \(services.count) services, \(slices.count) slices")
            var snapshot = LabSnapshot(lab: plan.lab, clusterCIDR: plan.clusterCIDR, serviceCIDR: plan.serviceCIDR, nodes: plan.nodes, pods: pods,
                                       services: services, endpointSlices: slices)
            if seed == nil { try await PolicyExpectations.load(into: &snapshot, client: client) }
            var checks: [ConnectivityCheck]
            if seed != nil {
                checks = SeedScenario.checks(for: snapshot, timeoutMillis: timeoutMillis)
            } else {
                let active = snapshot.activePods.filter { namespace == nil || $0.namespace == namespace }
                let unknown = sources.unknownPods(in: active) + targets.unknownPods(in: active)
                if !unknown.isEmpty {
                    throw CLIError("no running pod \(unknown.map { "\"\($0)\"" }.joined(separator: ", "))\(namespace.map { " in namespace \"\($0)\"" } ?? "")")
                }
                checks = ReachabilityModel.checks(for: snapshot, options: MatrixOptions(
                    sources: sources, targets: targets, namespace: namespace, timeoutMillis: timeoutMillis, kinds: kindFilter))
            }
            if let kindFilter {
                checks = checks.filter { check in check.probe.map { kindFilter.contains($0.kind) } ?? true }
            }
            if let sample {
                let chosen = CheckSampling.indices(count: sample, of: checks.count, seed: randomSeed ?? UInt64.random(in: 0...UInt64.max))
                checks = chosen.map { checks[$0] }
            }
            clock.lap("model", "\(checks.count) checks")
            guard !checks.isEmpty else {
                progress.finish()
                if sources.isAll && targets.isAll && seed == nil {
                    context.stderr.line("No running pods\(namespace.map { " in namespace \"\($0)\"" } ?? ""): nothing to check.")
                    return 0
                }
                throw CLIError("nothing to check: no running pod matches --from \(sources) and --to \(targets)")
            }
            let started = ContinuousClock.now
            let (results, agentTimings) = try await Self.run(checks, paths: context.labPaths(lab), progress: &progress)
            let elapsed = ContinuousClock.now - started
            progress.finish()
            clock.lap("probing", "\(results.count) results; " + agentTimings.map(PhaseClock.describe).joined(separator: "; "))
            let notShown = seed != nil ? SeedScenario.notShown(by: checks, nodes: plan.nodes.count) : [:]
            let report = ConnectivityReport(
                lab: info.name, scenario: scenario ?? "matrix", results: results,
                elapsedSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, notShown: notShown)
            Self.print(report, format: format, mismatchesOnly: mismatchesOnly, context: context)
            clock.lap("report")
            if timings { context.stderr.line(clock.line) }
            result = report.passed ? 0 : 1
        } catch {
            progress.finish()
            if let seed, !keep { await seed.remove() }
            throw error
        }
        if let seed, !keep { await seed.remove() }
        return result
    }

    // MARK: Running

    /// Sends the probes (one streamed batch, unless there are more than one batch may hold) and
    /// pairs every check with its result, showing progress as results arrive. Also hands back
    /// where each batch's time went in the agent.
    static func run(_ checks: [ConnectivityCheck], paths: LabPaths, progress: inout ProgressLine) async throws
        -> (results: [CheckResult], timings: [ProbeTimings]) {
        var results: [CheckResult?] = checks.map { check in check.evaluated.map { CheckResult(check: check, actual: $0) } }
        let pending = checks.indices.filter { checks[$0].probe != nil && results[$0] == nil }
        var done = 0, mismatched = results.compactMap { $0 }.filter { !$0.matched }.count
        progress.update("probing: 0/\(pending.count)")
        var timings: [ProbeTimings] = []
        var start = 0
        while start < pending.count {
            let chunk = Array(pending[start..<min(pending.count, start + ProbeBatch.maximumCount)])
            let probes = chunk.map { checks[$0].probe! }
            let longest = probes.map(\.effectiveTimeoutMillis).max() ?? ProbeRequest.defaultTimeoutMillis
            // Room for every probe timing out, at the agent's smallest parallelism.
            let budget = Duration.milliseconds(Int64(longest) * Int64(probes.count / 128 + 1)) + .seconds(30)
            var received = 0
            for try await line in try await ProbeStream.results(probes, paths: paths, timeout: budget) {
                for entry in line.results {
                    guard chunk.indices.contains(entry.index), results[chunk[entry.index]] == nil else {
                        throw APIError.malformed(what: ProbeBatch.path, reason: "a result for probe \(entry.index), which was not sent or came twice")
                    }
                    let result = CheckResult(check: checks[chunk[entry.index]], actual: entry.result)
                    if !result.matched { mismatched += 1 }
                    results[chunk[entry.index]] = result
                    received += 1
                }
                if let batchTimings = line.timings { timings.append(batchTimings) }
                done += line.results.count
                if !line.results.isEmpty {
                    progress.update("probing: \(done)/\(pending.count)" + (mismatched > 0 ? ", \(mismatched) mismatched so far" : ""))
                }
            }
            guard received == chunk.count else {
                throw APIError.malformed(what: ProbeBatch.path, reason: "\(received) results for \(chunk.count) probes")
            }
            start += chunk.count
        }
        return (results.map { $0! }, timings)
    }

    static func print(_ report: ConnectivityReport, format: Format, mismatchesOnly: Bool, context: CommandContext) {
        switch format {
        case .table:
            let colour = context.stdout.isTerminal && context.environment["NO_COLOR"] == nil
            let table = report.table(colour: colour, onlyMismatches: mismatchesOnly)
            if !table.isEmpty { context.stdout.write(table + "\n") }
            context.stdout.write(report.summary(colour: colour))
        case .json:
            context.stdout.line(report.jsonText())
        case .junit:
            context.stdout.write(report.junit())
            context.stderr.write(report.summary())
        }
    }

    /// A server needs a moment between its container starting and its socket listening (status
    /// times have one-second resolution): how long until every running container has had
    /// `startupGrace`, or nil when all have.
    static func startupWait(_ pods: [Pod], now: Timestamp) -> Duration? {
        let latest = pods.flatMap(\.status.containerStatuses).compactMap { $0.state.running?.startedAt }.max()
        guard let latest else { return nil }
        let ready = latest.secondsSince1970 + startupGrace
        guard ready > now.secondsSince1970 else { return nil }
        return .seconds(min(ready - now.secondsSince1970, startupGrace))
    }

    /// Seconds after a container's recorded start time before its ports count.
    static let startupGrace: Int64 = 2

    // MARK: Input

    /// The lab's address plan from `GET /podlab/v1/lab`.
    static func snapshotPlan(_ info: LabInfo) throws -> (lab: String, clusterCIDR: IPv4Prefix, serviceCIDR: IPv4Prefix?, nodes: [LabSnapshot.Node]) {
        guard let text = info.clusterCIDR, let cluster = IPv4Prefix(text) else {
            throw APIError.malformed(what: LabInfo.path, reason: "no cluster CIDR")
        }
        let nodes = (info.nodes ?? []).compactMap { node -> LabSnapshot.Node? in
            guard let gateway = node.gateway.flatMap(IPv4Address.init) else { return nil }
            return LabSnapshot.Node(name: node.name, gateway: gateway, podCIDR: node.podCIDR.flatMap(IPv4Prefix.init),
                                    underlayAddress: node.underlayIP.flatMap(IPv4Address.init))
        }
        return (info.name, cluster, info.serviceCIDR.flatMap(IPv4Prefix.init), nodes)
    }

    static func timeoutMillis(_ text: String) throws -> Int {
        let seconds = try GoDuration.seconds(text, flag: "--timeout")
        let millis = Int((seconds * 1000).rounded())
        guard (1...ProbeRequest.maximumTimeoutMillis).contains(millis) else {
            throw CLIError("--timeout \(text) is outside 1ms-\(ProbeRequest.maximumTimeoutMillis / 1000)s")
        }
        return millis
    }

    static func kinds(_ text: String) throws -> Set<ProbeKind> {
        var result: Set<ProbeKind> = []
        for part in text.split(separator: ",") {
            let name = part.trimmingCharacters(in: .whitespaces).lowercased()
            guard let kind = ProbeKind(rawValue: name) else {
                throw CLIError("--kinds: unknown probe kind \"\(name)\" (known: \(ProbeKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            result.insert(kind)
        }
        guard !result.isEmpty else { throw CLIError("--kinds: name at least one probe kind") }
        return result
    }
}
