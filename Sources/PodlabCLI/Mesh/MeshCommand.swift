import ArgumentParser
import Foundation
import PodNet

/// `podlab mesh status` and `podlab mesh top`: the mesh's view of its pods and its traffic.
public struct MeshCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "mesh",
        abstract: "Show the service mesh's pods (identities, mTLS modes, certificates) and its traffic per route.",
        subcommands: [MeshStatusCommand.self, MeshTopCommand.self])

    public init() {}
}

/// `podlab mesh status [-n NS] [-o json|yaml]`.
public struct MeshStatusCommand: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "List meshed pods: identity, mTLS mode, time left on the workload certificate, readiness.",
        discussion: """
            Every namespace's meshed pods, or one namespace's with -n. CERT EXPIRES is the time \
            left on the pod's workload certificate (renewed by the agent at two thirds of its hour); \
            MODE is the one its sidecar was started with.

            Examples:
              podlab mesh status
              podlab mesh status -n shop -o yaml
            """)

    @OptionGroup public var scope: ScopeOptions

    @Option(name: [.customShort("o"), .customLong("output")], help: "json or yaml: the whole answer.")
    public var output: String?

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        if let output, !["json", "yaml"].contains(output) {
            throw CLIError("unable to match a printer suitable for the output format \"\(output)\", allowed formats are: json,yaml")
        }
        let query = scope.namespace.flatMap { $0.isEmpty ? nil : [("namespace", $0)] } ?? []
        let report = try await scope.client(context).get(MeshStatusReport.self, "/podlab/v1/mesh", query: query)
        switch output {
        case "json":
            context.stdout.write(try InspectionText.json(report))
        case "yaml":
            let tree = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(report))
            context.stdout.write(tree.yamlText())
        default:
            guard !report.pods.isEmpty else {
                context.stderr.line(scope.namespace.map { "No meshed pods found in \($0) namespace." } ?? "No meshed pods found.")
                return 0
            }
            context.stdout.write(MeshStatusTable.table(report.pods, now: Timestamp(context.now())).render())
        }
        return 0
    }
}

/// `podlab mesh top [-n NS | -A] [--interval 2s] [--once]`: per route — a Service, or a rule of
/// the Route that shapes it — the success rate, requests per second and p50/p99 latency of the
/// requests meshed clients sent it, from the difference between two scrapes of every sidecar's
/// counters and histograms (`MeshTop`). The agent reads the sidecars' metrics inside their pods
/// (`GET /podlab/v1/mesh/metrics`); this command never connects to a lab address.
public struct MeshTopCommand: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "Show per-route success rate, requests/s and p50/p99 latency of the mesh's HTTP traffic, live.",
        discussion: """
            Every interval the agent reads each meshed pod's sidecar metrics (:15090/metrics, from \
            inside the pod); the table shows what changed since the previous read: per Service the \
            meshed clients called (and per Route rule where a Route shapes it), the share of answers \
            that were not 5xx, requests per second, and the 50th and 99th percentile latency \
            interpolated in the sidecars' histogram buckets, as Prometheus' histogram_quantile does. \
            On a terminal the table is redrawn in place; with --once, or when the output is not a \
            terminal, tables are printed one after another (--once: one, after one interval).

            Examples:
              podlab mesh top
              podlab mesh top -A --interval 5s
              podlab mesh top -n shop --once
            """)

    @OptionGroup public var scope: ScopeOptions

    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "Services of every namespace.")
    public var allNamespaces = false

    @Option(help: "Time between two reads (e.g. 500ms, 2s, 1m).")
    public var interval: String = "2s"

    @Flag(help: "Print one table, after one interval, and exit.")
    public var once = false

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        let seconds = try GoDuration.seconds(interval, flag: "--interval")
        guard seconds >= 0.1, seconds <= 3600 else { throw CLIError("--interval \(interval) is outside 100ms-1h") }
        let namespace = allNamespaces ? nil : scope.resolvedNamespace
        let client = scope.client(context)
        let live = !once && context.stdout.isTerminal
        var previous = try await Self.scrape(client, context: context)
        var first = true
        while true {
            try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            let current = try await Self.scrape(client, context: context)
            let window = Double((current.time - previous.time).components.seconds) + Double((current.time - previous.time).components.attoseconds) / 1e18
            let rows = MeshTop.rows(previous: previous.counts, current: current.counts, seconds: window)
                .filter { namespace == nil || $0.key.namespaceAndName.namespace == namespace }
            var text = ""
            if live {
                // Home and clear, as top redraws.
                text += "\u{1B}[H\u{1B}[2J"
                text += "podlab mesh top: \(current.counts.count) sidecar(s), \(MeshTop.formatRate(window))s window, every \(interval)\n\n"
            } else if !first {
                text += "\n"
            }
            if rows.isEmpty {
                text += namespace.map { "No mesh traffic to Services in \($0) namespace." } ?? "No mesh traffic."
                text += "\n"
            } else {
                text += MeshTop.table(rows, allNamespaces: namespace == nil).render()
            }
            context.stdout.write(text)
            for problem in current.problems { context.stderr.line("warning: \(problem)") }
            if once { return 0 }
            previous = current
            first = false
        }
    }

    struct Scrape {
        var time: ContinuousClock.Instant
        /// By `namespace/pod`.
        var counts: [String: [MeshTop.Key: MeshTop.Counts]]
        var problems: [String]
    }

    static func scrape(_ client: APIClient, context: CommandContext) async throws -> Scrape {
        let answer = try await client.get(MeshMetricsScrape.self, MeshMetricsScrape.path)
        var scrape = Scrape(time: .now, counts: [:], problems: [])
        for pod in answer.pods {
            let name = "\(pod.namespace)/\(pod.name)"
            guard let text = pod.metrics else {
                scrape.problems.append("\(name): \(pod.error ?? "no metrics")")
                continue
            }
            do { scrape.counts[name] = try MeshTop.counts(text) } catch { scrape.problems.append("\(name): metrics: \(error)") }
        }
        return scrape
    }
}
